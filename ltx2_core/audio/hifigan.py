"""Mel-to-waveform generator: HiFi-GAN V1 (`resblock "1"`, LTX-2) or BigVGAN-v2 (`"AMP1"`, LTX-2.3)."""

from typing import Union

import torch
import torch.nn.functional as F
from torch import nn

from .bigvgan import Activation1d, AMPBlock1, residual_conv_pairs
from .config import GeneratorConfig, VocoderConfig
from .vocoder_base import VocoderModule, stack_stereo_mel

LRELU_SLOPE = 0.1
POST_LRELU_SLOPE = 0.01  # the final activation is LeakyReLU with torch's default slope


class ResBlock1(nn.Module):
    """HiFi-GAN residual block: three (leaky -> dilated conv -> leaky -> conv) units with skips."""

    def __init__(self, channels: int, kernel_size: int, dilations, *, operations=nn, device=None, dtype=None):
        super().__init__()
        self.convs1, self.convs2 = residual_conv_pairs(channels, kernel_size, dilations, operations=operations,
                                                       device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv1, conv2 in zip(self.convs1, self.convs2):
            xt = conv1(F.leaky_relu(x, LRELU_SLOPE))
            x = x + conv2(F.leaky_relu(xt, LRELU_SLOPE))
        return x


class MelGenerator(VocoderModule):
    """conv_pre -> per stage: upsample (ConvTranspose1d) + mean of residual blocks -> conv_post.

    Accepts a `VocoderConfig` (uses its base generator) or a `GeneratorConfig`.
    forward: log-mel (B, 2, T, M) -> waveform (B, 2, T * prod(upsample_rates)).
    """

    def __init__(self, config: Union[VocoderConfig, GeneratorConfig], *, operations=nn, device=None, dtype=None):
        super().__init__()
        cfg = config.generator if isinstance(config, VocoderConfig) else config
        self.config = config if isinstance(config, VocoderConfig) else VocoderConfig(generator=cfg)
        self.generator_config = cfg
        self.output_sample_rate = cfg.output_sample_rate
        self.amp = cfg.resblock == "AMP1"
        kw = dict(device=device, dtype=dtype)
        ch = cfg.upsample_initial_channel
        self.conv_pre = operations.Conv1d(cfg.in_channels, ch, 7, padding=3, **kw)
        self.ups = nn.ModuleList(
            operations.ConvTranspose1d(ch // 2**i, ch // 2 ** (i + 1), k, stride=u, padding=(k - u) // 2, **kw)
            for i, (u, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes))
        )
        beta = cfg.activation == "snakebeta"
        self.resblocks = nn.ModuleList()
        for i in range(len(cfg.upsample_rates)):
            stage_ch = ch // 2 ** (i + 1)
            for k, dil in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
                if self.amp:
                    block = AMPBlock1(stage_ch, k, dil, beta, operations=operations, **kw)
                else:
                    block = ResBlock1(stage_ch, k, dil, operations=operations, **kw)
                self.resblocks.append(block)
        final_ch = ch // 2 ** len(cfg.upsample_rates)
        self.act_post = Activation1d(final_ch, beta, **kw) if self.amp else None
        self.conv_post = operations.Conv1d(final_ch, cfg.out_channels, 7, padding=3, bias=cfg.use_bias_at_final, **kw)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        cfg = self.generator_config
        x = self.conv_pre(stack_stereo_mel(mel, cfg.in_channels))  # (B, C0, T)
        n = len(cfg.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            if not self.amp:
                x = F.leaky_relu(x, LRELU_SLOPE)
            x = up(x)  # (B, C_i, T * prod(rates[:i+1]))
            x = torch.stack([self.resblocks[i * n + j](x) for j in range(n)]).mean(dim=0)
        x = self.act_post(x) if self.amp else F.leaky_relu(x, POST_LRELU_SLOPE)
        x = self.conv_post(x)  # (B, 2, N)
        if cfg.apply_final_activation:
            x = torch.tanh(x) if cfg.use_tanh_at_final else torch.clamp(x, -1.0, 1.0)
        return x
