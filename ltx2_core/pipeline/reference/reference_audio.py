"""Reference audio (speaker identity / voice): clean audio tokens appended before the clip in time.

ltx-pipelines 1.0.0 and ComfyUI 0.8.0 have no reference-audio conditioning. Newer official code
(Lightricks/LTX-2 @ 400fd310, `AudioConditionByReferenceLatent`, used by the Dub-It pipeline with
its IC-LoRA) does: the reference's audio latent (B, 8, T_ref, 16) is patchified and appended after
the generated audio tokens; its content placeholder is zeros and its clean value the reference tokens,
denoise mask 1 - strength (1 = kept clean, so the tokens are the reference from the first step on);
positions are the reference's own audio bounds shifted to negative time, ending 0.04 s before the
clip starts (shift = -(last end) - 0.04 s); no attention mask is added (an existing one is padded
with full attention).
"""

from dataclasses import dataclass

import torch

from ...errors import InputError
from ...transformer.positions import audio_positions, patchify_audio
from ..conditioning import StreamState
from ..latents import LatentShape
from .attention_mask import appended_mask

GAP_SECONDS = 0.04  # one audio latent frame between the reference's end and the clip's start


def reference_audio_positions(batch: int, tokens: int, device=None) -> torch.Tensor:
    """(B, 1, T_ref, 2) bounds in seconds of reference tokens placed before time 0."""
    positions = audio_positions(batch, tokens, device=device)
    return positions - (positions[:, :, -1, 1].max() + GAP_SECONDS)


@dataclass(frozen=True)
class ReferenceAudio:
    """An encoded reference voice (B, 8, T_ref, 16) appended to the audio stream."""

    latent: torch.Tensor
    strength: float = 1.0

    def apply(self, state: StreamState, shape: LatentShape, fps: float) -> StreamState:
        if not 0.0 <= float(self.strength) <= 1.0:
            raise InputError(f"Reference audio strength {self.strength} is invalid: use a value between 0 and 1.")
        if self.latent.ndim != 4 or self.latent.shape[1] != shape.audio_channels or self.latent.shape[2] < 1:
            raise InputError(f"Reference audio latent must be (B, {shape.audio_channels}, T, "
                             f"{shape.audio_mel_bins}), got shape {tuple(self.latent.shape)}: encode it with the "
                             "audio VAE.")
        tokens = patchify_audio(self.latent).to(state.latent.dtype)  # (B, M, C)
        batch = tokens.shape[0]
        if tokens.shape[2] != state.latent.shape[2]:
            raise InputError(f"Reference audio has {tokens.shape[2]} channels per token, the audio stream "
                             f"{state.latent.shape[2]}: encode it with this model's audio VAE.")
        positions = reference_audio_positions(batch, tokens.shape[1], tokens.device).to(state.positions.dtype)
        attention = appended_mask(state.attention_mask, state.tokens, state.target_tokens, tokens.shape[1], batch,
                                  None, tokens.device, torch.float32)
        return state.appended(tokens, positions, self.strength, attention)
