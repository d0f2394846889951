"""Video VAE: parity with ltx-core 1.0.0 (tiny configs), full-size key/shape inventories on meta,
tiled / chunked decode and encode, input validation."""

import pytest
import torch
from _video_vae_oracle import LATENT, VERSIONS, parity_error, randomize_, rel_err, state_shapes, tiny_metadata

from ltx2_core.errors import InputError
from ltx2_core.video_vae import TilingConfig, VideoVAE, VideoVAEConfig

oracle_cfg = pytest.importorskip("ltx_core.model.video_vae.model_configurator")
oracle_tiling = pytest.importorskip("ltx_core.model.video_vae.tiling")


def build_pair(version: str, timestep_conditioning: bool = False, seed: int = 0):
    """(oracle encoder, oracle decoder, our VideoVAE) with the same random weights."""
    meta = tiny_metadata(version, timestep_conditioning)
    gen = torch.Generator().manual_seed(seed)
    enc = oracle_cfg.VideoEncoderConfigurator.from_config({"vae": meta})
    dec = oracle_cfg.VideoDecoderConfigurator.from_config({"vae": meta})
    mean, std = torch.randn(LATENT, generator=gen) * 0.3, torch.rand(LATENT, generator=gen) + 0.5
    randomize_((enc, dec), gen)
    with torch.no_grad():
        for module in (enc, dec):
            module.per_channel_statistics.get_buffer("mean-of-means").copy_(mean)
            module.per_channel_statistics.get_buffer("std-of-means").copy_(std)
        if timestep_conditioning:
            dec.timestep_scale_multiplier.fill_(1000.0)
    ours = VideoVAE(VideoVAEConfig.from_metadata(meta))
    state = {k if k.startswith("per_channel") else "encoder." + k: v for k, v in enc.state_dict().items()}
    state.update({"decoder." + k: v for k, v in dec.state_dict().items() if not k.startswith("per_channel")})
    ours.load_state_dict(state, strict=True)
    return enc.eval(), dec.eval(), ours.eval()


@pytest.fixture(scope="module")
def pairs():
    return {(v, tc): build_pair(v, tc) for v in VERSIONS for tc in (False, True)}


def test_tiny_config_padding_modes():
    assert VideoVAEConfig.from_metadata(tiny_metadata("ltx2")).decoder_padding == "reflect"
    assert VideoVAEConfig.from_metadata(tiny_metadata("ltx23")).decoder_padding == "zeros"


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_encoder_parity(pairs, version, dtype, tol):
    enc, _, ours = pairs[(version, False)]
    x = torch.rand(2, 3, 17, 64, 96, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        ref = enc.to(dtype)(x.to(dtype))
        out = ours.to(dtype).encode(x.to(dtype))
    assert out.shape == (2, LATENT, 3, 2, 3) and out.dtype == dtype
    err = parity_error(out, ref)
    assert err <= tol, err


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("conditioned", [False, True])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_decoder_parity(pairs, version, conditioned, dtype, tol):
    _, dec, ours = pairs[(version, conditioned)]
    z = torch.randn(2, LATENT, 3, 2, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(dtype)
    timestep = torch.tensor([0.05, 0.2], dtype=dtype) if conditioned else None
    with torch.no_grad():
        ref = dec.to(dtype)(z, timestep=timestep, generator=torch.Generator().manual_seed(3))
        out = ours.to(dtype).decode(z, timestep=timestep, generator=torch.Generator().manual_seed(3))
    assert out.shape == (2, 3, 17, 64, 96)
    err = parity_error(out, ref)
    assert err <= tol, err


def test_conditioned_decoder_uses_timestep_and_noise(pairs):
    _, _, ours = pairs[("ltx23", True)]
    ours = ours.float()
    z = torch.randn(1, LATENT, 2, 2, 2, generator=torch.Generator().manual_seed(4))
    a = ours.decode(z, generator=torch.Generator().manual_seed(0))
    b = ours.decode(z, timestep=0.05, generator=torch.Generator().manual_seed(0))
    c = ours.decode(z, timestep=0.5, generator=torch.Generator().manual_seed(0))
    d = ours.decode(z, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)  # default decode timestep is 0.05
    assert (a - c).abs().max() > 1e-3 and (a - d).abs().max() > 1e-4


# ---------------------------------------------------------------- full-size inventories


@pytest.mark.parametrize("version,preset", [("ltx2", VideoVAEConfig.ltx2), ("ltx23", VideoVAEConfig.ltx23)])
def test_full_size_keys_and_shapes_match_oracle(version, preset):
    with torch.device("meta"):
        enc = oracle_cfg.VideoEncoderConfigurator.from_config({"vae": VERSIONS[version]})
        dec = oracle_cfg.VideoDecoderConfigurator.from_config({"vae": VERSIONS[version]})
    ours = VideoVAE(preset(), device="meta")
    shapes = state_shapes(ours)
    stats = {k: v for k, v in shapes.items() if k.startswith("per_channel_statistics.")}
    for part, oracle in (("encoder", enc), ("decoder", dec)):
        mine = {k[len(part) + 1:]: v for k, v in shapes.items() if k.startswith(part + ".")}
        mine.update(stats)
        assert mine == state_shapes(oracle)
    counts = (len(state_shapes(enc)), len(state_shapes(dec)))
    assert counts == {"ltx2": (94, 92), "ltx23": (86, 86)}[version]
    assert ours.spatial_compression == 32 and ours.temporal_compression == 8 and ours.latent_channels == 128
    assert all(p.device.type == "meta" for p in ours.parameters())


# ---------------------------------------------------------------- tiling


def test_tiled_decode_matches_oracle_tiled_decode(pairs):
    _, dec, ours = pairs[("ltx2", True)]  # timestep-conditioned: per-tile noise from the generator too
    dec, ours = dec.float(), ours.float()
    z = torch.randn(1, LATENT, 5, 3, 4, generator=torch.Generator().manual_seed(5))
    ref_cfg = oracle_tiling.TilingConfig(
        spatial_config=oracle_tiling.SpatialTilingConfig(64, 32),
        temporal_config=oracle_tiling.TemporalTilingConfig(16, 8),
    )
    with torch.no_grad():
        ref = torch.cat(list(dec.tiled_decode(z, ref_cfg, generator=torch.Generator().manual_seed(6))), dim=2)
        out = ours.decode(z, tiling=TilingConfig(64, 32, 16, 8, tile_shape="aspect"),
                          generator=torch.Generator().manual_seed(6))
    assert out.shape == ref.shape == (1, 3, 33, 96, 128)
    assert rel_err(out, ref) <= 1e-5


def test_tiled_encode_matches_oracle_tiled_encode(pairs):
    enc, _, ours = pairs[("ltx23", False)]
    enc, ours = enc.float(), ours.float()
    x = torch.rand(1, 3, 33, 64, 128, generator=torch.Generator().manual_seed(7)) * 2 - 1
    ref_cfg = oracle_tiling.TilingConfig(
        spatial_config=oracle_tiling.SpatialTilingConfig(96, 64),
        temporal_config=oracle_tiling.TemporalTilingConfig(24, 16),
    )
    with torch.no_grad():
        ref = enc.tiled_encode(x, ref_cfg)
        out = ours.encode(x, tiling=TilingConfig(96, 64, 24, 16))
    assert out.shape == (1, LATENT, 5, 2, 4)
    assert rel_err(out, ref) <= 1e-5


def _center_tap(vae: VideoVAE) -> VideoVAE:
    """Keep only the tap of each 3x3x3 kernel that reads the output's own position (the last temporal
    tap for the encoder's causal convs, the middle one for the decoder's symmetric ones)."""
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if name.endswith("conv.weight"):
                t = 2 if name.startswith("encoder.") else 1
                tap = p[:, :, t, 1, 1].clone()
                p.zero_()
                p[:, :, t, 1, 1] = tap
    return vae


def test_tiled_decode_equals_whole_decode():
    vae = _center_tap(build_pair("ltx23", seed=8)[2]).double()
    z = torch.randn(1, LATENT, 5, 2, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    with torch.no_grad():
        whole = vae.decode(z)
        tiled = vae.decode(z, tiling=TilingConfig(64, 32, 16, 8))
        chunks = list(vae.decode_iter(z, tiling=TilingConfig(64, 32, 16, 8)))
    assert len(chunks) > 2 and sum(c.shape[2] for c in chunks) == whole.shape[2] == 33
    assert torch.equal(torch.cat(chunks, dim=2), tiled)
    assert (tiled - whole).abs().max().item() <= 1e-12


def test_tiled_decode_with_one_tile_is_exact(pairs):
    _, _, ours = pairs[("ltx2", False)]
    ours = ours.float()
    z = torch.randn(1, LATENT, 3, 2, 3, generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        whole = ours.decode(z)
        assert torch.equal(ours.decode(z, tiling=TilingConfig(512, 64, 64, 24)), whole)
        assert torch.equal(ours.decode(z, tiling=TilingConfig.disabled()), whole)


def test_tiled_encode_equals_whole_encode():
    vae = _center_tap(build_pair("ltx2", seed=12)[2]).double()
    x = torch.rand(1, 3, 33, 32, 128, generator=torch.Generator().manual_seed(13), dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        whole = vae.encode(x)
        tiled = vae.encode(x, tiling=TilingConfig(96, 64, 24, 16))
    assert tiled.shape == whole.shape == (1, LATENT, 5, 1, 4)
    assert (tiled - whole).abs().max().item() <= 1e-12


# ---------------------------------------------------------------- validation


def test_input_validation_messages(pairs):
    _, _, ours = pairs[("ltx23", False)]
    ours = ours.float()
    with pytest.raises(InputError, match=r"1 \+ 8k frames \(e\.g\. 9 or 17\)"):
        ours.encode(torch.zeros(1, 3, 12, 64, 64))
    with pytest.raises(InputError, match="multiples of 32"):
        ours.encode(torch.zeros(1, 3, 9, 64, 80))
    with pytest.raises(InputError, match="pixels shaped"):
        ours.encode(torch.zeros(1, 4, 9, 64, 64))
    with pytest.raises(InputError, match="latent shaped"):
        ours.decode(torch.zeros(1, LATENT + 1, 2, 2, 2))
    with pytest.raises(InputError, match="tile_size_px"):
        TilingConfig(tile_size_px=100)
    with pytest.raises(InputError, match="chunk_overlap_frames"):
        TilingConfig(chunk_frames=16, chunk_overlap_frames=16)
    with pytest.raises(InputError, match="above 64"):
        ours.encode(torch.zeros(1, 3, 9, 64, 64), tiling=TilingConfig(64, 32))
    assert ours.latent_shape(121, 512, 768) == (LATENT, 16, 16, 24)


def test_decoder_only_vae_refuses_encode():
    vae = VideoVAE(VideoVAEConfig.from_metadata(tiny_metadata("ltx23")), components=("decoder",))
    assert vae.encoder is None and not any(k.startswith("encoder.") for k in vae.state_dict())
    with pytest.raises(InputError, match="without its encoder"):
        vae.encode(torch.zeros(1, 3, 9, 64, 64))


def test_bfloat16_decode_and_encode_track_float32(pairs):
    _, _, ours = pairs[("ltx23", True)]
    z = torch.randn(1, LATENT, 2, 2, 2, generator=torch.Generator().manual_seed(14))
    x = torch.rand(1, 3, 9, 64, 64, generator=torch.Generator().manual_seed(15)) * 2 - 1
    with torch.no_grad():
        ref_dec = ours.float().decode(z, generator=torch.Generator().manual_seed(0))
        ref_enc = ours.encode(x)
        low = ours.to(torch.bfloat16)
        dec = low.decode(z.bfloat16(), generator=torch.Generator().manual_seed(0))
        enc = low.encode(x.bfloat16())
    assert dec.dtype == enc.dtype == torch.bfloat16
    assert rel_err(dec.float(), ref_dec) < 0.05 and rel_err(enc.float(), ref_enc) < 0.05


class _CountingOps:
    """An `operations` namespace that records which layer types the model builds through it."""

    built: list = []

    class Conv3d(torch.nn.Conv3d):
        def __init__(self, *args, **kwargs):
            _CountingOps.built.append(("Conv3d", kwargs.get("padding_mode")))
            super().__init__(*args, **kwargs)

    class Linear(torch.nn.Linear):
        def __init__(self, *args, **kwargs):
            _CountingOps.built.append(("Linear", None))
            super().__init__(*args, **kwargs)


def test_layers_are_built_through_operations():
    _CountingOps.built = []
    vae = VideoVAE(VideoVAEConfig.from_metadata(tiny_metadata("ltx2", True)), operations=_CountingOps, device="meta")
    convs = [m for m in vae.modules() if isinstance(m, torch.nn.Conv3d)]
    linears = [m for m in vae.modules() if isinstance(m, torch.nn.Linear)]
    assert len(_CountingOps.built) == len(convs) + len(linears) and linears
    assert all(isinstance(m, (_CountingOps.Conv3d, _CountingOps.Linear)) for m in convs + linears)
    assert {mode for kind, mode in _CountingOps.built if kind == "Conv3d"} == {"zeros", "reflect"}
