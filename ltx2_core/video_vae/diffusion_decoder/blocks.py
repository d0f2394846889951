"""The two transformer blocks of the diffusion decoder (channels-last)."""

from typing import Tuple

import torch
from torch import nn

from ...attention import AttentionFn, sdpa_attention
from ...ops import cast_like
from ...transformer.layers import RMSNorm
from .layers import NeighborhoodAttention3D, SharedAdaLN, SwiGLU, chunked


class NABlock(nn.Module):
    """Deterministic stage block: x + NA(RMSNorm(x)), then x + SwiGLU(RMSNorm(x))."""

    def __init__(self, dim: int, kernel: Tuple[int, int, int], head_dim: int, *, rope_base: float = 10000.0,
                 operations=nn, attention_fn: AttentionFn = sdpa_attention, device=None, dtype=None) -> None:
        super().__init__()
        kw = dict(operations=operations, device=device, dtype=dtype)
        self.norm1 = RMSNorm(dim, 1e-6, device=device, dtype=dtype)
        self.attn = NeighborhoodAttention3D(dim, kernel, head_dim, rope_base=rope_base, attention_fn=attention_fn,
                                            **kw)
        self.norm2 = RMSNorm(dim, 1e-6, device=device, dtype=dtype)
        self.mlp = SwiGLU(dim, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class DiffusionNABlock(nn.Module):
    """Stage-5 block: x += context_proj(context); then NA and SwiGLU on RMSNorm(x) * (1 + scale) + shift, where
    (scale, shift) = shared modulation + this block's `scale_shift_table` rows (0, 1) and (3, 4). Residuals are
    ungated (the released weights have the gates folded in)."""

    def __init__(self, dim: int, kernel: Tuple[int, int, int], head_dim: int, context_channels: int, *,
                 rope_base: float = 10000.0, operations=nn, attention_fn: AttentionFn = sdpa_attention, device=None,
                 dtype=None) -> None:
        super().__init__()
        kw = dict(operations=operations, device=device, dtype=dtype)
        self.context_proj = operations.Linear(context_channels, dim, bias=True, device=device, dtype=dtype)
        self.scale_shift_table = nn.Parameter(torch.empty(SharedAdaLN.CHUNKS, dim, device=device, dtype=dtype))
        self.norm1 = RMSNorm(dim, 1e-6, device=device, dtype=dtype)
        self.attn = NeighborhoodAttention3D(dim, kernel, head_dim, rope_base=rope_base, attention_fn=attention_fn,
                                            **kw)
        self.norm2 = RMSNorm(dim, 1e-6, device=device, dtype=dtype)
        self.mlp = SwiGLU(dim, **kw)

    def forward(self, x: torch.Tensor, context: torch.Tensor, modulation: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """x (B, T, H, W, C), context (B, T, H, W, C_ctx), modulation: 7 x (B, 1, 1, 1, C)."""
        table = cast_like(self.scale_shift_table, x)
        scale_msa, shift_msa, scale_mlp, shift_mlp = (modulation[i] + table[i] for i in (0, 1, 3, 4))
        x = x + chunked(self.context_proj, context, x.shape[-1])
        x = x + self.attn(self.norm1(x) * (1 + scale_msa) + shift_msa)
        return x + self.mlp(self.norm2(x) * (1 + scale_mlp) + shift_mlp)
