"""Auto-duration (LTX-2.5): the frame count from the duration head's seconds, as the official pipelines do.

frames = round(seconds * fps) clamped to [round(min_s * fps), round(max_s * fps)], snapped DOWN to the 8k+1
grid, bumped to the next grid point when that fell below the minimum. Batch 1 only (one length per clip).
"""

from typing import Optional

import torch

from ..errors import InputError
from .latents import VIDEO_TIME_SCALE

AUTO_MIN_SECONDS = 1.0
AUTO_MAX_SECONDS = 20.0


def seconds_to_frames(seconds: float, fps: float, min_seconds: float = AUTO_MIN_SECONDS,
                      max_seconds: float = AUTO_MAX_SECONDS, time_scale: int = VIDEO_TIME_SCALE) -> int:
    """A frame count of the form k * time_scale + 1 for `seconds`, clamped to the bounds first."""
    if not 0 < min_seconds <= max_seconds:
        raise InputError(f"Auto-duration bounds {min_seconds}..{max_seconds} s are invalid: use 0 < min <= max.")
    low, high = round(min_seconds * fps), round(max_seconds * fps)
    frames = max(low, min(round(seconds * fps), high))
    frames = max(frames - 1, 0) // time_scale * time_scale + 1
    if frames < low:
        frames = -(-(low - 1) // time_scale) * time_scale + 1
    if frames > high:  # official: clipped to max_frames, off the grid; refused here instead
        raise InputError(f"Auto-duration bounds {min_seconds}..{max_seconds} s at {fps} fps hold no frame count "
                         f"of the form 8k+1: widen them (e.g. {min_seconds}..{max_seconds + 0.5}).")
    return frames


def frames_for_seconds(seconds: float, fps: float, time_scale: int = VIDEO_TIME_SCALE) -> int:
    """The frame count of the form k * time_scale + 1 nearest to `seconds` at `fps` (a user-given length)."""
    if not seconds > 0:
        raise InputError(f"--seconds {seconds} is invalid: give a positive length in seconds, or 'auto'.")
    steps = round((seconds * fps - 1) / time_scale)
    return max(steps, 0) * time_scale + 1


def predict_frames(head, video_context: Optional[torch.Tensor], audio_context: Optional[torch.Tensor], fps: float,
                   min_seconds: float = AUTO_MIN_SECONDS, max_seconds: float = AUTO_MAX_SECONDS) -> int:
    """The auto-duration frame count from the connector outputs of ONE prompt (both streams when present)."""
    if head is None:
        raise InputError("Auto duration needs the LTX-2.5 duration head: pass --duration-head "
                         "ltx-2.5-duration-head-bf16.safetensors (model_patches), or give the length (--frames).")
    with torch.no_grad():
        seconds = head(video_context, audio_context)
    if seconds.numel() != 1:
        raise InputError(f"Auto duration predicts one length per clip: got {seconds.numel()} prompts, "
                         "run them one at a time.")
    return seconds_to_frames(float(seconds.item()), fps, min_seconds, max_seconds)
