"""One denoising stage from user-level inputs, and the two-stage (generate at half size, upsample
the latent x2, refine) flow of the reference pipelines.

Stage 1 runs at (width/2, height/2) with the stage's schedule and guidance; the video latent is
upsampled x2 (un-normalized with the VAE statistics, upsampled, re-normalized); stage 2 starts from
the upsampled video latent and the stage-1 audio latent noised to sigma 0.909375 and runs the three
STAGE2_SIGMAS steps without guidance, continuing the same noise generator. Image / clip
conditionings are encoded again at each stage's size. Reference: ltx-pipelines
`ti2vid_two_stages.py`, `distilled.py`, `a2vid_two_stage.py`.
"""

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import torch

from ..errors import InputError
from .conditioning import (
    FrozenAudio, Keyframe, ReplaceFrames, apply_conditionings, initial_audio_state, initial_video_state,
)
from .denoise import Callback, DenoiseResult, TextContext, denoise
from .guidance import NO_GUIDANCE, Guidance
from .latents import VIDEO_TIME_SCALE, LatentShape
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
    reference pipelines do (33 for LTX-2 / LTX-2.3); 0 skips it.
    """

    pixels: Optional[torch.Tensor] = None
    frame_index: int = 0
    strength: float = 1.0
    latent: Optional[torch.Tensor] = None
    crf: int = 33

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
                pixels = h264_roundtrip(pixels, given.crf)
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


def run_stage(
    model: Callable,
    shape: LatentShape,
    fps: float,
    stage: Stage,
    positive: TextContext,
    negative: Optional[TextContext],
    generator: torch.Generator,
    video_items: Sequence = (),
    audio_latent: Optional[torch.Tensor] = None,
    initial_video: Optional[torch.Tensor] = None,
    initial_audio: Optional[torch.Tensor] = None,
    with_video: bool = True,
    dtype: torch.dtype = torch.float32,
    device=None,
    callback: Optional[Callback] = None,
    batch_passes: bool = True,
) -> DenoiseResult:
    """Build the conditioned states of one stage and denoise them.

    audio_latent: a given audio latent to keep frozen (audio-to-video). with_video=False: audio only.
    initial_video / initial_audio: latents to refine (stage 2) instead of zeros.
    """
    video = None
    if with_video:
        video = initial_video_state(shape, fps, initial_video, dtype, device)
        video = apply_conditionings(video, video_items, shape, fps)
    elif video_items:
        raise InputError("Audio-only generation cannot take image or video conditioning: remove it.")
    audio = initial_audio_state(shape, initial_audio, dtype, device)
    if audio_latent is not None:
        audio = FrozenAudio(audio_latent.to(device=audio.latent.device, dtype=dtype)).apply(audio, shape, fps)
    return denoise(model, shape, video, audio, stage.sigmas, positive, negative, stage.guidance,
                   generator=generator, noise_scale=stage.noise_scale, sampler=stage.sampler, callback=callback,
                   batch_passes=batch_passes)


def stage2(sampler: str = "euler") -> Stage:
    """The refinement stage of every two-stage pipeline: 3 steps from sigma 0.909375, no guidance."""
    sigmas = torch.tensor(STAGE2_SIGMAS, dtype=torch.float32)
    return Stage(sigmas=sigmas, guidance=NO_GUIDANCE, sampler=sampler, noise_scale=STAGE2_SIGMAS[0])


def upsample_video_latent(latent: torch.Tensor, upsampler, vae) -> torch.Tensor:
    """x2 spatial latent upsampling in the VAE's un-normalized space (ltx2_core.upsampler)."""
    if upsampler is None or vae is None:
        raise InputError("Two-stage generation needs the latent upsampler and the video VAE: pass both, "
                         "or generate in one stage.")
    from ..upsampler import upsample_latent

    with torch.no_grad():
        return upsample_latent(latent, upsampler, vae)
