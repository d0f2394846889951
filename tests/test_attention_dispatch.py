"""make_attention: dispatch to sage / flash / xformers in each package's calling convention, exact masks,
SDPA fallback with one log line, and the host's attention flags read by the node layer.

The kernel packages are stand-ins injected through sys.modules: each checks the layout it is given and
computes the textbook formula, so a wrong layout, mask or scale shows up as a wrong result."""

import dataclasses
import importlib.util
import logging
import os
import sys
import types

import pytest
import torch

from ltx2_core import attention
from ltx2_core.attention import KERNELS, KernelAttention, make_attention, sdpa_attention
from ltx2_core.errors import InputError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADS, HEAD_DIM = 2, 64


def _formula(q, k, v, bias=None):
    """q (B, Tq, H, D), k v (B, Tk, H, D), bias broadcastable to (B, H, Tq, Tk) -> (B, Tq, H, D)."""
    q, k, v = (t.transpose(1, 2).double() for t in (q, k, v))  # (B, H, T, D)
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if bias is not None:
        scores = scores + bias.double()
    return (scores.softmax(-1) @ v).transpose(1, 2)


class FakeKernels:
    """sageattention / flash_attn / xformers.ops stand-ins recording every call."""

    def __init__(self):
        self.calls = []

    def _check(self, name, q, k, v):
        assert q.dim() == 4 and q.shape[2] == HEADS and q.shape[3] == HEAD_DIM, q.shape  # (B, T, H, D)
        assert k.shape == v.shape and k.shape[0] == q.shape[0] and k.shape[2:] == q.shape[2:]
        self.calls.append((name, tuple(q.shape), tuple(k.shape)))

    def sageattn(self, q, k, v, tensor_layout="HND", is_causal=False, sm_scale=None, **unused):
        assert tensor_layout == "NHD" and not is_causal and not unused  # sage would ignore an attn_mask
        self._check("sage", q, k, v)
        return _formula(q, k, v).to(q.dtype)

    def flash_attn_func(self, q, k, v, dropout_p=0.0, softmax_scale=None, causal=False):
        assert dropout_p == 0.0 and not causal and softmax_scale is None
        self._check("flash", q, k, v)
        return _formula(q, k, v).to(q.dtype)

    def memory_efficient_attention(self, q, k, v, attn_bias=None):
        self._check("xformers", q, k, v)
        if attn_bias is not None:
            assert attn_bias.shape == (q.shape[0], HEADS, q.shape[1], k.shape[1]) and attn_bias.dtype == q.dtype
            assert attn_bias.stride(-2) % 8 == 0 and attn_bias.stride(-2) >= k.shape[1]  # stored rows, 8-aligned
            assert attn_bias.stride(-1) == 1
        return _formula(q, k, v, attn_bias).to(q.dtype)

    def install(self, monkeypatch):
        sage = types.ModuleType("sageattention")
        sage.sageattn = self.sageattn
        flash = types.ModuleType("flash_attn")
        flash.flash_attn_func = self.flash_attn_func
        xformers, ops = types.ModuleType("xformers"), types.ModuleType("xformers.ops")
        ops.memory_efficient_attention = self.memory_efficient_attention
        xformers.ops = ops
        for name, module in (("sageattention", sage), ("flash_attn", flash), ("xformers", xformers),
                             ("xformers.ops", ops)):
            monkeypatch.setitem(sys.modules, name, module)


@pytest.fixture
def kernels(monkeypatch):
    fake = FakeKernels()
    fake.install(monkeypatch)
    return fake


def _qkv(batch=2, q_len=5, k_len=7, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, t, HEADS * HEAD_DIM, generator=g).to(dtype) for t in (q_len, k_len, k_len))


def _exact(kernels, name):
    """The kernel behind make_attention, opened to float64 on the CPU so results compare to 1e-12."""
    fn = getattr(kernels, KERNELS[name].function)
    return KernelAttention(dataclasses.replace(KERNELS[name], dtypes=frozenset({torch.float64})), fn,
                           cuda_only=False)


@pytest.mark.parametrize("name", ["sage", "flash", "xformers"])
def test_make_attention_calls_the_chosen_kernel_in_bf16(kernels, name):
    fn = make_attention(name, cuda_only=False)
    assert isinstance(fn, KernelAttention) and fn.kernel.name == name
    q, k, v = _qkv(dtype=torch.bfloat16)
    out = fn(q, k, v, HEADS)
    assert kernels.calls == [(name, (2, 5, HEADS, HEAD_DIM), (2, 7, HEADS, HEAD_DIM))]
    assert out.shape == (2, 5, HEADS * HEAD_DIM) and out.dtype == torch.bfloat16
    reference = sdpa_attention(q.double(), k.double(), v.double(), HEADS)
    assert (out.double() - reference).abs().max() < 2e-2


def test_auto_picks_sage_then_flash_then_xformers(kernels, monkeypatch):
    assert make_attention("auto", cuda_only=False).kernel.name == "sage"
    monkeypatch.setitem(sys.modules, "sageattention", None)  # None in sys.modules: the import fails
    assert make_attention("auto", cuda_only=False).kernel.name == "flash"
    monkeypatch.setitem(sys.modules, "flash_attn", None)
    assert make_attention("auto", cuda_only=False).kernel.name == "xformers"
    assert make_attention("sdpa") is sdpa_attention


def _text_padding_mask(batch, k_len, kept, dtype):
    """The transformer's text cross-attention mask: additive (B, 1, 1, Tk), 0 kept, -max removed."""
    keep = torch.zeros(batch, k_len, dtype=dtype)
    for b, (start, stop) in enumerate(kept):
        keep[b, start:stop] = 1
    return ((keep - 1) * torch.finfo(dtype).max).view(batch, 1, 1, k_len)


@pytest.mark.parametrize("name", ["sage", "flash", "xformers"])
def test_key_padding_masks_are_exact(kernels, name):
    q, k, v = _qkv(k_len=9)
    fn = _exact(kernels, name)
    additive = _text_padding_mask(2, 9, [(0, 4), (2, 9)], torch.float64)  # right- and left-padded items
    boolean = additive == 0
    for mask in (additive, boolean):
        kernels.calls.clear()
        out = fn(q, k, v, HEADS, mask)
        assert (out - sdpa_attention(q, k, v, HEADS, mask)).abs().max() < 1e-12
        if name == "xformers":
            assert [c[2][1] for c in kernels.calls] == [9]  # one call, the mask as a bias
        else:
            assert [c[2] for c in kernels.calls] == [(1, 4, HEADS, HEAD_DIM), (1, 7, HEADS, HEAD_DIM)]


@pytest.mark.parametrize("name", ["sage", "flash"])
def test_full_padding_mask_runs_one_batched_call(kernels, name):
    q, k, v = _qkv(k_len=6)
    mask = _text_padding_mask(2, 6, [(0, 6), (0, 6)], torch.float64)
    out = _exact(kernels, name)(q, k, v, HEADS, mask)
    assert [c[2] for c in kernels.calls] == [(2, 6, HEADS, HEAD_DIM)]
    assert (out - sdpa_attention(q, k, v, HEADS)).abs().max() < 1e-12


def _gemma_masks(batch, length, window):
    """Gemma's bool (B, 1, T, T) causal mask with left padding, and its sliding-window variant."""
    i = torch.arange(length)
    causal = (i[None, :] <= i[:, None])[None, None].expand(batch, 1, length, length).clone()
    causal[1, ..., :2] = False  # item 1 is left-padded by two tokens
    causal[1, :, :2, 0] = True  # (keep those rows non-empty: Gemma zeroes empty rows afterwards anyway)
    sliding = causal & (i[:, None] - i[None, :] < window)[None, None]
    return causal, sliding


def test_gemma_masks_xformers_bias_exact_and_sage_falls_back_once(kernels, caplog):
    q, k, v = _qkv(q_len=8, k_len=8)
    for mask in _gemma_masks(2, 8, window=3):
        expected = sdpa_attention(q, k, v, HEADS, mask)
        kernels.calls.clear()
        assert (_exact(kernels, "xformers")(q, k, v, HEADS, mask) - expected).abs().max() < 1e-12
        assert len(kernels.calls) == 1
    sage = _exact(kernels, "sage")
    kernels.calls.clear()
    with caplog.at_level(logging.INFO, logger="ltx2_core.attention"):
        for mask in _gemma_masks(2, 8, window=3):
            assert (sage(q, k, v, HEADS, mask) - sdpa_attention(q, k, v, HEADS, mask)).abs().max() < 1e-12
    assert kernels.calls == []
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["LTX2 attention: sage attention does not take a (2, 1, 8, 8) mask; those calls use torch SDPA"]


def test_conditioning_self_mask_goes_to_xformers_as_bias(kernels):
    q, k, v = _qkv(q_len=6, k_len=6)
    weights = torch.rand(2, 6, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    bias = torch.log(weights).unsqueeze(1)  # (B, 1, T, T), the transformer's log-weight self mask
    out = _exact(kernels, "xformers")(q, k, v, HEADS, bias)
    assert (out - sdpa_attention(q, k, v, HEADS, bias)).abs().max() < 1e-12


def test_missing_package_gives_sdpa_and_one_warning(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "sageattention", None)
    with caplog.at_level(logging.INFO, logger="ltx2_core.attention"):
        fn = make_attention("sage")
    assert fn is sdpa_attention
    assert len(caplog.records) == 1 and caplog.records[0].levelno == logging.WARNING
    message = caplog.records[0].getMessage()
    assert "sage attention asked for" in message and "sageattention" in message and "torch SDPA" in message


def test_auto_without_packages_is_sdpa_with_one_info_line(monkeypatch, caplog):
    for name in ("sageattention", "flash_attn", "xformers", "xformers.ops"):
        monkeypatch.setitem(sys.modules, name, None)
    with caplog.at_level(logging.INFO, logger="ltx2_core.attention"):
        assert make_attention("auto") is sdpa_attention
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert all(p in caplog.records[0].getMessage() for p in ("sageattention", "flash_attn", "xformers"))


def test_calls_a_kernel_cannot_take_use_sdpa_logged_once(kernels, caplog):
    q, k, v = _qkv(dtype=torch.float32)
    on_cuda_only = make_attention("flash")  # CPU tensors: SDPA
    widened = make_attention("sage", cuda_only=False)  # float32: SDPA
    with caplog.at_level(logging.INFO, logger="ltx2_core.attention"):
        caplog.clear()
        for _ in range(3):
            assert torch.equal(on_cuda_only(q, k, v, HEADS), sdpa_attention(q, k, v, HEADS))
            assert torch.equal(widened(q, k, v, HEADS), sdpa_attention(q, k, v, HEADS))
    assert kernels.calls == []
    assert sorted(r.getMessage() for r in caplog.records) == [
        "LTX2 attention: flash attention does not take cpu tensors; those calls use torch SDPA",
        "LTX2 attention: sage attention does not take torch.float32; those calls use torch SDPA",
    ]


def test_sage_head_size_it_lacks_falls_back(kernels):
    fn = make_attention("sage", cuda_only=False)
    q, k, v = (t.view(2, -1, HEADS * HEAD_DIM)[..., :HEADS * 48].contiguous() for t in _qkv(dtype=torch.bfloat16))
    out = fn(q, k, v, HEADS)  # head size 48
    assert kernels.calls == [] and torch.equal(out, sdpa_attention(q, k, v, HEADS))


def test_unknown_kind_is_one_clear_error():
    with pytest.raises(InputError, match="Unknown attention 'sdp': use one of auto, sdpa, sage, flash, xformers"):
        make_attention("sdp")


def test_cli_generate_has_attention_choice():
    from ltx2_core.__main__ import _build_parser

    base = ["generate", "--checkpoint", "c", "--text-encoder", "t", "--prompt", "p", "--out", "o.mp4"]
    assert _build_parser().parse_args(base).attention == "auto"
    assert _build_parser().parse_args(base + ["--attention", "xformers"]).attention == "xformers"
    with pytest.raises(SystemExit):
        _build_parser().parse_args(base + ["--attention", "split"])
    assert attention.KINDS == ("auto", "sdpa", "sage", "flash", "xformers")


# The host's choice ---------------------------------------------------------------------------------


def _node_attention():
    spec = importlib.util.spec_from_file_location("ltx2_node_attention", os.path.join(REPO, "nodes", "attention.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports no ComfyUI
    return module


def _host(sage=False, xformers=False, flash=False, pytorch=False):
    return types.SimpleNamespace(sage_attention_enabled=lambda: sage, xformers_enabled=lambda: xformers,
                                 flash_attention_enabled=lambda: flash, pytorch_attention_enabled=lambda: pytorch)


def _args(**flags):
    names = ("use_sage_attention", "use_flash_attention", "use_pytorch_cross_attention",
             "use_split_cross_attention", "use_quad_cross_attention")
    return types.SimpleNamespace(**{name: flags.get(name, False) for name in names})


@pytest.mark.parametrize("host, args, kind", [
    (_host(sage=True, xformers=True, pytorch=True), _args(use_sage_attention=True), "sage"),
    (_host(xformers=True, flash=True), _args(use_flash_attention=True), "xformers"),  # ComfyUI's order
    (_host(flash=True, pytorch=True), _args(use_flash_attention=True), "flash"),
    (_host(pytorch=True), _args(), "sdpa"),
    (_host(), _args(use_split_cross_attention=True), "sdpa"),
    (types.SimpleNamespace(), _args(use_sage_attention=True), "sage"),  # a host without the functions
    (types.SimpleNamespace(), _args(use_flash_attention=True), "flash"),
])
def test_host_attention_kind_follows_comfyui_flags(host, args, kind):
    assert _node_attention().host_attention_kind(host, args)[0] == kind


def test_host_attention_kind_names_split_and_quad_sources():
    node = _node_attention()
    assert node.host_attention_kind(_host(), _args(use_quad_cross_attention=True)) == (
        "sdpa", "use_quad_cross_attention (SDPA stands in)")
    assert node.host_attention_kind(_host(), _args()) == ("sdpa", "no attention flag")


def test_a_mask_shared_by_every_block_is_read_once(kernels, monkeypatch):
    q, k, v = _qkv(k_len=9)
    fn = _exact(kernels, "sage")
    mask = _text_padding_mask(2, 9, [(0, 4), (2, 9)], torch.float64)
    reads = []
    real = attention.key_padding
    monkeypatch.setattr(attention, "key_padding", lambda *a: reads.append(1) or real(*a))
    outs = [fn(q, k, v, HEADS, mask) for _ in range(3)]  # three blocks, one mask tensor
    assert len(reads) == 1 and all(torch.equal(o, outs[0]) for o in outs)
    other = mask.clone()
    other[1, ..., 2:4] = -torch.finfo(torch.float64).max  # a new tensor is read again
    assert (fn(q, k, v, HEADS, other) - sdpa_attention(q, k, v, HEADS, other)).abs().max() < 1e-12
    assert len(reads) == 2


def test_while_compiling_masks_go_to_sdpa_without_host_reads_or_logs(kernels, monkeypatch, caplog):
    q, k, v = _qkv(k_len=9)
    fn = _exact(kernels, "flash")
    mask = _text_padding_mask(2, 9, [(0, 4), (2, 9)], torch.float64)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    monkeypatch.setattr(attention, "key_padding", lambda *a: pytest.fail("the mask was read on the host"))
    with caplog.at_level(logging.INFO, logger="ltx2_core.attention"):
        assert torch.equal(fn(q, k, v, HEADS, mask), sdpa_attention(q, k, v, HEADS, mask))
        assert (fn(q, k, v, HEADS) - sdpa_attention(q, k, v, HEADS)).abs().max() < 1e-12  # unmasked: the kernel
    assert [c[0] for c in kernels.calls] == ["flash"] and caplog.records == []
