"""Shared builders for the T5 tests: a tiny trained T5-style sentencepiece model."""

from ltx2_core.text.t5 import tiny_spiece_model

CORPUS = (
    "A woman with long brown hair walks along a beach at sunset, waves rolling in.",
    "The camera pans slowly across a city skyline at night, lights flickering.",
    "A red car drives down a winding mountain road surrounded by tall pine trees.",
    "Close-up of a cat's face, its green eyes blinking in soft morning light.",
    "Two people talk in a small cafe; steam rises from their cups of coffee.",
    "An astronaut floats inside a space station, tools drifting around him.",
    "Rain falls on a quiet street, reflections shimmering in the puddles.",
    "A dog runs through a field of tall grass, chasing a bright yellow ball.",
)


def train_t5_spm(vocab_size: int = 128) -> bytes:
    """A T5-like unigram model: pad 0, EOS 1, unk 2, no BOS, nmt_nfkc normalization, dummy prefix."""
    return tiny_spiece_model(vocab_size, CORPUS)
