"""The causal audio VAE of LTX-2 / LTX-2.3: stereo log-mel (B, 2, T, 64) <-> latent (B, 8, T', 16).

State-dict layout equals the official `audio_vae.*` tensors without the prefix: `encoder.*`,
`decoder.*` and the shared `per_channel_statistics.{mean-of-means,std-of-means}`.
Latents are normalized per feature in the DiT's token layout (B, T', C * F) with index c * F + f.
"""

import torch
from torch import nn

from ..attention import sdpa_attention
from ..errors import InputError
from ..ops import cast_like
from .config import LATENT_TIME_DOWNSAMPLE, AudioVAEConfig
from .layers import AttnBlock, CausalConv2d, Downsample, ResnetBlock, Upsample, pixel_norm
from .mel import mel_spectrogram
from .resample import resample


class _Mid(nn.Module):
    """Two residual blocks around an optional self-attention block (`attn_1`)."""

    def __init__(self, channels: int, add_attention: bool, *, attention_fn, **kw):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, **kw)
        self.attn_1 = AttnBlock(channels, attention_fn=attention_fn, **kw) if add_attention else None
        self.block_2 = ResnetBlock(channels, channels, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block_1(x)
        if self.attn_1 is not None:
            x = self.attn_1(x)
        return self.block_2(x)


class _Level(nn.Module):
    """One resolution level: `count` residual blocks (in -> out channels), then an optional
    `resampler(out)` (Downsample / Upsample) registered as `resampler_name` (`downsample` / `upsample`)."""

    def __init__(self, block_in: int, block_out: int, count: int, resampler_name=None, resampler=None, **kw):
        super().__init__()
        self.block = nn.ModuleList(
            ResnetBlock(block_in if i == 0 else block_out, block_out, **kw) for i in range(count)
        )
        self.resampler_name = resampler_name
        if resampler_name is not None:
            self.add_module(resampler_name, resampler(block_out, **kw))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.block:
            h = block(h)
        return h if self.resampler_name is None else getattr(self, self.resampler_name)(h)


class AudioEncoder(nn.Module):
    """Log-mel (B, 2, T, M) -> raw latent moments (B, 2 * z or z, ceil(T / 4), M / 4)."""

    def __init__(self, config: AudioVAEConfig, *, operations=nn, attention_fn=sdpa_attention, device=None,
                 dtype=None):
        super().__init__()
        kw = dict(operations=operations, device=device, dtype=dtype)
        ch, mults = config.ch, config.ch_mult
        self.conv_in = CausalConv2d(config.in_channels, ch, 3, **kw)
        self.down = nn.ModuleList()
        block_in = ch
        for level, mult in enumerate(mults):
            resampler_name = None if level == len(mults) - 1 else "downsample"
            self.down.append(_Level(block_in, ch * mult, config.num_res_blocks, resampler_name, Downsample, **kw))
            block_in = ch * mult
        self.mid = _Mid(block_in, config.mid_attention, attention_fn=attention_fn, **kw)
        out = 2 * config.z_channels if config.double_z else config.z_channels
        self.conv_out = CausalConv2d(block_in, out, 3, **kw)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(mel)
        for level in self.down:
            h = level(h)
        h = self.mid(h)
        return self.conv_out(torch.nn.functional.silu(pixel_norm(h)))


class AudioDecoder(nn.Module):
    """Latent (B, z, T', M') -> log-mel (B, out_ch, 4 T' - 3, M' * 4) before the final crop/pad."""

    def __init__(self, config: AudioVAEConfig, *, operations=nn, attention_fn=sdpa_attention, device=None,
                 dtype=None):
        super().__init__()
        kw = dict(operations=operations, device=device, dtype=dtype)
        ch, mults = config.ch, config.ch_mult
        block_in = ch * mults[-1]
        self.conv_in = CausalConv2d(config.z_channels, block_in, 3, **kw)
        self.mid = _Mid(block_in, config.mid_attention, attention_fn=attention_fn, **kw)
        levels = [None] * len(mults)
        for level in reversed(range(len(mults))):
            levels[level] = _Level(block_in, ch * mults[level], config.num_res_blocks + 1,
                                   "upsample" if level else None, Upsample, **kw)
            block_in = ch * mults[level]
        self.up = nn.ModuleList(levels)
        self.conv_out = CausalConv2d(block_in, config.out_ch, 3, **kw)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            h = level(h)
        return self.conv_out(torch.nn.functional.silu(pixel_norm(h)))


def latent_to_tokens(latent: torch.Tensor) -> torch.Tensor:
    """(B, C, T', F) audio latent -> (B, T', C * F) tokens, feature index c * F + f (the DiT's layout)."""
    b, c, t, f = latent.shape
    return latent.permute(0, 2, 1, 3).reshape(b, t, c * f)  # (B, T', C, F) -> (B, T', C*F)


def tokens_to_latent(tokens: torch.Tensor, channels: int = 8) -> torch.Tensor:
    """(B, T', C * F) tokens -> (B, C, T', F) audio latent; the inverse of `latent_to_tokens`."""
    b, t, features = tokens.shape
    if features % channels:
        raise InputError(f"Audio tokens of width {features} cannot be split into {channels} latent channels.")
    return tokens.reshape(b, t, channels, features // channels).permute(0, 2, 1, 3)  # (B, T', C, F) -> (B, C, T', F)


class LatentStatistics(nn.Module):
    """Per-feature mean/std of the latent means, applied in token layout (B, T', C * F)."""

    def __init__(self, features: int, *, device=None, dtype=None):
        super().__init__()
        self.register_buffer("mean-of-means", torch.zeros(features, device=device, dtype=dtype))
        self.register_buffer("std-of-means", torch.ones(features, device=device, dtype=dtype))

    def _stats(self, x: torch.Tensor):
        return cast_like(self.get_buffer("mean-of-means"), x), cast_like(self.get_buffer("std-of-means"), x)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T', F) raw latent means -> normalized latent."""
        mean, std = self._stats(x)
        return tokens_to_latent((latent_to_tokens(x) - mean) / std, x.shape[1])

    def un_normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T', F) normalized latent -> raw latent, as the decoder takes it."""
        mean, std = self._stats(x)
        return tokens_to_latent(latent_to_tokens(x) * std + mean, x.shape[1])


class AudioVAE(nn.Module):
    """Audio VAE with the reference's waveform front-end and latent normalization.

    `encode(waveform (B, C, N), sample_rate)` -> normalized latent (B, z, T', M'), as the DiT sees it.
    `decode(latent)` -> log-mel (B, out_ch, max(4 T' - 3, 1), mel_bins).
    Either half may be left out (`encoder=False` / `decoder=False`) for files that carry only one.
    """

    def __init__(self, config: AudioVAEConfig, *, operations=nn, attention_fn=sdpa_attention, device=None,
                 dtype=None, encoder: bool = True, decoder: bool = True):
        super().__init__()
        self.config = config
        kw = dict(operations=operations, attention_fn=attention_fn, device=device, dtype=dtype)
        self.encoder = AudioEncoder(config, **kw) if encoder else None
        self.decoder = AudioDecoder(config, **kw) if decoder else None
        self.per_channel_statistics = LatentStatistics(config.latent_features, device=device, dtype=dtype)

    def _param_dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def waveform_to_mel(self, waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """(B, C, N) at `sample_rate` -> stereo log-mel (B, 2, N' // hop + 1, mel_bins) at the VAE's rate."""
        cfg = self.config
        if waveform.dim() == 2:
            waveform = waveform[:, None]
        if waveform.dim() != 3 or waveform.shape[1] not in (1, 2):
            raise InputError(
                f"Audio must be (batch, channels, samples) with 1 or 2 channels, got shape {tuple(waveform.shape)}. "
                "Down-mix multichannel audio to stereo first."
            )
        if not waveform.is_floating_point():
            raise InputError(f"Audio must be a floating-point waveform in [-1, 1], got {waveform.dtype}.")
        if waveform.shape[1] == 1:
            waveform = waveform.expand(-1, cfg.in_channels, -1)
        waveform = resample(waveform, int(sample_rate), cfg.sample_rate)
        return mel_spectrogram(waveform, cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.mel_bins,
                               0.0, cfg.mel_fmax_hz)

    def encode_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel (B, 2, T, M) -> normalized latent (B, z, ceil(T / 4), M / 4)."""
        if self.encoder is None:
            raise InputError("This audio VAE was loaded without its encoder; load it with encoder=True.")
        moments = self.encoder(mel.to(self._param_dtype()))
        means = moments[:, : self.config.z_channels]
        return self.per_channel_statistics.normalize(means)

    def encode(self, waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Waveform (B, C, N) -> normalized latent (B, 8, T', 16)."""
        mel = self.waveform_to_mel(waveform, sample_rate)
        return self.encode_mel(mel)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Normalized latent (B, z, T', M') -> log-mel (B, out_ch, max(4 T' - 3, 1), mel_bins)."""
        if self.decoder is None:
            raise InputError("This audio VAE was loaded without its decoder; load it with decoder=True.")
        cfg = self.config
        if latent.dim() != 4 or latent.shape[1] != cfg.z_channels or latent.shape[3] != cfg.latent_mel_bins:
            raise InputError(
                f"Audio latent must be (batch, {cfg.z_channels}, frames, {cfg.latent_mel_bins}), "
                f"got {tuple(latent.shape)}."
            )
        z = self.per_channel_statistics.un_normalize(latent.to(self._param_dtype()))
        mel = self.decoder(z)  # (B, out_ch, 4T' - 3, M)
        frames = max(latent.shape[2] * LATENT_TIME_DOWNSAMPLE - (LATENT_TIME_DOWNSAMPLE - 1), 1)
        mel = mel[:, :, :frames, : cfg.mel_bins]
        pad_t, pad_m = frames - mel.shape[2], cfg.mel_bins - mel.shape[3]
        if pad_t > 0 or pad_m > 0:
            mel = torch.nn.functional.pad(mel, (0, pad_m, 0, pad_t))
        return mel
