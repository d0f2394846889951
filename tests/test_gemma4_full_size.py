"""Full-size Gemma 4 12B (LTX-2.5 text encoder) on the meta device: key set, shapes and counts equal to
transformers' Gemma 4 unified text model, and the official file layout (ComfyUI flat `model.*` names)."""

import pytest
import torch

from ltx2_core.text.gemma4.config import Gemma4Config
from ltx2_core.text.gemma4.loader import lm_key
from ltx2_core.text.gemma4.model import Gemma4TextModel

tf_cfg = pytest.importorskip("transformers.models.gemma4_unified.configuration_gemma4_unified")
tf_mod = pytest.importorskip("transformers.models.gemma4_unified.modeling_gemma4_unified")

LM_PARAMS = 11_907_350_272  # spec ltx-2.5.md §3.1 (transformers meta instantiation)


@pytest.fixture(scope="module")
def both():
    hf_config = tf_cfg.Gemma4UnifiedTextConfig(
        vocab_size=262144, hidden_size=3840, intermediate_size=15360, num_hidden_layers=48, num_attention_heads=16,
        num_key_value_heads=8, head_dim=256, global_head_dim=512, num_global_key_value_heads=1,
        attention_k_eq_v=True, sliding_window=1024,
    )
    with torch.device("meta"):
        ref = tf_mod.Gemma4UnifiedTextModel(hf_config)
    ours = Gemma4TextModel(Gemma4Config.gemma4_12b(), device="meta", dtype=torch.bfloat16)
    assert Gemma4Config.from_hf_dict({"model_type": "gemma4_unified", "text_config": hf_config.to_dict()}) \
        == Gemma4Config(gemma_version="")
    return ref, ours


def test_keys_shapes_and_counts_equal_transformers(both):
    ref, ours = both
    ref_sd, our_sd = ref.state_dict(), ours.state_dict()
    assert set(our_sd) == set(ref_sd)
    assert all(tuple(our_sd[k].shape) == tuple(ref_sd[k].shape) for k in ref_sd)
    params = sum(p.numel() for p in ours.parameters())
    assert params == sum(p.numel() for p in ref.parameters()) == LM_PARAMS
    buffers = [k for k in our_sd if k.endswith("layer_scalar")]
    assert len(buffers) == 48 and len(our_sd) == len(list(ours.parameters())) + 48
    # 48 layers x (q, k, o, q/k norm, 4 norms, 3 MLP) + v_proj on the 40 sliding layers + embed + final norm
    assert len(list(ours.parameters())) == 48 * 12 + 40 + 2 == 618
    assert len(our_sd) == 666


def test_official_flat_file_names_map_onto_the_model(both):
    _, ours = both
    our_sd = ours.state_dict()
    file_keys = [f"model.{k}" for k in our_sd] + [f"model.language_model.{k}" for k in our_sd][:3] + [
        "vision_model.x.weight", "multi_modal_projector.w", "audio_projector.w",
        "text_embedding_projection.video_aggregate_embed.weight", "tokenizer_json"]
    mapped = {lm_key(k) for k in file_keys} - {None}
    assert mapped == set(our_sd)
    assert our_sd["layers.5.self_attn.k_proj.weight"].shape == (512, 3840)
    assert "layers.5.self_attn.v_proj.weight" not in our_sd and "layers.4.self_attn.v_proj.weight" in our_sd
