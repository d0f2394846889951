"""Latent -> pixels for LTX-Video: the denoising-decoder decode of 0.9.1+ VAEs and latent tone mapping.

Official order (`LTXVideoPipeline.__call__` after the loop): for a timestep-conditioned VAE mix the decode
noise into the *normalized* latent, z <- z (1 - noise_scale) + eps noise_scale, tone-map, then decode at
the decode timestep. Official yaml defaults for 0.9.1+: decode timestep 0.05, noise scale 0.025.
"""

from typing import Optional

import torch

from ...errors import InputError
from ...validation import check_range

DECODE_TIMESTEP = 0.05
DECODE_NOISE_SCALE = 0.025


def tone_map(latent: torch.Tensor, compression: float) -> torch.Tensor:
    """Sigmoid compression of large latent values (official `tone_map_latents`; 0 = identity, 1 = strongest)."""
    check_range("tone_map compression", compression, 0.0, 1.0)
    if compression == 0.0:
        return latent
    k = compression * 0.75
    return latent * (1.0 - 0.8 * k * torch.sigmoid(4.0 * k * (latent.abs() - 1.0)))


def has_denoising_decoder(vae) -> bool:
    return bool(vae.config.timestep_conditioning)


@torch.no_grad()
def decode_ltxv(vae, latent: torch.Tensor, *, timestep: Optional[float] = None, noise_scale: Optional[float] = None,
                generator: Optional[torch.Generator] = None, tone_map_compression: float = 0.0,
                tiling=None) -> torch.Tensor:
    """Normalized latent (B, C, F', H', W') -> pixels (B, 3, 8(F'-1)+1, 32H', 32W') clamped to [-1, 1].

    timestep / noise_scale: the denoising decoder's inputs (0.9.1+ VAEs; defaults 0.05 / 0.025, noise scale
    defaults to the timestep when only that is given). A 0.9.0 VAE asked for them raises one line."""
    if not has_denoising_decoder(vae):
        if timestep is not None or noise_scale is not None:
            raise InputError(f"This LTX-Video {vae.version} VAE has no denoising decoder: drop the decode timestep "
                             "and noise scale, or use a 0.9.1+ VAE.")
        z = tone_map(latent, tone_map_compression)
        return vae.decode(z, tiling=tiling).clamp(-1.0, 1.0)
    if timestep is None:
        timestep = DECODE_TIMESTEP
        noise_scale = DECODE_NOISE_SCALE if noise_scale is None else noise_scale
    elif noise_scale is None:
        noise_scale = timestep
    check_range("decode timestep", timestep, 0.0, 1.0)
    check_range("decode noise scale", noise_scale, 0.0, 1.0)
    eps = torch.randn(latent.shape, generator=generator, device=latent.device, dtype=latent.dtype)
    z = tone_map(latent * (1 - noise_scale) + eps * noise_scale, tone_map_compression)
    return vae.decode(z, timestep=timestep, noise_scale=0.0, generator=generator, tiling=tiling).clamp(-1.0, 1.0)
