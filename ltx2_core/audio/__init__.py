"""Audio side of LTX-2 / LTX-2.3: mel front-end, resampler, audio VAE, vocoders and timing helpers.

Flow: waveform -> 16 kHz stereo -> log-mel (B, 2, T, 64) -> `AudioVAE.encode` -> normalized latent
(B, 8, T', 16) (25 latents per second) -> DiT -> `AudioVAE.decode` -> log-mel -> `Vocoder` -> waveform
(24 kHz HiFi-GAN for LTX-2, 48 kHz BigVGAN-v2 + BWE for LTX-2.3).
"""

from typing import Optional, Tuple

import torch

from ..errors import InputError
from .audio_vae import AudioVAE, latent_to_tokens, tokens_to_latent
from .config import LATENT_TIME_DOWNSAMPLE, AudioVAEConfig, BWEConfig, GeneratorConfig, VocoderConfig
from .loader import load_audio_vae, load_vocoder
from .mel import mel_filterbank, mel_spectrogram
from .resample import resample
from .vocoder import Vocoder

__all__ = [
    "AudioVAE", "AudioVAEConfig", "BWEConfig", "GeneratorConfig", "Vocoder", "VocoderConfig",
    "audio_latent_frames", "decode_to_waveform", "fit_to_duration", "load_audio_vae", "load_vocoder",
    "latent_to_tokens", "mel_filterbank", "mel_spectrogram", "resample", "tokens_to_latent",
    "video_duration_samples",
]


def _check_video(num_video_frames: int, fps: float) -> None:
    if int(num_video_frames) != num_video_frames or num_video_frames < 1:
        raise InputError(f"Number of video frames must be a positive integer, got {num_video_frames}.")
    if not fps > 0:
        raise InputError(f"Frame rate must be positive, got {fps}.")


def audio_latent_frames(num_video_frames: int, fps: float, config: Optional[AudioVAEConfig] = None) -> int:
    """Audio latent frames for a video of `num_video_frames` at `fps`, as the official pipeline counts them.

    round(frames / fps * latents_per_second) with Python's round; 25 latents/s for 16 kHz, hop 160.
    E.g. 121 frames: 121 at 25 fps, 126 at 24 fps.
    """
    _check_video(num_video_frames, fps)
    cfg = config or AudioVAEConfig()
    per_second = float(cfg.sample_rate) / float(cfg.hop_length) / float(LATENT_TIME_DOWNSAMPLE)
    return round(float(num_video_frames) / float(fps) * per_second)


def video_duration_samples(num_video_frames: int, fps: float, sample_rate: int) -> int:
    """Waveform samples spanning exactly frames / fps seconds (rounded to the nearest sample)."""
    _check_video(num_video_frames, fps)
    return round(float(num_video_frames) * float(sample_rate) / float(fps))


def fit_to_duration(waveform: torch.Tensor, sample_rate: int, duration_seconds: float) -> torch.Tensor:
    """Trim or zero-pad the last axis of `waveform` to round(duration * sample_rate) samples."""
    if not duration_seconds > 0:
        raise InputError(f"Audio duration must be positive, got {duration_seconds}.")
    target = round(float(duration_seconds) * sample_rate)
    if waveform.shape[-1] >= target:
        return waveform[..., :target]
    return torch.nn.functional.pad(waveform, (0, target - waveform.shape[-1]))


@torch.no_grad()
def decode_to_waveform(latent: torch.Tensor, vae: AudioVAE, vocoder: Vocoder,
                       duration_seconds: Optional[float] = None) -> Tuple[torch.Tensor, int]:
    """Normalized audio latent (B, 8, T', 16) -> (float32 waveform (B, 2, N), sample rate).

    With `duration_seconds` (e.g. frames / fps of the video) the waveform is trimmed or zero-padded to
    exactly round(duration * sample_rate) samples.
    """
    mel = vae.decode(latent)  # (B, 2, 4T' - 3, 64)
    weight_dtype = next(vocoder.parameters()).dtype
    if weight_dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        mel = mel.to(weight_dtype)  # e.g. a bf16 VAE feeding a float32 vocoder
    waveform = vocoder(mel).float()  # (B, 2, N)
    rate = int(vocoder.output_sample_rate)
    if duration_seconds is not None:
        waveform = fit_to_duration(waveform, rate, duration_seconds)
    return waveform, rate
