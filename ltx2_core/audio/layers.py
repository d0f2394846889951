"""Building blocks of the causal audio VAE (time is dim 2, mel bins dim 3; causal along time)."""

import torch
import torch.nn.functional as F
from torch import nn

from ..attention import sdpa_attention

PIXEL_NORM_EPS = 1e-6


def pixel_norm(x: torch.Tensor) -> torch.Tensor:
    """RMS normalization over channels (dim 1), eps 1e-6."""
    return x / torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + PIXEL_NORM_EPS)


class CausalConv2d(nn.Module):
    """k x k convolution, padded (k - 1) rows on top of the time axis only and symmetrically over mel."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, *, operations=nn, device=None, dtype=None):
        super().__init__()
        pad = kernel_size - 1
        self.padding = (pad // 2, pad - pad // 2, pad, 0)  # (mel left, mel right, time top, time bottom)
        self.conv = operations.Conv2d(in_ch, out_ch, kernel_size, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.padding))


class ResnetBlock(nn.Module):
    """PixelNorm -> SiLU -> conv -> PixelNorm -> SiLU -> conv, plus a (1x1 projected) skip."""

    def __init__(self, in_ch: int, out_ch: int, *, operations=nn, device=None, dtype=None):
        super().__init__()
        kw = dict(operations=operations, device=device, dtype=dtype)
        self.conv1 = CausalConv2d(in_ch, out_ch, 3, **kw)
        self.conv2 = CausalConv2d(out_ch, out_ch, 3, **kw)
        self.nin_shortcut = CausalConv2d(in_ch, out_ch, 1, **kw) if in_ch != out_ch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(pixel_norm(x)))
        h = self.conv2(F.silu(pixel_norm(h)))
        skip = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return skip + h


class Downsample(nn.Module):
    """Stride-2 3x3 conv after causal zero padding (time: 2 on top; mel: 1 on the right)."""

    def __init__(self, channels: int, *, operations=nn, device=None, dtype=None):
        super().__init__()
        self.conv = operations.Conv2d(channels, channels, 3, stride=2, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 2, 0)))  # (B, C, T, M) -> (B, C, ceil(T/2), M/2)


class Upsample(nn.Module):
    """Nearest x2 on time and mel, causal 3x3 conv, then drop the first time row (2T -> 2T - 1)."""

    def __init__(self, channels: int, *, operations=nn, device=None, dtype=None):
        super().__init__()
        self.conv = CausalConv2d(channels, channels, 3, operations=operations, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")  # (B, C, 2T, 2M)
        return self.conv(x)[:, :, 1:]


class AttnBlock(nn.Module):
    """Single-head self-attention over all (time, mel) positions, PixelNorm input, residual output."""

    def __init__(self, channels: int, *, operations=nn, attention_fn=sdpa_attention, device=None, dtype=None):
        super().__init__()
        self.attention_fn = attention_fn
        self.q, self.k, self.v, self.proj_out = (
            operations.Conv2d(channels, channels, 1, device=device, dtype=dtype) for _ in range(4)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, m = x.shape
        h = pixel_norm(x)
        q, k, v = (conv(h).reshape(b, c, t * m).transpose(1, 2) for conv in (self.q, self.k, self.v))  # (B, TM, C)
        out = self.attention_fn(q, k, v, 1)  # (B, TM, C)
        return x + self.proj_out(out.transpose(1, 2).reshape(b, c, t, m))  # (B, C, TM) -> (B, C, T, M)
