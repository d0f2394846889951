"""Frozen configs of the audio VAE and the vocoders, read from checkpoint metadata or key shapes.

The official single-file checkpoints carry a JSON `config` in their safetensors metadata with an
`audio_vae` section (`model.params.ddconfig`, `model.params.sampling_rate`, `preprocessing.stft/mel`)
and a `vocoder` section (flat HiFi-GAN settings for LTX-2, or `{"vocoder": ..., "bwe": ...}` for
LTX-2.3). Files without metadata are described from their tensor shapes plus the official defaults.
"""

from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple

from ..checkpoint import logical_shape
from ..configs import key_indices, metadata_section, non_positive
from ..errors import CheckpointError

LATENT_TIME_DOWNSAMPLE = 4  # mel frames per audio latent frame (two stride-2 levels, fixed by the reference)


@dataclass(frozen=True)
class AudioVAEConfig:
    """The causal mel autoencoder (`CausalAudioAutoencoder`); defaults are the LTX-2 / LTX-2.3 values."""

    ch: int = 128
    ch_mult: Tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 2
    in_channels: int = 2
    out_ch: int = 2
    z_channels: int = 8
    double_z: bool = True
    mel_bins: int = 64
    mid_attention: bool = False
    sample_rate: int = 16000
    hop_length: int = 160
    n_fft: int = 1024
    mel_fmax: Optional[float] = None  # None: sample_rate / 2, as the reference's AudioProcessor uses

    def __post_init__(self):
        if non_positive(self, ("ch", "z_channels", "num_res_blocks")) or not self.ch_mult:
            raise CheckpointError(f"Audio VAE config has non-positive sizes: {self}.")
        if len(self.ch_mult) != 3:
            raise CheckpointError(
                f"Audio VAE config has {len(self.ch_mult)} resolution levels; LTX-2 audio VAEs have 3 "
                "(two time/mel halvings, 4 mel frames per latent). This file is not an LTX-2 audio VAE."
            )
        if self.mel_bins % self.mel_downsample:
            raise CheckpointError(f"Audio VAE mel_bins {self.mel_bins} is not divisible by {self.mel_downsample}.")

    @property
    def mel_downsample(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    @property
    def latent_mel_bins(self) -> int:
        return self.mel_bins // self.mel_downsample

    @property
    def latent_features(self) -> int:
        """Length of the per-channel statistics: z_channels x latent mel bins (the DiT's token width)."""
        return self.z_channels * self.latent_mel_bins

    @property
    def mel_fmax_hz(self) -> float:
        return float(self.sample_rate) / 2.0 if self.mel_fmax is None else float(self.mel_fmax)

    @classmethod
    def from_metadata(cls, config: Mapping) -> "AudioVAEConfig":
        """From the full metadata `config` dict (with an `audio_vae` section) or the section itself."""
        section = metadata_section(config, "audio_vae")
        params = section.get("model", {}).get("params", {})
        dd = params.get("ddconfig", {})
        stft = section.get("preprocessing", {}).get("stft", {})
        mel = section.get("preprocessing", {}).get("mel", {})
        if dd.get("norm_type", "pixel") != "pixel":
            raise CheckpointError(f"Audio VAE norm_type {dd.get('norm_type')!r} is not supported (only 'pixel').")
        if dd.get("causality_axis", "height") != "height":
            raise CheckpointError(
                f"Audio VAE causality_axis {dd.get('causality_axis')!r} is not supported (only 'height')."
            )
        if not dd.get("resamp_with_conv", True):
            raise CheckpointError("Audio VAE resamp_with_conv=false is not supported.")
        ch_mult = tuple(int(m) for m in dd.get("ch_mult", (1, 2, 4)))
        attn_res = set(dd.get("attn_resolutions", (8, 16, 32)))
        resolution = int(dd.get("resolution", 256))
        if any(resolution // 2**i in attn_res for i in range(len(ch_mult))):
            raise CheckpointError("Audio VAE attention at intermediate resolutions is not supported.")
        mel_bins = dd.get("mel_bins") or mel.get("n_mel_channels") or section.get("variables", {}).get("mel_bins")
        return cls(
            ch=int(dd.get("ch", 128)),
            ch_mult=ch_mult,
            num_res_blocks=int(dd.get("num_res_blocks", 2)),
            in_channels=int(dd.get("in_channels", 2)),
            out_ch=int(dd.get("out_ch", 2)),
            z_channels=int(dd.get("z_channels", 8)),
            double_z=bool(dd.get("double_z", True)),
            mel_bins=int(mel_bins or 64),
            mid_attention=bool(dd.get("mid_block_add_attention", True)),
            sample_rate=int(params.get("sampling_rate", 16000)),
            hop_length=int(stft.get("hop_length", 160)),
            n_fft=int(stft.get("filter_length", 1024)),
        )

    @classmethod
    def from_state_dict(cls, sd: Mapping) -> "AudioVAEConfig":
        """Detected from the shapes of an un-prefixed audio VAE state dict (`encoder.*`, `decoder.*`, stats)."""
        prefix = "decoder." if "decoder.conv_in.conv.weight" in sd else "encoder."
        try:
            if prefix == "decoder.":
                conv_out = logical_shape(sd["decoder.conv_out.conv.weight"])
                ch, out_ch = conv_out[1], conv_out[0]
                z_channels = logical_shape(sd["decoder.conv_in.conv.weight"])[1]
                in_channels, double_z = 2, True
                if "encoder.conv_in.conv.weight" in sd:
                    in_channels = logical_shape(sd["encoder.conv_in.conv.weight"])[1]
                    double_z = logical_shape(sd["encoder.conv_out.conv.weight"])[0] == 2 * z_channels
                levels = key_indices(sd, "decoder.up.")
                ch_mult = tuple(logical_shape(sd[f"decoder.up.{i}.block.0.conv2.conv.weight"])[0] // ch for i in levels)
                num_res_blocks = len(key_indices(sd, "decoder.up.0.block.")) - 1
            else:
                conv_in = logical_shape(sd["encoder.conv_in.conv.weight"])
                ch, in_channels = conv_in[0], conv_in[1]
                z_out = logical_shape(sd["encoder.conv_out.conv.weight"])[0]
                z_channels, double_z, out_ch = z_out // 2, True, 2
                levels = key_indices(sd, "encoder.down.")
                ch_mult = tuple(
                    logical_shape(sd[f"encoder.down.{i}.block.0.conv2.conv.weight"])[0] // ch for i in levels
                )
                num_res_blocks = len(key_indices(sd, "encoder.down.0.block."))
            stats = logical_shape(sd["per_channel_statistics.mean-of-means"])[0]
        except KeyError as exc:
            raise CheckpointError(
                f"Cannot detect the audio VAE layout: key {exc} is missing. The file is not an LTX-2 audio VAE."
            ) from None
        mid_attention = f"{prefix}mid.attn_1.q.weight" in sd
        mel_bins = stats // z_channels * 2 ** (len(ch_mult) - 1)
        return cls(ch=ch, ch_mult=ch_mult, num_res_blocks=num_res_blocks, in_channels=in_channels, out_ch=out_ch,
                   z_channels=z_channels, double_z=double_z, mel_bins=mel_bins, mid_attention=mid_attention)


@dataclass(frozen=True)
class GeneratorConfig:
    """One mel-to-waveform generator: HiFi-GAN (`resblock "1"`) or BigVGAN-v2 (`resblock "AMP1"`)."""

    upsample_initial_channel: int = 1024
    upsample_rates: Tuple[int, ...] = (6, 5, 2, 2, 2)
    upsample_kernel_sizes: Tuple[int, ...] = (16, 15, 8, 4, 4)
    resblock_kernel_sizes: Tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: Tuple[Tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    resblock: str = "1"
    activation: str = "snake"
    use_tanh_at_final: bool = True
    use_bias_at_final: bool = True
    apply_final_activation: bool = True
    in_channels: int = 128
    out_channels: int = 2
    output_sample_rate: int = 24000

    def __post_init__(self):
        if self.resblock not in ("1", "AMP1"):
            raise CheckpointError(f"Vocoder resblock type {self.resblock!r} is not supported (only '1' and 'AMP1').")
        if self.resblock == "AMP1" and self.activation not in ("snake", "snakebeta"):
            raise CheckpointError(f"Vocoder activation {self.activation!r} is not supported (snake, snakebeta).")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise CheckpointError("Vocoder config: upsample_rates and upsample_kernel_sizes differ in length.")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise CheckpointError("Vocoder config: resblock kernel sizes and dilation sizes differ in length.")
        if self.upsample_initial_channel % 2 ** len(self.upsample_rates):
            raise CheckpointError("Vocoder config: upsample_initial_channel is not divisible by 2^stages.")

    @property
    def hop(self) -> int:
        """Output samples per input mel frame."""
        total = 1
        for rate in self.upsample_rates:
            total *= rate
        return total

    @classmethod
    def from_dict(cls, cfg: Mapping, *, output_sample_rate: int, apply_final_activation: bool = True):
        if cfg.get("stereo", True) is not True:
            raise CheckpointError("Mono vocoders are not supported: LTX-2 vocoders are stereo.")
        return cls(
            upsample_initial_channel=int(cfg.get("upsample_initial_channel", 1024)),
            upsample_rates=tuple(int(r) for r in cfg.get("upsample_rates", (6, 5, 2, 2, 2))),
            upsample_kernel_sizes=tuple(int(k) for k in cfg.get("upsample_kernel_sizes", (16, 15, 8, 4, 4))),
            resblock_kernel_sizes=tuple(int(k) for k in cfg.get("resblock_kernel_sizes", (3, 7, 11))),
            resblock_dilation_sizes=tuple(
                tuple(int(d) for d in ds) for ds in cfg.get("resblock_dilation_sizes", ((1, 3, 5),) * 3)
            ),
            resblock=str(cfg.get("resblock", "1")),
            activation=str(cfg.get("activation", "snake")),
            use_tanh_at_final=bool(cfg.get("use_tanh_at_final", True)),
            use_bias_at_final=bool(cfg.get("use_bias_at_final", True)),
            apply_final_activation=apply_final_activation,
            output_sample_rate=int(output_sample_rate),
        )


@dataclass(frozen=True)
class BWEConfig:
    """Bandwidth extension of LTX-2.3: causal log-mel of the base output -> residual generator + sinc skip."""

    input_sample_rate: int = 16000
    output_sample_rate: int = 48000
    hop_length: int = 80
    n_fft: int = 512
    num_mels: int = 64

    def __post_init__(self):
        if self.output_sample_rate % self.input_sample_rate:
            raise CheckpointError("BWE config: output rate must be an integer multiple of the input rate.")

    @property
    def ratio(self) -> int:
        return self.output_sample_rate // self.input_sample_rate


# Upsample strides cannot be read from tensor shapes; the official kernel-size lists identify them.
_KNOWN_UPSAMPLE_RATES = {
    (16, 15, 8, 4, 4): (6, 5, 2, 2, 2),
    (11, 4, 4, 4, 4, 4): (5, 2, 2, 2, 2, 2),
    (12, 11, 4, 4, 4): (6, 5, 2, 2, 2),
}


@dataclass(frozen=True)
class VocoderConfig:
    """HiFi-GAN alone (LTX-2, 24 kHz) or BigVGAN-v2 + bandwidth extension (LTX-2.3, 48 kHz)."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    bwe_generator: Optional[GeneratorConfig] = None
    bwe: Optional[BWEConfig] = None

    def __post_init__(self):
        if (self.bwe is None) != (self.bwe_generator is None):
            raise CheckpointError("Vocoder config: bwe and bwe_generator must be given together.")

    @property
    def output_sample_rate(self) -> int:
        return self.bwe.output_sample_rate if self.bwe is not None else self.generator.output_sample_rate

    @classmethod
    def from_metadata(cls, config: Mapping) -> "VocoderConfig":
        """From the full metadata `config` dict (with a `vocoder` section) or the section itself."""
        section = metadata_section(config, "vocoder") if "bwe" not in config else config
        if "bwe" not in section:
            gen = GeneratorConfig.from_dict(section, output_sample_rate=section.get("output_sampling_rate", 24000))
            return cls(generator=gen)
        bwe_cfg = section["bwe"]
        try:
            bwe = BWEConfig(
                input_sample_rate=int(bwe_cfg["input_sampling_rate"]),
                output_sample_rate=int(bwe_cfg["output_sampling_rate"]),
                hop_length=int(bwe_cfg["hop_length"]),
                n_fft=int(bwe_cfg["n_fft"]),
                num_mels=int(bwe_cfg["num_mels"]),
            )
        except KeyError as exc:
            raise CheckpointError(f"Vocoder metadata 'bwe' section lacks {exc}.") from None
        base = GeneratorConfig.from_dict(section.get("vocoder", {}), output_sample_rate=bwe.input_sample_rate)
        bwe_gen = GeneratorConfig.from_dict(
            bwe_cfg, output_sample_rate=bwe.output_sample_rate, apply_final_activation=False
        )
        return cls(generator=base, bwe_generator=bwe_gen, bwe=bwe)

    @classmethod
    def from_state_dict(cls, sd: Mapping) -> "VocoderConfig":
        """Detected from shapes of an un-prefixed vocoder state dict (strides from the official kernel lists)."""
        if "bwe_generator.conv_pre.weight" not in sd:
            return cls(generator=_generator_from_state_dict(sd, "", output_sample_rate=24000))
        try:
            bwe = BWEConfig(n_fft=logical_shape(sd["mel_stft.stft_fn.forward_basis"])[2],
                            num_mels=logical_shape(sd["mel_stft.mel_basis"])[0])
        except KeyError as exc:
            raise CheckpointError(f"Vocoder with BWE lacks {exc}. Re-download the file.") from None
        base = _generator_from_state_dict(sd, "vocoder.", output_sample_rate=bwe.input_sample_rate)
        bwe_gen = _generator_from_state_dict(sd, "bwe_generator.", output_sample_rate=bwe.output_sample_rate,
                                             apply_final_activation=False)
        return cls(generator=base, bwe_generator=bwe_gen, bwe=bwe)


def _generator_from_state_dict(sd: Mapping, prefix: str, *, output_sample_rate: int,
                               apply_final_activation: bool = True) -> GeneratorConfig:
    try:
        conv_pre = logical_shape(sd[f"{prefix}conv_pre.weight"])
    except KeyError:
        raise CheckpointError(f"Vocoder weights lack {prefix}conv_pre.weight: not an LTX-2 vocoder.") from None
    n_ups = len(key_indices(sd, f"{prefix}ups."))
    kernels = tuple(logical_shape(sd[f"{prefix}ups.{i}.weight"])[2] for i in range(n_ups))
    if kernels not in _KNOWN_UPSAMPLE_RATES:
        raise CheckpointError(
            f"Vocoder upsample kernels {kernels} are not an official layout and the file has no 'config' "
            "metadata to give the strides. Use a checkpoint with its metadata."
        )
    n_blocks = len(key_indices(sd, f"{prefix}resblocks."))
    n_kernels = n_blocks // max(n_ups, 1)
    res_kernels = tuple(logical_shape(sd[f"{prefix}resblocks.{j}.convs1.0.weight"])[2] for j in range(n_kernels))
    amp = f"{prefix}act_post.act.alpha" in sd
    return GeneratorConfig(
        upsample_initial_channel=conv_pre[0],
        upsample_rates=_KNOWN_UPSAMPLE_RATES[kernels],
        upsample_kernel_sizes=kernels,
        resblock_kernel_sizes=res_kernels,
        resblock_dilation_sizes=((1, 3, 5),) * n_kernels,
        resblock="AMP1" if amp else "1",
        activation="snakebeta" if f"{prefix}act_post.act.beta" in sd else "snake",
        use_tanh_at_final=not amp or not apply_final_activation,
        use_bias_at_final=f"{prefix}conv_post.bias" in sd,
        apply_final_activation=apply_final_activation,
        in_channels=conv_pre[1],
        output_sample_rate=output_sample_rate,
    )
