"""Shared helpers for the pipeline tests: a tiny transformer copied into ltx-core's LTXModel, and
reference denoising loops assembled from ltx-core 1.0.0 components (schedulers, guiders, noiser,
latent tools, conditioning items, X0Model, Euler and res_2s steps). The Euler loop glue mirrors
ltx-pipelines' `multi_modal_guider_denoising_func` / `euler_denoising_loop` of the same release (not
installed); the res_2s loop glue is written from the official HEAD `res2s_audio_video_denoising_loop`
(ltx-pipelines utils/samplers.py + utils/res2s.py, legacy mode, bf16 casts replaced by the test dtype).

Frozen audio (audio-to-video): `frozen_audio` gives the encoded audio latent; its state is noised
with noise scale 0 and its denoise mask zeroed (1.0.0 `denoise_video_only`), its guider is
positive-only, and its Modality.sigma is 0 -- the CURRENT (HEAD, `state.frozen`) semantics that
ltx2_core follows. ltx-pipelines 1.0.0 passed the step sigma there (`frozen_audio_sigma="step"`)."""

import math
from dataclasses import replace as dc_replace

import torch
from ltx_core.components.diffusion_steps import EulerDiffusionStep, Res2sDiffusionStep
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.guidance.perturbations import (
    BatchedPerturbationConfig, Perturbation, PerturbationConfig, PerturbationType,
)
from ltx_core.model.transformer import Modality, X0Model
from ltx_core.tools import AudioLatentTools, VideoLatentTools
from ltx_core.types import AudioLatentShape, VideoLatentShape

from ltx2_core.transformer import LTX2Transformer, TransformerConfig
from test_transformer_oracle_utils import ltx_core_model


def tiny_models(seed: int = 0, version: str = "2.0"):
    """(ours, oracle X0Model) with identical random weights, fp32, eval mode."""
    config = TransformerConfig.tiny(version, cross_modulation="other_sigma")
    torch.manual_seed(seed)
    ours = LTX2Transformer(config).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return ours, X0Model(ltx_core_model(config, ours.state_dict(), torch.float32))


def reference_params(p) -> MultiModalGuiderParams:
    return MultiModalGuiderParams(cfg_scale=p.cfg, stg_scale=p.stg, stg_blocks=list(p.stg_blocks),
                                  rescale_scale=p.rescale, modality_scale=p.modality, skip_step=p.skip_step)


def _modality(state, context, sigma, model_sigma=None):
    """Timesteps = mask * sigma; Modality.sigma = `model_sigma` (default: sigma)."""
    return Modality(latent=state.latent, sigma=sigma if model_sigma is None else model_sigma,
                    timesteps=state.denoise_mask * sigma, positions=state.positions, context=context,
                    context_mask=None, attention_mask=state.attention_mask)


def _guided_step(x0_model, video_guider, audio_guider, ctx_pos, ctx_neg, video_state, audio_state, sigma,
                 audio_sigma=None):
    """ltx-pipelines 1.0.0 `multi_modal_guider_denoising_func` semantics (skip_step 0);
    `audio_sigma`: the audio Modality.sigma when it is not the step sigma (frozen audio)."""
    sig = torch.as_tensor(sigma).reshape(1)
    a_sig = None if audio_sigma is None else torch.as_tensor(audio_sigma, dtype=sig.dtype).reshape(1)
    pos_v, pos_a = _modality(video_state, ctx_pos[0], sig), _modality(audio_state, ctx_pos[1], sig, a_sig)
    cond = x0_model(video=pos_v, audio=pos_a, perturbations=None)
    neg = ptb = mod = (0.0, 0.0)
    if video_guider.do_unconditional_generation() or audio_guider.do_unconditional_generation():
        neg = x0_model(video=_modality(video_state, ctx_neg[0], sig),
                       audio=_modality(audio_state, ctx_neg[1], sig, a_sig), perturbations=None)
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


def _reference_setup(shape, fps, guidance, ctx_neg, video_items, seed, dtype, frozen_audio, frozen_audio_sigma):
    video_tools = VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape(*shape.video), fps)
    audio_tools = AudioLatentTools(AudioPatchifier(1), AudioLatentShape(*shape.audio))
    noiser = GaussianNoiser(torch.Generator().manual_seed(seed))
    video_state = video_tools.create_initial_state("cpu", dtype)
    for item in video_items:
        video_state = item.apply_to(video_state, video_tools)
    video_state = noiser(video_state, 1.0)
    audio_params, audio_sigma = guidance.audio, None
    if frozen_audio is None:
        audio_state = noiser(audio_tools.create_initial_state("cpu", dtype), 1.0)
    else:  # 1.0.0 `denoise_video_only`: noise scale 0, then the mask zeroed; positive-only guider
        audio_state = noiser(audio_tools.create_initial_state("cpu", dtype, frozen_audio.to(dtype)), 0.0)
        audio_state = dc_replace(audio_state, denoise_mask=torch.zeros_like(audio_state.denoise_mask))
        audio_params = type(guidance.audio)()
        audio_sigma = 0.0 if frozen_audio_sigma == "zero" else None
    guiders = (MultiModalGuider(reference_params(guidance.video), ctx_neg[0]),
               MultiModalGuider(reference_params(audio_params), ctx_neg[1]))
    return video_tools, audio_tools, video_state, audio_state, guiders, audio_sigma


def _finish(video_tools, audio_tools, video_state, audio_state):
    video_state = video_tools.unpatchify(video_tools.clear_conditioning(video_state))
    audio_state = audio_tools.unpatchify(audio_tools.clear_conditioning(audio_state))
    return video_state.latent, audio_state.latent


def reference_run(x0_model, shape, fps, sigmas, guidance, ctx_pos, ctx_neg, video_items, seed,
                  dtype=torch.float32, frozen_audio=None, frozen_audio_sigma="zero"):
    """Full reference stage: conditioned states, GaussianNoiser(seed), guided Euler loop.

    Returns the (video, audio) latents after clearing conditioning and unpatchifying.
    """
    video_tools, audio_tools, video_state, audio_state, (video_guider, audio_guider), audio_sigma = _reference_setup(
        shape, fps, guidance, ctx_neg, video_items, seed, dtype, frozen_audio, frozen_audio_sigma)
    stepper = EulerDiffusionStep()
    with torch.no_grad():
        for step in range(len(sigmas) - 1):
            dv, da = _guided_step(x0_model, video_guider, audio_guider, ctx_pos, ctx_neg, video_state, audio_state,
                                  sigmas[step], audio_sigma)
            dv = _post_process(dv, video_state.denoise_mask, video_state.clean_latent)
            da = _post_process(da, audio_state.denoise_mask, audio_state.clean_latent)
            video_state = dc_replace(video_state, latent=stepper.step(video_state.latent, dv, sigmas, step))
            audio_state = dc_replace(audio_state, latent=stepper.step(audio_state.latent, da, sigmas, step))
    return _finish(video_tools, audio_tools, video_state, audio_state)


def head_phi(j, z):
    """phi_j(z) exactly as the official formula states it (exp minus the Taylor head, over z^j)."""
    if abs(z) < 1e-10:
        return 1.0 / math.factorial(j)
    return (math.exp(z) - sum(z**k / math.factorial(k) for k in range(j))) / z**j


def head_new_noise(like, generator):
    """HEAD `_get_new_noise`: float64 randn, normalised globally then over the last two dims."""
    noise = torch.randn(like.shape, generator=generator, dtype=torch.float64)
    noise = (noise - noise.mean()) / noise.std()
    return (noise - noise.mean(dim=(-2, -1), keepdim=True)) / noise.std(dim=(-2, -1), keepdim=True)


def reference_res2s_run(x0_model, shape, fps, sigmas, guidance, ctx_pos, ctx_neg, video_items, seed,
                        dtype=torch.float32, noise_seed=-1, bongmath_iterations=100, frozen_audio=None):
    """The official HEAD res_2s loop (legacy mode, eta 0.5, bongmath) around ltx-core 1.0.0's
    Res2sDiffusionStep (its eta is fixed at 0.5, the HEAD default). Same return as `reference_run`."""
    hp = torch.float64
    video_tools, audio_tools, video_state, audio_state, (video_guider, audio_guider), audio_sigma = _reference_setup(
        shape, fps, guidance, ctx_neg, video_items, seed, dtype, frozen_audio, "zero")
    stepper = Res2sDiffusionStep()
    step_gen = torch.Generator().manual_seed(noise_seed)
    sub_gen = torch.Generator().manual_seed(noise_seed + 10000)
    sigmas = torch.as_tensor(sigmas, dtype=torch.float32)
    n_steps = len(sigmas) - 1
    if sigmas[-1] == 0:
        sigmas = torch.cat([sigmas[:-1], torch.tensor([0.0011, 0.0])])
    hs = -torch.log(sigmas[1:].to(hp) / sigmas[:-1].to(hp))

    def denoised(states, sigma):
        pair = _guided_step(x0_model, video_guider, audio_guider, ctx_pos, ctx_neg, states[0], states[1],
                            torch.as_tensor(sigma, dtype=torch.float32), audio_sigma)
        return [_post_process(d, s.denoise_mask, s.clean_latent) for d, s in zip(pair, states)]

    def inject(state, sample, target, two_sigmas, generator):
        noise = head_new_noise(state.latent, generator)
        out = stepper.step(sample=sample, denoised_sample=target, sigmas=two_sigmas, step_index=0, noise=noise)
        return _post_process(out, state.denoise_mask, state.clean_latent)

    states = [video_state, audio_state]
    with torch.no_grad():
        for step in range(n_steps):
            sigma, sigma_next = sigmas[step].to(hp), sigmas[step + 1].to(hp)
            anchors = [s.latent.clone().to(hp) for s in states]
            d1 = denoised(states, sigmas[step])
            h = hs[step].item()
            a21 = 0.5 * head_phi(1, -h * 0.5)
            b2 = head_phi(2, -h) / 0.5
            b1 = head_phi(1, -h) - b2
            sub_sigma = torch.sqrt(sigma * sigma_next)
            eps1 = [d.to(hp) - a for d, a in zip(d1, anchors)]
            mids = [a + h * a21 * e for a, e in zip(anchors, eps1)]
            mids = [inject(s, a, m, torch.stack([sigma, sub_sigma]), sub_gen) for s, a, m in zip(states, anchors, mids)]
            if h < 0.5 and sigma > 0.03:
                for _ in range(bongmath_iterations):
                    anchors = [m - h * a21 * e for m, e in zip(mids, eps1)]
                    eps1 = [d.to(hp) - a for d, a in zip(d1, anchors)]
            d2 = denoised([dc_replace(s, latent=m.to(dtype)) for s, m in zip(states, mids)], sub_sigma.float())
            nexts = [a + h * (b1 * e1 + b2 * (d.to(hp) - a)) for a, e1, d in zip(anchors, eps1, d2)]
            nexts = [inject(s, a, x, torch.stack([sigma, sigma_next]), step_gen)
                     for s, a, x in zip(states, anchors, nexts)]
            states = [dc_replace(s, latent=x.to(dtype)) for s, x in zip(states, nexts)]
        if sigmas[-1] == 0:
            final = denoised(states, sigmas[n_steps])
            states = [dc_replace(s, latent=d.to(dtype)) for s, d in zip(states, final)]
    return _finish(video_tools, audio_tools, *states)
