"""The one rename table of the transformer's checkpoint keys.

Our module names ARE the official names (the official single-file checkpoint stores them under
`model.diffusion_model.`; ComfyUI uses the same names, with or without that prefix). diffusers
renames some path segments; `DIFFUSERS_SEGMENTS` maps each of them to the official segment.
"""

from typing import Dict, Mapping, TypeVar

from ..errors import CheckpointError

V = TypeVar("V")

# Prefixes stripped from transformer keys (official single file; ComfyUI / LoRA-style exports).
TRANSFORMER_PREFIXES = ("model.diffusion_model.", "diffusion_model.")
# Sub-trees inside `model.diffusion_model.` that belong to the text path, not to the transformer.
TEXT_PATH_PREFIXES = ("video_embeddings_connector.", "audio_embeddings_connector.")
# Other components of the official single file (ignored by the transformer loader).
OTHER_COMPONENT_PREFIXES = ("vae.", "audio_vae.", "vocoder.", "text_embedding_projection.")

# diffusers segment -> official segment (whole dotted path segments only).
DIFFUSERS_SEGMENTS: Dict[str, str] = {
    "proj_in": "patchify_proj",
    "audio_proj_in": "audio_patchify_proj",
    "time_embed": "adaln_single",
    "audio_time_embed": "audio_adaln_single",
    "prompt_adaln": "prompt_adaln_single",
    "audio_prompt_adaln": "audio_prompt_adaln_single",
    "av_cross_attn_video_scale_shift": "av_ca_video_scale_shift_adaln_single",
    "av_cross_attn_audio_scale_shift": "av_ca_audio_scale_shift_adaln_single",
    "av_cross_attn_video_a2v_gate": "av_ca_a2v_gate_adaln_single",
    "av_cross_attn_audio_v2a_gate": "av_ca_v2a_gate_adaln_single",
    "video_a2v_cross_attn_scale_shift_table": "scale_shift_table_a2v_ca_video",
    "audio_a2v_cross_attn_scale_shift_table": "scale_shift_table_a2v_ca_audio",
    "norm_q": "q_norm",
    "norm_k": "k_norm",
}
OFFICIAL_SEGMENTS: Dict[str, str] = {official: diffusers for diffusers, official in DIFFUSERS_SEGMENTS.items()}
# Keys that only a diffusers-named transformer has.
_DIFFUSERS_MARKERS = ("proj_in.weight", "time_embed.linear.weight", "transformer_blocks.0.attn1.norm_q.weight")


def _rename_segments(key: str, table: Mapping[str, str]) -> str:
    return ".".join(table.get(part, part) for part in key.split("."))


def diffusers_to_official(key: str) -> str:
    return _rename_segments(key, DIFFUSERS_SEGMENTS)


def official_to_diffusers(key: str) -> str:
    return _rename_segments(key, OFFICIAL_SEGMENTS)


def detect_key_format(keys) -> str:
    """'official' (model.diffusion_model.*), 'comfyui' (official names, no/other prefix) or 'diffusers'."""
    keys = list(keys)
    if any(k.startswith(TRANSFORMER_PREFIXES[0]) for k in keys):
        return "official"
    stripped = {_strip_prefix(k) for k in keys}
    if any(marker in stripped for marker in _DIFFUSERS_MARKERS):
        return "diffusers"
    return "comfyui"


def _strip_prefix(key: str) -> str:
    for prefix in TRANSFORMER_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def transformer_state_dict_from(state_dict: Mapping[str, V]) -> Dict[str, V]:
    """Only the transformer's entries of any supported checkpoint layout, under official names.

    Accepts the official single file (other components and the text connectors are dropped),
    transformer-only files with ComfyUI/official names (optionally `diffusion_model.`-prefixed) and
    diffusers-named files. Values are passed through untouched (tensors, GGUF tensors, shapes).
    Also keeps `<key>.weight_scale`-style siblings of transformer keys (FP8 files).
    """
    fmt = detect_key_format(state_dict.keys())
    out: Dict[str, V] = {}
    for key, value in state_dict.items():
        if fmt == "official":
            if not key.startswith(TRANSFORMER_PREFIXES[0]):
                continue
            key = key[len(TRANSFORMER_PREFIXES[0]):]
        else:
            if key.startswith(OTHER_COMPONENT_PREFIXES):
                continue
            key = _strip_prefix(key)
        if key.startswith(TEXT_PATH_PREFIXES):
            continue
        if fmt == "diffusers":
            key = diffusers_to_official(key)
        if key in out:
            raise CheckpointError(f"The checkpoint holds the transformer key {key!r} twice (under two prefixes). "
                                  "Re-export it with one naming scheme.")
        out[key] = value
    if not out:
        raise CheckpointError("The checkpoint contains no LTX-2 transformer weights (no 'model.diffusion_model.' "
                              "keys and no transformer keys). Pick the LTX-2 model file.")
    return out
