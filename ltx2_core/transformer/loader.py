"""Loading an LTX-2 / LTX-2.3 / LTX-2.5 transformer from a safetensors checkpoint (file, shards, folder) or a
state dict."""

import dataclasses
import os
from typing import Any, Mapping, Optional, Union

import torch

from ..attention import AttentionFn, sdpa_attention
from ..checkpoint import load_strict
from ..checkpoint_source import open_checkpoint
from ..errors import CheckpointError, InputError
from .config import TransformerConfig
from .keys import TRANSFORMER_PREFIXES, transformer_state_dict_from
from .model import LTX2Transformer

Source = Union[str, os.PathLike, Mapping[str, torch.Tensor]]


def _config_for(shapes: Mapping[str, tuple], metadata: Optional[dict],
                folder_config: Optional[dict] = None) -> TransformerConfig:
    if metadata is not None and "transformer" in metadata:
        return TransformerConfig.from_metadata(metadata)
    is_diffusers = folder_config is not None and str(folder_config.get("_class_name", "")).startswith("LTX2")
    fields = diffusers_config_fields(folder_config) if is_diffusers else {}
    return TransformerConfig.from_state_dict(shapes, **fields)


# diffusers `LTX2VideoTransformer3DModel` config.json names -> TransformerConfig / from_state_dict arguments.
_DIFFUSERS_FIELDS = {
    "attention_head_dim": "head_dim", "audio_attention_head_dim": "audio_head_dim", "rope_type": "rope_type",
    "rope_theta": "rope_theta", "rope_double_precision": "rope_double_precision", "norm_eps": "norm_eps",
    "timestep_scale_multiplier": "timestep_scale_multiplier",
    "cross_attn_timestep_scale_multiplier": "av_ca_timestep_scale_multiplier",
}


def diffusers_config_fields(config: Mapping[str, Any]) -> dict:
    """What a diffusers transformer `config.json` states that key shapes cannot tell (head dims, RoPE,
    timestep multipliers), as `TransformerConfig.from_state_dict` arguments."""
    fields = {ours: config[theirs] for theirs, ours in _DIFFUSERS_FIELDS.items() if config.get(theirs) is not None}
    if all(config.get(k) is not None for k in ("pos_embed_max_pos", "base_height", "base_width")):
        fields["rope_max_pos"] = (config["pos_embed_max_pos"], config["base_height"], config["base_width"])
    if config.get("audio_pos_embed_max_pos") is not None:
        fields["audio_rope_max_pos"] = (config["audio_pos_embed_max_pos"],)
    return fields


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


def _read_source(path: str):
    """(transformer state dict under official names, config metadata or None, folder config.json or None)."""
    source = open_checkpoint(path, subfolders=("transformer",), what="LTX-2 transformer")
    renamed = transformer_state_dict_from({k: k for k in source.keys()})  # our key -> key in the file
    tensors = source.load(renamed.values())
    return {ours: tensors[theirs] for ours, theirs in renamed.items()}, source.config_metadata(), source.folder_config()


def apply_overrides(config: TransformerConfig, overrides: Optional[Mapping[str, Any]]) -> TransformerConfig:
    """`config` with single fields replaced (e.g. {"cross_modulation": "other_sigma"}); an unknown field or a
    value of the wrong kind raises `InputError` naming it."""
    if not overrides:
        return config
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise InputError(f"Unknown transformer config field(s) in overrides: {', '.join(map(repr, unknown))}. "
                         f"Valid fields: {', '.join(fields)}.")
    for name, value in overrides.items():
        if not _same_kind(fields[name], value):
            raise InputError(f"Override {name}={value!r} has the wrong type: the field holds "
                             f"{type(fields[name]).__name__} values such as {fields[name]!r}.")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    try:
        return config.replace(**values)
    except CheckpointError as exc:
        raise InputError(f"Invalid overrides {dict(overrides)}: {exc}") from None


def _same_kind(current: Any, value: Any) -> bool:
    if current is None or value is None:  # Optional[int] (caption_channels)
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, float):
        return isinstance(value, (int, float))
    if isinstance(current, tuple):
        return isinstance(value, (tuple, list)) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                        for v in value)
    return isinstance(value, type(current))


def load_transformer(
    source: Source, *, operations=torch.nn, attention_fn: AttentionFn = sdpa_attention,
    dtype: Optional[torch.dtype] = None, device: Union[str, torch.device] = "cpu",
    config: Optional[TransformerConfig] = None, overrides: Optional[Mapping[str, Any]] = None,
) -> LTX2Transformer:
    """Build the transformer on the meta device and load its weights strictly.

    `source`: a safetensors path (official single file with `config` metadata, ComfyUI-named or
    diffusers-named transformer-only file), a sharded set (its folder, index file or a shard with its
    siblings), a diffusers model folder, or a state dict in any of these layouts. The config comes
    from `config`, else the file's metadata, else the key shapes (with a diffusers folder's config.json
    for head dims and RoPE settings); `overrides` then replaces single fields (e.g. `cross_modulation`).
    `dtype` casts the weights (None keeps the checkpoint's dtypes). Scaled-FP8 weights (official `-fp8`
    files) are dequantized to `dtype` (bfloat16 when None).
    """
    folder_config = None
    if isinstance(source, Mapping):
        state, metadata = transformer_state_dict_from(source), None
    else:
        state, metadata, folder_config = _read_source(os.fspath(source))
    if any(k.endswith("weight_scale") for k in state):
        state = dequantize_fp8_scaled(state, dtype)
    if config is None:
        config = _config_for({k: tuple(v.shape) for k, v in state.items()}, metadata, folder_config)
    config = apply_overrides(config, overrides)
    model = LTX2Transformer(config, operations=operations, attention_fn=attention_fn, device="meta", dtype=dtype)
    if dtype is not None or device != "cpu":
        state = {k: v.to(device=device, dtype=_target_dtype(k, v, dtype)) for k, v in state.items()}
    what = f"LTX-{config.version} transformer ({config.num_layers} layers, widths {config.dim}/{config.audio_dim})"
    load_strict(model, state, what)
    return model.eval()


def _target_dtype(key: str, value: torch.Tensor, dtype: Optional[torch.dtype]) -> torch.dtype:
    """`dtype` for float weights, except float32 AdaLN tables (`*scale_shift_table*`, stored float32 in the
    LTX-2.5 files) asked for a 16-bit dtype: they stay float32 and are cast where used."""
    if dtype is None or not value.is_floating_point():
        return value.dtype
    if value.dtype == torch.float32 and "scale_shift_table" in key and dtype in (torch.bfloat16, torch.float16):
        return torch.float32
    return dtype


def transformer_keys_in_file(path: str) -> bool:
    """Whether a checkpoint (file, sharded set or folder) holds LTX-2 transformer weights (cheap: headers only)."""
    try:
        keys = open_checkpoint(path, subfolders=("transformer",)).keys()
    except CheckpointError:
        return False
    stripped = {k[len(p):] for k in keys for p in TRANSFORMER_PREFIXES if k.startswith(p)} | set(keys)
    return any(k in stripped for k in ("audio_patchify_proj.weight", "audio_proj_in.weight"))
