"""The LTX-Video multi-scale flow (official `LTXMultiScalePipeline`, 13B / 0.9.8 configs).

1. first pass at (W, H) * 2/3 floored to multiples of 32; 2. latent upsampler in un-normalized space
(spatial x2, or temporal x2: F' -> 2F' - 1), AdaIN per (item, channel) to the first-pass statistics;
3. second pass at the upsampled size from the upsampled latent noised to its first sigma (truncated
schedule); 4. decode and resize the frames bilinearly to the requested size.
"""

from dataclasses import dataclass
from typing import Tuple

import torch
import torch.nn.functional as F

from ...errors import InputError

DOWNSCALE_FACTOR = 0.6666666  # official yaml `downscale_factor`
SPATIAL_MULTIPLE = 32


def adain(latent: torch.Tensor, reference: torch.Tensor, factor: float = 1.0) -> torch.Tensor:
    """Match each (item, channel) of `latent` to the mean / std of `reference` (official `adain_filter_latent`)."""
    if latent.shape[:2] != reference.shape[:2]:
        raise InputError("AdaIN needs latents with the same batch and channels.")
    r_std, r_mean = torch.std_mean(reference.flatten(2), dim=-1, keepdim=True)  # (B, C, 1)
    i_std, i_mean = torch.std_mean(latent.flatten(2), dim=-1, keepdim=True)
    out = ((latent.flatten(2) - i_mean) / i_std * r_std + r_mean).view_as(latent)
    return torch.lerp(latent, out, factor)


@torch.no_grad()
def upsample_ltxv_latent(latent: torch.Tensor, upsampler, vae, *, adain_factor: float = 1.0) -> torch.Tensor:
    """Normalized latent -> upsampled normalized latent (un-normalize, upsample, normalize, AdaIN)."""
    if upsampler.config.in_channels != latent.shape[1]:
        raise InputError(f"The latent upsampler takes {upsampler.config.in_channels} channels but the latent has "
                         f"{latent.shape[1]}: use the upsampler made for this LTX-Video VAE.")
    param = next(upsampler.parameters())
    up = upsampler(vae.unnormalize_latent(latent).to(param.dtype)).to(latent.dtype)
    up = vae.normalize_latent(up)
    return adain(up, latent, adain_factor) if adain_factor else up


@dataclass(frozen=True)
class PassSizes:
    first: Tuple[int, int]  # (width, height) of the first pass
    second: Tuple[int, int]  # (width, height) of the second pass


def pass_sizes(width: int, height: int, spatial: bool = True, downscale: float = DOWNSCALE_FACTOR) -> PassSizes:
    """The official first / second pass sizes for a requested (width, height)."""
    if not spatial:
        return PassSizes((width, height), (width, height))
    w, h = int(width * downscale), int(height * downscale)
    w, h = w - w % SPATIAL_MULTIPLE, h - h % SPATIAL_MULTIPLE
    if w < SPATIAL_MULTIPLE or h < SPATIAL_MULTIPLE:
        raise InputError(f"{width}x{height} is too small for the multi-scale flow (first pass {w}x{h}): "
                         "use at least 48x48, or generate in one pass.")
    return PassSizes((w, h), (2 * w, 2 * h))


def resize_frames(pixels: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """(B, 3, F, h, w) -> (B, 3, F, height, width) bilinear (no-op at the same size)."""
    b, c, f, h, w = pixels.shape
    if (h, w) == (height, width):
        return pixels
    flat = pixels.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
    flat = F.interpolate(flat, size=(height, width), mode="bilinear", align_corners=False)
    return flat.view(b, f, c, height, width).permute(0, 2, 1, 3, 4)
