"""End-to-end text -> (video, audio) context parity with ltx-core, loaders, key table and the encode cache."""

import json
import os
from dataclasses import replace

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.errors import CheckpointError
from ltx2_core.text import (
    ConnectorConfig,
    EmbeddingsConnector,
    EncodeCache,
    FeatureExtractorConfig,
    GemmaConfig,
    GemmaTokenizer,
    TextEncoder,
    TextProjection,
    load_gemma,
    load_text_encoder,
)
from ltx2_core.text.keys import GGUF_GLOBAL_NAMES, GGUF_LAYER_NAMES, gemma_key, gemma_state_dict_from_gguf, gguf_key

pytest.importorskip("ltx_core")
pytest.importorskip("transformers")

from test_gemma_model import make_pair, promote_oracle_to_float64  # noqa: E402
from test_text_connectors import oracle_connector, oracle_extractor, randomize  # noqa: E402
from test_text_tokenizer import train_tiny_spm  # noqa: E402

PROMPTS = ["A red fox runs through snow at dawn.", "  the ocean, waves crash on rocks  "]
LENGTH = 16  # two registers' worth of positions (4 registers)
GEMMA = GemmaConfig.tiny(num_layers=3, sliding_window=6, vocab_size=400)
NUM_STATES = GEMMA.num_layers + 1

VERSIONS = {
    "ltx2": (FeatureExtractorConfig.ltx2(GEMMA.hidden_size, NUM_STATES),
             ConnectorConfig(heads=2, head_dim=16, num_layers=2, num_registers=4),
             ConnectorConfig(heads=2, head_dim=16, num_layers=2, num_registers=4)),
    "ltx23": (FeatureExtractorConfig.ltx23(GEMMA.hidden_size, NUM_STATES, video_dim=48, audio_dim=24),
              ConnectorConfig(heads=4, head_dim=12, num_layers=2, num_registers=4, gated=True),
              ConnectorConfig(heads=4, head_dim=6, num_layers=2, num_registers=4, gated=True)),
}


@pytest.fixture(scope="module")
def spm_bytes():
    return train_tiny_spm()


def build(version, dtype, spm_bytes):
    """Our TextEncoder and ltx-core's processor with the same random weights, plus the HF Gemma oracle."""
    from ltx_core.text_encoders.gemma.embeddings_processor import EmbeddingsProcessor

    fe_cfg, v_cfg, a_cfg = VERSIONS[version]
    gemma, hf_gemma = make_pair(GEMMA, dtype, seed=7)
    if dtype == torch.float64:
        promote_oracle_to_float64(hf_gemma)
    extractor = randomize(oracle_extractor(fe_cfg.version, fe_cfg.flat_dim, fe_cfg.embedding_dim, fe_cfg.video_dim,
                                           fe_cfg.audio_dim), 8)
    processor = EmbeddingsProcessor(feature_extractor=extractor, video_connector=randomize(oracle_connector(v_cfg), 9),
                                    audio_connector=randomize(oracle_connector(a_cfg), 10)).to(dtype).eval()
    sd = processor.state_dict()
    part = lambda prefix: {k[len(prefix):]: v.clone() for k, v in sd.items() if k.startswith(prefix)}  # noqa: E731
    projection = TextProjection(fe_cfg, dtype=dtype)
    projection.load_state_dict(part("feature_extractor."))
    video, audio = EmbeddingsConnector(v_cfg, dtype=dtype), EmbeddingsConnector(a_cfg, dtype=dtype)
    video.load_state_dict(part("video_connector."))
    audio.load_state_dict(part("audio_connector."))
    encoder = TextEncoder(gemma, GemmaTokenizer.from_bytes(spm_bytes), projection, video, audio, max_length=LENGTH)
    return encoder, hf_gemma, processor


def reference(encoder, hf_gemma, processor, prompts):
    outs = []
    for prompt in prompts:  # ltx-core's connector works on one prompt at a time
        ids, mask = encoder.tokenize([prompt])
        with torch.no_grad():
            states = hf_gemma(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            outs.append(processor.process_hidden_states(states, mask, "left"))
    return outs


@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_end_to_end_matches_ltx_core(version, dtype, tol, spm_bytes):
    encoder, hf_gemma, processor = build(version, dtype, spm_bytes)
    ctx = encoder.encode(PROMPTS, use_cache=False)
    fe_cfg = VERSIONS[version][0]
    assert ctx.video.shape == (2, LENGTH, fe_cfg.video_dim) and ctx.audio.shape == (2, LENGTH, fe_cfg.audio_dim)
    assert ctx.mask is None
    for row, ref in enumerate(reference(encoder, hf_gemma, processor, PROMPTS)):
        assert torch.all(ref.attention_mask == 1)
        for a, b in ((ctx.video[row], ref.video_encoding[0]), (ctx.audio[row], ref.audio_encoding[0])):
            err = ((a - b).norm() / b.norm()).item() if dtype == torch.float32 else (a - b).abs().max().item()
            assert err <= tol, (version, row, err)


def test_encode_cache_and_cpu_device(spm_bytes):
    encoder, _, _ = build("ltx23", torch.float32, spm_bytes)
    cache = EncodeCache(capacity=2)
    encoder.cache = cache
    first = encoder.encode(PROMPTS, device="cpu")
    assert (cache.hits, cache.misses, len(cache)) == (0, 2, 2)
    again = encoder.encode([PROMPTS[1], PROMPTS[0] + "   "], device="cpu")  # stripped prompts share entries
    assert (cache.hits, cache.misses) == (2, 2)
    assert torch.equal(again.video[0], first.video[1]) and torch.equal(again.audio[1], first.audio[0])
    fresh = encoder.encode(PROMPTS, use_cache=False)
    assert torch.allclose(fresh.video, first.video, atol=1e-6)
    encoder.encode(["a third prompt"])
    assert len(cache) == 2  # LRU bound


def gguf_named(state_dict):
    """Our tensors under llama.cpp names, with llama.cpp's +1 on norm weights."""
    inverse_layer = {v: k for k, v in GGUF_LAYER_NAMES.items()}
    inverse_global = {v: k for k, v in GGUF_GLOBAL_NAMES.items()}
    out = {}
    for key, value in state_dict.items():
        parts = key.split(".")
        if parts[0] == "layers":
            name = f"blk.{parts[1]}.{inverse_layer['.'.join(parts[2:-1])]}.{parts[-1]}"
        else:
            name = f"{inverse_global[parts[0]]}.{parts[-1]}"
        out[name] = value.float() + 1.0 if key.endswith("norm.weight") else value
    return out


def test_key_table_covers_every_layout():
    from test_gemma_model import hf_config
    from transformers import Gemma3TextModel

    with torch.device("meta"):
        oracle = Gemma3TextModel(hf_config(GemmaConfig.gemma3_12b()))
    ours = set(oracle.state_dict())
    for prefix in ("language_model.model.", "model.language_model.", "model."):
        assert {gemma_key(prefix + k) for k in ours} == ours
    for skipped in ("vision_tower.vision_model.embeddings.patch_embedding.weight",
                    "multi_modal_projector.mm_soft_emb_norm.weight",
                    "model.vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight", "language_model.lm_head.weight",
                    "spiece_model", "model.diffusion_model.patchify_proj.weight"):
        assert gemma_key(skipped) is None
    gguf = gguf_named({k: torch.empty(0) for k in ours})
    assert {gguf_key(k) for k in gguf} == ours and len(gguf) == len(ours)
    assert gguf_key("output.weight") is None
    with pytest.raises(CheckpointError, match="Unknown tensor"):
        gguf_key("blk.0.mystery.weight")


def test_gguf_state_dict_removes_norm_offset():
    gemma, _ = make_pair(GEMMA, torch.float32, seed=3)
    sd = gemma.state_dict()
    back = gemma_state_dict_from_gguf(gguf_named(sd))
    assert set(back) == set(sd)
    assert all(torch.allclose(back[k], sd[k], atol=1e-6) for k in sd)
    loaded = load_gemma(gguf_named(sd), config=GEMMA)
    ids = torch.randint(4, GEMMA.vocab_size, (1, 7))
    with torch.no_grad():
        assert torch.allclose(loaded(ids)[-1], gemma(ids)[-1], atol=1e-5)
    # GGUF token_embd may have fewer rows than HF's vocabulary (262144 vs 262208): the shape decides.
    short = gguf_named(sd)
    short["token_embd.weight"] = short["token_embd.weight"][:300]
    assert load_gemma(short, config=GEMMA).config.vocab_size == 300


def test_load_from_files(tmp_path, spm_bytes):
    encoder, _, _ = build("ltx23", torch.float32, spm_bytes)
    gemma_sd = encoder.gemma.state_dict()
    # ComfyUI single file: model.* names, embedded tokenizer, vision tower present.
    comfy = {f"model.{k}": v for k, v in gemma_sd.items()}
    comfy["spiece_model"] = torch.frombuffer(bytearray(spm_bytes), dtype=torch.uint8)
    comfy["vision_tower.vision_model.post_layernorm.weight"] = torch.ones(3)
    save_file(comfy, str(tmp_path / "gemma_comfy.safetensors"))
    # HF shards with index and config.json.
    shard_dir = tmp_path / "gemma_hf"
    shard_dir.mkdir()
    names = sorted(gemma_sd)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for file, keys in halves.items():
        save_file({f"language_model.model.{k}": gemma_sd[k] for k in keys}, str(shard_dir / file))
        weight_map.update({f"language_model.model.{k}": file for k in keys})
    save_file({"multi_modal_projector.mm_input_projection_weight": torch.ones(2, 2)},
              str(shard_dir / "model-00002-of-00002.safetensors.extra.safetensors"))
    (shard_dir / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    from test_gemma_model import hf_config

    hf_json = {"model_type": "gemma3", "text_config": hf_config(GEMMA).to_dict()}
    (shard_dir / "config.json").write_text(json.dumps(hf_json))
    (shard_dir / "tokenizer.model").write_bytes(spm_bytes)
    # LTX checkpoint: projection at top level, connectors under model.diffusion_model., metadata config.
    ltx = {f"text_embedding_projection.{k}": v for k, v in encoder.projection.state_dict().items()}
    for stream, conn in (("video", encoder.video_connector), ("audio", encoder.audio_connector)):
        prefix = f"model.diffusion_model.{stream}_embeddings_connector."
        ltx.update({prefix + k: v for k, v in conn.state_dict().items()})
    ltx["model.diffusion_model.patchify_proj.weight"] = torch.zeros(2, 2)
    v_cfg, a_cfg = VERSIONS["ltx23"][1:]
    meta = {"transformer": {
        "caption_proj_before_connector": True, "caption_projection_first_linear": False,
        "caption_proj_input_norm": False, "caption_projection_second_linear": False,
        "num_attention_heads": 4, "attention_head_dim": 12, "audio_num_attention_heads": 4,
        "audio_attention_head_dim": 6, "connector_num_attention_heads": v_cfg.heads,
        "connector_attention_head_dim": v_cfg.head_dim, "connector_num_layers": 2,
        "connector_apply_gated_attention": True,
        "audio_connector_num_attention_heads": a_cfg.heads, "audio_connector_attention_head_dim": a_cfg.head_dim,
        "rope_type": "split", "frequencies_precision": "float64", "connector_positional_embedding_max_pos": [4096]}}
    save_file(ltx, str(tmp_path / "ltx.safetensors"), metadata={"config": json.dumps(meta)})

    expected = encoder.encode(PROMPTS, use_cache=False)
    ltx_path = str(tmp_path / "ltx.safetensors")
    from_comfy = load_text_encoder(str(tmp_path / "gemma_comfy.safetensors"), ltx_path, gemma_config=GEMMA,
                                   max_length=LENGTH)  # tokenizer from the embedded spiece_model
    from_shards = load_text_encoder(str(shard_dir), ltx_path, max_length=LENGTH)  # config.json + tokenizer.model
    assert from_shards.gemma.config == replace(GEMMA, eos_token_ids=(1,))  # the HF test config's eos
    for loaded in (from_comfy, from_shards):
        got = loaded.encode(PROMPTS, use_cache=False)
        assert torch.equal(got.video, expected.video) and torch.equal(got.audio, expected.audio)
    default = load_gemma(str(tmp_path / "gemma_comfy.safetensors"))  # no config: 12B constants, sizes from shapes
    detected = default.config
    assert (detected.hidden_size, detected.num_layers, detected.query_pre_attn_scalar) == (32, 3, 256.0)
    comfy_gemma = load_gemma(str(tmp_path / "gemma_comfy.safetensors"), config=GEMMA, dtype=torch.bfloat16)
    assert comfy_gemma.embed_tokens.weight.dtype == torch.bfloat16
    assert torch.equal(comfy_gemma.norm.weight.float(), gemma_sd["norm.weight"].bfloat16().float())

    with pytest.raises(CheckpointError, match="No Gemma 3 language-model weights"):
        load_gemma({"vision_tower.x.weight": torch.zeros(1)})
    with pytest.raises(CheckpointError, match="not found"):
        load_gemma(str(tmp_path / "missing.safetensors"))
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="No safetensors"):
        load_gemma(str(empty))
    assert os.path.isfile(tmp_path / "ltx.safetensors")
