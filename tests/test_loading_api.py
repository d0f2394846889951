"""The component API as a script calls it: text connectors alone from LTX-2 and LTX-2.3 official-layout files,
dtype handling, and transformer config overrides."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.checkpoint import read_config_metadata
from ltx2_core.errors import CheckpointError, InputError
from ltx2_core.text import (ConnectorConfig, EmbeddingsConnector, FeatureExtractorConfig, TextConnectors,
                            TextProjection, load_text_connectors)
from ltx2_core.text.connectors import build_connector
from ltx2_core.transformer import LTX2Transformer, TransformerConfig, load_transformer

GEMMA_WIDTH, NUM_STATES, REGISTERS = 32, 3, 4


def randomized(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return module


def official_file(path, version):
    """A tiny official single-file checkpoint (transformer + text projection + connectors) with the `config`
    metadata the released files carry for `version` ("2.0": shared v1 projection, ungated connectors at the
    Gemma width, heads stated only in the metadata; "2.3": per-stream v2 projection, gated connectors,
    register count stated). Returns the modules written."""
    if version == "2.0":
        config = TransformerConfig.tiny("2.0", caption_channels=GEMMA_WIDTH)
        projection = FeatureExtractorConfig.ltx2(GEMMA_WIDTH, NUM_STATES)
        connectors = [ConnectorConfig(heads=2, head_dim=16, num_layers=2, num_registers=REGISTERS)] * 2
    else:
        config = TransformerConfig.tiny("2.3")
        projection = FeatureExtractorConfig.ltx23(GEMMA_WIDTH, NUM_STATES, config.dim, config.audio_dim)
        connectors = [ConnectorConfig(heads=config.heads, head_dim=config.head_dim, num_layers=1,
                                      num_registers=REGISTERS, gated=True),
                      ConnectorConfig(heads=config.audio_heads, head_dim=config.audio_head_dim, num_layers=1,
                                      num_registers=REGISTERS, gated=True)]
    video, audio = (randomized(EmbeddingsConnector(c), seed) for c, seed in zip(connectors, (1, 2)))
    modules = {"transformer": randomized(LTX2Transformer(config), 0),
               "projection": randomized(TextProjection(projection), 3), "video": video, "audio": audio}
    section = config.to_metadata()["transformer"]
    section.update(connector_num_attention_heads=video.config.heads, connector_attention_head_dim=video.config.head_dim,
                   connector_num_layers=video.config.num_layers, connector_positional_embedding_max_pos=[4096],
                   connector_apply_gated_attention=video.config.gated)
    if version == "2.3":
        section.update(audio_connector_num_attention_heads=audio.config.heads,
                       audio_connector_attention_head_dim=audio.config.head_dim,
                       connector_num_learnable_registers=REGISTERS, use_embeddings_connector=True)
    prefixes = {"transformer": "model.diffusion_model.", "projection": "text_embedding_projection.",
                "video": "model.diffusion_model.video_embeddings_connector.",
                "audio": "model.diffusion_model.audio_embeddings_connector."}
    tensors = {prefixes[name] + k: v.detach().contiguous() for name, m in modules.items()
               for k, v in m.state_dict().items()}
    save_file(tensors, str(path), metadata={"config": json.dumps({"transformer": section})})
    return modules


def same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].float(), sb[k].float()) for k in sa)


@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_connectors_alone_from_official_files(tmp_path, version):
    path = tmp_path / f"ltx-{version}.safetensors"
    written = official_file(path, version)
    loaded = load_text_connectors(str(path), num_states=NUM_STATES)
    assert isinstance(loaded, TextConnectors)
    assert loaded.projection.config == written["projection"].config
    for stream in ("video", "audio"):
        got, want = getattr(loaded, stream), written[stream]
        assert got.config == want.config, stream  # heads from the metadata, not from the width
        assert same(got, want)
    assert same(loaded.projection, written["projection"])
    x = torch.randn(1, 8, loaded.video.config.width, generator=torch.Generator().manual_seed(5))
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        assert torch.equal(loaded.video(x, mask), written["video"](x, mask))


@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_dtype_and_device_are_honoured(tmp_path, version):
    path = tmp_path / "ltx.safetensors"
    written = official_file(path, version)
    loaded = load_text_connectors(str(path), num_states=NUM_STATES, dtype=torch.bfloat16, device="cpu")
    for module in loaded:
        assert {p.dtype for p in module.parameters()} == {torch.bfloat16}
        assert {p.device.type for p in module.parameters()} == {"cpu"}
    tensors = {f"model.diffusion_model.video_embeddings_connector.{k}": v
               for k, v in written["video"].state_dict().items()}
    conn = build_connector(tensors, "video", metadata=read_config_metadata(str(path)), dtype=torch.float64)
    assert {p.dtype for p in conn.parameters()} == {torch.float64}
    assert torch.equal(conn.learnable_registers, written["video"].learnable_registers.double())


def test_ungated_connector_without_metadata_is_a_clear_error():
    weights = EmbeddingsConnector(ConnectorConfig(heads=2, head_dim=16, num_registers=4), device="meta").state_dict()
    with pytest.raises(CheckpointError, match="Cannot split the connector width 32 into heads of 128 channels"):
        ConnectorConfig.from_state_dict(weights)
    assert ConnectorConfig.from_state_dict(weights, head_dim=16).heads == 2


def test_transformer_overrides(tmp_path):
    path = tmp_path / "ltx.safetensors"
    written = official_file(path, "2.3")["transformer"]
    assert written.config.cross_modulation == "own_scale_other_gate"
    loaded = load_transformer(str(path), overrides={"cross_modulation": "other_sigma", "rope_max_pos": [10, 512, 512]})
    assert loaded.config == written.config.replace(cross_modulation="other_sigma", rope_max_pos=(10, 512, 512))
    assert same(loaded, written)
    from_state = load_transformer(written.state_dict(), overrides={"timestep_scale_multiplier": 500})
    assert from_state.config.timestep_scale_multiplier == 500.0
    with pytest.raises(InputError, match=r"Unknown transformer config field\(s\) in overrides: 'cross_mod'\. "
                                         r"Valid fields: num_layers, heads"):
        load_transformer(str(path), overrides={"cross_mod": "other_sigma"})
    with pytest.raises(InputError, match="cross_modulation 'sideways' is not one of"):
        load_transformer(str(path), overrides={"cross_modulation": "sideways"})
    with pytest.raises(InputError, match=r"Override gated_attention=1 has the wrong type: the field holds bool"):
        load_transformer(str(path), overrides={"gated_attention": 1})
    with pytest.raises(InputError, match=r"Override num_layers='2' has the wrong type"):
        load_transformer(str(path), overrides={"num_layers": "2"})
    with pytest.raises(CheckpointError, match="unexpected key"):  # a structural change no longer fits the weights
        load_transformer(str(path), overrides={"num_layers": 1})


def test_sharded_official_checkpoint_loads_like_the_single_file(tmp_path):
    from safetensors import safe_open

    from test_checkpoint_source import write_sharded

    single = tmp_path / "ltx.safetensors"
    official_file(single, "2.3")
    with safe_open(str(single), "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        metadata = handle.metadata()
    shards = write_sharded(tensors, str(tmp_path / "sharded"), "model", max_bytes=60_000, metadata=metadata)
    assert len(shards) >= 3
    reference, loaded = load_text_connectors(str(single), num_states=NUM_STATES), load_text_connectors(
        str(tmp_path / "sharded"), num_states=NUM_STATES)
    for a, b in zip(reference, loaded):
        assert a.config == b.config and same(a, b)
    transformer, sharded = load_transformer(str(single)), load_transformer(shards[-1])
    assert transformer.config == sharded.config and same(transformer, sharded)


def test_load_components_takes_a_sharded_checkpoint_folder(tmp_path):
    """The official single file split into shards + index loads through load_components / generate as a folder
    (the transformer, both VAEs, the vocoder and the text connectors all read the shards)."""
    from safetensors import safe_open

    from ltx2_core.pipeline.demo import demo_components, save_demo_checkpoint
    from ltx2_core.pipeline.generate import load_components
    from test_checkpoint_source import write_sharded

    files = save_demo_checkpoint(demo_components(encoders=True), str(tmp_path / "single"))
    with safe_open(files["checkpoint"], "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        metadata = handle.metadata()
    shards = write_sharded(tensors, str(tmp_path / "sharded"), "model", max_bytes=200_000, metadata=metadata)
    assert len(shards) >= 3
    single = load_components(files["checkpoint"], text_encoder=files["text_encoder"], dtype=torch.float32)
    sharded = load_components(str(tmp_path / "sharded"), text_encoder=files["text_encoder"], dtype=torch.float32)
    for name in ("transformer", "video_vae", "audio_vae", "vocoder"):
        assert same(getattr(single, name), getattr(sharded, name)), name
    assert same(single.text_encoder, sharded.text_encoder)
