"""QuantizedTensor and the QuantOps layers: packed storage, per-forward dequantization, patches, loading."""

import copy

import pytest
import torch
import torch.nn.functional as F

from ltx2_core.checkpoint import load_strict, logical_shape
from ltx2_core.errors import CheckpointError, UnsupportedFormatError
from ltx2_core.gguf import dequant
from ltx2_core.gguf.ops import LowRankPatch, QuantOps, add_weight_patches, module_nbytes
from ltx2_core.gguf.quantize import quantize
from ltx2_core.gguf.tensor import QuantizedTensor
from ltx2_core.ops import cast_like


def packed(values: torch.Tensor, qtype: str = "Q8_0", dtype=torch.float32) -> QuantizedTensor:
    return QuantizedTensor(quantize(values, qtype).reshape(-1), qtype, values.shape, dtype=dtype)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class Tiny(torch.nn.Module):
    def __init__(self, operations=torch.nn, device=None, dtype=None):
        super().__init__()
        self.proj = operations.Linear(64, 32, device=device, dtype=dtype)
        self.conv = operations.Conv1d(32, 32, 3, padding=1, device=device, dtype=dtype)
        self.norm = operations.LayerNorm(32, device=device, dtype=dtype)
        self.embed = operations.Embedding(10, 64, device=device, dtype=dtype)
        self.table = torch.nn.Parameter(torch.empty(2, 32, device=device, dtype=dtype))

    def forward(self, ids):
        h = self.proj(self.embed(ids))  # (B, T, 32)
        h = self.conv(h.transpose(1, 2)).transpose(1, 2)
        return self.norm(h) * (1 + cast_like(self.table, h)[0]) + cast_like(self.table, h)[1]


def tiny_state(seed=0):
    g = gen(seed)
    return {
        "proj.weight": torch.randn(32, 64, generator=g) * 0.1, "proj.bias": torch.randn(32, generator=g),
        "conv.weight": torch.randn(32, 32, 3, generator=g) * 0.1, "conv.bias": torch.randn(32, generator=g),
        "norm.weight": torch.randn(32, generator=g), "norm.bias": torch.randn(32, generator=g),
        "embed.weight": torch.randn(10, 64, generator=g), "table": torch.randn(2, 32, generator=g),
    }


def quantized_state(state):
    out = dict(state)
    out["proj.weight"] = packed(state["proj.weight"], "Q4_0")
    out["embed.weight"] = packed(state["embed.weight"], "Q8_0")
    out["table"] = packed(state["table"], "Q5_0")
    return out


def dequantized(state):
    return {k: v.dequantize_as(torch.float32) if isinstance(v, QuantizedTensor) else v for k, v in state.items()}


def test_quantized_model_equals_float_model_with_dequantized_weights():
    qstate = quantized_state(tiny_state())
    model = load_strict(Tiny(QuantOps, device="meta"), qstate, "tiny")
    reference = load_strict(Tiny(device="meta"), dequantized(qstate), "tiny")
    ids = torch.tensor([[1, 5, 9, 0]])
    with torch.no_grad():
        assert torch.allclose(model(ids), reference(ids), atol=1e-6, rtol=1e-6)
    assert isinstance(model.proj.weight, QuantizedTensor) and isinstance(model.table, QuantizedTensor)
    assert not model.proj.weight.requires_grad
    assert model.proj.weight.data_packed.numel() == 32 * 2 * 18  # 2 Q4_0 blocks per row of 64
    dense_bytes = sum(v.numel() * 4 for v in model.state_dict().values())
    saved = 32 * 64 * 4 - 32 * 2 * 18 + 10 * 64 * 4 - 10 * 2 * 34 + 2 * 32 * 4 - 2 * 22
    assert module_nbytes(model) == dense_bytes - saved


def test_logical_shape_and_load_strict_shape_check():
    weight = packed(torch.randn(32, 64))
    assert logical_shape(weight) == (32, 64) and tuple(weight.shape) == (32, 64)
    bad = quantized_state(tiny_state())
    bad["proj.weight"] = packed(torch.randn(32, 96))
    with pytest.raises(CheckpointError, match="proj.weight"):
        load_strict(Tiny(QuantOps, device="meta"), bad, "tiny")


def test_module_to_keeps_weights_packed():
    model = load_strict(Tiny(QuantOps, device="meta"), quantized_state(tiny_state()), "tiny")
    model.to(torch.bfloat16)
    weight = model.proj.weight
    assert isinstance(weight, QuantizedTensor) and weight.dtype == torch.bfloat16
    assert weight.data_packed.dtype == torch.uint8 and model.proj.bias.dtype == torch.bfloat16
    out = model(torch.tensor([[1, 2]]))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    model.to("meta")  # a device move takes the packed bytes along
    assert isinstance(model.proj.weight, QuantizedTensor) and model.proj.weight.data_packed.is_meta
    clone = copy.deepcopy(load_strict(Tiny(QuantOps, device="meta"), quantized_state(tiny_state()), "tiny"))
    assert isinstance(clone.embed.weight, QuantizedTensor)


def test_plain_layers_and_direct_use_fall_back_to_dequantization():
    weight = torch.randn(32, 64, generator=gen(4))
    qweight = packed(weight, "Q8_0")
    x = torch.randn(3, 64, generator=gen(5))
    expected = F.linear(x, qweight.dequantize_as())
    assert torch.allclose(F.linear(x, qweight), expected, atol=1e-6)  # torch.nn.Linear path
    assert torch.allclose(qweight + 1, qweight.dequantize_as() + 1)
    plain = torch.empty(32, 64)
    plain.copy_(qweight)
    assert torch.equal(plain, qweight.dequantize_as())
    with pytest.raises(UnsupportedFormatError, match="In-place"):
        qweight.mul_(2)
    with pytest.raises(UnsupportedFormatError, match="assign=True"):
        qweight.copy_(weight)


def test_cast_weight_bias_and_lora_patch():
    layer = QuantOps.Linear(64, 32, device="meta")
    weight, bias = torch.randn(32, 64, generator=gen(6)), torch.randn(32, generator=gen(7))
    layer.load_state_dict({"weight": packed(weight, "Q8_0"), "bias": bias}, assign=True)
    up, down = torch.randn(32, 4, generator=gen(8)), torch.randn(4, 64, generator=gen(9))
    layer.weight_patches.append(LowRankPatch(up, down, scale=0.5))
    w, b = layer.cast_weight_bias("cpu", torch.float64)
    assert w.dtype == torch.float64 and b.dtype == torch.float64
    expected = layer.weight.dequantize_as(torch.float64) + 0.5 * up.double() @ down.double()
    assert torch.allclose(w, expected)
    x = torch.randn(2, 64, dtype=torch.float64, generator=gen(10))
    assert torch.allclose(layer(x), F.linear(x, expected, bias.double()))


def test_add_weight_patches_to_a_model():
    model = load_strict(Tiny(QuantOps, device="meta"), quantized_state(tiny_state()), "tiny")
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        before = model(ids)
        assert add_weight_patches(model, {"proj": lambda w: w * 0}) == 1
        after = model(ids)
        model.proj.weight_patches.clear()
        assert torch.equal(model(ids), before) and not torch.allclose(after, before)
    with pytest.raises(CheckpointError, match="not a layer"):
        add_weight_patches(model, {"nope": lambda w: w})
    with pytest.raises(UnsupportedFormatError, match="add_weight_patches"):
        model.proj.weight.copy_(torch.zeros(32, 64))


def test_non_assign_load_keeps_weights_packed():
    layer = QuantOps.Linear(64, 32)
    qweight = packed(torch.randn(32, 64, generator=gen(11)))
    layer.load_state_dict({"weight": qweight, "bias": torch.zeros(32)})
    assert isinstance(layer.weight, QuantizedTensor)


def test_embedding_unpacks_only_the_looked_up_rows():
    table = torch.randn(50, 64, generator=gen(12))
    qtable = packed(table, "Q5_0")
    ids = torch.tensor([[3, 49, 0], [7, 7, 1]])
    rows = qtable.dequantize_rows(ids, torch.float32)
    assert rows.shape == (2, 3, 64)
    assert torch.equal(rows, qtable.dequantize_as(torch.float32)[ids])


@pytest.mark.parametrize("cls,args,shape", [
    ("Conv2d", (4, 8, 3), (8, 4, 3, 3)), ("Conv3d", (4, 8, 1), (8, 4, 1, 1, 1)),
    ("ConvTranspose1d", (8, 4, 4), (8, 4, 4)), ("GroupNorm", (2, 8), (8,)),
])
def test_other_layers_match_torch(cls, args, shape):
    layer = getattr(QuantOps, cls)(*args, device="meta")
    reference = getattr(torch.nn, cls)(*args)
    state = {k: torch.randn(v.shape, generator=gen(13)) for k, v in reference.state_dict().items()}
    reference.load_state_dict(state)
    values = state["weight"]
    if values.dim() >= 2 and values[0].numel() % 32 == 0:
        state["weight"] = QuantizedTensor(quantize(values.reshape(shape[0], -1), "Q8_0").reshape(-1), "Q8_0", shape,
                                          dtype=torch.float32)
        reference.load_state_dict({**state, "weight": state["weight"].dequantize_as()})
    layer.load_state_dict(state, assign=True)
    x = torch.randn(1, args[0] if cls != "GroupNorm" else 8, *([5] * (len(shape) - 2 if cls != "GroupNorm" else 1)),
                    generator=gen(14))
    with torch.no_grad():
        assert torch.allclose(layer(x), reference(x), atol=1e-5)


def test_dequantize_on_compute_device_uses_nominal_dtype_default():
    qweight = packed(torch.randn(8, 32, generator=gen(15)), dtype=torch.bfloat16)
    assert qweight.dequantize_as().dtype == torch.bfloat16
    assert qweight.dequantize_as(torch.float32, "cpu").dtype == torch.float32
    assert "Q8_0" in repr(qweight) and qweight.packed_nbytes == 8 * 34
    assert dequant.type_name(99) == "type 99"
