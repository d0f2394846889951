"""Checks of user arguments and of numbers, shared by the CLI (`generate` and `demo`), `generate()` and
the nodes. Each raises one error with one line naming the value, the rule and the fix.

Rules (the nodes' input schemas use the same limits):
- steps: a whole number in [1, MAX_STEPS]; seed: a whole number in [0, 2^64) (ComfyUI's range; larger
  or negative seeds are refused, not reduced); batch items use seed + i, which must stay below 2^64.
- fps in [MIN_FPS, MAX_FPS]; strengths in [0, 1]; CFG in [0, MAX_CFG], STG and modality scales in
  [0, MAX_GUIDANCE_SCALE], rescale in [0, 1]; conditioning frame indices inside the clip; conditioning
  pixels finite and in [-1, 1] (ComfyUI IMAGEs: [0, 1]).
- --out: an existing, writable folder and an extension the writer supports (VIDEO_EXTENSIONS for a clip,
  AUDIO_EXTENSIONS for audio only).
- NaN / Inf after text encoding, after every denoising step and after decoding: NonFiniteError naming the
  stage (usually a float16 overflow: run in bfloat16 or float32).
"""

import math
import os
from typing import Optional

import torch

from .errors import InputError, LTX2Error

MAX_STEPS = 1000
SEED_LIMIT = 2**64  # seeds are in [0, SEED_LIMIT)
MIN_FPS, MAX_FPS = 1.0, 240.0
MAX_CFG = 30.0
MAX_GUIDANCE_SCALE = 10.0
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm")
AUDIO_EXTENSIONS = (".wav", ".flac")
DTYPE_FIX = "run in bfloat16 or float32 (CLI: --dtype bfloat16 or --dtype float32)"


class NonFiniteError(LTX2Error):
    """A stage produced NaN or Inf values (e.g. an fp16 overflow)."""


def is_whole_number(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_range(name: str, value, low: float, high: float, hint: str = "") -> float:
    """A finite number in [low, high]; returns it as float."""
    if not _is_number(value) or not low <= value <= high:
        raise InputError(f"{name} {value} is out of range: use a value from {low:g} to {high:g}{hint}.")
    return float(value)


def check_steps(steps, name: str = "steps") -> Optional[int]:
    """None (the model's default) or a whole number of steps in [1, MAX_STEPS]."""
    if steps is None:
        return None
    if not is_whole_number(steps) or not 1 <= steps <= MAX_STEPS:
        raise InputError(f"{name} {steps} is invalid: use a whole number from 1 to {MAX_STEPS} (e.g. 30).")
    return steps


def check_seed(seed, count: int = 1, name: str = "seed") -> int:
    """A whole-number seed in [0, 2^64) such that seed + count - 1 is one too."""
    if not is_whole_number(seed) or not 0 <= seed < SEED_LIMIT:
        raise InputError(f"{name} {seed} is out of range: use a whole number from 0 to {SEED_LIMIT - 1}.")
    if seed + count - 1 >= SEED_LIMIT:
        raise InputError(f"{name} {seed} + {count - 1} (the last clip of the batch) exceeds {SEED_LIMIT - 1}: "
                         "use a smaller seed.")
    return seed


def check_fps(fps, name: str = "fps") -> float:
    return check_range(name, fps, MIN_FPS, MAX_FPS, " such as 24 or 25")


def check_strength(strength, name: str = "strength") -> float:
    return check_range(name, strength, 0.0, 1.0, " (1 = keep exactly)")


def check_frame_index(index, frames: int, name: str = "frame index", negative: bool = False) -> int:
    """A pixel frame inside a clip of `frames` frames (0..frames-1; with `negative`, also -frames..-1)."""
    low = -frames if negative else 0
    if not is_whole_number(index) or not low <= index < frames:
        span = f"0..{frames - 1}" + (f" or -1..-{frames}" if negative else "")
        raise InputError(f"{name} {index} is out of range: use {span}.")
    return index


def check_pixels(pixels: torch.Tensor, name: str = "Conditioning image", low: float = -1.0,
                 high: float = 1.0) -> None:
    """Finite pixel values in [low, high] (a small rounding margin is allowed)."""
    if pixels.numel() == 0:
        raise InputError(f"{name} is empty: give at least one frame.")
    values = pixels.detach().float()
    if not bool(torch.isfinite(values).all()):
        raise InputError(f"{name} has NaN or Inf pixels: give a valid image.")
    least, most = float(values.min()), float(values.max())
    margin = 1e-3 * (high - low)
    if least < low - margin or most > high + margin:
        fix = " (0..255 images: x / 127.5 - 1)" if low == -1.0 else " (0..255 images: x / 255)"
        raise InputError(f"{name} pixels span {least:g}..{most:g}, outside {low:g}..{high:g}: "
                         f"scale them to that range{fix}.")


def check_guidance(guidance) -> None:
    """Every scale of a `Guidance` (both streams) in its range."""
    for stream in ("video", "audio"):
        params = getattr(guidance, stream)
        check_range(f"{stream} cfg", params.cfg, 0.0, MAX_CFG, " (1 = off)")
        check_range(f"{stream} stg scale", params.stg, 0.0, MAX_GUIDANCE_SCALE, " (0 = off)")
        check_range(f"{stream} modality scale", params.modality, 0.0, MAX_GUIDANCE_SCALE, " (1 = off)")
        check_range(f"{stream} rescale", params.rescale, 0.0, 1.0, " (0 = off)")
        for block in params.stg_blocks:
            if not is_whole_number(block) or block < 0:
                raise InputError(f"{stream} STG block {block} is invalid: use 0-based block numbers.")


def check_output(path: str, kind: str = "video", name: str = "--out") -> str:
    """An output file path whose folder exists and is writable and whose extension fits `kind`
    ("video": VIDEO_EXTENSIONS, "audio": AUDIO_EXTENSIONS, "gguf": .gguf). Returns the absolute path."""
    allowed = {"video": VIDEO_EXTENSIONS, "audio": AUDIO_EXTENSIONS, "gguf": (".gguf",)}[kind]
    if not isinstance(path, str) or not path.strip():
        raise InputError(f"{name} is empty: give an output file such as clip{allowed[0]}.")
    full = os.path.abspath(os.path.expanduser(path))
    extension = os.path.splitext(full)[1].lower()
    if extension not in allowed:
        what = {"video": "a video", "audio": "audio only", "gguf": "a GGUF file"}[kind]
        shown = ", ".join(allowed[:-1]) + " or " + allowed[-1] if len(allowed) > 1 else allowed[0]
        raise InputError(f"{name} {path!r} cannot hold {what}: use a file name ending in {shown}.")
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        raise InputError(f"{name} folder does not exist: {folder!r}. Create it or choose another path.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{name} folder {folder!r} is not writable: choose a folder you can write to.")
    if os.path.isdir(full):
        raise InputError(f"{name} {path!r} is a folder: give a file name.")
    return full


def check_finite(tensor: Optional[torch.Tensor], stage: str) -> None:
    """Raise NonFiniteError when `tensor` holds NaN or Inf (None passes)."""
    if tensor is None or not tensor.is_floating_point():
        return
    if not bool(torch.isfinite(tensor).all()):
        raise NonFiniteError(f"{stage}: NaN/Inf values (a numerical overflow, typical of float16): {DTYPE_FIX}.")
