"""Latent shapes, token counts, argument validation and initial noise.

Video latents are (B, C, F, H, W) with F = (frames - 1) / 8 + 1, H = height / 32, W = width / 32.
Audio latents are (B, 8, T_a, 16) with T_a = round(frames / fps * 25) (16 kHz mel, hop 160, 4x
latent downsampling). Both are patchified with patch size 1: video tokens in f, h, w order,
audio tokens one per latent frame with channels ordered (c, mel_bin).
"""

import math
import os
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch

from ..audio import audio_latent_frames
from ..errors import InputError

VIDEO_TIME_SCALE = 8
VIDEO_SPATIAL_SCALE = 32
VIDEO_LATENT_CHANNELS = 128
AUDIO_LATENT_CHANNELS = 8
AUDIO_MEL_BINS = 16
AUDIO_LATENTS_PER_SECOND = 16000 / 160 / 4  # 25.0


@dataclass(frozen=True)
class LatentShape:
    """Video and audio latent geometry of one generation."""

    batch: int
    frames: int  # latent frames
    height: int  # latent rows
    width: int  # latent columns
    audio_frames: int
    video_channels: int = VIDEO_LATENT_CHANNELS
    audio_channels: int = AUDIO_LATENT_CHANNELS
    audio_mel_bins: int = AUDIO_MEL_BINS

    @property
    def video(self) -> Tuple[int, int, int, int, int]:
        return (self.batch, self.video_channels, self.frames, self.height, self.width)

    @property
    def audio(self) -> Tuple[int, int, int, int]:
        return (self.batch, self.audio_channels, self.audio_frames, self.audio_mel_bins)

    @property
    def video_tokens(self) -> int:
        return self.frames * self.height * self.width

    @property
    def audio_tokens(self) -> int:
        return self.audio_frames


def validate_resolution(width: int, height: int, multiple: int = VIDEO_SPATIAL_SCALE) -> None:
    """Raise InputError unless width and height are positive multiples of `multiple`."""
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or value < multiple or value % multiple:
            lower = multiple
            if isinstance(value, (int, float)) and value > multiple:
                lower = (int(value) // multiple) * multiple
            raise InputError(
                f"{name} {value} is not a multiple of {multiple}: use a multiple of {multiple} "
                f"such as {lower} or {lower + multiple}."
            )


def validate_frames(frames: int) -> None:
    """Raise InputError unless frames = 8k + 1 (k >= 0)."""
    if not isinstance(frames, int) or frames < 1 or (frames - 1) % VIDEO_TIME_SCALE:
        below = 1
        if isinstance(frames, (int, float)) and frames > 1:
            below = ((int(frames) - 1) // VIDEO_TIME_SCALE) * VIDEO_TIME_SCALE + 1
        raise InputError(
            f"frames {frames} is not of the form 8k+1: use {below} or {below + VIDEO_TIME_SCALE}."
        )


def validate_fps(fps: float) -> None:
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise InputError(f"fps {fps} is invalid: use a positive frame rate such as 24 or 25.")


def validate_file(path: Optional[str], what: str) -> None:
    """Raise InputError when `path` is not an existing file."""
    if path is None or not os.path.isfile(path):
        raise InputError(f"{what} not found: {path!r}. Check the path.")


def validate_path(path: Optional[str], what: str) -> None:
    """Raise InputError when `path` is neither a file nor a folder (sharded checkpoints are folders)."""
    if path is None or not os.path.exists(path):
        raise InputError(f"{what} not found: {path!r}. Check the path.")


def latent_shape(
    width: int,
    height: int,
    frames: int,
    fps: float,
    batch: int = 1,
    video_channels: int = VIDEO_LATENT_CHANNELS,
    audio_channels: int = AUDIO_LATENT_CHANNELS,
    audio_mel_bins: int = AUDIO_MEL_BINS,
    multiple: int = VIDEO_SPATIAL_SCALE,
) -> LatentShape:
    """Validated latent geometry for a width x height x frames clip at `fps`."""
    validate_resolution(width, height, multiple)
    validate_frames(frames)
    validate_fps(fps)
    if batch < 1:
        raise InputError(f"batch {batch} is invalid: use 1 or more.")
    return LatentShape(
        batch=batch,
        frames=(frames - 1) // VIDEO_TIME_SCALE + 1,
        height=height // VIDEO_SPATIAL_SCALE,
        width=width // VIDEO_SPATIAL_SCALE,
        audio_frames=audio_latent_frames(frames, fps),
        video_channels=video_channels,
        audio_channels=audio_channels,
        audio_mel_bins=audio_mel_bins,
    )


def draw_noise(
    shapes: Sequence[Tuple[int, ...]],
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
    device: Optional[torch.device] = None,
) -> Tuple[torch.Tensor, ...]:
    """Standard normal noise for each shape, drawn in order from one generator (video before audio)."""
    return tuple(torch.randn(*shape, generator=generator, dtype=dtype, device=device) for shape in shapes)


def make_generator(seed: int, device: Optional[torch.device] = None) -> torch.Generator:
    """A torch.Generator on `device` seeded with `seed`."""
    generator = torch.Generator(device=device if device is not None else "cpu")
    generator.manual_seed(int(seed))
    return generator
