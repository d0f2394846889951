"""LTX-Video schedules vs the official RectifiedFlowScheduler (bit for bit) and diffusers' FlowMatch scheduler."""

import numpy as np
import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.ltxv.pipeline import DISTILLED_FIRST_PASS, DISTILLED_SECOND_PASS, LTXVScheduler, ltxv_sigmas

SHAPES = [(1, 2, 3), (4, 16, 22), (16, 22, 38), (13, 15, 22)]  # (F', H', W'): below, inside and beyond 1024..4096
STEPS = [2, 3, 8, 20, 40]


def _official(steps, shape, **kwargs):
    from ltx_video.schedulers.rf import RectifiedFlowScheduler

    scheduler = RectifiedFlowScheduler(**kwargs)
    scheduler.set_timesteps(steps, samples_shape=(1, 128) + shape)
    return scheduler.timesteps


@pytest.mark.parametrize("steps", STEPS)
def test_sd3_shift_equals_official_bit_for_bit(steps):
    for shape in SHAPES:
        ours = ltxv_sigmas(steps, shape)
        ref = _official(steps, shape, shifting="SD3", target_shift_terminal=0.1)
        assert ours.dtype == ref.dtype == torch.float32
        assert torch.equal(ours, ref), (steps, shape)
        assert float(ours[-1]) == pytest.approx(0.1, abs=1e-7)


def test_other_samplers_and_metadata_scheduler_equal_official():
    for steps in STEPS:
        for shape in SHAPES[:2]:
            assert torch.equal(ltxv_sigmas(steps, shape, sampler="linear-quadratic", shift=None),
                               _official(steps, shape, sampler="LinearQuadratic"))
            assert torch.equal(ltxv_sigmas(steps, shape, shift=None), _official(steps, shape))
            section = {"sampler": "LinearQuadratic", "shifting": "SD3", "target_shift_terminal": 0.1}
            assert torch.equal(ltxv_sigmas(steps, shape, scheduler=LTXVScheduler.from_metadata(section)),
                               _official(steps, shape, sampler="LinearQuadratic", shifting="SD3",
                                         target_shift_terminal=0.1))
            assert torch.equal(ltxv_sigmas(steps, shape, shift="simple-diffusion"),
                               _official(steps, shape, shifting="SimpleDiffusion"))


def test_skipped_steps_equal_official_retrieve_timesteps():
    from ltx_video.pipelines.pipeline_ltx_video import retrieve_timesteps
    from ltx_video.schedulers.rf import RectifiedFlowScheduler

    shape = (3, 8, 12)
    for skip_initial, skip_final in ((0, 3), (17, 0)):
        ref, n = retrieve_timesteps(RectifiedFlowScheduler(shifting="SD3", target_shift_terminal=0.1), 30, "cpu",
                                    skip_initial_inference_steps=skip_initial,
                                    skip_final_inference_steps=skip_final, samples_shape=(1, 8) + shape)
        ours = ltxv_sigmas(30, shape, skip_initial=skip_initial, skip_final=skip_final)
        assert n == len(ours) == 30 - skip_initial - skip_final
        assert torch.equal(ours, ref)


def test_diffusers_flow_match_scheduler_agrees_within_float32_ulps():
    from diffusers import FlowMatchEulerDiscreteScheduler
    from diffusers.pipelines.ltx.pipeline_ltx import calculate_shift

    worst = 0.0
    for steps in STEPS:
        for shape in SHAPES:
            scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05,
                                                        base_image_seq_len=1024, max_image_seq_len=4096,
                                                        shift_terminal=0.1)
            mu = calculate_shift(int(np.prod(shape)), 1024, 4096, 0.95, 2.05)
            scheduler.set_timesteps(steps, sigmas=np.linspace(1.0, 1 / steps, steps), mu=mu)
            ref = scheduler.sigmas[:-1].double()
            worst = max(worst, float((ltxv_sigmas(steps, shape, dtype=torch.float64) - ref).abs().max()))
            assert torch.allclose(scheduler.timesteps.double() / 1000, ref, atol=1e-6)
    # diffusers rounds in NumPy float32 in another order: a few ulps (measured 5.4e-7), never more
    assert worst < 1e-6


def test_distilled_lists_and_errors():
    assert DISTILLED_FIRST_PASS == (1.0, 0.9937, 0.9875, 0.9812, 0.975, 0.9094, 0.725)
    assert DISTILLED_SECOND_PASS == (0.9094, 0.725, 0.4219)
    assert torch.equal(ltxv_sigmas(sigmas=DISTILLED_SECOND_PASS), torch.tensor(DISTILLED_SECOND_PASS))
    assert torch.equal(ltxv_sigmas(1, (2, 2, 2)), torch.tensor([1.0]))  # official: NaN (0 / 0 in the stretch)
    with pytest.raises(InputError, match="strictly decreasing"):
        ltxv_sigmas(sigmas=[0.5, 0.7])
    with pytest.raises(InputError, match="leaves none"):
        ltxv_sigmas(4, (1, 2, 2), skip_initial=2, skip_final=2)
    with pytest.raises(InputError, match="latent"):
        ltxv_sigmas(4)
    with pytest.raises(InputError, match="Unknown LTX-Video scheduler"):
        LTXVScheduler.from_metadata({"sampler": "DDIM"})
