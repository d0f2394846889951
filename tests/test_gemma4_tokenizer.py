"""Gemma 4 tokenizer from an embedded tokenizer.json: equality with transformers' fast tokenizer driven the way
ltx-core drives it (truncate, prepend a missing BOS, left-pad), on a mixed corpus. The tokenizer.json is trained
here on the corpus itself (no downloads)."""

import pytest
import torch

from ltx2_core.errors import CheckpointError
from ltx2_core.text.gemma4.tokenizer import Gemma4Tokenizer

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

CORPUS = [
    "A red fox jumps over the lazy dog at dawn.",
    "  Leading and trailing spaces  ",
    "Ünïcödé façade — naïve café, 東京の夜景, Привет мир, مرحبا",
    "emoji 🎬🦊 and numbers 1234567890 3.14159",
    "tabs\tand\nnewlines\r\nmixed",
    "already written: <bos> and <eos>",
    "",
    "x" * 300,
    "The camera pans slowly across a neon-lit street; rain falls, reflections shimmer.",
]


def _tokenizer_json(with_bos_post_processor: bool) -> str:
    from tokenizers import Tokenizer, decoders, models, normalizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials + [f"<0x{b:02X}>" for b in range(256)], show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 3, trainer=trainer)
    if with_bos_post_processor:
        tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    return tok.to_str()


def _reference(json_text: str, prompts, max_length: int):
    """transformers' fast tokenizer used as ltx-core's LTXGemmaTokenizer uses it."""
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(tokenizer_object=tokenizers.Tokenizer.from_str(json_text), bos_token="<bos>",
                                 eos_token="<eos>", pad_token="<pad>", unk_token="<unk>", padding_side="left")
    rows, masks = [], []
    for text in prompts:
        ids = hf(text.strip(), padding=False, truncation=True, max_length=max_length)["input_ids"]
        if not ids or ids[0] != hf.bos_token_id:
            ids = [hf.bos_token_id, *ids][:max_length]
        padded = hf.pad({"input_ids": [ids]}, padding="max_length", max_length=max_length, return_tensors="pt",
                        return_attention_mask=True)
        rows.append(padded["input_ids"][0])
        masks.append(padded["attention_mask"][0])
    return torch.stack(rows), torch.stack(masks)


@pytest.mark.parametrize("with_bos", [False, True])
@pytest.mark.parametrize("max_length", [16, 128])
def test_matches_transformers_on_mixed_corpus(with_bos, max_length):
    text = _tokenizer_json(with_bos)
    ours = Gemma4Tokenizer.from_bytes(text.encode("utf-8"), max_length=max_length)
    ids, mask = ours(CORPUS)
    ref_ids, ref_mask = _reference(text, CORPUS, max_length)
    assert ids.shape == (len(CORPUS), max_length)
    assert torch.equal(ids, ref_ids) and torch.equal(mask, ref_mask)
    first = mask.argmax(1)
    assert all(ids[row, first[row]].item() == 2 for row in range(len(CORPUS)))  # every row starts with BOS
    # ... exactly one (row 5 writes "<bos>" in its text, which is its own token later on)
    assert all(ids[row, first[row] + 1].item() != 2 for row in range(len(CORPUS)) if mask[row].sum() > 1)


def test_decode_round_trips_text():
    ours = Gemma4Tokenizer.from_bytes(_tokenizer_json(False).encode("utf-8"))
    for text in CORPUS[:5]:
        assert ours.decode(ours.encode(text)) == text.strip()


def test_bad_tokenizer_json_is_one_line():
    with pytest.raises(CheckpointError, match="tokenizer.json could not be read"):
        Gemma4Tokenizer.from_bytes(b"{not json")
