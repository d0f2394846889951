"""Euler-ancestral step (LTX-2.5 distilled stage 1): parity with diffusers 0.42.1
`LTXEulerAncestralRFScheduler` and the official formula, and its use in the denoise loop (noise from its own
generator seeded seed + 10000, video drawn before audio, conditioned tokens re-pinned)."""

import pytest
import torch

from ltx2_core.pipeline.conditioning import initial_audio_state, initial_video_state
from ltx2_core.pipeline.denoise import ANCESTRAL_SEED_OFFSET, TextContext, denoise
from ltx2_core.pipeline.latents import latent_shape, make_generator
from ltx2_core.pipeline.sampler import EulerAncestral, euler_step
from ltx2_core.pipeline.schedules import DISTILLED_SIGMAS


def test_parity_diffusers_scheduler_fp32():
    from diffusers.schedulers.scheduling_ltx_euler_ancestral_rf import LTXEulerAncestralRFScheduler

    scheduler = LTXEulerAncestralRFScheduler(eta=1.0, s_noise=1.0)
    scheduler.set_timesteps(sigmas=list(DISTILLED_SIGMAS))
    ours = EulerAncestral(seed=5)
    g_ref = torch.Generator().manual_seed(5)
    x_ref = x = torch.randn(2, 12, 8, generator=torch.Generator().manual_seed(0))
    for i in range(len(DISTILLED_SIGMAS) - 1):
        velocity = torch.tanh(x_ref) * 0.7  # any model
        sigma, sigma_next = DISTILLED_SIGMAS[i], DISTILLED_SIGMAS[i + 1]
        x0 = x - velocity * torch.tensor(sigma, dtype=torch.float32)
        x = ours.step(x, x0, sigma, sigma_next)
        x_ref = scheduler.step(velocity, scheduler.timesteps[i], x_ref, generator=g_ref, return_dict=False)[0]
        rel = ((x - x_ref).abs().max() / x_ref.abs().max()).item()
        assert rel <= 1e-5, (i, rel)
        x_ref = x  # same input next step: compare single steps, not accumulated drift


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["fp64", "fp32"])
def test_formula_and_limits(dtype):
    g = torch.Generator().manual_seed(1)
    x, x0, eps = (torch.randn(1, 6, 4, generator=g, dtype=torch.float64).to(dtype) for _ in range(3))
    s, n = 0.725, 0.421875
    got = EulerAncestral().step(x, x0, s, n, noise=eps)
    s, n = torch.tensor(s, dtype=torch.float32).double(), torch.tensor(n, dtype=torch.float32).double()
    down = n * (1 + (n / s - 1))  # eta 1
    want = (1 - n) / (1 - down) * ((down / s) * x.double() + (1 - down / s) * x0.double()) \
        + eps.double() * (n**2 - down**2 * (1 - n) ** 2 / (1 - down) ** 2).clamp(min=0).sqrt()
    err = ((got.double() - want).abs().max() / want.abs().max()).item()
    assert err <= (1e-12 if dtype == torch.float64 else 1e-6), err
    assert torch.equal(EulerAncestral().step(x, x0, 0.42, 0.0), x0)  # final step returns x0
    plain = EulerAncestral(eta=0.0).step(x, x0, 0.725, 0.421875)  # eta 0 = Euler
    assert (plain - euler_step(x, x0, 0.725, 0.421875)).abs().max().item() <= 1e-6


def test_denoise_loop_seeds_and_draw_order():
    shape = latent_shape(64, 64, 9, 24.0, video_channels=8, audio_channels=2, audio_mel_bins=4)
    video, audio = initial_video_state(shape, 24.0), initial_audio_state(shape)
    ctx = TextContext(torch.zeros(1, 2, 8), torch.zeros(1, 2, 8))

    def model(v, a, _):
        return v.latent * 0.3, a.latent * -0.2

    sigmas = torch.tensor([1.0, 0.7, 0.0])
    got = denoise(model, shape, video, audio, sigmas, ctx, generator=make_generator(3), sampler="euler_ancestral")
    # by hand: initial noise from seed 3 (video, audio), step noise from seed 3 + 10000 (video, audio)
    g = make_generator(3)
    xv = torch.randn(video.latent.shape, generator=g)
    xa = torch.randn(audio.latent.shape, generator=g)
    step = EulerAncestral(seed=3 + ANCESTRAL_SEED_OFFSET)
    xv = step.step(xv, xv - xv * 0.3, 1.0, 0.7)
    xa = step.step(xa, xa + xa * 0.2 * 1.0, 1.0, 0.7)
    xv, xa = xv - xv * 0.3 * 0.7, xa + xa * 0.2 * 0.7  # final step: x0
    assert torch.allclose(got.video_tokens, xv, atol=1e-6) and torch.allclose(got.audio_tokens, xa, atol=1e-6)
    euler = denoise(model, shape, video, audio, sigmas, ctx, generator=make_generator(3))
    assert (euler.video_tokens - got.video_tokens).abs().max() > 1e-2  # the ancestral noise does something


def test_release_defaults_pick_ancestral_for_distilled_ltx25_only():
    from ltx2_core.pipeline.release_defaults import image_crf, stage1_sampler

    assert stage1_sampler((2, 5, 0), True, "euler") == "euler_ancestral"
    assert stage1_sampler((2, 5, 0), False, "euler") == "euler"  # dev: unchanged
    assert stage1_sampler((2, 3, 0), True, "euler") == "euler"
    assert stage1_sampler(None, True, "euler") == "euler"
    assert stage1_sampler((2, 5, 0), True, "res_2s") == "res_2s"  # an explicit choice wins
    assert (image_crf((2, 5, 0)), image_crf((2, 3, 0)), image_crf(None)) == (18, 33, 33)


def test_generate_distilled_ltx25_uses_ancestral_stage1():
    from dataclasses import replace

    from ltx2_core.pipeline.demo import demo_components
    from ltx2_core.pipeline.generate import generate
    from ltx2_core.pipeline.guidance import NO_GUIDANCE
    from ltx2_core.release import Release

    parts = replace(demo_components(seed=1), distilled=True)
    small = dict(width=64, height=64, frames=9, seed=4, guidance=NO_GUIDANCE, sigmas=[1.0, 0.7, 0.0])
    plain = generate(parts, "a fox", **small)
    ltx25 = generate(replace(parts, release=Release((2, 5, 0), "gemma4-12b-ltx-v1")), "a fox", **small)
    explicit = generate(parts, "a fox", sampler="euler_ancestral", **small)
    assert torch.equal(ltx25.video, explicit.video)
    assert (ltx25.video - plain.video).abs().max() > 1e-3
