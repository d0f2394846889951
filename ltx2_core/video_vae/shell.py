"""What every video VAE of the pack shares: the encoder / decoder halves chosen by `components`, the
per-channel latent statistics, and the pixel <-> latent geometry with its one-line size checks."""

from typing import Iterator, Sequence

import torch
from torch import nn

from ..errors import InputError
from ..ops import cast_like

COMPONENTS = ("encoder", "decoder")


class PerChannelStatistics(nn.Module):
    """The dataset statistics of the latent means (buffers `mean-of-means`, `std-of-means`, shape (C,))."""

    def __init__(self, channels: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.register_buffer("mean-of-means", torch.empty(channels, device=device, dtype=dtype))
        self.register_buffer("std-of-means", torch.empty(channels, device=device, dtype=dtype))

    def _stats(self, x: torch.Tensor):
        mean = cast_like(self.get_buffer("mean-of-means"), x).view(1, -1, 1, 1, 1)
        std = cast_like(self.get_buffer("std-of-means"), x).view(1, -1, 1, 1, 1)
        return mean, std

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(x)
        return (x - mean) / std

    def un_normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(x)
        return x * std + mean


class VAEShell(nn.Module):
    """Base of `VideoVAE` and `LTXVVideoVAE`: subclasses set `NAME`, `ENCODER` and `DECODER` (the module classes
    of the two halves, built from the config) and add encode / decode."""

    NAME = "VideoVAE"
    ENCODER: type = nn.Module
    DECODER: type = nn.Module

    def __init__(self, config, *, operations=torch.nn, device=None, dtype=None,
                 components: Sequence[str] = COMPONENTS) -> None:
        super().__init__()
        if not components or set(components) - set(COMPONENTS):
            raise InputError(f"{self.NAME} components must be a non-empty subset of {COMPONENTS}, got {components!r}.")
        self.config = config
        self.components = tuple(c for c in COMPONENTS if c in components)
        kw = dict(operations=operations, device=device, dtype=dtype)
        self.encoder = self.ENCODER(config, **kw) if "encoder" in components else None
        self.decoder = self.DECODER(config, **kw) if "decoder" in components else None
        self.per_channel_statistics = PerChannelStatistics(config.latent_channels, device=device, dtype=dtype)

    @property
    def spatial_compression(self) -> int:
        return self.config.spatial_compression

    @property
    def temporal_compression(self) -> int:
        return self.config.temporal_compression

    @property
    def latent_channels(self) -> int:
        return self.config.latent_channels

    def normalize_latent(self, latent: torch.Tensor) -> torch.Tensor:
        """Un-normalized means -> the normalized latent the diffusion model works with."""
        return self.per_channel_statistics.normalize(latent)

    def unnormalize_latent(self, latent: torch.Tensor) -> torch.Tensor:
        return self.per_channel_statistics.un_normalize(latent)

    def latent_shape(self, frames: int, height: int, width: int) -> tuple:
        """(C, F', H', W') of the latent for a clip of the given pixel size (validated)."""
        self.check_pixel_size(frames, height, width)
        t, s = self.temporal_compression, self.spatial_compression
        return (self.latent_channels, 1 + (frames - 1) // t, height // s, width // s)

    def check_pixel_size(self, frames: int, height: int, width: int) -> None:
        """One line naming the fix when a clip of this size cannot go through the VAE."""
        t, s = self.temporal_compression, self.spatial_compression
        if frames < 1 or (frames - 1) % t:
            lower = 1 + max(0, (frames - 1) // t) * t
            raise InputError(
                f"The video has {frames} frames; the {self.NAME} needs 1 + {t}k frames (e.g. {lower} or "
                f"{lower + t}). Trim or pad the clip."
            )
        if height % s or width % s or height < s or width < s:
            raise InputError(
                f"The video is {width}x{height} (WxH); width and height must be positive multiples of {s} "
                f"(e.g. {max(s, width // s * s)}x{max(s, height // s * s)}). Resize or crop it."
            )

    def _check_pixels(self, pixels: torch.Tensor) -> None:
        if self.encoder is None:
            raise InputError(f"This {self.NAME} was loaded without its encoder; load it with the encoder to encode.")
        if pixels.ndim != 5 or pixels.shape[1] != self.config.in_channels:
            raise InputError(
                f"encode expects pixels shaped (batch, {self.config.in_channels}, frames, height, width), "
                f"got {tuple(pixels.shape)}."
            )
        self.check_pixel_size(*pixels.shape[2:])

    def _check_latent(self, latent: torch.Tensor) -> None:
        if self.decoder is None:
            raise InputError(f"This {self.NAME} was loaded without its decoder; load it with the decoder to decode.")
        if latent.ndim != 5 or latent.shape[1] != self.latent_channels:
            raise InputError(
                f"decode expects a latent shaped (batch, {self.latent_channels}, frames, height, width), "
                f"got {tuple(latent.shape)}."
            )

    def _assemble(self, chunks: Iterator[torch.Tensor], latent: torch.Tensor) -> torch.Tensor:
        """The consecutive pixel chunks of `decode_iter` filled into one preallocated (B, 3, F, H, W) tensor."""
        b, _, f, h, w = latent.shape
        t, s = self.temporal_compression, self.spatial_compression
        out, start = None, 0
        for chunk in chunks:
            if out is None:
                out = chunk.new_empty(b, chunk.shape[1], 1 + (f - 1) * t, h * s, w * s)
            out[:, :, start:start + chunk.shape[2]] = chunk
            start += chunk.shape[2]
            del chunk
        return out
