"""The one rename table for Gemma 3 weights: every known file layout -> our `GemmaTextModel` names.

Our names are transformers' `Gemma3TextModel` names: `embed_tokens.weight`, `norm.weight`,
`layers.N.{self_attn.{q,k,v,o}_proj, self_attn.{q,k}_norm, mlp.{gate,up,down}_proj,
input_layernorm, post_attention_layernorm, pre_feedforward_layernorm, post_feedforward_layernorm}.weight`.

Layouts:
- Hugging Face `Gemma3ForConditionalGeneration` shards: `language_model.model.*` (transformers 4) or
  `model.language_model.*` (transformers 5); vision tower, projector and tied LM head are skipped.
- ComfyUI single files and `Gemma3ForCausalLM`: `model.*` (plus `spiece_model`, the tokenizer bytes).
- llama.cpp GGUF (`gemma3` arch): `blk.N.attn_q.weight` etc.; its norm weights are stored plus one.
"""

import re
from typing import Dict, Mapping, Optional, Tuple

import torch

from ..errors import CheckpointError

# Prefixes in front of our names, most specific first.
LANGUAGE_MODEL_PREFIXES = ("language_model.model.", "model.language_model.", "model.", "")
# Tensors that belong to the file but not to the text decoder.
SKIPPED_PREFIXES = (
    "vision_tower.", "multi_modal_projector.", "model.vision_tower.", "model.multi_modal_projector.",
    "language_model.lm_head.", "lm_head.", "spiece_model",
)

# llama.cpp per-block names -> our per-layer names.
GGUF_LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "post_ffw_norm": "post_feedforward_layernorm",
}
GGUF_GLOBAL_NAMES = {"token_embd": "embed_tokens", "output_norm": "norm"}
# GGUF tensors without a place in the text decoder (an untied output head, RoPE tables).
GGUF_SKIPPED = ("output.weight", "rope_freqs.weight")
_GGUF_BLOCK = re.compile(r"^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$")
_OUR_KEY = re.compile(r"^(embed_tokens|norm)\.weight$|^layers\.\d+\.")


def is_norm_key(key: str) -> bool:
    """Whether one of our keys is an RMSNorm weight (zero-centred in HF files, stored +1 by llama.cpp)."""
    return key.endswith("norm.weight")


def gemma_key(key: str) -> Optional[str]:
    """Our name for a safetensors key (any HF / ComfyUI layout), or None when the tensor is not ours."""
    if key.startswith(SKIPPED_PREFIXES):
        return None
    for prefix in LANGUAGE_MODEL_PREFIXES:
        if key.startswith(prefix) and _OUR_KEY.match(key[len(prefix):]):
            return key[len(prefix):]
    return None


def gguf_key(name: str) -> Optional[str]:
    """Our name for a llama.cpp tensor name, or None for tensors the text decoder does not use."""
    if name in GGUF_SKIPPED:
        return None
    stem, _, suffix = name.rpartition(".")
    if stem in GGUF_GLOBAL_NAMES:
        return f"{GGUF_GLOBAL_NAMES[stem]}.{suffix}"
    match = _GGUF_BLOCK.match(name)
    if match and match.group(2) in GGUF_LAYER_NAMES:
        return f"layers.{match.group(1)}.{GGUF_LAYER_NAMES[match.group(2)]}.{match.group(3)}"
    raise CheckpointError(f"Unknown tensor {name!r} in the Gemma GGUF file: is it a gemma3 text model?")


def gemma_state_dict(tensors: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our-named tensors from a safetensors-style mapping; fails if two source keys map to one name."""
    out: Dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        name = gemma_key(key)
        if name is None:
            continue
        if name in out:
            raise CheckpointError(f"The Gemma weights contain {name!r} twice (two layouts mixed in one folder?).")
        out[name] = value
    if "embed_tokens.weight" not in out:
        raise CheckpointError(
            "No Gemma 3 language-model weights found (no embed_tokens). Select a Gemma 3 12B text encoder file."
        )
    return out


def gemma_state_dict_from_gguf(tensors: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our-named tensors from GGUF names; norm weights get llama.cpp's +1 removed (they are plain float tensors)."""
    out: Dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        key = gguf_key(name)
        if key is None:
            continue
        if is_norm_key(key):
            value = _unshift_norm(name, value)  # float32, as llama.cpp stores norms
        out[key] = value
    if "embed_tokens.weight" not in out:
        raise CheckpointError("The GGUF file has no token_embd tensor: it is not a Gemma 3 text model.")
    return out


def _unshift_norm(name: str, value: torch.Tensor) -> torch.Tensor:
    """llama.cpp stores Gemma norm weights as 1 + w; quantized tensor subclasses dequantize on arithmetic."""
    if not torch.is_floating_point(value):
        raise CheckpointError(f"GGUF norm tensor {name!r} is not a float tensor ({value.dtype}).")
    return value.float() - 1.0


def split_gemma_keys(keys) -> Tuple[list, list]:
    """(keys the decoder loads, keys skipped) of a safetensors key list; for diagnostics and partial reads."""
    kept, skipped = [], []
    for key in keys:
        (kept if gemma_key(key) is not None else skipped).append(key)
    return kept, skipped
