"""User-level reference control for one generation: reference video (+ IC-LoRA) and reference voice.

`prepare_reference_video` fits a decoded clip to the generation: another frame rate is resampled to
the generation fps (nearest source frame, with a note), more frames than the output are cut (the
official pipeline caps the reference at the generated frame count), and the result is cut to 8k + 1
frames; the spatial size is fitted per stage (cover-resize + center crop to stage size / downscale
factor; the note about a different aspect ratio comes from `prepare_reference_video`). `reference_video_items` / `reference_audio_items`
encode the inputs into the conditioning items of one stage.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch

from ...errors import InputError
from ..latents import VIDEO_TIME_SCALE
from ..video_io import resize_cover
from .attention_mask import latent_attention_mask
from .ic_lora import ICLora, reference_item, subsample_frames
from .reference_audio import ReferenceAudio


@dataclass(frozen=True)
class ReferenceControl:
    """Reference inputs of a generation.

    video: (3, F, H, W) pixels in [-1, 1] at the generation fps (`prepare_reference_video`).
    ic_lora: the IC-LoRA applied (on the fly) while the reference is in the sequence.
    strength: 1 keeps the reference tokens clean; attention: reference <-> generated attention weight;
    attention_mask: optional pixel mask (1, 1, F, H, W) in [0, 1] multiplied by `attention`.
    audio / audio_rate: a reference voice waveform (channels, samples) appended to the audio stream.
    """

    video: Optional[torch.Tensor] = None
    ic_lora: Optional[ICLora] = None
    strength: float = 1.0
    attention: float = 1.0
    attention_mask: Optional[torch.Tensor] = None
    audio: Optional[torch.Tensor] = None
    audio_rate: int = 16000
    audio_strength: float = 1.0

    def __post_init__(self):
        for name in ("strength", "attention", "audio_strength"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise InputError(f"Reference {name.replace('_', ' ')} {value} is invalid: use a value between 0 and 1.")
        if self.video is not None and (self.video.ndim != 4 or self.video.shape[0] != 3):
            raise InputError(f"Reference video must be (3, F, H, W) pixels, got shape {tuple(self.video.shape)}.")
        if self.attention_mask is not None and self.video is None:
            raise InputError("A reference attention mask needs a reference video: add one, or drop the mask.")


def prepare_reference_video(pixels: torch.Tensor, fps: float, target_fps: float, frames: int, width: int,
                            height: int) -> Tuple[torch.Tensor, List[str]]:
    """(pixels (3, F', H, W) at `target_fps`, notes) with F' = 8k + 1 <= frames, for a width x height output."""
    notes = []
    if pixels.ndim != 4 or pixels.shape[0] != 3:
        raise InputError(f"Reference video must be (3, F, H, W) pixels, got shape {tuple(pixels.shape)}.")
    _, _, h, w = pixels.shape
    if abs(w / h - width / height) > 0.01:
        notes.append(f"reference video {w}x{h} is cover-resized and center-cropped to the {width}x{height} aspect")
    if abs(float(fps) - float(target_fps)) > 1e-3:
        count = max(1, int(pixels.shape[1] * float(target_fps) / float(fps)))
        index = (torch.arange(count, dtype=torch.float64) * float(fps) / float(target_fps)).floor().long()
        pixels = pixels[:, index.clamp(max=pixels.shape[1] - 1)]
        notes.append(f"reference video resampled from {fps:g} to {target_fps:g} fps ({count} frames)")
    usable = (min(pixels.shape[1], frames) - 1) // VIDEO_TIME_SCALE * VIDEO_TIME_SCALE + 1
    if usable < 1 + VIDEO_TIME_SCALE and frames > 1 and pixels.shape[1] < frames:
        notes.append(f"reference video has only {pixels.shape[1]} frame(s): it guides the start of the clip")
    return pixels[:, :usable], notes


def _encode(vae, pixels: torch.Tensor) -> torch.Tensor:
    if vae is None:
        raise InputError("A reference video needs the video VAE (with its encoder).")
    param = next(vae.parameters(), None)
    pixels = pixels.to(device=param.device, dtype=param.dtype) if param is not None else pixels
    with torch.no_grad():
        return vae.encode(pixels.unsqueeze(0))  # (1, C, F', H', W')


def reference_video_items(control: Optional[ReferenceControl], vae, width: int, height: int) -> list:
    """[ReferenceVideo] for a stage of (width, height) pixels (empty without a reference video)."""
    if control is None or control.video is None:
        return []
    ref_w, ref_h = (width, height) if control.ic_lora is None else control.ic_lora.stage_size(width, height)
    temporal = 1 if control.ic_lora is None else control.ic_lora.temporal_scale
    latent = _encode(vae, resize_cover(subsample_frames(control.video.float(), temporal), ref_w, ref_h))
    attention = control.attention
    if control.attention_mask is not None:
        mask = control.attention_mask.float()
        if mask.ndim == 4:
            mask = mask.unsqueeze(0)
        mask = subsample_frames(mask[0, :, : control.video.shape[1]], temporal).unsqueeze(0)  # same frames kept
        attention = latent_attention_mask(mask, *latent.shape[2:]).to(latent.device) * float(control.attention)
    return [reference_item(latent, control.ic_lora, control.strength, attention)]


def reference_audio_items(control: Optional[ReferenceControl], audio_vae, device=None, dtype=None) -> list:
    """[ReferenceAudio] of the reference voice (empty without one)."""
    if control is None or control.audio is None:
        return []
    if audio_vae is None:
        raise InputError("Reference audio needs the audio VAE (with its encoder).")
    wave = control.audio.float()
    wave = wave.unsqueeze(0) if wave.ndim == 1 else wave
    if wave.shape[0] == 1:
        wave = wave.expand(2, -1)
    with torch.no_grad():
        latent = audio_vae.encode(wave.unsqueeze(0).to(device=device, dtype=dtype), control.audio_rate)
    return [ReferenceAudio(latent, control.audio_strength)]
