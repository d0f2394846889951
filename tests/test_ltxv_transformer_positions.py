"""LTX-Video token positions vs the official pipeline's latent_to_pixel_coords + frame-rate scaling."""

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.ltxv import video_positions


@pytest.mark.filterwarnings("ignore:torch.meshgrid")  # raised inside the official code
@pytest.mark.parametrize("causal", [False, True])
def test_positions_match_official(causal):
    vae_encode = pytest.importorskip("ltx_video.models.autoencoders.vae_encode")
    patchifier = pytest.importorskip("ltx_video.models.transformers.symmetric_patchifier")
    coords = patchifier.SymmetricPatchifier(patch_size=1).get_latent_coords(3, 2, 4, 2, "cpu")
    pixel = vae_encode.latent_to_pixel_coords_from_factors(coords, (8, 32, 32), causal_fix=causal).float()
    pixel[:, 0] += 16  # a keyframe at pixel frame 16
    pixel[:, 0] = pixel[:, 0] * (1.0 / 24.0)
    ours = video_positions(3, 2, 4, batch=2, frame_rate=24.0, causal_temporal_positioning=causal, frame_offset=16)
    assert torch.equal(ours, pixel)


def test_causal_fix_values():
    t = video_positions(3, 1, 1, frame_rate=1.0, causal_temporal_positioning=True)[0, 0]
    assert t.tolist() == [0.0, 1.0, 9.0]  # frame 0 alone, then the first pixel frame each latent covers
    t = video_positions(3, 1, 1, frame_rate=1.0, causal_temporal_positioning=False)[0, 0]
    assert t.tolist() == [0.0, 8.0, 16.0]
    hw = video_positions(1, 2, 3, frame_rate=25.0)[0, 1:]
    assert hw.tolist() == [[0, 0, 0, 32, 32, 32], [0, 32, 64, 0, 32, 64]]


def test_bad_grid_is_refused():
    with pytest.raises(InputError, match="frame_rate"):
        video_positions(1, 1, 1, frame_rate=0)
    with pytest.raises(InputError, match="at least 1"):
        video_positions(0, 1, 1)
