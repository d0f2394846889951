"""The converter: tiny LTX-2 transformer and tiny Gemma 3 -> GGUF -> packed models that match the float ones."""

import io
import json

import pytest
import torch

import gguf  # runtime dependencies: never skipped
import sentencepiece as spm
from safetensors.torch import save_file  # noqa: E402

from ltx2_core.convert import convert, main  # noqa: E402
from ltx2_core.errors import CheckpointError, InputError  # noqa: E402
from ltx2_core.gguf.loader import (  # noqa: E402
    gemma_tokenizer_from_gguf, gguf_metadata, load_gemma_gguf, load_transformer_gguf, load_transformer_quantized,
)
from ltx2_core.gguf.reader import GGUFFile  # noqa: E402
from ltx2_core.gguf.tensor import QuantizedTensor  # noqa: E402
from ltx2_core.text import GemmaConfig, GemmaTextModel, GemmaTokenizer  # noqa: E402
from ltx2_core.text.gemma_config import layer_pattern  # noqa: E402
from ltx2_core.transformer import LTX2Transformer, ModalityInput, TransformerConfig  # noqa: E402
from ltx2_core.transformer.config import _FIXED_VALUES  # noqa: E402

LTX_SECTION = dict(
    _FIXED_VALUES, num_layers=2, num_attention_heads=2, attention_head_dim=32, in_channels=32, out_channels=32,
    cross_attention_dim=64, audio_num_attention_heads=2, audio_attention_head_dim=16, audio_in_channels=32,
    audio_out_channels=32, audio_cross_attention_dim=32, caption_channels=64,
)
# Output error bound per type (relative L2 over a 2-layer random model). Weight round-trip errors on
# Gaussian data are about 0.5 % (Q8_0), 4.3 % (Q5_0) and 8.6 % (Q4_0); the output error is of that order.
LTX_BOUNDS = {"Q8_0": 0.02, "Q5_0": 0.12, "Q4_0": 0.25}


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module")
def ltx_file(tmp_path_factory):
    torch.manual_seed(0)
    meta = {"transformer": LTX_SECTION}
    model = LTX2Transformer(TransformerConfig.from_metadata(meta), dtype=torch.float32)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.05)
    path = tmp_path_factory.mktemp("ltx") / "tiny.safetensors"
    state = {"model.diffusion_model." + k: v.contiguous() for k, v in model.state_dict().items()}
    state["vae.decoder.conv.weight"] = torch.zeros(4, 4)  # another component of a single file: dropped
    state["text_embedding_projection.aggregate_embed.weight"] = torch.randn(64, 128)  # kept for the text encoder
    save_file(state, str(path), metadata={"config": json.dumps(meta), "model_version": "2.0.1"})
    return model.eval(), path


def ltx_inputs():
    g = torch.Generator().manual_seed(1)
    batch, tokens, audio_tokens = 1, 8, 5
    pos = torch.rand(batch, 3, tokens, 1, generator=g).repeat(1, 1, 1, 2)
    pos[..., 1] += 1
    apos = torch.rand(batch, 1, audio_tokens, 1, generator=g).repeat(1, 1, 1, 2)
    apos[..., 1] += 0.1
    sigma = torch.tensor([0.6])
    video = ModalityInput(torch.randn(batch, tokens, 32, generator=g), sigma, sigma.expand(batch, tokens), pos,
                          torch.randn(batch, 4, 64, generator=g))
    audio = ModalityInput(torch.randn(batch, audio_tokens, 32, generator=g), sigma, sigma.expand(batch, audio_tokens),
                          apos, torch.randn(batch, 4, 64, generator=g))
    return video, audio


@pytest.mark.parametrize("qtype", ["Q8_0", "Q5_0", "Q4_0"])
def test_ltx_transformer_round_trip(ltx_file, tmp_path, qtype):
    model, src = ltx_file
    dst = tmp_path / f"tiny-{qtype}.gguf"
    counts = convert(str(src), str(dst), qtype, min_elements=256)
    assert counts[qtype] > 50 and set(counts) == {qtype, "F32"}
    file = GGUFFile(str(dst))
    assert file.architecture == "ltxv"
    assert gguf_metadata(file) == {"config": json.dumps({"transformer": LTX_SECTION}), "model_version": "2.0.1"}
    assert "transformer_blocks.0.attn1.to_q.weight" in file.infos and not any(n.startswith("vae.") for n in file.infos)
    assert "text_embedding_projection.aggregate_embed.weight" in file.infos
    assert file.tensor_types()["F32"] == counts["F32"]
    assert dequant_type(file, "transformer_blocks.0.scale_shift_table") == "F32"  # AdaLN tables stay F32
    loaded = load_transformer_gguf(str(dst), dtype=torch.float32)
    assert loaded.config == model.config
    assert isinstance(loaded.transformer_blocks[0].ff.net[2].weight, QuantizedTensor)
    with torch.no_grad():
        ref_video, ref_audio = model(*ltx_inputs())
        video, audio = loaded(*ltx_inputs())
    assert rel(video, ref_video) < LTX_BOUNDS[qtype] and rel(audio, ref_audio) < LTX_BOUNDS[qtype]
    assert rel(video, ref_video) > 1e-5  # the weights really are quantized


def dequant_type(file: GGUFFile, name: str) -> str:
    from ltx2_core.gguf.dequant import type_name

    return type_name(file.infos[name].qtype)


def test_ltx_packed_model_equals_float_model_with_the_dequantized_weights(ltx_file, tmp_path):
    model, src = ltx_file
    dst = tmp_path / "tiny.gguf"
    convert(str(src), str(dst), "Q4_0", min_elements=256)
    loaded = load_transformer_quantized(str(dst), dtype=torch.float32)
    dense = {k: v.dequantize_as(torch.float32) if isinstance(v, QuantizedTensor) else v
             for k, v in loaded.state_dict().items()}
    reference = LTX2Transformer(model.config, dtype=torch.float32)
    reference.load_state_dict(dense)
    with torch.no_grad():
        out, expected = loaded(*ltx_inputs()), reference.eval()(*ltx_inputs())
    assert all((a - b).abs().max().item() < 1e-5 for a, b in zip(out, expected))
    packed_bytes = sum(v.packed_nbytes for v in loaded.state_dict().values() if isinstance(v, QuantizedTensor))
    dense_bytes = sum(v.numel() * 4 for v in loaded.state_dict().values() if isinstance(v, QuantizedTensor))
    assert packed_bytes / dense_bytes == pytest.approx(18 / 128)  # Q4_0: 18 bytes per 32 float32 values


@pytest.fixture(scope="module")
def gemma_file(tmp_path_factory):
    torch.manual_seed(0)
    config = GemmaConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_layers=6, num_heads=4, num_kv_heads=2,
        head_dim=32, query_pre_attn_scalar=32.0, layer_types=layer_pattern(6, 6),
    )
    model = GemmaTextModel(config, dtype=torch.float32)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.normal_(0, 0.1 if "norm" in name else 0.05)
    sentences = ["a photo of a cat", "the quick brown fox jumps over 123 lazy dogs", "waves at sunset", "hi"] * 8
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=buf, vocab_size=300, model_type="bpe", character_coverage=1.0,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, byte_fallback=True, hard_vocab_limit=False,
        normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
        split_digits=True, minloglevel=2, num_threads=1,
    )
    state = {"model." + k: v.contiguous() for k, v in model.state_dict().items()}
    state["spiece_model"] = torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8)
    path = tmp_path_factory.mktemp("gemma") / "gemma.safetensors"
    save_file(state, str(path))
    return model.eval(), path, buf.getvalue()


def test_gemma_round_trip(gemma_file, tmp_path):
    model, src, sp_model = gemma_file
    dst = tmp_path / "gemma-Q8_0.gguf"
    assert main([str(src), str(dst), "--type", "Q8_0", "--min-elements", "256"]) == 0
    file = GGUFFile(str(dst))
    assert file.architecture == "gemma3" and file.field("gemma3.block_count") == 6
    assert "blk.0.attn_q.weight" in file.infos and "token_embd.weight" in file.infos
    stored = file.tensor("blk.0.attn_norm.weight")  # llama.cpp convention: stored as 1 + w
    assert torch.allclose(stored, model.layers[0].input_layernorm.weight + 1)
    loaded = load_gemma_gguf(str(dst), dtype=torch.float32)
    assert loaded.config == model.config
    assert isinstance(loaded.embed_tokens.weight, QuantizedTensor)
    ids = torch.randint(0, 300, (2, 7), generator=torch.Generator().manual_seed(2))
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, :3] = 0
    dense = {k: v.dequantize_as(torch.float32) if isinstance(v, QuantizedTensor) else v
             for k, v in loaded.state_dict().items()}
    reference = GemmaTextModel(model.config, dtype=torch.float32)
    reference.load_state_dict(dense)
    with torch.no_grad():
        out, expected, exact = loaded(ids, mask), model(ids, mask), reference.eval()(ids, mask)
    assert len(out) == 7
    assert max((a - b).abs().max().item() for a, b in zip(out, exact)) < 1e-5
    assert max(rel(a, b) for a, b in zip(out, expected)) < 0.06  # Q8_0 through 6 random layers
    tokenizer, reference_tokenizer = gemma_tokenizer_from_gguf(str(dst)), GemmaTokenizer.from_bytes(sp_model)
    for text in ("a photo of a cat", "unseen wörds 😀 and 4096 digits", "  spaces  "):
        assert tokenizer.encode(text) == reference_tokenizer.encode(text)


def test_cli_errors(ltx_file, tmp_path, capsys):
    _, src = ltx_file
    dst = tmp_path / "out.gguf"
    dst.write_bytes(b"x")
    assert main([str(src), str(dst)]) == 2
    assert "exists" in capsys.readouterr().err
    junk = tmp_path / "junk.safetensors"
    save_file({"foo.weight": torch.zeros(2, 2)}, str(junk))
    assert main([str(junk), str(tmp_path / "j.gguf")]) == 2
    assert "neither an LTX-2 transformer nor a Gemma" in capsys.readouterr().err
    with pytest.raises(InputError, match="Q3_K"):
        convert(str(src), str(tmp_path / "k.gguf"), "Q3_K")
    with pytest.raises(CheckpointError, match="'ltxv'"):
        _wrong_arch(tmp_path, src)


def _wrong_arch(tmp_path, src):
    dst = tmp_path / "ltx.gguf"
    convert(str(src), str(dst), "Q8_0")
    load_gemma_gguf(str(dst))


def test_community_style_gguf_without_metadata(tmp_path):
    """ComfyUI-GGUF-style file: no config metadata (config from key shapes), text connectors inside."""
    config = TransformerConfig.from_metadata({"transformer": dict(
        LTX_SECTION, num_layers=1, num_attention_heads=1, attention_head_dim=128, audio_num_attention_heads=1,
        audio_attention_head_dim=64, cross_attention_dim=128, audio_cross_attention_dim=64)})
    torch.manual_seed(3)
    model = LTX2Transformer(config, dtype=torch.float32).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.05)
    state = {"model.diffusion_model." + k: v.contiguous() for k, v in model.state_dict().items()}
    state["model.diffusion_model.video_embeddings_connector.learnable_registers"] = torch.randn(128, 128)
    src, dst = tmp_path / "c.safetensors", tmp_path / "c.gguf"
    save_file(state, str(src))
    convert(str(src), str(dst), "Q8_0")
    file = GGUFFile(str(dst))
    assert gguf_metadata(file) == {} and "video_embeddings_connector.learnable_registers" in file.infos
    loaded = load_transformer_gguf(str(dst), dtype=torch.float32)
    assert loaded.config == TransformerConfig.from_state_dict(
        {k[len("model.diffusion_model."):]: v for k, v in state.items() if "connector" not in k})
    assert loaded.config.heads == 1 and loaded.config.head_dim == 128
    video, audio = ltx_inputs()
    video = ModalityInput(video.latent, video.sigma, video.timesteps, video.positions, torch.randn(1, 4, 64))
    audio = ModalityInput(audio.latent, audio.sigma, audio.timesteps, audio.positions, torch.randn(1, 4, 64))
    reference = LTX2Transformer(loaded.config, dtype=torch.float32).eval()  # released-file constants
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        (ref_video, ref_audio), (out_video, out_audio) = reference(video, audio), loaded(video, audio)
    assert rel(out_video, ref_video) < LTX_BOUNDS["Q8_0"] and rel(out_audio, ref_audio) < LTX_BOUNDS["Q8_0"]


@pytest.mark.parametrize("model_type, prefix", [("unigram", True), ("bpe", False), ("bpe", True)])
def test_tokenizer_kind_and_space_prefix_survive_conversion(tmp_path, model_type, prefix):
    import gguf

    from ltx2_core.convert import _tokenizer_fields

    sentences = ["a photo of a cat", "the quick brown fox jumps over lazy dogs", "waves at sunset", "hi"] * 8
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=buf, vocab_size=120, model_type=model_type,
        character_coverage=1.0, pad_id=0, eos_id=1, bos_id=2, unk_id=3, hard_vocab_limit=False,
        add_dummy_prefix=prefix, normalization_rule_name="identity", remove_extra_whitespaces=False,
        minloglevel=2, num_threads=1,
    )  # GGUF carries no normalizer rules: like Gemma's, the vocabulary must not need any
    path = str(tmp_path / "tok.gguf")
    writer = gguf.GGUFWriter(path, arch="gemma3")
    _tokenizer_fields(writer, buf.getvalue())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert GGUFFile(path).field("tokenizer.ggml.model") == ("t5" if model_type == "unigram" else "llama")
    rebuilt, original = gemma_tokenizer_from_gguf(path), GemmaTokenizer.from_bytes(buf.getvalue())
    for text in ("a photo of a cat", "sunset waves", "  spaces  "):
        assert rebuilt.encode(text) == original.encode(text)
