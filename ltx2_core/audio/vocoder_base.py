"""What every vocoder shares: the `VocoderModule` base class and the stereo log-mel layout it reads."""

import torch
from torch import nn

from ..errors import InputError


class VocoderModule(nn.Module):
    """Base of the vocoder modules: forward(log-mel (B, 2, T, M)) -> waveform (B, 2, N) at `output_sample_rate`."""

    output_sample_rate: int


def stack_stereo_mel(mel: torch.Tensor, in_channels: int) -> torch.Tensor:
    """(B, 2, T, M) log-mel -> (B, 2 * M, T) with channel index s * M + m (left first)."""
    if mel.dim() != 4 or mel.shape[1] * mel.shape[3] != in_channels:
        raise InputError(
            f"Vocoder input must be a stereo log-mel (batch, 2, frames, {in_channels // 2}), got {tuple(mel.shape)}."
        )
    b, s, t, m = mel.shape
    return mel.transpose(2, 3).reshape(b, s * m, t)  # (B, S, M, T) -> (B, S*M, T)
