"""Sequence parallelism and FSDP2 for the LTX-Video transformer on gloo ranks equal the single-process run."""

import pytest
import torch

from ltx2_core.parallel import ltxv_check
from ltx2_core.parallel.selfcheck import max_rel

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


@pytest.mark.parametrize("world", [2, 3])
def test_guided_ltxv_denoise_on_ranks_equals_one_process(world, tmp_path):
    ref = ltxv_check.reference()
    plain = ltxv_check.run_case(ltxv_check.build_model(torch.float64), torch.float64)
    assert torch.equal(plain, ref["float64"])  # the reference is deterministic
    ranks = ltxv_check.run_ranks(world, str(tmp_path))
    assert len(ranks) == world
    for rank, tensors in ranks.items():
        for mode in ltxv_check.MODES:
            sent = tensors[f"sent/{mode}/float32"].item()
            assert (sent > 0) == ("sp" in mode), (mode, sent)
            for dtype, tol in TOLERANCE.items():
                got, want = tensors[f"{mode}/{dtype}"], ref[dtype]
                assert got.shape == want.shape == ltxv_check.LATENT and got.dtype == want.dtype
                error = max_rel(got, want)
                assert error <= tol, (rank, mode, dtype, error)
                assert torch.equal(got, ranks[0][f"{mode}/{dtype}"])  # every rank holds the same latent
