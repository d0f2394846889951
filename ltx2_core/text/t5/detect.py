"""Recognising T5 encoder files, and one-line messages for files given to the wrong loader."""

from typing import Iterable, Optional

from ...errors import CheckpointError
from .keys import gguf_t5_key, is_gguf_layout, t5_key

SIGNATURE = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"


def is_t5_checkpoint(keys: Iterable[str]) -> bool:
    """Whether tensor names (safetensors of any layout we read, or llama.cpp GGUF names) are a T5 encoder's:
    the block-0 relative attention bias is its signature. For other loaders to refuse T5 files."""
    keys = list(keys)
    rename = gguf_t5_key if is_gguf_layout(keys) else t5_key
    return any(rename(k) == SIGNATURE for k in keys)


def t5_misuse_message(name: str) -> str:
    """The line another loader (e.g. the transformer's) raises for a T5 file."""
    return (f"{name} is a T5 text encoder, not a diffusion-model checkpoint: load it with the T5 text-encoder "
            "loader (ltx2_core.text.t5.load_t5_encoder / the T5 text encoder node).")


def _other_model(keys) -> Optional[str]:
    if any(k.startswith(("model.diffusion_model.", "transformer_blocks.", "adaln_single.", "scale_shift_table"))
           for k in keys):
        return "an LTX diffusion-model checkpoint"
    if any(".layers." in k and ("self_attn" in k or "mlp" in k) for k in keys) or any(
            k.startswith("blk.") for k in keys):
        return "a Gemma / decoder-only language model"
    if any(k.startswith(("encoder.", "decoder.", "vae.", "audio_vae.")) or "conv" in k for k in keys):
        return "a VAE or another model"
    return None


def check_t5_keys(keys: Iterable[str], name: str) -> None:
    """Raise one line when `keys` are not a T5 encoder's, naming what the file looks like instead."""
    keys = list(keys)
    if is_t5_checkpoint(keys):
        return
    kind = _other_model(keys)
    what = f"it looks like {kind}" if kind else "it has no T5 encoder tensors"
    raise CheckpointError(
        f"{name} is not a T5 text encoder ({what}). Give the T5-XXL encoder file (t5xxl_fp16.safetensors, a "
        "t5-v1_1-xxl GGUF or the text_encoder/ folder) to the T5 loader."
    )
