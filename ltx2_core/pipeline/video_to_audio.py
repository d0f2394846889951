"""Video-to-audio: sound for a video the user already has.

    from ltx2_core.pipeline.video_to_audio import VideoClip, video_to_audio
    clip = video_to_audio(parts, "rain on a tin roof", VideoClip(pixels, fps=24.0), seed=10)
    clip.save("with_sound.mp4")  # the given frames, untouched, with the new audio

The clip is VAE-encoded and becomes a frozen video stream (`conditioning.FrozenVideo`: denoise mask 0, model
sigma 0 in every step, never noised); only the audio is denoised, guided by the prompt and by the video through
the transformer's audio-video cross-attention. The video guider is neutral and the audio one the model's
default (official: the ltx-trainer video-to-audio validation, Lightricks/LTX-2 @ 400fd310). Nothing is decoded
but the audio: the Generation's video is the given pixels.

Frame count: the VAE takes 8k + 1 frames. Any other count is padded for the encoder only, by repeating the last
frame up to the next 8k + 1 (at most 7 frames, about 0.3 s at 24 fps); the audio latent covers the clip's real
duration (frames / fps), so the audio ends with the video. Size: the clip is encoded at `width` x `height`
(default: its own size rounded down to multiples of 32, cover-resized and centre-cropped); the frames that are
returned keep their own size.
"""

import logging
from dataclasses import dataclass, replace
from typing import Optional, Sequence, Tuple

import torch

from ..audio import audio_latent_frames
from ..errors import InputError
from ..validation import check_finite, check_fps, check_pixels
from .conditioning import FrozenVideo
from .denoise import Callback, TextContext
from .guidance import NO_GUIDANCE, Guidance
from .latents import VIDEO_SPATIAL_SCALE, VIDEO_TIME_SCALE, latent_shape, make_generator
from .two_stage import Stage, run_stage
from .video_io import resize_cover

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoClip:
    """A video to add sound to: pixels (3, F, H, W) in [-1, 1] at `fps` frames per second (the one fps source:
    the audio lasts F / fps seconds)."""

    pixels: torch.Tensor
    fps: float

    def __post_init__(self):
        if not isinstance(self.pixels, torch.Tensor) or self.pixels.ndim != 4 or self.pixels.shape[0] != 3:
            shape = tuple(self.pixels.shape) if isinstance(self.pixels, torch.Tensor) else type(self.pixels).__name__
            raise InputError(f"The video must be (3, F, H, W) pixels in [-1, 1], got {shape}.")
        check_fps(self.fps, "The video's fps")
        check_pixels(self.pixels, "The video")

    @property
    def frames(self) -> int:
        return self.pixels.shape[1]

    @property
    def seconds(self) -> float:
        return self.frames / float(self.fps)


def padded_frames(frames: int) -> int:
    """The smallest 8k + 1 frame count >= frames (what the video VAE encodes)."""
    return (max(1, frames) - 1 + VIDEO_TIME_SCALE - 1) // VIDEO_TIME_SCALE * VIDEO_TIME_SCALE + 1


def encode_size(width: int, height: int) -> Tuple[int, int]:
    """A frame size rounded down to multiples of 32 (at least 32): the default encoding size of a clip."""
    return tuple(max(VIDEO_SPATIAL_SCALE, side // VIDEO_SPATIAL_SCALE * VIDEO_SPATIAL_SCALE)
                 for side in (width, height))


def encode_clip(clip: VideoClip, vae, width: Optional[int] = None, height: Optional[int] = None) -> torch.Tensor:
    """The normalized video latent (1, C, F', H', W') of a clip: padded to 8k + 1 frames with its last frame,
    cover-resized to width x height (default `encode_size` of the clip)."""
    if vae is None or not hasattr(vae, "encode"):
        raise InputError("Video-to-audio needs the video VAE with its encoder: load the checkpoint's video VAE "
                         "(load_components does by default).")
    default = encode_size(clip.pixels.shape[3], clip.pixels.shape[2])
    width, height = width or default[0], height or default[1]
    latent_shape(width, height, 1, clip.fps)  # multiples of 32, or one line naming the fix
    pixels = clip.pixels.float()
    extra = padded_frames(clip.frames) - clip.frames
    if extra:
        log.info("video-to-audio: %d frames padded to %d with the last frame for the VAE (8k+1 frames); the audio "
                 "keeps the clip's %.3f s", clip.frames, clip.frames + extra, clip.seconds)
        pixels = torch.cat([pixels, pixels[:, -1:].expand(-1, extra, -1, -1)], dim=1)
    if (pixels.shape[3], pixels.shape[2]) != (width, height):
        pixels = resize_cover(pixels, width, height)
    param = next(vae.parameters(), None)
    if param is not None:
        pixels = pixels.to(device=param.device, dtype=param.dtype)
    with torch.no_grad():
        return vae.encode(pixels.unsqueeze(0))  # (1, C, F', H', W')


def video_to_audio(
    parts,
    prompt: str,
    video: VideoClip,
    *,
    negative_prompt: Optional[str] = None,
    width: Optional[int] = None,
    height: Optional[int] = None,
    seed: int = 10,
    steps: Optional[int] = None,
    guidance: Optional[Guidance] = None,
    sigmas: Optional[Sequence[float]] = None,
    sampler: str = "euler",
    contexts: Optional[Tuple[TextContext, Optional[TextContext]]] = None,
    callback: Optional[Callback] = None,
    batch_passes: bool = True,
    step_cache=None,
):
    """A Generation whose video is `video.pixels` (untouched) and whose audio (video.seconds long, exactly
    round(seconds * rate) samples) is generated for it and the prompt. `guidance` defaults to the model's
    (`generate.default_guidance`); its video part is replaced by the neutral guider. width / height: the size
    the clip is encoded at (see the module docstring). The other arguments are those of `generate`."""
    from ..audio import decode_to_waveform
    from ..validation import check_seed
    from .generate import DEFAULT_NEGATIVE_PROMPT, Generation, default_stage1, encode_prompts

    if not isinstance(video, VideoClip):
        raise InputError("video must be a VideoClip(pixels, fps).")
    check_seed(seed)
    if parts.audio_vae is None or parts.vocoder is None:
        raise InputError("Video-to-audio needs the audio VAE (with its decoder) and the vocoder: load them with "
                         "the checkpoint.")
    latent = encode_clip(video, parts.video_vae, width, height)
    check_finite(latent, "Video encoding")
    config = getattr(parts.audio_vae, "config", None)
    geometry = {} if config is None else dict(audio_channels=config.z_channels, audio_mel_bins=config.latent_mel_bins)
    shape = latent_shape(latent.shape[4] * VIDEO_SPATIAL_SCALE, latent.shape[3] * VIDEO_SPATIAL_SCALE,
                         padded_frames(video.frames), video.fps, video_channels=latent.shape[1], **geometry)
    shape = replace(shape, audio_frames=audio_latent_frames(video.frames, video.fps))  # the clip's real duration
    first = default_stage1(parts, steps, guidance, sigmas, sampler)
    stage = Stage(first.sigmas, Guidance(NO_GUIDANCE.video, first.guidance.audio), first.sampler)
    if contexts is None:
        needs_negative = "uncond" in stage.guidance.passes
        negative = DEFAULT_NEGATIVE_PROMPT if negative_prompt is None else negative_prompt
        encoded = encode_prompts(parts.text_encoder, [prompt, negative] if needs_negative else [prompt])
        contexts = (encoded[0], encoded[1] if needs_negative else None)
    dtype, device = parts.dtype, parts.device
    result = run_stage(parts.transformer, shape, video.fps, stage, contexts[0], contexts[1],
                       make_generator(seed, device), video_items=[FrozenVideo(latent.to(device, dtype))],
                       dtype=dtype, device=device, callback=callback, batch_passes=batch_passes,
                       step_cache=step_cache)
    with torch.no_grad():
        audio_param = next(parts.audio_vae.parameters(), None)
        audio_latent = result.audio.to(audio_param.dtype if audio_param is not None else result.audio.dtype)
        wave, rate = decode_to_waveform(audio_latent, parts.audio_vae, parts.vocoder, video.seconds)
    check_finite(wave, "Audio decoding")
    return Generation(video=video.pixels, audio=wave[0], sample_rate=int(rate), fps=float(video.fps),
                      video_latent=result.video, audio_latent=result.audio,
                      info={"encoded_frames": padded_frames(video.frames),
                            "encoded_size": (shape.width * VIDEO_SPATIAL_SCALE, shape.height * VIDEO_SPATIAL_SCALE)})
