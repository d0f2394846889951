"""BigVGAN-v2 pieces used by LTX-2.3's vocoder: Snake/SnakeBeta, anti-aliased activation, AMP block.

Anti-aliasing resamples by 2 with a 12-tap Kaiser-windowed sinc (cutoff 0.25, half-width 0.3).
The filters are persistent buffers stored in the checkpoints (`upsample.filter`,
`downsample.lowpass.filter`); fresh modules compute them, loaded ones use the stored values.
"""

import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import cast_like

SNAKE_EPS = 1e-9


def kaiser_sinc_filter(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """Kaiser-windowed sinc low-pass (1, 1, kernel_size), normalized to unit sum (float32)."""
    half = kernel_size // 2
    attenuation = 2.285 * (half - 1) * math.pi * 4 * half_width + 7.95
    if attenuation > 50.0:
        beta = 0.1102 * (attenuation - 8.7)
    elif attenuation >= 21.0:
        beta = 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(kernel_size, beta=beta, periodic=False)
    if kernel_size % 2 == 0:
        t = torch.arange(-half, half) + 0.5
    else:
        t = torch.arange(kernel_size) - half
    taps = 2 * cutoff * window * torch.sinc(2 * cutoff * t)
    return (taps / taps.sum()).view(1, 1, kernel_size)


def _filter_buffer(module: nn.Module, kernel_size: int, device, dtype) -> None:
    if device is not None and torch.device(device).type == "meta":
        taps = torch.empty(1, 1, kernel_size, device="meta", dtype=dtype)
    else:
        taps = kaiser_sinc_filter(0.25, 0.3, kernel_size).to(device=device, dtype=dtype)
    module.register_buffer("filter", taps)


class UpSample2x(nn.Module):
    """x2 upsampling: replicate pad, depthwise transposed conv with the low-pass, gain 2, crop."""

    def __init__(self, kernel_size: int = 12, *, device=None, dtype=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.pad = kernel_size // 2 - 1
        self.crop_left = self.pad * 2 + (kernel_size - 2) // 2
        self.crop_right = self.pad * 2 + (kernel_size - 2 + 1) // 2
        _filter_buffer(self, kernel_size, device, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        filt = cast_like(self.filter, x).expand(channels, 1, self.kernel_size)
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        y = 2 * F.conv_transpose1d(x, filt, stride=2, groups=channels)  # (B, C, 2 (L + 2 pad - 1) + K)
        return y[..., self.crop_left: y.shape[-1] - self.crop_right]  # (B, C, 2L)


class LowPass2x(nn.Module):
    """Replicate-padded depthwise low-pass with stride 2 (the x2 downsampler)."""

    def __init__(self, kernel_size: int = 12, *, device=None, dtype=None):
        super().__init__()
        self.kernel_size = kernel_size
        even = kernel_size % 2 == 0
        self.pad_left = kernel_size // 2 - int(even)
        self.pad_right = kernel_size // 2
        _filter_buffer(self, kernel_size, device, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        filt = cast_like(self.filter, x).expand(channels, 1, self.kernel_size)
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, filt, stride=2, groups=channels)  # (B, C, L / 2)


class DownSample2x(nn.Module):
    """x2 downsampler; only nests `LowPass2x` under the checkpoint key `lowpass`."""

    def __init__(self, kernel_size: int = 12, *, device=None, dtype=None):
        super().__init__()
        self.lowpass = LowPass2x(kernel_size, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(x)


class Snake(nn.Module):
    """x + sin^2(a x) / a with per-channel log-scale a (`beta=True`: divisor e^beta instead, SnakeBeta)."""

    def __init__(self, channels: int, beta: bool, *, device=None, dtype=None):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels, device=device, dtype=dtype))
        self.beta = nn.Parameter(torch.zeros(channels, device=device, dtype=dtype)) if beta else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.exp(cast_like(self.alpha, x))[None, :, None]  # (1, C, 1)
        scale = alpha if self.beta is None else torch.exp(cast_like(self.beta, x))[None, :, None]
        return x + (1.0 / (scale + SNAKE_EPS)) * torch.sin(x * alpha).pow(2)


class Activation1d(nn.Module):
    """Anti-aliased activation: upsample x2 -> Snake(Beta) -> downsample x2."""

    def __init__(self, channels: int, beta: bool, *, device=None, dtype=None):
        super().__init__()
        self.act = Snake(channels, beta, device=device, dtype=dtype)
        self.upsample = UpSample2x(device=device, dtype=dtype)
        self.downsample = DownSample2x(device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.act(self.upsample(x)))


def residual_conv_pairs(channels: int, kernel_size: int, dilations, *, operations=nn, device=None,
                        dtype=None) -> Tuple[nn.ModuleList, nn.ModuleList]:
    """(convs1, convs2) of a vocoder residual block: per unit, a length-preserving conv dilated by d_n and
    an undilated one (shared by HiFi-GAN's ResBlock1 and BigVGAN's AMPBlock1)."""
    kw = dict(device=device, dtype=dtype)
    convs1 = nn.ModuleList(
        operations.Conv1d(channels, channels, kernel_size, dilation=d, padding=d * (kernel_size - 1) // 2, **kw)
        for d in dilations
    )
    convs2 = nn.ModuleList(
        operations.Conv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2, **kw) for _ in dilations
    )
    return convs1, convs2


class AMPBlock1(nn.Module):
    """Three residual units: x += conv2(act2(conv1(act1(x)))), conv1 dilated by d_n, conv2 undilated."""

    def __init__(self, channels: int, kernel_size: int, dilations, beta: bool, *, operations=nn, device=None,
                 dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.convs1, self.convs2 = residual_conv_pairs(channels, kernel_size, dilations, operations=operations, **kw)
        self.acts1 = nn.ModuleList(Activation1d(channels, beta, **kw) for _ in dilations)
        self.acts2 = nn.ModuleList(Activation1d(channels, beta, **kw) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv1, conv2, act1, act2 in zip(self.convs1, self.convs2, self.acts1, self.acts2):
            x = x + conv2(act2(conv1(act1(x))))
        return x
