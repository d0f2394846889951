"""Shared helpers for the pipeline tests: a tiny transformer copied into ltx-core's LTXModel, and a
reference denoising loop assembled from ltx-core 1.0.0 components (schedulers, guiders, noiser,
latent tools, conditioning items, X0Model, Euler step). The loop glue mirrors ltx-pipelines'
`multi_modal_guider_denoising_func` / `euler_denoising_loop` of the same release (not installed)."""

from dataclasses import replace as dc_replace

import pytest
import torch
from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.guidance.perturbations import (
    BatchedPerturbationConfig, Perturbation, PerturbationConfig, PerturbationType,
)
from ltx_core.model.transformer import Modality, X0Model
from ltx_core.model.transformer.model import LTXModel, LTXModelType
from ltx_core.model.transformer.rope import LTXRopeType
from ltx_core.model.transformer.text_projection import PixArtAlphaTextProjection
from ltx_core.tools import AudioLatentTools, VideoLatentTools
from ltx_core.types import AudioLatentShape, VideoLatentShape

from ltx2_core.transformer import LTX2Transformer, TransformerConfig


def tiny_models(seed: int = 0, version: str = "2.0"):
    """(ours, oracle X0Model) with identical random weights, fp32, eval mode."""
    config = TransformerConfig.tiny(version, cross_modulation="other_sigma")
    torch.manual_seed(seed)
    ours = LTX2Transformer(config).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    caption = audio_caption = None
    if config.caption_channels is not None:
        caption = PixArtAlphaTextProjection(config.caption_channels, config.dim)
        audio_caption = PixArtAlphaTextProjection(config.caption_channels, config.audio_dim)
    oracle = LTXModel(
        model_type=LTXModelType.AudioVideo, num_attention_heads=config.heads, attention_head_dim=config.head_dim,
        in_channels=config.in_channels, out_channels=config.out_channels, num_layers=config.num_layers,
        cross_attention_dim=config.cross_attention_dim, audio_num_attention_heads=config.audio_heads,
        audio_attention_head_dim=config.audio_head_dim, audio_in_channels=config.audio_in_channels,
        audio_out_channels=config.audio_out_channels, audio_cross_attention_dim=config.audio_cross_attention_dim,
        positional_embedding_max_pos=list(config.rope_max_pos),
        audio_positional_embedding_max_pos=list(config.audio_rope_max_pos),
        av_ca_timestep_scale_multiplier=int(config.av_ca_timestep_scale_multiplier),
        rope_type=LTXRopeType.SPLIT, double_precision_rope=True, apply_gated_attention=config.gated_attention,
        caption_projection=caption, audio_caption_projection=audio_caption,
        cross_attention_adaln=config.cross_attention_adaln,
    ).eval()
    oracle.load_state_dict(ours.state_dict(), strict=True)
    return ours, X0Model(oracle)


def reference_params(p) -> MultiModalGuiderParams:
    return MultiModalGuiderParams(cfg_scale=p.cfg, stg_scale=p.stg, stg_blocks=list(p.stg_blocks),
                                  rescale_scale=p.rescale, modality_scale=p.modality, skip_step=p.skip_step)


def _modality(state, context, sigma):
    return Modality(latent=state.latent, sigma=sigma, timesteps=state.denoise_mask * sigma,
                    positions=state.positions, context=context, context_mask=None,
                    attention_mask=state.attention_mask)


def _guided_step(x0_model, video_guider, audio_guider, ctx_pos, ctx_neg, video_state, audio_state, sigma):
    """ltx-pipelines 1.0.0 `multi_modal_guider_denoising_func` semantics (skip_step 0)."""
    sig = sigma.reshape(1)
    pos_v, pos_a = _modality(video_state, ctx_pos[0], sig), _modality(audio_state, ctx_pos[1], sig)
    cond = x0_model(video=pos_v, audio=pos_a, perturbations=None)
    neg = ptb = mod = (0.0, 0.0)
    if video_guider.do_unconditional_generation() or audio_guider.do_unconditional_generation():
        neg = x0_model(video=_modality(video_state, ctx_neg[0], sig), audio=_modality(audio_state, ctx_neg[1], sig),
                       perturbations=None)
    if video_guider.do_perturbed_generation() or audio_guider.do_perturbed_generation():
        items = []
        if video_guider.do_perturbed_generation():
            items.append(Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, video_guider.params.stg_blocks))
        if audio_guider.do_perturbed_generation():
            items.append(Perturbation(PerturbationType.SKIP_AUDIO_SELF_ATTN, audio_guider.params.stg_blocks))
        ptb = x0_model(video=pos_v, audio=pos_a,
                       perturbations=BatchedPerturbationConfig([PerturbationConfig(items)]))
    if video_guider.do_isolated_modality_generation() or audio_guider.do_isolated_modality_generation():
        items = [Perturbation(PerturbationType.SKIP_A2V_CROSS_ATTN, None),
                 Perturbation(PerturbationType.SKIP_V2A_CROSS_ATTN, None)]
        mod = x0_model(video=pos_v, audio=pos_a, perturbations=BatchedPerturbationConfig([PerturbationConfig(items)]))
    return (video_guider.calculate(cond[0], neg[0], ptb[0], mod[0]),
            audio_guider.calculate(cond[1], neg[1], ptb[1], mod[1]))


def _post_process(denoised, mask, clean):
    return (denoised * mask + clean.float() * (1 - mask)).to(denoised.dtype)


def reference_run(x0_model, shape, fps, sigmas, guidance, ctx_pos, ctx_neg, video_items, seed,
                  dtype=torch.float32):
    """Full reference stage: conditioned states, GaussianNoiser(seed), guided Euler loop.

    Returns the (video, audio) latents after clearing conditioning and unpatchifying.
    """
    video_tools = VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape(*shape.video), fps)
    audio_tools = AudioLatentTools(AudioPatchifier(1), AudioLatentShape(*shape.audio))
    noiser = GaussianNoiser(torch.Generator().manual_seed(seed))
    video_state = video_tools.create_initial_state("cpu", dtype)
    for item in video_items:
        video_state = item.apply_to(video_state, video_tools)
    video_state = noiser(video_state, 1.0)
    audio_state = noiser(audio_tools.create_initial_state("cpu", dtype), 1.0)
    video_guider = MultiModalGuider(reference_params(guidance.video), ctx_neg[0])
    audio_guider = MultiModalGuider(reference_params(guidance.audio), ctx_neg[1])
    stepper = EulerDiffusionStep()
    with torch.no_grad():
        for step in range(len(sigmas) - 1):
            dv, da = _guided_step(x0_model, video_guider, audio_guider, ctx_pos, ctx_neg, video_state, audio_state,
                                  sigmas[step])
            dv = _post_process(dv, video_state.denoise_mask, video_state.clean_latent)
            da = _post_process(da, audio_state.denoise_mask, audio_state.clean_latent)
            video_state = dc_replace(video_state, latent=stepper.step(video_state.latent, dv, sigmas, step))
            audio_state = dc_replace(audio_state, latent=stepper.step(audio_state.latent, da, sigmas, step))
    video_state = video_tools.unpatchify(video_tools.clear_conditioning(video_state))
    audio_state = audio_tools.unpatchify(audio_tools.clear_conditioning(audio_state))
    return video_state.latent, audio_state.latent


