"""LTX-Video latent upsamplers (spatial x2 0.9.7 / 0.9.8, temporal x2 0.9.7).

The official `LatentUpsampler` of LTX-Video is the architecture the LTX-2 upsampler descends from:
same keys, same math for the plain spatial x2 (per-frame Conv2d + pixel shuffle) and temporal x2
(Conv3d + 1-D shuffle, first frame dropped) variants. So `ltx2_core.upsampler` runs them unchanged;
this loader reads their files (flat `config` metadata, `_class_name` `LatentUpsampler`).
"""

from ..upsampler import LatentUpsampler, LatentUpsamplerConfig, load_latent_upsampler

SPATIAL_X2 = LatentUpsamplerConfig(mid_channels=512, spatial_upsample=True, temporal_upsample=False)
TEMPORAL_X2 = LatentUpsamplerConfig(mid_channels=512, spatial_upsample=False, temporal_upsample=True)


def load_ltxv_upsampler(source, **kwargs) -> LatentUpsampler:
    """Load an LTX-Video latent upsampler (path or state dict); keyword arguments as `load_latent_upsampler`."""
    return load_latent_upsampler(source, **kwargs)


__all__ = ["SPATIAL_X2", "TEMPORAL_X2", "LatentUpsampler", "load_ltxv_upsampler"]
