"""Torch quantizers for the converter: Q8_0, Q5_0, Q5_1, Q4_0, Q4_1 (ggml reference rounding).

Each takes a float tensor whose last dimension is a multiple of 32 and returns the packed uint8
blocks, shape (rows, bytes_per_row), byte-identical to ggml's reference quantizers (and so to
`gguf.quants.quantize`). Work is done in float32 in chunks of rows, on the input's device.
"""

from typing import Callable, Dict

import torch

from ..errors import InputError, UnsupportedFormatError
from . import dequant

BLOCK = 32


def _floor_nonnegative(x: torch.Tensor) -> torch.Tensor:
    """floor() of values in [0, 2**31) through an integer cast (torch's CPU floor/trunc can be very slow)."""
    return x.to(torch.int32).to(x.dtype)


def _round_away(x: torch.Tensor) -> torch.Tensor:
    """Round half away from zero, as C `roundf` (computed like ggml's numpy port to stay bit-exact)."""
    a = x.abs()
    floor = _floor_nonnegative(a)
    return torch.sign(x) * (floor + _floor_nonnegative(2 * (a - floor)))


def _inverse(d: torch.Tensor) -> torch.Tensor:
    return torch.where(d == 0, torch.zeros_like(d), 1.0 / d)


def _fp16_bytes(d: torch.Tensor) -> torch.Tensor:
    """(n, 1) float32 -> (n, 2) uint8 of its fp16 value."""
    return d.to(torch.float16).view(torch.uint8)


def _pack_nibbles(q: torch.Tensor) -> torch.Tensor:
    """(n, 32) values 0..15 -> (n, 16) bytes: value j in the low nibble, value j + 16 in the high one."""
    return (q[:, :16] & 0x0F) | (q[:, 16:] << 4)


def _pack_high_bits(q: torch.Tensor) -> torch.Tensor:
    """(n, 32) 5-bit values -> (n, 4) bytes of their bit 4, value i at bit i (little endian)."""
    bits = ((q >> 4) & 1).view(-1, 4, 8).to(torch.int32)
    weights = torch.tensor([1 << i for i in range(8)], dtype=torch.int32, device=q.device)
    return (bits * weights).sum(dim=-1).to(torch.uint8)


def _signed_max(blocks: torch.Tensor) -> torch.Tensor:
    """The value with the largest magnitude in each block (first one on ties), shape (n, 1)."""
    return blocks.gather(1, blocks.abs().argmax(dim=1, keepdim=True))


def _q8_0(blocks: torch.Tensor) -> torch.Tensor:
    d = blocks.abs().amax(dim=1, keepdim=True) / 127
    q = _round_away(blocks * _inverse(d)).to(torch.int8).view(torch.uint8)
    return torch.cat((_fp16_bytes(d), q), dim=1)


def _q4_0(blocks: torch.Tensor) -> torch.Tensor:
    d = _signed_max(blocks) / -8
    q = _floor_nonnegative(blocks * _inverse(d) + 8.5).clamp(0, 15).to(torch.uint8)
    return torch.cat((_fp16_bytes(d), _pack_nibbles(q)), dim=1)


def _q4_1(blocks: torch.Tensor) -> torch.Tensor:
    low, high = blocks.amin(dim=1, keepdim=True), blocks.amax(dim=1, keepdim=True)
    d = (high - low) / 15
    q = _floor_nonnegative((blocks - low) * _inverse(d) + 0.5).clamp(0, 15).to(torch.uint8)
    return torch.cat((_fp16_bytes(d), _fp16_bytes(low), _pack_nibbles(q)), dim=1)


def _q5_0(blocks: torch.Tensor) -> torch.Tensor:
    d = _signed_max(blocks) / -16
    q = _floor_nonnegative(blocks * _inverse(d) + 16.5).clamp(0, 31).to(torch.uint8)
    return torch.cat((_fp16_bytes(d), _pack_high_bits(q), _pack_nibbles(q)), dim=1)


def _q5_1(blocks: torch.Tensor) -> torch.Tensor:
    low, high = blocks.amin(dim=1, keepdim=True), blocks.amax(dim=1, keepdim=True)
    d = (high - low) / 31
    q = _floor_nonnegative((blocks - low) * _inverse(d) + 0.5).clamp(0, 31).to(torch.uint8)
    return torch.cat((_fp16_bytes(d), _fp16_bytes(low), _pack_high_bits(q), _pack_nibbles(q)), dim=1)


QUANTIZERS: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Q8_0": _q8_0, "Q5_0": _q5_0, "Q5_1": _q5_1, "Q4_0": _q4_0, "Q4_1": _q4_1,
}


def quantize(tensor: torch.Tensor, qtype: str, chunk_rows: int = 4096) -> torch.Tensor:
    """Packed blocks of `tensor` (..., K) in ggml type `qtype`: uint8 of shape (rows, K / 32 * type_size)."""
    if qtype not in QUANTIZERS:
        raise UnsupportedFormatError(f"Cannot quantize to {qtype}: choose one of {', '.join(QUANTIZERS)}.")
    if tensor.dim() == 0 or tensor.shape[-1] % BLOCK:
        raise InputError(f"Cannot quantize a tensor of shape {tuple(tensor.shape)} to {qtype}: its last dimension "
                         f"must be a multiple of {BLOCK}.")
    rows = tensor.reshape(-1, tensor.shape[-1])
    row_bytes = dequant.packed_row_bytes(dequant.TYPE_IDS[qtype], tensor.shape[-1])
    out = torch.empty((rows.shape[0], row_bytes), dtype=torch.uint8, device=tensor.device)
    kernel = QUANTIZERS[qtype]
    for start in range(0, rows.shape[0], chunk_rows):
        chunk = rows[start:start + chunk_rows].to(torch.float32)
        out[start:start + chunk_rows] = kernel(chunk.reshape(-1, BLOCK)).view(chunk.shape[0], row_bytes)
    return out
