"""Video VAE decode split over the ranks of a group, equal to the single-process tiled decode.

The plan is the single-process one: `tiling.decode_chunks` is run once on the meta device (no memory) to
record which latent region each tile reads, in decode order. Tile k is decoded on rank k % P; rank 0 runs
the real `decode_chunks`, whose decode function returns rank 0's own tiles and the tiles it receives from
the other ranks (point-to-point, in order), so the blending is the single-process blending, operation for
operation. Noise a timestep-conditioned decoder mixes into each tile is drawn on every rank for every tile
in order (`prepare`), so the generator draws stay those of one process. Per-rank memory: one tile's decode
activations; rank 0 adds the blend buffers of one temporal chunk and up to P - 1 received tiles.
"""

from typing import Callable, Iterator, List, Optional, Tuple

import torch
from torch import nn

from ..errors import InputError
from ..video_vae.tiling import TilingConfig, decode_chunks
from .group import Collectives

Region = Tuple[slice, slice, slice]  # (t, h, w) of the latent


def decode_plan(latent_shape, cfg: TilingConfig, time_scale: int,
                space_scale: int) -> Tuple[List[Region], List[tuple]]:
    """(the latent region of every tile in decode order, the (frames, height, width) of every yielded chunk),
    from a dry run of `decode_chunks` on the meta device."""
    _, _, frames, height, width = latent_shape
    probe = torch.empty(1, 1, frames, height, width, device="meta")
    regions: List[Region] = []

    def record(piece: torch.Tensor) -> torch.Tensor:
        offset = piece.storage_offset()
        t, h, w = offset // (height * width), offset // width % height, offset % width
        n, dh, dw = piece.shape[2:]
        regions.append((slice(t, t + n), slice(h, h + dh), slice(w, w + dw)))
        return torch.empty(1, 1, 1 + (n - 1) * time_scale, dh * space_scale, dw * space_scale, device="meta")

    chunks = [tuple(c.shape[2:]) for c in decode_chunks(record, probe, cfg, time_scale, space_scale)]
    return regions, chunks


def _tile(latent: torch.Tensor, region: Region) -> torch.Tensor:
    return latent[:, :, region[0], region[1], region[2]]


def _out_shape(latent: torch.Tensor, region: Region, channels: int, time_scale: int, space_scale: int) -> tuple:
    t, h, w = (r.stop - r.start for r in region)
    return (latent.shape[0], channels, 1 + (t - 1) * time_scale, h * space_scale, w * space_scale)


class _RoundRobin:
    """Rank 0's decode function for `decode_chunks`: call k returns tile k, decoded here when k % P == 0 (the
    start of a round, after which the round's other tiles are received), else the tile received for it."""

    def __init__(self, prepare, run, latent, regions, comm, scales) -> None:
        self.prepare, self.run, self.latent, self.regions, self.comm, self.scales = prepare, run, latent, regions, \
            comm, scales
        self.calls = 0
        self.received = {}

    def __call__(self, piece: torch.Tensor) -> torch.Tensor:
        k, world = self.calls, self.comm.world
        self.calls += 1
        if tuple(piece.shape) != tuple(_tile(self.latent, self.regions[k]).shape):
            raise RuntimeError(f"tile {k} of the parallel decode does not match its plan")
        if k % world:
            return self.received.pop(k)
        own = self.run(self.prepare(piece))
        for j in range(k + 1, min(k + world, len(self.regions))):
            self.prepare(_tile(self.latent, self.regions[j]))  # the generator draws of tile j, as in one process
            buffer = own.new_empty(_out_shape(self.latent, self.regions[j], own.shape[1], *self.scales))
            self.comm.recv(buffer, src=j % world)
            self.received[j] = buffer
        return own


def decode_chunks_parallel(prepare: Callable[[torch.Tensor], torch.Tensor], run: Callable[[torch.Tensor], torch.Tensor],
                           latent: torch.Tensor, cfg: TilingConfig, time_scale: int, space_scale: int,
                           comm: Optional[Collectives] = None) -> Iterator[torch.Tensor]:
    """`tiling.decode_chunks(lambda tile: run(prepare(tile)), ...)` with the tiles decoded over the ranks.

    Rank 0 yields the same consecutive pixel chunks (B, 3, n, H, W) as one process; the other ranks decode
    their tiles, send them to rank 0 and yield nothing. Every rank calls it with the same arguments and
    exhausts it. `prepare` runs on every rank for every tile in order; `run` once per tile, on its rank.
    """
    comm = comm or Collectives()
    regions, _ = decode_plan(latent.shape, cfg, time_scale, space_scale)
    if comm.rank == 0:
        yield from decode_chunks(_RoundRobin(prepare, run, latent, regions, comm, (time_scale, space_scale)),
                                 latent, cfg, time_scale, space_scale)
        return
    for k, region in enumerate(regions):
        tile = prepare(_tile(latent, region))
        if k % comm.world == comm.rank:
            comm.send(run(tile), dst=0)


def decode_parallel(vae: nn.Module, latent: torch.Tensor, cfg: TilingConfig, *,
                    timestep=None, generator: Optional[torch.Generator] = None,
                    comm: Optional[Collectives] = None, to_all: bool = True) -> Optional[torch.Tensor]:
    """`vae.decode(latent, tiling=cfg, ...)` with the tiles decoded over the ranks: pixels (B, 3, F, H, W) on
    every rank (`to_all`: broadcast from rank 0) or on rank 0 only (None elsewhere)."""
    if not hasattr(vae, "decode_steps"):
        raise InputError(f"The parallel decode supports the LTX-2 / LTX-2.3 video VAE, not {type(vae).__name__}: "
                         "decode on one process.")
    comm = comm or Collectives()
    prepare, run = vae.decode_steps(latent, timestep=timestep, generator=generator)
    t, s = vae.temporal_compression, vae.spatial_compression
    chunks = decode_chunks_parallel(prepare, run, latent, cfg, t, s, comm)
    pixels = None
    if comm.rank == 0:
        pixels = vae._assemble(chunks, latent)
    else:
        for _ in chunks:  # decodes and sends this rank's tiles (yields nothing)
            pass
    if not to_all:
        return pixels
    b, _, f, h, w = latent.shape
    if pixels is None:
        pixels = latent.new_empty(b, vae.config.in_channels, 1 + (f - 1) * t, h * s, w * s)
    elif pixels.dtype != latent.dtype:
        raise RuntimeError(f"the decoder returned {pixels.dtype} pixels for a {latent.dtype} latent")
    return comm.broadcast(pixels)


class ParallelVideoVAE(nn.Module):
    """A video VAE whose `decode` runs over the ranks (`decode_parallel`, result on every rank) with `tiling`
    (or the call's own); every other attribute is the wrapped VAE's, so it stands wherever the VAE does."""

    def __init__(self, vae: nn.Module, tiling: TilingConfig = TilingConfig(),
                 comm: Optional[Collectives] = None) -> None:
        super().__init__()
        self.vae = vae
        self.tiling = tiling
        self.comm = comm or Collectives()

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules", {})
            if "vae" not in modules:
                raise
            return getattr(modules["vae"], name)

    def decode(self, latent: torch.Tensor, *, tiling: Optional[TilingConfig] = None, timestep=None,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return decode_parallel(self.vae, latent, tiling or self.tiling, timestep=timestep, generator=generator,
                               comm=self.comm)
