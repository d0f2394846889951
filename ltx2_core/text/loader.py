"""Loading the text encoder: Gemma 3 weights (HF folder or shards, ComfyUI single file, or any tensor mapping such
as dequantized GGUF) plus the text projection and connectors from an LTX checkpoint. Files are read through
`ltx2_core.checkpoint_source.open_checkpoint`.

Everything is built on the meta device and filled with `load_strict`; plain float tensors are cast to
`dtype`, anything else (fp8, quantized tensor subclasses) is handed to `operations` unchanged.
"""

import os
from typing import Mapping, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn as nn

from ..attention import sdpa_attention
from ..checkpoint import cast_floats, load_strict
from ..checkpoint_source import open_checkpoint
from ..errors import CheckpointError, UnsupportedFormatError
from .connectors import CONNECTOR_PREFIXES, EmbeddingsConnector, build_connector
from .encoder import EncodeCache, TextEncoder
from .feature_extractor import PROJECTION_PREFIX, TextProjection, build_text_projection
from .gemma import GemmaTextModel
from .gemma_config import GemmaConfig
from .keys import gemma_key, gemma_state_dict, gemma_state_dict_from_gguf
from .tokenizer import SPIECE_KEY, GemmaTokenizer

Source = Union[str, os.PathLike, Mapping[str, torch.Tensor]]


def read_gemma_tensors(source: Source, device="cpu") -> Tuple[dict, Optional[GemmaConfig]]:
    """Our-named Gemma tensors from a file, a sharded set (folder, index or shard), a folder or a mapping, and
    the folder's config.json config if any."""
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
    if not os.path.exists(path):
        raise CheckpointError(f"Gemma weights not found: {path!r}. Check the path in the text-encoder loader.")
    checkpoint = open_checkpoint(path, subfolders=("text_encoder",), what="Gemma 3 text encoder")
    tensors = checkpoint.load([k for k in checkpoint.keys() if gemma_key(k) is not None], device=device)
    folder_config = checkpoint.folder_config()
    config = GemmaConfig.from_hf_dict(folder_config) if folder_config is not None else None
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


class TextConnectors(NamedTuple):
    """The LTX side of the text path: projection of Gemma's hidden states, then one connector per stream."""

    projection: TextProjection
    video: EmbeddingsConnector
    audio: EmbeddingsConnector


def _ltx_text_tensors(source: Source) -> Tuple[dict, Optional[dict]]:
    prefixes = (PROJECTION_PREFIX, *CONNECTOR_PREFIXES.values(), "video_embeddings_connector.",
                "audio_embeddings_connector.")
    if isinstance(source, Mapping):
        return {k: v for k, v in source.items() if k.startswith(prefixes)}, None
    checkpoint = open_checkpoint(source, what="LTX checkpoint")
    keys = [k for k in checkpoint.keys() if k.startswith(prefixes)]
    return checkpoint.load(keys), checkpoint.config_metadata()


def load_text_connectors(
    source: Source, *, metadata: Optional[Mapping] = None, num_states: int = 49, operations=nn,
    attention_fn=sdpa_attention, dtype: Optional[torch.dtype] = None, device=None,
    projection_source: Optional[Source] = None,
) -> TextConnectors:
    """The text projection and the video / audio embeddings connectors alone, from an LTX checkpoint (file,
    sharded set, folder) or its tensors. `metadata` overrides the file's `config`; `num_states` is the Gemma
    layer count + 1 (49 for Gemma 3 12B). Float weights are cast to `dtype` (None keeps the file's) on
    `device` (None: CPU). Split layout (LTX-2.5): the connectors come from the transformer file (`source`)
    and the projection from the text-encoder file, `projection_source` (used when `source` has none)."""
    tensors, file_metadata = _ltx_text_tensors(source)
    if projection_source is not None and not any(k.startswith(PROJECTION_PREFIX) for k in tensors):
        try:
            projection, _ = _ltx_text_tensors(projection_source)
        except CheckpointError:  # e.g. a Gemma folder: the projection check below names what is missing
            projection = {}
        tensors.update({k: v for k, v in projection.items() if k.startswith(PROJECTION_PREFIX)})
    metadata = metadata if metadata is not None else file_metadata
    tensors = cast_floats(tensors, dtype)
    common = dict(metadata=metadata, operations=operations, device=device, dtype=dtype)
    projection = build_text_projection(tensors, num_states=num_states, **common)
    video = build_connector(tensors, "video", attention_fn=attention_fn, **common)
    audio = build_connector(tensors, "audio", attention_fn=attention_fn, **common)
    if projection.config.video_dim != video.config.width or projection.config.audio_dim != audio.config.width:
        raise CheckpointError(
            f"Text projection widths ({projection.config.video_dim}, {projection.config.audio_dim}) do not match the "
            f"connectors ({video.config.width}, {audio.config.width}): the files come from different LTX versions."
        )
    return TextConnectors(projection, video, audio)


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
    projection, video, audio = load_text_connectors(
        ltx_checkpoint_source, metadata=metadata, num_states=gemma.config.num_layers + 1, operations=operations,
        attention_fn=attention_fn, dtype=dtype, device=device, projection_source=gemma_source)
    model_key = None
    if not isinstance(gemma_source, Mapping) and not isinstance(ltx_checkpoint_source, Mapping):
        model_key = (os.path.abspath(os.fspath(gemma_source)), os.path.abspath(os.fspath(ltx_checkpoint_source)))
    return TextEncoder(gemma, tokenizer, projection, video, audio, max_length=max_length, cache=cache,
                       model_key=model_key)
