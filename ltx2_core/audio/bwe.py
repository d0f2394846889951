"""LTX-2.3 vocoder: BigVGAN-v2 at 16 kHz + learned bandwidth extension (BWE) to 48 kHz.

forward: base waveform x (B, 2, L) -> causal log-mel of x (hop 80, n_fft 512, bases from the checkpoint)
-> BWE generator residual (B, 2, 3L) + replicate-padded Hann-sinc x3 upsampling of x -> clamp [-1, 1].
The whole pass runs in float32 (float64 when built in float64), whatever the caller's dtype: the
reference forces fp32 because bf16 accumulation through ~100 convolutions degrades the audio.
"""

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..ops import cast_like
from .config import VocoderConfig
from .hifigan import MelGenerator
from .mel import LOG_FLOOR
from .resample import hann_sinc_upsample_filter, upsample_replicate
from .vocoder_base import VocoderModule


class _STFTBases(nn.Module):
    """Holds the checkpoint's Hann-windowed DFT bases (real rows then imaginary rows)."""

    def __init__(self, n_fft: int, *, device=None, dtype=None):
        super().__init__()
        rows = 2 * (n_fft // 2 + 1)
        self.register_buffer("forward_basis", torch.zeros(rows, 1, n_fft, device=device, dtype=dtype))
        self.register_buffer("inverse_basis", torch.zeros(rows, 1, n_fft, device=device, dtype=dtype))


class CausalLogMel(nn.Module):
    """Causal log-mel: left pad n_fft - hop, strided conv with the DFT bases, |.|, mel projection, log."""

    def __init__(self, n_fft: int, hop_length: int, num_mels: int, *, device=None, dtype=None):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.stft_fn = _STFTBases(n_fft, device=device, dtype=dtype)
        self.register_buffer("mel_basis", torch.zeros(num_mels, n_fft // 2 + 1, device=device, dtype=dtype))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, C, L) -> (B, C, num_mels, L // hop)."""
        b, c, length = audio.shape
        flat = F.pad(audio.reshape(b * c, 1, length), (max(0, self.n_fft - self.hop_length), 0))  # (BC, 1, L')
        spec = F.conv1d(flat, cast_like(self.stft_fn.forward_basis, audio), stride=self.hop_length)  # (BC, 2F, T)
        bins = spec.shape[1] // 2
        magnitude = torch.sqrt(spec[:, :bins] ** 2 + spec[:, bins:] ** 2)  # (BC, F, T)
        mel = torch.matmul(cast_like(self.mel_basis, magnitude), magnitude)  # (BC, M, T)
        mel = torch.log(torch.clamp(mel, min=LOG_FLOOR))
        return mel.reshape(b, c, mel.shape[1], mel.shape[2])  # (B, C, M, T)


class BandwidthExtendedVocoder(VocoderModule):
    """BigVGAN-v2 base vocoder + BWE generator + causal mel + sinc skip; output at `bwe.output_sample_rate`."""

    def __init__(self, config: VocoderConfig, *, operations=nn, device=None, dtype=None):
        super().__init__()
        dtype = torch.float64 if dtype == torch.float64 else torch.float32  # the reference forces fp32
        kw = dict(operations=operations, device=device, dtype=dtype)
        self.config = config
        bwe = config.bwe
        self.output_sample_rate = bwe.output_sample_rate
        self.vocoder = MelGenerator(config.generator, **kw)
        self.bwe_generator = MelGenerator(config.bwe_generator, **kw)
        self.mel_stft = CausalLogMel(bwe.n_fft, bwe.hop_length, bwe.num_mels, device=device, dtype=dtype)
        self._skip_filters: Dict[Tuple[torch.device, torch.dtype], torch.Tensor] = {}

    def _skip_filter(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.device, x.dtype)
        if key not in self._skip_filters:
            self._skip_filters[key] = hann_sinc_upsample_filter(self.config.bwe.ratio, device=x.device, dtype=x.dtype)
        return self._skip_filters[key]

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """log-mel (B, 2, T, M) -> waveform (B, 2, T * hop_base * ratio) in `mel`'s dtype."""
        bwe = self.config.bwe
        work = self.compute_dtype()
        x = self.vocoder(mel.to(work))  # (B, 2, L) at the input rate
        length = x.shape[-1]
        out_len = length * bwe.output_sample_rate // bwe.input_sample_rate
        if length % bwe.hop_length:
            x = F.pad(x, (0, bwe.hop_length - length % bwe.hop_length))
        bwe_mel = self.mel_stft(x).transpose(2, 3)  # (B, 2, L / hop, M)
        residual = self.bwe_generator(bwe_mel)  # (B, 2, ratio * L)
        skip = upsample_replicate(x, bwe.ratio, self._skip_filter(x))  # (B, 2, ratio * L)
        return torch.clamp(residual + skip, -1.0, 1.0)[..., :out_len].to(mel.dtype)

    def compute_dtype(self) -> torch.dtype:
        """The dtype the pass runs in: float64 for a float64 model, else float32."""
        weight_dtype = self.vocoder.conv_pre.weight.dtype
        host_casts = hasattr(self.vocoder.conv_pre, "comfy_cast_weights")  # host ops cast weights per call
        if weight_dtype not in (torch.float32, torch.float64) and not host_casts:
            raise InputError(
                f"The LTX-2.3 vocoder holds {weight_dtype} weights but must run in float32; do not cast it to a "
                "lower precision (load it with dtype=torch.float32)."
            )
        return torch.float64 if weight_dtype == torch.float64 else torch.float32
