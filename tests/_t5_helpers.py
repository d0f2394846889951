"""Shared builders for the T5 tests: a tiny trained T5-style sentencepiece model."""

import io

CORPUS = [
    "A woman with long brown hair walks along a beach at sunset, waves rolling in.",
    "The camera pans slowly across a city skyline at night, lights flickering.",
    "A red car drives down a winding mountain road surrounded by tall pine trees.",
    "Close-up of a cat's face, its green eyes blinking in soft morning light.",
    "Two people talk in a small cafe; steam rises from their cups of coffee.",
    "An astronaut floats inside a space station, tools drifting around him.",
    "Rain falls on a quiet street, reflections shimmering in the puddles.",
    "A dog runs through a field of tall grass, chasing a bright yellow ball.",
] * 4


def train_t5_spm(vocab_size: int = 128) -> bytes:
    """A T5-like unigram model: pad 0, EOS 1, unk 2, no BOS, nmt_nfkc normalization, dummy prefix."""
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=buf, vocab_size=vocab_size, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2, num_threads=1,
    )
    return buf.getvalue()
