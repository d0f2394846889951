"""`Vocoder`: log-mel (B, 2, T, mel) -> stereo waveform (B, 2, N); the class is picked by the config.

`Vocoder(config, ...)` returns a `MelGenerator` (LTX-2 HiFi-GAN, 24 kHz) when the config has no
bandwidth extension, else a `BandwidthExtendedVocoder` (LTX-2.3 BigVGAN-v2 + BWE, 48 kHz). Both are
`Vocoder` instances with `output_sample_rate` and `forward(mel)`; their state-dict keys equal the
official `vocoder.*` tensors with that one prefix removed.
"""

import torch
from torch import nn

from ..errors import InputError


class Vocoder(nn.Module):
    """Base class and factory of the vocoders (see the module docstring)."""

    output_sample_rate: int

    def __new__(cls, config=None, *args, **kwargs):
        if cls is Vocoder:
            if config is None:
                raise TypeError("Vocoder(config, ...) needs a VocoderConfig.")
            if getattr(config, "bwe", None) is not None:
                from .bwe import BandwidthExtendedVocoder as cls
            else:
                from .hifigan import MelGenerator as cls
        return super().__new__(cls)


def stack_stereo_mel(mel: torch.Tensor, in_channels: int) -> torch.Tensor:
    """(B, 2, T, M) log-mel -> (B, 2 * M, T) with channel index s * M + m (left first)."""
    if mel.dim() != 4 or mel.shape[1] * mel.shape[3] != in_channels:
        raise InputError(
            f"Vocoder input must be a stereo log-mel (batch, 2, frames, {in_channels // 2}), got {tuple(mel.shape)}."
        )
    b, s, t, m = mel.shape
    return mel.transpose(2, 3).reshape(b, s * m, t)  # (B, S, M, T) -> (B, S*M, T)
