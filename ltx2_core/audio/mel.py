"""Log-mel front-end of the audio VAE: `torch.stft` magnitude + slaney mel filterbank + log.

Matches the reference preprocessing (magnitude STFT with a periodic Hann window, centered frames with
reflect padding, slaney mel scale and slaney area normalization, `log(clamp(mel, 1e-5))`).
"""

import math
from typing import Optional

import torch

from ..errors import InputError

_F_SP = 200.0 / 3.0  # slaney: linear region, Hz per mel
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0
LOG_FLOOR = 1e-5


def hz_to_mel(freq: float) -> float:
    """Slaney mel value of a frequency in Hz (linear below 1 kHz, logarithmic above)."""
    if freq < _MIN_LOG_HZ:
        return freq / _F_SP
    return _MIN_LOG_MEL + math.log(freq / _MIN_LOG_HZ) / _LOGSTEP


def _mel_to_hz(mels: torch.Tensor) -> torch.Tensor:
    log_part = _MIN_LOG_HZ * torch.exp(_LOGSTEP * (mels - _MIN_LOG_MEL))
    return torch.where(mels >= _MIN_LOG_MEL, log_part, _F_SP * mels)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: Optional[float] = None,
                   *, device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Slaney-normalized triangular mel filters, (n_fft // 2 + 1, n_mels); computed in float64."""
    f_max = sample_rate / 2.0 if f_max is None else f_max
    freqs = torch.linspace(0, sample_rate // 2, n_fft // 2 + 1, dtype=torch.float64)  # (F,)
    mel_pts = torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2, dtype=torch.float64)
    hz_pts = _mel_to_hz(mel_pts)  # (n_mels + 2,)
    widths = hz_pts[1:] - hz_pts[:-1]  # (n_mels + 1,)
    offsets = hz_pts[None, :] - freqs[:, None]  # (F, n_mels + 2)
    rising = -offsets[:, :-2] / widths[:-1]
    falling = offsets[:, 2:] / widths[1:]
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)  # (F, n_mels)
    filters = filters * (2.0 / (hz_pts[2:] - hz_pts[:-2]))[None, :]
    return filters.to(device=device, dtype=dtype)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def mel_spectrogram(waveform: torch.Tensor, sample_rate: int = 16000, n_fft: int = 1024, hop_length: int = 160,
                    n_mels: int = 64, f_min: float = 0.0, f_max: Optional[float] = None,
                    log: bool = True) -> torch.Tensor:
    """Magnitude mel spectrogram of `waveform` (..., N) -> (..., N // hop + 1, n_mels).

    With `log=True` (default) returns `log(clamp(mel, 1e-5))`, the audio VAE's input. Computed in float32
    (float64 for float64 input) and returned in the input's dtype.
    """
    if waveform.shape[-1] <= n_fft // 2:
        raise InputError(
            f"Audio is too short for the mel front-end: {waveform.shape[-1]} samples, need more than {n_fft // 2} "
            f"at {sample_rate} Hz. Provide a longer clip."
        )
    work = _compute_dtype(waveform.dtype)
    lead = waveform.shape[:-1]
    flat = waveform.reshape(-1, waveform.shape[-1]).to(work)  # (B*, N)
    window = torch.hann_window(n_fft, periodic=True, device=flat.device, dtype=work)
    spec = torch.stft(flat, n_fft, hop_length=hop_length, win_length=n_fft, window=window, center=True,
                      pad_mode="reflect", normalized=False, onesided=True, return_complex=True)  # (B*, F, T)
    fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, device=flat.device, dtype=work)  # (F, M)
    mel = torch.matmul(spec.abs().transpose(1, 2), fb)  # (B*, T, M)
    if log:
        mel = torch.log(torch.clamp(mel, min=LOG_FLOOR))
    return mel.reshape(*lead, mel.shape[1], n_mels).to(waveform.dtype)  # (..., T, M)
