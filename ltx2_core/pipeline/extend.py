"""Long clips by extension: a chain of segments, each conditioned on the last frames of the one before.

Segment i > 0 starts with the previous segment's last `k` video latent frames and the audio latent frames of
the same time span, placed in place at its start as clean conditioning (denoise mask 0): the video through
`conditioning.ReplaceFrames` (the continuation / image-to-video item, via a latent `VideoInput`), the audio
through `AudioPrefix`. The rest of the segment is generated; the overlap is emitted once (dropped from the
following segment when stitching).

Overlap in pixel frames: `overlap_frames` = 8(k - 1) + 1. The first latent frame of a segment decodes to one
pixel frame and every later one to 8, so the previous segment's last k latent frames (its last 8k pixel
frames) decode at the start of the new segment to about its last 8(k - 1) + 1 pixel frames. Audio: one fps
source; the overlap spans overlap_frames / fps seconds = `audio_latent_frames(overlap_frames, fps)` audio
latents (25 per second), the same rounding every segment's audio length uses (`latents.latent_shape`).

Stitching: segment i contributes its pixel frames from `overlap_frames` on (all of segment 0); the audio is
cut on the same clock, so that after segment i the clip holds exactly round(E_i / fps * rate) samples where
E_i is the frames emitted so far.
"""

from dataclasses import dataclass, replace
from typing import Callable, Iterator, Optional, Sequence, Tuple

import torch

from ..audio import audio_latent_frames
from ..errors import InputError
from ..transformer.positions import patchify_audio
from .latents import VIDEO_TIME_SCALE, LatentShape, validate_fps, validate_frames
from .two_stage import VideoInput


def overlap_latent_frames(overlap_frames: int, name: str = "--overlap-frames") -> int:
    """Video latent frames k of an overlap of 8(k - 1) + 1 pixel frames; InputError naming the values that work."""
    if isinstance(overlap_frames, bool) or not isinstance(overlap_frames, int) or overlap_frames < 1 \
            or (overlap_frames - 1) % VIDEO_TIME_SCALE:
        below = 1
        if isinstance(overlap_frames, int) and overlap_frames > 1:
            below = (overlap_frames - 1) // VIDEO_TIME_SCALE * VIDEO_TIME_SCALE + 1
        raise InputError(f"{name} {overlap_frames} is not of the form 8k+1: use {below} or "
                         f"{below + VIDEO_TIME_SCALE} (1, 9, 17, 25, ...).")
    return (overlap_frames - 1) // VIDEO_TIME_SCALE + 1


def plan_segments(total_frames: int, segment_frames: int, overlap_frames: int) -> Tuple[int, ...]:
    """Pixel frames of every segment (each 8k + 1) so that the stitched clip has `total_frames` frames.

    The first segment is `segment_frames` long (or the whole clip when that is shorter); every later one
    repeats `overlap_frames` and adds up to segment_frames - overlap_frames new frames (the last one fewer)."""
    validate_frames(total_frames)
    validate_frames(segment_frames)
    overlap_latent_frames(overlap_frames)
    if overlap_frames >= segment_frames:
        raise InputError(f"--overlap-frames {overlap_frames} is not shorter than a segment ({segment_frames} "
                         f"frames): use at most {segment_frames - VIDEO_TIME_SCALE} overlap frames or longer "
                         "segments.")
    if total_frames < overlap_frames:
        raise InputError(f"The clip ({total_frames} frames) is shorter than the overlap ({overlap_frames} "
                         "frames): use a longer clip or fewer overlap frames.")
    frames = [min(segment_frames, total_frames)]
    remaining, step = total_frames - frames[0], segment_frames - overlap_frames
    while remaining > 0:
        new = min(step, remaining)
        frames.append(overlap_frames + new)
        remaining -= new
    return tuple(frames)


@dataclass(frozen=True)
class AudioPrefix:
    """Pin the first audio latent frames in place to `latent` (B, C, Ta, M): clean (denoise mask 0, or
    1 - strength), positions unchanged. The audio counterpart of `ReplaceFrames` at latent index 0."""

    latent: torch.Tensor
    strength: float = 1.0

    def apply(self, state, shape: LatentShape, fps: float):
        if not 0.0 <= float(self.strength) <= 1.0:
            raise InputError(f"strength {self.strength} is invalid: use a value between 0 and 1 (1 = keep exactly).")
        expected = (shape.batch, shape.audio_channels, shape.audio_mel_bins)
        if self.latent.ndim != 4 or (self.latent.shape[0], self.latent.shape[1], self.latent.shape[3]) != expected:
            raise InputError(f"Audio conditioning latent {tuple(self.latent.shape)} does not fit the audio latent "
                             f"{shape.audio}: use an audio latent of the same model.")
        count = self.latent.shape[2]
        if count > shape.audio_frames:
            raise InputError(f"Audio conditioning covers {count} audio latent frames but the clip has "
                             f"{shape.audio_frames}: use a shorter overlap or a longer segment.")
        tokens = patchify_audio(self.latent).to(device=state.latent.device, dtype=state.latent.dtype)
        latent, clean, mask = state.latent.clone(), state.clean.clone(), state.mask.clone()
        latent[:, :count] = tokens
        clean[:, :count] = tokens
        mask[:, :count] = 1.0 - float(self.strength)
        return replace(state, latent=latent, clean=clean, mask=mask)


def tail_conditioning(video_latent: torch.Tensor, audio_latent: torch.Tensor, overlap_frames: int,
                      fps: float) -> Tuple[VideoInput, AudioPrefix]:
    """The conditioning of the next segment: the last k video latent frames of `video_latent` (B, C, F, H, W)
    and the last `audio_latent_frames(overlap_frames, fps)` frames of `audio_latent` (B, C, T, M)."""
    validate_fps(fps)
    k = overlap_latent_frames(overlap_frames)
    audio_count = audio_latent_frames(overlap_frames, fps)
    if video_latent.ndim != 5 or video_latent.shape[2] < k:
        raise InputError(f"The previous segment has {video_latent.shape[2] if video_latent.ndim == 5 else 0} "
                         f"latent frames, fewer than the {k} of a {overlap_frames}-frame overlap: use fewer "
                         "overlap frames.")
    if audio_latent.ndim != 4 or audio_latent.shape[2] < audio_count:
        raise InputError(f"The previous segment's audio latent is shorter than the overlap ({audio_count} "
                         "audio latent frames): use fewer overlap frames.")
    video = video_latent[:, :, -k:].clone()
    audio = audio_latent[:, :, audio_latent.shape[2] - audio_count:].clone()
    return VideoInput(latent=video), AudioPrefix(audio)


@dataclass
class Segment:
    """One stitched piece of a long clip: the new pixels (3, F_new, H, W) and waveform (C, N_new), the
    segment's full latents (for the next segment, or the ComfyUI graph) and where it starts in the clip."""

    index: int
    start_frame: int
    video: torch.Tensor
    audio: torch.Tensor
    sample_rate: int
    fps: float
    video_latent: torch.Tensor
    audio_latent: torch.Tensor


def stitch_audio(wave: torch.Tensor, rate: int, fps: float, start_frame: int, skip_frames: int,
                 new_frames: int) -> torch.Tensor:
    """The part of a segment's waveform (..., N) that the clip has not got yet: the segment begins at clip
    frame start_frame - skip_frames; after it the clip holds round((start_frame + new_frames) / fps * rate)
    samples (zero-padded when the segment's waveform is short)."""
    have = round(start_frame / float(fps) * rate)
    need = round((start_frame + new_frames) / float(fps) * rate) - have
    offset = have - round((start_frame - skip_frames) / float(fps) * rate)
    piece = wave[..., offset:offset + need]
    return torch.nn.functional.pad(piece, (0, need - piece.shape[-1]))


def _prompt_of(prompts: Sequence[str], index: int) -> str:
    """Segment i's prompt: prompts[i], the last one for every segment beyond the list."""
    return prompts[min(index, len(prompts) - 1)]


def generate_long(
    parts,
    prompts: Sequence[str],
    *,
    frames: int,
    segment_frames: int = 121,
    overlap_frames: int = 25,
    width: int = 768,
    height: int = 512,
    fps: float = 24.0,
    seed: int = 10,
    generate_fn: Optional[Callable] = None,
    **options,
) -> Iterator[Segment]:
    """Yield the segments of a `frames`-frame clip (one at a time: decode, write, free; see `stream_writer`).

    prompts: one per segment (the last one repeats; a single prompt for all). Segment i uses seed + i and the
    one-stage `generate` with `options` (steps, guidance, sampler, negative_prompt, callback, ...).
    """
    from .generate import generate

    generate_fn = generate_fn or generate
    if isinstance(prompts, str):
        prompts = [prompts]
    if not prompts:
        raise InputError("No prompt given: give one prompt, or one per segment.")
    if options.get("two_stage") or options.get("audio_only") or options.get("audio") is not None:
        raise InputError("Extension runs one audio+video stage per segment: remove two_stage / audio_only / audio.")
    if options.get("images"):
        raise InputError("Extension conditions each segment on the previous one: image inputs are not supported.")
    plan = plan_segments(frames, segment_frames, overlap_frames)
    previous, start = None, 0  # previous: the last segment's (video latent, audio latent), nothing decoded
    for index, count in enumerate(plan):
        extra = {}
        if previous is not None:
            video_item, audio_item = tail_conditioning(*previous, overlap_frames, fps)
            extra = dict(images=[video_item], audio_items=[audio_item])
        clip = generate_fn(parts, _prompt_of(prompts, index), width=width, height=height, frames=count, fps=fps,
                           seed=seed + index, **options, **extra)
        skip = 0 if previous is None else overlap_frames
        new = count - skip
        segment = Segment(
            index=index, start_frame=start, video=clip.video[:, skip:],
            audio=stitch_audio(clip.audio, clip.sample_rate, fps, start, skip, new), sample_rate=clip.sample_rate,
            fps=fps, video_latent=clip.video_latent, audio_latent=clip.audio_latent,
        )
        del clip
        previous, start = (segment.video_latent, segment.audio_latent), start + new
        yield segment
        del segment


def write_segments(path: str, segments: Iterator[Segment], crf: int = 18) -> Tuple[int, int]:
    """Append every segment to one video file as it arrives (`stream_writer`); returns (frames, samples)."""
    from .stream_writer import StreamingVideoWriter

    segments = iter(segments)
    first = next(segments, None)
    if first is None:
        raise InputError(f"No segment to write to {path!r}: generate at least one.")
    with StreamingVideoWriter(path, first.fps, first.sample_rate, crf=crf) as out:
        out.append(first.video, first.audio)
        del first
        for segment in segments:
            out.append(segment.video, segment.audio)
            del segment
    return out.frames, out.samples
