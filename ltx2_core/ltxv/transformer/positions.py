"""Token positions for the LTX-Video transformer, as the official pipeline computes them.

Latent tokens are ordered frame-major, then row, then column (patch size 1). Each token's latent
coordinate (f, h, w) is scaled to pixel units by the VAE factors (8, 32, 32); with
`causal_temporal_positioning` (0.9.5+) the time axis becomes `max(0, 8 f + 1 - 8)`, the first
pixel frame a latent frame covers (the causal VAE encodes frame 0 alone). Time is then divided by
the frame rate (seconds). The transformer maps these to [-1, 1] with `rope_max_pos`.
"""

from typing import Sequence

import torch

from ...errors import InputError

VAE_SCALE_FACTORS = (8, 32, 32)  # (time, height, width) pixels per latent unit


def latent_coords(frames: int, height: int, width: int, batch: int = 1, device=None) -> torch.Tensor:
    """Integer latent coordinates (B, 3, F*H*W) in token order."""
    if min(frames, height, width, batch) < 1:
        raise InputError(f"Latent grid {frames}x{height}x{width} (batch {batch}) must be at least 1 in every axis.")
    grid = torch.meshgrid(torch.arange(frames, device=device), torch.arange(height, device=device),
                          torch.arange(width, device=device), indexing="ij")
    return torch.stack(grid, dim=0).reshape(1, 3, -1).expand(batch, 3, -1)  # (B, 3, N)


def pixel_coords(coords: torch.Tensor, causal_temporal_positioning: bool,
                 scale_factors: Sequence[int] = VAE_SCALE_FACTORS) -> torch.Tensor:
    """Latent coordinates (B, 3, N) -> pixel coordinates (B, 3, N) (same dtype)."""
    factors = torch.tensor(list(scale_factors), device=coords.device)
    out = coords * factors[None, :, None]
    if causal_temporal_positioning:
        out = torch.cat([(out[:, :1] + 1 - scale_factors[0]).clamp(min=0), out[:, 1:]], dim=1)
    return out


def video_positions(frames: int, height: int, width: int, *, batch: int = 1, frame_rate: float = 25.0,
                    causal_temporal_positioning: bool = True, frame_offset: int = 0,
                    scale_factors: Sequence[int] = VAE_SCALE_FACTORS, device=None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The transformer's `positions` (B, 3, F*H*W) for a latent video grid: pixel coordinates with time
    in seconds (official `indices_grid`, float32 in the official pipeline). `frame_offset` (pixel frames)
    places extra conditioning tokens at their target frame (official `media_frame_number`)."""
    if frame_rate <= 0:
        raise InputError(f"frame_rate must be positive, got {frame_rate}.")
    coords = pixel_coords(latent_coords(frames, height, width, batch, device), causal_temporal_positioning,
                          scale_factors).to(dtype)
    return torch.cat([(coords[:, :1] + frame_offset) * (1.0 / frame_rate), coords[:, 1:]], dim=1)
