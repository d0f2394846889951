"""Tiled / chunked video VAE decode and encode with bounded memory.

Decode splits the latent into spatial tiles and temporal chunks, decodes each piece, and blends the
overlaps with linear ramps (weights accumulated and divided). Temporal chunks are finished one after
another, so the working memory is that of one chunk, whatever the clip length. Two spatial plans:
"square" (default) cuts tiles of `tile_size_px` on both axes, as ComfyUI's tiled decode does;
"aspect" follows the official (ltx-core) tiling, which shrinks the tile of the short axis by the frame's
aspect ratio (more, smaller tiles), and matches its results. The blend ramps are the official ones in
both plans; with one tile covering everything the result equals the whole decode exactly. Runs of
equal-shaped tiles can be handed to the decoder together (`decode_many`), which batches its first,
low-resolution stages: their large weights are then read once per run instead of once per tile.

Encode splits the pixels the same way and keeps the latents away from tile seams (rectangular masks),
which is needed because the encoder's padding would otherwise leak into the seam latents. Its overlaps
are raised to at least 64 px / 16 frames, as in the official code.
"""

from dataclasses import dataclass
from typing import Callable, Iterator, List, NamedTuple, Optional, Tuple

import torch

from ..errors import InputError

SPATIAL_MIN_TILE_PX = 64
TEMPORAL_MIN_CHUNK_FRAMES = 16
TILE_SHAPES = ("square", "aspect")
ENCODE_MIN_OVERLAP_PX = 64
ENCODE_MIN_OVERLAP_FRAMES = 16


@dataclass(frozen=True)
class TilingConfig:
    """Tile and chunk sizes in pixels / frames. `None` disables tiling along that axis.

    tile_size_px: spatial tile edge (>= 64, multiple of 32); tile_overlap_px: multiple of 32, < tile size.
    chunk_frames: temporal chunk length (>= 16, multiple of 8); chunk_overlap_frames: multiple of 8, < chunk.
    tile_shape: "square" (tiles of `tile_size_px` on both axes) or "aspect" (the official plan: the long
    side gets `tile_size_px`, the short side that scaled by the frame's aspect ratio). Encode ignores it.
    batch_tiles: decode runs of equal-shaped tiles together in the decoder's low-resolution stages
    (results equal up to float rounding; the extra memory stays below that of one tile's last stages).
    """

    tile_size_px: Optional[int] = 512
    tile_overlap_px: int = 64
    chunk_frames: Optional[int] = 64
    chunk_overlap_frames: int = 24
    tile_shape: str = "square"
    batch_tiles: bool = True

    def __post_init__(self) -> None:
        _check(self.tile_shape in TILE_SHAPES, f"tile_shape must be one of {', '.join(TILE_SHAPES)}, "
                                               f"got {self.tile_shape!r}")
        if self.tile_size_px is not None:
            _check(self.tile_size_px >= SPATIAL_MIN_TILE_PX and self.tile_size_px % 32 == 0,
                   f"tile_size_px must be a multiple of 32 and at least {SPATIAL_MIN_TILE_PX}, got {self.tile_size_px}")
            _check(self.tile_overlap_px % 32 == 0 and 0 <= self.tile_overlap_px < self.tile_size_px,
                   f"tile_overlap_px must be a multiple of 32 below tile_size_px, got {self.tile_overlap_px}")
        if self.chunk_frames is not None:
            _check(self.chunk_frames >= TEMPORAL_MIN_CHUNK_FRAMES and self.chunk_frames % 8 == 0,
                   f"chunk_frames must be a multiple of 8 and at least {TEMPORAL_MIN_CHUNK_FRAMES}, "
                   f"got {self.chunk_frames}")
            _check(self.chunk_overlap_frames % 8 == 0 and 0 <= self.chunk_overlap_frames < self.chunk_frames,
                   f"chunk_overlap_frames must be a multiple of 8 below chunk_frames, got {self.chunk_overlap_frames}")

    @classmethod
    def disabled(cls) -> "TilingConfig":
        """One tile, one chunk: identical to the whole decode."""
        return cls(tile_size_px=None, chunk_frames=None)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise InputError(f"TilingConfig: {message}.")


class Span(NamedTuple):
    """An interval [start, end) of one axis and the lengths of its blend ramps."""

    start: int
    end: int
    left: int
    right: int


def split_axis(length: int, size: int, overlap: int) -> List[Span]:
    """Tiles of `size` starting every `size - overlap`; the last one is stretched to the end."""
    if length <= size:
        return [Span(0, length, 0, 0)]
    count = (length + size - 2 * overlap - 1) // (size - overlap)
    spans = []
    for i in range(count):
        start = i * (size - overlap)
        end = length if i == count - 1 else start + size
        spans.append(Span(start, end, overlap if i > 0 else 0, overlap if i < count - 1 else 0))
    return spans


def ramp_mask(length: int, left: int, right: int, left_from_zero: bool = False) -> torch.Tensor:
    """1-D blend weights: linear fade-in over `left`, fade-out over `right`, 1 elsewhere (float32)."""
    mask = torch.ones(length)
    left, right = max(0, min(left, length)), max(0, min(right, length))
    if left > 0:
        fade = torch.linspace(0.0, 1.0, left + 1 if left_from_zero else left + 2)[:-1]
        mask[:left] *= fade if left_from_zero else fade[1:]
    if right > 0:
        mask[-right:] *= torch.linspace(1.0, 0.0, right + 2)[1:-1]
    return mask


def cut_mask(length: int, left: int, right: int) -> torch.Tensor:
    """1-D weights that are 0 on `left` leading and `right` trailing elements, 1 elsewhere (float32)."""
    mask = torch.ones(length)
    mask[:left] = 0
    if right > 0:
        mask[length - right:] = 0
    return mask


class Piece(NamedTuple):
    """Where to cut one tile from the input and where (with which 1-D masks) its output goes."""

    src: Tuple[slice, slice, slice]  # (T, H, W) of the input
    dst: Tuple[slice, slice, slice]  # (T, H, W) of the output
    masks: Tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # float32 (t,), (h,), (w,)

    def weight(self, dtype: torch.dtype, device) -> torch.Tensor:
        mt, mh, mw = self.masks
        mask = mt[:, None, None] * mh[None, :, None] * mw[None, None, :]  # (t, h, w)
        return mask[None, None].to(device=device, dtype=dtype)  # (1, 1, t, h, w)


# ---------------------------------------------------------------- decode


def tile_count(length: int, size: int, overlap: int) -> int:
    """Number of tiles `split_axis` cuts: 1 if `length <= size`, else ceil((length - overlap) / (size - overlap))."""
    return 1 if length <= size else -(-(length - overlap) // (size - overlap))


def _decode_spatial_spans(length: int, long_side: int, cfg: TilingConfig, scale: int):
    if cfg.tile_size_px is None:
        return [(slice(0, length), slice(0, length * scale), ramp_mask(length * scale, 0, 0))]
    size, overlap = cfg.tile_size_px // scale, cfg.tile_overlap_px // scale
    if cfg.tile_shape == "aspect":
        size = max(max(2, overlap + 1), round(size * length / long_side))
    return [
        (slice(s.start, s.end), slice(s.start * scale, s.end * scale),
         ramp_mask((s.end - s.start) * scale, s.left * scale, s.right * scale))
        for s in split_axis(length, size, overlap)
    ]


def _decode_temporal_spans(length: int, cfg: TilingConfig, scale: int):
    spans = [Span(0, length, 0, 0)]
    if cfg.chunk_frames is not None and length > cfg.chunk_frames // scale:
        spans = split_axis(length, cfg.chunk_frames // scale, cfg.chunk_overlap_frames // scale)
        # Every later chunk starts one latent earlier so its causal first frame falls inside the ramp.
        spans = [spans[0]] + [Span(s.start - 1, s.end, s.left + 1, s.right) for s in spans[1:]]
    out = []
    for s in spans:
        start, stop = s.start * scale, 1 + (s.end - 1) * scale
        left = 0 if s.left == 0 else 1 + (s.left - 1) * scale
        out.append((slice(s.start, s.end), slice(start, stop), ramp_mask(stop - start, left, s.right * scale, True)))
    return out


def _extent(piece: Piece) -> Tuple[int, ...]:
    return tuple(s.stop - s.start for s in piece.src)


def _runs(pieces: List[Piece], together: bool) -> Iterator[List[Piece]]:
    """Consecutive pieces whose input tiles have equal shapes (each piece alone unless `together`)."""
    run: List[Piece] = []
    for piece in pieces:
        if run and not (together and _extent(piece) == _extent(run[0])):
            yield run
            run = []
        run.append(piece)
    if run:
        yield run


def decode_chunks(
    decode_fn: Callable[[torch.Tensor], torch.Tensor],
    latent: torch.Tensor,
    cfg: TilingConfig,
    time_scale: int,
    space_scale: int,
    decode_many: Optional[Callable[[List[torch.Tensor]], Iterator[torch.Tensor]]] = None,
) -> Iterator[torch.Tensor]:
    """Decode (B, C, F', H', W') piece by piece; yields consecutive pixel chunks (B, 3, n, H, W).

    `decode_many`, if given, decodes a list of equal-shaped tiles and yields their outputs in order; it is
    used for runs of such tiles when `cfg.batch_tiles` is set (else `decode_fn`, one tile at a time).
    """
    batch, _, frames, height, width = latent.shape
    long_side = max(height, width)
    rows = _decode_spatial_spans(height, long_side, cfg, space_scale)
    cols = _decode_spatial_spans(width, long_side, cfg, space_scale)
    tail = None  # (pixels, weights, first frame) of the previous chunk's part the next chunk overlaps
    for t_src, t_dst, t_mask in _decode_temporal_spans(frames, cfg, time_scale):
        if tail is not None:
            # Frames before this chunk's start receive nothing more: emit them now, keep only the overlap.
            prev_acc, prev_weights, prev_start = tail
            offset = t_dst.start - prev_start
            if offset > 0:
                yield prev_acc[:, :, :offset] / prev_weights[:, :, :offset].clamp(min=1e-8)
            tail = (prev_acc[:, :, offset:].clone(), prev_weights[:, :, offset:].clone())
            del prev_acc, prev_weights
        n = t_dst.stop - t_dst.start
        acc = weights = None
        pieces = [Piece((t_src, h_src, w_src), (t_dst, h_dst, w_dst), (t_mask, h_mask, w_mask))
                  for h_src, h_dst, h_mask in rows for w_src, w_dst, w_mask in cols]
        for run in _runs(pieces, cfg.batch_tiles and decode_many is not None):
            tiles = [latent[:, :, p.src[0], p.src[1], p.src[2]] for p in run]  # each (B, C, t, h, w)
            outs = iter([decode_fn(tiles[0])]) if len(run) == 1 else decode_many(tiles)
            for piece, out in zip(run, outs):  # out (B, 3, n, h, w)
                if acc is None:
                    acc = out.new_zeros(batch, out.shape[1], n, height * space_scale, width * space_scale)
                    weights = out.new_zeros(1, 1, n, height * space_scale, width * space_scale)
                if out.shape[2] != n:
                    raise RuntimeError(f"decoder returned {out.shape[2]} frames for a chunk of {n}")
                _, h_dst, w_dst = piece.dst
                mask = piece.weight(out.dtype, out.device)
                acc[:, :, :, h_dst, w_dst] += out * mask
                weights[:, :, :, h_dst, w_dst] += mask
                del out
        if tail is not None:
            overlap = min(tail[0].shape[2], n)
            acc[:, :, :overlap] += tail[0][:, :, :overlap]
            weights[:, :, :overlap] += tail[1][:, :, :overlap]
        tail = (acc, weights, t_dst.start)
        del acc, weights
    acc, weights, _ = tail
    yield acc / weights.clamp(min=1e-8)


# ---------------------------------------------------------------- encode


def _encode_spatial_spans(length: int, cfg: TilingConfig, scale: int):
    if cfg.tile_size_px is None:
        return [(slice(0, length), slice(0, length // scale), cut_mask(length // scale, 0, 0))]
    overlap = max(cfg.tile_overlap_px, ENCODE_MIN_OVERLAP_PX)
    out = []
    for s in split_axis(length, cfg.tile_size_px, overlap):
        start, stop = s.start // scale, s.end // scale
        out.append((slice(s.start, s.end), slice(start, stop),
                    cut_mask(stop - start, max(0, s.left // scale - 1), 0 if s.right == 0 else 1)))
    return out


def _encode_temporal_spans(length: int, cfg: TilingConfig, scale: int):
    spans = [Span(0, length, 0, 0)]
    if cfg.chunk_frames is not None and length > cfg.chunk_frames:
        overlap = max(cfg.chunk_overlap_frames, ENCODE_MIN_OVERLAP_FRAMES)
        spans = split_axis(length, cfg.chunk_frames, overlap)
        # Non-final chunks take one more frame (1 + 8k frames each); no right ramp.
        spans = [Span(s.start, s.end + (1 if i < len(spans) - 1 else 0), s.left, 0) for i, s in enumerate(spans)]
    out = []
    for s in spans:
        start, stop = s.start // scale, (s.end - 1) // scale + 1
        left = 0 if s.left == 0 else 1 + (s.left - 1) // scale
        out.append((slice(s.start, s.end), slice(start, stop), cut_mask(stop - start, left, 0)))
    return out


def encode_tiled(
    encode_fn: Callable[[torch.Tensor], torch.Tensor],
    pixels: torch.Tensor,
    latent_channels: int,
    cfg: TilingConfig,
    time_scale: int,
    space_scale: int,
) -> torch.Tensor:
    """Encode (B, 3, F, H, W) piece by piece into (B, C, F', H', W') (whatever `encode_fn` returns per tile)."""
    batch, _, frames, height, width = pixels.shape
    if cfg.tile_size_px is not None and cfg.tile_size_px <= ENCODE_MIN_OVERLAP_PX:
        raise InputError(f"Tiled encode needs tile_size_px above {ENCODE_MIN_OVERLAP_PX} (its minimum overlap).")
    if cfg.chunk_frames is not None and cfg.chunk_frames <= ENCODE_MIN_OVERLAP_FRAMES:
        raise InputError(f"Tiled encode needs chunk_frames above {ENCODE_MIN_OVERLAP_FRAMES} (its minimum overlap).")
    shape = (1 + (frames - 1) // time_scale, height // space_scale, width // space_scale)
    acc = weights = None
    rows = _encode_spatial_spans(height, cfg, space_scale)
    cols = _encode_spatial_spans(width, cfg, space_scale)
    for t_src, t_dst, t_mask in _encode_temporal_spans(frames, cfg, time_scale):
        for h_src, h_dst, h_mask in rows:
            for w_src, w_dst, w_mask in cols:
                piece = Piece((t_src, h_src, w_src), (t_dst, h_dst, w_dst), (t_mask, h_mask, w_mask))
                out = encode_fn(pixels[:, :, t_src, h_src, w_src])  # (B, C, t, h, w)
                if acc is None:
                    acc = out.new_zeros(batch, latent_channels, *shape)
                    weights = out.new_zeros(1, 1, *shape)
                mask = piece.weight(out.dtype, out.device)
                acc[:, :, t_dst, h_dst, w_dst] += out * mask
                weights[:, :, t_dst, h_dst, w_dst] += mask
                del out
    return acc / weights.clamp(min=1e-8)
