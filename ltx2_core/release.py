"""Which LTX release a component file belongs to, from its metadata, and whether two components fit together.

Official LTX-2.5 files carry top-level metadata `model_version` ("2.5.0") and `gemma_source_checkpoint`
(JSON {"ltx_version": "2.5.0", "gemma_version": "gemma4-12b-ltx-v1"}); LTX-2.3 files carry "2.3.x" and no
Gemma declaration. The architecture is always read from keys / config (see `TransformerConfig`), never from
the version; the version drives defaults (sampling, CRF) and the text-encoder pairing rule:

- the transformer declares `gemma_source_checkpoint` -> the text encoder's `gemma_version` must equal it;
- `model_version` >= 2.4 without a declaration -> refused (an incomplete file);
- no declaration -> the text encoder must be Gemma 3.
"""

import json
import os
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Tuple

from .errors import CheckpointError, UnsupportedFormatError

LTX25_GEMMA = "gemma4-12b-ltx-v1"
# Text-encoder families this build loads (Gemma 4: the LTX-2.5 safetensors file; no Gemma 4 GGUF yet).
LOADABLE_TEXT_ENCODERS = ("gemma3", "gemma4")


@dataclass(frozen=True)
class Release:
    """`version`: `model_version` as integers ((2, 5, 0)) or None; `gemma_version`: the declared text encoder."""

    version: Optional[Tuple[int, ...]] = None
    gemma_version: Optional[str] = None

    @property
    def is_ltx25(self) -> bool:
        return self.gemma_version is not None or (self.version is not None and self.version >= (2, 5))

    @property
    def label(self) -> str:
        if self.version is not None:
            return "LTX-" + ".".join(map(str, self.version))
        return "LTX-2.5" if self.is_ltx25 else "LTX-2 / LTX-2.3"


def parse_version(text: str) -> Optional[Tuple[int, ...]]:
    """"2.5.0" -> (2, 5, 0); "2.3.0-demo" -> (2, 3, 0); None when no leading number."""
    match = re.match(r"\s*(\d+(?:\.\d+)*)", str(text))
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def release_of(metadata: Optional[Mapping[str, str]], name: str = "checkpoint") -> Release:
    """The release stated by a safetensors `__metadata__` mapping (strings; dicts accepted too)."""
    metadata = metadata or {}
    version = parse_version(metadata["model_version"]) if metadata.get("model_version") else None
    declared = metadata.get("gemma_source_checkpoint")
    gemma = None
    if declared:
        if isinstance(declared, str):
            try:
                declared = json.loads(declared)
            except json.JSONDecodeError:
                raise CheckpointError(f"{name}: metadata 'gemma_source_checkpoint' is not valid JSON. "
                                      "Re-download the file.") from None
        gemma = declared.get("gemma_version") if isinstance(declared, Mapping) else None
        if not gemma:
            raise CheckpointError(f"{name}: metadata 'gemma_source_checkpoint' names no gemma_version. "
                                  "Re-download the file.")
    return Release(version, gemma)


def read_release(path: str) -> Release:
    """The release of a safetensors file, sharded set or folder (headers only); GGUF files: from their
    stored `model_version` / `gemma_source_checkpoint` strings when the converter kept them."""
    from .checkpoint_source import open_checkpoint

    name = os.path.basename(os.fspath(path).rstrip(os.sep))
    if _is_gguf(path):
        from .gguf.loader import gguf_metadata
        from .gguf.reader import GGUFFile

        return release_of(gguf_metadata(GGUFFile(path)), name)
    return release_of(open_checkpoint(path, what="checkpoint").metadata, name)


def _is_gguf(path: str) -> bool:
    from .gguf.reader import GGUF_MAGIC

    if not os.path.isfile(path):
        return False
    with open(path, "rb") as handle:
        return handle.read(len(GGUF_MAGIC)) == GGUF_MAGIC


@dataclass(frozen=True)
class TextEncoderKind:
    """`family`: "gemma3" or "gemma4"; `gemma_version`: the `gemma_version` the file states (LTX fine-tune)."""

    family: str
    gemma_version: Optional[str] = None


def text_encoder_kind(keys: Iterable[str], metadata: Optional[Mapping[str, str]] = None,
                      folder_config: Optional[Mapping] = None) -> TextEncoderKind:
    """Gemma 3 or Gemma 4 from a text-encoder file's HF config (`gemma_config` metadata or a folder's
    config.json: `model_type`, `gemma_version`), else from keys: Gemma 4's global layers (every 6th, from
    layer 5) have no `v_proj` (V = K)."""
    config = folder_config
    raw = (metadata or {}).get("gemma_config")
    if raw:
        try:
            config = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            raise CheckpointError("The text encoder's metadata 'gemma_config' is not valid JSON. "
                                  "Re-download the file.") from None
    if isinstance(config, Mapping) and config.get("model_type"):
        family = "gemma4" if str(config["model_type"]).startswith("gemma4") else "gemma3"
        return TextEncoderKind(family, config.get("gemma_version"))
    keys = list(keys)
    has_k = any(k.endswith("layers.5.self_attn.k_proj.weight") for k in keys)
    has_v = any(k.endswith("layers.5.self_attn.v_proj.weight") for k in keys)
    return TextEncoderKind("gemma4" if has_k and not has_v else "gemma3")


def check_text_encoder_pair(transformer: Release, encoder: TextEncoderKind, transformer_name: str,
                            encoder_name: str) -> None:
    """One line when the text encoder does not belong to the transformer (the official loader's rule)."""
    if transformer.gemma_version is None and transformer.version is not None and transformer.version >= (2, 4):
        raise CheckpointError(f"{transformer_name} says model_version {'.'.join(map(str, transformer.version))} "
                              "but declares no gemma_source_checkpoint: the metadata is incomplete, re-download it.")
    if transformer.gemma_version is None:
        if encoder.family != "gemma3":
            raise CheckpointError(f"{encoder_name} is a Gemma 4 text encoder, but {transformer_name} is an "
                                  "LTX-2 / LTX-2.3 transformer, which needs the Gemma 3 12B text encoder: pick "
                                  "gemma-3-12b (or use an LTX-2.5 transformer).")
        return
    if encoder.family == "gemma3":
        raise CheckpointError(f"{encoder_name} is a Gemma 3 text encoder, but {transformer_name} is an "
                              f"{transformer.label} transformer, which needs its Gemma 4 encoder "
                              f"{transformer.gemma_version!r}: pick gemma4-12b-with-proj-ltx-2.5.")
    if encoder.gemma_version != transformer.gemma_version:
        found = repr(encoder.gemma_version) if encoder.gemma_version else "no gemma_version"
        raise CheckpointError(f"{encoder_name} is a Gemma 4 text encoder with {found}, but {transformer_name} "
                              f"needs {transformer.gemma_version!r} (a stock Gemma 4 does not work): pick "
                              "gemma4-12b-with-proj-ltx-2.5.")


def check_text_encoder_file(encoder_path: str, transformer_path: str) -> TextEncoderKind:
    """`check_text_encoder_pair` on files (headers only); the encoder's kind. A GGUF text encoder counts by its
    architecture."""
    from .checkpoint_source import open_checkpoint

    encoder_name = os.path.basename(os.fspath(encoder_path).rstrip(os.sep))
    if _is_gguf(encoder_path):
        from .gguf.reader import GGUFFile

        kind = TextEncoderKind("gemma4" if str(GGUFFile(encoder_path).architecture).startswith("gemma4")
                               else "gemma3")
        if kind.family == "gemma4":
            raise UnsupportedFormatError(f"{encoder_name} is a GGUF Gemma 4, which this build cannot load yet: use "
                                         "gemma4-12b-with-proj-ltx-2.5-bf16.safetensors.")
    else:
        source = open_checkpoint(encoder_path, subfolders=("text_encoder",), what="text encoder")
        kind = text_encoder_kind(source.keys(), source.metadata, source.folder_config())
    check_text_encoder_pair(read_release(transformer_path), kind,
                            os.path.basename(os.fspath(transformer_path).rstrip(os.sep)), encoder_name)
    if kind.family not in LOADABLE_TEXT_ENCODERS:
        raise UnsupportedFormatError(f"{encoder_name} is the LTX-2.5 Gemma 4 text encoder, which this build cannot "
                                     "load yet: update the node pack.")
    return kind
