"""LTX-2.5 split layout: transformer + both connectors in the transformer file, the text projection in the
text-encoder file; full-size connector key counts on the meta device."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError
from ltx2_core.text import ConnectorConfig, EmbeddingsConnector, load_text_connectors
from ltx2_core.transformer import LTX2Transformer, TransformerConfig, load_transformer
from test_loading_api import NUM_STATES, official_file, same

META = {"model_version": "2.5.0",
        "gemma_source_checkpoint": json.dumps({"ltx_version": "2.5.0", "gemma_version": "gemma4-12b-ltx-v1"})}


def _split(tmp_path):
    single = tmp_path / "single.safetensors"
    modules = official_file(single, "2.3")
    from safetensors import safe_open

    with safe_open(str(single), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        config = f.metadata()["config"]
    transformer, encoder = tmp_path / "ltx-2.5-transformer.safetensors", tmp_path / "gemma4-with-proj.safetensors"
    save_file({k: v for k, v in tensors.items() if k.startswith("model.diffusion_model.")}, str(transformer),
              {"config": config, **META})
    save_file({k: v for k, v in tensors.items() if k.startswith("text_embedding_projection.")}, str(encoder), META)
    return modules, str(transformer), str(encoder)


def test_connectors_from_transformer_file_projection_from_text_encoder(tmp_path):
    modules, transformer, encoder = _split(tmp_path)
    loaded = load_text_connectors(transformer, num_states=NUM_STATES, projection_source=encoder)
    assert same(loaded.video, modules["video"]) and same(loaded.audio, modules["audio"])
    assert same(loaded.projection, modules["projection"])
    assert same(load_transformer(transformer), modules["transformer"])  # connectors skipped by the DiT loader
    with pytest.raises(CheckpointError, match="no text_embedding_projection weights"):
        load_text_connectors(transformer, num_states=NUM_STATES)  # no projection anywhere


def test_full_size_ltx25_transformer_file_layout_on_meta():
    """4091 transformer + 258 connector keys = the 4349 tensors of the published transformer file."""
    dit = LTX2Transformer(TransformerConfig.ltx25_22b(), device="meta").state_dict()
    connectors = []
    for width_heads, head_dim in ((32, 128), (32, 64)):
        config = ConnectorConfig(heads=width_heads, head_dim=head_dim, num_layers=8, num_registers=128, gated=True)
        with torch.device("meta"):
            connectors.append(EmbeddingsConnector(config).state_dict())
    counts = [len(c) for c in connectors]
    assert len(dit) == 4091 and counts == [129, 129] and len(dit) + sum(counts) == 4349
    assert sum(v.numel() for v in connectors[0].values()) == 1_612_546_304
    assert sum(v.numel() for v in connectors[1].values()) == 403_620_096
