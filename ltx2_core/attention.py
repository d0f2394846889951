"""The one attention function every ltx2_core layer calls, and the fast kernels it can dispatch to.

Signature (the `AttentionFn` contract): `fn(q, k, v, heads, mask=None) -> out` with q (B, Tq, H*D),
k and v (B, Tk, H*D), out (B, Tq, H*D). `mask` is None, a bool tensor (True = attend) or an additive
float tensor, broadcastable to (B, H, Tq, Tk). Layers receive the function at construction
(`attention_fn=`), so a host can swap in its own kernel without patching anything.

`make_attention(kind)` returns such a function for "sdpa", "sage" (sageattention), "flash" (flash_attn),
"xformers" or "auto" (the first of those packages that imports). Each kernel gets the layout and mask it
takes: sage and flash take no mask, so a key-padding mask (B, 1, 1, Tk) (the text cross-attention) runs
them per item over the kept keys, which is exact; other masks (Gemma's causal / sliding window, the
transformer's conditioning self-mask) go to SDPA for that call. xformers takes every mask as an
additive bias. Calls a kernel cannot take (float32 for sage/flash, a head size it lacks, CPU tensors)
use SDPA too; every such fallback is logged once per function, never per call. Inside torch.compile the
masked sage / flash calls use SDPA (the mask cannot be read on the host there) and nothing is logged.
"""

import importlib
import logging
from dataclasses import dataclass
from typing import Callable, FrozenSet, Optional, Tuple

import torch
import torch.nn.functional as F

AttentionFn = Callable[..., torch.Tensor]
KINDS = ("auto", "sdpa", "sage", "flash", "xformers")
AUTO_ORDER = ("sage", "flash", "xformers")
# An additive mask value at or below this removes a key exactly (exp underflows to 0 in every dtype).
_MASKED = -1.0e4

log = logging.getLogger(__name__)


def sdpa_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Multi-head attention through PyTorch's scaled_dot_product_attention."""
    batch, q_len, inner = q.shape
    head_dim = inner // heads
    q, k, v = (t.view(batch, -1, heads, head_dim).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
    if mask is not None and mask.dtype != torch.bool:
        mask = mask.to(q.dtype)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, Tq, D)
    return out.transpose(1, 2).reshape(batch, q_len, inner)  # (B, Tq, H*D)


@dataclass(frozen=True)
class Kernel:
    """What one fast attention package offers: where its function lives and what it accepts."""

    name: str
    module: str
    function: str
    dtypes: FrozenSet[torch.dtype]
    head_dims: Optional[FrozenSet[int]]  # None: any
    takes_bias: bool  # an additive (B, H, Tq, Tk) bias; otherwise no mask at all


_HALF = frozenset({torch.float16, torch.bfloat16})
KERNELS = {
    "sage": Kernel("sage", "sageattention", "sageattn", _HALF, frozenset({64, 128}), False),
    "flash": Kernel("flash", "flash_attn", "flash_attn_func", _HALF, frozenset(range(8, 257, 8)), False),
    "xformers": Kernel("xformers", "xformers.ops", "memory_efficient_attention",
                       _HALF | {torch.float32}, None, True),
}
PACKAGES = {name: kernel.module.split(".")[0] for name, kernel in KERNELS.items()}


def _call(kernel: Kernel, fn, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias=None) -> torch.Tensor:
    """q (B, Tq, H, D), k and v (B, Tk, H, D) in each package's calling convention -> (B, Tq, H, D)."""
    if kernel.name == "sage":
        return fn(q, k, v, tensor_layout="NHD", is_causal=False)
    if kernel.name == "flash":
        return fn(q, k, v, dropout_p=0.0, causal=False)
    return fn(q, k, v, attn_bias=bias)


def key_padding(mask: torch.Tensor, batch: int, k_len: int) -> Optional[torch.Tensor]:
    """(B, Tk) bool keep-flags when `mask` only removes keys (shape (B|1, 1, 1, Tk), bool or 0 / very
    negative additive values), else None."""
    if mask.dim() != 4 or mask.shape[1:3] != (1, 1) or mask.shape[-1] != k_len or mask.shape[0] not in (1, batch):
        return None
    if mask.dtype == torch.bool:
        keep = mask
    else:
        if not bool(((mask == 0) | (mask <= _MASKED)).all()):
            return None
        keep = mask == 0
    return keep.reshape(-1, k_len).expand(batch, k_len)


def xformers_bias(mask: torch.Tensor, batch: int, heads: int, q_len: int, k_len: int, dtype) -> torch.Tensor:
    """`mask` as the additive bias xformers takes: (B, H, Tq, Tk) in `dtype`. Query rows are stored (the
    kernel needs a real row stride), each allocated to a multiple of 8 keys (its alignment) and sliced back;
    batch and head dims of size 1 are expanded without copies."""
    while mask.dim() < 4:
        mask = mask.unsqueeze(0)
    padded = -(-k_len // 8) * 8
    bias = torch.zeros(mask.shape[0], mask.shape[1], q_len, padded, dtype=dtype, device=mask.device)[..., :k_len]
    if mask.dtype == torch.bool:
        bias.masked_fill_(~mask.expand(bias.shape), float("-inf"))
    else:
        bias.copy_(mask.expand(bias.shape))
    return bias.expand(batch, heads, q_len, k_len)


class KernelAttention:
    """An `AttentionFn` running `kernel` where it can and SDPA elsewhere (each reason logged once).

    `cuda_only=False` lets the kernel see CPU tensors (tests run fake kernels on the CPU)."""

    def __init__(self, kernel: Kernel, fn, *, cuda_only: bool = True):
        self.kernel, self.fn, self.cuda_only = kernel, fn, cuda_only
        self._logged = set()
        self._mask_cache = None  # (mask tensor, batch, kept key indices per item)

    def __repr__(self) -> str:
        return f"KernelAttention({self.kernel.name})"

    def _fallback(self, reason: str, q, k, v, heads, mask) -> torch.Tensor:
        if reason not in self._logged and not torch.compiler.is_compiling():  # no logging inside a graph
            self._logged.add(reason)
            log.info("LTX2 attention: %s attention does not take %s; those calls use torch SDPA",
                     self.kernel.name, reason)
        return sdpa_attention(q, k, v, heads, mask)

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                 mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        kernel = self.kernel
        batch, q_len, inner = q.shape
        k_len, head_dim = k.shape[1], inner // heads
        if self.cuda_only and q.device.type != "cuda":
            return self._fallback(f"{q.device.type} tensors", q, k, v, heads, mask)
        if q.dtype not in kernel.dtypes:
            return self._fallback(f"{q.dtype}", q, k, v, heads, mask)
        if kernel.head_dims is not None and head_dim not in kernel.head_dims:
            return self._fallback(f"head size {head_dim}", q, k, v, heads, mask)
        # (B, T, H*D) -> (B, T, H, D): a view, the layout all three packages take.
        q4, k4, v4 = (t.view(batch, -1, heads, head_dim) for t in (q, k, v))
        if mask is None or kernel.takes_bias:
            bias = None if mask is None else xformers_bias(mask, batch, heads, q_len, k_len, q.dtype)
            return _call(kernel, self.fn, q4, k4, v4, bias).reshape(batch, q_len, inner)
        if torch.compiler.is_compiling():  # reading the mask on the host would break the graph
            return self._fallback("a mask while compiled", q, k, v, heads, mask)
        kept = self._kept_keys(mask, batch, k_len)
        if kept is None:
            return self._fallback(f"a {tuple(mask.shape)} mask", q, k, v, heads, mask)
        if any(index.numel() == 0 for index in kept):
            return self._fallback("an item with every key masked", q, k, v, heads, mask)
        if all(index.numel() == k_len for index in kept):
            return _call(kernel, self.fn, q4, k4, v4).reshape(batch, q_len, inner)
        items = [_call(kernel, self.fn, q4[b:b + 1], k4[b:b + 1, index], v4[b:b + 1, index])
                 for b, index in enumerate(kept)]  # only the kept keys of each item: exactly the masked softmax
        return torch.cat(items).reshape(batch, q_len, inner)  # (B, Tq, H*D)

    def _kept_keys(self, mask: torch.Tensor, batch: int, k_len: int):
        """Per item, the indices of the keys `mask` keeps (None: not a key-padding mask). Every block of a
        forward passes the same mask tensor (callers never modify a mask in place), so the answer, which
        needs the mask on the host, is reused while the tensor is the same object."""
        if self._mask_cache is not None and self._mask_cache[0] is mask and self._mask_cache[1] == batch:
            return self._mask_cache[2]
        keep = key_padding(mask, batch, k_len)
        kept = None if keep is None else [row.nonzero().squeeze(-1).to(mask.device) for row in keep.cpu()]
        self._mask_cache = (mask, batch, kept)
        return kept


def _import_kernel(name: str):
    kernel = KERNELS[name]
    return getattr(importlib.import_module(kernel.module), kernel.function)


def make_attention(kind: str = "auto", *, cuda_only: bool = True) -> AttentionFn:
    """The attention function for `kind` (one of KINDS). A kernel whose package does not import gives
    SDPA with one log line saying so."""
    from .errors import InputError

    if kind not in KINDS:
        raise InputError(f"Unknown attention {kind!r}: use one of {', '.join(KINDS)}.")
    if kind == "sdpa":
        return sdpa_attention
    names: Tuple[str, ...] = AUTO_ORDER if kind == "auto" else (kind,)
    failures = []
    for name in names:
        try:
            fn = _import_kernel(name)
        except Exception as error:  # ImportError, or a broken build raising anything while importing
            failures.append(f"{PACKAGES[name]} ({type(error).__name__}: {error})")
            continue
        log.info("LTX2 attention: using %s attention (%s)", name, PACKAGES[name])
        return KernelAttention(KERNELS[name], fn, cuda_only=cuda_only)
    (log.info if kind == "auto" else log.warning)(
        "LTX2 attention: %s attention asked for, but %s did not import; using torch SDPA", kind, "; ".join(failures))
    return sdpa_attention
