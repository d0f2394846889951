"""Reading safetensors checkpoints safely and loading modules strictly.

`read_safetensors_header` validates a file's header before anything touches the tensors, so a
truncated or foreign file gives a clear `CheckpointError` instead of a crash deep in a library.
`load_strict` is the one place modules receive weights: meta-constructed modules, `assign=True`,
and a readable report of missing and unexpected keys.
"""

import json
import os
import struct
from typing import Dict, Iterable, Mapping, Optional

import torch
from safetensors import safe_open

from .errors import CheckpointError

MAX_HEADER_BYTES = 100 * 1024 * 1024
_SAFETENSORS_DTYPE_SIZES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E8M0": 1, "F4": 1,
}


def read_safetensors_header(path: str) -> Dict[str, dict]:
    """The parsed JSON header of a safetensors file, after checking it fits the file."""
    if not os.path.isfile(path):
        raise CheckpointError(f"Checkpoint not found: {path!r}. Check the path or the models folder.")
    size = os.path.getsize(path)
    name = os.path.basename(path)
    with open(path, "rb") as handle:
        raw_len = handle.read(8)
        if len(raw_len) < 8:
            raise CheckpointError(f"{name} is not a safetensors file (only {size} bytes). Re-download it.")
        (header_len,) = struct.unpack("<Q", raw_len)
        if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
            raise CheckpointError(
                f"{name} has a corrupt or truncated safetensors header (claims {header_len} bytes, file is "
                f"{size} bytes). The file is damaged or not safetensors: re-download it."
            )
        try:
            header = json.loads(handle.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{name} has an unreadable safetensors header ({exc}). Re-download it.") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{name} has a malformed safetensors header. Re-download it.")
    data_len = size - 8 - header_len
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            start, end = info["data_offsets"]
            count = 1
            for dim in info["shape"]:
                count *= int(dim)
            itemsize = _SAFETENSORS_DTYPE_SIZES.get(info["dtype"])
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end, *info["shape"])):
                raise TypeError("non-integer offsets or shape")
            if min(info["shape"], default=0) < 0 or not isinstance(info["dtype"], str):
                raise ValueError("negative dimension or non-string dtype")
        except (TypeError, KeyError, ValueError):
            raise CheckpointError(f"{name}: tensor {key!r} has a malformed header entry. Re-download the file.") from None
        if not (0 <= start <= end <= data_len):
            raise CheckpointError(
                f"{name} is truncated: tensor {key!r} ends at byte {end} but only {data_len} data bytes exist. "
                "Re-download the file."
            )
        if itemsize is not None and info["dtype"] != "F4" and (end - start) != count * itemsize:
            raise CheckpointError(f"{name}: tensor {key!r} has a size that does not match its shape. Re-download it.")
    return header


def read_metadata(path: str) -> Dict[str, str]:
    """The `__metadata__` string map of a safetensors file (empty when absent)."""
    meta = read_safetensors_header(path).get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()}


def read_config_metadata(path: str) -> Optional[dict]:
    """The JSON `config` entry of a safetensors file's metadata, or None when absent."""
    raw = read_metadata(path).get("config")
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{os.path.basename(path)}: metadata 'config' is not valid JSON ({exc}).") from None


def load_safetensors(path: str, keys: Optional[Iterable[str]] = None, device: str = "cpu") -> Dict[str, torch.Tensor]:
    """Tensors of a safetensors file (all, or only `keys`), after header validation."""
    header = read_safetensors_header(path)
    wanted = [k for k in header if k != "__metadata__"] if keys is None else list(keys)
    try:
        with safe_open(path, framework="pt", device=device) as handle:
            return {key: handle.get_tensor(key) for key in wanted}
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"Could not read {os.path.basename(path)}: {exc}") from None


_CASTABLE = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def cast_floats(state_dict: Mapping[str, torch.Tensor], dtype: Optional[torch.dtype], device=None) -> dict:
    """Plain float tensors cast to `dtype` (None keeps theirs); fp8, integer and quantized tensors keep their
    dtype. Every plain tensor moves to `device` when given; tensor subclasses are left to their module."""
    out = {}
    for key, value in state_dict.items():
        if type(value) is torch.Tensor:
            target = dtype if dtype is not None and value.dtype in _CASTABLE else value.dtype
            value = value.to(device=device if device is not None else value.device, dtype=target)
        out[key] = value
    return out


def logical_shape(tensor: torch.Tensor) -> tuple:
    """The shape a tensor stands for: quantized tensors carry it as `logical_shape`."""
    return tuple(getattr(tensor, "logical_shape", tensor.shape))


def _describe_keys(keys: Iterable[str], limit: int = 8) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_strict(module: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], what: str) -> torch.nn.Module:
    """Load `state_dict` into `module` (typically built on the meta device) with `assign=True`.

    Fails with a `CheckpointError` naming missing and unexpected keys and shape mismatches.
    """
    expected = module.state_dict(keep_vars=True)
    missing = set(expected) - set(state_dict)
    unexpected = set(state_dict) - set(expected)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_describe_keys(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_describe_keys(unexpected)}")
    mismatched = [
        f"{k} (checkpoint {logical_shape(state_dict[k])}, model {tuple(expected[k].shape)})"
        for k in sorted(set(expected) & set(state_dict))
        if logical_shape(state_dict[k]) != tuple(expected[k].shape)
    ]
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatch(es): {', '.join(mismatched[:5])}")
    if problems:
        raise CheckpointError(
            f"The weights do not fit the {what}: " + "; ".join(problems)
            + ". Make sure the file is the right model and version for this loader."
        )
    module.load_state_dict(dict(state_dict), strict=True, assign=True)
    return module
