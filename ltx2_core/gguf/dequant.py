"""Torch dequantization of ggml block formats, vectorized over all blocks, on any device.

Each `_dq_*` kernel takes the packed bytes as a uint8 tensor of shape (n_blocks, type_size) and returns
float32 values of shape (n_blocks, block_size). The arithmetic mirrors ggml's reference order of
operations in float32 (scale products first, then one multiply and one subtract), so the result equals
`gguf.quants.dequantize` bit for bit; the cast to the compute dtype happens last.

Layouts (QK_K = 256 values per super-block, little-endian fp16 scales `d`/`dmin`):
  Q4_0  d | 16 B nibbles               x = d * (q - 8)          low nibbles = values 0..15
  Q4_1  d m | 16 B nibbles             x = d * q + m
  Q5_0  d | 4 B high bits | 16 B       x = d * (q - 16)
  Q5_1  d m | 4 B high bits | 16 B     x = d * q + m
  Q8_0  d | 32 int8                    x = d * q
  Q2_K  16 B scales | 64 B 2-bit | d dmin        16 groups of 16
  Q3_K  32 B high mask | 64 B 2-bit | 12 B 6-bit scales | d
  Q4_K  d dmin | 12 B 6-bit scales+mins | 128 B nibbles   8 groups of 32
  Q5_K  d dmin | 12 B scales+mins | 32 B high bits | 128 B nibbles
  Q6_K  128 B low nibbles | 64 B 2-bit highs | 16 int8 scales | d
  IQ4_NL / IQ4_XS  non-linear 16-entry codebook (`IQ4_VALUES`), XS with 6-bit group scales
"""

import functools
from typing import Callable, Dict, Optional, Tuple

import torch

from ..errors import UnsupportedFormatError

QK_K = 256
IQ4_VALUES = (-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113)

# ggml type id -> (name, block_size, type_size); ids follow ggml.h / gguf.GGMLQuantizationType.
GGML_TYPES: Dict[int, Tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
}
TYPE_IDS: Dict[str, int] = {name: tid for tid, (name, _, _) in GGML_TYPES.items()}
FLOAT_TYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def type_name(qtype: int) -> str:
    """The ggml name of a type id (`"Q4_K"`), or `"type <id>"` for ids this table does not know."""
    entry = GGML_TYPES.get(int(qtype))
    return entry[0] if entry else f"type {int(qtype)}"


def _f16(blocks: torch.Tensor, start: int) -> torch.Tensor:
    """The fp16 scalar at byte `start` of each block as float32, shape (n, 1)."""
    return blocks[:, start:start + 2].contiguous().view(torch.float16).to(torch.float32)


def _byte_mask(byte: int) -> int:
    """`byte` repeated in all 8 bytes of a (signed) int64."""
    value = int.from_bytes(bytes([byte]) * 8, "little")
    return value - (1 << 64) if value >= 1 << 63 else value


def _group_words(blocks: torch.Tensor, start: int, stop: int, group: int) -> torch.Tensor:
    """Bytes start:stop of every block as int64 words, split in groups of `group` bytes: (n, groups, group / 8).

    A view of the blocks when rows and offsets are 8-byte aligned (Q4_K, Q5_K, IQ4_XS), else a copy.
    """
    aligned = (blocks.is_contiguous() and blocks.shape[1] % 8 == 0 and start % 8 == 0
               and blocks.data_ptr() % 8 == 0)
    words = (blocks.view(torch.int64)[:, start // 8:stop // 8] if aligned
             else blocks[:, start:stop].contiguous().view(torch.int64))
    return words.unflatten(1, ((stop - start) // group, group // 8))


def _fields(packed: torch.Tensor, shifts, mask: int) -> torch.Tensor:
    """Bit fields of every byte, computed 8 bytes at a time on int64 words.

    packed: int64 words (..., k / 8) or uint8 bytes (..., k), k % 8 == 0 -> (..., len(shifts) * k)
    uint8 where entry [s * k + j] is `(byte j >> shifts[s]) & mask`. Shifted-in sign bits never
    reach the masked low bits.
    """
    words = packed if packed.dtype == torch.int64 else packed.contiguous().view(torch.int64)
    wide_mask = _byte_mask(mask)
    parts = [words & wide_mask if s == 0 else (words >> s) & wide_mask for s in shifts]
    return torch.cat(parts, dim=-1).view(torch.uint8)


def _nibbles(packed: torch.Tensor) -> torch.Tensor:
    """(..., k) bytes (or k / 8 words) -> (..., 2k): the k low nibbles, then the k high nibbles."""
    return _fields(packed, (0, 4), 0x0F)


@functools.lru_cache(maxsize=None)
def _spread_table(device: torch.device) -> torch.Tensor:
    """(256,) int64: byte b -> 8 bytes holding its bits 0..7 (value 0 or 1 each)."""
    bits = (torch.arange(256, device=device).unsqueeze(1) >> torch.arange(8, device=device)) & 1
    return (bits << (8 * torch.arange(8, device=device))).sum(dim=1)


def _high_bits32(raw4: torch.Tensor) -> torch.Tensor:
    """(n, 4) bytes of a little-endian bit mask -> (n, 32) uint8 bits, bit i = value i."""
    index = raw4.reshape(-1).to(torch.int32)  # index_select with int32 ids is much faster than [long]
    return torch.index_select(_spread_table(raw4.device), 0, index).view(torch.uint8).view(-1, 32)


@functools.lru_cache(maxsize=None)
def _iq4_codebook(device: torch.device) -> torch.Tensor:
    """The IQ4 codebook on `device` (cached per device: no host-to-device copy per call)."""
    return torch.tensor(IQ4_VALUES, dtype=torch.int8).to(device)


def _dq_q4_0(blocks: torch.Tensor, out: torch.Tensor) -> None:
    q = _nibbles(_group_words(blocks, 2, 18, 16)).view(-1, 32).view(torch.int8) - 8  # exact in int8
    out.copy_(q).mul_(_f16(blocks, 0))


def _dq_q4_1(blocks: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(_nibbles(_group_words(blocks, 4, 20, 16)).view(-1, 32)).mul_(_f16(blocks, 0)).add_(_f16(blocks, 2))


def _dq_q5_0(blocks: torch.Tensor, out: torch.Tensor) -> None:
    low = _nibbles(_group_words(blocks, 6, 22, 16)).view(-1, 32)
    q = (low | (_high_bits32(blocks[:, 2:6]) << 4)).view(torch.int8) - 16
    out.copy_(q).mul_(_f16(blocks, 0))


def _dq_q5_1(blocks: torch.Tensor, out: torch.Tensor) -> None:
    q = _nibbles(_group_words(blocks, 8, 24, 16)).view(-1, 32) | (_high_bits32(blocks[:, 4:8]) << 4)
    out.copy_(q).mul_(_f16(blocks, 0)).add_(_f16(blocks, 2))


def _dq_q8_0(blocks: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(blocks[:, 2:].view(torch.int8)).mul_(_f16(blocks, 0))


def _dq_q2_k(blocks: torch.Tensor, out: torch.Tensor) -> None:
    n = blocks.shape[0]
    scales = blocks[:, :16]
    d, dmin = _f16(blocks, 80), _f16(blocks, 82)
    dl = (d * (scales & 0x0F)).view(n, 16, 1)
    ml = (dmin * (scales >> 4)).view(n, 16, 1)
    q = _fields(_group_words(blocks, 16, 80, 32), (0, 2, 4, 6), 3)  # (n, 2, 4 * 32)
    out.view(n, 16, 16).copy_(q.view(n, 16, 16)).mul_(dl).sub_(ml)


def _dq_q3_k(blocks: torch.Tensor, out: torch.Tensor) -> None:
    n = blocks.shape[0]
    packed = blocks[:, 96:108]
    shifts = torch.arange(0, 8, 2, dtype=torch.uint8, device=blocks.device).view(4, 1)
    low = (packed[:, :8].unsqueeze(1) >> (2 * shifts[:2])) & 0x0F  # (n, 2, 8): shifts 0 and 4
    high = (packed[:, 8:12].unsqueeze(1) >> shifts) & 3  # (n, 4, 4)
    scales = (low.reshape(n, 16) | (high.reshape(n, 16) << 4)).view(torch.int8) - 32
    dl = (_f16(blocks, 108) * scales).view(n, 16, 1)
    ql = _fields(_group_words(blocks, 32, 96, 32), (0, 2, 4, 6), 3).view(n, 256)
    hbit = _fields(_group_words(blocks, 0, 32, 32), tuple(range(8)), 1).view(n, 256)  # 1 = no offset
    q = (ql | (hbit << 2)).view(torch.int8) - 4  # values ql - 4 * (1 - hbit)
    out.view(n, 16, 16).copy_(q.view(n, 16, 16)).mul_(dl)


def _k_scale_min(packed: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """12 bytes of 6-bit (scale, min) pairs for 8 groups -> two (n, 8) uint8 tensors."""
    n = packed.shape[0]
    rows = packed.reshape(n, 3, 4)
    d, m, md = rows[:, 0], rows[:, 1], rows[:, 2]
    scale = torch.cat((d & 0x3F, (md & 0x0F) | ((d >> 2) & 0x30)), dim=-1)
    minimum = torch.cat((m & 0x3F, (md >> 4) | ((m >> 2) & 0x30)), dim=-1)
    return scale, minimum


def _dq_q4_k(blocks: torch.Tensor, out: torch.Tensor) -> None:
    n = blocks.shape[0]
    sc, mn = _k_scale_min(blocks[:, 4:16])
    dl = (_f16(blocks, 0) * sc).view(n, 8, 1)
    ml = (_f16(blocks, 2) * mn).view(n, 8, 1)
    q = _nibbles(_group_words(blocks, 16, 144, 32))  # (n, 4, 64)
    out.view(n, 8, 32).copy_(q.view(n, 8, 32)).mul_(dl).sub_(ml)


def _dq_q5_k(blocks: torch.Tensor, out: torch.Tensor) -> None:
    n = blocks.shape[0]
    sc, mn = _k_scale_min(blocks[:, 4:16])
    dl = (_f16(blocks, 0) * sc).view(n, 8, 1)
    ml = (_f16(blocks, 2) * mn).view(n, 8, 1)
    low = _nibbles(_group_words(blocks, 48, 176, 32)).view(n, 256)
    high = _fields(_group_words(blocks, 16, 48, 32), tuple(range(8)), 1).view(n, 256)  # (n, 8 * 32)
    q = low | (high << 4)
    out.view(n, 8, 32).copy_(q.view(n, 8, 32)).mul_(dl).sub_(ml)


def _dq_q6_k(blocks: torch.Tensor, out: torch.Tensor) -> None:
    n = blocks.shape[0]
    scales = blocks[:, 192:208].view(torch.int8)
    dl = (_f16(blocks, 208) * scales).view(n, 16, 1)
    low = _nibbles(_group_words(blocks, 0, 128, 64)).view(n, 256)
    high = _fields(_group_words(blocks, 128, 192, 32), (0, 2, 4, 6), 3).view(n, 256)
    q = (low | (high << 4)).view(torch.int8) - 32
    out.view(n, 16, 16).copy_(q.view(n, 16, 16)).mul_(dl)


def _dq_iq4_nl(blocks: torch.Tensor, out: torch.Tensor) -> None:
    idx = _nibbles(_group_words(blocks, 2, 18, 16)).view(-1).to(torch.int32)
    values = torch.index_select(_iq4_codebook(blocks.device), 0, idx)
    out.copy_(values.view(-1, 32)).mul_(_f16(blocks, 0))


def _dq_iq4_xs(blocks: torch.Tensor, out: torch.Tensor) -> None:
    n = blocks.shape[0]
    scales_h = blocks[:, 2:4].contiguous().view(torch.int16)  # (n, 1)
    shifts = torch.arange(0, 16, 2, dtype=torch.int16, device=blocks.device)
    high = ((scales_h >> shifts) & 3).to(torch.uint8)  # (n, 8)
    low = (blocks[:, 4:8].unsqueeze(-1) >> torch.arange(0, 8, 4, dtype=torch.uint8, device=blocks.device)) & 0x0F
    scales = (low.reshape(n, 8) | (high << 4)).view(torch.int8) - 32  # group g = 2 * byte + half
    dl = (_f16(blocks, 0) * scales).view(n, 8, 1)
    idx = _nibbles(_group_words(blocks, 8, 136, 16)).view(-1).to(torch.int32)
    values = torch.index_select(_iq4_codebook(blocks.device), 0, idx)
    out.view(n, 8, 32).copy_(values.view(n, 8, 32)).mul_(dl)


def _dq_bf16(blocks: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(blocks.contiguous().view(torch.bfloat16))


def _dq_f16(blocks: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(blocks.contiguous().view(torch.float16))


def _dq_f32(blocks: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(blocks.contiguous().view(torch.float32))


KERNELS: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "F32": _dq_f32, "F16": _dq_f16, "BF16": _dq_bf16,
    "Q4_0": _dq_q4_0, "Q4_1": _dq_q4_1, "Q5_0": _dq_q5_0, "Q5_1": _dq_q5_1, "Q8_0": _dq_q8_0,
    "Q2_K": _dq_q2_k, "Q3_K": _dq_q3_k, "Q4_K": _dq_q4_k, "Q5_K": _dq_q5_k, "Q6_K": _dq_q6_k,
    "IQ4_NL": _dq_iq4_nl, "IQ4_XS": _dq_iq4_xs,
}
SUPPORTED_TYPES = tuple(KERNELS)


def check_supported(qtype: int, what: str = "tensor") -> str:
    """The type's name, or an UnsupportedFormatError naming it and the supported ones."""
    name = type_name(qtype)
    if name not in KERNELS:
        raise UnsupportedFormatError(
            f"{what} uses the GGUF quantization type {name}, which this pack cannot dequantize. "
            f"Supported: {', '.join(SUPPORTED_TYPES)}. Use a file quantized with one of these."
        )
    return name


def packed_row_bytes(qtype: int, row_len: int) -> int:
    """Bytes of one packed row of `row_len` values (row_len must be a multiple of the block size)."""
    _, block, size = GGML_TYPES[int(qtype)]
    return row_len // block * size


def dequantize(
    packed: torch.Tensor, qtype: int, shape, dtype: torch.dtype = torch.float32, chunk_values: int = 1 << 20,
    out: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Unpack `packed` (uint8 bytes in ggml order) of ggml type `qtype` into a `shape` tensor of `dtype`.

    Runs on `packed`'s device, `chunk_values` values at a time so the integer and float32 temporaries
    stay small (and cache-resident on CPU); float32 results are written straight into the output.
    `out` (contiguous, `shape`, `dtype`, on the same device) is filled instead of a new tensor.
    """
    name = check_supported(qtype)
    _, block, size = GGML_TYPES[int(qtype)]
    if name in FLOAT_TYPES and packed.dtype == FLOAT_TYPES[name]:
        return packed.reshape(shape).to(dtype) if out is None else out.view(shape).copy_(packed.reshape(shape))
    raw = packed.reshape(-1)
    if raw.dtype != torch.uint8:
        raw = raw.view(torch.uint8)
    if raw.numel() % size:
        raise UnsupportedFormatError(f"{name} data of {raw.numel()} bytes is not a whole number of {size}-byte blocks.")
    blocks = raw.view(-1, size)
    kernel = KERNELS[name]
    if out is None:
        out = torch.empty((blocks.shape[0], block), dtype=dtype, device=packed.device)
    elif out.dtype != dtype or out.numel() != blocks.shape[0] * block or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous {dtype} tensor of {blocks.shape[0] * block} values")
    out = out.view(blocks.shape[0], block)
    step = max(1, chunk_values // block)
    scratch = None
    for start in range(0, blocks.shape[0], step):
        target = out[start:start + step]
        if dtype == torch.float32:
            kernel(blocks[start:start + step], target)
            continue
        if scratch is None:
            scratch = torch.empty((min(step, blocks.shape[0]), block), dtype=torch.float32, device=packed.device)
        work = scratch[:target.shape[0]]
        kernel(blocks[start:start + step], work)
        target.copy_(work)
    return out.view(shape)
