"""Reading GGUF files: a bounded parse of the header, then lazy memory-mapped tensors.

The file is memory-mapped copy-on-write (writes to a loaded tensor never reach the file; untouched
pages are never read). The header is parsed from the map with every count and length checked
against the bytes left, so a truncated, fuzzed or foreign file gives a `CheckpointError` quickly
instead of a crash, a hang or a huge allocation. (`gguf.GGUFReader` reads the same format and is the
test oracle; it is not used here because it builds Python objects per array element, which takes
tens of seconds for a Gemma vocabulary of 262k tokens.) F32/F16/BF16 tensors come back as plain
torch tensors viewing the map, every other type as a packed `QuantizedTensor`.
"""

import os
import struct
import warnings
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch

from ..errors import CheckpointError, UnsupportedFormatError
from . import dequant
from .tensor import QuantizedTensor

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_DIMS = 4
DEFAULT_ALIGNMENT = 32
ORIG_SHAPE_PREFIX = "comfy.gguf.orig_shape."
# GGUF value type id -> (struct format, byte size, numpy dtype); 8 = string, 9 = array.
_SCALARS = {
    0: ("<B", 1, np.uint8), 1: ("<b", 1, np.int8), 2: ("<H", 2, np.uint16), 3: ("<h", 2, np.int16),
    4: ("<I", 4, np.uint32), 5: ("<i", 4, np.int32), 6: ("<f", 4, np.float32), 7: ("<?", 1, np.bool_),
    10: ("<Q", 8, np.uint64), 11: ("<q", 8, np.int64), 12: ("<d", 8, np.float64),
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class TensorInfo:
    """One tensor entry of a GGUF header: `shape` in torch order (ggml order reversed)."""

    name: str
    qtype: int
    shape: Tuple[int, ...]
    offset: int  # relative to the data section


class _Cursor:
    """Bounds-checked little-endian reads over a byte buffer (the memory map)."""

    def __init__(self, buffer, name: str):
        self.buf, self.size, self.name, self.pos = buffer, len(buffer), name, 0

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(
            f"{self.name} is not a valid GGUF file ({what} at byte {self.pos}, file is {self.size} bytes). "
            "It is truncated or damaged: re-download it."
        )

    def need(self, count: int) -> None:
        if count < 0 or self.pos + count > self.size:
            raise self.fail("unexpected end of header")

    def unpack(self, fmt: str, size: int):
        self.need(size)
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += size
        return value

    def u32(self) -> int:
        return self.unpack("<I", 4)

    def u64(self) -> int:
        return self.unpack("<Q", 8)

    def raw_string(self) -> bytes:
        length = self.u64()
        self.need(length)
        data = bytes(self.buf[self.pos:self.pos + length])
        self.pos += length
        return data

    def string(self) -> str:
        raw = self.raw_string()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("a string that is not UTF-8") from None


def _read_value(cur: _Cursor, vtype: int, depth: int = 0) -> Any:
    """One metadata value: int / float / bool / str, or a list for arrays."""
    if vtype in _SCALARS:
        fmt, size, _ = _SCALARS[vtype]
        return cur.unpack(fmt, size)
    if vtype == _STRING:
        return cur.string()
    if vtype != _ARRAY:
        raise cur.fail(f"unknown metadata value type {vtype}")
    if depth > 2:
        raise cur.fail("arrays nested too deeply")
    sub, count = cur.u32(), cur.u64()
    if sub in _SCALARS:
        _, size, np_dtype = _SCALARS[sub]
        if count > (cur.size - cur.pos) // size:
            raise cur.fail(f"array of {count} elements")
        values = np.frombuffer(cur.buf, dtype=np.dtype(np_dtype).newbyteorder("<"), count=count, offset=cur.pos)
        cur.pos += count * size
        return values.tolist()
    if sub not in (_STRING, _ARRAY) or count > (cur.size - cur.pos) // 8:
        raise cur.fail(f"array of {count} elements of type {sub}")
    return [_read_value(cur, sub, depth + 1) for _ in range(count)]


def _parse(buffer, name: str) -> Tuple[Dict[str, Any], List[TensorInfo], int]:
    """(metadata fields, tensor entries, start of the data section) of a GGUF file's bytes."""
    size = len(buffer)
    cur = _Cursor(buffer, name)
    if size < 24 or bytes(buffer[:4]) != GGUF_MAGIC:
        raise CheckpointError(f"{name} is not a GGUF file (missing 'GGUF' magic). Pick a .gguf model file.")
    cur.pos = 4
    version = cur.u32()
    if version not in SUPPORTED_VERSIONS:
        if version & 0xFFFF == 0:
            raise UnsupportedFormatError(
                f"{name} is a big-endian GGUF file; only little-endian files are supported."
            )
        raise UnsupportedFormatError(f"{name} has GGUF version {version}; supported versions are 2 and 3.")
    tensor_count, kv_count = cur.u64(), cur.u64()
    if kv_count > (size - cur.pos) // 13 or tensor_count > (size - cur.pos) // 28:
        raise cur.fail(f"implausible counts ({tensor_count} tensors, {kv_count} metadata entries)")
    fields: Dict[str, Any] = {}
    for _ in range(kv_count):
        key = cur.string()
        fields[key] = _read_value(cur, cur.u32())
    alignment = fields.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0 or alignment & (alignment - 1):
        raise cur.fail("invalid general.alignment")
    infos: List[TensorInfo] = []
    seen = set()
    for _ in range(tensor_count):
        tensor_name = cur.string()
        n_dims = cur.u32()
        if not 1 <= n_dims <= MAX_DIMS:
            raise cur.fail(f"tensor with {n_dims} dimensions")
        dims = [cur.u64() for _ in range(n_dims)]
        qtype, offset = cur.u32(), cur.u64()
        if tensor_name in seen:
            raise cur.fail(f"duplicate tensor {tensor_name!r}")
        seen.add(tensor_name)
        if qtype not in dequant.GGML_TYPES:
            raise UnsupportedFormatError(
                f"{name}: tensor {tensor_name!r} has ggml type id {qtype}, unknown to this reader. "
                f"Supported quantizations: {', '.join(dequant.SUPPORTED_TYPES)}."
            )
        if any(d <= 0 or d >= 1 << 40 for d in dims) or offset % alignment:
            raise cur.fail(f"tensor {tensor_name!r} has invalid dimensions {dims} or offset {offset}")
        infos.append(TensorInfo(tensor_name, qtype, tuple(int(d) for d in reversed(dims)), offset))
    data_start = -(-cur.pos // alignment) * alignment
    for info in infos:
        _, block, type_size = dequant.GGML_TYPES[info.qtype]
        if info.shape[-1] % block:
            raise CheckpointError(f"{name}: tensor {info.name!r} row length {info.shape[-1]} is not a multiple of "
                                  f"the {dequant.type_name(info.qtype)} block size {block}. The file is damaged.")
        end = data_start + info.offset + _numel(info.shape) // block * type_size
        if end > size:
            raise CheckpointError(
                f"{name} is truncated: tensor {info.name!r} ends at byte {end} but the file has {size} bytes. "
                "Re-download the file."
            )
    return fields, infos, data_start


def _numel(shape) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _open_map(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise CheckpointError(f"GGUF file not found: {path!r}. Check the path or the models folder.")
    if os.path.getsize(path) < 24:
        raise CheckpointError(f"{os.path.basename(path)} is not a GGUF file (only {os.path.getsize(path)} bytes).")
    try:
        return np.memmap(path, dtype=np.uint8, mode="c")  # copy-on-write: writes never reach the file
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"Could not map {os.path.basename(path)}: {exc}") from None


def check_gguf_header(path: str) -> List[TensorInfo]:
    """Validate a GGUF file's header and tensor extents; returns the tensor entries.

    Raises CheckpointError for anything malformed or truncated, UnsupportedFormatError for a byte
    order or version this reader cannot handle and for tensor types unknown to ggml.
    """
    return _parse(_open_map(path), os.path.basename(path))[1]


class GGUFFile:
    """A validated, memory-mapped GGUF file: metadata fields and lazily mapped tensors."""

    def __init__(self, path: str):
        self.path = path
        self.name = os.path.basename(path)
        self._map = _open_map(path)
        self.fields, infos, self.data_start = _parse(self._map, self.name)
        self.infos: Dict[str, TensorInfo] = {}
        for info in infos:
            shape = self._orig_shape(info.name) or info.shape
            if _numel(shape) != _numel(info.shape):
                raise CheckpointError(f"{self.name}: tensor {info.name!r} has {_numel(info.shape)} values but its "
                                      f"recorded original shape is {shape}.")
            self.infos[info.name] = TensorInfo(info.name, info.qtype, shape, info.offset)

    def field(self, key: str, default: Any = None) -> Any:
        """A metadata value (int / float / bool / str, or a list for arrays), or `default` when absent."""
        return self.fields.get(key, default)

    def field_names(self) -> List[str]:
        return list(self.fields)

    def _orig_shape(self, tensor_name: str) -> Optional[Tuple[int, ...]]:
        value = self.field(ORIG_SHAPE_PREFIX + tensor_name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, int) and v > 0 for v in value):
            raise CheckpointError(f"{self.name}: bad original-shape metadata for tensor {tensor_name!r}.")
        return tuple(value)

    @property
    def architecture(self) -> Optional[str]:
        return self.field("general.architecture")

    def check_architecture(self, expected: Iterable[str], what: str) -> str:
        """The file's architecture, or a CheckpointError when it is not one of `expected`."""
        expected = tuple(expected)
        arch = self.architecture
        if arch is None:
            raise CheckpointError(
                f"{self.name} has no general.architecture field, so it cannot be identified as the "
                f"{' or '.join(repr(a) for a in expected)} model the {what} loader needs. Pick a llama.cpp / "
                "ComfyUI-GGUF style file or re-convert it with python -m ltx2_core.convert."
            )
        if arch not in expected:
            raise CheckpointError(
                f"{self.name} holds a {arch!r} model (general.architecture), but the {what} loader needs "
                f"{' or '.join(repr(a) for a in expected)}. Pick the matching GGUF file."
            )
        return arch

    def tensor_types(self) -> Dict[str, int]:
        """How many tensors of each ggml type the file holds (e.g. {'Q4_K': 300, 'F32': 500})."""
        counts: Dict[str, int] = {}
        for info in self.infos.values():
            key = dequant.type_name(info.qtype)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def tensor(self, name: str, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
        """Tensor `name`: plain (F32/F16/BF16, memory-mapped) or a QuantizedTensor with nominal `dtype`."""
        info = self.infos.get(name)
        if info is None:
            raise CheckpointError(f"{self.name} has no tensor {name!r}.")
        qname = dequant.check_supported(info.qtype, f"{self.name}: tensor {name!r}")
        _, block, type_size = dequant.GGML_TYPES[info.qtype]
        start = self.data_start + info.offset
        nbytes = _numel(info.shape) // block * type_size
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            raw = torch.from_numpy(self._map[start:start + nbytes])
        if qname in dequant.FLOAT_TYPES:
            return raw.view(dequant.FLOAT_TYPES[qname]).view(info.shape)
        return QuantizedTensor(raw, qname, info.shape, dtype=dtype)

    def state_dict(
        self, dtype: torch.dtype = torch.bfloat16, names: Optional[Iterable[str]] = None
    ) -> Dict[str, torch.Tensor]:
        """All (or the `names`) tensors; fails once, naming every tensor of an unsupported type."""
        names = list(self.infos) if names is None else list(names)
        bad = [f"{n} ({dequant.type_name(self.infos[n].qtype)})" for n in names
               if n in self.infos and dequant.type_name(self.infos[n].qtype) not in dequant.KERNELS]
        if bad:
            types = sorted({b.split("(")[-1].rstrip(")") for b in bad})
            raise UnsupportedFormatError(
                f"{self.name} uses GGUF quantization type(s) {', '.join(types)} that this pack cannot dequantize "
                f"({len(bad)} tensors, e.g. {bad[0]}). Supported: {', '.join(dequant.SUPPORTED_TYPES)}."
            )
        return {n: self.tensor(n, dtype) for n in names}
