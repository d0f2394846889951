"""`LTXVVideoVAE`: the LTX-Video causal VAE with its per-channel latent statistics, the denoising
decode of 0.9.1+, and tiled / frame-chunked decode and encode (the LTX-2 tiling, `video_vae.tiling`)."""

from typing import Iterator, Optional, Union

import torch

from ...errors import InputError
from ...video_vae.shell import VAEShell
from ...video_vae.tiling import TilingConfig, decode_chunks, encode_tiled
from .config import DECODE_NOISE_SCALE, DECODE_TIMESTEP
from .decoder import LTXVDecoder
from .encoder import LTXVEncoder

Number = Union[None, float, torch.Tensor]


class LTXVVideoVAE(VAEShell):
    """Pixels (B, 3, 1+8k, 32h, 32w) in [-1, 1] <-> normalized latent (B, 128, 1+k, h, w).

    Normalization: z_n = (z - mean-of-means) / std-of-means per channel (official `vae_per_channel_normalize`).
    """

    NAME, ENCODER, DECODER = "LTX-Video VAE", LTXVEncoder, LTXVDecoder

    @property
    def version(self) -> str:
        return self.config.version

    # ------------------------------------------------------------------ encode

    def encode(self, pixels: torch.Tensor, *, tiling: Optional[TilingConfig] = None, sample: bool = False,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """(B, 3, F, H, W) in [-1, 1] -> normalized latent (B, C, F', H', W'): the encoder's means, or with
        `sample` a draw mean + exp(logvar / 2) * eps (the official `vae_encode`; log-var clamped to [-30, 20])."""
        self._check_pixels(pixels)
        c = self.latent_channels

        def piece(x: torch.Tensor) -> torch.Tensor:
            return self.encoder(x, with_log_var=sample)

        if tiling is None:
            moments = piece(pixels)
        else:
            moments = encode_tiled(piece, pixels, c + 1 if sample else c, tiling,
                                   self.temporal_compression, self.spatial_compression)
        latent = moments[:, :c]
        if sample:
            std = torch.exp(0.5 * moments[:, c:].clamp(-30.0, 20.0))  # (B, 1, F', H', W')
            eps = torch.randn(latent.shape, generator=generator, device=latent.device, dtype=latent.dtype)
            latent = latent + std * eps
        return self.normalize_latent(latent)

    # ------------------------------------------------------------------ decode

    def _decode_inputs(self, latent: torch.Tensor, timestep: Number, noise_scale: Number,
                       generator: Optional[torch.Generator]):
        """Validate; return (latent with the decode noise mixed in, per-sample timestep or None)."""
        self._check_latent(latent)
        if not self.config.timestep_conditioning:
            if timestep is not None or noise_scale is not None:
                raise InputError(
                    f"This LTX-Video {self.version} VAE has no denoising (timestep-conditioned) decoder; "
                    "decode without timestep / noise_scale, or use a 0.9.1+ VAE."
                )
            return latent, None
        if timestep is None:
            timestep = DECODE_TIMESTEP
            noise_scale = DECODE_NOISE_SCALE if noise_scale is None else noise_scale
        elif noise_scale is None:
            noise_scale = timestep  # the official pipeline's rule
        batch = latent.shape[0]
        ts = torch.as_tensor(timestep, device=latent.device, dtype=latent.dtype)
        ns = torch.as_tensor(noise_scale, device=latent.device, dtype=latent.dtype)
        ts, ns = ts.expand(batch) if ts.ndim == 0 else ts, ns.expand(batch) if ns.ndim == 0 else ns
        if ts.shape != (batch,) or ns.shape != (batch,):
            raise InputError("decode timestep and noise_scale must be numbers or one value per batch item.")
        noise = torch.randn(latent.shape, generator=generator, device=latent.device, dtype=latent.dtype)
        ns = ns.view(batch, 1, 1, 1, 1)
        return latent * (1 - ns) + noise * ns, ts

    def decode_iter(self, latent: torch.Tensor, *, timestep: Number = None, noise_scale: Number = None,
                    generator: Optional[torch.Generator] = None,
                    tiling: Optional[TilingConfig] = None) -> Iterator[torch.Tensor]:
        """Yield consecutive pixel chunks (B, 3, n, H, W); with `tiling`, memory stays that of one chunk."""
        latent, ts = self._decode_inputs(latent, timestep, noise_scale, generator)

        def piece(z: torch.Tensor) -> torch.Tensor:
            return self.decoder(self.unnormalize_latent(z), ts, generator)

        if tiling is None:
            yield piece(latent)
            return
        yield from decode_chunks(piece, latent, tiling, self.temporal_compression, self.spatial_compression)

    def decode(self, latent: torch.Tensor, *, timestep: Number = None, noise_scale: Number = None,
               generator: Optional[torch.Generator] = None, tiling: Optional[TilingConfig] = None) -> torch.Tensor:
        """Normalized latent (B, C, F', H', W') -> pixels (B, 3, 8(F'-1)+1, 32H', 32W'), not clamped.

        Denoising decode (0.9.1+ only): z <- z(1 - noise_scale) + eps * noise_scale in normalized space,
        then decode at `timestep` (defaults 0.05 / 0.025; noise_scale defaults to the timestep when only
        the timestep is given, as in the official pipeline). `generator` draws eps and the injected noise.
        """
        chunks = self.decode_iter(latent, timestep=timestep, noise_scale=noise_scale, generator=generator,
                                  tiling=tiling)
        if tiling is None:
            return next(chunks)
        return self._assemble(chunks, latent)
