"""Video VAE decoder: un-normalized latent (B, C, F', H', W') -> pixels (B, 3, 8(F'-1)+1, 32H', 32W')."""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import cast_like
from .config import VideoVAEConfig
from .layers import CausalConv3d, DepthToSpaceUp, ResStage, TimestepEmbedder, pixel_norm, unpatchify


class VideoDecoder(nn.Module):
    """conv_in -> up_blocks (decoder block list reversed) -> PixelNorm [-> timestep modulation] -> SiLU
    -> conv_out -> unpatchify. Output is not clamped.

    With timestep conditioning, every res stage and the output norm are modulated by the scaled decode
    timestep (`timestep * timestep_scale_multiplier`). Noise mixing and un-normalization are done by
    `VideoVAE`, which owns the per-channel statistics.
    """

    def __init__(self, config: VideoVAEConfig, *, operations, device=None, dtype=None) -> None:
        super().__init__()
        self.patch_size = config.patch_size
        self.causal = config.causal_decoder
        self.timestep_conditioning = config.timestep_conditioning
        pad = config.decoder_padding
        kw = dict(operations=operations, device=device, dtype=dtype)
        channels = config.decoder_base_channels * 8
        self.conv_in = CausalConv3d(config.latent_channels, channels, padding_mode=pad, **kw)
        self.up_blocks = nn.ModuleList()
        for block in reversed(config.decoder_blocks):
            if block.name == "res_x":
                self.up_blocks.append(
                    ResStage(channels, block.num_layers, padding_mode=pad,
                             timestep_conditioning=config.timestep_conditioning, **kw)
                )
            else:
                self.up_blocks.append(
                    DepthToSpaceUp(channels, block.stride, block.multiplier, block.residual, padding_mode=pad, **kw)
                )
                channels //= block.multiplier
        self.conv_out = CausalConv3d(channels, config.in_channels * config.patch_size**2, padding_mode=pad, **kw)
        if config.timestep_conditioning:
            self.timestep_scale_multiplier = nn.Parameter(torch.empty((), device=device, dtype=dtype))
            self.last_time_embedder = TimestepEmbedder(2 * channels, **kw)
            self.last_scale_shift_table = nn.Parameter(torch.empty(2, channels, device=device, dtype=dtype))

    def forward(self, latent: torch.Tensor, timestep: Optional[torch.Tensor] = None) -> torch.Tensor:
        """`latent` un-normalized; `timestep` (B,) is required when the decoder is timestep-conditioned."""
        x = self.conv_in(latent, self.causal)
        scaled = None
        if self.timestep_conditioning:
            scaled = timestep * cast_like(self.timestep_scale_multiplier, x)  # (B,)
        for block in self.up_blocks:
            x = block(x, self.causal, scaled) if isinstance(block, ResStage) else block(x, self.causal)
        x = pixel_norm(x)
        if self.timestep_conditioning:
            batch = x.shape[0]
            embedded = self.last_time_embedder(scaled, x.dtype).reshape(batch, 2, -1, 1, 1, 1)  # (B, 2, C, 1, 1, 1)
            ada = cast_like(self.last_scale_shift_table, x)[None, :, :, None, None, None] + embedded
            shift, scale = ada.unbind(dim=1)
            x = x * (1 + scale) + shift
        x = F.silu(x, inplace=True)
        x = self.conv_out(x, self.causal)  # (B, 3*p*p, F, H/p, W/p)
        return unpatchify(x, self.patch_size)
