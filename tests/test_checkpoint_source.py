"""Sharded checkpoints in the official layouts (diffusers transformer folder, Hugging Face Gemma folder):
they load from the folder, the index or a shard and equal the unsharded load; broken sets fail clearly."""

import json
import os

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.audio import load_vocoder
from ltx2_core.checkpoint_source import open_checkpoint
from ltx2_core.errors import CheckpointError, UnsupportedFormatError
from ltx2_core.text import GemmaConfig, GemmaTextModel, load_gemma
from ltx2_core.transformer import LTX2Transformer, TransformerConfig, load_transformer
from ltx2_core.transformer.keys import official_to_diffusers


def randomized(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return module


def write_sharded(state, folder, stem, max_bytes, metadata=None):
    """Split `state` into `<stem>-0000i-of-0000n.safetensors` shards of at most ~`max_bytes` (in key order)
    plus `<stem>.safetensors.index.json`, as Hugging Face / diffusers write them; `metadata` goes into the
    first shard's header. Returns the shard paths."""
    os.makedirs(folder, exist_ok=True)
    groups, size = [[]], 0
    for key, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if groups[-1] and size + nbytes > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(key)
        size += nbytes
    names = [f"{stem}-{i + 1:05d}-of-{len(groups):05d}.safetensors" for i in range(len(groups))]
    weight_map = {}
    for number, (name, keys) in enumerate(zip(names, groups)):
        header = {"format": "pt", **((metadata or {}) if number == 0 else {})}
        save_file({k: state[k].contiguous() for k in keys}, os.path.join(folder, name), metadata=header)
        weight_map.update({k: name for k in keys})
    total = sum(t.numel() * t.element_size() for t in state.values())
    with open(os.path.join(folder, f"{stem}.safetensors.index.json"), "w", encoding="utf-8") as handle:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, handle)
    return [os.path.join(folder, n) for n in names]


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) and sa[k].dtype == sb[k].dtype for k in sa)


@pytest.fixture(scope="module")
def ltx2_transformer(tmp_path_factory):
    """A tiny LTX-2 (ungated: heads only in the config) transformer as an official single file and as a
    diffusers `transformer/` folder of shards with its config.json."""
    root = tmp_path_factory.mktemp("ltx")
    config = TransformerConfig.tiny("2.0")
    model = randomized(LTX2Transformer(config))
    state = {k: v.detach() for k, v in model.state_dict().items()}
    single = str(root / "ltx-2-tiny.safetensors")
    save_file({"model.diffusion_model." + k: v.contiguous() for k, v in state.items()}, single,
              metadata={"config": json.dumps(config.to_metadata())})
    folder = str(root / "pipeline" / "transformer")
    diffusers = {official_to_diffusers(k): v for k, v in state.items()}
    shards = write_sharded(diffusers, folder, "diffusion_pytorch_model", max_bytes=100_000)
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as handle:
        json.dump({"_class_name": "LTX2VideoTransformer3DModel", "num_attention_heads": config.heads,
                   "attention_head_dim": config.head_dim, "audio_num_attention_heads": config.audio_heads,
                   "audio_attention_head_dim": config.audio_head_dim, "rope_type": "split",
                   "rope_double_precision": True, "rope_theta": 10000.0, "pos_embed_max_pos": 20,
                   "base_height": 2048, "base_width": 2048, "audio_pos_embed_max_pos": 20,
                   "timestep_scale_multiplier": 1000, "cross_attn_timestep_scale_multiplier": 1000}, handle)
    return single, folder, shards


def test_diffusers_transformer_shards_load_like_the_single_file(ltx2_transformer):
    single, folder, shards = ltx2_transformer
    assert len(shards) >= 3
    reference = load_transformer(single)
    index = os.path.join(folder, "diffusion_pytorch_model.safetensors.index.json")
    for given in (folder, os.path.dirname(folder), index, shards[1]):
        loaded = load_transformer(given)
        assert loaded.config == reference.config, given
        assert_same_weights(loaded, reference)
    bf16 = load_transformer(folder, dtype=torch.bfloat16)
    assert bf16.patchify_proj.weight.dtype == torch.bfloat16


def test_source_reports_keys_shapes_and_files(ltx2_transformer):
    _, folder, shards = ltx2_transformer
    source = open_checkpoint(folder)
    assert source.sharded and source.files == tuple(shards) and source.folder == folder
    assert source.shapes()["proj_in.weight"] == (32, 8) and source.dtypes()["proj_in.weight"] == "F32"
    assert source.metadata == {"format": "pt"} and source.config_metadata() is None
    assert source.folder_config()["num_attention_heads"] == 2
    with open(source.index, encoding="utf-8") as handle:
        weight_map = json.load(handle)["weight_map"]
    assert {k: os.path.join(folder, f) for k, f in weight_map.items()} == dict(source.key_files)
    tensors = source.load(["proj_in.weight", "proj_out.bias"])
    assert tensors["proj_in.weight"].shape == (32, 8)
    with pytest.raises(CheckpointError, match="no tensor"):
        source.load(["nope"])


@pytest.fixture()
def shard_copy(ltx2_transformer, tmp_path):
    """A private copy of the sharded folder, free to damage."""
    import shutil

    _, folder, _ = ltx2_transformer
    target = tmp_path / "transformer"
    shutil.copytree(folder, target)
    return target


def test_a_shard_alone_names_the_index_and_the_missing_shards(shard_copy):
    shards = sorted(p for p in os.listdir(shard_copy) if p.endswith("safetensors"))
    os.remove(shard_copy / "diffusion_pytorch_model.safetensors.index.json")
    for name in shards[1:]:
        os.remove(shard_copy / name)
    with pytest.raises(CheckpointError) as error:
        load_transformer(str(shard_copy / shards[0]))
    message = str(error.value)
    assert f"one shard of a {len(shards)}-part LTX-2 transformer" in message
    assert "diffusion_pytorch_model.safetensors.index.json" in message
    assert all(name in message for name in shards[1:]) and message.count(shards[0]) == 1
    with pytest.raises(CheckpointError, match="index.json"):  # the folder gives the same message
        load_transformer(str(shard_copy))


def test_index_with_a_missing_shard(shard_copy):
    shards = sorted(p for p in os.listdir(shard_copy) if p.endswith("safetensors"))
    os.remove(shard_copy / shards[1])
    with pytest.raises(CheckpointError, match=rf"index.json lists {len(shards)} shard\(s\) of the LTX-2 transformer; "
                                              rf"missing: {shards[1]}\. Download every shard"):
        load_transformer(str(shard_copy))


def test_shard_keys_that_disagree_with_the_index(shard_copy):
    index_path = shard_copy / "diffusion_pytorch_model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    key = next(iter(index["weight_map"]))
    first = index["weight_map"][key]
    other = next(f for f in index["weight_map"].values() if f != first)
    index["weight_map"][key] = other
    index_path.write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=rf"Shard {first} disagrees with .*holds 1 key\(s\) the index does not "
                                              rf"assign to it \({key}\)"):
        load_transformer(str(shard_copy))
    index["weight_map"].pop(key)
    index["weight_map"]["ghost.weight"] = first
    index_path.write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=r"lacks 1 key\(s\) the index assigns to it \(ghost.weight\)"):
        load_transformer(str(shard_copy))
    index_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="Unreadable shard index"):
        load_transformer(str(shard_copy))
    index_path.write_text(json.dumps({"weight_map": {"a": "../outside.safetensors"}}))
    with pytest.raises(CheckpointError, match="not a file in its folder"):
        load_transformer(str(shard_copy))


def test_other_folder_and_file_problems(tmp_path):
    for name in ("a.safetensors", "b.safetensors"):
        save_file({"x": torch.zeros(1)}, str(tmp_path / name))
    with pytest.raises(CheckpointError, match=r"several safetensors files \(a.safetensors, b.safetensors\)"):
        open_checkpoint(str(tmp_path))
    (tmp_path / "model.gguf").write_bytes(b"GGUF" + bytes(20))
    with pytest.raises(UnsupportedFormatError, match="model.gguf is a GGUF file: load it with the GGUF loader"):
        load_transformer(str(tmp_path / "model.gguf"))
    with pytest.raises(CheckpointError, match="was not found"):
        open_checkpoint(str(tmp_path / "missing.safetensors"))


GEMMA = GemmaConfig.tiny(num_layers=3, vocab_size=64)


def gemma_config_json(cfg):
    """A Hugging Face `gemma3` (multimodal) config.json for a text config."""
    return {"model_type": "gemma3", "text_config": {
        "model_type": "gemma3_text", "vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size, "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads, "num_key_value_heads": cfg.num_kv_heads, "head_dim": cfg.head_dim,
        "query_pre_attn_scalar": cfg.query_pre_attn_scalar, "rms_norm_eps": cfg.rms_norm_eps,
        "sliding_window": cfg.sliding_window,
        "layer_types": ["full_attention" if t == "global" else "sliding_attention" for t in cfg.layer_types],
        "rope_theta": cfg.rope_global_theta, "rope_local_base_freq": cfg.rope_local_theta,
        "rope_scaling": {"rope_type": "linear", "factor": cfg.rope_global_scaling}}}


def test_hf_gemma_shards_load_like_the_single_file(tmp_path):
    model = randomized(GemmaTextModel(GEMMA), seed=1)
    state = {k: v.detach() for k, v in model.state_dict().items()}
    single = str(tmp_path / "gemma.safetensors")
    save_file({"model." + k: v.contiguous() for k, v in state.items()}, single)
    folder = tmp_path / "gemma-3-tiny-it"
    hf = {f"language_model.model.{k}": v for k, v in state.items()}
    hf["vision_tower.vision_model.post_layernorm.weight"] = torch.ones(4)  # the multimodal checkpoint's extra
    shards = write_sharded(hf, str(folder), "model", max_bytes=12_000)
    (folder / "config.json").write_text(json.dumps(gemma_config_json(GEMMA)))
    assert len(shards) >= 3
    reference = load_gemma(single, config=GEMMA)
    for given in (folder, folder / "model.safetensors.index.json", shards[0]):
        loaded = load_gemma(str(given))  # config from the folder's config.json
        assert loaded.config == GEMMA
        assert_same_weights(loaded, reference)
    os.remove(shards[-1])
    with pytest.raises(CheckpointError, match=f"missing: {os.path.basename(shards[-1])}"):
        load_gemma(str(folder))
    with pytest.raises(CheckpointError, match=f"missing beside it: {os.path.basename(shards[-1])}"):
        load_gemma(shards[0])


def test_vocoder_from_a_sharded_subfolder(tmp_path):
    from ltx2_core.audio import Vocoder, VocoderConfig

    meta = {"vocoder": dict(upsample_initial_channel=16, upsample_rates=[2, 2], upsample_kernel_sizes=[4, 4],
                            resblock="1", stereo=True, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3, 5]])}
    vocoder = randomized(Vocoder(VocoderConfig.from_metadata(meta)), seed=2)
    state = {k: v.detach() for k, v in vocoder.state_dict().items()}
    save_file({"vocoder." + k: v.contiguous() for k, v in state.items()}, str(tmp_path / "ltx.safetensors"),
              metadata={"config": json.dumps(meta)})
    assert len(write_sharded(state, str(tmp_path / "pipe" / "vocoder"), "diffusion_pytorch_model", 4_000)) >= 2
    reference = load_vocoder(str(tmp_path / "ltx.safetensors"))
    assert_same_weights(load_vocoder(str(tmp_path / "pipe"), config=meta), reference)
