"""Token positions and (un)patchify for video and audio latents, computed as the official latent tools do.

Video positions (B, 3, T, 2): [start, end) bounds per token on (time in seconds, y in pixels,
x in pixels). Latent bounds are scaled by the VAE factors (8, 32, 32); the causal fix maps the first
latent frame to pixel frame [0, 1) and frame f >= 1 to [8f - 7, 8f + 1); time is divided by fps.
Audio positions (B, 1, T, 2): seconds, token i covers [max(0, 4i - 3), 4i + 1) mel hops of 10 ms.
Tokens are ordered frame-major, then row, then column (video) and by time (audio).
"""

from typing import Optional, Sequence

import torch

from ..errors import InputError

VIDEO_SCALE_FACTORS = (8, 32, 32)


def _pixel_bounds(frames: int, height: int, width: int, scale_factors: Sequence[int], causal_fix: bool,
                  frame_offset: int, device) -> torch.Tensor:
    """Integer pixel bounds (3, F*H*W, 2) of a latent grid."""
    grid = torch.meshgrid(*(torch.arange(n, device=device) for n in (frames, height, width)), indexing="ij")
    starts = torch.stack(grid).reshape(3, -1)  # (3, T) latent indices
    bounds = torch.stack([starts, starts + 1], dim=-1)  # (3, T, 2)
    pixels = bounds * torch.tensor(list(scale_factors), device=device).view(3, 1, 1)
    if causal_fix:
        pixels[0] = (pixels[0] + 1 - scale_factors[0]).clamp(min=0)
    pixels[0] += frame_offset
    return pixels


def _to_positions(pixels: torch.Tensor, batch: int, fps: float, dtype: torch.dtype) -> torch.Tensor:
    positions = pixels.float()
    positions[0] = positions[0] / fps
    return positions.unsqueeze(0).expand(batch, -1, -1, -1).to(dtype).contiguous()


def _check_sizes(batch: int, frames: int, height: int, width: int, fps: float) -> None:
    if min(batch, frames, height, width) <= 0 or fps <= 0:
        raise InputError(f"Video positions need positive sizes and fps, got B={batch} F={frames} H={height} "
                         f"W={width} fps={fps}.")


def video_positions(
    batch: int, frames: int, height: int, width: int, fps: float, *, frame_offset: int = 0, causal_fix: bool = True,
    scale_factors: Sequence[int] = VIDEO_SCALE_FACTORS, device=None, dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Bounds (B, 3, F*H*W, 2) of a (F, H, W) latent grid (official VideoLatentTools)."""
    _check_sizes(batch, frames, height, width, fps)
    pixels = _pixel_bounds(frames, height, width, scale_factors, causal_fix, frame_offset, device)
    return _to_positions(pixels, batch, fps, dtype)


def keyframe_positions(
    batch: int, frames: int, height: int, width: int, fps: float, frame_idx: int, *, narrow_single_frame: bool = True,
    scale_factors: Sequence[int] = VIDEO_SCALE_FACTORS, device=None, dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Bounds (B, 3, F*H*W, 2) of keyframe tokens appended for pixel frame `frame_idx`
    (official VideoConditionByKeyframeIndex): the keyframe latent's own grid, causal fix only at
    frame 0, shifted by `frame_idx` pixel frames. `narrow_single_frame` (current official code, and
    ComfyUI) gives a one-latent-frame keyframe the bounds [frame_idx, frame_idx + 1); False
    reproduces ltx-core 1.0.0 ([frame_idx, frame_idx + 8) for frame_idx > 0).
    """
    _check_sizes(batch, frames, height, width, fps)
    pixels = _pixel_bounds(frames, height, width, scale_factors, frame_idx == 0, frame_idx, device)
    if narrow_single_frame and frames == 1:
        pixels[0, :, 1] = pixels[0, :, 0] + 1
    return _to_positions(pixels, batch, fps, dtype)


def reference_positions(
    batch: int, frames: int, height: int, width: int, fps: float, *, downscale_factor: float = 1,
    temporal_scale: int = 1, scale_factors: Sequence[int] = VIDEO_SCALE_FACTORS, device=None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Bounds (B, 3, F*H*W, 2) of appended IC-LoRA reference-video tokens (official
    VideoConditionByReferenceLatent): the reference's own causal grid, time on its own spacing
    (fps / temporal_scale) shifted back by (temporal_scale - 1) target frames and clamped at 0,
    space multiplied by `downscale_factor` (target / reference resolution, from the LoRA metadata).
    """
    _check_sizes(batch, frames, height, width, fps)
    positions = _pixel_bounds(frames, height, width, scale_factors, True, 0, device).float()
    positions[0] = positions[0] / (fps / temporal_scale)
    if temporal_scale != 1:
        target_frame = torch.ones((), device=device) / fps  # end of the target's first (causal) frame
        positions[0] = torch.clamp(positions[0] - (temporal_scale - 1) * target_frame, min=0)
    if downscale_factor != 1:
        positions[1:] = positions[1:] * downscale_factor
    return positions.unsqueeze(0).expand(batch, -1, -1, -1).to(dtype).contiguous()


def audio_positions(
    batch: int, tokens: int, *, sample_rate: int = 16000, hop_length: int = 160, downsample: int = 4,
    causal: bool = True, shift: int = 0, device=None, dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Bounds (B, 1, T, 2) in seconds of T audio latent frames (25 per second by default)."""
    if batch <= 0 or tokens < 0:
        raise InputError(f"Audio positions need a positive batch and token count, got B={batch} T={tokens}.")

    def seconds(first: int) -> torch.Tensor:
        mel = torch.arange(first, first + tokens, dtype=torch.float32, device=device) * downsample
        if causal:
            mel = (mel + 1 - downsample).clip(min=0)
        return mel * hop_length / sample_rate

    bounds = torch.stack([seconds(shift), seconds(shift + 1)], dim=-1)  # (T, 2)
    return bounds.view(1, 1, tokens, 2).expand(batch, -1, -1, -1).to(dtype).contiguous()


def patchify_video(latent: torch.Tensor) -> torch.Tensor:
    """(B, C, F, H, W) -> (B, F*H*W, C)."""
    if latent.ndim != 5:
        raise InputError(f"Video latent must be (B, C, F, H, W), got shape {tuple(latent.shape)}.")
    return latent.flatten(2).transpose(1, 2)


def unpatchify_video(tokens: torch.Tensor, frames: int, height: int, width: int) -> torch.Tensor:
    """(B, F*H*W, C) -> (B, C, F, H, W); extra (appended) tokens must be removed first."""
    batch, count, channels = tokens.shape
    if count != frames * height * width:
        raise InputError(f"{count} video tokens do not fill a {frames}x{height}x{width} latent; "
                         "drop appended conditioning tokens before unpatchifying.")
    return tokens.transpose(1, 2).reshape(batch, channels, frames, height, width)


def patchify_audio(latent: torch.Tensor) -> torch.Tensor:
    """(B, C, T, M) -> (B, T, C*M), channel index c*M + m."""
    if latent.ndim != 4:
        raise InputError(f"Audio latent must be (B, C, T, M), got shape {tuple(latent.shape)}.")
    return latent.permute(0, 2, 1, 3).flatten(2)


def unpatchify_audio(tokens: torch.Tensor, channels: int, mel_bins: Optional[int] = None) -> torch.Tensor:
    """(B, T, C*M) -> (B, C, T, M)."""
    batch, count, width = tokens.shape
    mel_bins = width // channels if mel_bins is None else mel_bins
    if channels * mel_bins != width:
        raise InputError(f"Audio tokens of width {width} do not split into {channels} channels x {mel_bins} mel bins.")
    return tokens.view(batch, count, channels, mel_bins).permute(0, 2, 1, 3)
