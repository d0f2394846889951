"""Generated keyframe slots (LTX-2.5): extra single-pixel-frame tokens the model generates with the clip.

Each slot is one latent frame's worth of tokens (the target's spatial grid) appended after the target and
fully generated (denoise mask 1, content zeros unless seeded). Its RoPE time span is one pixel frame,
[k, k + 1) / fps, where a regular latent frame spans eight, and it carries the learned keyframe marker, so
the model renders an extra sharp frame at pixel frame k and the surrounding clip follows it: the temporal
compression is relaxed there, for one latent frame of tokens per slot. The slots are dropped after
denoising (the clip keeps its frame count); stage 2 of a two-stage run gets none (the effect is in the
stage-1 latent).

Facts from the official code (Lightricks/LTX-2 @ 400fd310: ltx-core `conditioning/types/keyframe_slots.py`,
ltx-pipelines `utils/helpers.py`, `utils/blocks.py`): all slots are appended by one item; the noise of the
target is unchanged by them at batch 1 (they come after it in the one noise draw); they add no attention
mask; a count N places them at `round(linspace(0, frames - 1, N + 2))[1:-1]` (interior, endpoints
excluded); a checkpoint without `use_keyframes_abs_pos_embedding` is refused.
"""

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import torch

from ..errors import InputError
from ..transformer.positions import keyframe_positions, patchify_video
from .latents import VIDEO_TIME_SCALE, LatentShape

KeyframeRequest = Union[int, Sequence[int]]


def wants_keyframes(request: KeyframeRequest) -> bool:
    """Whether a request asks for any slot (0 and an empty list are off)."""
    return request > 0 if isinstance(request, int) else len(request) > 0


def evenly_spaced_keyframes(count: int, pixel_frames: int) -> Tuple[int, ...]:
    """`count` interior pixel frames spread evenly over a `pixel_frames`-frame clip (both ends excluded)."""
    if count < 0:
        raise InputError(f"Generated keyframes: {count} is negative: give 0 (off) or more.")
    if count == 0:
        return ()
    if pixel_frames < count + 2:
        raise InputError(f"{count} generated keyframes need a clip of at least {count + 2} frames "
                         f"(it has {pixel_frames}): ask for fewer keyframes or more frames.")
    spread = torch.linspace(0, pixel_frames - 1, count + 2, dtype=torch.float32).round().to(torch.int64)
    return tuple(int(k) for k in spread.tolist()[1:-1])


def resolve_keyframes(request: KeyframeRequest, pixel_frames: int) -> Tuple[int, ...]:
    """Pixel frames of the slots: a count (evenly spaced) or explicit frame indices (sorted, duplicates merged)."""
    if isinstance(request, bool):
        raise InputError("Generated keyframes: give a count or a list of frame indices, not a boolean.")
    if isinstance(request, int):
        return evenly_spaced_keyframes(request, pixel_frames)
    frames = sorted({int(k) for k in request})
    if frames and (frames[0] < 0 or frames[-1] >= pixel_frames):
        raise InputError(f"Generated keyframe frames {frames} must lie in 0..{pixel_frames - 1} for a "
                         f"{pixel_frames}-frame clip: use frame indices inside the clip.")
    return tuple(frames)


def check_model_supports(config) -> None:
    """Slots need the learned keyframe marker (an LTX-2.5 transformer); refuse them elsewhere."""
    if not getattr(config, "keyframe_marker", False):
        raise InputError("Generated keyframes need an LTX-2.5 transformer (it has the learned keyframe marker, "
                         "`keyframes_abs_pos_embedding`); this model has none: use an LTX-2.5 model or turn the "
                         "generated keyframes off.")


@dataclass(frozen=True)
class GeneratedKeyframes:
    """Conditioning item: slots at pixel frames `frames` (strictly increasing), content zeros or `initial`
    (B, C, K, H, W) latents (they only matter when the stage starts below full noise)."""

    frames: Tuple[int, ...]
    initial: Optional[torch.Tensor] = None

    def apply(self, state, shape: LatentShape, fps: float):
        frames = tuple(int(k) for k in self.frames)
        pixel_frames = (shape.frames - 1) * VIDEO_TIME_SCALE + 1
        if not frames:
            raise InputError("Generated keyframes: no frames given: give at least one or leave them off.")
        if any(b <= a for a, b in zip(frames, frames[1:])) or frames[0] < 0 or frames[-1] >= pixel_frames:
            raise InputError(f"Generated keyframe frames {list(frames)} must be strictly increasing and lie in "
                             f"0..{pixel_frames - 1}: fix the frame list.")
        if state.attention_mask is not None:
            raise InputError("Generated keyframes must come before IC-LoRA reference tokens: add the reference last.")
        batch, channels = state.latent.shape[0], state.latent.shape[2]
        per_frame = shape.height * shape.width
        if self.initial is None:
            tokens = torch.zeros(batch, per_frame * len(frames), channels, dtype=state.latent.dtype,
                                 device=state.latent.device)
        else:
            expected = (batch, channels, len(frames), shape.height, shape.width)
            if tuple(self.initial.shape) != expected:
                raise InputError(f"Initial keyframe latents have shape {tuple(self.initial.shape)}, expected "
                                 f"{expected}: one latent frame per generated keyframe at the clip's size.")
            # each slot a one-frame clip of its own (a K-frame patchify would order the tokens the same way)
            tokens = patchify_video(self.initial.to(device=state.latent.device, dtype=state.latent.dtype))
        positions = torch.cat([keyframe_positions(batch, 1, shape.height, shape.width, fps, k,
                                                  narrow_single_frame=True, device=state.latent.device)
                               for k in frames], dim=2)  # (B, 3, K*H*W, 2): time [k, k+1) / fps
        return state.appended(tokens, positions, 0.0, None, marked=True)


def keyframe_slot_items(request: KeyframeRequest, shape: LatentShape, config) -> list:
    """The conditioning items of a `generated_keyframes` request (empty when it is 0 / empty)."""
    if not isinstance(request, bool) and isinstance(request, int) and request == 0:
        return []
    frames = resolve_keyframes(request, (shape.frames - 1) * VIDEO_TIME_SCALE + 1)
    if not frames:
        return []
    check_model_supports(config)
    return [GeneratedKeyframes(frames)]
