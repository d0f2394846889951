"""The video VAE decode with its tiles spread over gloo ranks equals the single-process tiled decode."""

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.parallel import vae_check
from ltx2_core.parallel.vae_decode import ParallelVideoVAE, decode_parallel, decode_plan
from ltx2_core.video_vae.tiling import decode_chunks


@pytest.mark.parametrize("world", [2, 3])
def test_parallel_decode_equals_the_one_process_tiled_decode(world, tmp_path):
    regions, _ = decode_plan(vae_check.LATENT, vae_check.TILING, 8, 32)
    assert len(regions) == 25  # 5 chunks x 5 tiles: divisible by neither 2 nor 3
    ranks = vae_check.run_ranks(world, str(tmp_path))
    main = vae_check.single(vae_check.build_vae(), vae_check.make_latent())  # this process, its own threads
    assert main.shape == (1, 3, 41, 64, 192)
    for rank, t in ranks.items():
        # the same process's one-rank tiled decode, the same generator draws: equal to the last bit
        assert torch.equal(t["all"], t["single"]), (rank, (t["all"] - t["single"]).abs().max())
        assert torch.equal(t["all"], ranks[0]["all"])  # every rank holds the result
        assert (t["all"] - main).abs().max() <= 1e-5 * main.abs().max()
        assert ("rank0" in t) == (rank == 0)  # to_all=False: only rank 0 returns pixels
        # rank r sends its tiles k = r, r + P, ... (B, 3, 1 + 8(t - 1), 32h, 32w) in float32 to rank 0
        expected = sum(3 * (1 + 8 * (r[0].stop - r[0].start - 1)) * 32 * (r[1].stop - r[1].start)
                       * 32 * (r[2].stop - r[2].start) * 4 for k, r in enumerate(regions) if k % world == rank)
        assert t["sent"].item() == (0 if rank == 0 else expected), rank
    assert torch.equal(ranks[0]["rank0"], ranks[0]["single"])


def test_plan_is_the_order_decode_chunks_reads_the_latent():
    latent = torch.randn(1, 2, 6, 3, 7)
    seen = []

    def record(piece):
        seen.append(piece)
        return piece.new_zeros(1, 3, 1 + 8 * (piece.shape[2] - 1), 32 * piece.shape[3], 32 * piece.shape[4])

    chunks = list(decode_chunks(record, latent, vae_check.TILING, 8, 32))
    regions, shapes = decode_plan(latent.shape, vae_check.TILING, 8, 32)
    assert len(regions) == len(seen) > 10
    for (t, h, w), piece in zip(regions, seen):
        assert torch.equal(latent[:, :, t, h, w], piece)
    assert shapes == [tuple(c.shape[2:]) for c in chunks]


def test_wrapper_stands_for_the_vae_and_other_vaes_are_refused():
    vae = vae_check.build_vae()
    wrapped = ParallelVideoVAE(vae)
    assert wrapped.config is vae.config and wrapped.spatial_compression == 32 and wrapped.encode == vae.encode
    assert [p for p in wrapped.parameters()] == [p for p in vae.parameters()]
    with pytest.raises(AttributeError):
        wrapped.no_such_attribute
    with pytest.raises(InputError, match="^The parallel decode supports the LTX-2 / LTX-2.3 video VAE, not Linear"):
        decode_parallel(torch.nn.Linear(1, 1), torch.zeros(1, 8, 2, 1, 1), vae_check.TILING)
