"""The one rename table of LTX-Video transformer keys.

Our module names are the official ones. Layouts accepted:
- official single file: `model.diffusion_model.<name>` next to `vae.*` (the VAE, ignored here);
- ComfyUI / city96 GGUF / transformer-only files: the official names, bare or `diffusion_model.`-prefixed;
- diffusers `LTXVideoTransformer3DModel`: a few renamed path segments (`DIFFUSERS_SEGMENTS`).
Values pass through untouched (tensors, GGUF tensors, shapes).
"""

from typing import Dict, Mapping, TypeVar

from ...errors import CheckpointError

V = TypeVar("V")

PREFIXES = ("model.diffusion_model.", "diffusion_model.", "transformer.")
OTHER_COMPONENTS = ("vae.", "text_encoders.", "text_encoder.", "conditioner.")
# diffusers segment -> official segment (whole dotted path segments only).
DIFFUSERS_SEGMENTS: Dict[str, str] = {
    "proj_in": "patchify_proj",
    "time_embed": "adaln_single",
    "norm_q": "q_norm",
    "norm_k": "k_norm",
}
OFFICIAL_SEGMENTS: Dict[str, str] = {official: diffusers for diffusers, official in DIFFUSERS_SEGMENTS.items()}


def _rename(key: str, table: Mapping[str, str]) -> str:
    return ".".join(table.get(part, part) for part in key.split("."))


def official_to_diffusers(key: str) -> str:
    return _rename(key, OFFICIAL_SEGMENTS)


def diffusers_to_official(key: str) -> str:
    return _rename(key, DIFFUSERS_SEGMENTS)


def strip_prefix(key: str) -> str:
    for prefix in PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def ltxv_state_dict_from(state_dict: Mapping[str, V]) -> Dict[str, V]:
    """The transformer entries of any accepted layout, under official names (prefix stripped).

    In a file with `model.diffusion_model.` keys only those count (the rest is VAE / text encoder).
    Scale siblings of fp8 weights (`<name>.weight_scale`, ...) are kept with their layer.
    """
    official = any(k.startswith(PREFIXES[0]) for k in state_dict)
    out: Dict[str, V] = {}
    for key, value in state_dict.items():
        if official and not key.startswith(PREFIXES[0]):
            continue
        if not official and key.startswith(OTHER_COMPONENTS):
            continue
        name = diffusers_to_official(strip_prefix(key))
        if name in out:
            raise CheckpointError(f"The checkpoint holds the transformer key {name!r} twice (under two names). "
                                  "Re-export it with one naming scheme.")
        out[name] = value
    if not out:
        raise CheckpointError("The checkpoint has no LTX-Video transformer weights. Pick the LTX-Video model file "
                              "(ltx-video-2b-*, ltxv-2b-*, ltxv-13b-*).")
    return out
