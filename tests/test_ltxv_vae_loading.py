"""Loading LTX-Video VAEs: official single files, VAE-only files, diffusers names, detection, strictness, dtype,
the operations seam; the latent upsamplers through the LTX-2 upsampler (parity vs ltx_video and diffusers)."""

import types

import pytest
import torch
from safetensors.torch import save_file

from _ltxv_vae_oracle import VERSIONS
from ltx2_core.errors import CheckpointError
from ltx2_core.ltxv import LTXVVAEConfig, LTXVVideoVAE, load_ltxv_upsampler, load_ltxv_vae
from ltx2_core.ltxv.vae import save_tiny_ltxv_vae, tiny_metadata, tiny_state_dict
from ltx2_core.ltxv.vae.config import PRESETS
from ltx2_core.ltxv.vae.keys import detect_config, diffusers_names, expected_shapes
from ltx2_core.ltxv.vae.loader import _diffusers_map


@pytest.mark.parametrize("version", VERSIONS)
def test_official_single_file_round_trip(tmp_path, version):
    path = save_tiny_ltxv_vae(str(tmp_path / "ltxv.safetensors"), version, seed=3)
    vae = load_ltxv_vae(path)
    assert vae.version == version and vae.config == LTXVVAEConfig.from_metadata(tiny_metadata(version))
    state = tiny_state_dict(version, seed=3)
    assert set(vae.state_dict()) == set(state)  # channel / mean-of-stds dropped, nothing else
    assert all(torch.equal(vae.state_dict()[k], v) for k, v in state.items())


def test_vae_only_and_diffusers_files_give_the_same_model(tmp_path):
    version = "0.9.1"
    state = tiny_state_dict(version, seed=4)
    cfg = LTXVVAEConfig.from_metadata(tiny_metadata(version))
    save_file(state, str(tmp_path / "bare.safetensors"))
    names = diffusers_names(cfg, state)
    save_file({names[k]: v for k, v in state.items()}, str(tmp_path / "diffusers.safetensors"))
    bare = load_ltxv_vae(str(tmp_path / "bare.safetensors"), config=cfg)
    dif = load_ltxv_vae(str(tmp_path / "diffusers.safetensors"), config=cfg)
    assert all(torch.equal(bare.state_dict()[k], dif.state_dict()[k]) for k in state)
    assert "decoder.up_blocks.1.conv.conv.weight" in names and names[
        "decoder.up_blocks.1.conv.conv.weight"] == "decoder.up_blocks.0.upsamplers.0.conv.conv.weight"


def test_official_090_metadata_with_shared_blocks_parses():
    from ltx_video.utils.diffusers_config_mapping import OURS_VAE_CONFIG

    cfg = LTXVVAEConfig.from_metadata({"vae": OURS_VAE_CONFIG})
    assert cfg == LTXVVAEConfig.preset("0.9.0")


@pytest.mark.parametrize("version", VERSIONS)
def test_full_size_detection_from_key_shapes(version):
    cfg = LTXVVAEConfig.preset(version)
    shapes = expected_shapes(cfg, ("encoder", "decoder"))
    assert detect_config(shapes).version == version
    assert detect_config(expected_shapes(cfg, ("decoder",))).version == version
    dif_shapes = {diffusers_names(cfg, [k])[k]: s for k, s in shapes.items()}
    assert _diffusers_map(dif_shapes, None)[0].version == version


def test_strict_key_accounting(tmp_path):
    state = tiny_state_dict("0.9.0")
    cfg = LTXVVAEConfig.from_metadata(tiny_metadata("0.9.0"))
    broken = dict(state)
    broken.pop("decoder.conv_out.conv.bias")
    with pytest.raises(CheckpointError, match="conv_out.conv.bias"):
        load_ltxv_vae(broken, config=cfg)
    with pytest.raises(CheckpointError, match="extra_weight"):
        load_ltxv_vae({**state, "encoder.extra_weight": torch.zeros(1)}, config=cfg)
    with pytest.raises(CheckpointError, match="no LTX-Video VAE weights"):
        load_ltxv_vae({"model.diffusion_model.x": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="match none of the LTX-Video"):
        load_ltxv_vae(state)  # tiny shapes, no metadata


def test_dtype_components_and_operations_seam():
    state = tiny_state_dict("0.9.5")
    cfg = LTXVVAEConfig.from_metadata(tiny_metadata("0.9.5"))
    built = []

    class Conv3d(torch.nn.Conv3d):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            built.append(self)

    ops = types.SimpleNamespace(**{n: getattr(torch.nn, n) for n in ("Linear", "LayerNorm", "Conv2d")}, Conv3d=Conv3d)
    vae = load_ltxv_vae(state, config=cfg, dtype=torch.bfloat16, components=("decoder",), operations=ops)
    assert vae.encoder is None and built and all(isinstance(m, Conv3d) for m in built)
    assert vae.decoder.conv_in.conv.weight.dtype == torch.bfloat16
    assert vae.per_channel_statistics.get_buffer("std-of-means").dtype == torch.float32
    out = vae.decode(torch.randn(1, 8, 2, 1, 1, dtype=torch.bfloat16), generator=torch.Generator().manual_seed(0))
    assert out.shape == (1, 3, 9, 32, 32) and out.dtype == torch.bfloat16 and torch.isfinite(out).all()


def _upsampler_triple(temporal: bool):
    from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel
    from ltx_video.models.autoencoders.latent_upsampler import LatentUpsampler as Official

    kw = dict(in_channels=8, mid_channels=32, num_blocks_per_stage=1, dims=3,
              spatial_upsample=not temporal, temporal_upsample=temporal)
    torch.manual_seed(11)
    official = Official(**kw).double().eval()
    dif = LTXLatentUpsamplerModel(**kw).double().eval()
    dif.load_state_dict(official.state_dict(), strict=True)
    ours = load_ltxv_upsampler(official.state_dict(), config=dict(kw, _class_name="LatentUpsampler"))
    return official, dif, ours.double()


@pytest.mark.parametrize("temporal", [False, True])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_latent_upsampler_parity(temporal, dtype, tol):
    official, dif, ours = (m.to(dtype) for m in _upsampler_triple(temporal))
    z = torch.randn(2, 8, 3, 4, 5, generator=torch.Generator().manual_seed(12), dtype=torch.float64).to(dtype)
    with torch.no_grad():
        mine, ref, ref_d = ours(z), official(z), dif(z)
    assert mine.shape == ((2, 8, 5, 4, 5) if temporal else (2, 8, 3, 8, 10))
    for other in (ref, ref_d):
        assert ((mine - other).abs().max() / other.abs().max()).item() <= tol


def test_full_size_upsamplers_on_meta():
    from ltx_video.models.autoencoders.latent_upsampler import LatentUpsampler as Official
    from ltx2_core.ltxv.upsampler import SPATIAL_X2, TEMPORAL_X2
    from ltx2_core.upsampler import LatentUpsampler

    for cfg, temporal in ((SPATIAL_X2, False), (TEMPORAL_X2, True)):
        with torch.device("meta"):
            official = Official(mid_channels=512, spatial_upsample=not temporal, temporal_upsample=temporal)
        ours = LatentUpsampler(cfg, device="meta")
        shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
        assert shapes == {k: tuple(v.shape) for k, v in official.state_dict().items()}
        assert sum(v.numel() for v in ours.state_dict().values()) == (130_968_192 if temporal else 126_250_624)


def test_presets_cover_every_version():
    assert set(PRESETS) == set(VERSIONS)


def test_doc_example_runs(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from test_docs_examples import python_blocks

    doc = Path(__file__).resolve().parents[1] / "docs" / "ltxv_vae.md"
    blocks = python_blocks(doc.read_text(encoding="utf-8"))
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0][1], "docs/ltxv_vae.md", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.strip() == "0.9.1 (1, 8, 3, 2, 2) (1, 3, 17, 64, 64) (1, 3, 17, 64, 64)"
