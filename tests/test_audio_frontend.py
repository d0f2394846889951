"""Mel front-end and resampler against torchaudio (pure-Python oracle), as ltx-core's AudioProcessor uses them."""

import pytest
import torch

from ltx2_core.audio import mel_filterbank, mel_spectrogram, resample
from ltx2_core.errors import InputError

torchaudio = pytest.importorskip("torchaudio")


def _reference_log_mel(wave, sample_rate=16000, n_fft=1024, hop=160, n_mels=64):
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, win_length=n_fft, hop_length=hop, f_min=0.0, f_max=sample_rate / 2,
        n_mels=n_mels, window_fn=torch.hann_window, center=True, pad_mode="reflect", power=1.0,
        mel_scale="slaney", norm="slaney").to(wave.dtype)
    return torch.log(torch.clamp(transform(wave), min=1e-5)).transpose(-1, -2)


def test_filterbank_matches_torchaudio_slaney():
    ref = torchaudio.functional.melscale_fbanks(513, 0.0, 8000.0, 64, 16000, norm="slaney", mel_scale="slaney")
    ours = mel_filterbank(16000, 1024, 64, dtype=torch.float64)
    assert ours.shape == ref.shape == (513, 64)
    # measured 2.1e-6: torchaudio builds the filterbank in float32
    assert ((ours - ref.double()).abs().max() / ref.abs().max()).item() < 5e-6


def test_log_mel_matches_reference_formula():
    wave = 0.3 * torch.randn(2, 2, 16000, generator=torch.Generator().manual_seed(0))
    ref = _reference_log_mel(wave)
    ours = mel_spectrogram(wave)
    assert ours.shape == ref.shape == (2, 2, 101, 64)  # floor(N / 160) + 1 frames
    assert ((ours - ref).abs() / ref.abs()).max().item() <= 1e-5
    assert torch.allclose(mel_spectrogram(wave.double()), ref.double(), rtol=1e-5, atol=0)


def test_log_mel_of_silence_is_the_floor_and_keeps_dtype():
    silent = torch.zeros(1, 2, 3200, dtype=torch.bfloat16)
    out = mel_spectrogram(silent)
    assert out.dtype == torch.bfloat16 and out.shape == (1, 2, 21, 64)
    assert torch.all(out.float() == torch.tensor(1e-5).log().to(torch.bfloat16).float())
    with pytest.raises(InputError, match="too short"):
        mel_spectrogram(torch.zeros(1, 2, 512))


@pytest.mark.parametrize("orig,new", [(44100, 16000), (48000, 16000), (22050, 16000), (8000, 16000),
                                      (16000, 24000), (24000, 16000)])
def test_resample_matches_torchaudio(orig, new):
    wave = torch.randn(2, 2, 3000, generator=torch.Generator().manual_seed(1))
    ref64 = torchaudio.functional.resample(wave.double(), orig, new)
    ours64 = resample(wave.double(), orig, new)
    assert ours64.shape == ref64.shape
    assert (ours64 - ref64).abs().max().item() < 1e-12
    ref32 = torchaudio.functional.resample(wave, orig, new)
    ours32 = resample(wave, orig, new)
    assert ours32.dtype == torch.float32
    # torchaudio builds float32 kernels in float32 arithmetic; ours are built in float64, then rounded.
    assert ((ours32 - ref32).abs().max() / ref32.abs().max()).item() < 5e-5


def test_resample_identity_and_errors():
    wave = torch.randn(1, 2, 100)
    assert resample(wave, 16000, 16000) is wave
    with pytest.raises(InputError, match="integers"):
        resample(wave, 44100.5, 16000)
    with pytest.raises(InputError, match="positive"):
        resample(wave, 0, 16000)
