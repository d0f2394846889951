"""One denoising stage from user-level inputs, and the two-stage (generate at half size, upsample
the latent x2, refine) flow of the reference pipelines.

Other upsamplers (`stage1_geometry`): spatial x1.5 runs stage 1 at 2/3 of the output size (a latent
side L1 upsamples to ceil(1.5 * L1), so an output latent side of 3k or 3k + 2 is reachable, 3k + 1
is not); temporal x2 runs stage 1 at the output size with half the frame rate and
(frames - 1) / 2 + 1 frames (latent frames F1 -> 2 * F1 - 1, so frames must be 16k + 1).

Stage 1 runs at (width/2, height/2) with the stage's schedule and guidance; the video latent is
upsampled x2 (un-normalized with the VAE statistics, upsampled, re-normalized); stage 2 starts from
the upsampled video latent and the stage-1 audio latent noised to sigma 0.909375 and runs the three
STAGE2_SIGMAS steps without guidance, continuing the same noise generator; the clip decodes the
stage-2 video and audio. Image / clip
conditionings are encoded again at each stage's size. Reference: ltx-pipelines
`ti2vid_two_stages.py`, `distilled.py`, `a2vid_two_stage.py`.
"""

from dataclasses import dataclass, replace
from typing import Callable, List, Optional, Sequence, Union

import torch

from ..errors import InputError
from .conditioning import (
    FrozenAudio, Keyframe, ReplaceFrames, apply_conditionings, initial_audio_state, initial_video_state,
)
from .denoise import Callback, DenoiseResult, TextContext, denoise
from .guidance import NO_GUIDANCE, Guidance
from .latents import VIDEO_SPATIAL_SCALE, VIDEO_TIME_SCALE, LatentShape, draw_noise
from .release_defaults import image_crf
from .schedules import STAGE2_SIGMAS
from .video_io import h264_roundtrip, resize_cover


@dataclass(frozen=True)
class VideoInput:
    """An image (F = 1) or a clip (F = 8k + 1) that conditions the video from pixel frame `frame_index`.

    pixels: (3, F, H, W) in [-1, 1], any size (cover-resized and center-cropped to the stage size).
    latent: alternatively an already encoded (1, C, F', H', W') latent at the generation size
    (one-stage only). At frame 0 the input replaces the first latent frames in place (image-to-video,
    continuing a video); at any other frame it is appended as keyframe guide tokens.
    crf: single images are first re-encoded as one H.264 frame at this CRF at their own size, as the
    reference pipelines do; None = the model's (`generate`: 33 for LTX-2 / LTX-2.3, 18 from model_version 2.4,
    `release_defaults.image_crf`; 33 where the model is unknown); 0 skips it.
    """

    pixels: Optional[torch.Tensor] = None
    frame_index: int = 0
    strength: float = 1.0
    latent: Optional[torch.Tensor] = None
    crf: Optional[int] = None

    def __post_init__(self):
        if (self.pixels is None) == (self.latent is None):
            raise InputError("A video conditioning needs exactly one of pixels or latent.")
        if self.pixels is not None:
            if self.pixels.ndim != 4 or self.pixels.shape[0] != 3:
                raise InputError(f"Conditioning pixels must be (3, F, H, W), got shape {tuple(self.pixels.shape)}.")
            frames = self.pixels.shape[1]
            if (frames - 1) % VIDEO_TIME_SCALE:
                raise InputError(
                    f"A conditioning clip has {frames} frames: use 1 (an image) or 8k+1 frames "
                    f"(e.g. {(frames - 1) // VIDEO_TIME_SCALE * VIDEO_TIME_SCALE + 1})."
                )


@dataclass(frozen=True)
class AudioInput:
    """Audio that the video follows (audio-to-video): waveform (channels, samples) in [-1, 1]."""

    waveform: torch.Tensor
    sample_rate: int


def encode_video_inputs(inputs: Sequence[VideoInput], vae, width: int, height: int,
                        narrow_single_frame: bool = True) -> List:
    """Conditioning items for one stage: pixels resized to (width, height) and VAE-encoded."""
    items = []
    for given in inputs:
        if given.latent is not None:
            latent = given.latent
        else:
            if vae is None:
                raise InputError("Image or video conditioning needs the video VAE (with its encoder).")
            pixels = given.pixels.float()
            if pixels.shape[1] == 1:
                pixels = h264_roundtrip(pixels, image_crf(None) if given.crf is None else given.crf)
            pixels = resize_cover(pixels, width, height)
            param = next(vae.parameters(), None)
            pixels = pixels.to(device=param.device, dtype=param.dtype) if param is not None else pixels
            with torch.no_grad():
                latent = vae.encode(pixels.unsqueeze(0))  # (1, C, F', H', W')
        if given.frame_index == 0:
            items.append(ReplaceFrames(latent, given.strength))
        else:
            items.append(Keyframe(latent, given.frame_index, given.strength, narrow_single_frame))
    return items


def encode_audio_input(given: AudioInput, audio_vae, device=None, dtype=None) -> torch.Tensor:
    """The normalized audio latent (1, 8, T, 16) of an audio input."""
    if audio_vae is None:
        raise InputError("Audio-to-video needs the audio VAE (with its encoder).")
    wave = given.waveform.float()
    wave = wave.unsqueeze(0) if wave.ndim == 1 else wave
    if wave.shape[0] == 1:
        wave = wave.expand(2, -1)
    with torch.no_grad():
        return audio_vae.encode(wave.unsqueeze(0).to(device=device, dtype=dtype), given.sample_rate)


@dataclass(frozen=True)
class Stage:
    """One denoising stage: schedule, guidance, sampler and noise scale (1 = start from pure noise)."""

    sigmas: torch.Tensor
    guidance: Guidance = NO_GUIDANCE
    sampler: str = "euler"
    noise_scale: float = 1.0


def _batched_item(item, batch: int):
    """A conditioning item whose batch-1 latent is repeated for every item of the batch."""
    latent = getattr(item, "latent", None)
    if batch == 1 or latent is None or latent.shape[0] != 1:
        return item
    return replace(item, latent=latent.expand(batch, *latent.shape[1:]))


def _per_item_noise(states, generators: Sequence[torch.Generator]):
    """(video, audio) token noise with item i drawn from generators[i] (video first, then audio), so that
    each item equals the noise of a batch-1 run with that generator."""
    rows = []
    for generator in generators:
        rows.append([None if s is None else draw_noise([(1, *s.latent.shape[1:])], generator, s.latent.dtype,
                                                        s.latent.device)[0] for s in states])
    return tuple(None if s is None else torch.cat([row[i] for row in rows]) for i, s in enumerate(states))


def run_stage(
    model: Callable,
    shape: LatentShape,
    fps: float,
    stage: Stage,
    positive: TextContext,
    negative: Optional[TextContext],
    generator: Union[torch.Generator, Sequence[torch.Generator]],
    video_items: Sequence = (),
    audio_items: Sequence = (),
    audio_latent: Optional[torch.Tensor] = None,
    initial_video: Optional[torch.Tensor] = None,
    initial_audio: Optional[torch.Tensor] = None,
    with_video: bool = True,
    dtype: torch.dtype = torch.float32,
    device=None,
    callback: Optional[Callback] = None,
    batch_passes: bool = True,
    step_cache=None,
    predictor=None,
) -> DenoiseResult:
    """Build the conditioned states of one stage and denoise them.

    audio_items: conditioning items appended to the audio stream (reference voice).
    audio_latent: a given audio latent to keep frozen (audio-to-video). with_video=False: audio only.
    initial_video / initial_audio: latents to refine (stage 2) instead of zeros.
    generator: one generator for the whole batch, or one per batch item (item i's noise drawn from
    generator[i] exactly as a batch-1 run draws it). Batch-1 conditioning latents apply to every item.
    """
    batch = shape.batch
    video = None
    if with_video:
        video = initial_video_state(shape, fps, initial_video, dtype, device)
        video = apply_conditionings(video, [_batched_item(item, batch) for item in video_items], shape, fps)
    elif video_items:
        raise InputError("Audio-only generation cannot take image or video conditioning: remove it.")
    audio = initial_audio_state(shape, initial_audio, dtype, device)
    if audio_latent is not None:
        given = audio_latent.to(device=audio.latent.device, dtype=dtype)
        if given.shape[0] == 1 and batch > 1:
            given = given.expand(batch, *given.shape[1:])
        audio = FrozenAudio(given).apply(audio, shape, fps)
    audio = apply_conditionings(audio, [_batched_item(item, batch) for item in audio_items], shape, fps)
    noise = None
    if not isinstance(generator, torch.Generator):
        if len(generator) != batch:
            raise InputError(f"{len(generator)} generators for a batch of {batch}: give one per item.")
        noise = _per_item_noise((video, audio), generator)
        generator = None
    return denoise(model, shape, video, audio, stage.sigmas, positive, negative, stage.guidance, noise=noise,
                   generator=generator, noise_scale=stage.noise_scale, sampler=stage.sampler, callback=callback,
                   batch_passes=batch_passes, step_cache=step_cache, predictor=predictor)


def stage2(sampler: str = "euler") -> Stage:
    """The refinement stage of every two-stage pipeline: 3 steps from sigma 0.909375, no guidance."""
    sigmas = torch.tensor(STAGE2_SIGMAS, dtype=torch.float32)
    return Stage(sigmas=sigmas, guidance=NO_GUIDANCE, sampler=sampler, noise_scale=STAGE2_SIGMAS[0])


def upsample_video_latent(latent: torch.Tensor, upsampler, vae) -> torch.Tensor:
    """Latent upsampling (spatial x2 / x1.5, temporal x2) in the VAE's un-normalized space (ltx2_core.upsampler)."""
    if upsampler is None or vae is None:
        raise InputError("Two-stage generation needs the latent upsampler and the video VAE: pass both, "
                         "or generate in one stage.")
    from ..upsampler import upsample_latent

    with torch.no_grad():
        return upsample_latent(latent, upsampler, vae)


@dataclass(frozen=True)
class Stage1Geometry:
    """Stage-1 pixel size, frame count and frame rate that the upsampler takes to the requested output."""

    width: int
    height: int
    frames: int
    fps: float


def _spatial_side(name: str, pixels: int, scale: float) -> int:
    """Stage-1 pixels of one side so that the upsampled latent side equals pixels / 32 exactly."""
    if not isinstance(pixels, int) or pixels < VIDEO_SPATIAL_SCALE or pixels % VIDEO_SPATIAL_SCALE:
        raise InputError(f"{name} {pixels} is not a multiple of {VIDEO_SPATIAL_SCALE}: use a multiple of "
                         f"{VIDEO_SPATIAL_SCALE}.")
    target = pixels // VIDEO_SPATIAL_SCALE
    if scale == 2.0:
        if target % 2:
            ok = [v for v in (pixels - VIDEO_SPATIAL_SCALE, pixels + VIDEO_SPATIAL_SCALE) if v >= 64]
            raise InputError(f"{name} {pixels} is not a multiple of 64: use a multiple of 64 such as "
                             f"{' or '.join(str(v) for v in ok)} for two stages with the x2 upsampler.")
        return target // 2 * VIDEO_SPATIAL_SCALE
    # x1.5: conv to 3x, pixel shuffle, binomial blur with stride 2 -> a side L1 becomes ceil(1.5 * L1).
    if target % 3 == 1 or target < 2:
        ok = [v * VIDEO_SPATIAL_SCALE for v in (target - 1, target + 1) if v >= 2]
        raise InputError(f"{name} {pixels} cannot be reached with the x1.5 upsampler (latent side {target} = 3k+1): "
                         f"use {' or '.join(str(v) for v in ok)} (latent sides 3k or 3k+2).")
    return 2 * target // 3 * VIDEO_SPATIAL_SCALE  # 3k -> 2k, 3k + 2 -> 2k + 1


def stage1_geometry(config, width: int, height: int, frames: int, fps: float) -> Stage1Geometry:
    """Stage-1 geometry for an upsampler config (`LatentUpsamplerConfig`; None = spatial x2) such that the
    upsampled latent has exactly the latent shape of width x height x frames. Raises InputError otherwise."""
    spatial = config is None or config.spatial_upsample
    temporal = config is not None and config.temporal_upsample
    scale = 2.0 if config is None or temporal else float(config.spatial_scale)
    if spatial and scale not in (1.5, 2.0):
        raise InputError(f"Two-stage generation supports the x2 and x1.5 spatial upsamplers, not x{scale}: "
                         "load one of those or generate in one stage.")
    if spatial:
        width, height = _spatial_side("width", width, scale), _spatial_side("height", height, scale)
    if temporal:
        if not isinstance(frames, int) or frames < 1 or (frames - 1) % (2 * VIDEO_TIME_SCALE):
            below = max(1, (int(frames) - 1) // 16 * 16 + 1) if isinstance(frames, (int, float)) else 1
            raise InputError(f"frames {frames} cannot be reached with the temporal x2 upsampler (latent frames "
                             f"F -> 2F - 1): use 16k+1 frames such as {below} or {below + 16}.")
        frames, fps = (frames - 1) // 2 + 1, fps / 2.0
    return Stage1Geometry(width, height, frames, fps)


def stage1_conditioning(inputs: Sequence[VideoInput], temporal: bool) -> List[VideoInput]:
    """Conditioning inputs for stage 1: with a temporal upsampler stage 1 has half the frames, so an image
    at pixel frame k moves to frame k // 2; conditioning clips are not supported there."""
    if not temporal:
        return list(inputs)
    moved = []
    for given in inputs:
        frames = given.latent.shape[2] if given.latent is not None else given.pixels.shape[1]
        if frames != 1:
            raise InputError("The temporal x2 upsampler takes image conditioning only: use single images, or "
                             "a spatial upsampler for clip conditioning.")
        moved.append(replace(given, frame_index=given.frame_index // 2))
    return moved
