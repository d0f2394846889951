"""Latent upsamplers: parity with ltx-core 1.0.0, full-size inventories on meta, loading, and the
normalized-latent helper."""

import json

import pytest
import torch
from _video_vae_oracle import parity_error, randomize_, rel_err, state_shapes
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError, InputError
from ltx2_core.upsampler import (
    SPATIAL_X1_5,
    SPATIAL_X2,
    TEMPORAL_X2,
    LatentUpsampler,
    LatentUpsamplerConfig,
    load_latent_upsampler,
    upsample_latent,
)
from ltx2_core.video_vae import PerChannelStatistics

oracle = pytest.importorskip("ltx_core.model.upsampler.model")

VARIANTS = {
    "spatial_x2": dict(spatial_upsample=True),
    "spatial_x2_rational": dict(spatial_upsample=True, rational_resampler=True, spatial_scale=2.0),
    "spatial_x1_5": dict(spatial_upsample=True, rational_resampler=True, spatial_scale=1.5),
    "temporal_x2": dict(spatial_upsample=False, temporal_upsample=True),
    "spatiotemporal_x2": dict(spatial_upsample=True, temporal_upsample=True),
    "spatial_x2_dims2": dict(spatial_upsample=True, dims=2),
}
OUT_SHAPES = {
    "spatial_x2": (2, 8, 3, 10, 12),
    "spatial_x2_rational": (2, 8, 3, 10, 12),
    "spatial_x1_5": (2, 8, 3, 8, 9),
    "temporal_x2": (2, 8, 5, 5, 6),
    "spatiotemporal_x2": (2, 8, 5, 10, 12),
    "spatial_x2_dims2": (2, 8, 3, 10, 12),
}


def tiny_kwargs(variant: str) -> dict:
    return dict(in_channels=8, mid_channels=32, num_blocks_per_stage=1, **VARIANTS[variant])


def oracle_pair(variant: str):
    gen = torch.Generator().manual_seed(0)
    ref = oracle.LatentUpsampler(**tiny_kwargs(variant))
    randomize_((ref,), gen)
    ours = load_latent_upsampler(ref.state_dict(), config=tiny_kwargs(variant))
    return ref.eval(), ours


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_upsampler_parity(variant, dtype, tol):
    ref, ours = oracle_pair(variant)
    x = torch.randn(2, 8, 3, 5, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(dtype)
    with torch.no_grad():
        expected = ref.to(dtype)(x)
        out = ours.to(dtype)(x)
    assert out.shape == expected.shape == OUT_SHAPES[variant]
    err = parity_error(out, expected)
    assert err <= tol, err


@pytest.mark.parametrize(
    "ours,kwargs,count",
    [
        (SPATIAL_X2, dict(mid_channels=1024), 72),
        (SPATIAL_X2.with_(rational_resampler=True), dict(mid_channels=1024, rational_resampler=True), 73),
        (SPATIAL_X1_5, dict(mid_channels=1024, rational_resampler=True, spatial_scale=1.5), 73),
        (TEMPORAL_X2, dict(mid_channels=512, spatial_upsample=False, temporal_upsample=True), 72),
    ],
)
def test_full_size_keys_and_shapes_match_oracle(ours, kwargs, count):
    with torch.device("meta"):
        ref = oracle.LatentUpsampler(**kwargs)
    expected = state_shapes(ref)
    mine = state_shapes(LatentUpsampler(ours, device="meta"))
    assert mine == expected and len(expected) == count


def test_upsample_latent_matches_oracle_helper():
    ref, ours = oracle_pair("spatial_x2")
    encoder_stats = oracle.VideoEncoder(out_channels=8, encoder_blocks=[("res_x", 1)])
    stats = PerChannelStatistics(8)
    gen = torch.Generator().manual_seed(2)
    values = {"mean-of-means": torch.randn(8, generator=gen), "std-of-means": torch.rand(8, generator=gen) + 0.5}
    for name, value in values.items():
        encoder_stats.per_channel_statistics.get_buffer(name).copy_(value)
        stats.get_buffer(name).copy_(value)

    class _Stats:  # the helper needs only the VAE's (un)normalization
        normalize_latent = staticmethod(stats.normalize)
        unnormalize_latent = staticmethod(stats.un_normalize)

    z = torch.randn(1, 8, 2, 3, 4, generator=gen)
    with torch.no_grad():
        expected = oracle.upsample_video(z, encoder_stats, ref)
        out = upsample_latent(z, ours, _Stats())
    assert rel_err(out, expected) <= 1e-5


def test_load_from_file_with_metadata_and_key_detection(tmp_path):
    ref, _ = oracle_pair("spatial_x1_5")
    state = {k: v.contiguous() for k, v in ref.state_dict().items() if k != "upsampler.blur_down.kernel"}
    config = {"_class_name": "LatentUpsampler", **tiny_kwargs("spatial_x1_5")}
    path = tmp_path / "up.safetensors"
    save_file(state, str(path), metadata={"config": json.dumps(config)})
    from_file = load_latent_upsampler(str(path))
    assert from_file.config.spatial_scale == 1.5 and from_file.config.rational_resampler
    assert torch.equal(from_file.upsampler.blur_down.kernel, ref.upsampler.blur_down.kernel)
    detected = load_latent_upsampler(state)  # no config: rebuilt from the key shapes
    assert detected.config == from_file.config
    # The x2 file's rational flag is reported both ways: the key names decide.
    plain, _ = oracle_pair("spatial_x2")
    flagged_config = {**tiny_kwargs("spatial_x2"), "rational_resampler": True}
    flagged = load_latent_upsampler(plain.state_dict(), config=flagged_config)
    assert not flagged.config.rational_resampler
    temporal, _ = oracle_pair("temporal_x2")
    assert load_latent_upsampler(temporal.state_dict()).config.temporal_upsample


def test_upsampler_errors():
    ref, ours = oracle_pair("spatial_x2")
    state = dict(ref.state_dict())
    del state["final_conv.bias"]
    with pytest.raises(CheckpointError, match="missing key"):
        load_latent_upsampler(state, config=tiny_kwargs("spatial_x2"))
    with pytest.raises(CheckpointError, match="not a latent upsampler"):
        load_latent_upsampler({"vae.encoder.x": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="spatial_scale 3.0 is not supported"):
        LatentUpsamplerConfig(rational_resampler=True, spatial_scale=3.0)
    with pytest.raises(CheckpointError, match="not a latent upsampler"):
        LatentUpsamplerConfig.from_metadata({"_class_name": "CausalVideoAutoencoder"})
    with pytest.raises(InputError, match="expects"):
        ours(torch.zeros(1, 9, 2, 2, 2))
