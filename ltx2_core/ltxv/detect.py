"""Which LTX model family a checkpoint holds, from its key names (and the official `config` metadata).

`model_family(keys, metadata)` -> "ltx-2" (LTX-2 / LTX-2.3 audio-video), "ltx-2.5" (newer LTX-2.5+
transformers, not loadable yet), "ltx-video" (LTX-Video 0.9.x, video only) or None (no LTX
transformer: e.g. a T5 or Gemma text encoder, a VAE alone).
"""

from typing import Iterable, Mapping, Optional

_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "transformer.")


def _strip(key: str) -> str:
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def model_family(keys: Iterable[str], metadata: Optional[Mapping] = None) -> Optional[str]:
    """The family of a checkpoint given its keys (any layout: official, ComfyUI, diffusers, GGUF names)."""
    names = {_strip(k) for k in keys}
    if any(k.startswith(("audio_patchify_proj.", "audio_proj_in.")) for k in names):
        return "ltx-2"
    if "keyframes_abs_pos_embedding" in names:
        return "ltx-2.5"
    video = any(k.startswith(("patchify_proj.", "proj_in.")) for k in names)
    blocks = any(k.startswith("transformer_blocks.0.attn1.") for k in names)
    if video and blocks:
        if "caption_projection.linear_1.weight" in names or _metadata_is_ltxv(metadata):
            return "ltx-video"
        return "ltx-2.5" if "transformer_blocks.0.ff.net.0.proj.bias" not in names else "ltx-video"
    if _metadata_is_ltxv(metadata) and blocks:
        return "ltx-video"
    return None


def _metadata_is_ltxv(metadata: Optional[Mapping]) -> bool:
    section = (metadata or {}).get("transformer") if isinstance(metadata, Mapping) else None
    return isinstance(section, Mapping) and section.get("_class_name") == "Transformer3DModel"
