"""`VideoVAE`: the causal video autoencoder with latent normalization, validation and tiling."""

from typing import Iterator, Optional, Sequence, Union

import torch
from torch import nn

from ..errors import InputError
from ..ops import cast_like
from .config import VideoVAEConfig
from .decoder import VideoDecoder
from .encoder import VideoEncoder
from .tiling import TilingConfig, decode_chunks, encode_tiled

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


class VideoVAE(nn.Module):
    """LTX-2 / LTX-2.3 video VAE.

    `encode` maps pixels (B, 3, F, H, W) in [-1, 1] with F = 1 + 8k and H, W multiples of 32 to the
    normalized latent (B, C, 1 + (F-1)/8, H/32, W/32); `decode` is the inverse direction (output not
    clamped). Both accept a `TilingConfig` for bounded-memory operation. Inputs are used in the dtype
    and device they come in; pass them in the model's compute dtype.
    `components` selects which halves are built (a decoder-only VAE uses less memory).
    """

    def __init__(
        self,
        config: VideoVAEConfig,
        *,
        operations=torch.nn,
        device=None,
        dtype=None,
        components: Sequence[str] = COMPONENTS,
    ) -> None:
        super().__init__()
        unknown = set(components) - set(COMPONENTS)
        if unknown or not components:
            raise InputError(f"VideoVAE components must be a non-empty subset of {COMPONENTS}, got {components!r}.")
        self.config = config
        self.components = tuple(c for c in COMPONENTS if c in components)
        kw = dict(operations=operations, device=device, dtype=dtype)
        self.encoder = VideoEncoder(config, **kw) if "encoder" in components else None
        self.decoder = VideoDecoder(config, **kw) if "decoder" in components else None
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
        self._check_pixel_size(frames, height, width)
        t, s = self.temporal_compression, self.spatial_compression
        return (self.latent_channels, 1 + (frames - 1) // t, height // s, width // s)

    # ------------------------------------------------------------------ encode

    def _check_pixel_size(self, frames: int, height: int, width: int) -> None:
        t, s = self.temporal_compression, self.spatial_compression
        if frames < 1 or (frames - 1) % t:
            lower = 1 + max(0, (frames - 1) // t) * t
            raise InputError(
                f"The video has {frames} frames; the VAE needs 1 + {t}k frames (e.g. {lower} or {lower + t}). "
                "Trim or pad the clip."
            )
        if height % s or width % s or height < s or width < s:
            raise InputError(
                f"The video is {width}x{height} (WxH); width and height must be positive multiples of {s} "
                f"(e.g. {max(s, width // s * s)}x{max(s, height // s * s)}). Resize or crop it."
            )

    def _encode_piece(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.normalize_latent(self.encoder(pixels))

    def encode(self, pixels: torch.Tensor, *, tiling: Optional[TilingConfig] = None) -> torch.Tensor:
        """(B, 3, F, H, W) in [-1, 1] -> normalized latent (B, C, F', H', W')."""
        if self.encoder is None:
            raise InputError("This VideoVAE was loaded without its encoder; load it with the encoder to encode.")
        if pixels.ndim != 5 or pixels.shape[1] != self.config.in_channels:
            raise InputError(
                f"encode expects pixels shaped (batch, {self.config.in_channels}, frames, height, width), "
                f"got {tuple(pixels.shape)}."
            )
        self._check_pixel_size(*pixels.shape[2:])
        if tiling is None:
            return self._encode_piece(pixels)
        return encode_tiled(self._encode_piece, pixels, self.latent_channels, tiling,
                            self.temporal_compression, self.spatial_compression)

    # ------------------------------------------------------------------ decode

    def _check_latent(self, latent: torch.Tensor) -> None:
        if self.decoder is None:
            raise InputError("This VideoVAE was loaded without its decoder; load it with the decoder to decode.")
        if latent.ndim != 5 or latent.shape[1] != self.latent_channels:
            raise InputError(
                f"decode expects a latent shaped (batch, {self.latent_channels}, frames, height, width), "
                f"got {tuple(latent.shape)}."
            )

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

    def _decode_piece(self, latent: torch.Tensor, timestep: Optional[torch.Tensor],
                      generator: Optional[torch.Generator]) -> torch.Tensor:
        if self.config.timestep_conditioning:
            scale = self.config.decode_noise_scale
            noise = torch.randn(latent.size(), generator=generator, dtype=latent.dtype, device=latent.device)
            latent = noise * scale + (1.0 - scale) * latent
        return self.decoder(self.unnormalize_latent(latent), timestep)

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
        self._check_latent(latent)
        ts = self._timestep(latent, timestep)
        if tiling is None:
            yield self._decode_piece(latent, ts, generator)
            return
        yield from decode_chunks(lambda piece: self._decode_piece(piece, ts, generator), latent, tiling,
                                 self.temporal_compression, self.spatial_compression)

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
        b, _, f, h, w = latent.shape
        t, s = self.temporal_compression, self.spatial_compression
        out = None
        start = 0
        for chunk in chunks:
            if out is None:
                out = chunk.new_empty(b, chunk.shape[1], 1 + (f - 1) * t, h * s, w * s)
            out[:, :, start:start + chunk.shape[2]] = chunk
            start += chunk.shape[2]
            del chunk
        return out
