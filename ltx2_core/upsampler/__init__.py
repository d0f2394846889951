"""LTX-2 / LTX-2.3 latent upsamplers: spatial x2 and x1.5, temporal x2."""

from .config import SPATIAL_X1_5, SPATIAL_X2, TEMPORAL_X2, LatentUpsamplerConfig
from .loader import load_latent_upsampler
from .model import LatentUpsampler, upsample_latent

__all__ = [
    "LatentUpsampler",
    "LatentUpsamplerConfig",
    "SPATIAL_X1_5",
    "SPATIAL_X2",
    "TEMPORAL_X2",
    "load_latent_upsampler",
    "upsample_latent",
]
