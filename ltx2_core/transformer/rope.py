"""Rotary position embeddings with fractional positions (LTX-2 "split" and legacy "interleaved" layouts).

Positions are `[start, end)` bounds per axis, (B, n_axes, T, 2); the rotation uses the midpoint,
divided by the axis' `max_pos`, mapped to [-1, 1] and multiplied by a geometric frequency grid
from pi/2 to theta*pi/2. Angles are laid out frequency-major, axis-minor. Identity slots
(cos 1, sin 0) pad the front when the grid does not fill the width.

- split: each head owns a contiguous slice of the half-width angle vector and rotates the pairs
  (d, d + head_dim/2) of its channels (rotate-half).
- interleaved: angles repeated twice over the full width, rotating pairs (2k, 2k+1).
"""

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..errors import InputError


@dataclass(frozen=True)
class Rope:
    """Precomputed cos/sin: (B, T, H, D/2) for split, (B, T, W) for interleaved."""

    cos: torch.Tensor
    sin: torch.Tensor
    split: bool


def frequency_grid(theta: float, n_axes: int, width: int, double_precision: bool, device=None) -> torch.Tensor:
    """The (width // (2 * n_axes),) float32 frequency grid (pi/2 * theta**u, u evenly in [0, 1])."""
    count = width // (2 * n_axes)
    if double_precision:
        grid = np.power(theta, np.linspace(0.0, math.log(theta) / math.log(theta), count, dtype=np.float64))
        return torch.tensor(grid * math.pi / 2, dtype=torch.float32, device=device)
    exponents = torch.linspace(math.log(1, theta), math.log(theta, theta), count, dtype=torch.float32, device=device)
    return (theta**exponents) * math.pi / 2


def rope_angles(
    positions: torch.Tensor, max_pos: Sequence[float], width: int, theta: float, double_precision: bool,
    midpoint: bool = True,
) -> torch.Tensor:
    """Angles (B, T, n_f * n_axes) for positions (B, n_axes, T, 2) bounds (or (B, n_axes, T) points)."""
    if positions.ndim == 4:
        positions = (positions[..., 0] + positions[..., 1]) / 2.0 if midpoint else positions[..., 0]
    n_axes = positions.shape[1]
    if n_axes != len(max_pos):
        raise InputError(f"RoPE positions have {n_axes} axes but max_pos has {len(max_pos)} entries: pass "
                         "positions (B, n_axes, T, 2) with one axis per max_pos entry (3 for video, 1 for audio).")
    fractions = torch.stack([positions[:, i] / max_pos[i] for i in range(n_axes)], dim=-1)  # (B, T, n_axes)
    grid = frequency_grid(theta, n_axes, width, double_precision, fractions.device)
    angles = grid * (fractions.unsqueeze(-1) * 2 - 1)  # (B, T, n_axes, n_f)
    return angles.transpose(-1, -2).flatten(2)  # (B, T, n_f * n_axes), frequency-major


def rope_from_positions(
    positions: torch.Tensor, *, max_pos: Sequence[float], width: int, heads: int, rope_type: str,
    theta: float = 10000.0, double_precision: bool = True, dtype: torch.dtype = torch.float32, midpoint: bool = True,
) -> Rope:
    """cos/sin tables for an attention of `width` channels split over `heads` heads."""
    angles = rope_angles(positions, max_pos, width, theta, double_precision, midpoint)
    cos, sin = angles.cos(), angles.sin()
    batch, tokens, count = angles.shape
    if rope_type == "split":
        pad = width // 2 - count
        if pad:
            cos = torch.cat([torch.ones_like(cos[..., :pad]), cos], dim=-1)
            sin = torch.cat([torch.zeros_like(sin[..., :pad]), sin], dim=-1)
        cos = cos.reshape(batch, tokens, heads, -1)  # (B, T, H, D/2)
        sin = sin.reshape(batch, tokens, heads, -1)  # (B, T, H, D/2)
        return Rope(cos.to(dtype), sin.to(dtype), split=True)
    if rope_type != "interleaved":
        raise InputError(f"Unknown rope_type {rope_type!r}: use 'split' or 'interleaved'.")
    cos, sin = cos.repeat_interleave(2, dim=-1), sin.repeat_interleave(2, dim=-1)  # (B, T, 2 * count)
    pad = width % (2 * positions.shape[1])
    if pad:
        cos = torch.cat([torch.ones_like(cos[..., :pad]), cos], dim=-1)
        sin = torch.cat([torch.zeros_like(sin[..., :pad]), sin], dim=-1)
    return Rope(cos.to(dtype), sin.to(dtype), split=False)


def apply_rope(x: torch.Tensor, rope: Rope) -> torch.Tensor:
    """Rotate x (B, T, W) by `rope`."""
    batch, tokens, width = x.shape
    cos, sin = rope.cos, rope.sin
    if rope.split:
        heads = cos.shape[2]
        pairs = x.view(batch, tokens, heads, 2, width // (2 * heads))  # (B, T, H, 2, D/2)
        out = pairs * cos.unsqueeze(-2)
        out[..., 0, :].addcmul_(pairs[..., 1, :], sin, value=-1)  # x1 cos - x2 sin
        out[..., 1, :].addcmul_(pairs[..., 0, :], sin)  # x2 cos + x1 sin
        return out.view(batch, tokens, width)  # (B, T, W)
    pairs = x.view(batch, tokens, width // 2, 2)  # (B, T, W/2, 2)
    rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).view(batch, tokens, width)  # (B, T, W)
    return x * cos + rotated * sin
