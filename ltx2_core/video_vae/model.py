"""`VideoVAE`: the causal video autoencoder with latent normalization, validation and tiling."""

from typing import Callable, Iterator, List, Optional, Tuple, Union

import torch

from ..errors import InputError
from .decoder import VideoDecoder
from .encoder import VideoEncoder
from .shell import VAEShell
from .tiling import TilingConfig, decode_chunks, encode_tiled


class VideoVAE(VAEShell):
    """LTX-2 / LTX-2.3 video VAE.

    `encode` maps pixels (B, 3, F, H, W) in [-1, 1] with F = 1 + 8k and H, W multiples of 32 to the
    normalized latent (B, C, 1 + (F-1)/8, H/32, W/32); `decode` is the inverse direction (output not
    clamped). Both accept a `TilingConfig` for bounded-memory operation. Inputs are used in the dtype
    and device they come in; pass them in the model's compute dtype.
    `components` selects which halves are built (a decoder-only VAE uses less memory).
    """

    NAME, ENCODER, DECODER = "VideoVAE", VideoEncoder, VideoDecoder

    # ------------------------------------------------------------------ encode

    def _encode_piece(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.normalize_latent(self.encoder(pixels))

    def encode(self, pixels: torch.Tensor, *, tiling: Optional[TilingConfig] = None) -> torch.Tensor:
        """(B, 3, F, H, W) in [-1, 1] -> normalized latent (B, C, F', H', W')."""
        self._check_pixels(pixels)
        if tiling is None:
            return self._encode_piece(pixels)
        return encode_tiled(self._encode_piece, pixels, self.latent_channels, tiling,
                            self.temporal_compression, self.spatial_compression)

    # ------------------------------------------------------------------ decode

    def _timestep(self, latent: torch.Tensor, timestep: Union[None, float, torch.Tensor]) -> Optional[torch.Tensor]:
        if not self.config.timestep_conditioning:
            return None
        if timestep is None:
            timestep = self.config.decode_timestep
        timestep = torch.as_tensor(timestep, device=latent.device, dtype=latent.dtype)
        if timestep.ndim == 0:
            timestep = timestep.expand(latent.shape[0])
        if timestep.shape != (latent.shape[0],):
            raise InputError(
                f"decode timestep must be a number or one value per batch item, got shape {tuple(timestep.shape)}."
            )
        return timestep

    def _noised(self, latent: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
        if not self.config.timestep_conditioning:
            return latent
        scale = self.config.decode_noise_scale
        noise = torch.randn(latent.size(), generator=generator, dtype=latent.dtype, device=latent.device)
        return noise * scale + (1.0 - scale) * latent

    def decode_steps(self, latent: torch.Tensor, *, timestep: Union[None, float, torch.Tensor] = None,
                     generator: Optional[torch.Generator] = None) -> Tuple[Callable, Callable]:
        """(prepare, run) of one tile of `latent`'s decode: prepare(tile) mixes in the decode noise (draws from
        `generator`, so call it for every tile in decode order), run(prepared) decodes it to pixels. The tiled
        decode is run(prepare(tile)) per tile; `parallel.vae_decode` runs `run` of each tile on one rank."""
        self._check_latent(latent)
        ts = self._timestep(latent, timestep)

        def prepare(piece: torch.Tensor) -> torch.Tensor:
            return self._noised(piece, generator)

        def run(piece: torch.Tensor) -> torch.Tensor:
            return self.decoder(self.unnormalize_latent(piece), ts)

        return prepare, run

    def _decode_many(self, tiles: List[torch.Tensor], timestep: Optional[torch.Tensor],
                     generator: Optional[torch.Generator]) -> Iterator[torch.Tensor]:
        """Equal-shaped tiles (B, C, t, h, w) decoded as one batch in the low-resolution steps; yields each
        tile's pixels. Noise is drawn tile by tile, in order, as `decode_steps`' prepare would."""
        tiles = [self._noised(t, generator) for t in tiles]
        batch, _, frames, height, width = tiles[0].shape
        one_output = (batch * self.config.in_channels * (1 + (frames - 1) * self.temporal_compression)
                      * height * width * self.spatial_compression ** 2)  # elements of one tile's pixels
        ts = None if timestep is None else timestep.repeat(len(tiles))
        latent = self.unnormalize_latent(torch.cat(tiles))  # (len(tiles) * B, C, t, h, w)
        yield from self.decoder.forward_parts(latent, ts, batch, one_output)

    def decode_iter(
        self,
        latent: torch.Tensor,
        *,
        tiling: Optional[TilingConfig] = None,
        timestep: Union[None, float, torch.Tensor] = None,
        generator: Optional[torch.Generator] = None,
    ) -> Iterator[torch.Tensor]:
        """Yield consecutive pixel chunks (B, 3, n, H, W) of the decoded clip, one temporal chunk at a time.

        Only the chunk being blended is held, so a consumer that writes frames out as they come keeps
        memory flat whatever the clip length.
        """
        prepare, run = self.decode_steps(latent, timestep=timestep, generator=generator)
        if tiling is None:
            yield run(prepare(latent))
            return
        ts = self._timestep(latent, timestep)
        yield from decode_chunks(lambda piece: run(prepare(piece)), latent, tiling,
                                 self.temporal_compression, self.spatial_compression,
                                 decode_many=lambda tiles: self._decode_many(tiles, ts, generator))

    def decode(
        self,
        latent: torch.Tensor,
        *,
        tiling: Optional[TilingConfig] = None,
        timestep: Union[None, float, torch.Tensor] = None,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """Normalized latent (B, C, F', H', W') -> pixels (B, 3, 8(F'-1)+1, 32H', 32W'), roughly in [-1, 1].

        `timestep` / `generator` matter only for timestep-conditioned decoders (default timestep 0.05,
        noise scale 0.025). With `tiling`, the output is filled chunk by chunk into one preallocated tensor.
        """
        chunks = self.decode_iter(latent, tiling=tiling, timestep=timestep, generator=generator)
        if tiling is None:
            return next(chunks)
        return self._assemble(chunks, latent)
