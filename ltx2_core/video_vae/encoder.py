"""Video VAE encoder: pixels (B, 3, F, H, W) in [-1, 1] -> un-normalized latent means (B, C, F', H', W')."""

import torch
import torch.nn.functional as F
from torch import nn

from .config import VideoVAEConfig
from .layers import CausalConv3d, ResStage, SpaceToDepthDown, patchify, pixel_norm


class VideoEncoder(nn.Module):
    """patchify -> conv_in -> down_blocks -> PixelNorm -> SiLU -> conv_out -> the first C channels (means).

    The log-variance channel(s) are computed by conv_out (they are in the weights) but not returned:
    inference uses the mean. Normalization with the per-channel statistics is done by `VideoVAE`.
    """

    def __init__(self, config: VideoVAEConfig, *, operations, device=None, dtype=None) -> None:
        super().__init__()
        self.patch_size = config.patch_size
        self.latent_channels = config.latent_channels
        pad = config.encoder_padding
        kw = dict(operations=operations, device=device, dtype=dtype)
        channels = config.latent_channels
        self.conv_in = CausalConv3d(config.in_channels * config.patch_size**2, channels, padding_mode=pad, **kw)
        self.down_blocks = nn.ModuleList()
        for block in config.encoder_blocks:
            if block.name == "res_x":
                self.down_blocks.append(
                    ResStage(channels, block.num_layers, padding_mode=pad, timestep_conditioning=False, **kw)
                )
            else:
                out = channels * block.multiplier
                self.down_blocks.append(SpaceToDepthDown(channels, out, block.stride, padding_mode=pad, **kw))
                channels = out
        latent = config.latent_channels
        out_channels = 2 * latent if config.latent_log_var == "per_channel" else latent + 1  # means + log-variance
        self.conv_out = CausalConv3d(channels, out_channels, padding_mode=pad, **kw)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(patchify(pixels, self.patch_size), True)  # (B, C, F, H/p, W/p)
        for block in self.down_blocks:
            x = block(x, True) if isinstance(block, ResStage) else block(x)
        x = F.silu(pixel_norm(x), inplace=True)
        x = self.conv_out(x, True)  # (B, C+1 or 2C, F', H', W')
        return x[:, : self.latent_channels]
