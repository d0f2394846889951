"""Loading an LTX-Video transformer: official single files (with or without the VAE), ComfyUI / diffusers
transformer-only files and folders, scaled-fp8 files, city96-style GGUFs (architecture `ltxv`) and our
converter's GGUFs, or a state dict. Built on the meta device, loaded strictly with `assign=True`.
"""

import dataclasses
import json
import os
from typing import Any, Mapping, Optional, Tuple, Union

import torch

from ...attention import AttentionFn, sdpa_attention
from ...checkpoint import load_strict
from ...errors import CheckpointError, InputError
from ..detect import model_family
from .config import LTXVTransformerConfig
from .keys import ltxv_state_dict_from
from .model import LTXVTransformer

Source = Union[str, os.PathLike, Mapping[str, torch.Tensor]]


def check_family(keys, metadata: Optional[dict], name: str) -> None:
    """Refuse a checkpoint that is not an LTX-Video transformer with one line naming the right loader."""
    family = model_family(keys, metadata)
    if family == "ltx-video":
        return
    if family == "ltx-2":
        raise CheckpointError(f"{name} is an LTX-2 audio-video model, not LTX-Video: load it with the LTX-2 "
                              "checkpoint loader (ltx2_core.transformer.load_transformer).")
    if family == "ltx-2.5":
        raise CheckpointError(f"{name} is a newer LTX-2.5+ transformer, which this pack does not support yet.")
    keys = list(keys)
    if any("encoder.block." in k or k.startswith(("enc.blk.", "shared.")) for k in keys):
        raise CheckpointError(f"{name} is a T5 text encoder, not an LTX-Video transformer: load it with the T5 "
                              "text-encoder loader and pick the LTX-Video model file as the checkpoint.")
    raise CheckpointError(f"{name} holds no LTX-Video transformer (no patchify_proj / transformer_blocks keys). "
                          "Pick an LTX-Video 0.9.x model file (ltx-video-2b-*, ltxv-2b-*, ltxv-13b-*).")


# diffusers `LTXVideoTransformer3DModel` config.json -> our fields.
_DIFFUSERS_FIELDS = {"num_layers": "num_layers", "num_attention_heads": "heads", "attention_head_dim": "head_dim",
                     "in_channels": "in_channels", "out_channels": "out_channels",
                     "cross_attention_dim": "cross_attention_dim", "caption_channels": "caption_channels",
                     "norm_eps": "norm_eps"}


def config_from_diffusers(config: Mapping[str, Any]) -> LTXVTransformerConfig:
    """From a diffusers transformer config.json (diffusers' pipelines handle positions themselves, so
    causal_temporal_positioning follows 0.9.5+ unless overridden)."""
    fields = {ours: config[theirs] for theirs, ours in _DIFFUSERS_FIELDS.items() if config.get(theirs) is not None}
    return LTXVTransformerConfig(causal_temporal_positioning=True, **fields)


def apply_overrides(config: LTXVTransformerConfig, overrides: Optional[Mapping[str, Any]]) -> LTXVTransformerConfig:
    if not overrides:
        return config
    names = [f.name for f in dataclasses.fields(config)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise InputError(f"Unknown LTX-Video transformer config field(s) {', '.join(map(repr, unknown))}. "
                         f"Valid fields: {', '.join(names)}.")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    for name, value in values.items():
        current = getattr(config, name)
        kind = (int, float) if isinstance(current, float) else type(current)
        if not isinstance(value, kind) or (isinstance(value, bool) and not isinstance(current, bool)):
            raise InputError(f"Override {name}={value!r} has the wrong type: the field holds "
                             f"{type(current).__name__} values such as {current!r}.")
    try:
        return config.replace(**values)
    except CheckpointError as exc:
        raise InputError(f"Invalid overrides {dict(overrides)}: {exc}") from None


def _config_json(raw: Optional[str], name: str) -> Optional[dict]:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise CheckpointError(f"{name}: the 'config' metadata is not valid JSON. Re-export the file.") from None


def _read_gguf(path: str, dtype: torch.dtype) -> Tuple[dict, Optional[dict]]:
    from ...gguf.keys import LTXV_ARCH
    from ...gguf.loader import gguf_metadata
    from ...gguf.reader import GGUFFile

    file = GGUFFile(path)
    file.check_architecture((LTXV_ARCH,), "LTX-Video transformer")
    metadata = _config_json(gguf_metadata(file).get("config"), file.name)
    return file.state_dict(dtype=dtype), metadata


def _read_safetensors(path: str, dtype: Optional[torch.dtype]) -> Tuple[dict, Optional[dict], Optional[dict], bool]:
    """(state under file names, config metadata, folder config.json, packed-quantized?)."""
    from ...checkpoint_source import open_checkpoint
    from ...gguf.fp8 import FP8_DTYPES, pack_scaled_weights

    source = open_checkpoint(path, subfolders=("transformer",), what="LTX-Video transformer")
    metadata = source.config_metadata()
    check_family(source.keys(), metadata, source.name)
    wanted = ltxv_state_dict_from({k: k for k in source.keys()})
    tensors = source.load(wanted.values())
    quantized = any(t.dtype in FP8_DTYPES or t.dtype == torch.int8 for t in tensors.values())
    if quantized:
        tensors = pack_scaled_weights(tensors, dict(source.metadata), dtype=dtype or torch.bfloat16)
    return tensors, metadata, source.folder_config(), quantized


def load_ltxv_transformer(
    source: Source, *, dtype: Optional[torch.dtype] = None, device: Union[str, torch.device] = "cpu",
    operations=None, attention_fn: AttentionFn = sdpa_attention, config: Optional[LTXVTransformerConfig] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> LTXVTransformer:
    """The LTX-Video transformer of `source` (path or state dict of any accepted layout), in eval mode.

    Config: `config`, else the official `config` metadata's "transformer" section, else a diffusers
    folder's config.json, else the key shapes; `overrides` then replaces single fields. `operations`
    defaults to `torch.nn`, or to the packed-weight `QuantOps` for GGUF and scaled-fp8 sources (weights
    stay packed and are dequantized per forward). `dtype` casts float weights (None keeps them; packed
    weights compute in `dtype`, bfloat16 when None).
    """
    metadata, folder_config, quantized = None, None, False
    if isinstance(source, Mapping):
        check_family(source.keys(), None, "The state dict")
        state = source
    else:
        path = os.fspath(source)
        if path.endswith(".gguf"):
            state, metadata = _read_gguf(path, dtype or torch.bfloat16)
            check_family(state.keys(), metadata, os.path.basename(path))
            quantized = True
        else:
            state, metadata, folder_config, quantized = _read_safetensors(path, dtype)
    state = ltxv_state_dict_from(state)
    if config is None:
        if metadata is not None and "transformer" in metadata:
            config = LTXVTransformerConfig.from_metadata(metadata)
        elif folder_config is not None and str(folder_config.get("_class_name", "")).startswith("LTXVideo"):
            config = config_from_diffusers(folder_config)
        else:
            config = LTXVTransformerConfig.from_state_dict(state)
    config = apply_overrides(config, overrides)
    if operations is None:
        from ...gguf.ops import QuantOps

        operations = QuantOps if quantized else torch.nn
    model = LTXVTransformer(config, operations=operations, attention_fn=attention_fn, device="meta",
                            dtype=dtype or (torch.bfloat16 if quantized else None))
    state = {k: _cast(v, dtype, device) for k, v in state.items()}
    load_strict(model, state, f"LTX-Video {config.size_name} transformer ({config.num_layers} layers, width "
                              f"{config.dim})")
    return model.eval()


def _cast(value, dtype: Optional[torch.dtype], device) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or type(value) is not torch.Tensor:
        return value.to(device=device) if hasattr(value, "to") and str(device) != "cpu" else value
    if dtype is not None and value.is_floating_point():
        return value.to(device=device, dtype=dtype)
    return value.to(device=device)
