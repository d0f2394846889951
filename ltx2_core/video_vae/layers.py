"""Building blocks of the causal video VAE: causal 3-D convs, pixel norm, residual stages,
space-to-depth / depth-to-space resampling, (un)patchify and the timestep embedder."""

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import cast_like

PIXEL_NORM_EPS = 1e-8
TIMESTEP_FREQ_DIM = 256


def pixel_norm(x: torch.Tensor, eps: float = PIXEL_NORM_EPS) -> torch.Tensor:
    """Divide each location by the RMS of its channels: x / sqrt(mean_c(x^2) + eps)."""
    return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + eps)


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, F, H, W) -> (B, C*p*p, F, H/p, W/p); channel = c*p*p + col_offset*p + row_offset."""
    b, c, f, h, w = x.shape
    x = x.reshape(b, c, f, h // patch, patch, w // patch, patch)  # (B, C, F, h, q, w, r)
    x = x.permute(0, 1, 6, 4, 2, 3, 5)  # (B, C, r, q, F, h, w)
    return x.reshape(b, c * patch * patch, f, h // patch, w // patch)


def unpatchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Inverse of `patchify`: (B, C*p*p, F, h, w) -> (B, C, F, h*p, w*p)."""
    b, cpp, f, h, w = x.shape
    c = cpp // (patch * patch)
    x = x.reshape(b, c, patch, patch, f, h, w)  # (B, C, r, q, F, h, w)
    x = x.permute(0, 1, 4, 5, 3, 6, 2)  # (B, C, F, h, q, w, r)
    return x.reshape(b, c, f, h * patch, w * patch)


def space_to_depth(x: torch.Tensor, stride: Tuple[int, int, int]) -> torch.Tensor:
    """(B, C, T*st, H*sh, W*sw) -> (B, C*st*sh*sw, T, H, W); channel = ((c*st + dt)*sh + dh)*sw + dw."""
    st, sh, sw = stride
    b, c, t, h, w = x.shape
    x = x.reshape(b, c, t // st, st, h // sh, sh, w // sw, sw)  # (B, C, T, st, H, sh, W, sw)
    x = x.permute(0, 1, 3, 5, 7, 2, 4, 6)  # (B, C, st, sh, sw, T, H, W)
    return x.reshape(b, c * st * sh * sw, t // st, h // sh, w // sw)


def depth_to_space(x: torch.Tensor, stride: Tuple[int, int, int]) -> torch.Tensor:
    """Inverse of `space_to_depth`: (B, C*st*sh*sw, T, H, W) -> (B, C, T*st, H*sh, W*sw)."""
    st, sh, sw = stride
    b, cs, t, h, w = x.shape
    c = cs // (st * sh * sw)
    x = x.reshape(b, c, st, sh, sw, t, h, w)  # (B, C, st, sh, sw, T, H, W)
    x = x.permute(0, 1, 5, 2, 6, 3, 7, 4)  # (B, C, T, st, H, sh, W, sw)
    return x.reshape(b, c, t * st, h * sh, w * sw)


class CausalConv3d(nn.Module):
    """3x3x3 conv whose temporal padding replicates edge frames.

    causal=True prepends two copies of the first frame; causal=False adds one copy of the first frame
    before and one of the last frame after. Spatial padding (1 px) uses `padding_mode`.
    """

    def __init__(self, in_channels: int, out_channels: int, *, padding_mode: str, operations, device, dtype) -> None:
        super().__init__()
        self.conv = operations.Conv3d(
            in_channels, out_channels, kernel_size=3, padding=(0, 1, 1), padding_mode=padding_mode,
            device=device, dtype=dtype,
        )

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        first = x[:, :, :1]
        if causal:
            x = torch.cat((first, first, x), dim=2)
        else:
            x = torch.cat((first, x, x[:, :, -1:]), dim=2)
        return self.conv(x)


class _TimestepMLP(nn.Module):
    def __init__(self, out_dim: int, *, operations, device, dtype) -> None:
        super().__init__()
        self.linear_1 = operations.Linear(TIMESTEP_FREQ_DIM, out_dim, device=device, dtype=dtype)
        self.linear_2 = operations.Linear(out_dim, out_dim, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


def timestep_frequencies(timestep: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 256) sinusoidal features [cos | sin], computed in float32 as the official code does."""
    half = TIMESTEP_FREQ_DIM // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=timestep.device) / half
    angles = timestep.float()[:, None] * torch.exp(exponent)[None, :]  # (N, 128)
    return torch.cat((torch.cos(angles), torch.sin(angles)), dim=-1)


class TimestepEmbedder(nn.Module):
    """Sinusoidal(256) -> Linear -> SiLU -> Linear, output `out_dim` (key prefix `timestep_embedder.`)."""

    def __init__(self, out_dim: int, *, operations, device, dtype) -> None:
        super().__init__()
        self.timestep_embedder = _TimestepMLP(out_dim, operations=operations, device=device, dtype=dtype)

    def forward(self, timestep: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return self.timestep_embedder(timestep_frequencies(timestep.flatten()).to(dtype))  # (N, out_dim)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class ResnetBlock(nn.Module):
    """x + conv2(SiLU(PN(conv1(SiLU(PN(x)))))), optionally modulated by a timestep (4 x C table)."""

    def __init__(self, channels: int, *, padding_mode: str, timestep_conditioning: bool, operations, device, dtype):
        super().__init__()
        kw = dict(padding_mode=padding_mode, operations=operations, device=device, dtype=dtype)
        self.conv1 = CausalConv3d(channels, channels, **kw)
        self.conv2 = CausalConv3d(channels, channels, **kw)
        self.timestep_conditioning = timestep_conditioning
        if timestep_conditioning:
            self.scale_shift_table = nn.Parameter(torch.empty(4, channels, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor, causal: bool, embedded_timestep: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = pixel_norm(x)
        if self.timestep_conditioning:
            batch = x.shape[0]
            table = cast_like(self.scale_shift_table, x)[None, :, :, None, None, None]  # (1, 4, C, 1, 1, 1)
            ada = table + embedded_timestep.reshape(batch, 4, -1, 1, 1, 1)  # (B, 4, C, 1, 1, 1)
            shift1, scale1, shift2, scale2 = ada.unbind(dim=1)
            h = _modulate(h, shift1, scale1)
        # Activations are rebound / computed in place so that no dead tensor lives through a conv.
        h = F.silu(h, inplace=True)
        h = self.conv1(h, causal)
        h = pixel_norm(h)
        if self.timestep_conditioning:
            h = _modulate(h, shift2, scale2)
        h = F.silu(h, inplace=True)
        h = self.conv2(h, causal)
        return x + h


class ResStage(nn.Module):
    """`res_x`: a list of ResnetBlocks at constant width (+ a timestep embedder when conditioned)."""

    def __init__(self, channels: int, num_layers: int, *, padding_mode: str, timestep_conditioning: bool,
                 operations, device, dtype) -> None:
        super().__init__()
        self.timestep_conditioning = timestep_conditioning
        if timestep_conditioning:
            self.time_embedder = TimestepEmbedder(4 * channels, operations=operations, device=device, dtype=dtype)
        self.res_blocks = nn.ModuleList(
            ResnetBlock(channels, padding_mode=padding_mode, timestep_conditioning=timestep_conditioning,
                        operations=operations, device=device, dtype=dtype)
            for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor, causal: bool, timestep: Optional[torch.Tensor] = None) -> torch.Tensor:
        embedded = None
        if self.timestep_conditioning:
            embedded = self.time_embedder(timestep, x.dtype).view(x.shape[0], -1, 1, 1, 1)  # (B, 4C, 1, 1, 1)
        for block in self.res_blocks:
            x = block(x, causal, embedded)
        return x


class SpaceToDepthDown(nn.Module):
    """Encoder downsampling: causal conv then space-to-depth, plus a channel-averaged space-to-depth skip."""

    def __init__(self, in_channels: int, out_channels: int, stride: Tuple[int, int, int], *, padding_mode: str,
                 operations, device, dtype) -> None:
        super().__init__()
        self.stride = stride
        self.group_size = in_channels * math.prod(stride) // out_channels
        self.conv = CausalConv3d(in_channels, out_channels // math.prod(stride), padding_mode=padding_mode,
                                 operations=operations, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] == 2:
            x = torch.cat((x[:, :, :1], x), dim=2)  # 1+2k frames -> 2+2k
        skip = space_to_depth(x, self.stride)
        b, c, t, h, w = skip.shape
        skip = skip.reshape(b, c // self.group_size, self.group_size, t, h, w).mean(dim=2)  # (B, C_out, T, H, W)
        return space_to_depth(self.conv(x, True), self.stride) + skip


class DepthToSpaceUp(nn.Module):
    """Decoder upsampling: conv to prod(stride)*C/m channels then depth-to-space; drops the first
    frame when doubling time; optional residual = depth-to-space of the input tiled over channels."""

    def __init__(self, in_channels: int, stride: Tuple[int, int, int], reduction: int, residual: bool, *,
                 padding_mode: str, operations, device, dtype) -> None:
        super().__init__()
        self.stride = stride
        self.reduction = reduction
        self.residual = residual
        self.conv = CausalConv3d(in_channels, math.prod(stride) * in_channels // reduction, padding_mode=padding_mode,
                                 operations=operations, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        skip = None
        if self.residual:
            skip = depth_to_space(x, self.stride).repeat(1, math.prod(self.stride) // self.reduction, 1, 1, 1)
            if self.stride[0] == 2:
                skip = skip[:, :, 1:]
        x = depth_to_space(self.conv(x, causal), self.stride)
        if self.stride[0] == 2:
            x = x[:, :, 1:]
        return x if skip is None else x + skip
