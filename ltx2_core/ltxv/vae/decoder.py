"""LTX-Video VAE decoder, with the timestep-conditioned denoising decoder of 0.9.1+."""

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...ops import cast_like
from ...video_vae.layers import DepthToSpaceUp, TimestepEmbedder, pixel_norm, unpatchify
from .config import LTXVVAEConfig
from .layers import CausalConv, LTXVResnetBlock, LTXVResStage


class LTXVDecoder(nn.Module):
    """conv_in -> up_blocks (block list reversed) -> PixelNorm [-> timestep AdaLN] -> SiLU -> conv_out ->
    unpatchify: un-normalized latent (B, C, F', H', W') -> pixels (B, 3, 8(F'-1)+1, 32H', 32W').

    Conditioned: every `res_x` stage and the output norm see `timestep * timestep_scale_multiplier`
    (a learned scalar); `res_x_y` and depth-to-space blocks do not. Injected noise (0.9.1) is drawn
    from `generator` (the global RNG when None) in block order, conv1 before conv2.
    """

    def __init__(self, config: LTXVVAEConfig, *, operations, device=None, dtype=None) -> None:
        super().__init__()
        self.patch_size = config.patch_size
        self.causal = config.causal_decoder
        self.timestep_conditioning = config.timestep_conditioning
        pad = config.spatial_padding_mode
        kw = dict(operations=operations, device=device, dtype=dtype)
        width = config.decoder_width
        self.conv_in = CausalConv(config.latent_channels, width, padding_mode=pad, **kw)
        self.up_blocks = nn.ModuleList()
        for block in reversed(config.decoder_blocks):
            out = width // block.multiplier
            if block.name == "res_x":
                layer = LTXVResStage(width, block.num_layers, inject_noise=block.inject_noise,
                                     timestep_conditioning=config.timestep_conditioning, padding_mode=pad, **kw)
            elif block.name == "res_x_y":
                layer = LTXVResnetBlock(width, out, inject_noise=block.inject_noise, timestep_conditioning=False,
                                        padding_mode=pad, **kw)
            else:
                layer = DepthToSpaceUp(width, block.stride, block.multiplier, block.residual, padding_mode=pad, **kw)
            self.up_blocks.append(layer)
            width = out
        self.conv_out = CausalConv(width, config.in_channels * config.patch_size**2, padding_mode=pad, **kw)
        if config.timestep_conditioning:
            self.timestep_scale_multiplier = nn.Parameter(torch.empty((), device=device, dtype=dtype))
            self.last_time_embedder = TimestepEmbedder(2 * width, **kw)
            self.last_scale_shift_table = nn.Parameter(torch.empty(2, width, device=device, dtype=dtype))

    def forward(self, latent: torch.Tensor, timestep: Optional[torch.Tensor] = None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """`latent` un-normalized; `timestep` (B,) raw decode timestep, required when conditioned."""
        x = self.conv_in(latent, self.causal)
        scaled = None
        if self.timestep_conditioning:
            scaled = timestep * cast_like(self.timestep_scale_multiplier, x)  # (B,)
        for block in self.up_blocks:
            if isinstance(block, LTXVResStage):
                x = block(x, self.causal, scaled, generator)
            elif isinstance(block, LTXVResnetBlock):
                x = block(x, self.causal, None, generator)
            else:
                x = block(x, self.causal)
        x = pixel_norm(x)
        if self.timestep_conditioning:
            embedded = self.last_time_embedder(scaled, x.dtype).reshape(x.shape[0], 2, -1, 1, 1, 1)
            table = cast_like(self.last_scale_shift_table, x)[None, :, :, None, None, None]  # (1, 2, C, 1, 1, 1)
            shift, scale = (table + embedded).unbind(dim=1)
            x = x * (1 + scale) + shift
        x = self.conv_out(F.silu(x), self.causal)  # (B, 3*p*p, F, H/p, W/p)
        return unpatchify(x, self.patch_size)
