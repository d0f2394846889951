"""Video VAE decoder: un-normalized latent (B, C, F', H', W') -> pixels (B, 3, 8(F'-1)+1, 32H', 32W')."""

from typing import Callable, Iterator, List, Optional

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

    def _steps(self) -> List[Callable]:
        """The decoder as a list of steps f(x, scaled_timestep) -> x, each batch-item independent."""
        steps = [lambda x, scaled: self.conv_in(x, self.causal)]
        for block in self.up_blocks:
            if isinstance(block, ResStage):
                steps.append(lambda x, scaled, b=block: b(x, self.causal, scaled))
            else:
                steps.append(lambda x, scaled, b=block: b(x, self.causal))
        steps.append(self._head)
        return steps

    def _scaled(self, latent: torch.Tensor, timestep: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        if not self.timestep_conditioning:
            return None
        return timestep * cast_like(self.timestep_scale_multiplier, latent)  # (B,)

    def _head(self, x: torch.Tensor, scaled: Optional[torch.Tensor]) -> torch.Tensor:
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

    def forward(self, latent: torch.Tensor, timestep: Optional[torch.Tensor] = None) -> torch.Tensor:
        """`latent` un-normalized; `timestep` (B,) is required when the decoder is timestep-conditioned."""
        x, scaled = latent, self._scaled(latent, timestep)
        for step in self._steps():
            x = step(x, scaled)
        return x

    def forward_parts(self, latent: torch.Tensor, timestep: Optional[torch.Tensor], part: int,
                      max_numel: int) -> Iterator[torch.Tensor]:
        """Decode a batch made of equal parts of `part` items each; yields each part's output in order.

        A step runs on as many parts at once as keep its input within `max_numel` elements (at least one
        part): the first, low-resolution steps run on the whole batch and the later ones part by part, so
        the big early weights are read once per batch while memory stays near that of one part.
        """
        yield from self._run_parts(latent, self._scaled(latent, timestep), self._steps(), 0, part, max_numel)

    def _run_parts(self, x, scaled, steps, start, part, max_numel) -> Iterator[torch.Tensor]:
        parts = x.shape[0] // part
        for i in range(start, len(steps)):
            if parts > 1 and x.numel() > max_numel:
                fit = part * max(1, parts * max_numel // x.numel())  # items per group
                groups = zip(x.split(fit), scaled.split(fit) if scaled is not None else [None] * parts)
                del x
                for xs, ss in groups:
                    yield from self._run_parts(xs, ss, steps, i, part, max_numel)
                return
            x = steps[i](x, scaled)
        yield from x.split(part)
