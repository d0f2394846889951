"""Conditioning on patchified latent states: first frame, keyframes, continuation, frozen audio.

A `StreamState` is one stream's patchified state: the content before noising, the clean values,
the per-token denoise mask (1 = generate, 0 = keep clean, 1 - strength in between) and RoPE
positions. Conditioning items map a state to a new state; they chain (apply in order). Items that
add tokens append them at the end; `target_tokens` remembers how many tokens the output has, so the
appended ones are dropped after denoising.

Reference semantics: ltx-core `VideoConditionByLatentIndex` (in place, `ReplaceFrames`),
`VideoConditionByKeyframeIndex` (appended, `Keyframe`), the a2vid pipeline (frozen audio,
`FrozenAudio`), a frozen video stream (video-to-audio, `FrozenVideo`). Positions: video (B, 3, T, 2)
[start, end) bounds, time in seconds after the causal first-frame shift, space in pixels; audio
(B, 1, T, 2) seconds.
"""

from dataclasses import dataclass, replace
from typing import Optional, Sequence, Tuple

import torch

from ..errors import InputError
from ..transformer.positions import (
    audio_positions,
    keyframe_positions,
    patchify_audio,
    patchify_video,
    video_positions,
)
from .latents import AUDIO_LATENTS_PER_SECOND, VIDEO_SPATIAL_SCALE, VIDEO_TIME_SCALE, LatentShape
from .sampler import calc_dtype


@dataclass(frozen=True)
class StreamState:
    """One stream's patchified state (B = batch, T = tokens incl. appended ones, C = channels)."""

    latent: torch.Tensor  # (B, T, C) content before noise (placeholder values for generated tokens)
    clean: torch.Tensor  # (B, T, C) values conditioned tokens are pulled to
    mask: torch.Tensor  # (B, T, 1) float32 denoise mask
    positions: torch.Tensor  # (B, n_axes, T, 2) float32 [start, end) bounds
    target_tokens: int  # tokens of the output (the rest are appended conditioning)
    frozen: bool = False  # stream kept fixed: its sigma is 0 for the model
    marked_tokens: int = 0  # leading tokens (the target's first latent frame) given the LTX-2.5 keyframe marker
    attention_mask: Optional[torch.Tensor] = None  # (B, T, T) self-attention weights in [0, 1] (reference tokens)
    marked_appended: Tuple[Tuple[int, int], ...] = ()  # [start, stop) token ranges of appended marked tokens

    @property
    def marked(self) -> bool:
        return bool(self.marked_tokens or self.marked_appended)

    def keyframes_mask(self) -> torch.Tensor:
        """(B, T) 1 for the marked leading tokens (official: the first latent frame, in every generation) and
        the appended generated keyframe slots, 0 for the rest and for every other appended conditioning token."""
        mask = torch.zeros(self.latent.shape[:2], dtype=torch.float32, device=self.latent.device)
        mask[:, : self.marked_tokens] = 1.0
        for start, stop in self.marked_appended:
            mask[:, start:stop] = 1.0
        return mask

    @property
    def tokens(self) -> int:
        return self.latent.shape[1]

    def appended(self, tokens: torch.Tensor, positions: torch.Tensor, strength: float,
                 attention_mask: Optional[torch.Tensor], marked: bool = False) -> "StreamState":
        """This state with `tokens` (B, M, C) appended as conditioning (clean = the tokens, denoise mask
        1 - strength) at `positions` (B, n_axes, M, 2); `attention_mask` is the state's mask afterwards;
        `marked`: the new tokens get the LTX-2.5 keyframe marker (generated keyframe slots only)."""
        mask = torch.full((tokens.shape[0], tokens.shape[1], 1), 1.0 - float(strength), device=tokens.device)
        ranges = self.marked_appended + (((self.tokens, self.tokens + tokens.shape[1]),) if marked else ())
        return replace(
            self,
            latent=torch.cat([self.latent, tokens], dim=1),
            clean=torch.cat([self.clean, tokens], dim=1),
            mask=torch.cat([self.mask, mask], dim=1),
            positions=torch.cat([self.positions, positions.to(self.positions.dtype)], dim=2),
            attention_mask=attention_mask,
            marked_appended=ranges,
        )


def _initial_state(what: str, expected: tuple, latent: Optional[torch.Tensor], patchify, positions,
                   dtype, device, marked_tokens: int = 0) -> StreamState:
    """A stream with every token generated: content zeros or `latent`; `positions(device)` gives its positions."""
    if latent is None:
        latent = torch.zeros(expected, dtype=dtype, device=device)
    elif tuple(latent.shape) != expected:
        raise InputError(f"Initial {what} latent has shape {tuple(latent.shape)}, expected {expected}.")
    tokens = patchify(latent)  # (B, T, C)
    return StreamState(
        latent=tokens,
        clean=tokens.clone(),
        mask=torch.ones(tokens.shape[0], tokens.shape[1], 1, dtype=torch.float32, device=tokens.device),
        positions=positions(tokens.device),
        target_tokens=tokens.shape[1],
        marked_tokens=marked_tokens,
    )


def initial_video_state(shape: LatentShape, fps: float, latent: Optional[torch.Tensor] = None,
                        dtype=torch.float32, device=None) -> StreamState:
    """The unconditioned video state: all tokens generated, content zeros or `latent` (B, C, F, H, W)."""
    return _initial_state(
        "video", shape.video, latent, patchify_video,
        lambda dev: video_positions(shape.batch, shape.frames, shape.height, shape.width, fps, device=dev),
        dtype, device, marked_tokens=shape.height * shape.width,
    )


def initial_audio_state(shape: LatentShape, latent: Optional[torch.Tensor] = None,
                        dtype=torch.float32, device=None) -> StreamState:
    """The unconditioned audio state: content zeros or `latent` (B, 8, T_a, 16)."""
    return _initial_state(
        "audio", shape.audio, latent, patchify_audio,
        lambda dev: audio_positions(shape.batch, shape.audio_frames, device=dev), dtype, device,
    )


def _check_strength(strength: float) -> None:
    if not 0.0 <= float(strength) <= 1.0:
        raise InputError(f"strength {strength} is invalid: use a value between 0 and 1 (1 = keep exactly).")


def _check_spatial(latent: torch.Tensor, shape: LatentShape, what: str) -> None:
    if latent.ndim != 5:
        raise InputError(f"{what} latent must be (B, C, F, H, W), got shape {tuple(latent.shape)}.")
    if (latent.shape[0], latent.shape[1], latent.shape[3], latent.shape[4]) != (
        shape.batch, shape.video_channels, shape.height, shape.width
    ):
        raise InputError(
            f"{what} latent {tuple(latent.shape)} does not fit the video latent {shape.video}: encode the "
            f"image at the generation size ({shape.width * VIDEO_SPATIAL_SCALE}x{shape.height * VIDEO_SPATIAL_SCALE})."
        )


@dataclass(frozen=True)
class ReplaceFrames:
    """Pin latent frames in place from `latent_index` on (first-frame image-to-video, continuation).

    `latent` (B, C, Fc, H, W) replaces latent frames latent_index .. latent_index + Fc - 1; their
    denoise mask becomes 1 - strength. Positions are unchanged.
    """

    latent: torch.Tensor
    strength: float = 1.0
    latent_index: int = 0

    def apply(self, state: StreamState, shape: LatentShape, fps: float) -> StreamState:
        _check_strength(self.strength)
        _check_spatial(self.latent, shape, "Conditioning")
        count = self.latent.shape[2]
        if not 0 <= self.latent_index or self.latent_index + count > shape.frames:
            raise InputError(
                f"Conditioning covers latent frames {self.latent_index}..{self.latent_index + count - 1} but the "
                f"video has {shape.frames} latent frames: use fewer conditioning frames or more frames."
            )
        per_frame = shape.height * shape.width
        start, stop = self.latent_index * per_frame, (self.latent_index + count) * per_frame
        tokens = patchify_video(self.latent).to(state.latent.dtype)
        latent, clean, mask = state.latent.clone(), state.clean.clone(), state.mask.clone()
        latent[:, start:stop] = tokens
        clean[:, start:stop] = tokens
        mask[:, start:stop] = 1.0 - float(self.strength)
        return replace(state, latent=latent, clean=clean, mask=mask)


@dataclass(frozen=True)
class Keyframe:
    """Guide tokens for an image or a short clip at pixel frame `frame_index`, appended to the sequence.

    `latent` (B, C, Fk, H, W); positions are the keyframe's own grid shifted to `frame_index`
    (causal first-frame shift only at index 0). `narrow_single_frame` (official HEAD and ComfyUI
    behaviour) gives a single-image keyframe the time span [k, k+1); False reproduces ltx-core
    1.0.0, which used [k, k+8) for k > 0.
    """

    latent: torch.Tensor
    frame_index: int
    strength: float = 1.0
    narrow_single_frame: bool = True

    def apply(self, state: StreamState, shape: LatentShape, fps: float) -> StreamState:
        _check_strength(self.strength)
        _check_spatial(self.latent, shape, "Keyframe")
        pixel_frames = (shape.frames - 1) * VIDEO_TIME_SCALE + 1
        clip_frames = (self.latent.shape[2] - 1) * VIDEO_TIME_SCALE + 1
        if not 0 <= self.frame_index <= pixel_frames - clip_frames:
            raise InputError(
                f"Keyframe index {self.frame_index} is out of range: use 0..{pixel_frames - clip_frames} for a "
                f"{clip_frames}-frame keyframe in a {pixel_frames}-frame video."
            )
        batch, _, frames, height, width = self.latent.shape
        positions = keyframe_positions(batch, frames, height, width, fps, self.frame_index,
                                       narrow_single_frame=self.narrow_single_frame, device=state.latent.device)
        tokens = patchify_video(self.latent).to(state.latent.dtype)
        if state.attention_mask is not None:
            raise InputError("Keyframes must come before IC-LoRA reference tokens: add the reference last.")
        return state.appended(tokens, positions, self.strength, None)


@dataclass(frozen=True)
class FrozenAudio:
    """Audio-to-video: the audio stream is the given (encoded) latent and stays fixed: model sigma 0, and the
    positive prompt in every guidance pass (`denoise._context`; Lightricks/LTX-2 @ 400fd310).

    `latent` (B, 8, T, 16) is truncated to the generation's audio length; shorter audio is an error.
    """

    latent: torch.Tensor

    def apply(self, state: StreamState, shape: LatentShape, fps: float) -> StreamState:
        if self.latent.ndim != 4 or self.latent.shape[2] < shape.audio_frames:
            have = self.latent.shape[2] / AUDIO_LATENTS_PER_SECOND if self.latent.ndim == 4 else 0
            need = shape.audio_frames / AUDIO_LATENTS_PER_SECOND
            raise InputError(
                f"The audio is too short ({have:.2f} s) for the video ({need:.2f} s): use longer audio or fewer frames."
            )
        tokens = patchify_audio(self.latent[:, :, : shape.audio_frames]).to(state.latent.dtype)
        return replace(state, latent=tokens, clean=tokens.clone(), mask=torch.zeros_like(state.mask), frozen=True)


@dataclass(frozen=True)
class FrozenVideo:
    """Video-to-audio: the video stream is the given (encoded) latent and stays fixed, as FrozenAudio does for
    audio (mask 0, model sigma 0, the positive prompt in every pass; official: a frozen `LatentState`, whose
    denoise mask is all zeros and whose Modality.sigma is forced to 0, Lightricks/LTX-2 @ 400fd310).

    `latent` (B, C, F, H, W) must have exactly the generation's video latent shape.
    """

    latent: torch.Tensor

    def apply(self, state: StreamState, shape: LatentShape, fps: float) -> StreamState:
        _check_spatial(self.latent, shape, "Frozen video")
        if self.latent.shape[2] != shape.frames:
            raise InputError(f"The frozen video latent has {self.latent.shape[2]} latent frames but the generation "
                             f"has {shape.frames}: encode the whole clip ({(shape.frames - 1) * VIDEO_TIME_SCALE + 1} "
                             "frames).")
        tokens = patchify_video(self.latent).to(state.latent.dtype)
        return replace(state, latent=tokens, clean=tokens.clone(), mask=torch.zeros_like(state.mask), frozen=True)


def apply_conditionings(state: StreamState, items: Sequence, shape: LatentShape, fps: float) -> StreamState:
    """Apply conditioning items in order."""
    for item in items:
        state = item.apply(state, shape, fps)
    return state


def noise_state(state: StreamState, noise: torch.Tensor, noise_scale: float = 1.0) -> torch.Tensor:
    """The noised starting tokens: x = s*eps*mask + latent*(1 - s*mask) (ltx-core GaussianNoiser)."""
    if tuple(noise.shape) != tuple(state.latent.shape):
        raise InputError(
            f"Noise has shape {tuple(noise.shape)} but the state has {tuple(state.latent.shape)} tokens x channels: "
            "draw noise for the full conditioned token sequence."
        )
    work = calc_dtype(state.latent.dtype)
    scaled = state.mask.to(work) * float(noise_scale)
    return (noise.to(work) * scaled + state.latent.to(work) * (1.0 - scaled)).to(state.latent.dtype)
