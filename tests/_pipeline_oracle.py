"""The official pipelines as the oracle of whole denoising loops (test-time only).

A tiny transformer is copied into ltx-core 1.0.0's LTXModel (`tiny_models`), and every loop is run
with the building blocks of ltx-pipelines 1.0.0 (installed `--no-deps`, test-only): the noised states
(`create_noised_state`, which `denoise_audio_video` / `denoise_video_only` call), the guided denoising
function (`multi_modal_guider_denoising_func` / `simple_denoising_func`), the loops
(`euler_denoising_loop`, `gradient_estimating_euler_denoising_loop`, `res2s_audio_video_denoising_loop`),
the upsampling between the two stages (ltx-core `upsample_video`) and the stage-2 constants. The glue
here only follows what the pipeline files do with them (ti2vid_one_stage, ti2vid_two_stages,
distilled, a2vid_two_stage), because the pipeline classes load real checkpoints and call CUDA.

Frozen audio (audio-to-video) follows a2vid_two_stage: the audio state is noised with scale 0 and its
denoise mask zeroed (`denoise_video_only`), and its guider is `MultiModalGuider(MultiModalGuiderParams())`
without a negative context, so the unconditioned pass reuses the POSITIVE audio context. One thing
changed after 1.0.0 and ltx2_core follows the newer code: Lightricks/LTX-2 at commit 400fd310
(2026-08-16) marks the stream `frozen` and `modality_from_latent_state` gives it Modality.sigma 0;
1.0.0 gave it the step sigma. `frozen_audio_sigma="zero"` (default) applies the newer rule by
zeroing the frozen audio's Modality.sigma before the 1.0.0 model call; "step" keeps 1.0.0 as is.
"""

from dataclasses import replace as dc_replace
from types import SimpleNamespace

import torch
from ltx_core.components.diffusion_steps import EulerDiffusionStep, Res2sDiffusionStep
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams, create_multimodal_guider_factory
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.model.transformer import X0Model
from ltx_core.model.upsampler import upsample_video
from ltx_core.tools import AudioLatentTools, VideoLatentTools
from ltx_core.types import AudioLatentShape, VideoLatentShape
from ltx_pipelines.utils.constants import STAGE_2_DISTILLED_SIGMA_VALUES
from ltx_pipelines.utils.helpers import (
    create_noised_state, multi_modal_guider_denoising_func, multi_modal_guider_factory_denoising_func,
    simple_denoising_func,
)
from ltx_pipelines.utils.samplers import (
    euler_denoising_loop, gradient_estimating_euler_denoising_loop, res2s_audio_video_denoising_loop,
)

from ltx2_core.transformer import LTX2Transformer, TransformerConfig
from test_transformer_oracle_utils import ltx_core_model


def tiny_models(seed: int = 0, version: str = "2.0", **changes):
    """(ours, oracle X0Model) with identical random weights, fp32, eval mode."""
    config = TransformerConfig.tiny(version, cross_modulation="other_sigma", **changes)
    torch.manual_seed(seed)
    ours = LTX2Transformer(config).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return ours, oracle_of(ours)


def oracle_of(ours: LTX2Transformer) -> X0Model:
    """ltx-core's X0Model(LTXModel) with the weights of our transformer (float32)."""
    return X0Model(ltx_core_model(ours.config, ours.state_dict(), torch.float32))


def reference_params(p) -> MultiModalGuiderParams:
    return MultiModalGuiderParams(cfg_scale=p.cfg, stg_scale=p.stg, stg_blocks=list(p.stg_blocks),
                                  rescale_scale=p.rescale, modality_scale=p.modality, skip_step=p.skip_step)


class FrozenAudioSigmaZero(torch.nn.Module):
    """The newer official rule for a frozen audio stream (Modality.sigma 0) around a 1.0.0 X0Model."""

    def __init__(self, x0_model):
        super().__init__()
        self.inner = x0_model

    def forward(self, video, audio, perturbations):
        audio = dc_replace(audio, sigma=torch.zeros_like(torch.as_tensor(audio.sigma)))
        return self.inner(video=video, audio=audio, perturbations=perturbations)


def _tools(shape, fps):
    video = VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape(*shape.video), fps)
    return video, AudioLatentTools(AudioPatchifier(1), AudioLatentShape(*shape.audio))


def _denoise_fn(x0_model, guidance, ctx_pos, ctx_neg, frozen, factory=False):
    """The pipelines' denoising function: guided (dev), or `simple_denoising_func` without guidance."""
    if guidance is None:
        return simple_denoising_func(ctx_pos[0], ctx_pos[1], x0_model)
    if frozen:  # a2vid_two_stage: a positive-only audio guider with no negative context
        return multi_modal_guider_denoising_func(
            MultiModalGuider(reference_params(guidance.video), ctx_neg[0]),
            MultiModalGuider(MultiModalGuiderParams()), ctx_pos[0], ctx_pos[1], x0_model)
    if factory:  # ti2vid_two_stages (same guiders, resolved per step)
        return multi_modal_guider_factory_denoising_func(
            create_multimodal_guider_factory(reference_params(guidance.video), ctx_neg[0]),
            create_multimodal_guider_factory(reference_params(guidance.audio), ctx_neg[1]),
            ctx_pos[0], ctx_pos[1], x0_model)
    return multi_modal_guider_denoising_func(
        MultiModalGuider(reference_params(guidance.video), ctx_neg[0]),
        MultiModalGuider(reference_params(guidance.audio), ctx_neg[1]), ctx_pos[0], ctx_pos[1], x0_model)


def _loop(kind, sigmas, video_state, audio_state, denoise_fn, dtype, **options):
    if kind == "euler":
        return euler_denoising_loop(sigmas, video_state, audio_state, EulerDiffusionStep(), denoise_fn)
    if kind == "gradient_estimation":
        return gradient_estimating_euler_denoising_loop(sigmas, video_state, audio_state, EulerDiffusionStep(),
                                                        denoise_fn, ge_gamma=options.get("ge_gamma", 2.0))
    if kind == "res_2s":
        return res2s_audio_video_denoising_loop(
            sigmas, video_state, audio_state, Res2sDiffusionStep(), denoise_fn,
            noise_seed=options.get("noise_seed", -1), bongmath_max_iter=options.get("bongmath_iterations", 100),
            model_dtype=dtype)
    raise ValueError(kind)


def official_stage(x0_model, shape, fps, sigmas, guidance, ctx_pos, ctx_neg, video_items, noiser,
                   dtype=torch.float32, loop="euler", noise_scale=1.0, initial_video=None, initial_audio=None,
                   frozen_audio=None, frozen_audio_sigma="zero", factory=False, **options):
    """One stage as `denoise_audio_video` (or `denoise_video_only` with `frozen_audio`) runs it.

    guidance None: the unguided `simple_denoising_func` (distilled, stage 2). Returns the unpatchified
    (video, audio) latents with the conditioning cleared.
    """
    video_tools, audio_tools = _tools(shape, fps)
    sigmas = torch.as_tensor(sigmas, dtype=torch.float32)
    video_state = create_noised_state(video_tools, list(video_items), noiser, dtype, "cpu", noise_scale,
                                      None if initial_video is None else initial_video.to(dtype))
    frozen = frozen_audio is not None
    if frozen:
        audio_state = create_noised_state(audio_tools, [], noiser, dtype, "cpu", 0.0, frozen_audio.to(dtype))
        audio_state = dc_replace(audio_state, denoise_mask=torch.zeros_like(audio_state.denoise_mask))
        if frozen_audio_sigma == "zero":
            x0_model = FrozenAudioSigmaZero(x0_model)
    else:
        audio_state = create_noised_state(audio_tools, [], noiser, dtype, "cpu", noise_scale,
                                          None if initial_audio is None else initial_audio.to(dtype))
    denoise_fn = _denoise_fn(x0_model, guidance, ctx_pos, ctx_neg, frozen, factory)
    with torch.no_grad():
        video_state, audio_state = _loop(loop, sigmas, video_state, audio_state, denoise_fn, dtype, **options)
    video = video_tools.unpatchify(video_tools.clear_conditioning(video_state)).latent
    audio = audio_tools.unpatchify(audio_tools.clear_conditioning(audio_state)).latent
    return video, audio


def reference_run(x0_model, shape, fps, sigmas, guidance, ctx_pos, ctx_neg, video_items, seed,
                  dtype=torch.float32, frozen_audio=None, frozen_audio_sigma="zero", loop="euler", **options):
    """One stage from pure noise with GaussianNoiser(seed): (video, audio) latents."""
    noiser = GaussianNoiser(torch.Generator().manual_seed(seed))
    return official_stage(x0_model, shape, fps, sigmas, guidance, ctx_pos, ctx_neg, video_items, noiser, dtype,
                          loop, frozen_audio=frozen_audio, frozen_audio_sigma=frozen_audio_sigma, **options)


def reference_res2s_run(x0_model, shape, fps, sigmas, guidance, ctx_pos, ctx_neg, video_items, seed,
                        dtype=torch.float32, noise_seed=-1, bongmath_iterations=100, frozen_audio=None):
    """The 1.0.0 `res2s_audio_video_denoising_loop` (legacy mode, bongmath) in one stage."""
    return reference_run(x0_model, shape, fps, sigmas, guidance, ctx_pos, ctx_neg, video_items, seed, dtype,
                         frozen_audio=frozen_audio, loop="res_2s", noise_seed=noise_seed,
                         bongmath_iterations=bongmath_iterations)


def oracle_with_lora(ours: LTX2Transformer, lora: dict, strength: float) -> X0Model:
    """ti2vid_two_stages' stage-2 model: our weights plus each LoRA delta as ltx-core computes it
    (`fuse_loras._prepare_deltas`: B * strength @ A; its fusing step takes only bf16 / fp8 weights)."""
    from ltx_core.loader.fuse_loras import _prepare_deltas
    from ltx_core.loader.primitives import LoraStateDictWithStrength, StateDict

    loras = [LoraStateDictWithStrength(StateDict(lora, torch.device("cpu"), 0, {torch.float32}), strength)]
    state = {}
    for key, weight in ours.state_dict().items():
        delta = _prepare_deltas(loras, key, weight.dtype, weight.device) if key.endswith(".weight") else None
        state[key] = weight if delta is None else weight + delta
    return X0Model(ltx_core_model(ours.config, state, torch.float32))


def oracle_upsampler(ours_upsampler, ours_vae):
    """(ltx-core LatentUpsampler, an encoder stand-in holding ltx-core PerChannelStatistics) with our weights."""
    from ltx_core.model.upsampler.model import LatentUpsampler
    from ltx_core.model.video_vae.ops import PerChannelStatistics

    c = ours_upsampler.config
    upsampler = LatentUpsampler(in_channels=c.in_channels, mid_channels=c.mid_channels,
                                num_blocks_per_stage=c.num_blocks_per_stage, spatial_upsample=c.spatial_upsample,
                                temporal_upsample=c.temporal_upsample)
    upsampler.load_state_dict(ours_upsampler.state_dict(), strict=True)
    stats = PerChannelStatistics(c.in_channels)
    stats.load_state_dict(ours_vae.per_channel_statistics.state_dict(), strict=False)
    return upsampler.eval(), SimpleNamespace(per_channel_statistics=stats)


def reference_two_stage(x0_model, small, full, fps, stage1_sigmas, guidance, ctx_pos, ctx_neg, seed, upsampler,
                        encoder, stage2_model=None, frozen_audio=None, loop="euler"):
    """ti2vid_two_stages (guidance given), distilled (guidance None) or a2vid_two_stage (`frozen_audio`) at
    the latent level: stage 1 at `small`, `upsample_video`, stage 2 at `full` from the upsampled video and
    the stage-1 audio (or the frozen audio again), noised to STAGE_2_DISTILLED_SIGMA_VALUES[0], unguided,
    with the same noiser. loop "res_2s": ti2vid_two_stages_hq's sampler in both stages (its LoRA strengths
    aside). Returns the stage-2 (video, audio) latents."""
    noiser = GaussianNoiser(torch.Generator().manual_seed(seed))
    video, audio = official_stage(x0_model, small, fps, stage1_sigmas, guidance, ctx_pos, ctx_neg, [], noiser,
                                  loop=loop, factory=guidance is not None and frozen_audio is None and loop == "euler",
                                  frozen_audio=frozen_audio)
    with torch.no_grad():
        upscaled = upsample_video(latent=video[:1], video_encoder=encoder, upsampler=upsampler)
    sigmas = torch.Tensor(STAGE_2_DISTILLED_SIGMA_VALUES)
    return official_stage(stage2_model or x0_model, full, fps, sigmas, None, ctx_pos, ctx_neg, [], noiser,
                          loop=loop, noise_scale=sigmas[0].item(), initial_video=upscaled, initial_audio=audio,
                          frozen_audio=frozen_audio)


def random_contexts(model, seed=0):
    """((video, audio) positive, (video, audio) negative) random text contexts of 6 tokens for `model`."""
    c = model.config
    gen = torch.Generator().manual_seed(seed)
    dv, da = c.caption_channels or c.dim, c.caption_channels or c.audio_dim
    pos = (torch.randn(1, 6, dv, generator=gen), torch.randn(1, 6, da, generator=gen))
    neg = (torch.randn(1, 6, dv, generator=gen), torch.randn(1, 6, da, generator=gen))
    return pos, neg
