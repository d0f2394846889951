"""Sampling and generation for LTX-2 / LTX-2.3: schedules, guidance, conditioning, the denoising loop,
two-stage generation, LoRA, media I/O, the `generate` API and a tiny demo model. See docs/api.md."""

from .conditioning import FrozenAudio, FrozenVideo, Keyframe, ReplaceFrames, StreamState
from .denoise import DenoiseResult, denoise
from .generate import Components, Generation, generate, load_components
from .guidance import LTX2_DEV_GUIDANCE, LTX23_DEV_GUIDANCE, NO_GUIDANCE, Guidance, GuidanceParams, guide
from .latents import LatentShape, latent_shape
from .lora import layer_deltas, load_lora, merge_loras, parse_lora
from .schedules import DISTILLED_SIGMAS, STAGE2_SIGMAS, ltx2_sigmas
from .two_stage import AudioInput, VideoInput
from .video_to_audio import VideoClip, video_to_audio

__all__ = [
    "AudioInput", "Components", "DISTILLED_SIGMAS", "DenoiseResult", "FrozenAudio", "FrozenVideo", "Generation", "Guidance",
    "GuidanceParams", "Keyframe", "LTX23_DEV_GUIDANCE", "LTX2_DEV_GUIDANCE", "LatentShape", "NO_GUIDANCE",
    "ReplaceFrames", "STAGE2_SIGMAS", "StreamState", "VideoInput", "denoise", "generate", "guide", "latent_shape",
    "layer_deltas", "load_components", "load_lora", "ltx2_sigmas", "merge_loras", "parse_lora", "VideoClip",
    "video_to_audio",
]
