"""LTX-Video pipeline pieces: decode order and refusal, tone map / AdaIN vs the official functions, first-frame
replacement (0.9.0 / 0.9.1), multi-scale sizes, guidance presets, conditioning checks."""

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.ltxv.pipeline import LTXVCondition, LTXVGuidance, adain, decode_ltxv, denoise_ltxv, ltxv_sigmas
from ltx2_core.ltxv.pipeline.decode import tone_map
from ltx2_core.ltxv.pipeline.guidance import DEV_13B_THRESHOLDS
from ltx2_core.ltxv.pipeline.multiscale import pass_sizes, upsample_ltxv_latent
from ltx2_core.ltxv.transformer import LTXVTransformer, LTXVTransformerConfig
from ltx2_core.ltxv.transformer.tiny import random_state_dict
from ltx2_core.ltxv.vae import LTXVVAEConfig, LTXVVideoVAE, tiny_metadata, tiny_state_dict


def _vae(version):
    vae = LTXVVideoVAE(LTXVVAEConfig.from_metadata(tiny_metadata(version)))
    vae.load_state_dict(tiny_state_dict(version), strict=True)
    return vae.eval()


def _model(causal):
    config = LTXVTransformerConfig.tiny(causal_temporal_positioning=causal)
    model = LTXVTransformer(config)
    model.load_state_dict(random_state_dict(config, 0), strict=True)
    return model.eval()


def test_tone_map_and_adain_equal_official():
    from ltx_video.pipelines.pipeline_ltx_video import LTXVideoPipeline, adain_filter_latent

    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 8, 3, 4, 5, generator=g) * 2
    ref = torch.randn(2, 8, 3, 2, 3, generator=g) * 0.5 + 1
    for c in (0.0, 0.6, 1.0):
        assert torch.allclose(tone_map(z, c), LTXVideoPipeline.tone_map_latents(z, c), rtol=0, atol=1e-6)
    for factor in (1.0, 0.5):
        assert torch.allclose(adain(z, ref, factor), adain_filter_latent(z, ref, factor), rtol=1e-6, atol=1e-6)


def test_denoising_decode_mixes_noise_in_normalized_space_then_decodes():
    vae = _vae("0.9.1")
    z = torch.randn(1, 8, 2, 2, 2, generator=torch.Generator().manual_seed(1))
    got = decode_ltxv(vae, z, timestep=0.05, noise_scale=0.025, generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    eps = torch.randn(z.shape, generator=g)
    with torch.no_grad():
        want = vae.decode(z * 0.975 + eps * 0.025, timestep=0.05, noise_scale=0.0, generator=g).clamp(-1, 1)
    assert got.shape == (1, 3, 9, 64, 64)
    assert torch.equal(got, want)
    other = decode_ltxv(vae, z, timestep=0.5, generator=torch.Generator().manual_seed(2))
    assert (other - got).abs().max() > 1e-3  # the decode timestep is an input of the decoder


def test_090_vae_refuses_denoising_decode_in_one_line():
    vae = _vae("0.9.0")
    z = torch.randn(1, 8, 1, 1, 1)
    assert decode_ltxv(vae, z).shape == (1, 3, 1, 32, 32)
    with pytest.raises(InputError, match="0.9.0 VAE has no denoising decoder") as info:
        decode_ltxv(vae, z, timestep=0.05)
    assert "\n" not in str(info.value)


class _Recorder(torch.nn.Module):
    """Wraps a transformer and records the timesteps it is called with."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config, self.seen = model, model.config, []

    def skip_mask(self, *a):
        return self.model.skip_mask(*a)

    def forward(self, latent, positions, context, timestep, *a, **k):
        self.seen.append(timestep.clone())
        return self.model(latent, positions, context, timestep, *a, **k)


def test_first_frame_replacement_for_non_causal_models():
    model = _Recorder(_model(causal=False))  # 0.9.0 / 0.9.1 positions -> replacement by default
    ctx = (torch.randn(1, 4, 24), torch.ones(1, 4, dtype=torch.long))
    image = torch.randn(1, 8, 1, 2, 3)
    shape = (1, 8, 3, 2, 3)
    sigmas = ltxv_sigmas(3, shape[2:])
    out = denoise_ltxv(model, shape, [LTXVCondition(image, 0, 1.0)], sigmas, ctx, None, LTXVGuidance.off(),
                       generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :, :1], image)
    first = model.seen[0]  # (1, N): image tokens at 0, the rest at sigma 0
    assert first.shape == (1, 18) and torch.all(first[:, :6] == 0) and torch.allclose(first[:, 6:], sigmas[0])
    model.seen.clear()
    soft = denoise_ltxv(model, shape, [LTXVCondition(image, 0, 0.5)], sigmas, ctx, None, LTXVGuidance.off(),
                        generator=torch.Generator().manual_seed(0))
    assert torch.allclose(model.seen[0][:, :6], sigmas[0] * 0.5)  # t (1 - strength)
    assert not torch.equal(soft[:, :, :1], image)
    tokens = denoise_ltxv(model, shape, [LTXVCondition(image, 0, 1.0)], sigmas, ctx, None, LTXVGuidance.off(),
                          generator=torch.Generator().manual_seed(0), first_frame_replace=False)
    assert torch.equal(tokens[:, :, :1], image)  # 0.9.5+ mechanism: also frozen at strength 1


def test_conditioning_checks_are_one_line():
    model = _model(causal=True)
    ctx = (torch.randn(1, 4, 24), torch.ones(1, 4, dtype=torch.long))
    shape = (1, 8, 3, 2, 3)
    sig = ltxv_sigmas(2, shape[2:])
    cases = [
        (LTXVCondition(torch.randn(1, 8, 1, 4, 3), 0), "encode the image / clip at the output width and height"),
        (LTXVCondition(torch.randn(1, 8, 2, 2, 3), 4), "multiple of 8"),
        (LTXVCondition(torch.randn(1, 8, 2, 2, 3), 16), "ends past the video's 17 frames"),
        (LTXVCondition(torch.randn(1, 8, 1, 2, 3), 0, 1.5), "strength"),
    ]
    for item, message in cases:
        with pytest.raises(InputError, match=message):
            denoise_ltxv(model, shape, [item], sig, ctx)
    with pytest.raises(InputError, match="STG blocks \\[5\\] do not exist"):
        denoise_ltxv(model, shape, [], sig, ctx, None, LTXVGuidance(stg_blocks=(5,)))


def test_guidance_presets_and_segments():
    dev13 = LTXVGuidance.for_model(48)
    assert dev13.cfg_star and dev13.thresholds == DEV_13B_THRESHOLDS
    assert dev13.at(1.0).cfg == 1.0 and dev13.at(0.997).stg_blocks == (11, 25, 35, 39)
    assert dev13.at(0.995).stg_blocks == (22, 35, 39)
    assert dev13.at(0.99).cfg == 8.0 and dev13.at(0.5).stg_blocks == (28,)  # below the last threshold: last
    assert LTXVGuidance.for_model(48, second_pass=True).at(0.5).stg_blocks == (27,)
    dev2 = LTXVGuidance.for_model(28).at(0.7)
    assert (dev2.cfg, dev2.stg, dev2.rescale, dev2.stg_blocks) == (3.0, 1.0, 0.7, (19,))
    off = LTXVGuidance.for_model(28, distilled=True).at(0.7)
    assert not off.uses_uncond and not off.uses_perturbed
    with pytest.raises(InputError, match="one per threshold"):
        LTXVGuidance(cfg=(1.0, 2.0))


def test_multiscale_sizes_and_upsampler():
    assert pass_sizes(768, 512).first == (480, 320) and pass_sizes(768, 512).second == (960, 640)
    with pytest.raises(InputError, match="too small"):
        pass_sizes(40, 40)
    from ltx2_core.ltxv.pipeline.demo import demo_upsampler

    vae = _vae("0.9.5")
    z = torch.randn(1, 8, 2, 2, 3, generator=torch.Generator().manual_seed(3))
    up = upsample_ltxv_latent(z, demo_upsampler(), vae)
    assert up.shape == (1, 8, 2, 4, 6)
    assert torch.allclose(up.flatten(2).mean(-1), z.flatten(2).mean(-1), atol=1e-5)  # AdaIN to the input stats


def test_generate_two_pass_distilled_and_temporal():
    import dataclasses

    from ltx2_core.ltxv.pipeline import generate
    from ltx2_core.ltxv.pipeline.demo import demo_components
    from ltx2_core.upsampler import LatentUpsampler, LatentUpsamplerConfig

    parts = demo_components()
    steps = []
    clip = generate(dataclasses.replace(parts, distilled=True), "a fox", width=160, height=96, frames=17, seed=2,
                    two_pass=True, callback=lambda i, n, x0: steps.append((i, n, tuple(x0.shape))))
    assert clip.video.shape == (3, 17, 96, 160) and clip.latent.shape == (1, 8, 3, 2, 6)  # 2 x (96 x 32) pass
    assert [s[:2] for s in steps] == [(i, 10) for i in range(10)]  # 7 + 3 distilled sigmas
    assert steps[0][2] == (1, 8, 3, 1, 3) and steps[-1][2] == (1, 8, 3, 2, 6)
    temporal = LatentUpsampler(LatentUpsamplerConfig(in_channels=8, mid_channels=32, num_blocks_per_stage=1,
                                                     spatial_upsample=False, temporal_upsample=True)).eval()
    steps.clear()
    clip = generate(dataclasses.replace(parts, upsampler=temporal), "a fox", width=128, height=96, frames=17,
                    steps=4, seed=2, two_pass=True, callback=lambda i, n, x0: steps.append(tuple(x0.shape)))
    assert clip.video.shape == (3, 17, 96, 128)
    assert steps[0] == (1, 8, 2, 3, 4) and steps[-1] == (1, 8, 3, 3, 4)  # first pass at half the latent frames
    with pytest.raises(InputError, match="odd count"):
        generate(dataclasses.replace(parts, upsampler=temporal), "a fox", width=128, height=96, frames=9, steps=2,
                 two_pass=True)
    with pytest.raises(InputError, match="needs the latent upsampler"):
        generate(dataclasses.replace(parts, upsampler=None), "a fox", width=128, height=96, frames=9, two_pass=True)


def test_allowed_inference_steps_of_a_distilled_file_are_enforced():
    import dataclasses

    from ltx2_core.ltxv.pipeline import DISTILLED_FIRST_PASS, generate
    from ltx2_core.ltxv.pipeline.demo import demo_components

    parts = dataclasses.replace(demo_components(), distilled=True,
                                metadata={"allowed_inference_steps": list(DISTILLED_FIRST_PASS)})
    assert generate(parts, "x", width=64, height=64, frames=9, seed=0).video.shape == (3, 9, 64, 64)
    with pytest.raises(InputError, match="only allows the timesteps"):
        generate(parts, "x", width=64, height=64, frames=9, steps=4)


def test_replacement_mode_keyframes_are_pulled_to_their_latent():
    model = _model(causal=False)
    ctx = (torch.randn(1, 4, 24), torch.ones(1, 4, dtype=torch.long))
    key = torch.randn(1, 8, 1, 2, 3)
    shape = (1, 8, 3, 2, 3)
    sigmas = ltxv_sigmas(3, shape[2:])
    hard = denoise_ltxv(model, shape, [LTXVCondition(key, 16, 1.0)], sigmas, ctx, None, LTXVGuidance.off(),
                        generator=torch.Generator().manual_seed(0))
    soft = denoise_ltxv(model, shape, [LTXVCondition(key, 16, 0.3)], sigmas, ctx, None, LTXVGuidance.off(),
                        generator=torch.Generator().manual_seed(0))
    assert hard.shape == soft.shape == shape  # the extra keyframe tokens are removed before returning
    assert not torch.equal(hard, soft)  # the keyframe acts on the video through attention, by its strength
