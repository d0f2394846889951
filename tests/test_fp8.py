"""Scaled fp8 / int8 safetensors layouts: packed loading, per-forward upcast, refusal of unknown formats."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError, UnsupportedFormatError
from ltx2_core.gguf.fp8 import is_scaled_checkpoint, pack_scaled_weights
from ltx2_core.gguf.loader import is_quantized_checkpoint, load_transformer_quantized
from ltx2_core.gguf.ops import QuantOps
from ltx2_core.gguf.tensor import QuantizedTensor
from ltx2_core.transformer import LTX2Transformer, TransformerConfig
from ltx2_core.transformer.config import _FIXED_VALUES


def fp8_pair(weight: torch.Tensor):
    """(float8_e4m3fn weight, 0-d float32 scale) with W ~= fp8 * scale."""
    scale = weight.abs().max() / torch.finfo(torch.float8_e4m3fn).max
    return (weight / scale).to(torch.float8_e4m3fn), scale.to(torch.float32).reshape(())


def tag(fmt: str, **extra) -> torch.Tensor:
    return torch.frombuffer(bytearray(json.dumps({"format": fmt, **extra}).encode()), dtype=torch.uint8)


@pytest.fixture
def weight():
    return torch.randn(32, 64, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("layout", ["official", "comfy_scaled", "comfy_mixed", "plain"])
def test_fp8_layouts_dequantize_to_weight_times_scale(weight, layout):
    q, scale = fp8_pair(weight)
    bias = torch.randn(32)
    if layout == "official":
        state = {"weight": q, "weight_scale": scale, "input_scale": torch.ones(()), "bias": bias}
    elif layout == "comfy_scaled":
        state = {"weight": q, "scale_weight": scale, "scale_input": torch.ones(()), "bias": bias}
    elif layout == "comfy_mixed":
        state = {"weight": q, "weight_scale": scale, "comfy_quant": tag("float8_e4m3fn"), "bias": bias}
    else:
        scale = torch.ones(())
        q = weight.to(torch.float8_e4m3fn)
        state = {"weight": q, "bias": bias}
    packed = pack_scaled_weights({f"layer.{k}": v for k, v in state.items()}, dtype=torch.float32)
    assert set(packed) == {"layer.weight", "layer.bias"}
    qweight = packed["layer.weight"]
    assert isinstance(qweight, QuantizedTensor) and qweight.data_packed.dtype == torch.float8_e4m3fn
    expected = q.to(torch.float32) * scale
    assert torch.equal(qweight.dequantize_as(torch.float32), expected)
    assert ((expected - weight).norm() / weight.norm()) < 0.05
    layer = QuantOps.Linear(64, 32, device="meta")
    layer.load_state_dict({"weight": qweight, "bias": bias}, assign=True)
    x = torch.randn(3, 64, dtype=torch.bfloat16)
    out = layer(x)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out, torch.nn.functional.linear(x, expected.bfloat16(), bias.bfloat16()))


def test_int8_layouts(weight):
    q = torch.randint(-127, 128, (32, 64), dtype=torch.int8)
    block_scale = torch.rand(2, 4) + 0.1  # group size 16
    packed = pack_scaled_weights({
        "a.weight": q, "a.weight_scale": block_scale, "a.comfy_quant": tag("int8_blockwise", group_size=16),
        "b.weight": q, "b.weight_scale": torch.tensor(0.5), "b.comfy_quant": tag("int8_tensorwise"),
    })
    expected = q.float() * block_scale.repeat_interleave(16, 0).repeat_interleave(16, 1)
    assert torch.equal(packed["a.weight"].dequantize_as(torch.float32), expected)
    assert torch.equal(packed["b.weight"].dequantize_as(torch.float32), q.float() * 0.5)
    with pytest.raises(CheckpointError, match="do not tile"):
        pack_scaled_weights({"a.weight": q, "a.weight_scale": block_scale, "a.comfy_quant": tag("int8_blockwise")})


def test_unknown_formats_are_refused_by_name(weight):
    with pytest.raises(UnsupportedFormatError, match="nvfp4"):
        pack_scaled_weights({"l.weight": torch.zeros(32, 32, dtype=torch.uint8), "l.weight_scale": torch.ones(32, 2),
                             "l.weight_scale_2": torch.ones(()), "l.comfy_quant": tag("nvfp4")})
    meta = {"_quantization_metadata": json.dumps({"format_version": "1.0", "layers": {"l": {"format": "mxfp8"}}})}
    with pytest.raises(UnsupportedFormatError, match="mxfp8"):
        pack_scaled_weights({"l.weight": torch.zeros(32, 32, dtype=torch.uint8)}, meta)
    with pytest.raises(UnsupportedFormatError, match="without a recognised quantization tag"):
        pack_scaled_weights({"l.weight": torch.zeros(32, 32, dtype=torch.int8)})
    with pytest.raises(CheckpointError, match="not valid JSON"):
        pack_scaled_weights({"l.comfy_quant": torch.tensor([1, 2, 3], dtype=torch.uint8)})


def test_fp8_transformer_file_loads_packed(tmp_path):
    section = dict(_FIXED_VALUES, num_layers=1, num_attention_heads=2, attention_head_dim=32, in_channels=32,
                   out_channels=32, cross_attention_dim=64, audio_num_attention_heads=2, audio_attention_head_dim=16,
                   audio_in_channels=32, audio_out_channels=32, audio_cross_attention_dim=32, caption_channels=64)
    config = TransformerConfig.from_metadata({"transformer": section})
    torch.manual_seed(0)
    model = LTX2Transformer(config, dtype=torch.float32)
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("transformer_blocks.") and key.endswith(".weight") and value.dim() == 2:
            state[key], state[key + "_scale"] = fp8_pair(value)  # official: <layer>.weight_scale
        else:
            state[key] = value.contiguous()
    path = tmp_path / "fp8.safetensors"
    save_file({"model.diffusion_model." + k: v for k, v in state.items()}, str(path),
              metadata={"config": json.dumps({"transformer": section})})
    assert is_quantized_checkpoint(str(path)) and is_scaled_checkpoint(state)
    loaded = load_transformer_quantized(str(path), dtype=torch.float32)
    packed = loaded.transformer_blocks[0].attn1.to_q.weight
    assert isinstance(packed, QuantizedTensor) and packed.data_packed.dtype == torch.float8_e4m3fn
    key = "transformer_blocks.0.attn1.to_q.weight"
    expected = state[key].float() * state[key + "_scale"]
    assert torch.equal(packed.dequantize_as(torch.float32), expected)
    from ltx2_core.convert import convert
    from ltx2_core.gguf.loader import load_transformer_gguf

    counts = convert(str(path), str(tmp_path / "from-fp8.gguf"), "Q8_0", min_elements=256)
    assert counts["Q8_0"] > 10  # fp8 weights were dequantized with their scales, then re-quantized
    requantized = load_transformer_gguf(str(tmp_path / "from-fp8.gguf"), dtype=torch.float32)
    weight = requantized.transformer_blocks[0].attn1.to_q.weight.dequantize_as(torch.float32)
    assert ((weight - expected).norm() / expected.norm()).item() < 0.01
