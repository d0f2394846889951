"""Torch dequantization of ggml block formats, vectorized over all blocks, on any device.

Each `_dq_*` kernel takes the packed bytes as a uint8 tensor of shape (n_blocks, type_size) and writes
float32 values of shape (n_blocks, block_size) into `out`, keeping its temporaries in a `_Scratch` reused
by every chunk. The arithmetic mirrors ggml's reference order of operations in float32 (scale products
first, then one multiply and one subtract), so the result equals `gguf.quants.dequantize` bit for bit; the
cast to the compute dtype happens last.

Speed (CPU, where this is memory-bound): bit fields are cut from int64 words 8 bytes at a time, strided
gathers use the widest integer element the block layout allows, field groups are concatenated as float64
(bit moves only, ATen's fast cat path), int8 / uint8 values are converted and scaled in a float32 scratch
so only the last operation streams into the output (for a bf16 / fp16 output that is the cast copy: an
fp32 arithmetic op writing another dtype leaves ATen's vectorized path; those three passes run on pieces
of 128 Ki values that stay in L2, 8-18 % faster than over a whole 1 Mi-value chunk), and large CPU outputs
and scratch come from numpy allocations, which the kernel backs with transparent huge pages (far fewer
page faults).

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

import numpy as np
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


class _Scratch:
    """Temporaries reused by every chunk of one `dequantize` call, keyed by name.

    Kernels write into these buffers with `out=` / in-place operations instead of allocating per chunk (a
    fresh multi-MiB CPU tensor is a new memory map, page-faulted again each time). On CPU the buffers are
    carved from one numpy-allocated arena, which gets transparent huge pages (see `_new_output`); it is
    only virtual memory until touched, so it is sized generously (`arena_bytes`).
    """

    def __init__(self, device: torch.device, arena_bytes: int):
        self.device = device
        self.buffers: Dict[str, torch.Tensor] = {}
        self.arena = _new_output((1, arena_bytes), torch.uint8, device).view(-1) if device.type == "cpu" else None
        self.used = 0

    def get(self, key: str, shape, dtype: torch.dtype) -> torch.Tensor:
        numel = 1
        for size in shape:
            numel *= size
        buf = self.buffers.get(key)
        if buf is None or buf.dtype != dtype or buf.numel() < numel:
            nbytes = numel * dtype.itemsize
            if self.arena is not None and self.used + nbytes <= self.arena.numel():
                buf = self.arena[self.used:self.used + nbytes].view(dtype)
                self.used += -(-nbytes // 64) * 64  # keep every buffer 64-byte aligned
            else:
                buf = torch.empty(numel, dtype=dtype, device=self.device)
            self.buffers[key] = buf
        return buf[:numel].view(shape)

    def copy(self, key: str, src: torch.Tensor, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """A contiguous copy of `src` (converted to `dtype`) in the buffer `key`."""
        return self.get(key, src.shape, dtype or src.dtype).copy_(src)


def _unit_view(blocks: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Bytes start:stop of every block as a (strided) view with the widest integer element dividing the layout.

    Copying a strided slice costs per element, so 16 payload bytes at offset 2 of an 18-byte block are
    gathered as 8 int16 rather than 16 uint8 values. Falls back to uint8 for unaligned storage.
    """
    for unit, dtype in ((8, torch.int64), (4, torch.int32), (2, torch.int16)):
        if (start % unit == 0 and stop % unit == 0 and blocks.shape[1] % unit == 0 and blocks.stride(1) == 1
                and blocks.stride(0) % unit == 0 and blocks.data_ptr() % unit == 0):
            return blocks.view(dtype)[:, start // unit:stop // unit]
    return blocks[:, start:stop]


def _bytes(blocks: torch.Tensor, start: int, stop: int, ws: _Scratch, key: str) -> torch.Tensor:
    """Bytes start:stop of every block, contiguous (n, stop - start) uint8, gathered with wide elements."""
    return ws.copy(key, _unit_view(blocks, start, stop)).view(torch.uint8)


def _f16(blocks: torch.Tensor, start: int) -> torch.Tensor:
    """The fp16 scalar at byte `start` of each block as float32, shape (n, 1)."""
    half = _unit_view(blocks, start, start + 2)
    return (half.contiguous() if half.dtype == torch.uint8 else half).view(torch.float16).to(torch.float32)


def _byte_mask(byte: int) -> int:
    """`byte` repeated in all 8 bytes of a (signed) int64."""
    value = int.from_bytes(bytes([byte]) * 8, "little")
    return value - (1 << 64) if value >= 1 << 63 else value


def _group_words(blocks: torch.Tensor, start: int, stop: int, group: int, ws: _Scratch) -> torch.Tensor:
    """Bytes start:stop of every block as int64 words, split in groups of `group` bytes: (n, groups, group / 8).

    A view of the blocks when rows and offsets are 8-byte aligned (Q4_1, Q5_1, Q4_K, Q5_K, IQ4_XS), else a
    copy gathered with the widest element the layout allows.
    """
    words = _unit_view(blocks, start, stop)
    if words.dtype != torch.int64:
        words = ws.copy(f"words{start}", words).view(torch.uint8).view(torch.int64)
    return words.unflatten(1, ((stop - start) // group, group // 8))


def _fields(words: torch.Tensor, shifts, mask: int, ws: _Scratch, key: str) -> torch.Tensor:
    """Bit fields of every byte, computed 8 bytes at a time.

    words: int64 (..., k / 8) holding k bytes -> int64 (..., len(shifts) * k / 8) whose byte [s * k + j] is
    `(byte j >> shifts[s]) & mask`. Shifted-in sign bits never reach the masked low bits.
    """
    wide_mask = _byte_mask(mask)
    # cat only moves bits; on CPU float64 takes ATen's fast contiguous cat path (int64 is copied word by word)
    carrier = torch.float64 if words.device.type == "cpu" else torch.int64
    if len(shifts) > 2 and not words.is_contiguous():
        words = ws.copy(f"{key}.words", words)  # one strided read instead of one per field
    parts = []
    for i, shift in enumerate(shifts):
        part = ws.get(f"{key}.{i}", words.shape, torch.int64)
        if shift == 0:
            torch.bitwise_and(words, wide_mask, out=part)
        else:
            torch.bitwise_right_shift(words, shift, out=part).bitwise_and_(wide_mask)
        parts.append(part.view(carrier))
    joined = ws.get(key, (*words.shape[:-1], words.shape[-1] * len(shifts)), carrier)
    return torch.cat(parts, dim=-1, out=joined).view(torch.int64)


def _nibbles(words: torch.Tensor, ws: _Scratch, key: str = "nibbles") -> torch.Tensor:
    """(..., k / 8) words of k bytes -> (..., k / 4) words: the k low nibbles, then the k high nibbles."""
    return _fields(words, (0, 4), 0x0F, ws, key)


@functools.lru_cache(maxsize=None)
def _spread_table(device: torch.device) -> torch.Tensor:
    """(256,) int64: byte b -> 8 bytes holding its bits 0..7 (value 0 or 1 each)."""
    bits = (torch.arange(256, device=device).unsqueeze(1) >> torch.arange(8, device=device)) & 1
    return (bits << (8 * torch.arange(8, device=device))).sum(dim=1)


def _high_bits32(raw4: torch.Tensor, ws: _Scratch) -> torch.Tensor:
    """(n, 4) contiguous bytes of a little-endian bit mask -> (n, 4) int64 words of bytes 0/1, byte i = bit i."""
    index = ws.copy("hb.index", raw4, torch.int32).view(-1)  # index_select with int32 ids beats [long]
    bits = ws.get("hb", index.shape, torch.int64)
    return torch.index_select(_spread_table(raw4.device), 0, index, out=bits).view(-1, 4)


@functools.lru_cache(maxsize=None)
def _iq4_pair_table(device: torch.device) -> torch.Tensor:
    """(0x0F10,) int64 on `device` whose entry a | b << 8 (a, b < 16) holds the float32 codebook values
    of a and b (bit patterns; the int64 view only moves the two together).

    Looking up two nibbles at once halves the gathered elements, and the results land as float32 already
    in value order. Cached per device.
    """
    index = torch.arange(0x0F10)
    codes = torch.tensor(IQ4_VALUES, dtype=torch.float32)
    pairs = torch.stack((codes[index & 0x0F], codes[(index >> 8) & 0x0F]), dim=1)  # (0x0F10, 2)
    return pairs.view(torch.int64).view(-1).to(device)


def _iq4_values(nibbles: torch.Tensor, ws: _Scratch) -> torch.Tensor:
    """Float32 codebook values (flat, in the float32 scratch) of the nibble bytes in `nibbles` (int64 words)."""
    index = ws.copy("iq4.index", nibbles.view(torch.int16).view(-1), torch.int32)  # int32 ids beat [long]
    values = ws.get("work", (2 * index.numel(),), torch.float32)
    torch.index_select(_iq4_pair_table(nibbles.device), 0, index, out=values.view(torch.int64))
    return values


AFFINE_PIECE_VALUES = 1 << 17  # float stage of a bf16 / fp16 output in L2-sized pieces (512 KiB of float32)


def _affine(q: torch.Tensor, scale: torch.Tensor, out: torch.Tensor, ws: _Scratch,
            offset: Optional[torch.Tensor] = None, subtract: bool = False) -> None:
    """out = q * scale (+ or - offset) in float32, ggml's rounding order (product rounded, then the offset).

    The conversion and the product run in a float32 scratch (float32 `q` is taken as that scratch); only the
    last operation writes `out`, so the big output is streamed through once. For a bf16 / fp16 output on the
    CPU the three passes (convert, scale, cast) run on pieces of `AFFINE_PIECE_VALUES` values, which stay in
    the core's L2 cache between passes. q (n, g, k) broadcasts against (n, g, 1) scales.
    """
    out = out.view(q.shape)
    if out.dtype != torch.float32:  # an fp32 op writing another dtype takes ATen's slow casting loop
        rows = q.shape[0] if q.device.type != "cpu" else max(1, AFFINE_PIECE_VALUES * q.shape[0] // q.numel())
        for start in range(0, q.shape[0], rows):
            piece = q[start:start + rows]
            work = piece if piece.dtype == torch.float32 else ws.get("work", piece.shape, torch.float32).copy_(piece)
            work.mul_(scale[start:start + rows])
            if offset is not None:
                part = offset[start:start + rows]
                work.sub_(part) if subtract else work.add_(part)
            out[start:start + rows].copy_(work)
        return
    work = q if q.dtype == torch.float32 else ws.get("work", q.shape, torch.float32).copy_(q)
    if offset is None:
        torch.mul(work, scale, out=out)
    elif subtract:
        torch.sub(work.mul_(scale), offset, out=out)
    else:
        torch.add(work.mul_(scale), offset, out=out)


def _dq_q4_0(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    q = _nibbles(_group_words(blocks, 2, 18, 16, ws), ws).view(torch.int8).view(-1, 32).sub_(8)  # exact in int8
    _affine(q, _f16(blocks, 0), out, ws)


def _dq_q4_1(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    q = _nibbles(_group_words(blocks, 4, 20, 16, ws), ws).view(torch.uint8).view(-1, 32)
    _affine(q, _f16(blocks, 0), out, ws, _f16(blocks, 2))


def _q5_values(blocks: torch.Tensor, start: int, ws: _Scratch) -> torch.Tensor:
    """Q5_0/Q5_1 5-bit values (n, 32) uint8: 4 bytes of high bits at `start`, then 16 bytes of nibbles."""
    low = _nibbles(_group_words(blocks, start + 4, start + 20, 16, ws), ws).view(-1, 4)
    high = _high_bits32(_bytes(blocks, start, start + 4, ws, "hb.bytes").view(-1, 4), ws)
    return low.bitwise_or_(high.bitwise_left_shift_(4)).view(torch.uint8).view(-1, 32)


def _dq_q5_0(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    _affine(_q5_values(blocks, 2, ws).view(torch.int8).sub_(16), _f16(blocks, 0), out, ws)


def _dq_q5_1(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    _affine(_q5_values(blocks, 4, ws), _f16(blocks, 0), out, ws, _f16(blocks, 2))


def _dq_q8_0(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    q = blocks[:, 2:34].view(torch.int8)  # converted to float32 straight from the strided bytes (one pass)
    _affine(q, _f16(blocks, 0), out, ws)


def _dq_q2_k(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    n = blocks.shape[0]
    scales = _bytes(blocks, 0, 16, ws, "scales")
    dl = (_f16(blocks, 80) * (scales & 0x0F)).view(n, 16, 1)
    ml = (_f16(blocks, 82) * (scales >> 4)).view(n, 16, 1)
    q = _fields(_group_words(blocks, 16, 80, 32, ws), (0, 2, 4, 6), 3, ws, "q")  # (n, 2, 4 * 4) words
    _affine(q.view(torch.uint8).view(n, 16, 16), dl, out, ws, ml, subtract=True)


def _q3_scales(blocks: torch.Tensor, ws: _Scratch) -> torch.Tensor:
    """Q3_K group scales d * (s - 32), (n, 16, 1) float32, from the 12 bytes at 96: scale g has its low nibble
    in byte g % 8 (shift 4 * (g // 8)) and its top 2 bits in byte 8 + g % 4 (shift 2 * (g // 4)).
    """
    n = blocks.shape[0]
    words = _bytes(blocks, 96, 108, ws, "scales").view(torch.int32)  # (n, 3): low nibbles x 2, top bits
    lo, hi = words[:, 0:2], words[:, 2:3]
    low4, two = 0x0F0F0F0F, 0x03030303
    low = torch.cat((lo & low4, (lo >> 4) & low4), dim=1)  # (n, 4) words: groups 0-15
    high = torch.cat([(hi >> shift) & two if shift else hi & two for shift in (0, 2, 4, 6)], dim=1)
    scales = low.bitwise_or_(high.bitwise_left_shift_(4)).view(torch.int8).sub_(32)  # (n, 16)
    return (_f16(blocks, 108) * scales).view(n, 16, 1)


def _dq_q3_k(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    n = blocks.shape[0]
    ql = _fields(_group_words(blocks, 32, 96, 32, ws), (0, 2, 4, 6), 3, ws, "ql").view(n, -1)
    hbit = _fields(_group_words(blocks, 0, 32, 32, ws), tuple(range(8)), 1, ws, "hbit").view(n, -1)  # 1: no offset
    q = ql.bitwise_or_(hbit.bitwise_left_shift_(2)).view(torch.int8).sub_(4)  # values ql - 4 * (1 - hbit)
    _affine(q.view(n, 16, 16), _q3_scales(blocks, ws), out, ws)


def _k_scales(blocks: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Q4_K/Q5_K group scales: (dl, ml), each (n, 8, 1) float32, dl = d * scale, ml = dmin * min.

    The 16-byte header is fp16 d, dmin, then 8 6-bit (scale, min) pairs in words sd, sm, hi: groups 0-3 are
    the low 6 bits of sd / sm, groups 4-7 the nibbles of hi plus the top 2 bits of sd / sm. Unpacked 4 groups
    at a time on int32 words of a contiguous copy of the header (small ops on strided bytes cost more).
    """
    n = blocks.shape[0]
    header = _unit_view(blocks, 0, 16).contiguous().view(torch.uint8).view(torch.int32)  # (n, 4)
    sd, sm, hi = header[:, 1:2], header[:, 2:3], header[:, 3:4]
    six, low4, top2 = 0x3F3F3F3F, 0x0F0F0F0F, 0x30303030
    scale = torch.cat((sd & six, (hi & low4) | ((sd >> 2) & top2)), dim=1).view(torch.uint8)  # (n, 8)
    minimum = torch.cat((sm & six, ((hi >> 4) & low4) | ((sm >> 2) & top2)), dim=1).view(torch.uint8)
    d = header.view(torch.float16)[:, 0:1].to(torch.float32)
    dmin = header.view(torch.float16)[:, 1:2].to(torch.float32)
    return (d * scale).view(n, 8, 1), (dmin * minimum).view(n, 8, 1)


def _dq_q4_k(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    n = blocks.shape[0]
    dl, ml = _k_scales(blocks)
    q = _nibbles(_group_words(blocks, 16, 144, 32, ws), ws).view(torch.uint8)  # (n, 4, 64)
    _affine(q.view(n, 8, 32), dl, out, ws, ml, subtract=True)


def _dq_q5_k(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    n = blocks.shape[0]
    dl, ml = _k_scales(blocks)
    low = _nibbles(_group_words(blocks, 48, 176, 32, ws), ws).view(n, -1)
    high = _fields(_group_words(blocks, 16, 48, 32, ws), tuple(range(8)), 1, ws, "high").view(n, -1)
    q = low.bitwise_or_(high.bitwise_left_shift_(4)).view(torch.uint8)
    _affine(q.view(n, 8, 32), dl, out, ws, ml, subtract=True)


def _dq_q6_k(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    n = blocks.shape[0]
    dl = (_f16(blocks, 208) * _bytes(blocks, 192, 208, ws, "scales").view(torch.int8)).view(n, 16, 1)
    low = _nibbles(_group_words(blocks, 0, 128, 64, ws), ws).view(n, -1)
    high = _fields(_group_words(blocks, 128, 192, 32, ws), (0, 2, 4, 6), 3, ws, "high").view(n, -1)
    q = low.bitwise_or_(high.bitwise_left_shift_(4)).view(torch.int8).sub_(32)
    _affine(q.view(n, 16, 16), dl, out, ws)


def _dq_iq4_nl(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    values = _iq4_values(_nibbles(_group_words(blocks, 2, 18, 16, ws), ws), ws)
    _affine(values.view(-1, 32), _f16(blocks, 0), out, ws)


def _iq4_xs_scales(blocks: torch.Tensor) -> torch.Tensor:
    """IQ4_XS group scales d * (s - 32), (n, 8, 1) float32: bytes 2:4 hold the top 2 bits of group g at bit
    2g (little-endian), bytes 4:8 the low nibbles of groups 2j, 2j + 1 in byte j (low, high nibble).
    """
    n = blocks.shape[0]
    header = _unit_view(blocks, 0, 8).contiguous().view(torch.uint8).view(torch.int32)  # (n, 2)
    top, packed = header[:, 0:1] >> 16, header[:, 1:2]
    low = torch.stack(((packed & 0x0F0F0F0F).view(torch.uint8), ((packed >> 4) & 0x0F0F0F0F).view(torch.uint8)),
                      dim=-1).view(n, 8)  # (n, 4, 2) -> groups 0..7
    high = (top >> torch.arange(0, 16, 2, dtype=torch.int32, device=blocks.device)) & 3  # (n, 8)
    scales = low.bitwise_or_((high << 4).to(torch.uint8)).view(torch.int8).sub_(32)
    d = header.view(torch.float16)[:, 0:1].to(torch.float32)
    return (d * scales).view(n, 8, 1)


def _dq_iq4_xs(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    n = blocks.shape[0]
    values = _iq4_values(_nibbles(_group_words(blocks, 8, 136, 16, ws), ws), ws)
    _affine(values.view(n, 8, 32), _iq4_xs_scales(blocks), out, ws)


def _dq_bf16(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    out.copy_(blocks.contiguous().view(torch.bfloat16))


def _dq_f16(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    out.copy_(blocks.contiguous().view(torch.float16))


def _dq_f32(blocks: torch.Tensor, out: torch.Tensor, ws: _Scratch) -> None:
    out.copy_(blocks.contiguous().view(torch.float32))


KERNELS: Dict[str, Callable[[torch.Tensor, torch.Tensor, _Scratch], None]] = {
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


HUGE_OUTPUT_BYTES = 1 << 22
SCRATCH_BYTES_PER_VALUE = 24  # more than any kernel's temporaries per value (Q3_K: ~14); the rest stays virtual


def _new_output(shape: Tuple[int, int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialized output tensor; large CPU ones are allocated by numpy.

    numpy asks the kernel for transparent huge pages on big buffers (madvise), torch's CPU allocator does
    not: first-touching a fresh 64 MiB float32 buffer costs ~7 ms on 2 MiB pages vs ~27 ms on 4 KiB pages.
    """
    nbytes = shape[0] * shape[1] * dtype.itemsize
    if device.type != "cpu" or nbytes < HUGE_OUTPUT_BYTES:
        return torch.empty(shape, dtype=dtype, device=device)
    return torch.from_numpy(np.empty(nbytes, dtype=np.uint8)).view(dtype).view(shape)


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
        out = _new_output((blocks.shape[0], block), dtype, packed.device)
    elif out.dtype != dtype or out.numel() != blocks.shape[0] * block or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous {dtype} tensor of {blocks.shape[0] * block} values")
    out = out.view(blocks.shape[0], block)
    step = max(1, chunk_values // block)
    ws = _Scratch(packed.device, SCRATCH_BYTES_PER_VALUE * min(step, blocks.shape[0]) * block)
    for start in range(0, blocks.shape[0], step):
        chunk = blocks[start:start + step]
        target = out[start:start + step]
        kernel(chunk, target, ws)
    return out.view(shape)
