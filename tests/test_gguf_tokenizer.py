"""The protobuf-free sentencepiece ModelProto writer/reader (text.spm_model): GGUF vocabularies, from_vocab, demo."""

import io
import sys

import numpy as np
import pytest

import sentencepiece as spm  # a runtime dependency: never skipped

from ltx2_core.errors import CheckpointError  # noqa: E402
from ltx2_core.text.spm_model import decode_model_pieces, encode_model_proto  # noqa: E402
from ltx2_core.text.tokenizer import GemmaTokenizer, build_model_proto  # noqa: E402

SENTENCES = ["a photo of a cat", "the quick brown fox jumps over 123 lazy dogs", "waves at sunset", "hi there"] * 8


@pytest.fixture(scope="module")
def trained():
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES), model_writer=buf, vocab_size=300, model_type="bpe", character_coverage=1.0,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, byte_fallback=True, hard_vocab_limit=False,
        normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
        split_digits=True, minloglevel=2, num_threads=1, control_symbols=["<start_of_turn>"],
        pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
    )
    return buf.getvalue()


def test_decode_reads_the_vocabulary(trained):
    pieces, scores, types = decode_model_pieces(trained)
    processor = spm.SentencePieceProcessor(model_proto=trained)
    assert len(pieces) == processor.get_piece_size()
    assert pieces[:4] == ["<pad>", "<eos>", "<bos>", "<unk>"] and types[3] == 2 and types[0] == 3
    assert all(processor.id_to_piece(i) == p for i, p in enumerate(pieces))
    assert all(abs(processor.get_score(i) - s) < 1e-6 for i, s in enumerate(scores))
    assert types.count(6) == 256  # byte-fallback pieces


def test_rebuilt_model_encodes_like_the_original(trained):
    pieces, scores, types = decode_model_pieces(trained)
    rebuilt = GemmaTokenizer.from_bytes(encode_model_proto(pieces, scores, types))
    original = GemmaTokenizer.from_bytes(trained)
    for text in SENTENCES[:4] + ["unseen wörds 😀 4096", "<start_of_turn>user hi", "  double  spaces "]:
        assert rebuilt.encode(text) == original.encode(text)


def _protobuf_model(pieces, scores, types) -> bytes:
    """The same model built with protobuf (the oracle; optional, only the dev install has protobuf)."""
    pytest.importorskip("google.protobuf")
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    for piece, score, kind in zip(pieces, scores, types):
        entry = proto.pieces.add()
        entry.piece, entry.score, entry.type = piece, score, kind
    spec = proto.trainer_spec
    spec.model_type, spec.vocab_size, spec.split_digits = pb.TrainerSpec.BPE, len(pieces), True
    spec.byte_fallback, spec.unk_id, spec.bos_id, spec.eos_id, spec.pad_id = True, 3, 2, 1, 0
    norm = proto.normalizer_spec
    norm.name, norm.add_dummy_prefix, norm.remove_extra_whitespaces = "identity", False, False
    norm.escape_whitespaces = True
    return proto.SerializeToString()


def test_bytes_equal_the_protobuf_builder(trained):
    pieces, scores, types = decode_model_pieces(trained)
    oracle = _protobuf_model(pieces, scores, types)
    assert encode_model_proto(pieces, scores, types) == oracle
    assert build_model_proto(pieces, scores, types) == oracle


def test_works_without_protobuf(trained, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.protobuf", None)
    monkeypatch.setitem(sys.modules, "sentencepiece.sentencepiece_model_pb2", None)
    pieces, scores, types = decode_model_pieces(trained)
    tokenizer = GemmaTokenizer.from_bytes(encode_model_proto(pieces, scores, types))
    assert tokenizer.encode("a photo of a cat")[0] == 2
    from_vocab = GemmaTokenizer.from_vocab(pieces, scores, types)
    assert from_vocab.encode("a photo of a cat") == tokenizer.encode("a photo of a cat")
    from ltx2_core.pipeline.demo import demo_components

    demo = demo_components().text_encoder.tokenizer
    piece = demo.processor.piece_to_id
    assert demo.encode("ab", add_bos=True) == [demo.bos_id, piece("a"), piece("b")]


def test_inconsistent_or_corrupt_vocabularies():
    with pytest.raises(CheckpointError, match="differ in length"):
        encode_model_proto(["a", "b"], [0.0], None)
    with pytest.raises(CheckpointError):
        decode_model_pieces(b"\x0a\xff\xff\xff\xff\x0f")


@pytest.mark.parametrize("kind,model_type,dummy_prefix", [("llama", "bpe", False), ("t5", "unigram", True)])
def test_gguf_vocabulary_without_byte_pieces(tmp_path, kind, model_type, dummy_prefix):
    """A GGUF vocabulary with no <0xNN> byte pieces (a tokenizer trained without byte fallback, T5's) rebuilds:
    byte fallback follows the vocabulary (sentencepiece refuses byte_fallback without the 256 byte pieces)."""
    import gguf
    from ltx2_core.gguf import gemma_tokenizer_from_gguf

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES), model_writer=buf, vocab_size=80, model_type=model_type,
        character_coverage=1.0, pad_id=0, eos_id=1, bos_id=2, unk_id=3, byte_fallback=False, hard_vocab_limit=False,
        normalization_rule_name="identity", add_dummy_prefix=dummy_prefix, remove_extra_whitespaces=False,
        minloglevel=2, num_threads=1, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
    )
    pieces, scores, types = decode_model_pieces(buf.getvalue())
    assert 6 not in types
    path = str(tmp_path / f"{kind}.gguf")
    writer = gguf.GGUFWriter(path, arch="gemma3")
    writer.add_string("tokenizer.ggml.model", kind)
    writer.add_array("tokenizer.ggml.tokens", pieces)
    writer.add_array("tokenizer.ggml.scores", scores)
    writer.add_array("tokenizer.ggml.token_type", types)
    for name, index in (("padding", 0), ("eos", 1), ("bos", 2), ("unknown", 3)):
        writer.add_uint32(f"tokenizer.ggml.{name}_token_id", index)
    writer.add_bool("tokenizer.ggml.add_space_prefix", dummy_prefix)
    writer.add_tensor("token_embd.weight", np.zeros((len(pieces), 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    rebuilt = gemma_tokenizer_from_gguf(path)
    original = GemmaTokenizer.from_bytes(buf.getvalue())
    assert rebuilt.vocab_size == len(pieces)
    assert (rebuilt.pad_id, rebuilt.eos_id, rebuilt.bos_id) == (0, 1, 2)
    for text in SENTENCES[:4] + ["unseen wörds 4096", "  double  spaces "]:
        assert rebuilt.encode(text) == original.encode(text)
