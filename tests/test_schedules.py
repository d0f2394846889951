"""Sigma schedules equal the reference (ltx-core LTX2Scheduler, ltx-pipelines distilled constants)."""

import pytest
import torch
from ltx_core.components.schedulers import LTX2Scheduler

from ltx2_core.errors import InputError
from ltx2_core.pipeline.schedules import DISTILLED_SIGMAS, STAGE2_SIGMAS, as_sigmas, ltx2_sigmas


@pytest.mark.parametrize("steps", [2, 4, 8, 15, 30, 40])
@pytest.mark.parametrize("tokens", [None, 1024, 6144, 8160])
def test_ltx2_sigmas_equal_reference_exactly(steps, tokens):
    latent = None if tokens is None else torch.zeros(1, 1, tokens, 1, 1)
    ours = ltx2_sigmas(steps, tokens)
    reference = LTX2Scheduler().execute(steps, latent=latent)
    assert ours.dtype == torch.float32
    assert torch.equal(ours, reference)


def test_ltx2_sigmas_known_values():
    sigmas = ltx2_sigmas(40)
    assert sigmas[0].item() == pytest.approx(0.99999994, abs=1e-8)
    assert sigmas[-2].item() == pytest.approx(0.1, abs=1e-6)
    assert sigmas[-1].item() == 0.0
    assert len(sigmas) == 41


def test_distilled_constants_equal_reference():
    # ltx-pipelines utils/constants.py (not installed here): values from the 2026-03-04 release.
    assert DISTILLED_SIGMAS == (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0)
    assert STAGE2_SIGMAS == (0.909375, 0.725, 0.421875, 0.0)
    assert STAGE2_SIGMAS == DISTILLED_SIGMAS[-4:]


def test_bad_schedules_raise_input_error():
    with pytest.raises(InputError, match="steps"):
        ltx2_sigmas(0)
    with pytest.raises(InputError, match="decreasing"):
        as_sigmas([0.5, 0.7, 0.0])
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        as_sigmas([1.5, 0.0])
    assert torch.equal(as_sigmas(STAGE2_SIGMAS), torch.tensor(STAGE2_SIGMAS, dtype=torch.float32))


def test_token_dependent_shift_hq_values():
    # 15 steps shifted for the HQ pipeline's stage-1 latent (16 x 17 x 30 = 8160 tokens).
    expected = [1.0, 0.993491, 0.986015, 0.97734, 0.967151, 0.955015, 0.940314, 0.92214, 0.899096, 0.868923,
                0.827707, 0.768028, 0.673897, 0.503378, 0.1, 0.0]
    assert ltx2_sigmas(15, tokens=16 * 17 * 30).tolist() == pytest.approx(expected, abs=2e-6)
