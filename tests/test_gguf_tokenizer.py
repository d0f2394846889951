"""The protobuf-free sentencepiece ModelProto writer/reader used for GGUF vocabularies."""

import io
import sys

import pytest

spm = pytest.importorskip("sentencepiece")

from ltx2_core.errors import CheckpointError  # noqa: E402
from ltx2_core.gguf.tokenizer import decode_model_pieces, encode_model_proto  # noqa: E402
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


def test_bytes_equal_the_protobuf_builder(trained):
    pytest.importorskip("google.protobuf")
    pieces, scores, types = decode_model_pieces(trained)
    assert encode_model_proto(pieces, scores, types) == build_model_proto(pieces, scores, types)


def test_works_without_protobuf(trained, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.protobuf", None)
    monkeypatch.setitem(sys.modules, "sentencepiece.sentencepiece_model_pb2", None)
    pieces, scores, types = decode_model_pieces(trained)
    tokenizer = GemmaTokenizer.from_bytes(encode_model_proto(pieces, scores, types))
    assert tokenizer.encode("a photo of a cat")[0] == 2


def test_inconsistent_or_corrupt_vocabularies():
    with pytest.raises(CheckpointError, match="differ in length"):
        encode_model_proto(["a", "b"], [0.0], None)
    with pytest.raises(CheckpointError):
        decode_model_pieces(b"\x0a\xff\xff\xff\xff\x0f")
