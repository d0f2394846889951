"""Shared helpers for the transformer tests: tiny random models and the ltx-core / diffusers oracles.

The oracles are only imported here (test-time); ltx2_core never imports them.
"""

from typing import Dict, Optional, Tuple

import torch

from ltx2_core.transformer import LTX2Transformer, ModalityInput, Perturbations, TransformerConfig
from ltx2_core.transformer.positions import audio_positions, video_positions


def random_model(config: TransformerConfig, dtype=torch.float64, seed: int = 0) -> LTX2Transformer:
    """Our model with random weights of a sane scale (tables and gate logits non-zero)."""
    model = LTX2Transformer(config, dtype=dtype)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan_in = p.shape[-1] if p.ndim > 1 else 1
            scale = 0.3 if p.ndim == 1 or "table" in name else fan_in ** -0.5
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * scale)
            if name.endswith("norm.weight"):
                p.add_(1.0)
    return model


def ltx_core_model(config: TransformerConfig, state: Dict[str, torch.Tensor], dtype) -> torch.nn.Module:
    """ltx-core 1.0.0 LTXModel with the same weights."""
    from ltx_core.model.transformer.model import LTXModel, LTXModelType
    from ltx_core.model.transformer.rope import LTXRopeType
    from ltx_core.model.transformer.text_projection import PixArtAlphaTextProjection

    c = config
    caption = audio_caption = None
    if c.caption_channels is not None:
        caption = PixArtAlphaTextProjection(c.caption_channels, c.dim)
        audio_caption = PixArtAlphaTextProjection(c.caption_channels, c.audio_dim)
    model = LTXModel(
        model_type=LTXModelType.AudioVideo, num_attention_heads=c.heads, attention_head_dim=c.head_dim,
        in_channels=c.in_channels, out_channels=c.out_channels, num_layers=c.num_layers,
        cross_attention_dim=c.cross_attention_dim, norm_eps=c.norm_eps,
        positional_embedding_theta=c.rope_theta, positional_embedding_max_pos=list(c.rope_max_pos),
        timestep_scale_multiplier=c.timestep_scale_multiplier, audio_num_attention_heads=c.audio_heads,
        audio_attention_head_dim=c.audio_head_dim, audio_in_channels=c.audio_in_channels,
        audio_out_channels=c.audio_out_channels, audio_cross_attention_dim=c.audio_cross_attention_dim,
        audio_positional_embedding_max_pos=list(c.audio_rope_max_pos),
        av_ca_timestep_scale_multiplier=c.av_ca_timestep_scale_multiplier, rope_type=LTXRopeType(c.rope_type),
        double_precision_rope=c.rope_double_precision, apply_gated_attention=c.gated_attention,
        caption_projection=caption, audio_caption_projection=audio_caption,
        cross_attention_adaln=c.cross_attention_adaln,
    )
    model.to(dtype).load_state_dict(state, strict=True)
    return model.eval()


def to_ltx_modality(m: Optional[ModalityInput]):
    from ltx_core.model.transformer.modality import Modality

    if m is None:
        return None
    mask = None if m.context_mask is None else m.context_mask.long()
    return Modality(latent=m.latent, sigma=m.sigma, timesteps=m.timesteps, positions=m.positions,
                    context=m.context, context_mask=mask, attention_mask=m.attention_mask, enabled=m.enabled)


def to_ltx_perturbations(p: Perturbations):
    from ltx_core.guidance.perturbations import (BatchedPerturbationConfig, Perturbation, PerturbationConfig,
                                                 PerturbationType)

    kinds = {"video_self_attn": PerturbationType.SKIP_VIDEO_SELF_ATTN,
             "audio_self_attn": PerturbationType.SKIP_AUDIO_SELF_ATTN,
             "a2v": PerturbationType.SKIP_A2V_CROSS_ATTN, "v2a": PerturbationType.SKIP_V2A_CROSS_ATTN}
    configs = []
    for item in p.items:
        entries = []
        for kind, ptype in kinds.items():
            blocks = getattr(item, kind)
            if blocks is None or blocks:
                entries.append(Perturbation(ptype, None if blocks is None else sorted(blocks)))
        configs.append(PerturbationConfig(entries))
    return BatchedPerturbationConfig(configs)


def make_inputs(config: TransformerConfig, dtype, *, batch: int = 2, frames: int = 2, height: int = 2,
                width: int = 3, audio_tokens: int = 5, context_len: int = 4, sigma: float = 0.7,
                first_frame_clean: bool = False, keyframe: bool = False, audio_sigma: Optional[float] = None,
                seed: int = 1) -> Tuple[ModalityInput, ModalityInput]:
    g = torch.Generator().manual_seed(seed)
    c = config

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)

    positions = video_positions(batch, frames, height, width, fps=24.0)
    n_video = frames * height * width
    timesteps = torch.full((batch, n_video), sigma, dtype=dtype)
    if first_frame_clean:
        timesteps[:, : height * width] = 0.0
    if keyframe:
        key_pos = video_positions(batch, 1, height, width, fps=24.0, frame_offset=9)
        positions = torch.cat([positions, key_pos], dim=2)
        timesteps = torch.cat([timesteps, torch.zeros(batch, height * width, dtype=dtype)], dim=1)
    n_total = timesteps.shape[1]
    ctx_dim = c.caption_channels or c.cross_attention_dim
    audio_ctx_dim = c.caption_channels or c.audio_cross_attention_dim
    sigmas = torch.tensor([sigma, sigma * 0.5][:batch] + [sigma] * max(0, batch - 2), dtype=dtype)
    video = ModalityInput(latent=randn(batch, n_total, c.in_channels), sigma=sigmas,
                          timesteps=timesteps * (sigmas[:, None] / sigma), positions=positions.to(dtype),
                          context=randn(batch, context_len, ctx_dim))
    a_sigma = sigma if audio_sigma is None else audio_sigma
    a_sigmas = torch.full((batch,), a_sigma, dtype=dtype)
    audio = ModalityInput(latent=randn(batch, audio_tokens, c.audio_in_channels), sigma=a_sigmas,
                          timesteps=a_sigmas[:, None].expand(batch, audio_tokens).clone(),
                          positions=audio_positions(batch, audio_tokens).to(dtype),
                          context=randn(batch, context_len, audio_ctx_dim))
    return video, audio


def max_errors(ours: torch.Tensor, ref: torch.Tensor) -> Tuple[float, float]:
    """(max abs error, max abs error / max abs reference)."""
    diff = (ours.double() - ref.double()).abs().max().item()
    return diff, diff / ref.double().abs().max().item()
