"""Scaled low-bit safetensors layouts -> packed `QuantizedTensor("scaled")` weights.

Layouts recognised (all computed by upcasting per forward, W = weight.float() * scale):
  * official LTX fp8: float8_e4m3fn `<layer>.weight` with a 0-d float32 `<layer>.weight_scale`
    (plus an `input_scale` for static activation quantization, unused here);
  * ComfyUI's older scaled fp8: `<layer>.scale_weight` (and `scale_input`), a `scaled_fp8` marker key;
  * ComfyUI mixed precision: `<layer>.comfy_quant`, a uint8 tensor holding JSON such as
    {"format": "float8_e4m3fn"}, with `<layer>.weight_scale` (and optionally the
    `_quantization_metadata` JSON in the file metadata instead of per-layer tags). Formats handled:
    float8_e4m3fn, float8_e5m2, int8_tensorwise (0-d scale), int8_blockwise (per-block scale of
    shape (rows / g, cols / g), g = `group_size`, default 128). Other formats (nvfp4, mxfp8, ...)
    are refused with an UnsupportedFormatError naming the format;
  * plain fp8 weights without any scale (scale 1).
"""

import json
from typing import Dict, Mapping, Optional

import torch

from ..errors import CheckpointError, UnsupportedFormatError
from .tensor import QuantizedTensor

FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)
SCALE_SUFFIXES = (".weight_scale", ".scale_weight")
DROPPED_SUFFIXES = (".input_scale", ".scale_input", ".comfy_quant", ".weight_scale_2", ".pre_quant_scale")
MARKER_KEYS = ("scaled_fp8",)
HANDLED_FORMATS = ("float8_e4m3fn", "float8_e5m2", "int8_tensorwise", "int8_blockwise")


def _layer_formats(state_dict: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]]) -> Dict[str, dict]:
    """layer name -> its ComfyUI quantization config, from `.comfy_quant` tags or file metadata."""
    formats: Dict[str, dict] = {}
    raw = (metadata or {}).get("_quantization_metadata")
    if raw:
        try:
            layers = json.loads(raw).get("layers", {})
        except (json.JSONDecodeError, AttributeError):
            raise CheckpointError(
                "The file's '_quantization_metadata' is not valid JSON. Re-download the file."
            ) from None
        formats.update({k: v for k, v in layers.items() if isinstance(v, dict)})
    for key, tag in state_dict.items():
        if key.endswith(".comfy_quant"):
            try:
                conf = json.loads(bytes(tag.detach().cpu().to(torch.uint8).numpy().tobytes()).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise CheckpointError(
                    f"The quantization tag {key!r} is not valid JSON. Re-download the file."
                ) from None
            if not isinstance(conf, dict):
                raise CheckpointError(f"The quantization tag {key!r} is not a JSON object.")
            formats[key[: -len(".comfy_quant")]] = conf
    return formats


def _scale_for(state_dict: Mapping[str, torch.Tensor], layer: str, param: str) -> Optional[torch.Tensor]:
    names = [f"{layer}.{param}_scale", f"{layer}.scale_{param}"]
    for name in names:
        if name in state_dict:
            scale = state_dict[name].to(torch.float32)
            if scale.dim() == 2 and scale.shape[1] == 1:
                scale = scale[:, 0]  # per-row scales stored as a column
            return scale
    return None


def is_scaled_checkpoint(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether a state dict uses any layout of this module (fp8 / int8 weights, scale or tag keys)."""
    return any(
        k.endswith(SCALE_SUFFIXES + (".comfy_quant",)) or k in MARKER_KEYS
        or (getattr(v, "dtype", None) in FP8_DTYPES)
        for k, v in state_dict.items()
    )


def pack_scaled_weights(
    state_dict: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]] = None,
    dtype: torch.dtype = torch.bfloat16,
) -> Dict[str, torch.Tensor]:
    """Replace scaled fp8/int8 weights by packed QuantizedTensors; drop the scale, tag and marker keys.

    Float tensors pass through unchanged. `dtype` is the nominal dtype of the packed tensors.
    """
    formats = _layer_formats(state_dict, metadata)
    out: Dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key in MARKER_KEYS or key.endswith(SCALE_SUFFIXES + DROPPED_SUFFIXES) or key.endswith(".bias_scale"):
            continue
        layer, _, param = key.rpartition(".")
        conf = formats.get(layer)
        if conf is not None and param == "weight":
            fmt = conf.get("format")
            if fmt not in HANDLED_FORMATS:
                raise UnsupportedFormatError(
                    f"Layer {layer!r} is stored in the quantized format {fmt!r}, which this pack cannot compute with "
                    f"(supported: {', '.join(HANDLED_FORMATS)}). Use a bf16, fp8 or GGUF version of the model."
                )
            scale = _scale_for(state_dict, layer, "weight")
            if scale is None:
                raise CheckpointError(f"Layer {layer!r} ({fmt}) has no weight_scale tensor. The file is incomplete.")
            if fmt == "int8_blockwise" and scale.dim() == 2:
                group = int(conf.get("group_size", 128))
                if value.shape[0] != scale.shape[0] * group or value.shape[1] != scale.shape[1] * group:
                    raise CheckpointError(f"Layer {layer!r}: int8 block scales {tuple(scale.shape)} do not tile the "
                                          f"weight {tuple(value.shape)} with group size {group}.")
            out[key] = QuantizedTensor(value, "scaled", value.shape, dtype=dtype, scale=scale)
            continue
        if value.dtype in FP8_DTYPES:
            scale = _scale_for(state_dict, layer, param)
            if scale is None:
                scale = torch.ones((), dtype=torch.float32, device=value.device)
            if scale.dim() == 1 and (value.dim() == 0 or scale.shape[0] != value.shape[0]):
                raise CheckpointError(f"{key}: scale of shape {tuple(scale.shape)} does not fit the weight "
                                      f"{tuple(value.shape)}.")
            out[key] = QuantizedTensor(value, "scaled", value.shape, dtype=dtype, scale=scale)
            continue
        if value.dtype in (torch.int8, torch.uint8) and value.dim() >= 2 and param == "weight":
            raise UnsupportedFormatError(
                f"{key} is stored as {value.dtype} without a recognised quantization tag; this layout is not "
                "supported. Use a bf16, fp8 or GGUF version of the model."
            )
        out[key] = value
    return out
