"""Tiled diffusion decode with bounded memory.

Plan (the diffusers `LTX2VideoDiffusionDecoderModel.tiled_decode` plan, which this reproduces exactly):
stages 1-3 run once on the whole (ghost-padded) latent: they work at low resolution. Stage 4 and the pixel
diffusion (stage 5), which dominate memory, run per tile of the stage-4 input grid, one cell of which is
(2 frames, 8 px, 8 px) of output for the released config. The user's `TilingConfig` (the conv decoder's:
tile / overlap in pixels, chunk / overlap in frames) is converted to that grid: tile = size / cell,
stride = (size - overlap) / cell; a trailing remnant smaller than the neighbourhood kernels is merged into
the previous tile. Only the tile holding t = 0 drops the upsample's duplicate leading frame and only the
tile holding the clip's end carries (and crops) the ghost frames. Seams are blended linearly over the
overlap (rows, then columns, then temporal chunks), in place, in that order.

Noise: each tile draws its own stage-5 canvas from the one generator, in tile order (temporal chunk, row,
column), so a seed gives the same video for the same latent and tiling; the untiled decode is the single-
tile case of the same rule. (Multi-step decoders instead slice one full-canvas draw, so overlapping tiles
integrate the same noise.)

Memory: one temporal chunk of pixels plus the previous chunk's overlap; chunks are yielded as soon as
their frames are final.
"""

from typing import Iterator, List, Optional, Tuple

import torch

from ..tiling import TilingConfig
from .model import DiffusionVideoDecoder, draw_noise

Interval = Tuple[int, int]


def tile_intervals(length: int, tile: int, stride: int, min_size: int) -> List[Interval]:
    """Overlapping [start, end) tiles of `tile` cells every `stride`, covering [0, length)."""
    if length <= tile:
        return [(0, length)]
    starts = list(range(0, length, stride))
    while len(starts) > 1 and length - starts[-1] < min_size:
        starts.pop()
    return [(s, min(s + tile, length)) for s in starts[:-1]] + [(starts[-1], length)]


def _blend(a: torch.Tensor, b: torch.Tensor, extent: int, dim: int) -> torch.Tensor:
    """b's first `extent` slices along `dim` <- a's last ones * (1 - r) + b's * r, r = i / extent (in place)."""
    extent = min(a.shape[dim], b.shape[dim], extent)
    for i in range(extent):
        r = i / extent
        b.select(dim, i).copy_(a.select(dim, a.shape[dim] - extent + i) * (1 - r) + b.select(dim, i) * r)
    return b


def _grid(decoder: DiffusionVideoDecoder, tiling: TilingConfig, frames: int, height: int, width: int):
    """Tile / stride per axis on the stage-4 grid and the cell size in output pixels."""
    c = decoder.config
    st, sh, sw = c.strides[3]
    cell = (st, sh * c.patch_size, sw * c.patch_size)
    sizes = []
    for length, size, overlap, unit in ((frames, tiling.chunk_frames, tiling.chunk_overlap_frames, cell[0]),
                                        (height, tiling.tile_size_px, tiling.tile_overlap_px, cell[1]),
                                        (width, tiling.tile_size_px, tiling.tile_overlap_px, cell[2])):
        if size is None:
            sizes.append((length, length))
        else:
            sizes.append((max(1, size // unit), max(1, (size - overlap) // unit)))
    mins = [max(k4, -(-k5 // s)) for k4, k5, s in zip(c.stage_kernels[3], c.stage5_kernel, c.strides[3])]
    return cell, sizes, mins


def decode_tiled(decoder: DiffusionVideoDecoder, latent: torch.Tensor, tiling: TilingConfig,
                 generator: Optional[torch.Generator] = None, steps: Optional[int] = None
                 ) -> Iterator[torch.Tensor]:
    """Un-normalized latent (B, C, T, H, W) -> consecutive pixel chunks (B, 3, n, 32H, 32W)."""
    c = decoder.config
    steps = steps or c.num_inference_steps
    single_step = steps == 1 and c.model_output_type == "x0"
    padded, before = decoder.pad_to_minimum(latent)
    features = decoder.stages_1_to_3(decoder.add_ghost_frames(padded))  # (B, T4 + ghost, H4, W4, C4)
    ghost = c.ghost_latent_frames
    for stride in c.strides[:3]:
        ghost *= stride[0]
    frames, height, width = features.shape[1] - ghost, features.shape[2], features.shape[3]
    cell, ((tile_t, stride_t), (tile_h, stride_h), (tile_w, stride_w)), mins = _grid(
        decoder, tiling, frames, height, width)
    t_tiles = tile_intervals(frames, tile_t, stride_t, mins[0])
    h_tiles = tile_intervals(height, tile_h, stride_h, mins[1])
    w_tiles = tile_intervals(width, tile_w, stride_w, mins[2])
    blend_t, blend_h, blend_w = ((tile_t - stride_t) * cell[0], (tile_h - stride_h) * cell[1],
                                 (tile_w - stride_w) * cell[2])
    causal = cell[0] == 2  # the temporal upsample's causal 1 + 2(n - 1) mapping
    canvas = None
    if not single_step:
        shape = (latent.shape[0], c.out_channels, frames * cell[0] - int(causal), height * cell[1], width * cell[2])
        canvas = draw_noise(shape, generator, latent.dtype, latent.device)

    s = c.spatial_compression
    top, left = before[0] * s, before[1] * s
    content = 1 + (latent.shape[2] - 1) * c.temporal_compression
    out_h, out_w = latent.shape[3] * s, latent.shape[4] * s
    emitted, previous = 0, None
    for k, (t0, t1) in enumerate(t_tiles):
        origin, trailing = t0 == 0, t1 == frames
        rows = []
        for h0, h1 in h_tiles:
            row = []
            for w0, w1 in w_tiles:
                context = decoder.stage_4(features[:, t0:features.shape[1] if trailing else t1, h0:h1, w0:w1],
                                          drop_leading_frame=origin, crop_ghost=trailing)
                shape = decoder.pixel_shape(context)
                if single_step:
                    x_t = draw_noise(shape, generator, latent.dtype, latent.device)
                else:
                    p0 = t0 * cell[0] - int(causal and not origin)
                    x_t = canvas[:, :, p0:p0 + shape[2], h0 * cell[1]:h0 * cell[1] + shape[3],
                                 w0 * cell[2]:w0 * cell[2] + shape[4]]
                row.append(decoder.denoise(context, x_t, steps))
                del context, x_t
            rows.append(row)
        group = _assemble(rows, blend_h, blend_w, stride_h * cell[1], stride_w * cell[2])
        del rows
        if previous is not None:
            _blend(previous, group, blend_t, 2)
        last = k == len(t_tiles) - 1
        keep = group.shape[2] if last else stride_t * cell[0] - int(k == 0 and causal)
        tail = group.shape[2] - min(blend_t, group.shape[2])
        previous = None if last or blend_t <= 0 else group[:, :, tail:].clone()
        chunk = group[:, :, :min(keep, content - emitted), top:top + out_h, left:left + out_w]
        emitted += chunk.shape[2]
        if chunk.shape[2]:
            yield chunk
        del group


def _assemble(rows: List[List[torch.Tensor]], blend_h: int, blend_w: int, keep_h: int, keep_w: int) -> torch.Tensor:
    """Blend one temporal group's tiles (rows of (B, 3, n, h, w)) into (B, 3, n, H, W), diffusers' order."""
    out_rows = []
    for i, row in enumerate(rows):
        kept = []
        for j, tile in enumerate(row):
            if i > 0:
                _blend(rows[i - 1][j], tile, blend_h, 3)
            if j > 0:
                _blend(row[j - 1], tile, blend_w, 4)
            kh = keep_h if i < len(rows) - 1 else tile.shape[3]
            kw = keep_w if j < len(row) - 1 else tile.shape[4]
            kept.append(tile[:, :, :, :kh, :kw])
        out_rows.append(torch.cat(kept, dim=4))
    return torch.cat(out_rows, dim=3)
