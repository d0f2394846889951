"""The pack's own socket types (between LTX2 nodes) and the values they carry."""

from dataclasses import dataclass, field, replace
from typing import Any, Optional, Tuple

import torch
from comfy_api.latest import io

Model = io.Custom("LTX2_MODEL")
TextEncoder = io.Custom("LTX2_TEXT_ENCODER")
VideoVAE = io.Custom("LTX2_VIDEO_VAE")
AudioVAE = io.Custom("LTX2_AUDIO_VAE")
Upscaler = io.Custom("LTX2_LATENT_UPSCALER")
Conditioning = io.Custom("LTX2_CONDITIONING")
AVLatent = io.Custom("LTX2_AV_LATENT")
Guider = io.Custom("LTX2_GUIDER")
DurationHead = io.Custom("LTX2_DURATION_HEAD")


@dataclass(frozen=True)
class TextConditioning:
    """Encoded prompts: `positive` and optional `negative` text contexts (ltx2_core.text TextContext)."""

    positive: Any
    negative: Any = None


@dataclass(frozen=True)
class AVLatentValue:
    """A joint audio-video latent and everything the later nodes need to interpret it.

    video (B, 128, F', H', W') and audio (B, 8, T_a, 16) are normalized latents; `items` are ltx2_core
    conditioning items (applied in order by the sampler); `frames`/`fps` fix the clip length once so
    the audio and the video decode to the same duration.
    """

    video: torch.Tensor
    audio: torch.Tensor
    frames: int
    fps: float
    width: int
    height: int
    items: Tuple[Any, ...] = field(default_factory=tuple)
    audio_items: Tuple[Any, ...] = field(default_factory=tuple)
    family: str = "any"  # set by the sampler: "ltx-2" or "ltx-video" (video only: `audio` is not used)

    def with_items(self, *items) -> "AVLatentValue":
        return replace(self, items=self.items + tuple(items))

    def with_audio_items(self, *items) -> "AVLatentValue":
        return replace(self, audio_items=self.audio_items + tuple(items))

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


@dataclass(frozen=True)
class AudioModels:
    """The audio VAE (decoder and, when present, encoder) plus the vocoder, as host networks."""

    vae: Any
    vocoder: Optional[Any] = None


@dataclass(frozen=True)
class ImageCondition:
    """A pending image / clip conditioning, encoded by the sampler at the latent's current size.

    images (N, H, W, 3) in [0, 1] (ComfyUI IMAGE); frame_index is the pixel frame it pins (negative:
    from the end); mode 'auto' pins frame 0 in place and appends guide tokens elsewhere, 'in_place'
    always replaces latent frames (continuation).
    """

    images: torch.Tensor
    vae: Any
    frame_index: int = 0
    strength: float = 1.0
    mode: str = "auto"


@dataclass(frozen=True)
class T5Context:
    """An LTX-Video prompt encoding: T5 states (B, L, 4096) and their mask (B, L), 1 = real token or EOS."""

    embeddings: torch.Tensor
    mask: torch.Tensor
