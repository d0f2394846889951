"""Loading the T5 encoder and its tokenizer from every layout users have.

- Hugging Face folders (google/t5-v1_1-xxl, PixArt-alpha `text_encoder/`, sharded or not; a pipeline folder
  whose `text_encoder/` holds the weights): read through `ltx2_core.checkpoint_source.open_checkpoint`, config
  from `config.json`, else key shapes.
- ComfyUI single files `t5xxl_fp16.safetensors`, `t5xxl_fp8_e4m3fn.safetensors` (plain fp8) and scaled-fp8
  files (`scaled_fp8` marker, `scale_weight` keys; packed, computed through QuantOps).
- city96 / llama.cpp GGUFs (`general.architecture = "t5encoder"`): weights kept packed (QuantOps).
Everything is built on the meta device and filled with `load_strict`.
"""

import os
from typing import Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn

from ...checkpoint import cast_floats, load_strict, logical_shape
from ...checkpoint_source import open_checkpoint
from ...errors import CheckpointError
from ..encoder import EncodeCache
from .config import T5Config
from .detect import check_t5_keys
from .encoder import T5TextEncoder
from .keys import MARKERS, QUANT_SUFFIXES, t5_key, t5_state_dict
from .model import T5Encoder
from .tokenizer import MAX_LENGTH, T5Tokenizer

Source = Union[str, os.PathLike, Mapping[str, torch.Tensor]]
GGUF_ARCHES = ("t5encoder", "t5")
FP8 = (torch.float8_e4m3fn, torch.float8_e5m2)
_PLAIN = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _read_gguf(path: str, dtype: torch.dtype) -> Tuple[dict, T5Config]:
    from ...gguf.reader import GGUFFile

    file = GGUFFile(path)
    arch = file.architecture
    if arch not in GGUF_ARCHES:
        check_t5_keys(list(file.infos), file.name)
    file.check_architecture(GGUF_ARCHES, "T5 text encoder")
    weights = t5_state_dict(file.state_dict(dtype=dtype))
    return weights, T5Config.from_gguf_fields(file.field)


def read_t5_tensors(source: Source, dtype: torch.dtype = torch.bfloat16) -> Tuple[dict, Optional[T5Config], str]:
    """Our-named T5 tensors, the config the source states (folder config.json / GGUF metadata) and a name."""
    if isinstance(source, Mapping):
        check_t5_keys(source.keys(), "The given tensors")
        return t5_state_dict(source), None, "tensors"
    path = os.fspath(source)
    if not os.path.exists(path):
        raise CheckpointError(f"T5 text-encoder weights not found: {path!r}. Check the path in the loader.")
    if path.endswith(".gguf"):
        weights, config = _read_gguf(path, dtype)
        return weights, config, os.path.basename(path)
    checkpoint = open_checkpoint(path, subfolders=("text_encoder",), what="T5 text encoder")
    check_t5_keys(checkpoint.keys(), checkpoint.name)
    wanted = [k for k in checkpoint.keys() if k in MARKERS or t5_key(k) is not None
              or k.endswith("encoder.embed_tokens.weight") or k.endswith(QUANT_SUFFIXES)]
    folder_config = checkpoint.folder_config()
    config = T5Config.from_hf_dict(folder_config) if folder_config and "d_model" in folder_config else None
    return t5_state_dict(checkpoint.load(wanted)), config, checkpoint.name


def _prepare(weights: dict, operations, dtype: Optional[torch.dtype]):
    """(weights, operations, dtype): scaled fp8 packed for QuantOps; plain fp8 upcast for torch.nn."""
    norm = weights.get("encoder.final_layer_norm.weight")
    if dtype is None:
        dtype = norm.dtype if norm is not None and type(norm) is torch.Tensor and norm.dtype in _PLAIN \
            else torch.bfloat16
    scaled = any(k in MARKERS or k.endswith(QUANT_SUFFIXES) for k in weights)
    if scaled:
        from ...gguf.fp8 import pack_scaled_weights
        from ...gguf.ops import QuantOps

        weights = pack_scaled_weights(weights, dtype=dtype)
        operations = QuantOps if operations is nn else operations
    elif operations is nn:
        weights = {k: v.to(dtype) if type(v) is torch.Tensor and v.dtype in FP8 else v for k, v in weights.items()}
    return cast_floats(weights, dtype), operations, dtype


def load_t5(
    source: Source, *, dtype: Optional[torch.dtype] = None, device=None, operations=None,
    config: Optional[T5Config] = None,
) -> T5Encoder:
    """A loaded T5 v1.1 encoder. `operations`: torch.nn by default, QuantOps for GGUF files (their weights stay
    packed). `dtype`: the compute dtype (None: the file's float dtype, bfloat16 for fp8 / GGUF files). The config
    is `config`, else the folder's config.json / GGUF metadata, checked against the key shapes."""
    is_gguf = not isinstance(source, Mapping) and os.fspath(source).endswith(".gguf")
    if operations is None:
        if is_gguf:
            from ...gguf.ops import QuantOps

            operations = QuantOps
        else:
            operations = nn
    weights, file_config, name = read_t5_tensors(source, dtype or torch.bfloat16)
    if is_gguf and dtype is None:
        dtype = torch.bfloat16
    weights, operations, dtype = _prepare(weights, operations, dtype)
    shapes = {k: logical_shape(v) for k, v in weights.items()}
    shape_config = T5Config.from_shapes(shapes, base=config or file_config)
    model = T5Encoder(shape_config, operations=operations, device="meta", dtype=dtype)
    load_strict(model, weights, f"T5 text encoder ({name})")
    return model.to(device) if device is not None else model


def load_t5_tokenizer(source, *, max_length: int = MAX_LENGTH) -> T5Tokenizer:
    """The tokenizer for a weights path (spiece.model / tokenizer.json around it, or the GGUF vocabulary) or a
    tokenizer file / folder given directly."""
    path = os.fspath(source)
    if path.endswith(".gguf"):
        from ...gguf.reader import GGUFFile

        file = GGUFFile(path)
        if file.field("tokenizer.ggml.model") == "t5":
            return T5Tokenizer.from_gguf(file, max_length=max_length)
        path = os.path.dirname(os.path.abspath(path))
    return T5Tokenizer.from_file(path, max_length=max_length)


def load_t5_encoder(
    source: Source, *, tokenizer: Union[None, str, os.PathLike, T5Tokenizer] = None, max_length: int = MAX_LENGTH,
    dtype: Optional[torch.dtype] = None, device=None, operations=None, config: Optional[T5Config] = None,
    cache: Optional[EncodeCache] = None,
) -> T5TextEncoder:
    """The whole T5 text path: weights from `source`, tokenizer from `tokenizer` (a T5Tokenizer or a path), else
    found next to the weights (or in the GGUF). `max_length`: 256 (LTX-Video 0.9.5+), 128 for 0.9.0 / 0.9.1."""
    if tokenizer is None:
        if isinstance(source, Mapping):
            raise CheckpointError("No T5 tokenizer: pass tokenizer= (the path of spiece.model) with tensor input.")
        tokenizer = load_t5_tokenizer(source, max_length=max_length)
    elif not isinstance(tokenizer, T5Tokenizer):
        tokenizer = load_t5_tokenizer(tokenizer, max_length=max_length)
    model = load_t5(source, dtype=dtype, device=device, operations=operations, config=config)
    if tokenizer.vocab_size > model.config.vocab_size:
        raise CheckpointError(f"The T5 tokenizer has {tokenizer.vocab_size} ids but the encoder only "
                              f"{model.config.vocab_size} embeddings: they come from different models.")
    key = None if isinstance(source, Mapping) else ("T5", os.path.abspath(os.fspath(source)), str(dtype))
    return T5TextEncoder(model, tokenizer, max_length=max_length, cache=cache, model_key=key)
