"""The latent upsampler network and the helper that runs it on normalized latents."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..ops import cast_like
from .config import LatentUpsamplerConfig

BLUR_TAPS = 5


def binomial_kernel(taps: int = BLUR_TAPS) -> torch.Tensor:
    """(1, 1, taps, taps) normalized outer product of binomial coefficients ([1,4,6,4,1] for 5 taps)."""
    row = torch.tensor([math.comb(taps - 1, k) for k in range(taps)], dtype=torch.float64)
    kernel = row[:, None] * row[None, :]
    return (kernel / kernel.sum()).float()[None, None]


def _frames_to_batch(x: torch.Tensor) -> torch.Tensor:
    b, c, f, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)  # (B*F, C, H, W)


def _batch_to_frames(x: torch.Tensor, batch: int) -> torch.Tensor:
    bf, c, h, w = x.shape
    return x.reshape(batch, bf // batch, c, h, w).permute(0, 2, 1, 3, 4)  # (B, C, F, H, W)


def shuffle_time(x: torch.Tensor, factor: int) -> torch.Tensor:
    """(B, C*r, F, H, W) -> (B, C, F*r, H, W); channel = c*r + offset."""
    b, cr, f, h, w = x.shape
    x = x.reshape(b, cr // factor, factor, f, h, w).permute(0, 1, 3, 2, 4, 5)  # (B, C, F, r, H, W)
    return x.reshape(b, cr // factor, f * factor, h, w)


def shuffle_3d(x: torch.Tensor, factor: int) -> torch.Tensor:
    """(B, C*r^3, F, H, W) -> (B, C, F*r, H*r, W*r); channel = ((c*r + dt)*r + dh)*r + dw."""
    b, cs, f, h, w = x.shape
    c = cs // factor**3
    x = x.reshape(b, c, factor, factor, factor, f, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)  # (B, C, F, r, H, r, W, r)
    return x.reshape(b, c, f * factor, h * factor, w * factor)


class ResBlock(nn.Module):
    """SiLU(x + GN(conv2(SiLU(GN(conv1(x)))))) with 3x3(x3) convs and GroupNorm(32)."""

    def __init__(self, channels: int, conv, *, operations, device, dtype) -> None:
        super().__init__()
        self.conv1 = conv(channels, channels, kernel_size=3, padding=1, device=device, dtype=dtype)
        self.norm1 = operations.GroupNorm(32, channels, device=device, dtype=dtype)
        self.conv2 = conv(channels, channels, kernel_size=3, padding=1, device=device, dtype=dtype)
        self.norm2 = operations.GroupNorm(32, channels, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.norm1(self.conv1(x)))
        return F.silu(self.norm2(self.conv2(h)) + x)


class BlurDownsample(nn.Module):
    """Depthwise binomial blur with stride `stride` (identity for stride 1); buffer `kernel` (1, 1, 5, 5)."""

    def __init__(self, stride: int, *, device=None) -> None:
        super().__init__()
        self.stride = stride
        self.register_buffer("kernel", binomial_kernel().to(device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x
        channels = x.shape[1]
        weight = cast_like(self.kernel, x).expand(channels, 1, BLUR_TAPS, BLUR_TAPS)
        return F.conv2d(x, weight, stride=self.stride, padding=BLUR_TAPS // 2, groups=channels)


class RationalResampler(nn.Module):
    """Per frame: conv to num^2*C, pixel shuffle by num, blur-downsample by den (scale num/den)."""

    def __init__(self, channels: int, num: int, den: int, *, operations, device, dtype) -> None:
        super().__init__()
        self.num = num
        self.conv = operations.Conv2d(
            channels, num * num * channels, kernel_size=3, padding=1, device=device, dtype=dtype
        )
        self.blur_down = BlurDownsample(den, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B*F, C, H, W)
        return self.blur_down(F.pixel_shuffle(self.conv(x), self.num))


class LatentUpsampler(nn.Module):
    """initial conv -> GN -> SiLU -> res blocks -> upsampler -> res blocks -> final conv.

    Works on UN-normalized latents (B, C, F, H, W); see `upsample_latent` for normalized ones.
    """

    def __init__(self, config: LatentUpsamplerConfig, *, operations=torch.nn, device=None, dtype=None) -> None:
        super().__init__()
        self.config = config
        mid = config.mid_channels
        kw = dict(device=device, dtype=dtype)
        conv = operations.Conv3d if config.dims == 3 else operations.Conv2d
        self.initial_conv = conv(config.in_channels, mid, kernel_size=3, padding=1, **kw)
        self.initial_norm = operations.GroupNorm(32, mid, **kw)
        self.res_blocks = nn.ModuleList(
            ResBlock(mid, conv, operations=operations, **kw) for _ in range(config.num_blocks_per_stage)
        )
        if config.spatial_upsample and config.temporal_upsample:
            self.upsampler = nn.ModuleList([operations.Conv3d(mid, 8 * mid, kernel_size=3, padding=1, **kw)])
        elif config.temporal_upsample:
            self.upsampler = nn.ModuleList([operations.Conv3d(mid, 2 * mid, kernel_size=3, padding=1, **kw)])
        elif config.rational_resampler:
            num, den = config.rational
            self.upsampler = RationalResampler(mid, num, den, operations=operations, **kw)
        else:
            self.upsampler = nn.ModuleList([operations.Conv2d(mid, 4 * mid, kernel_size=3, padding=1, **kw)])
        self.post_upsample_res_blocks = nn.ModuleList(
            ResBlock(mid, conv, operations=operations, **kw) for _ in range(config.num_blocks_per_stage)
        )
        self.final_conv = conv(mid, config.in_channels, kernel_size=3, padding=1, **kw)

    def _upsample(self, x: torch.Tensor, batch: int) -> torch.Tensor:
        cfg = self.config
        if cfg.temporal_upsample:  # (B, C, F, H, W), dims 3
            y = self.upsampler[0](x)
            y = shuffle_3d(y, 2) if cfg.spatial_upsample else shuffle_time(y, 2)
            return y[:, :, 1:]  # the first latent frame stands for a single pixel frame
        frames_first = cfg.dims == 3
        if frames_first:
            x = _frames_to_batch(x)
        y = self.upsampler(x) if cfg.rational_resampler else F.pixel_shuffle(self.upsampler[0](x), 2)
        return _batch_to_frames(y, batch) if frames_first else y

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        if latent.ndim != 5 or latent.shape[1] != self.config.in_channels:
            raise InputError(
                f"The latent upsampler expects (batch, {self.config.in_channels}, frames, height, width), "
                f"got {tuple(latent.shape)}."
            )
        batch = latent.shape[0]
        x = _frames_to_batch(latent) if self.config.dims == 2 else latent
        x = F.silu(self.initial_norm(self.initial_conv(x)))
        for block in self.res_blocks:
            x = block(x)
        x = self._upsample(x, batch)
        for block in self.post_upsample_res_blocks:
            x = block(x)
        x = self.final_conv(x)
        return _batch_to_frames(x, batch) if self.config.dims == 2 else x


def upsample_latent(latent: torch.Tensor, upsampler: LatentUpsampler, vae) -> torch.Tensor:
    """Upsample a NORMALIZED video latent: un-normalize with the VAE's statistics, run the upsampler,
    normalize again. `vae` is a `VideoVAE` (anything with `unnormalize_latent` / `normalize_latent`)."""
    return vae.normalize_latent(upsampler(vae.unnormalize_latent(latent)))
