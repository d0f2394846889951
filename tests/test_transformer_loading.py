"""Configs, key tables and loading of LTX-2 / LTX-2.3 transformer checkpoints."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError
from ltx2_core.transformer import (LTX2Transformer, TransformerConfig, detect_key_format, load_transformer,
                                   transformer_keys_in_file, transformer_state_dict_from)
from ltx2_core.transformer.keys import diffusers_to_official, official_to_diffusers
from test_transformer_oracle_utils import make_inputs, random_model

# Official-file transformer configs (the released files' metadata values).
OFFICIAL = {
    "2.0": TransformerConfig.ltx2_19b().to_metadata(),
    "2.3": TransformerConfig.ltx23_22b().to_metadata(),
}


def _oracle_on_meta(metadata):
    from ltx_core.model.transformer.model_configurator import LTXModelConfigurator

    with torch.device("meta"):
        return LTXModelConfigurator.from_config(metadata)


@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_full_size_keys_and_shapes_equal_official(version):
    ours = LTX2Transformer(TransformerConfig.from_metadata(OFFICIAL[version]), device="meta")
    oracle = _oracle_on_meta(OFFICIAL[version])
    ours_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    oracle_shapes = {k: tuple(v.shape) for k, v in oracle.state_dict().items()}
    assert ours_shapes == oracle_shapes
    assert len(ours_shapes) == {"2.0": 3510, "2.3": 4186}[version]  # the spec's counts, confirmed by the oracle
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in oracle.parameters())


@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_config_detected_from_full_size_shapes(version):
    oracle = _oracle_on_meta(OFFICIAL[version])
    detected = TransformerConfig.from_state_dict({k: tuple(v.shape) for k, v in oracle.state_dict().items()})
    assert detected == TransformerConfig.from_metadata(OFFICIAL[version])
    assert detected.version == version and detected.adaln_rows == (9 if version == "2.3" else 6)


def test_presets_match_metadata_and_metadata_round_trips():
    assert TransformerConfig.from_metadata(OFFICIAL["2.0"]) == TransformerConfig.ltx2_19b()
    assert TransformerConfig.from_metadata(OFFICIAL["2.3"]) == TransformerConfig.ltx23_22b()
    tiny = TransformerConfig.tiny("2.3", rope_type="interleaved")
    assert TransformerConfig.from_metadata(tiny.to_metadata()) == tiny


def test_metadata_defaults_follow_official_code():
    section = {k: v for k, v in OFFICIAL["2.0"]["transformer"].items()
               if k not in ("av_ca_timestep_scale_multiplier", "frequencies_precision")}
    config = TransformerConfig.from_metadata({"transformer": section})
    assert config.av_ca_timestep_scale_multiplier == 1.0 and not config.rope_double_precision


@pytest.mark.parametrize("key,value,message", [
    ("qk_norm", "layer_norm", "qk_norm"),
    ("use_audio_video_cross_attention", False, "use_audio_video_cross_attention"),
    ("use_prompt_adaln_single", False, "use_prompt_adaln_single"),
])
def test_metadata_rejects_other_models(key, value, message):
    section = dict(OFFICIAL["2.3"]["transformer"], **{key: value})
    with pytest.raises(CheckpointError, match=message):
        TransformerConfig.from_metadata({"transformer": section})
    with pytest.raises(CheckpointError, match="no 'transformer' section"):
        TransformerConfig.from_metadata({"vae": {}})


def test_diffusers_rename_table_matches_diffusers_model():
    from diffusers.models.transformers.transformer_ltx2 import LTX2VideoTransformer3DModel

    for version in ("2.0", "2.3"):
        c = TransformerConfig.tiny(version)
        with torch.device("meta"):
            theirs = LTX2VideoTransformer3DModel(
                in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=16, cross_attention_dim=32,
                audio_in_channels=8, audio_out_channels=8, audio_num_attention_heads=2, audio_attention_head_dim=8,
                audio_cross_attention_dim=16, num_layers=2, caption_channels=24, gated_attn=c.gated_attention,
                audio_gated_attn=c.gated_attention, cross_attn_mod=c.cross_attention_adaln,
                audio_cross_attn_mod=c.cross_attention_adaln, use_prompt_embeddings=c.caption_channels is not None)
        ours = set(LTX2Transformer(c, device="meta").state_dict())
        assert {official_to_diffusers(k) for k in ours} == set(theirs.state_dict())
        assert {diffusers_to_official(k) for k in theirs.state_dict()} == ours


def _tiny_state(version="2.3", seed=0):
    model = random_model(TransformerConfig.tiny(version), torch.float32, seed)
    return model, {k: v.contiguous() for k, v in model.state_dict().items()}


def _extra_components():
    return {"vae.encoder.conv_in.weight": torch.zeros(2), "audio_vae.decoder.conv.weight": torch.zeros(2),
            "vocoder.conv_pre.weight": torch.zeros(2),
            "text_embedding_projection.aggregate_embed.weight": torch.zeros(2),
            "model.diffusion_model.video_embeddings_connector.learnable_registers": torch.zeros(4, 2),
            "model.diffusion_model.audio_embeddings_connector.transformer_1d_blocks.0.attn1.to_q.weight":
                torch.zeros(2, 2)}


def _same_outputs(a, b, config):
    """Same weights bit for bit, same outputs (up to kernel choice on differently aligned memory)."""
    theirs = b.state_dict()
    assert all(torch.equal(v, theirs[k].to(v.dtype)) for k, v in a.state_dict().items())
    video, audio = make_inputs(config, torch.float32, first_frame_clean=True)
    with torch.no_grad():
        for x, y in zip(a(video, audio), b.float()(video, audio)):
            torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_load_official_single_file(tmp_path, version):
    model, state = _tiny_state(version)
    tensors = {"model.diffusion_model." + k: v for k, v in state.items()} | _extra_components()
    path = tmp_path / "ltx-tiny.safetensors"
    save_file(tensors, str(path), metadata={"config": json.dumps(model.config.to_metadata()), "model_version": version})
    loaded = load_transformer(path)
    assert loaded.config == model.config
    assert detect_key_format(tensors) == "official"
    assert set(transformer_state_dict_from(tensors)) == set(state)  # nothing left over, nothing foreign
    _same_outputs(model, loaded, model.config)


def test_load_comfyui_named_file_detects_config(tmp_path):
    model, state = _tiny_state("2.3")
    path = tmp_path / "ltx23-transformer.safetensors"
    save_file(dict(state), str(path))  # no metadata: config from key shapes
    loaded = load_transformer(path)
    assert loaded.config == model.config.replace(rope_type="split")
    _same_outputs(model, loaded, model.config)
    comfy_export = {"diffusion_model." + k: v for k, v in state.items()}
    comfy_export["diffusion_model.video_embeddings_connector.learnable_registers"] = torch.zeros(4, 2)  # text path
    assert set(transformer_state_dict_from(comfy_export)) == set(state)
    _same_outputs(model, load_transformer(comfy_export), model.config)
    assert transformer_keys_in_file(str(path)) and not transformer_keys_in_file(str(tmp_path / "missing.sft"))


def test_load_ltx2_without_gates_uses_head_dim_hint():
    model, state = _tiny_state("2.0")
    detected = TransformerConfig.from_state_dict(state, head_dim=16, audio_head_dim=8)
    assert detected == model.config
    with pytest.raises(CheckpointError, match="pass head_dim"):  # 32 wide cannot hold 128-wide heads
        TransformerConfig.from_state_dict(state)


def test_load_diffusers_named_file(tmp_path):
    model, state = _tiny_state("2.3")
    tensors = {official_to_diffusers(k): v for k, v in state.items()}
    assert detect_key_format(tensors) == "diffusers" and tensors.keys() != state.keys()
    path = tmp_path / "diffusion_pytorch_model.safetensors"
    save_file(tensors, str(path))
    loaded = load_transformer(path, dtype=torch.float64)
    assert next(loaded.parameters()).dtype == torch.float64
    _same_outputs(model, loaded, model.config)


def test_load_rejects_non_ltx_file(tmp_path):
    path = tmp_path / "sd15.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(4, 4)}, str(path))
    with pytest.raises(CheckpointError, match="not an LTX-2-family transformer"):
        load_transformer(path)
    with pytest.raises(CheckpointError, match="no LTX-2 transformer weights"):
        load_transformer({"vae.decoder.conv.weight": torch.zeros(1)})


def test_load_rejects_video_only_ltxv():
    _, state = _tiny_state("2.0")
    video_only = {k: v for k, v in state.items() if "audio" not in k and "av_ca" not in k and "a2v" not in k}
    with pytest.raises(CheckpointError, match="LTX-Video"):
        load_transformer(video_only)


def test_load_reports_missing_keys(tmp_path):
    model, state = _tiny_state("2.3")
    del state["transformer_blocks.1.attn2.to_k.bias"]
    with pytest.raises(CheckpointError, match=r"missing key\(s\): transformer_blocks.1.attn2.to_k.bias"):
        load_transformer(state, config=model.config)


def test_load_reports_truncated_file(tmp_path):
    _, state = _tiny_state("2.3")
    path = tmp_path / "truncated.safetensors"
    save_file(dict(state), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match="truncated"):
        load_transformer(path)


def test_load_scaled_fp8_file(tmp_path):
    model, state = _tiny_state("2.3")
    tensors = {"model.diffusion_model." + k: v for k, v in state.items()}
    name = "model.diffusion_model.transformer_blocks.0.attn1.to_q.weight"
    scale = tensors[name].abs().max() / 448
    tensors[name] = (tensors[name] / scale).to(torch.float8_e4m3fn)
    tensors[name + "_scale"] = scale.reshape(())
    path = tmp_path / "ltx-fp8.safetensors"
    save_file(tensors, str(path), metadata={"config": json.dumps(model.config.to_metadata())})
    loaded = load_transformer(path, dtype=torch.float32)
    weight = loaded.transformer_blocks[0].attn1.to_q.weight
    assert torch.equal(weight, tensors[name].float() * scale)
    assert (weight - state["transformer_blocks.0.attn1.to_q.weight"]).abs().max() < 0.1 * scale * 448
