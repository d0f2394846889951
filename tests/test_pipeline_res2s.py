"""res_2s sampler: hand-computed step, the official formulas (ltx-pipelines 1.0.0 `phi`, its SDE noise),
second-order convergence, and a full guided res_2s loop equal to ltx-pipelines 1.0.0's
`res2s_audio_video_denoising_loop`."""

import math
import os
import sys

import pytest
import torch
from ltx_core.components.diffusion_steps import Res2sDiffusionStep
from ltx_core.conditioning import VideoConditionByLatentIndex
from ltx_pipelines.utils.res2s import phi as official_phi
from ltx_pipelines.utils.samplers import _get_new_noise as official_new_noise

sys.path.insert(0, os.path.dirname(__file__))
from _pipeline_oracle import random_contexts, reference_res2s_run, tiny_models  # noqa: E402

from ltx2_core.pipeline.conditioning import (  # noqa: E402
    ReplaceFrames, apply_conditionings, initial_audio_state, initial_video_state,
)
from ltx2_core.pipeline.denoise import TextContext, denoise  # noqa: E402
from ltx2_core.pipeline.guidance import Guidance, GuidanceParams  # noqa: E402
from ltx2_core.pipeline.latents import draw_noise, latent_shape, make_generator  # noqa: E402
from ltx2_core.pipeline.sampler import (  # noqa: E402
    RES2S_FINAL_SIGMA, Res2s, euler_step, phi, res2s_coefficients, res2s_noise, sde_renoise,
)
from ltx2_core.pipeline.schedules import ltx2_sigmas  # noqa: E402

FPS = 24.0
DETERMINISTIC = dict(eta=0.0, substep_eta=0.0)


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_coefficients_by_hand():
    h = math.log(2.0)  # sigma 0.8 -> 0.4
    a21, b1, b2 = res2s_coefficients(h)
    # phi_1(-h/2) = (1 - 2^-1/2) / (h/2); phi_1(-h) = (1/2) / h; phi_2(-h) = (1/2 - 1 + h) / h^2
    assert a21 == pytest.approx((1 - 2**-0.5) / h, rel=1e-14)
    assert b2 == pytest.approx(2 * (h - 0.5) / h**2, rel=1e-14)
    assert b1 == pytest.approx(0.5 / h - 2 * (h - 0.5) / h**2, rel=1e-14)
    for z in (-5.0, -0.7, -1e-3, -1e-6, 0.0):
        for j in (1, 2):  # the official formula (cancellation-prone for tiny z, so looser there)
            assert phi(j, z) == pytest.approx(official_phi(j, z), rel=1e-9 if abs(z) > 1e-4 else 1e-4)
    assert phi(2, -1e-7) == pytest.approx(0.5, rel=1e-6) and phi(1, 0.0) == 1.0


def _toy_x0(x, sigma):
    """A toy denoiser (x0 as a function of x and sigma), nonlinear in both."""
    return torch.tanh(0.3 * x) + sigma * torch.cos(x)


def test_deterministic_step_by_hand():
    x = torch.linspace(-2, 2, 12, dtype=torch.float64).reshape(1, 4, 3)
    ones, zeros = torch.ones(1, 4, 1), torch.zeros_like(x)
    sampler = Res2s(**DETERMINISTIC)
    d1 = _toy_x0(x, 0.8)
    mid = sampler.midpoint(x, d1, ones, zeros, 0.8, 0.4)
    # the midpoint is the exact step for a constant x0 to sigma sqrt(0.8 * 0.4): x + (1 - 2^-1/2)(d1 - x)
    torch.testing.assert_close(mid.x, x + (1 - 2**-0.5) * (d1 - x), rtol=1e-14, atol=1e-14)
    assert mid.sigma == pytest.approx(math.sqrt(0.32), rel=1e-15)
    torch.testing.assert_close(mid.x, euler_step(x, d1, 0.8, math.sqrt(0.32)), rtol=1e-13, atol=1e-13)
    d2 = _toy_x0(mid.x, mid.sigma)
    h = math.log(2.0)
    hb2 = 2 * (h - 0.5) / h
    expected = x + (0.5 - hb2) * (d1 - x) + hb2 * (d2 - x)
    torch.testing.assert_close(sampler.step(mid, d2, ones, zeros, 0.8, 0.4), expected, rtol=1e-13, atol=1e-13)
    # pinned tokens (mask 0) stay at their clean value
    mask = torch.tensor([[[1.0], [0.0], [1.0], [0.0]]])
    clean = torch.randn_like(x)
    mid = sampler.midpoint(x, d1, mask, clean, 0.8, 0.4)
    out = sampler.step(mid, _toy_x0(mid.x, mid.sigma), mask, clean, 0.8, 0.4)
    assert torch.equal(out[:, 1], clean[:, 1]) and torch.equal(mid.x[:, 3], clean[:, 3])
    with pytest.raises(ValueError, match="sigma_next > 0"):
        sampler.midpoint(x, d1, ones, zeros, 0.4, 0.0)


def test_sde_move_and_noise_equal_the_official_ones():
    gen = torch.Generator().manual_seed(0)
    x_from, x_to = torch.randn(1, 6, 5, generator=gen, dtype=torch.float64), torch.randn(1, 6, 5, dtype=torch.float64)
    noise = torch.randn(1, 6, 5, generator=gen, dtype=torch.float64)
    for sigma, sigma_next in ((0.9, 0.7), (1.0, 0.99), (0.1, RES2S_FINAL_SIGMA)):
        ref = Res2sDiffusionStep().step(x_from, x_to, torch.tensor([sigma, sigma_next], dtype=torch.float64), 0, noise)
        ours = sde_renoise(x_from, x_to, sigma, sigma_next, 0.5, noise)
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    assert sde_renoise(x_from, x_to, 0.9, 0.7, 0.0, None) is x_to
    ours = res2s_noise((2, 7, 3), torch.Generator().manual_seed(-1))
    ref = official_new_noise(torch.empty(2, 7, 3), torch.Generator().manual_seed(-1))
    assert ours.dtype == torch.float64 and torch.equal(ours, ref)


def _gaussian_problem():
    """Data x0 ~ N(mu, s^2): the exact flow-matching denoiser is linear in x and the ODE solution is
    x(sigma) = (1 - sigma) mu + sqrt((1 - sigma)^2 s^2 + sigma^2) z with z fixed along the path."""
    mu, s = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), torch.tensor([0.3, 1.5, 0.8], dtype=torch.float64)

    def x0(x, sigma):
        var = (1 - sigma) ** 2 * s**2 + sigma**2
        return mu + (1 - sigma) * s**2 / var * (x - (1 - sigma) * mu)

    def exact(z, sigma):
        return (1 - sigma) * mu + torch.sqrt((1 - sigma) ** 2 * s**2 + sigma**2) * z

    return x0, exact


def _solve(steps, second_order):
    x0, exact = _gaussian_problem()
    z = torch.tensor([[[1.3, -0.4, 0.9]]], dtype=torch.float64)
    sigmas = torch.linspace(0.95, 0.05, steps + 1, dtype=torch.float64).tolist()
    x, ones, zeros = exact(z, sigmas[0]), torch.ones(1, 1, 1), torch.zeros(1, 1, 3, dtype=torch.float64)
    sampler = Res2s(**DETERMINISTIC)
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        if second_order:
            mid = sampler.midpoint(x, x0(x, sigma), ones, zeros, sigma, sigma_next)
            x = sampler.step(mid, x0(mid.x, mid.sigma), ones, zeros, sigma, sigma_next)
        else:
            x = euler_step(x, x0(x, sigma), sigma, sigma_next)
    return (x - exact(z, sigmas[-1])).abs().max().item()


def test_res2s_converges_with_second_order():
    errors = [_solve(n, True) for n in (8, 16, 32, 64)]
    ratios = [a / b for a, b in zip(errors, errors[1:])]
    print("res_2s errors", errors, "ratios", ratios)
    assert errors[-1] < 1e-4
    assert all(3.5 < r < 4.6 for r in ratios[1:])
    euler = [_solve(n, False) for n in (16, 32)]
    assert 1.7 < euler[0] / euler[1] < 2.3 and errors[1] < euler[0] / 5  # Euler: first order


@pytest.fixture(scope="module")
def model_pair():
    return tiny_models(seed=3, version="2.3")


GUIDANCE = Guidance(
    video=GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
    audio=GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
)


def _run(model, i2v, sampler="res_2s", callback=None):
    shape = latent_shape(96, 64, 17, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)
    image = torch.randn(1, 8, 1, shape.height, shape.width, generator=torch.Generator().manual_seed(11))
    pos, neg = random_contexts(model)
    video = apply_conditionings(initial_video_state(shape, FPS), [ReplaceFrames(image)] if i2v else [], shape, FPS)
    audio = initial_audio_state(shape)
    noise = draw_noise([video.latent.shape, audio.latent.shape], make_generator(5))
    result = denoise(model, shape, video, audio, ltx2_sigmas(4), TextContext(*pos), TextContext(*neg), GUIDANCE,
                     noise=noise, sampler=sampler, callback=callback)
    return shape, image, pos, neg, result


@pytest.mark.parametrize("i2v", [False, True], ids=["t2av", "i2av"])
def test_res2s_loop_matches_official_loop(model_pair, i2v):
    ours, oracle = model_pair
    shape, image, pos, neg, result = _run(ours, i2v)
    items = [VideoConditionByLatentIndex(image, 1.0, 0)] if i2v else []
    ref_video, ref_audio = reference_res2s_run(oracle, shape, FPS, ltx2_sigmas(4), GUIDANCE, pos, neg, items, seed=5)
    rel_v, rel_a = _rel(result.video, ref_video), _rel(result.audio, ref_audio)
    print(f"res_2s {'i2av' if i2v else 't2av'}: video rel {rel_v:.2e}, audio rel {rel_a:.2e}")
    assert result.video.shape == ref_video.shape and rel_v <= 2e-6 and rel_a <= 2e-6
    if i2v:
        assert torch.equal(result.video[:, :, 0], image[:, :, 0])
    euler = _run(ours, i2v, sampler="euler")[-1]
    assert _rel(euler.video, ref_video) > 1e-2  # the sampler matters


def test_res2s_in_denoise_calls_the_model_twice_per_step_plus_once(model_pair):
    ours, _ = model_pair
    calls, seen = [], []

    def counting(video, audio, perturbations):
        calls.append(float(video.sigma[0]))
        return ours(video, audio, perturbations)

    counting.config = ours.config
    _run(counting, False, sampler=Res2s(**DETERMINISTIC), callback=lambda step, total, v, a: seen.append(step))
    sigmas = ltx2_sigmas(4).tolist()
    assert seen == [0, 1, 2, 3] and len(calls) == 4 * 2 + 1
    assert calls[0] == pytest.approx(sigmas[0]) and calls[1] == pytest.approx(math.sqrt(sigmas[0] * sigmas[1]))
    assert calls[-1] == pytest.approx(RES2S_FINAL_SIGMA)
    a = _run(ours, False, sampler=Res2s(**DETERMINISTIC))[-1]
    b = _run(ours, False, sampler=Res2s(eta=0.0, substep_eta=0.0, seed=123))[-1]
    c = _run(ours, False, sampler=Res2s(seed=123))[-1]
    assert torch.equal(a.video, b.video) and not torch.allclose(a.video, c.video)


def test_res2s_through_generate_and_the_cli_option():
    from ltx2_core.__main__ import _build_parser
    from ltx2_core.pipeline.demo import DEMO_GUIDANCE, demo_components
    from ltx2_core.pipeline.generate import generate

    args = _build_parser().parse_args(["generate", "--checkpoint", "c", "--text-encoder", "t", "--prompt", "p",
                                       "--out", "o.mp4", "--sampler", "res_2s"])
    assert args.sampler == "res_2s"
    parts = demo_components(seed=1, encoders=True)
    small = dict(width=64, height=64, frames=9, steps=2, seed=4, guidance=DEMO_GUIDANCE)
    steps = []
    clip = generate(parts, "a fox", sampler="res_2s", callback=lambda step, total, v, a: steps.append((step, total)),
                    **small)
    euler = generate(parts, "a fox", **small)
    assert steps == [(0, 2), (1, 2)] and clip.video.shape == euler.video.shape == (3, 9, 64, 64)
    assert torch.isfinite(clip.video).all() and not torch.allclose(clip.video, euler.video)
    sound = generate(parts, "a fox", audio_only=True, sampler="res_2s", **small)  # no video stream
    assert sound.video is None and torch.isfinite(sound.audio).all()
