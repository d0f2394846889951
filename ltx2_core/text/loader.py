"""Loading the text encoder: Gemma 3 weights (HF shards, ComfyUI single file, or any tensor mapping such as
dequantized GGUF) plus the text projection and connectors from an LTX checkpoint.

Everything is built on the meta device and filled with `load_strict`; plain float tensors are cast to
`dtype`, anything else (fp8, quantized tensor subclasses) is handed to `operations` unchanged.
"""

import glob
import json
import os
from typing import Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn

from ..attention import sdpa_attention
from ..checkpoint import load_safetensors, load_strict, read_config_metadata, read_safetensors_header
from ..errors import CheckpointError, UnsupportedFormatError
from .connectors import CONNECTOR_PREFIXES, build_connector
from .encoder import EncodeCache, TextEncoder
from .feature_extractor import PROJECTION_PREFIX, build_text_projection
from .gemma import GemmaTextModel
from .gemma_config import GemmaConfig
from .keys import gemma_key, gemma_state_dict, gemma_state_dict_from_gguf
from .tokenizer import SPIECE_KEY, GemmaTokenizer

Source = Union[str, os.PathLike, Mapping[str, torch.Tensor]]
_CASTABLE = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def cast_floats(state_dict: Mapping[str, torch.Tensor], dtype: Optional[torch.dtype]) -> dict:
    """Plain float tensors in `dtype`; fp8, integer and quantized tensors untouched."""
    if dtype is None:
        return dict(state_dict)
    return {k: v.to(dtype) if type(v) is torch.Tensor and v.dtype in _CASTABLE else v for k, v in state_dict.items()}


def _safetensors_files(folder: str) -> list:
    index = sorted(glob.glob(os.path.join(folder, "*.safetensors.index.json")))
    if index:
        try:
            with open(index[0], "r", encoding="utf-8") as handle:
                weight_map = json.load(handle)["weight_map"]
        except (OSError, KeyError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"Unreadable shard index {os.path.basename(index[0])}: {exc}") from None
        files = sorted({os.path.join(folder, name) for name in weight_map.values()})
        missing = [f for f in files if not os.path.isfile(f)]
        if missing:
            raise CheckpointError(f"Gemma shard(s) missing: {', '.join(map(os.path.basename, missing))}. "
                                  "Download every file listed in the index.")
        return files
    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    if not files:
        raise CheckpointError(f"No safetensors weights in {folder!r}. Point to the Gemma 3 model folder or file.")
    return files


def read_gemma_tensors(source: Source, device="cpu") -> Tuple[dict, Optional[GemmaConfig]]:
    """Our-named Gemma tensors from a file, a folder of shards or a mapping, and the config.json config if any."""
    if isinstance(source, Mapping):
        if any(k.startswith(("blk.", "token_embd.")) for k in source):
            return gemma_state_dict_from_gguf(source), None
        return gemma_state_dict(source), None
    path = os.fspath(source)
    if path.endswith(".gguf"):
        raise UnsupportedFormatError(
            f"{os.path.basename(path)} is a GGUF Gemma file: load it with ltx2_core.gguf.load_gemma_gguf, or give it "
            "to load_components / `generate --text-encoder`, which read GGUF files directly."
        )
    if os.path.isdir(path):
        files, config_path = _safetensors_files(path), os.path.join(path, "config.json")
    elif os.path.isfile(path):
        files, config_path = [path], os.path.join(os.path.dirname(path), "config.json")
    else:
        raise CheckpointError(f"Gemma weights not found: {path!r}. Check the path in the text-encoder loader.")
    tensors = {}
    for file in files:
        keys = [k for k in read_safetensors_header(file) if k != "__metadata__" and gemma_key(k) is not None]
        tensors.update(load_safetensors(file, keys=keys, device=str(device)))
    config = GemmaConfig.from_json_file(config_path) if os.path.isfile(config_path) else None
    return gemma_state_dict(tensors), config


def load_gemma(
    source: Source, *, operations=nn, attention_fn=sdpa_attention, dtype: Optional[torch.dtype] = None, device=None,
    config: Optional[GemmaConfig] = None,
) -> GemmaTextModel:
    """A loaded Gemma 3 text decoder. The config is `config`, else the folder's config.json, else read off the
    key shapes with Gemma 3 12B constants. A GGUF embedding with fewer rows than the config's vocabulary is
    accepted (its vocabulary size is used)."""
    weights, file_config = read_gemma_tensors(source, device="cpu" if device is None else device)
    shape_config = GemmaConfig.from_state_dict(weights, base=config or file_config)
    model = GemmaTextModel(shape_config, operations=operations, attention_fn=attention_fn, device="meta", dtype=dtype)
    load_strict(model, cast_floats(weights, dtype), "Gemma 3 text encoder")
    return model.to(device) if device is not None else model


def _ltx_text_tensors(source: Source, device) -> Tuple[dict, Optional[dict]]:
    prefixes = (PROJECTION_PREFIX, *CONNECTOR_PREFIXES.values(), "video_embeddings_connector.",
                "audio_embeddings_connector.")
    if isinstance(source, Mapping):
        return {k: v for k, v in source.items() if k.startswith(prefixes)}, None
    path = os.fspath(source)
    keys = [k for k in read_safetensors_header(path) if k.startswith(prefixes)]
    return load_safetensors(path, keys=keys, device=str(device)), read_config_metadata(path)


def load_text_encoder(
    gemma_source: Source, ltx_checkpoint_source: Source, *, tokenizer: Optional[GemmaTokenizer] = None,
    metadata: Optional[Mapping] = None, gemma_config: Optional[GemmaConfig] = None, operations=nn,
    attention_fn=sdpa_attention, dtype: Optional[torch.dtype] = None, device=None, cache: Optional[EncodeCache] = None,
    max_length: Optional[int] = None,
) -> TextEncoder:
    """The whole text path: Gemma from `gemma_source`, projection + connectors from the LTX checkpoint.

    The tokenizer is `tokenizer`, else the `spiece_model` bytes embedded in the Gemma file / mapping, else a
    tokenizer.model beside the Gemma weights. `metadata` overrides the checkpoint's embedded `config`.
    """
    gemma = load_gemma(gemma_source, operations=operations, attention_fn=attention_fn, dtype=dtype, device=device,
                       config=gemma_config)
    if tokenizer is None:
        if isinstance(gemma_source, Mapping):
            if SPIECE_KEY not in gemma_source:
                raise CheckpointError("No tokenizer: the Gemma weights carry no 'spiece_model'. Pass tokenizer=.")
            tokenizer = GemmaTokenizer.from_state_dict(gemma_source)
        else:
            tokenizer = GemmaTokenizer.from_file(os.fspath(gemma_source))
    load_device = "cpu" if device is None else device
    tensors, file_metadata = _ltx_text_tensors(ltx_checkpoint_source, load_device)
    metadata = metadata if metadata is not None else file_metadata
    tensors = cast_floats(tensors, dtype)
    common = dict(metadata=metadata, operations=operations, device=device, dtype=dtype)
    projection = build_text_projection(tensors, num_states=gemma.config.num_layers + 1, **common)
    video = build_connector(tensors, "video", attention_fn=attention_fn, **common)
    audio = build_connector(tensors, "audio", attention_fn=attention_fn, **common)
    if projection.config.video_dim != video.config.width or projection.config.audio_dim != audio.config.width:
        raise CheckpointError(
            f"Text projection widths ({projection.config.video_dim}, {projection.config.audio_dim}) do not match the "
            f"connectors ({video.config.width}, {audio.config.width}): the files come from different LTX versions."
        )
    model_key = None
    if not isinstance(gemma_source, Mapping) and not isinstance(ltx_checkpoint_source, Mapping):
        model_key = (os.path.abspath(os.fspath(gemma_source)), os.path.abspath(os.fspath(ltx_checkpoint_source)))
    return TextEncoder(gemma, tokenizer, projection, video, audio, max_length=max_length, cache=cache,
                       model_key=model_key)
