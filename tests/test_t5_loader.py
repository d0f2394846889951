"""T5 loading: HF folders (sharded, pipeline layout), ComfyUI single files (prefixed fp16, fp8), GGUF (Q8_0 with
its vocabulary), the encode cache, and one clear line for files given to the wrong loader."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from _t5_helpers import train_t5_spm
from ltx2_core.errors import CheckpointError
from ltx2_core.text.t5 import (
    T5Config, check_t5_keys, is_t5_checkpoint, load_t5, load_t5_encoder, save_hf_folder, t5_misuse_message,
    t5_to_gguf_name, tiny_t5,
)

transformers = pytest.importorskip("transformers")
PROMPTS = ["A cat walks on the beach.", "Rain falls on a quiet street"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("t5load")
    model = tiny_t5(T5Config.tiny(), seed=3)
    pipeline = root / "pipe"
    (pipeline / "tokenizer").mkdir(parents=True)
    (pipeline / "tokenizer" / "spiece.model").write_bytes(train_t5_spm())
    save_hf_folder(model, str(pipeline / "text_encoder"), shards=2)
    return root, model, pipeline


def _reference_states(pipeline, length):
    tok = transformers.T5Tokenizer.from_pretrained(str(pipeline / "tokenizer"))
    ref = transformers.T5EncoderModel.from_pretrained(str(pipeline / "text_encoder")).eval()
    inputs = tok(PROMPTS, padding="max_length", max_length=length, truncation=True, return_tensors="pt")
    with torch.no_grad():
        return ref(**inputs).last_hidden_state, inputs.attention_mask


def test_sharded_pipeline_folder_encodes_like_transformers(setup):
    _, _, pipeline = setup
    encoder = load_t5_encoder(pipeline, max_length=32, dtype=torch.float32)
    states, mask = encoder.encode(PROMPTS)
    expected, expected_mask = _reference_states(pipeline, 32)
    assert states.shape == (2, 32, 32) and torch.equal(mask, expected_mask)
    assert ((states - expected).abs().max() / expected.abs().max()).item() <= 1e-5
    again, _ = encoder.encode([PROMPTS[1], PROMPTS[0]])
    assert encoder.cache.hits == 2 and torch.equal(again[0], states[1])


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def test_comfyui_single_files(setup):
    root, model, _ = setup
    ids = torch.randint(0, 200, (1, 10))
    state = model.state_dict()
    prefixed = {f"t5xxl.transformer.{k}": v.half() for k, v in state.items()}
    prefixed["t5xxl.transformer.encoder.embed_tokens.weight"] = prefixed.pop("t5xxl.transformer.shared.weight")
    save_file(prefixed, str(root / "t5xxl_fp16.safetensors"))
    fp16 = load_t5(root / "t5xxl_fp16.safetensors", dtype=torch.float32)
    rounded = load_t5({k: v.half().float() for k, v in state.items()})
    assert _rel(fp16(ids), rounded(ids)) <= 1e-6
    assert load_t5(root / "t5xxl_fp16.safetensors").compute_dtype() == torch.float16
    fp8 = {k: v.to(torch.float8_e4m3fn) if v.dim() == 2 else v.half() for k, v in state.items()}
    save_file(fp8, str(root / "t5xxl_fp8_e4m3fn.safetensors"))
    loaded = load_t5(root / "t5xxl_fp8_e4m3fn.safetensors", dtype=torch.float32)
    rounded = load_t5({k: v.float() for k, v in fp8.items()})
    assert _rel(loaded(ids), rounded(ids)) <= 1e-6


def test_gguf_q8_with_its_vocabulary(setup):
    gguf = pytest.importorskip("gguf")
    from sentencepiece import sentencepiece_model_pb2 as pb

    root, model, pipeline = setup
    path = str(root / "t5-encoder-Q8_0.gguf")
    writer = gguf.GGUFWriter(path, arch="t5encoder")
    writer.add_uint32("t5encoder.block_count", 2)
    writer.add_uint32("t5encoder.attention.head_count", 4)
    dequantized = {}
    for key, value in model.state_dict().items():
        array = value.numpy().astype(np.float32)
        if array.ndim == 2 and array.shape[1] % 32 == 0 and "relative" not in key:
            quant = gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(t5_to_gguf_name(key), quant, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
            array = gguf.quants.dequantize(quant, gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(t5_to_gguf_name(key), array)
        dequantized[key] = torch.from_numpy(np.ascontiguousarray(array))
    proto = pb.ModelProto()
    proto.ParseFromString((pipeline / "tokenizer" / "spiece.model").read_bytes())
    writer.add_string("tokenizer.ggml.model", "t5")
    writer.add_array("tokenizer.ggml.tokens", [p.piece for p in proto.pieces])
    writer.add_array("tokenizer.ggml.scores", [p.score for p in proto.pieces])
    writer.add_array("tokenizer.ggml.token_type", [int(p.type) for p in proto.pieces])
    writer.add_array("tokenizer.ggml.precompiled_charsmap", list(proto.normalizer_spec.precompiled_charsmap))
    for stage in (writer.write_header_to_file, writer.write_kv_data_to_file, writer.write_tensors_to_file):
        stage()
    writer.close()
    encoder = load_t5_encoder(path, max_length=32, dtype=torch.float32)
    assert type(encoder.model.encoder.block[0].layer[1].DenseReluDense.wi_0.weight).__name__ == "QuantizedTensor"
    states, mask = encoder.encode(PROMPTS)
    _, expected_mask = _reference_states(pipeline, 32)
    assert torch.equal(mask, expected_mask)
    ids = encoder.tokenizer(PROMPTS, max_length=32)[0]
    assert _rel(states, load_t5(dequantized)(ids, mask)) <= 1e-5


def test_wrong_files_get_one_clear_line(setup, tmp_path):
    root, model, _ = setup
    ltx = {"model.diffusion_model.transformer_blocks.0.attn1.to_q.weight": torch.zeros(4, 4),
           "model.diffusion_model.adaln_single.linear.weight": torch.zeros(4, 4)}
    save_file(ltx, str(tmp_path / "ltx-2.safetensors"))
    with pytest.raises(CheckpointError, match=r"not a T5 text encoder \(it looks like an LTX diffusion"):
        load_t5(tmp_path / "ltx-2.safetensors")
    gemma = {"model.layers.0.self_attn.q_proj.weight": torch.zeros(4, 4),
             "model.embed_tokens.weight": torch.zeros(4, 4)}
    save_file(gemma, str(tmp_path / "gemma.safetensors"))
    with pytest.raises(CheckpointError, match="Gemma") as info:
        load_t5(tmp_path / "gemma.safetensors")
    assert "\n" not in str(info.value)
    keys = list(model.state_dict())
    assert is_t5_checkpoint(keys) and is_t5_checkpoint([t5_to_gguf_name(k) for k in keys])
    assert not is_t5_checkpoint(ltx) and not is_t5_checkpoint(gemma)
    assert "T5 text-encoder loader" in t5_misuse_message("t5xxl_fp16.safetensors")
    check_t5_keys(keys, "ok")
    old = {k.replace("wi_0", "wi"): v for k, v in model.state_dict().items() if "wi_1" not in k}
    with pytest.raises(CheckpointError, match="T5 v1.0 encoder"):
        load_t5(old)
    with pytest.raises(CheckpointError, match="tokenizer"):
        load_t5_encoder(model.state_dict())


def test_comfyui_scaled_fp8_file(setup):
    root, model, _ = setup
    state = model.state_dict()
    scaled = {"scaled_fp8": torch.zeros(0, dtype=torch.float8_e4m3fn)}
    dequantized = {}
    for key, value in state.items():
        if value.dim() == 2 and "relative" not in key and key != "shared.weight":
            scale = value.abs().max() / 200.0
            packed = (value / scale).to(torch.float8_e4m3fn)
            scaled[key] = packed
            scaled[key[: -len(".weight")] + ".scale_weight"] = scale.reshape(())
            dequantized[key] = packed.float() * scale
        else:
            scaled[key] = value.half()
            dequantized[key] = value.half().float()
    save_file(scaled, str(root / "t5xxl_fp8_e4m3fn_scaled.safetensors"))
    loaded = load_t5(root / "t5xxl_fp8_e4m3fn_scaled.safetensors", dtype=torch.float32)
    assert type(loaded.encoder.block[1].layer[0].SelfAttention.q.weight).__name__ == "QuantizedTensor"
    ids = torch.randint(0, 200, (2, 12))
    assert _rel(loaded(ids), load_t5(dequantized)(ids)) <= 1e-5


def test_operations_seam_with_float_weights(setup):
    from ltx2_core.gguf import QuantOps

    _, _, pipeline = setup
    plain = load_t5(pipeline / "text_encoder", dtype=torch.float32)
    through_ops = load_t5(pipeline / "text_encoder", dtype=torch.float32, operations=QuantOps)
    assert isinstance(through_ops.encoder.block[0].layer[0].SelfAttention.q, QuantOps.Linear)
    ids = torch.randint(0, 200, (1, 9))
    assert torch.equal(plain(ids), through_ops(ids))


def test_gemma_gguf_in_the_t5_loader(tmp_path):
    gguf = pytest.importorskip("gguf")
    path = str(tmp_path / "gemma-3-12b-Q8_0.gguf")
    writer = gguf.GGUFWriter(path, arch="gemma3")
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((4, 4), dtype=np.float32))
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    for stage in (writer.write_header_to_file, writer.write_kv_data_to_file, writer.write_tensors_to_file):
        stage()
    writer.close()
    with pytest.raises(CheckpointError, match=r"gemma-3-12b-Q8_0.gguf is not a T5 text encoder \(it looks like a Gemma"):
        load_t5(path)
