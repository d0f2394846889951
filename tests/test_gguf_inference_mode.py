"""Quantized weights stay packed under torch.inference_mode (ComfyUI runs every node in it), and every QuantOps
layer has the `weight` and `bias` attributes a host's model patcher reads."""

import pytest
import torch

from ltx2_core.checkpoint import load_strict
from ltx2_core.gguf.ops import QuantOps, module_nbytes
from ltx2_core.gguf.tensor import QuantizedTensor
from test_gguf_ops import Tiny, packed, quantized_state, tiny_state

IDS = torch.tensor([[1, 5, 9, 0]])


def packed_count(module):
    return sum(isinstance(t, QuantizedTensor) for t in module.state_dict(keep_vars=True).values())


def load_like_a_node(state, dtype):
    """What a loader does inside a ComfyUI node: cast the state dict, load it into a meta model, move it."""
    state = {k: v.to(device="cpu", dtype=dtype) for k, v in state.items()}
    model = load_strict(Tiny(QuantOps, device="meta", dtype=dtype), state, "tiny")
    return model.to("cpu").to(dtype)


@pytest.mark.parametrize("made_inside", [False, True], ids=["state-made-outside", "state-made-inside"])
def test_loading_and_moving_under_inference_mode_keeps_weights_packed(made_inside):
    reference = load_like_a_node(quantized_state(tiny_state()), torch.float32)
    with torch.no_grad():
        expected = reference(IDS)
    with torch.inference_mode(made_inside):
        state = quantized_state(tiny_state())
    with torch.inference_mode():
        model = load_like_a_node(state, torch.float32)
        assert packed_count(model) == 3
        assert module_nbytes(model) == module_nbytes(reference) < sum(
            t.numel() * 4 for t in model.state_dict().values())
        assert torch.equal(model(IDS), expected)
        model.to(torch.bfloat16)
        assert packed_count(model) == 3 and model.proj.weight.dtype == torch.bfloat16
        assert model.proj.weight.data_packed.dtype == torch.uint8


def test_tensor_to_overloads_under_inference_mode():
    weight = packed(torch.randn(32, 64))
    other = torch.zeros(1, dtype=torch.bfloat16)
    with torch.inference_mode():
        moved = {
            "dtype": weight.to(torch.bfloat16),
            "device": weight.to("cpu", torch.float16),
            "dtype_layout": weight.to(device="cpu", dtype=torch.bfloat16),
            "other": weight.to(other),
            "copy": weight.to("cpu", copy=True),
            "parameter": torch.nn.Parameter(weight, requires_grad=False),
            "detach": weight.detach(),
        }
        for name, value in moved.items():
            assert isinstance(value, QuantizedTensor), name
            assert value.data_packed.data_ptr() == weight.data_packed.data_ptr() or name == "copy", name
        assert moved["dtype"].dtype == moved["other"].dtype == torch.bfloat16
        assert moved["device"].dtype == torch.float16
        assert weight.to("cpu") is weight  # no change: the tensor itself, as torch does
        on_meta = weight.to("meta")  # a device move takes the packed bytes along
        assert isinstance(on_meta, QuantizedTensor) and on_meta.data_packed.is_meta and on_meta.shape == (32, 64)
        assert torch.equal(moved["dtype"].dequantize_as(), weight.dequantize_as(torch.bfloat16))
        assert not moved["copy"].data_packed.data_ptr() == weight.data_packed.data_ptr()


@pytest.mark.parametrize("name,args", [
    ("Linear", (64, 32)), ("Conv1d", (4, 8, 3)), ("Conv2d", (4, 8, 3)), ("Conv3d", (4, 8, 1)),
    ("ConvTranspose1d", (8, 4, 4)), ("LayerNorm", (8,)), ("GroupNorm", (2, 8)), ("RMSNorm", (8,)),
    ("Embedding", (10, 64)),
])
def test_every_layer_has_weight_and_bias_attributes(name, args):
    layer = getattr(QuantOps, name)(*args, device="meta")
    assert isinstance(getattr(layer, "weight"), torch.nn.Parameter)
    bias = getattr(layer, "bias")
    reference = getattr(torch.nn, name)(*args, device="meta")
    assert sorted(layer.state_dict()) == sorted(reference.state_dict())
    if name in ("Embedding", "RMSNorm"):
        assert bias is None
