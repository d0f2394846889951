"""LTX-Video transformer loading: official / ComfyUI / diffusers layouts, config from metadata or shapes,
scaled fp8, GGUF (our converter, city96-style bare names), LoRA formats (also on GGUF), family detection,
and the one-line refusals."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.convert import convert
from ltx2_core.errors import CheckpointError, InputError
from ltx2_core.gguf.ops import QuantOps
from ltx2_core.gguf.tensor import QuantizedTensor
from ltx2_core.ltxv import (LTXVTransformerConfig, load_ltxv_transformer, model_family, save_tiny_checkpoint,
                             video_positions)
from ltx2_core.ltxv.transformer.keys import official_to_diffusers
from ltx2_core.ltxv.transformer.lora import apply_loras
from ltx2_core.transformer import load_transformer

CONFIG = LTXVTransformerConfig.tiny(causal_temporal_positioning=False)
# What key shapes cannot tell (the released models have 32 heads and, from 0.9.5 on, causal positions).
SHAPE_OVERRIDES = {"heads": 2, "head_dim": 16, "causal_temporal_positioning": False}


def _inputs(config=CONFIG):
    g = torch.Generator().manual_seed(5)
    return (torch.randn(1, 6, config.in_channels, generator=g), video_positions(2, 1, 3, frame_rate=25.0),
            torch.randn(1, 4, config.caption_channels, generator=g), torch.tensor([0.7]))


def _run(model, inputs=None):
    with torch.no_grad():
        return model(*(inputs or _inputs(model.config))).float()


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module")
def official_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ltxv") / "ltx-video-tiny.safetensors"
    vae = {"vae.decoder.conv_in.conv.weight": torch.zeros(2, 2)}  # other component of the single file: ignored
    state = save_tiny_checkpoint(str(path), CONFIG, seed=1, extra=vae)
    return path, state


def test_official_file_loads_with_metadata_config(official_file):
    path, state = official_file
    model = load_ltxv_transformer(path)
    assert model.config == CONFIG  # causal_temporal_positioning=False read from metadata
    loaded = model.state_dict()
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], state[k]) for k in state)


def test_comfyui_and_diffusers_layouts_give_the_same_model(tmp_path, official_file):
    reference = _run(load_ltxv_transformer(official_file[0]))
    for layout in ("comfyui", "diffusers"):
        path = tmp_path / f"{layout}.safetensors"
        save_tiny_checkpoint(str(path), CONFIG, seed=1, layout=layout)
        model = load_ltxv_transformer(path, overrides=SHAPE_OVERRIDES)
        assert model.config == CONFIG  # sizes detected from key shapes
        assert torch.equal(_run(model), reference)


def test_diffusers_folder_config(tmp_path):
    folder = tmp_path / "transformer"
    folder.mkdir()
    save_tiny_checkpoint(str(folder / "diffusion_pytorch_model.safetensors"), CONFIG.replace(heads=4, head_dim=8),
                         seed=2, layout="diffusers")
    (folder / "config.json").write_text(json.dumps({"_class_name": "LTXVideoTransformer3DModel",
                                                   "num_attention_heads": 4, "attention_head_dim": 8,
                                                   "num_layers": 2, "in_channels": 8, "out_channels": 8,
                                                   "cross_attention_dim": 32, "caption_channels": 24}))
    model = load_ltxv_transformer(tmp_path)
    assert (model.config.heads, model.config.head_dim) == (4, 8)  # heads come from config.json, not shapes


def test_scaled_fp8_file(tmp_path, official_file):
    _, state = official_file
    tensors, dequantized = {}, {}
    for key, value in state.items():
        name = "model.diffusion_model." + key
        if value.ndim == 2 and key.endswith(".weight"):
            scale = value.abs().max() / 448.0
            tensors[name] = (value / scale).to(torch.float8_e4m3fn)
            tensors[name + "_scale"] = scale.to(torch.float32)
            dequantized[key] = tensors[name].float() * scale
        else:
            tensors[name] = dequantized[key] = value
    path = tmp_path / "fp8.safetensors"
    save_file(tensors, str(path), metadata={"config": json.dumps({"transformer": CONFIG.to_metadata()})})
    model = load_ltxv_transformer(path, dtype=torch.float32)
    assert isinstance(model.transformer_blocks[0].attn1.to_q, QuantOps.Linear)
    assert isinstance(model.transformer_blocks[0].attn1.to_q.weight, QuantizedTensor)
    assert _rel(_run(model), _run(load_ltxv_transformer(dequantized, config=CONFIG))) < 1e-5


@pytest.mark.parametrize("source", ["official", "comfyui"])
def test_gguf_from_our_converter(tmp_path, official_file, source):
    src = official_file[0] if source == "official" else tmp_path / "bare.safetensors"
    if source == "comfyui":  # bare official names, no metadata: a city96-style GGUF after conversion
        save_tiny_checkpoint(str(src), CONFIG, seed=1, layout="comfyui")
    dst = tmp_path / "tiny.gguf"
    counts = convert(str(src), str(dst), "Q8_0", min_elements=0)
    assert counts.get("Q8_0", 0) > 0
    model = load_ltxv_transformer(dst, dtype=torch.float32,
                                  overrides=None if source == "official" else SHAPE_OVERRIDES)
    assert model.config == CONFIG
    assert isinstance(model.transformer_blocks[0].ff.net[2].weight, QuantizedTensor)
    assert _rel(_run(model), _run(load_ltxv_transformer(official_file[0]))) < 0.02
    if source == "official":
        from ltx2_core.gguf.loader import load_transformer_gguf

        with pytest.raises(CheckpointError, match="load_ltxv_transformer") as info:
            load_transformer_gguf(dst)  # the LTX-2 GGUF loader points at the LTX-Video one
        assert "\n" not in str(info.value)


def _lora(config, seed, prefix, naming, alpha=None):
    g = torch.Generator().manual_seed(seed)
    rank, out = 2, {}
    for target in ("transformer_blocks.0.attn1.to_q", "patchify_proj", "transformer_blocks.1.ff.net.2"):
        name = official_to_diffusers(target) if naming == "diffusers" else target
        shape = {"patchify_proj": (config.dim, config.in_channels), "transformer_blocks.1.ff.net.2":
                 (config.dim, 4 * config.dim)}.get(target, (config.dim, config.dim))
        down, up = (".lora_down.weight", ".lora_up.weight") if alpha else (".lora_A.weight", ".lora_B.weight")
        out[prefix + name + down] = torch.randn(rank, shape[1], generator=g) * 0.1
        out[prefix + name + up] = torch.randn(shape[0], rank, generator=g) * 0.1
        if alpha:
            out[prefix + name + ".alpha"] = torch.tensor(float(alpha))
    return out


@pytest.mark.parametrize("prefix,naming,alpha", [("diffusion_model.", "official", None),
                                                  ("transformer.", "diffusers", None),
                                                  ("diffusion_model.", "official", 4.0)])
def test_lora_formats_merge_and_patch_gguf_alike(tmp_path, official_file, prefix, naming, alpha):
    lora = _lora(CONFIG, 3, prefix, naming, alpha)
    plain = load_ltxv_transformer(official_file[0])
    before = _run(plain)
    assert apply_loras(plain, [(lora, 0.8)]) == 3
    merged = _run(plain)
    assert _rel(merged, before) > 1e-3
    dst = tmp_path / "lora.gguf"
    convert(str(official_file[0]), str(dst), "Q8_0", min_elements=0)
    packed = load_ltxv_transformer(dst, dtype=torch.float32)
    assert apply_loras(packed, [(lora, 0.8)]) == 3
    assert _rel(_run(packed), merged) < 0.02


def test_13b_lora_on_2b_model_is_one_line(official_file):
    wide = CONFIG.replace(head_dim=32, cross_attention_dim=64)
    model = load_ltxv_transformer(official_file[0])
    with pytest.raises(CheckpointError, match="another model size") as info:
        apply_loras(model, [(_lora(wide, 0, "diffusion_model.", "official"), 1.0)], name="big.safetensors")
    assert "\n" not in str(info.value) and "big.safetensors" in str(info.value)


def test_model_family():
    ltxv = [f"model.diffusion_model.{k}" for k in ("patchify_proj.weight", "caption_projection.linear_1.weight",
                                                   "transformer_blocks.0.attn1.to_q.weight")]
    assert model_family(ltxv) == "ltx-video"
    assert model_family([official_to_diffusers(k[len("model.diffusion_model."):]) for k in ltxv]) == "ltx-video"
    assert model_family(ltxv + ["model.diffusion_model.audio_patchify_proj.weight"]) == "ltx-2"
    assert model_family(["patchify_proj.weight", "transformer_blocks.0.attn1.to_q.weight",
                         "keyframes_abs_pos_embedding"]) == "ltx-2.5"
    assert model_family(["encoder.block.0.layer.0.SelfAttention.q.weight", "shared.weight"]) is None


def test_wrong_family_in_either_loader_is_one_line(official_file):
    from ltx2_core.transformer import LTX2Transformer, TransformerConfig

    ltx2 = LTX2Transformer(TransformerConfig.tiny(), device="meta")
    shapes = {k: torch.empty(v.shape, device="meta") for k, v in ltx2.state_dict().items()}
    with pytest.raises(CheckpointError, match="load_transformer") as info:
        load_ltxv_transformer(shapes)
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match="ltx2_core.ltxv") as info:
        load_transformer(official_file[0])
    assert "\n" not in str(info.value)
    t5 = {"encoder.block.0.layer.0.SelfAttention.q.weight": torch.zeros(2, 2), "shared.weight": torch.zeros(2, 2)}
    with pytest.raises(CheckpointError, match="T5 text encoder"):
        load_ltxv_transformer(t5)


def test_bad_config_and_overrides_are_refused():
    with pytest.raises(CheckpointError, match="qk_norm"):
        LTXVTransformerConfig.from_metadata({"transformer": dict(CONFIG.to_metadata(), qk_norm="layer_norm")})
    with pytest.raises(InputError, match="Unknown LTX-Video transformer config"):
        load_ltxv_transformer(save_state(), overrides={"heads_typo": 3})
    with pytest.raises(InputError, match="wrong type"):
        load_ltxv_transformer(save_state(), overrides={"causal_temporal_positioning": "yes"})
    with pytest.raises(InputError, match="positive integer"):
        load_ltxv_transformer(save_state(), overrides={"heads": 0})


def test_strict_key_accounting():
    state = save_state()
    state.pop("transformer_blocks.1.attn2.k_norm.weight")
    state["transformer_blocks.0.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="1 missing key.*attn2.k_norm.*1 unexpected key.*extra") as info:
        load_ltxv_transformer(state, config=CONFIG)
    assert "\n" not in str(info.value)


def save_state():
    from ltx2_core.ltxv.transformer.tiny import random_state_dict

    return random_state_dict(CONFIG)


def test_docs_example_runs():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "ltxv_transformer.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)
    assert blocks
    for code in blocks:
        exec(compile(code, "docs/ltxv_transformer.md", "exec"), {"__name__": "__main__"})
