"""Tensor names in GGUF files -> our state-dict keys, and back (one declarative table per model).

LTX-2 transformer (`general.architecture = "ltxv"`): community files (ComfyUI-GGUF's converter) use
the official / ComfyUI names with the `model.diffusion_model.` prefix stripped, e.g.
`transformer_blocks.0.attn1.to_q.weight`; they may also carry the text connectors
(`video_embeddings_connector.*`). Names need no renaming: `ltx2_core.transformer.keys` already
selects the transformer's entries of any layout. LTX-Video 0.9.x GGUFs (city96's ComfyUI-GGUF and our
converter) use the same architecture name and bare official names; `ltx2_core.ltxv.detect.model_family`
tells the two families apart by their keys and `ltx2_core.ltxv.load_ltxv_transformer` loads them.

Gemma 3 (`general.architecture = "gemma3"`, llama.cpp naming): `token_embd`, `blk.N.attn_q`, ...
mapped to the names of `ltx2_core.text.gemma.GemmaTextModel` (`embed_tokens`, `layers.N.self_attn.q_proj`,
...) by the table in `ltx2_core.text.keys` (`gguf_key`, which also removes llama.cpp's +1 on norm
weights); this module adds the inverse used by the converter, which adds `GEMMA_NORM_SHIFT` back.
"""

from typing import Optional

from ..errors import CheckpointError

LTXV_ARCH = "ltxv"
GEMMA_ARCH = "gemma3"
LTX_PREFIX = "model.diffusion_model."
LTX_TEXT_PROJECTION = "text_embedding_projection."
GEMMA_NORM_SHIFT = 1.0

def gemma_to_gguf_name(key: str) -> str:
    """The llama.cpp tensor name of one of our Gemma keys (inverse of `ltx2_core.text.keys.gguf_key`)."""
    from ..text.keys import GGUF_GLOBAL_NAMES, GGUF_LAYER_NAMES

    base, _, suffix = key.rpartition(".")
    top = {ours: theirs for theirs, ours in GGUF_GLOBAL_NAMES.items()}
    layer = {ours: theirs for theirs, ours in GGUF_LAYER_NAMES.items()}
    if base in top:
        return f"{top[base]}.{suffix}"
    parts = base.split(".", 2)
    if len(parts) == 3 and parts[0] == "layers" and parts[1].isdigit() and parts[2] in layer:
        return f"blk.{parts[1]}.{layer[parts[2]]}.{suffix}"
    raise CheckpointError(f"Gemma key {key!r} has no llama.cpp name; is this a Gemma 3 text model?")


def ltx_key_from_source(key: str, has_prefix: bool) -> Optional[str]:
    """GGUF tensor name for a key of an LTX-2 safetensors file (None: not part of the diffusion model).

    As ComfyUI-GGUF does, files with `model.diffusion_model.` keys (`has_prefix`) keep those
    (transformer and text connectors), prefix stripped; files without it keep every key. The text
    projection (`text_embedding_projection.*`) is kept too, so one GGUF can also feed the text encoder.
    """
    if not has_prefix or key.startswith(LTX_TEXT_PROJECTION):
        return key
    return key[len(LTX_PREFIX):] if key.startswith(LTX_PREFIX) else None
