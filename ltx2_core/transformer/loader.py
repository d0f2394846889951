"""Loading an LTX-2 / LTX-2.3 transformer from a safetensors file or a state dict."""

import os
from typing import Mapping, Optional, Union

import torch

from ..attention import AttentionFn, sdpa_attention
from ..checkpoint import load_safetensors, load_strict, read_config_metadata, read_safetensors_header
from ..errors import CheckpointError
from .config import TransformerConfig
from .keys import TRANSFORMER_PREFIXES, transformer_state_dict_from
from .model import LTX2Transformer

Source = Union[str, os.PathLike, Mapping[str, torch.Tensor]]


def _config_for(shapes: Mapping[str, tuple], metadata: Optional[dict]) -> TransformerConfig:
    if metadata is not None and "transformer" in metadata:
        return TransformerConfig.from_metadata(metadata)
    return TransformerConfig.from_state_dict(shapes)


def dequantize_fp8_scaled(state: Mapping[str, torch.Tensor], dtype: Optional[torch.dtype]) -> dict:
    """Official FP8 files store `<name>.weight` as float8 with a float32 `<name>.weight_scale` sibling
    (`.bias_scale` likewise): fold each scale in (w.float() * scale) and cast to `dtype` (bfloat16 if None)."""
    out = {}
    for key, value in state.items():
        if key.endswith(("weight_scale", "bias_scale")) and key[: -len("_scale")] in state:
            continue
        scale = state.get(key + "_scale")
        if scale is not None:
            value = (value.float() * scale.float()).to(dtype or torch.bfloat16)
        out[key] = value
    return out


def _read_file(path: str):
    """(transformer state dict under official names, config metadata or None)."""
    header = read_safetensors_header(path)
    keys = [k for k in header if k != "__metadata__"]
    renamed = transformer_state_dict_from({k: k for k in keys})  # our key -> key in the file
    tensors = load_safetensors(path, keys=list(renamed.values()))
    return {ours: tensors[theirs] for ours, theirs in renamed.items()}, read_config_metadata(path)


def load_transformer(
    source: Source, *, operations=torch.nn, attention_fn: AttentionFn = sdpa_attention,
    dtype: Optional[torch.dtype] = None, device: Union[str, torch.device] = "cpu",
    config: Optional[TransformerConfig] = None,
) -> LTX2Transformer:
    """Build the transformer on the meta device and load its weights strictly.

    `source`: a safetensors path (official single file with `config` metadata, ComfyUI-named or
    diffusers-named transformer-only file) or a state dict in any of these layouts. The config comes
    from `config`, else the file's metadata, else the key shapes. `dtype` casts the weights (None keeps
    the checkpoint's dtypes). Scaled-FP8 weights (official `-fp8` files) are dequantized to `dtype`
    (bfloat16 when None).
    """
    if isinstance(source, Mapping):
        state, metadata = transformer_state_dict_from(source), None
    else:
        state, metadata = _read_file(os.fspath(source))
    if any(k.endswith("weight_scale") for k in state):
        state = dequantize_fp8_scaled(state, dtype)
    if config is None:
        config = _config_for({k: tuple(v.shape) for k, v in state.items()}, metadata)
    model = LTX2Transformer(config, operations=operations, attention_fn=attention_fn, device="meta", dtype=dtype)
    if dtype is not None or device != "cpu":
        state = {k: v.to(device=device, dtype=dtype if dtype is not None and v.is_floating_point() else v.dtype)
                 for k, v in state.items()}
    what = f"LTX-{config.version} transformer ({config.num_layers} layers, widths {config.dim}/{config.audio_dim})"
    load_strict(model, state, what)
    return model.eval()


def transformer_keys_in_file(path: str) -> bool:
    """Whether a safetensors file holds LTX-2 transformer weights (cheap: header only)."""
    try:
        header = read_safetensors_header(path)
    except CheckpointError:
        return False
    keys = [k for k in header if k != "__metadata__"]
    stripped = {k[len(p):] for k in keys for p in TRANSFORMER_PREFIXES if k.startswith(p)} | set(keys)
    return any(k in stripped for k in ("audio_patchify_proj.weight", "audio_proj_in.weight"))
