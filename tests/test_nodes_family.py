"""nodes/family.py without a ComfyUI host: which family a file's tensor names (and metadata) belong to, and the
one-line refusals. Loaded as part of a stand-in package (nodes/__init__.py needs ComfyUI)."""

import importlib
import json
import os
import sys
import types

import pytest
import torch
from safetensors.torch import save_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def family():
    saved = {k: v for k, v in sys.modules.items() if k == "ltx2fam" or k.startswith("ltx2fam.")}
    pack = types.ModuleType("ltx2fam")
    pack.__path__ = [REPO]
    nodes = types.ModuleType("ltx2fam.nodes")
    nodes.__path__ = [os.path.join(REPO, "nodes")]
    sys.modules.update({"ltx2fam": pack, "ltx2fam.nodes": nodes})
    try:
        yield importlib.import_module("ltx2fam.nodes.family")
    finally:
        for name in [k for k in sys.modules if k == "ltx2fam" or k.startswith("ltx2fam.")]:
            del sys.modules[name]
        sys.modules.update(saved)


@pytest.mark.parametrize("version", ["0.9.0", "0.9.1", "0.9.5"])
@pytest.mark.parametrize("with_metadata", [True, False])
def test_ltxv_vae_files_are_ltxv(tmp_path, family, version, with_metadata):
    from ltx2_core.ltxv.vae import tiny_metadata, tiny_state_dict

    path = str(tmp_path / "vae.safetensors")
    meta = {"config": json.dumps({"vae": tiny_metadata(version)})} if with_metadata else None
    save_file({f"vae.{k}": v for k, v in tiny_state_dict(version).items()}, path, metadata=meta)
    names, metadata = family.read_names(path)
    assert family.transformer_family(names, metadata) is None
    assert family.vae_family(names, metadata) == family.LTXV


def test_ltx2_vae_and_checkpoints(tmp_path, family):
    from ltx2_core.ltxv import LTXVTransformerConfig, save_tiny_checkpoint
    from ltx2_core.video_vae import LTX2_VAE_METADATA, LTX23_VAE_METADATA

    vae_names = ["vae.decoder.conv_in.conv.weight", "vae.encoder.conv_in.conv.weight",
                 "vae.per_channel_statistics.mean-of-means"]
    assert family.vae_family(vae_names, {"vae": dict(LTX2_VAE_METADATA)}) == family.LTX2
    assert family.vae_family(vae_names, {"vae": dict(LTX23_VAE_METADATA)}) == family.LTX2
    assert family.vae_family(vae_names, None) == family.LTX2
    ltx2 = ["model.diffusion_model.audio_patchify_proj.weight", "model.diffusion_model.patchify_proj.weight",
            "model.diffusion_model.transformer_blocks.0.attn1.to_q.weight"] + vae_names
    assert family.vae_family(ltx2 + ["vae.decoder.timestep_scale_multiplier"], None) == family.LTX2
    path = str(tmp_path / "ltxv.safetensors")
    save_tiny_checkpoint(path, LTXVTransformerConfig.tiny())
    names, metadata = family.read_names(path)
    assert family.check_transformer_file(names, metadata, "ltxv.safetensors") == family.LTXV
    assert family.check_transformer_file(ltx2, None, "ltx2.safetensors") == family.LTX2


def test_refusals_name_the_right_node(family):
    t5 = ["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "shared.weight"]
    with pytest.raises(ValueError, match=r"^t5\.safetensors is a T5 text encoder, not a diffusion-model checkpoint: "
                                         r"load it with 'LTX2 Load T5 Text Encoder'"):
        family.check_transformer_file(t5, None, "t5.safetensors")
    with pytest.raises(ValueError, match="holds no LTX transformer"):
        family.check_transformer_file(["vae.decoder.conv_in.conv.weight"], None, "vae.safetensors")
    ltxv = types.SimpleNamespace(family=family.LTXV)
    with pytest.raises(ValueError, match=r"^LTX2 Audio Decode is for LTX-2 models, but this is an LTX-Video 0\.9\.x "
                                         r"model: use Create Video"):
        family.require(ltxv, family.LTX2, "LTX2 Audio Decode", "use Create Video")
    family.require(types.SimpleNamespace(family=family.ANY), family.LTX2, "x", "y")  # shared upsamplers fit both
    assert family.same_family({"a": ltxv, "b": types.SimpleNamespace(family=family.ANY)}, "node") == family.LTXV
    with pytest.raises(ValueError, match=r"node got models of two families \(a is LTX-Video 0\.9\.x, b is LTX-2\)"):
        family.same_family({"a": ltxv, "b": types.SimpleNamespace(family=family.LTX2)}, "node")
