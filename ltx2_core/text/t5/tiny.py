"""Tiny random T5 encoders written in the layouts users have (for tests, demos and other loaders' tests)."""

import io
import json
import os
from typing import Optional, Sequence

import torch

from ...atomic import atomic_output
from .config import T5Config
from .model import T5Encoder


def tiny_t5(config: Optional[T5Config] = None, seed: int = 0, dtype=torch.float32) -> T5Encoder:
    """A T5Encoder with random weights (norm weights away from 1 so they matter)."""
    config = config or T5Config.tiny()
    generator = torch.Generator().manual_seed(seed)
    model = T5Encoder(config, dtype=dtype)
    with torch.no_grad():
        for name, param in model.named_parameters():
            scale = 0.2 if "layer_norm" in name else 0.5
            base = 1.0 if "layer_norm" in name else 0.0
            param.copy_(base + scale * torch.randn(param.shape, generator=generator, dtype=torch.float64))
    return model


def save_hf_folder(model: T5Encoder, folder: str, shards: int = 1) -> str:
    """An HF `text_encoder/`-style folder: config.json + model.safetensors (or `shards` shards + index)."""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    with atomic_output(os.path.join(folder, "config.json")) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(model.config.to_hf_dict(), handle)
    keys = sorted(state)
    if shards <= 1:
        with atomic_output(os.path.join(folder, "model.safetensors")) as tmp:
            save_file(state, tmp, metadata={"format": "pt"})
        return folder
    weight_map = {}
    for index in range(shards):
        name = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        part = keys[index::shards]
        weight_map.update({k: name for k in part})
        with atomic_output(os.path.join(folder, name)) as tmp:
            save_file({k: state[k] for k in part}, tmp, metadata={"format": "pt"})
    with atomic_output(os.path.join(folder, "model.safetensors.index.json")) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"metadata": {}, "weight_map": weight_map}, handle)
    return folder


TINY_CORPUS = (
    "A woman with long brown hair walks along a beach at sunset, waves rolling in.",
    "The camera pans slowly across a city skyline at night, lights flickering.",
    "A red car drives down a winding mountain road surrounded by tall pine trees.",
    "Close-up of a cat's face, its green eyes blinking in soft morning light.",
)


def tiny_spiece_model(vocab_size: int = 96, corpus: Sequence[str] = TINY_CORPUS) -> bytes:
    """A small T5-style sentencepiece model (unigram; pad 0, EOS 1, unk 2, no BOS; nmt_nfkc), trained here."""
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(corpus) * 4), model_writer=buf, vocab_size=vocab_size, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2, num_threads=1,
    )
    return buf.getvalue()


def save_tiny_pipeline(folder: str, config: Optional[T5Config] = None, seed: int = 0) -> str:
    """`folder/text_encoder/` (random tiny T5, HF layout) and `folder/tokenizer/spiece.model`, as in a
    diffusers / PixArt pipeline folder; returns the text_encoder folder (what `load_t5_encoder` takes)."""
    text_encoder = os.path.join(folder, "text_encoder")
    save_hf_folder(tiny_t5(config, seed=seed), text_encoder)
    os.makedirs(os.path.join(folder, "tokenizer"), exist_ok=True)
    with atomic_output(os.path.join(folder, "tokenizer", "spiece.model")) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(tiny_spiece_model())
    return text_encoder
