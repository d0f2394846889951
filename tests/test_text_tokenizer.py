"""Gemma tokenizer: identical to transformers' GemmaTokenizer on a tiny trained sentencepiece model."""

import io
import os

import pytest
import torch

from ltx2_core.errors import CheckpointError
from ltx2_core.text import GemmaTokenizer
from ltx2_core.text.tokenizer import find_tokenizer

CORPUS = [
    "The quick brown fox jumps over the lazy dog 12345.",
    "A cat sat on the mat; the dog barked  twice!",
    "Video of a sunset over the ocean, waves crash on the rocks.",
    "Ünïcødé text ✓ and emoji 🙂 here, a camera pans slowly left.",
] * 20

PROMPTS = [
    "The quick brown fox",
    "hello  world 2024 🙂 with trailing space ",
    " leading space and Zebra xylophone!",
    "A very long prompt that certainly needs more than sixteen tokens to be written down in full, so it is cut.",
    "<start_of_turn>user\nhi<end_of_turn>",
]


def train_tiny_spm() -> bytes:
    """A Gemma-like BPE sentencepiece model (byte fallback, no dummy prefix, Gemma's special ids)."""
    import sentencepiece as spm
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=buf, vocab_size=400, model_type="bpe", byte_fallback=True,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, bos_piece="<bos>", eos_piece="<eos>", add_dummy_prefix=False,
        normalization_rule_name="identity", remove_extra_whitespaces=False, split_digits=True, character_coverage=1.0,
        user_defined_symbols=["<mask>", "<start_of_turn>", "<end_of_turn>"], minloglevel=2,
    )
    return buf.getvalue()


@pytest.fixture(scope="module")
def spm_bytes():
    return train_tiny_spm()


@pytest.fixture(scope="module")
def hf_tokenizer(spm_bytes, tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("google.protobuf")
    folder = tmp_path_factory.mktemp("hf_tok")
    (folder / "tokenizer.model").write_bytes(spm_bytes)
    return transformers.GemmaTokenizer.from_pretrained(str(folder), add_bos_token=True)


def test_ids_and_mask_match_transformers(spm_bytes, hf_tokenizer):
    ours = GemmaTokenizer.from_bytes(spm_bytes)
    ids, mask = ours(PROMPTS, max_length=16)
    ref = hf_tokenizer(PROMPTS, padding="max_length", max_length=16, truncation=True, return_tensors="pt")
    assert hf_tokenizer.padding_side == "left"
    assert torch.equal(ids, ref["input_ids"]) and torch.equal(mask, ref["attention_mask"])
    assert ids.dtype == torch.long and mask.sum(1).tolist()[3] == 16  # the long prompt is truncated
    for prompt in PROMPTS:  # unpadded encodings agree token for token
        assert ours.encode(prompt) == hf_tokenizer(prompt)["input_ids"]


def test_default_length_is_1024_left_padded_with_bos(spm_bytes):
    ours = GemmaTokenizer.from_bytes(spm_bytes)
    ids, mask = ours(["a cat"])
    n = int(mask.sum())
    assert ids.shape == (1, 1024) and n >= 2
    assert ids[0, -n].item() == 2  # BOS first
    assert torch.all(ids[0, :-n] == 0) and torch.all(mask[0, :-n] == 0) and torch.all(mask[0, -n:] == 1)
    assert 1 not in ids[0, -n:].tolist()  # no EOS


def test_special_pieces_and_decode(spm_bytes):
    ours = GemmaTokenizer.from_bytes(spm_bytes)
    ids = ours.encode("<start_of_turn>user\nA cat<end_of_turn>", add_bos=False)
    assert ids[0] == ours.processor.piece_to_id("<start_of_turn>")
    assert ids[-1] == ours.processor.piece_to_id("<end_of_turn>")
    assert ours.decode(ours.encode("A cat sat on the mat.")) == "A cat sat on the mat."


def test_constructors_agree(spm_bytes, tmp_path):
    from safetensors.torch import save_file

    reference = GemmaTokenizer.from_bytes(spm_bytes)(PROMPTS, max_length=24)
    tensor = torch.frombuffer(bytearray(spm_bytes), dtype=torch.uint8)
    from_sd = GemmaTokenizer.from_state_dict({"spiece_model": tensor})
    file = tmp_path / "gemma_te.safetensors"
    save_file({"spiece_model": tensor, "model.norm.weight": torch.zeros(4)}, str(file))
    from_embedded = GemmaTokenizer.from_file(str(file))
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.model").write_bytes(spm_bytes)
    from_dir = GemmaTokenizer.from_file(str(tmp_path / "tok"))

    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString(spm_bytes)
    from_vocab = GemmaTokenizer.from_vocab(
        [p.piece for p in proto.pieces], [p.score for p in proto.pieces], [p.type for p in proto.pieces]
    )
    for tok in (from_sd, from_embedded, from_dir, from_vocab):
        ids, mask = tok(PROMPTS, max_length=24)
        assert torch.equal(ids, reference[0]) and torch.equal(mask, reference[1])


def test_missing_tokenizer_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    weights = tmp_path / "gemma.safetensors"
    save_file({"model.norm.weight": torch.zeros(4)}, str(weights))
    assert find_tokenizer(str(weights)) is None
    with pytest.raises(CheckpointError, match="tokenizer.model"):
        GemmaTokenizer.from_file(str(weights))
    with pytest.raises(CheckpointError, match="spiece_model"):
        GemmaTokenizer.from_state_dict({})
    with pytest.raises(CheckpointError, match="not a valid sentencepiece"):
        GemmaTokenizer.from_bytes(b"definitely not a model")
    assert os.path.exists(weights)
