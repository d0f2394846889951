"""Which model family (LTX-2 or LTX-Video 0.9.x) a file in a model folder holds, and the one-line
refusals of nodes that only make sense for one family.

One loader per folder: the loaders read a file's tensor names (and `config` metadata) first and build
the family's network; every network carries its family (`host.Network.family`) so later nodes can
dispatch on it or refuse it with a message naming the node to use instead.
"""

from typing import Dict, Iterable, Optional, Tuple

LTX2 = "ltx-2"
LTXV = "ltx-video"
ANY = "any"  # shared architecture (the latent upsamplers): usable with either family
NAMES = {LTX2: "LTX-2", LTXV: "LTX-Video 0.9.x", ANY: "LTX"}

# 0.9.0-style VAE block names (the LTX-2 VAE has only the `*_res` variants).
_LTXV_ONLY_BLOCKS = {"res_x_y", "compress_all", "compress_time", "compress_space"}


def read_names(path: str) -> Tuple[list, Optional[dict]]:
    """(tensor names, parsed `config` metadata or None) of a safetensors or GGUF file, reading no weights."""
    import json

    if path.lower().endswith(".gguf"):
        from ..ltx2_core.gguf.loader import gguf_metadata
        from ..ltx2_core.gguf.reader import GGUFFile

        file = GGUFFile(path)
        raw = gguf_metadata(file).get("config")
        try:
            metadata = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            metadata = None
        return list(file.infos), metadata
    from ..ltx2_core.checkpoint import read_config_metadata, read_safetensors_header

    names = [k for k in read_safetensors_header(path) if k != "__metadata__"]
    return names, read_config_metadata(path)


def transformer_family(names: Iterable[str], metadata: Optional[dict]) -> Optional[str]:
    """'ltx-2', 'ltx-video', 'ltx-2.5' or None (no LTX transformer in the file)."""
    from ..ltx2_core.ltxv.detect import model_family

    return model_family(list(names), metadata)


def vae_family(names: Iterable[str], metadata: Optional[dict]) -> str:
    """The family of the video VAE in a file: from its transformer when it has one, else the VAE itself
    (a timestep-conditioned decoder or 0.9.0 blocks are LTX-Video's; the released LTX-2 VAE has neither)."""
    names = list(names)
    family = transformer_family(names, metadata)
    if family in (LTX2, LTXV):
        return family
    section = (metadata or {}).get("vae") if isinstance(metadata, dict) else None
    if isinstance(section, dict):
        if any(k in section for k in ("spatial_padding_mode", "encoder_spatial_padding_mode",
                                      "decoder_spatial_padding_mode")):
            return LTX2  # LTX-2 / LTX-2.3 VAE configs name their padding; LTX-Video's do not
        blocks = list(section.get("encoder_blocks") or []) + list(section.get("decoder_blocks") or [])
        blocks += list(section.get("blocks") or [])
        if any(isinstance(b, (list, tuple)) and b and b[0] in _LTXV_ONLY_BLOCKS for b in blocks):
            return LTXV
        if section.get("timestep_conditioning"):
            return LTXV
    if any("time_embedder." in k or k.endswith("timestep_scale_multiplier") for k in names):
        return LTXV  # a timestep-conditioned decoder (official, VAE-only or diffusers names)
    if any(k.endswith((".conv_shortcut.weight", ".norm3.norm.weight")) for k in names):
        return LTXV  # 0.9.0 / 0.9.1 `res_x_y` blocks (LayerNorm + 1x1x1 shortcut); the LTX-2 VAE has none
    return LTX2


def check_transformer_file(names, metadata, name: str) -> str:
    """The family of a transformer file; one line for T5 files, newer releases and files with no transformer."""
    from ..ltx2_core.errors import CheckpointError
    from ..ltx2_core.text.t5.detect import is_t5_checkpoint

    names = list(names)
    family = transformer_family(names, metadata)
    if family in (LTX2, LTXV):
        return family
    if is_t5_checkpoint(names):
        raise CheckpointError(f"{name} is a T5 text encoder, not a diffusion-model checkpoint: load it with "
                              "'LTX2 Load T5 Text Encoder' (text_encoders folder).")
    if family == "ltx-2.5":
        raise CheckpointError(f"{name} is a newer LTX-2.5+ transformer, which this pack does not support yet.")
    raise CheckpointError(f"{name} holds no LTX transformer (no patchify_proj / transformer_blocks keys): pick an "
                          "LTX-2 or LTX-Video model file.")


def describe(network) -> str:
    return NAMES.get(getattr(network, "family", LTX2), "LTX")


def require(network, family: str, node: str, instead: str) -> None:
    """Refuse `network` when it is not of `family`: one line naming `instead`, the node to use."""
    from ..ltx2_core.errors import InputError

    have = getattr(network, "family", LTX2)
    if network is not None and have not in (family, ANY):
        raise InputError(f"{node} is for {NAMES[family]} models, but this is an {NAMES.get(have, have)} model: "
                         f"{instead}")


def same_family(networks: Dict[str, object], node: str) -> str:
    """The common family of the named networks (ANY ones fit both); one line when they are mixed."""
    from ..ltx2_core.errors import InputError

    seen = {label: getattr(n, "family", LTX2) for label, n in networks.items() if n is not None}
    families = {f for f in seen.values() if f != ANY}
    if len(families) > 1:
        listed = ", ".join(f"{label} is {NAMES.get(f, f)}" for label, f in seen.items())
        raise InputError(f"{node} got models of two families ({listed}): load all of them from files of the same "
                         "family (LTX-2 or LTX-Video).")
    return families.pop() if families else ANY
