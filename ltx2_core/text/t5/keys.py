"""T5 encoder tensor names: every layout we read -> ours (transformers' `T5EncoderModel` names).

One declarative table per naming scheme:
- Hugging Face folders (google/t5-v1_1-xxl, PixArt `text_encoder/`) and ComfyUI `t5xxl_fp16` / `t5xxl_fp8_e4m3fn`
  single files already use our names (`shared.weight`, `encoder.block.N.layer.0.SelfAttention.q.weight`, ...);
  `encoder.embed_tokens.weight` is transformers' tied alias of `shared.weight`; ComfyUI-saved CLIP bundles add a
  `t5xxl.transformer.` prefix; full encoder-decoder files carry `decoder.*` / `lm_head.*`, which are dropped.
- llama.cpp / city96 GGUFs (`general.architecture = "t5encoder"`): `token_embd`, `enc.blk.N.attn_q`, ...
"""

import re
from typing import Dict, Iterable, Mapping, Optional

from ...errors import CheckpointError

PREFIXES = ("text_encoders.t5xxl.transformer.", "t5xxl.transformer.", "text_encoder.")  # stripped first
TIED_ALIAS = "encoder.embed_tokens.weight"
DROPPED = ("decoder.", "lm_head.")
MARKERS = ("scaled_fp8",)  # ComfyUI scaled-fp8 marker, consumed by the fp8 packer
QUANT_SUFFIXES = (".scale_weight", ".weight_scale", ".scale_input", ".input_scale", ".comfy_quant", ".weight_scale_2",
                  ".pre_quant_scale")

GGUF_GLOBAL = {"token_embd": "shared", "enc.output_norm": "encoder.final_layer_norm"}
GGUF_BLOCK = {
    "attn_q": "layer.0.SelfAttention.q", "attn_k": "layer.0.SelfAttention.k", "attn_v": "layer.0.SelfAttention.v",
    "attn_o": "layer.0.SelfAttention.o", "attn_rel_b": "layer.0.SelfAttention.relative_attention_bias",
    "attn_norm": "layer.0.layer_norm", "ffn_gate": "layer.1.DenseReluDense.wi_0",
    "ffn_up": "layer.1.DenseReluDense.wi_1", "ffn_down": "layer.1.DenseReluDense.wo", "ffn_norm": "layer.1.layer_norm",
}
_GGUF_BLOCK_RE = re.compile(r"^enc\.blk\.(\d+)\.([a-z_]+)\.(weight|bias)$")
_OUR_RE = re.compile(r"^(shared\.weight|encoder\.final_layer_norm\.weight|encoder\.block\.\d+\.layer\.[01]\..+)$")


def t5_key(key: str) -> Optional[str]:
    """Our name for a safetensors key (None: not part of the encoder, e.g. the decoder or the tied alias)."""
    for prefix in PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    if key == TIED_ALIAS or key.startswith(DROPPED):
        return None
    return key if _OUR_RE.match(key) else None


def gguf_t5_key(name: str) -> Optional[str]:
    """Our name for a llama.cpp T5 tensor name (None: not an encoder tensor)."""
    base, _, suffix = name.rpartition(".")
    if base in GGUF_GLOBAL:
        return f"{GGUF_GLOBAL[base]}.{suffix}"
    match = _GGUF_BLOCK_RE.match(name)
    if match and match.group(2) in GGUF_BLOCK:
        return f"encoder.block.{match.group(1)}.{GGUF_BLOCK[match.group(2)]}.{match.group(3)}"
    return None


def t5_to_gguf_name(key: str) -> str:
    """The llama.cpp name of one of our keys (inverse of `gguf_t5_key`, used to write test files)."""
    base, _, suffix = key.rpartition(".")
    top = {ours: theirs for theirs, ours in GGUF_GLOBAL.items()}
    if base in top:
        return f"{top[base]}.{suffix}"
    block = {ours: theirs for theirs, ours in GGUF_BLOCK.items()}
    parts = base.split(".", 3)
    if len(parts) == 4 and parts[:2] == ["encoder", "block"] and parts[3] in block:
        return f"enc.blk.{parts[2]}.{block[parts[3]]}.{suffix}"
    raise CheckpointError(f"T5 key {key!r} has no llama.cpp name; is this a T5 encoder?")


def is_gguf_layout(keys: Iterable[str]) -> bool:
    return any(k.startswith(("enc.blk.", "token_embd.")) for k in keys)


def t5_state_dict(tensors: Mapping) -> Dict:
    """Our-named encoder tensors of any layout above; `shared.weight` taken from the tied alias if only that is
    present; quantization scales and markers kept under their (renamed) names for the fp8 packer."""
    if is_gguf_layout(tensors):
        return {ours: v for k, v in tensors.items() if (ours := gguf_t5_key(k)) is not None}
    out = {}
    for key, value in tensors.items():
        if key in MARKERS:
            out[key] = value
            continue
        suffix = next((s for s in QUANT_SUFFIXES if key.endswith(s)), None)
        if suffix is None:
            ours = t5_key(key)
            if ours is not None:
                out[ours] = value
            continue
        layer = t5_key(key[: -len(suffix)] + ".weight")  # the scale's layer, renamed
        if layer is not None:
            out[layer[: -len(".weight")] + suffix] = value
    alias = next((k for k in tensors if k.endswith(TIED_ALIAS) and not k.startswith(DROPPED)), None)
    if "shared.weight" not in out and alias is not None:
        out["shared.weight"] = tensors[alias]
    return out
