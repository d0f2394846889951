"""LTX-Video VAE encoder: pixels (B, 3, F, H, W) in [-1, 1] -> un-normalized latent means."""

import torch
import torch.nn.functional as F
from torch import nn

from ...video_vae.layers import SpaceToDepthDown, patchify, pixel_norm
from .config import LTXVVAEConfig
from .layers import CausalConv, LTXVResnetBlock, LTXVResStage


class LTXVEncoder(nn.Module):
    """patchify -> conv_in -> down_blocks -> PixelNorm -> SiLU -> conv_out (C means + 1 shared log-var)
    -> the C means (the official `latent_dist.mode()`)."""

    def __init__(self, config: LTXVVAEConfig, *, operations, device=None, dtype=None) -> None:
        super().__init__()
        self.patch_size = config.patch_size
        self.latent_channels = config.latent_channels
        pad = config.spatial_padding_mode
        kw = dict(operations=operations, device=device, dtype=dtype)
        width = config.encoder_base_channels
        self.conv_in = CausalConv(config.in_channels * config.patch_size**2, width, padding_mode=pad, **kw)
        self.down_blocks = nn.ModuleList()
        for block in config.encoder_blocks:
            out = width * block.multiplier
            if block.name == "res_x":
                layer = LTXVResStage(width, block.num_layers, inject_noise=False, timestep_conditioning=False,
                                     padding_mode=pad, **kw)
            elif block.name == "res_x_y":
                layer = LTXVResnetBlock(width, out, inject_noise=False, timestep_conditioning=False,
                                        padding_mode=pad, **kw)
            elif block.name.endswith("_res"):
                layer = SpaceToDepthDown(width, out, block.stride, padding_mode=pad, **kw)
            else:
                layer = CausalConv(width, out, stride=block.stride, padding_mode=pad, **kw)
            self.down_blocks.append(layer)
            width = out
        self.conv_out = CausalConv(width, config.latent_channels + 1, padding_mode=pad, **kw)

    def forward(self, pixels: torch.Tensor, with_log_var: bool = False) -> torch.Tensor:
        """Means (B, C, F', H', W'); with `with_log_var`, (B, C+1, ...): means then the shared log-variance."""
        x = self.conv_in(patchify(pixels, self.patch_size), True)  # (B, C0, F, H/p, W/p)
        for block in self.down_blocks:
            x = block(x) if isinstance(block, SpaceToDepthDown) else block(x, True)
        x = self.conv_out(F.silu(pixel_norm(x)), True)  # (B, C+1, F', H', W')
        return x if with_log_var else x[:, : self.latent_channels]
