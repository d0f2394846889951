"""Full guided LTX-Video denoise loops vs the official ltx_video 0.1.2 LTXVideoPipeline (tiny random weights).

The official pipeline runs unchanged with output_type="latent" except that its VAE encode returns a fixed
latent per conditioning item (it samples with the global RNG) and its stochastic-sampling noise comes from
the pipeline's generator; both sides then draw identical noise in the same order."""

import pytest
import torch

from ltx2_core.ltxv.pipeline import LTXVCondition, LTXVGuidance, denoise_ltxv, ltxv_sigmas

from _ltxv_pipeline_oracle import official_pipeline, run_official, tiny_transformer_pair
from _ltxv_transformer_oracles import exact_norms

H, W, FRAMES = 64, 96, 17  # latent (3, 2, 3)
LATENT = (1, 8, 3, 2, 3)


def _strategy(mode):
    from ltx_video.utils.skip_layer_strategy import SkipLayerStrategy

    return {"attention_values": SkipLayerStrategy.AttentionValues, "attention_skip": SkipLayerStrategy.AttentionSkip,
            "transformer_block": SkipLayerStrategy.TransformerBlock}[mode]


def _inputs(dtype, seed=1):
    g = torch.Generator().manual_seed(seed)
    ctx = (torch.randn(1, 6, 24, generator=g, dtype=torch.float64).to(dtype), torch.tensor([[1, 1, 1, 1, 0, 0]]))
    neg = (torch.randn(1, 6, 24, generator=g, dtype=torch.float64).to(dtype), torch.tensor([[1, 1, 0, 0, 0, 0]]))
    image = torch.randn(1, 8, 1, 2, 3, generator=g, dtype=torch.float64).to(dtype)
    key = torch.randn(1, 8, 1, 2, 3, generator=g, dtype=torch.float64).to(dtype)
    clip = torch.randn(1, 8, 2, 2, 3, generator=g, dtype=torch.float64).to(dtype)
    return ctx, neg, image, key, clip


def _rel(a, b):
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_cfg_stg_image_and_keyframe_loop_matches_official(dtype, tol):
    ours, off = tiny_transformer_pair(dtype=dtype)
    if dtype == torch.float64:
        exact_norms(off)
    ctx, neg, image, key, _ = _inputs(dtype)
    steps = 4
    ref = run_official(official_pipeline(off), latents_by_item=[image, key], items=[(1, 0, 1.0), (1, 16, 0.8)],
                       height=H, width=W, frames=FRAMES, context=ctx, negative=neg, seed=3,
                       num_inference_steps=steps, guidance_scale=3.0, stg_scale=1.0, rescaling_scale=0.7,
                       skip_block_list=[1], skip_layer_strategy=_strategy("attention_values"))
    sigmas = ltxv_sigmas(steps, LATENT[2:])
    seen = []
    got = denoise_ltxv(ours, LATENT, [LTXVCondition(image, 0, 1.0), LTXVCondition(key, 16, 0.8)], sigmas, ctx, neg,
                       LTXVGuidance(cfg=3.0, stg=1.0, rescale=0.7, stg_blocks=(1,)),
                       generator=torch.Generator().manual_seed(3), callback=lambda i, n, x0: seen.append((i, n)))
    assert got.shape == ref.shape == LATENT
    assert _rel(got, ref) <= tol
    assert seen == [(i, steps) for i in range(steps)]
    assert torch.equal(got[:, :, :1], image)  # the hard first frame never moved
    # the guidance is doing something: without STG the result differs clearly
    plain = denoise_ltxv(ours, LATENT, [LTXVCondition(image, 0, 1.0), LTXVCondition(key, 16, 0.8)], sigmas, ctx, neg,
                         LTXVGuidance(cfg=3.0, stg=0.0, rescale=0.7, stg_blocks=(1,)),
                         generator=torch.Generator().manual_seed(3))
    assert _rel(plain, ref) > 1e-3


def test_piecewise_cfg_star_extension_and_cond_noise_match_official():
    """13B-dev-style piecewise guidance (thresholds, CFG-star, per-segment STG blocks and rescale), STG-AS,
    a 2-latent-frame clip at frame 0 (video extension) plus a clip at frame 8, image_cond_noise_scale."""
    ours, off = tiny_transformer_pair(seed=2)
    ctx, neg, _, _, clip = _inputs(torch.float32, seed=4)
    later = torch.randn(1, 8, 2, 2, 3, generator=torch.Generator().manual_seed(9))
    thresholds = (1.0, 0.97, 0.8)
    guidance = LTXVGuidance(cfg=(1.0, 4.0, 2.0), stg=(0.0, 2.0, 1.0), rescale=(1.0, 0.5, 1.0),
                            stg_blocks=((), (0, 1), (1,)), stg_mode="attention_skip", cfg_star=True,
                            thresholds=thresholds)
    steps = 4
    ref = run_official(official_pipeline(off), latents_by_item=[clip, later], items=[(9, 0, 1.0), (9, 8, 0.9)],
                       height=H, width=W, frames=FRAMES, context=ctx, negative=neg, seed=5,
                       num_inference_steps=steps, guidance_scale=list(guidance.cfg), stg_scale=list(guidance.stg),
                       rescaling_scale=list(guidance.rescale), skip_block_list=[list(b) for b in guidance.stg_blocks],
                       guidance_timesteps=list(thresholds), cfg_star_rescale=True,
                       skip_layer_strategy=_strategy("attention_skip"), image_cond_noise_scale=0.15)
    got = denoise_ltxv(ours, LATENT, [LTXVCondition(clip, 0, 1.0), LTXVCondition(later, 8, 0.9)],
                       ltxv_sigmas(steps, LATENT[2:]), ctx, neg, guidance, generator=torch.Generator().manual_seed(5),
                       cond_noise_scale=0.15)
    assert _rel(got, ref) <= 1e-5


def test_second_pass_from_latent_with_stochastic_sampling_matches_official():
    """Distilled-style: fixed sigma list, no guidance, start from a given latent noised to sigma 0, stochastic."""
    ours, off = tiny_transformer_pair(seed=3)
    ctx, neg, image, _, _ = _inputs(torch.float32, seed=6)
    start = torch.randn(LATENT, generator=torch.Generator().manual_seed(7))
    sigmas = (0.9094, 0.725, 0.4219)
    ref = run_official(official_pipeline(off), latents_by_item=[image], items=[(1, 0, 1.0)], height=H, width=W,
                       frames=FRAMES, context=ctx, negative=neg, seed=8, timesteps=list(sigmas), latents=start,
                       guidance_scale=1.0, stg_scale=0.0, rescaling_scale=1.0, stochastic_sampling=True,
                       num_inference_steps=None)
    got = denoise_ltxv(ours, LATENT, [LTXVCondition(image, 0, 1.0)], ltxv_sigmas(sigmas=sigmas), ctx, neg,
                       LTXVGuidance.off(), generator=torch.Generator().manual_seed(8), initial_latent=start,
                       stochastic=True)
    assert _rel(got, ref) <= 1e-5


def test_first_frame_replacement_loop_matches_diffusers_image_to_video():
    """0.9.0 / 0.9.1 image-to-video (non-causal positions, frame 0 replaced, t (1 - mask)), CFG 3, 3 steps, vs
    diffusers 0.42.1 LTXImageToVideoPipeline with the same weights, start latents and sigmas."""
    from ltx2_core.ltxv.transformer import LTXVTransformer, LTXVTransformerConfig
    from ltx2_core.ltxv.transformer.tiny import random_state_dict

    from _ltxv_pipeline_oracle import diffusers_i2v

    config = LTXVTransformerConfig.tiny(causal_temporal_positioning=False)
    state = random_state_dict(config, 4)
    ours = LTXVTransformer(config)
    ours.load_state_dict(state, strict=True)
    ctx, neg, image, _, _ = _inputs(torch.float32, seed=11)
    noise = torch.randn(LATENT, generator=torch.Generator().manual_seed(12))
    ref, sigmas = diffusers_i2v(config, state, image_latent=image, noise=noise, context=ctx, negative=neg, steps=3,
                                height=H, width=W, frames=FRAMES)
    assert torch.allclose(sigmas, ltxv_sigmas(3, LATENT[2:]), rtol=0, atol=1e-6)
    got = denoise_ltxv(ours.eval(), LATENT, [LTXVCondition(image, 0, 1.0)], ltxv_sigmas(sigmas=sigmas.tolist()), ctx,
                       neg, LTXVGuidance(cfg=3.0, stg=0.0, rescale=1.0, stg_blocks=()), noise=noise)
    assert _rel(got.flatten(2).transpose(1, 2), ref) <= 1e-5
