"""The model-free checks of one generation request, run by the CLI (`generate` and `demo`) before any model
is built or loaded."""

from typing import Optional, Sequence, Tuple

from ..errors import InputError
from ..validation import (MAX_CFG, check_fps, check_frame_index, check_output, check_range,
                          check_seed, check_steps, check_strength, is_whole_number)
from .latents import latent_shape, validate_file
from .two_stage import stage1_geometry


def check_request(*, width, height, frames, fps, steps=None, seed=0, batch_size=1, two_stage=False,
                  upsampler_config=None, images: Sequence[Tuple[str, int, float]] = (), audio=None,
                  audio_only=False, out=None, cfgs: Sequence[Tuple[str, Optional[float]]] = ()) -> None:
    """Every check that needs no model, in the order a user would fix them (CLI `generate` and `demo`).

    images: (path, frame, strength) per conditioning; cfgs: (name, value or None) pairs."""
    if out is not None:
        check_output(out, "audio" if audio_only else "video")
    if not is_whole_number(batch_size) or batch_size < 1:
        raise InputError(f"--batch-size {batch_size} is invalid: use 1 or more.")
    check_fps(fps, "--fps")
    latent_shape(width, height, frames, fps, multiple=64 if two_stage and upsampler_config is None else 32)
    if two_stage:
        stage1_geometry(upsampler_config, width, height, frames, fps)
    check_steps(steps, "--steps")
    check_seed(seed, batch_size, "--seed")
    for name, value in cfgs:
        if value is not None:
            check_range(name, value, 0.0, MAX_CFG, " (1 = off)")
    for path, frame, strength in images:
        validate_file(path, "Image")
        check_frame_index(frame, frames, "--image frame")
        check_strength(strength, "--image strength")
    if audio is not None:
        validate_file(audio, "Audio file")
    if audio_only and (images or audio is not None):
        raise InputError("Audio-only generation takes only a prompt: remove image and audio inputs.")
