"""Layers of the diffusion decoder, channels-last (B, T, H, W, C) throughout.

Key names follow the official file layout: `attn.qkv` (fused), `attn.proj`, `attn.q_norm`, `attn.k_norm`,
`mlp.w_{up,gate,down}`, `upsamples.i.proj`, `t_embedder.mlp.{0,2}`, `shared_adaln.proj`.
"""

import math
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...attention import AttentionFn, sdpa_attention
from ...transformer.layers import RMSNorm, timestep_sinusoid
from .neighborhood import neighborhood_attention

# Tokens per SwiGLU / projection chunk: bounds the (chunk, hidden) workspace whatever the grid size.
TOKEN_CHUNK = 1 << 16
ROPE_DTYPE = torch.float32  # the official rotation runs in float32 for every activation dtype


def rope_split(head_dim: int) -> Tuple[int, int, int]:
    """head_dim split over (T, H, W): a quarter (even) to T, the rest halved (each even) between H and W."""
    d_t = (head_dim // 4) // 2 * 2
    d_hw = (head_dim - d_t) // 2
    if d_hw % 2:
        d_t -= 2
        d_hw = (head_dim - d_t) // 2
    return d_t, d_hw, d_hw


def _inv_freqs(dim: int, base: float, device) -> torch.Tensor:
    """1 / base^(2i/dim), computed in float64 and rounded once to float32 (as the official code does)."""
    exponents = np.arange(0, dim, 2, dtype=np.float64) / dim
    return torch.from_numpy(1.0 / np.power(float(base), exponents)).to(device=device, dtype=torch.float32)


def rotate_3d(x: torch.Tensor, split: Tuple[int, int, int], base: float) -> torch.Tensor:
    """Absolute per-axis RoPE on (B, T, H, W, heads, D): pairs (2j, 2j+1) of each axis chunk rotated by
    position * inv_freq of that axis (0-based grid positions; only offsets matter inside a window)."""
    parts, start = [], 0
    for axis, dim in enumerate(split):
        chunk = x[..., start:start + dim]
        start += dim
        pos = torch.arange(x.shape[1 + axis], device=x.device, dtype=torch.float32)
        angle = pos[:, None] * _inv_freqs(dim, base, x.device)[None, :]  # (L, dim/2)
        shape = [1, 1, 1, 1, 1, dim // 2]
        shape[1 + axis] = angle.shape[0]
        cos, sin = angle.cos().reshape(shape), angle.sin().reshape(shape)
        pairs = chunk.reshape(*chunk.shape[:-1], dim // 2, 2).to(ROPE_DTYPE)
        even, odd = pairs[..., 0], pairs[..., 1]
        rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
        parts.append(rotated.reshape(chunk.shape).to(x.dtype))
    return torch.cat(parts, dim=-1)


def chunked(fn, x: torch.Tensor, out_features: int) -> torch.Tensor:
    """fn over the tokens of x (B, ..., C) in slices of TOKEN_CHUNK tokens -> (B, ..., out_features)."""
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    if flat.shape[0] <= TOKEN_CHUNK:
        return fn(x)
    out = flat.new_empty(flat.shape[0], out_features)
    for start in range(0, flat.shape[0], TOKEN_CHUNK):
        out[start:start + TOKEN_CHUNK] = fn(flat[start:start + TOKEN_CHUNK])
    return out.reshape(*lead, out_features)


class NeighborhoodAttention3D(nn.Module):
    """Fused qkv Linear -> per-head RMSNorm on q, k -> 3-D RoPE -> neighbourhood attention -> proj."""

    def __init__(self, dim: int, kernel: Tuple[int, int, int], head_dim: int, *, rope_base: float = 10000.0,
                 operations=nn, attention_fn: AttentionFn = sdpa_attention, device=None, dtype=None) -> None:
        super().__init__()
        self.dim, self.heads, self.head_dim, self.kernel = dim, dim // head_dim, head_dim, tuple(kernel)
        self.split, self.rope_base, self.attention_fn = rope_split(head_dim), rope_base, attention_fn
        self.qkv = operations.Linear(dim, 3 * dim, bias=True, device=device, dtype=dtype)
        self.proj = operations.Linear(dim, dim, bias=True, device=device, dtype=dtype)
        self.q_norm = RMSNorm(head_dim, 1e-6, device=device, dtype=dtype)
        self.k_norm = RMSNorm(head_dim, 1e-6, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W, C) -> (B, T, H, W, C)."""
        qkv = chunked(self.qkv, x, 3 * self.dim)  # (B, T, H, W, 3C)
        heads = (*x.shape[:4], self.heads, self.head_dim)
        q, k, v = (t.reshape(heads) for t in qkv.chunk(3, dim=-1))  # (B, T, H, W, heads, D)
        del qkv
        q = rotate_3d(self.q_norm(q), self.split, self.rope_base).flatten(-2)
        k = rotate_3d(self.k_norm(k), self.split, self.rope_base).flatten(-2)
        out = neighborhood_attention(q, k, v.flatten(-2), self.heads, self.kernel, attention_fn=self.attention_fn)
        del q, k, v
        return chunked(self.proj, out, self.dim)


def swiglu_hidden(dim: int, ratio: float = 4.0) -> int:
    return (int(dim * ratio) + 15) // 16 * 16


class SwiGLU(nn.Module):
    """w_down(silu(w_gate(x)) * w_up(x)), no biases, evaluated TOKEN_CHUNK tokens at a time."""

    def __init__(self, dim: int, *, operations=nn, device=None, dtype=None) -> None:
        super().__init__()
        hidden = swiglu_hidden(dim)
        self.w_up = operations.Linear(dim, hidden, bias=False, device=device, dtype=dtype)
        self.w_gate = operations.Linear(dim, hidden, bias=False, device=device, dtype=dtype)
        self.w_down = operations.Linear(hidden, dim, bias=False, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return chunked(lambda t: self.w_down(F.silu(self.w_gate(t)) * self.w_up(t)), x, x.shape[-1])


class PixelShuffleUpsample(nn.Module):
    """Linear to prod(stride) * C / reduction channels, then depth-to-space over (T, H, W).

    With a temporal stride of 2 the first input frame yields a duplicate leading frame, dropped when
    `drop_leading_frame` (the chunk holding t = 0): the causal 1 + 2(n - 1) frame mapping.
    """

    def __init__(self, dim: int, stride: Tuple[int, int, int], reduction: int, *, operations=nn, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.stride = tuple(stride)
        self.out_channels = dim // reduction
        self.proj = operations.Linear(dim, math.prod(stride) * self.out_channels, bias=True, device=device,
                                      dtype=dtype)

    def forward(self, x: torch.Tensor, drop_leading_frame: bool = True) -> torch.Tensor:
        b, t, h, w, _ = x.shape
        st, sh, sw = self.stride
        y = chunked(self.proj, x, self.proj.out_features)  # (B, T, H, W, C' * st * sh * sw), c slowest
        y = y.reshape(b, t, h, w, self.out_channels, st, sh, sw).permute(0, 1, 5, 2, 6, 3, 7, 4)
        y = y.reshape(b, t * st, h * sh, w * sw, self.out_channels)  # (B, T st, H sh, W sw, C')
        return y[:, 1:] if st == 2 and drop_leading_frame else y


class _TimestepMLP(nn.Sequential):
    """Keys mlp.0 (Linear 256 -> D) and mlp.2 (Linear D -> D), SiLU between."""


class TimestepEmbedder(nn.Module):
    """Scaled timestep -> 256 sinusoid features [cos | sin] (float32) -> MLP -> (N, t_emb_dim)."""

    def __init__(self, dim: int, *, operations=nn, device=None, dtype=None) -> None:
        super().__init__()
        self.mlp = _TimestepMLP(operations.Linear(256, dim, bias=True, device=device, dtype=dtype), nn.SiLU(),
                                operations.Linear(dim, dim, bias=True, device=device, dtype=dtype))

    def forward(self, timestep: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return self.mlp(timestep_sinusoid(timestep.flatten()).to(dtype))


class SharedAdaLN(nn.Module):
    """t_emb -> SiLU -> Linear -> 7 chunks (B, 1, 1, 1, C): scale/shift/gate (attention), scale/shift/gate
    (MLP), context gate. Only the four scale/shift chunks are used; the gates were folded into weights."""

    CHUNKS = 7

    def __init__(self, dim: int, t_emb_dim: int, *, operations=nn, device=None, dtype=None) -> None:
        super().__init__()
        self.proj = operations.Linear(t_emb_dim, self.CHUNKS * dim, bias=True, device=device, dtype=dtype)

    def forward(self, t_emb: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(c[:, None, None, None, :] for c in self.proj(F.silu(t_emb)).chunk(self.CHUNKS, dim=-1))


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, F, H, W) -> (B, F, H/p, W/p, C p p), channels ordered (c, w-offset, h-offset)."""
    b, c, f, h, w = x.shape
    x = x.reshape(b, c, f, h // patch, patch, w // patch, patch)  # (b, c, f, h, q, w, r)
    return x.permute(0, 2, 3, 5, 1, 6, 4).reshape(b, f, h // patch, w // patch, c * patch * patch)


def unpatchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Inverse of `patchify`: (B, F, h, w, C p p) -> (B, C, F, h p, w p)."""
    b, f, h, w, cpp = x.shape
    c = cpp // (patch * patch)
    x = x.reshape(b, f, h, w, c, patch, patch)  # (b, f, h, w, c, r, q)
    return x.permute(0, 4, 1, 2, 6, 3, 5).reshape(b, c, f, h * patch, w * patch)
