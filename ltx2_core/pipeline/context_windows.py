"""Temporal context windows: one denoise over a clip longer than the model's window.

At every step the latent is cut along time into overlapping windows; each window's video tokens and the audio
tokens of the same time span go through the model (all guidance passes, per window), and the windows' x0
estimates are blended back with weights that sum to 1 at every token: linear ramps across each overlap
(the earlier window fades out as the later one fades in), normalized by their sum. The sampler then steps the
whole latent, so the windows stay consistent with each other and the clip is one piece (no seams to stitch).

Positions: each window keeps the ABSOLUTE RoPE positions of its tokens (its real time offset in the clip). The
LTX-2 RoPE angle is linear in the position, so attention inside a window depends only on position
differences: absolute and window-relative positions give the same attention up to float rounding, but
absolute ones keep an overlap token at one position in both windows, keep the video/audio cross-attention on
the one clock both streams share, and make a single window covering the clip exactly the unwindowed denoise.

Audio span of a window of video latent frames [s, e): its pixel frames [p0, p1) (latent 0 is pixel frame 0,
latent f >= 1 pixel frames 8f-7 .. 8f) map to audio latents [a(p0), a(p1)) with a = `audio.audio_latent_frames`,
the rounding the clip's audio length uses (so the last window ends exactly at the clip's audio end).
"""

from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

import torch

from ..audio import audio_latent_frames
from ..errors import InputError
from .conditioning import StreamState
from .denoise import _Predictor
from .latents import VIDEO_TIME_SCALE, LatentShape

DEFAULT_WINDOW_FRAMES = 121  # the model's trained length (5 s at 24 fps)
DEFAULT_OVERLAP_FRAMES = 25  # 4 latent frames, about 1 s at 24 fps


def _latent_frames(frames: int, flag: str) -> int:
    """Latent frames k of 8(k - 1) + 1 pixel frames; InputError naming the nearest values that work."""
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1 or (frames - 1) % VIDEO_TIME_SCALE:
        below = 1
        if isinstance(frames, int) and frames > 1:
            below = (frames - 1) // VIDEO_TIME_SCALE * VIDEO_TIME_SCALE + 1
        raise InputError(f"{flag} {frames} is not of the form 8k+1: use {below} or {below + VIDEO_TIME_SCALE} "
                         "(1, 9, 17, 25, ...).")
    return (frames - 1) // VIDEO_TIME_SCALE + 1


def pixel_frame(latent_index: int) -> int:
    """The first pixel frame of video latent frame `latent_index` (the causal first latent is one frame)."""
    return 0 if latent_index == 0 else VIDEO_TIME_SCALE * (latent_index - 1) + 1


def audio_index(pixel: int, fps: float) -> int:
    """The audio latent frame at pixel frame `pixel` (one clock: `audio_latent_frames`)."""
    return 0 if pixel == 0 else audio_latent_frames(pixel, fps)


@dataclass(frozen=True)
class Window:
    """One window: video latent frames [start, stop) and audio latent frames [audio_start, audio_stop)."""

    start: int
    stop: int
    audio_start: int
    audio_stop: int


@dataclass(frozen=True)
class WindowPlan:
    """Windows over a clip of `frames` pixel frames (`latent` video latent frames, `audio` audio latents)."""

    windows: Tuple[Window, ...]
    latent: int
    audio: int

    def video_weights(self) -> torch.Tensor:
        """(W, latent) blend weights of every window over the video latent frames; columns sum to 1."""
        return _weights([(w.start, w.stop) for w in self.windows], self.latent)

    def audio_weights(self) -> torch.Tensor:
        """(W, audio) blend weights over the audio latent frames; columns sum to 1."""
        return _weights([(w.audio_start, w.audio_stop) for w in self.windows], self.audio)


def _weights(spans: Sequence[Tuple[int, int]], length: int) -> torch.Tensor:
    """Linear ramps across each overlap with the neighbours, normalized to sum 1 at every index (float64)."""
    raw = torch.zeros(len(spans), length, dtype=torch.float64)
    for i, (start, stop) in enumerate(spans):
        ramp = torch.ones(stop - start, dtype=torch.float64)
        if i > 0 and spans[i - 1][1] > start:
            n = spans[i - 1][1] - start
            ramp[:n] = torch.minimum(ramp[:n], torch.arange(1, n + 1, dtype=torch.float64) / (n + 1))
        if i + 1 < len(spans) and spans[i + 1][0] < stop:
            n = stop - spans[i + 1][0]
            ramp[-n:] = torch.minimum(ramp[-n:], torch.arange(n, 0, -1, dtype=torch.float64) / (n + 1))
        raw[i, start:stop] = ramp
    total = raw.sum(0)
    if bool((total <= 0).any()):
        raise InputError("The context windows leave latent frames uncovered: use a larger overlap.")
    return raw / total


def plan_windows(frames: int, fps: float, window_frames: int = DEFAULT_WINDOW_FRAMES,
                 overlap_frames: int = DEFAULT_OVERLAP_FRAMES) -> WindowPlan:
    """Windows of `window_frames` (8k + 1) pixel frames overlapping by `overlap_frames` (8k + 1) over a clip of
    `frames` pixel frames; the last window is moved back to end with the clip (its overlap grows)."""
    latent = _latent_frames(frames, "--frames")
    size = _latent_frames(window_frames, "--window-frames")
    overlap = _latent_frames(overlap_frames, "--overlap-frames")
    if overlap_frames >= window_frames:
        raise InputError(f"--overlap-frames {overlap_frames} is not shorter than a window ({window_frames} frames): "
                         f"use at most {window_frames - VIDEO_TIME_SCALE} or longer windows.")
    if window_frames > frames:
        raise InputError(f"The window ({window_frames} frames) is longer than the clip ({frames} frames): use plain "
                         f"generate (no --long), or shrink the window to at most {frames} frames.")
    starts, stride = [0], size - overlap
    while starts[-1] + size < latent:
        starts.append(min(starts[-1] + stride, latent - size))
    windows = tuple(Window(s, s + size, audio_index(pixel_frame(s), fps), audio_index(pixel_frame(s + size), fps))
                    for s in starts)
    return WindowPlan(windows, latent, audio_latent_frames(frames, fps))


@dataclass(frozen=True)
class ContextWindows:
    """The option `generate(..., context_windows=ContextWindows(121, 25))`."""

    window_frames: int = DEFAULT_WINDOW_FRAMES
    overlap_frames: int = DEFAULT_OVERLAP_FRAMES

    def predictor(self, shape: LatentShape, frames: int, fps: float):
        """The `denoise(predictor=...)` factory of this option for a clip of `shape` / `frames` at `fps`."""
        plan = plan_windows(frames, fps, self.window_frames, self.overlap_frames)
        if plan.latent != shape.frames or plan.audio != shape.audio_frames:
            raise InputError(f"The window plan ({plan.latent} video / {plan.audio} audio latent frames) does not "
                             f"match the latent ({shape.frames} / {shape.audio_frames}).")
        return lambda *args: WindowedPredictor(plan, shape.height * shape.width, *args)


def _slice(state: Optional[StreamState], start: int, stop: int, first: bool) -> Optional[StreamState]:
    if state is None:
        return None
    if state.tokens != state.target_tokens or state.attention_mask is not None:
        raise InputError("Context windows cannot take appended conditioning (keyframes after frame 0, IC-LoRA "
                         "reference video, reference audio): condition frame 0 only, or generate without windows.")
    return replace(state, latent=state.latent[:, start:stop], clean=state.clean[:, start:stop],
                   mask=state.mask[:, start:stop], positions=state.positions[:, :, start:stop],
                   target_tokens=stop - start, marked_tokens=state.marked_tokens if first else 0)


class WindowedPredictor:
    """Drop-in for `denoise._Predictor`: guided x0 of both streams, window by window, blended."""

    def __init__(self, plan: WindowPlan, frame_tokens: int, model, video, audio, positive, negative, guidance,
                 batch_passes, step_cache=None):
        self.plan, self.frame_tokens, self.states = plan, frame_tokens, (video, audio)
        single = len(plan.windows) == 1  # exactly the unwindowed predictor (the step cache is per window slot)
        self.spans: List[Tuple[Tuple[int, int], Tuple[int, int]]] = [
            ((w.start * frame_tokens, w.stop * frame_tokens), (w.audio_start, w.audio_stop)) for w in plan.windows]
        self.parts = [
            _Predictor(model, _slice(video, *v, i == 0), _slice(audio, *a, i == 0), positive, negative, guidance,
                       batch_passes, step_cache if single else None)
            for i, (v, a) in enumerate(self.spans)]
        self.weights = (plan.video_weights().repeat_interleave(frame_tokens, dim=1), plan.audio_weights())

    def __call__(self, xs: List[Optional[torch.Tensor]], sigma: float, step: int) -> list:
        if len(self.parts) == 1:
            return self.parts[0](xs, sigma, step)
        out = [None if x is None else torch.zeros_like(x, dtype=torch.float32) for x in xs]
        for index, (part, spans) in enumerate(zip(self.parts, self.spans)):
            window = [None if x is None else x[:, a:b] for x, (a, b) in zip(xs, spans)]
            x0s = part(window, sigma, step)
            for stream, (x0, (a, b)) in enumerate(zip(x0s, spans)):
                if x0 is not None:
                    weight = self.weights[stream][index, a:b].to(x0.device, torch.float32)[None, :, None]
                    out[stream][:, a:b] += x0.float() * weight
        return [None if o is None else o.to(x.dtype) for o, x in zip(out, xs)]
