"""`Vocoder`: log-mel (B, 2, T, mel) -> stereo waveform (B, 2, N); the class is picked by the config.

`Vocoder(config, ...)` returns a `MelGenerator` (LTX-2 HiFi-GAN, 24 kHz) when the config has no
bandwidth extension, else a `BandwidthExtendedVocoder` (LTX-2.3 BigVGAN-v2 + BWE, 48 kHz). Both are
`Vocoder` instances (every `VocoderModule` is) with `output_sample_rate` and `forward(mel)`; their
state-dict keys equal the official `vocoder.*` tensors with that one prefix removed.

Dependencies run one way: vocoder_base <- hifigan <- bwe <- vocoder.
"""

import abc

from torch import nn

from .bwe import BandwidthExtendedVocoder
from .config import VocoderConfig
from .hifigan import MelGenerator
from .vocoder_base import VocoderModule


class Vocoder(abc.ABC):
    """Factory of the vocoders and their common type (see the module docstring)."""

    def __new__(cls, config: VocoderConfig, *, operations=nn, device=None, dtype=None) -> VocoderModule:
        if not isinstance(config, VocoderConfig):
            raise TypeError(f"Vocoder(config, ...) needs a VocoderConfig, got {type(config).__name__}.")
        kind = BandwidthExtendedVocoder if config.bwe is not None else MelGenerator
        return kind(config, operations=operations, device=device, dtype=dtype)

    @classmethod
    def __subclasshook__(cls, other: type):
        return True if issubclass(other, VocoderModule) else NotImplemented
