"""Loading the LTX-2.5 text encoder file (`gemma4-12b-with-proj-ltx-2.5-*.safetensors`).

The file carries (ltx-core `gemma_assets.py`, read here, not copied): metadata `gemma_config` (the HF config JSON,
top-level `gemma_version`), a uint8 tensor `tokenizer_json`, `hf_asset__*` sidecar tensors, the language model
under `model.*` (ComfyUI flat layout) or `model.language_model.*` (HF layout), vision/audio tower tensors (unused
for encoding) and the LTX text projection `text_embedding_projection.*`. For LTX-2.5 the connectors live in the
transformer file; `load_gemma4_text_encoder` joins the two.

Version rule (ltx-core `_check_gemma_version`): a DiT that declares `gemma_source_checkpoint.gemma_version` needs a
text encoder whose config carries that same `gemma_version`; here a Gemma 4 without `gemma4-12b-ltx-v1` (a stock
Gemma 4) is refused even when the DiT declares nothing, since its weights are not the LTX fine-tune.
"""

import json
import os
from typing import Mapping, NamedTuple, Optional, Union

import torch
import torch.nn as nn

from ...attention import sdpa_attention
from ...checkpoint import cast_floats, load_safetensors, load_strict, read_metadata, read_safetensors_header
from ...errors import CheckpointError
from ..encoder import EncodeCache, TextEncoder
from ..loader import _ltx_text_tensors, load_text_connectors
from .config import LTX_GEMMA4_VERSION, Gemma4Config
from .model import Gemma4TextModel
from .tokenizer import Gemma4Tokenizer

CONFIG_KEY = "gemma_config"
TOKENIZER_KEY = "tokenizer_json"
PROJECTION_PREFIX = "text_embedding_projection."
LM_PREFIXES = ("model.language_model.", "model.")
# Tensors of the multimodal towers the file also holds; never used for text encoding.
TOWER_PREFIXES = ("vision_model.", "multi_modal_projector.", "audio_projector.", "model.vision_embedder.",
                  "model.embed_vision.", "model.embed_audio.", "model.vision_tower.", "model.audio_tower.")


def lm_key(key: str) -> Optional[str]:
    """Our module name for a language-model key of the file, or None for anything else."""
    if key.startswith(TOWER_PREFIXES):
        return None
    for prefix in LM_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return None


def _gemma3_hint(path: str) -> CheckpointError:
    return CheckpointError(
        f"{os.path.basename(path)} is not an LTX-2.5 Gemma 4 text encoder (no embedded '{CONFIG_KEY}'): it looks "
        f"like a Gemma 3 file, which is for LTX-2 / LTX-2.3. Select gemma4-12b-with-proj-ltx-2.5-bf16.safetensors."
    )


def read_gemma4_config(path: str) -> Gemma4Config:
    """The embedded config of a Gemma 4 text-encoder file; a file that is not one raises `CheckpointError`."""
    raw = read_metadata(path).get(CONFIG_KEY)
    if raw is None:
        raise _gemma3_hint(path)
    return Gemma4Config.from_json(raw)


def check_gemma_version(config: Gemma4Config, dit_metadata: Optional[Mapping] = None) -> None:
    """Refuse a text encoder that is not the one the DiT (its safetensors metadata, strings or parsed) expects."""
    expected = LTX_GEMMA4_VERSION
    declared = (dit_metadata or {}).get("gemma_source_checkpoint")
    if isinstance(declared, str):
        try:
            declared = json.loads(declared)
        except json.JSONDecodeError:
            raise CheckpointError("The transformer's 'gemma_source_checkpoint' metadata is not JSON.") from None
    if isinstance(declared, Mapping) and declared.get("gemma_version"):
        expected = str(declared["gemma_version"])
    if config.gemma_version != expected:
        found = repr(config.gemma_version) if config.gemma_version else "none"
        raise CheckpointError(
            f"This Gemma 4 text encoder has gemma_version {found}, but the model needs {expected!r}: a stock Gemma 4 "
            f"is not the LTX fine-tune. Use the LTX-2.5 text encoder file (gemma4-12b-with-proj-ltx-2.5)."
        )


class Gemma4File(NamedTuple):
    config: Gemma4Config
    tokenizer: Gemma4Tokenizer
    lm: dict  # our names -> tensors
    projection: dict  # `text_embedding_projection.*` tensors (file names)


def read_gemma4_file(path: Union[str, os.PathLike], *, dit_metadata: Optional[Mapping] = None,
                     max_length: Optional[int] = None) -> Gemma4File:
    """Config, tokenizer, language-model and projection tensors of an LTX-2.5 text-encoder file."""
    path = os.fspath(path)
    config = read_gemma4_config(path)
    check_gemma_version(config, dit_metadata)
    header = read_safetensors_header(path)
    if TOKENIZER_KEY not in header:
        raise CheckpointError(f"{os.path.basename(path)} has no '{TOKENIZER_KEY}' tensor: re-download the file.")
    wanted = [k for k in header if k != "__metadata__" and (lm_key(k) is not None or k.startswith(PROJECTION_PREFIX))]
    tensors = load_safetensors(path, [TOKENIZER_KEY, *wanted])
    data = tensors.pop(TOKENIZER_KEY).to(torch.uint8).numpy().tobytes()
    tokenizer = Gemma4Tokenizer.from_bytes(data, pad_id=config.pad_token_id, bos_id=config.bos_token_id,
                                           **({"max_length": max_length} if max_length else {}))
    lm = {lm_key(k): v for k, v in tensors.items() if lm_key(k) is not None}
    projection = {k: v for k, v in tensors.items() if k.startswith(PROJECTION_PREFIX)}
    return Gemma4File(config, tokenizer, lm, projection)


def build_gemma4(config: Gemma4Config, weights: Mapping[str, torch.Tensor], *, operations=nn,
                 attention_fn=sdpa_attention, dtype: Optional[torch.dtype] = None, device=None) -> Gemma4TextModel:
    """A loaded Gemma4TextModel (built on meta, filled strictly; `layer_scalar` buffers included)."""
    if "layers.0.self_attn.k_proj.weight" in weights and "embed_tokens.weight" not in weights:
        raise CheckpointError("The Gemma 4 weights have no 'embed_tokens.weight': the file is incomplete.")
    model = Gemma4TextModel(config, operations=operations, attention_fn=attention_fn, device="meta", dtype=dtype)
    load_strict(model, cast_floats(weights, dtype), "Gemma 4 text encoder")
    return model.to(device) if device is not None else model


def load_gemma4_text_encoder(
    text_encoder_path: Union[str, os.PathLike], transformer_source, *, dit_metadata: Optional[Mapping] = None,
    operations=nn, attention_fn=sdpa_attention, dtype: Optional[torch.dtype] = None, device=None,
    cache: Optional[EncodeCache] = None, max_length: Optional[int] = None,
) -> TextEncoder:
    """The LTX-2.5 text path: Gemma 4 + tokenizer + text projection from the text-encoder file, the video/audio
    connectors from `transformer_source` (the 2.5 transformer file, or a mapping of its connector tensors).

    `dit_metadata` is the transformer file's safetensors metadata (read from the file when it is a path); it is
    used for the gemma_version check and, via its `config`, for the projection / connector settings."""
    if dit_metadata is None and not isinstance(transformer_source, Mapping):
        dit_metadata = read_metadata(os.fspath(transformer_source))
    packed = read_gemma4_file(text_encoder_path, dit_metadata=dit_metadata, max_length=max_length)
    gemma = build_gemma4(packed.config, packed.lm, operations=operations, attention_fn=attention_fn, dtype=dtype,
                         device=device)
    config = (dit_metadata or {}).get("config")
    config = json.loads(config) if isinstance(config, str) else config
    if isinstance(transformer_source, Mapping):
        connectors = dict(transformer_source)
    else:
        connectors, _ = _ltx_text_tensors(transformer_source)
    text = load_text_connectors({**connectors, **packed.projection}, metadata=config,
                                num_states=packed.config.num_layers + 1, operations=operations,
                                attention_fn=attention_fn, dtype=dtype, device=device)
    model_key = None
    if not isinstance(transformer_source, Mapping):
        model_key = (os.path.abspath(os.fspath(text_encoder_path)), os.path.abspath(os.fspath(transformer_source)))
    return TextEncoder(gemma, packed.tokenizer, text.projection, text.video, text.audio,
                       max_length=max_length or packed.tokenizer.max_length, cache=cache, model_key=model_key)
