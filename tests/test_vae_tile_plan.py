"""Video VAE tile plans: the square plan (default) and the official aspect plan, tile counts, seam-free
blending, and the batched decode of equal-shaped tiles (equal to one-at-a-time up to float rounding)."""

import dataclasses

import pytest
import torch
from _video_vae_oracle import LATENT, randomize_, rel_err, tiny_metadata

from ltx2_core.errors import InputError
from ltx2_core.video_vae import TilingConfig, VideoVAE, VideoVAEConfig
from ltx2_core.video_vae.tiling import _decode_spatial_spans, split_axis, tile_count


def _vae(version: str, conditioned: bool, seed: int, center_tap: bool = False, noise: float = 0.025) -> VideoVAE:
    config = dataclasses.replace(VideoVAEConfig.from_metadata(tiny_metadata(version, conditioned)),
                                 decode_noise_scale=noise)
    vae = VideoVAE(config, components=("decoder",))
    gen = torch.Generator().manual_seed(seed)
    randomize_((vae,), gen)
    with torch.no_grad():
        vae.get_buffer("per_channel_statistics.std-of-means").copy_(torch.rand(LATENT, generator=gen) + 0.5)
        vae.get_buffer("per_channel_statistics.mean-of-means").copy_(torch.randn(LATENT, generator=gen) * 0.3)
        if conditioned:
            vae.decoder.timestep_scale_multiplier.fill_(1000.0)
        if center_tap:  # receptive field of one latent cell: any tiling is exactly the whole decode
            for name, p in vae.named_parameters():
                if name.endswith("conv.weight"):
                    tap = p[:, :, 1, 1, 1].clone()
                    p.zero_()
                    p[:, :, 1, 1, 1] = tap
    return vae.eval()


def _tiles(length: int, long_side: int, cfg: TilingConfig) -> int:
    return len(_decode_spatial_spans(length, long_side, cfg, 32))


def test_tile_counts_follow_the_formula():
    for size, overlap in ((4, 2), (4, 1), (5, 3), (16, 2), (3, 0)):
        for length in range(1, 40):
            spans = split_axis(length, size, overlap)
            assert len(spans) == tile_count(length, size, overlap)
            expected = 1 if length <= size else -(-(length - overlap) // (size - overlap))
            assert len(spans) == expected
            # Contiguous cover: every tile starts `size - overlap` after the previous, none longer than `size`.
            assert spans[0].start == 0 and spans[-1].end == length
            assert all(s.end - s.start <= max(size, length if len(spans) == 1 else size) for s in spans)
            assert all(b.start - a.start == size - overlap for a, b in zip(spans, spans[1:]))
    square, aspect = TilingConfig(128, 64, None), TilingConfig(128, 64, None, tile_shape="aspect")
    # The peers benchmark's 6x8-latent frame: ComfyUI's tiled decode cuts 2 x 3 square tiles; so does "square".
    assert (_tiles(6, 8, square), _tiles(8, 8, square)) == (2, 3)
    assert (_tiles(6, 8, aspect), _tiles(8, 8, aspect)) == (4, 3)  # the official plan: 3-latent rows, stride 1
    assert TilingConfig().tile_shape == "square"


def test_tile_shape_is_validated():
    with pytest.raises(InputError, match="tile_shape must be one of square, aspect, got 'round'"):
        TilingConfig(tile_shape="round")


@pytest.mark.parametrize("conditioned", [False, True])
def test_square_tiled_decode_is_seam_free(conditioned):
    """Blend weights sum to one everywhere: with a one-cell receptive field tiled == whole (float64)."""
    vae = _vae("ltx2", conditioned, seed=1, center_tap=True, noise=0.0).double()  # no per-tile noise
    z = torch.randn(2, LATENT, 5, 5, 7, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ts = torch.tensor([0.05, 0.3], dtype=torch.float64)
    with torch.no_grad():
        whole = vae.decode(z, timestep=ts, generator=torch.Generator().manual_seed(3))
        for batch_tiles in (True, False):
            cfg = TilingConfig(96, 32, 16, 8, batch_tiles=batch_tiles)
            tiled = vae.decode(z, tiling=cfg, timestep=ts, generator=torch.Generator().manual_seed(3))
            assert tiled.shape == whole.shape == (2, 3, 33, 160, 224)
            assert (tiled - whole).abs().max().item() <= 1e-12


def test_square_plan_is_no_further_from_whole_than_the_official_plan():
    """Off-centre taps at 1 % (a little context across tiles): the square tiles see more of it than the
    official plan's thin ones. Random tiny decoders amplify context (pixel norms), so both are far from
    the whole decode in absolute terms; measured 0.145 (square) vs 0.193 (aspect), max relative error."""
    vae = _vae("ltx23", False, seed=4)
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if name.endswith("conv.weight"):
                tap = p[:, :, 1, 1, 1].clone()
                p.mul_(0.01)
                p[:, :, 1, 1, 1] = tap
    z = torch.randn(1, LATENT, 2, 6, 8, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        whole = vae.decode(z)
        square = rel_err(vae.decode(z, tiling=TilingConfig(128, 64, None)), whole)
        aspect = rel_err(vae.decode(z, tiling=TilingConfig(128, 64, None, tile_shape="aspect")), whole)
    assert 0 < square < aspect, (square, aspect)


@pytest.mark.parametrize("version,conditioned", [("ltx2", True), ("ltx23", False)])
def test_batched_tiles_equal_one_at_a_time(version, conditioned):
    vae = _vae(version, conditioned, seed=6).float()
    z = torch.randn(2, LATENT, 3, 5, 7, generator=torch.Generator().manual_seed(7))  # stretched last tiles
    outs = []
    with torch.no_grad():
        for batch_tiles in (True, False):
            cfg = TilingConfig(64, 32, None, batch_tiles=batch_tiles)
            outs.append(vae.decode(z, tiling=cfg, generator=torch.Generator().manual_seed(8)))
    assert rel_err(outs[0], outs[1]) <= 1e-5  # float32 rounding of batched convs: measured 2.2e-6


def test_forward_parts_splits_by_memory():
    """Whatever the element budget, the parts come back equal to decoding each part on its own."""
    vae = _vae("ltx23", False, seed=9).float()
    z = torch.randn(3, LATENT, 2, 2, 2, generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        single = [vae.decoder(part) for part in z.split(1)]
        for budget in (0, 2000, 10 ** 9):
            parts = list(vae.decoder.forward_parts(z, None, 1, budget))
            assert len(parts) == 3 and all(p.shape == (1, 3, 9, 64, 64) for p in parts)
            assert max(rel_err(p, s) for p, s in zip(parts, single)) <= 1e-5
