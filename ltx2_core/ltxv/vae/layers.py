"""LTX-Video-only VAE layers; everything else (causal conv, pixel norm, timestep embedder, space-to-depth
/ depth-to-space resampling) is imported from the LTX-2 VAE (`ltx2_core.video_vae.layers`)."""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...ops import cast_like
from ...video_vae.layers import TimestepEmbedder, pixel_norm


class CausalConv(nn.Module):
    """3x3x3 conv with edge-frame temporal padding (as `video_vae.layers.CausalConv3d`) and a stride."""

    def __init__(self, in_channels: int, out_channels: int, *, stride=1, padding_mode: str, operations,
                 device, dtype) -> None:
        super().__init__()
        self.conv = operations.Conv3d(in_channels, out_channels, kernel_size=3, stride=stride, padding=(0, 1, 1),
                                      padding_mode=padding_mode, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, causal: bool = True) -> torch.Tensor:
        first = x[:, :, :1]
        x = torch.cat((first, first, x), dim=2) if causal else torch.cat((first, x, x[:, :, -1:]), dim=2)
        return self.conv(x)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of (B, C, T, H, W) (key prefix `norm.`)."""

    def __init__(self, channels: int, *, operations, device, dtype) -> None:
        super().__init__()
        self.norm = operations.LayerNorm(channels, eps=1e-6, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


def add_spatial_noise(x: torch.Tensor, scale: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    """x + randn(H, W) * scale (C, 1, 1): one spatial map shared over batch, channels' scales and frames."""
    noise = torch.randn(x.shape[-2:], generator=generator, device=x.device, dtype=x.dtype)  # (H, W)
    return x + (noise[None] * cast_like(scale, x))[None, :, None]  # (1, C, 1, H, W)


class LTXVResnetBlock(nn.Module):
    """PN [-> AdaLN] -> SiLU -> conv1 [-> noise] -> PN [-> AdaLN] -> SiLU -> conv2 [-> noise], plus the input
    (through LayerNorm + 1x1x1 conv when the width changes, `res_x_y`)."""

    def __init__(self, in_channels: int, out_channels: int, *, inject_noise: bool, timestep_conditioning: bool,
                 padding_mode: str, operations, device, dtype) -> None:
        super().__init__()
        kw = dict(padding_mode=padding_mode, operations=operations, device=device, dtype=dtype)
        self.conv1 = CausalConv(in_channels, out_channels, **kw)
        self.conv2 = CausalConv(out_channels, out_channels, **kw)
        self.inject_noise = inject_noise
        self.timestep_conditioning = timestep_conditioning
        if inject_noise:  # both sized by the input width, as in the official code
            self.per_channel_scale1 = nn.Parameter(torch.empty(in_channels, 1, 1, device=device, dtype=dtype))
            self.per_channel_scale2 = nn.Parameter(torch.empty(in_channels, 1, 1, device=device, dtype=dtype))
        if in_channels != out_channels:
            self.norm3 = ChannelLayerNorm(in_channels, operations=operations, device=device, dtype=dtype)
            self.conv_shortcut = operations.Conv3d(in_channels, out_channels, kernel_size=1, device=device, dtype=dtype)
        else:
            self.norm3 = self.conv_shortcut = None
        if timestep_conditioning:
            self.scale_shift_table = nn.Parameter(torch.empty(4, in_channels, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor, causal: bool, embedded: Optional[torch.Tensor] = None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        h = pixel_norm(x)
        if self.timestep_conditioning:
            table = cast_like(self.scale_shift_table, x)[None, :, :, None, None, None]  # (1, 4, C, 1, 1, 1)
            shift1, scale1, shift2, scale2 = (table + embedded.reshape(x.shape[0], 4, -1, 1, 1, 1)).unbind(dim=1)
            h = h * (1 + scale1) + shift1
        h = self.conv1(F.silu(h), causal)
        if self.inject_noise:
            h = add_spatial_noise(h, self.per_channel_scale1, generator)
        h = pixel_norm(h)
        if self.timestep_conditioning:
            h = h * (1 + scale2) + shift2
        h = self.conv2(F.silu(h), causal)
        if self.inject_noise:
            h = add_spatial_noise(h, self.per_channel_scale2, generator)
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(self.norm3(x))
        return x + h


class LTXVResStage(nn.Module):
    """`res_x`: resnets at constant width sharing one timestep embedding (4C) when conditioned."""

    def __init__(self, channels: int, num_layers: int, *, inject_noise: bool, timestep_conditioning: bool,
                 padding_mode: str, operations, device, dtype) -> None:
        super().__init__()
        self.timestep_conditioning = timestep_conditioning
        if timestep_conditioning:
            self.time_embedder = TimestepEmbedder(4 * channels, operations=operations, device=device, dtype=dtype)
        self.res_blocks = nn.ModuleList(
            LTXVResnetBlock(channels, channels, inject_noise=inject_noise, timestep_conditioning=timestep_conditioning,
                            padding_mode=padding_mode, operations=operations, device=device, dtype=dtype)
            for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor, causal: bool, timestep: Optional[torch.Tensor] = None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        embedded = None
        if self.timestep_conditioning:
            embedded = self.time_embedder(timestep, x.dtype).view(x.shape[0], -1, 1, 1, 1)  # (B, 4C, 1, 1, 1)
        for block in self.res_blocks:
            x = block(x, causal, embedded, generator)
        return x
