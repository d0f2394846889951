"""Configuration of the LTX-2 latent upsamplers (spatial x2 / x1.5, temporal x2)."""

from dataclasses import dataclass, replace
from typing import Any, Mapping, Tuple

from ..errors import CheckpointError

# Supported rational spatial scales -> (upsample factor, blur-downsample stride).
RATIONAL_SCALES = {0.75: (3, 4), 1.5: (3, 2), 2.0: (2, 1), 4.0: (4, 1)}


@dataclass(frozen=True)
class LatentUpsamplerConfig:
    """Fields as in the upscaler files' flat `config` metadata.

    spatial only: x2 by conv + pixel shuffle (`rational_resampler=False`), or by a rational resampler
    (shuffle by num, binomial blur with stride den) for `spatial_scale` in 0.75 / 1.5 / 2 / 4.
    temporal only: x2 frames minus the first (F' -> 2F' - 1). Both: 3-D shuffle by 2.
    """

    in_channels: int = 128
    mid_channels: int = 512
    num_blocks_per_stage: int = 4
    dims: int = 3
    spatial_upsample: bool = True
    temporal_upsample: bool = False
    spatial_scale: float = 2.0
    rational_resampler: bool = False

    def __post_init__(self) -> None:
        if self.dims not in (2, 3):
            raise CheckpointError(f"Latent upsampler config: dims must be 2 or 3, got {self.dims}.")
        if not (self.spatial_upsample or self.temporal_upsample):
            raise CheckpointError("Latent upsampler config: neither spatial_upsample nor temporal_upsample is set.")
        if self.temporal_upsample and self.dims != 3:
            raise CheckpointError("Latent upsampler config: temporal upsampling needs dims=3.")
        if self.mid_channels % 32 or self.mid_channels < 32:
            raise CheckpointError(
                f"Latent upsampler config: mid_channels must be a multiple of 32, got {self.mid_channels}."
            )
        if self.uses_rational and float(self.spatial_scale) not in RATIONAL_SCALES:
            raise CheckpointError(
                f"Latent upsampler config: spatial_scale {self.spatial_scale} is not supported "
                f"(supported: {', '.join(str(s) for s in RATIONAL_SCALES)})."
            )
        plain_spatial = self.spatial_upsample and not self.temporal_upsample and not self.rational_resampler
        if plain_spatial and self.spatial_scale != 2.0:
            raise CheckpointError("Latent upsampler config: a non-rational spatial upsampler only scales by 2.")

    @property
    def uses_rational(self) -> bool:
        return self.spatial_upsample and not self.temporal_upsample and self.rational_resampler

    @property
    def rational(self) -> Tuple[int, int]:
        return RATIONAL_SCALES[float(self.spatial_scale)]

    @classmethod
    def from_metadata(cls, config: Mapping[str, Any]) -> "LatentUpsamplerConfig":
        """From the upscaler file's flat `config` JSON (official defaults for missing fields)."""
        if not isinstance(config, Mapping):
            raise CheckpointError("Latent upsampler config: metadata 'config' is not a JSON object.")
        name = config.get("_class_name", "LatentUpsampler")
        if name != "LatentUpsampler":
            raise CheckpointError(f"This file holds a {name!r}, not a latent upsampler.")
        return cls(
            in_channels=int(config.get("in_channels", 128)),
            mid_channels=int(config.get("mid_channels", 512)),
            num_blocks_per_stage=int(config.get("num_blocks_per_stage", 4)),
            dims=int(config.get("dims", 3)),
            spatial_upsample=bool(config.get("spatial_upsample", True)),
            temporal_upsample=bool(config.get("temporal_upsample", False)),
            spatial_scale=float(config.get("spatial_scale", 2.0)),
            rational_resampler=bool(config.get("rational_resampler", False)),
        )

    def with_(self, **changes: Any) -> "LatentUpsamplerConfig":
        return replace(self, **changes)


# The released upscalers (spec: autoencoders-text.md section 5).
SPATIAL_X2 = LatentUpsamplerConfig(mid_channels=1024, spatial_upsample=True, spatial_scale=2.0)
SPATIAL_X1_5 = LatentUpsamplerConfig(mid_channels=1024, spatial_scale=1.5, rational_resampler=True)
TEMPORAL_X2 = LatentUpsamplerConfig(mid_channels=512, spatial_upsample=False, temporal_upsample=True)
