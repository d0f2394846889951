"""The parity check of the parallel VAE decode on gloo ranks (shared by the tests and benchmarks/parallel.py).

A tiny random LTX-2 video VAE with a timestep-conditioned decoder (so every tile draws noise from the
generator) decodes a 6 x 2 x 6 latent (41 x 64 x 192 px) with 64 px tiles / 16-frame chunks: 5 temporal
chunks of 1 x 5 spatial tiles, 25 tiles (divisible by neither 2 nor 3 ranks). Every rank decodes with
`decode_parallel` and, in the same process (one thread, like the ranks), with the single-process tiled
decode; both are saved.
"""

import copy
import os
from typing import Dict, Optional

import torch
import torch.distributed as dist

from ..video_vae import LTX2_VAE_METADATA, TilingConfig, VideoVAE, VideoVAEConfig
from .group import Collectives
from .selfcheck import free_port
from .vae_decode import decode_parallel, decode_plan

# The ranks decode their tiles one at a time: the one-process reference does too (batch_tiles batches runs of
# equal tiles through the low-resolution stages, a few 1e-6 relative away: tests/test_vae_tile_plan.py).
TILING = TilingConfig(64, 32, 16, 8, batch_tiles=False)
LATENT = (1, 8, 6, 2, 6)  # (B, C, F', H', W')


def build_vae(dtype: torch.dtype = torch.float32, timestep_conditioning: bool = True,
              base_channels: int = 4) -> VideoVAE:
    """The same random decoder on every rank (seeded)."""
    meta = copy.deepcopy(LTX2_VAE_METADATA)
    meta.update(latent_channels=LATENT[1], decoder_base_channels=base_channels,
                timestep_conditioning=timestep_conditioning)
    meta["decoder_blocks"] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p] for n, p in meta["decoder_blocks"]]
    vae = VideoVAE(VideoVAEConfig.from_metadata(meta), dtype=dtype, components=("decoder",)).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in vae.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.2)
        vae.per_channel_statistics.get_buffer("mean-of-means").copy_(torch.randn(LATENT[1], generator=gen) * 0.1)
        vae.per_channel_statistics.get_buffer("std-of-means").copy_(torch.rand(LATENT[1], generator=gen) + 0.5)
    return vae


def make_latent(dtype: torch.dtype = torch.float32, shape: tuple = LATENT) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=dtype)


def tile_count(shape: tuple = LATENT, tiling: TilingConfig = TILING) -> int:
    return len(decode_plan(shape, tiling, 8, 32)[0])


def single(vae: VideoVAE, latent: torch.Tensor, tiling: TilingConfig = TILING) -> torch.Tensor:
    with torch.no_grad():
        return vae.decode(latent, tiling=tiling, generator=torch.Generator().manual_seed(2))


def _worker(rank: int, world: int, port: int, out_dir: str, shape: tuple, tiling: TilingConfig) -> None:
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        vae, latent = build_vae(), make_latent(shape=shape)
        comm = Collectives()
        with torch.no_grad():
            everywhere = decode_parallel(vae, latent, tiling, generator=torch.Generator().manual_seed(2), comm=comm)
            first = decode_parallel(vae, latent, tiling, generator=torch.Generator().manual_seed(2), to_all=False)
        tensors = {"all": everywhere.contiguous(), "single": single(vae, latent, tiling).contiguous(),
                   "sent": torch.tensor([float(comm.sent_bytes.get("send", 0))], dtype=torch.float64)}
        if first is not None:
            tensors["rank0"] = first.contiguous()
        save_file(tensors, os.path.join(out_dir, f"vae_rank{rank}.safetensors"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def run_ranks(world: int, out_dir: str, shape: tuple = LATENT,
              tiling: Optional[TilingConfig] = None) -> Dict[int, Dict[str, torch.Tensor]]:
    """Every rank's tensors: "all" (decode_parallel on every rank), "rank0" (to_all=False, rank 0 only),
    "single" (the one-process tiled decode in that process), "sent" (bytes of tiles this rank sent)."""
    import torch.multiprocessing as mp
    from safetensors.torch import load_file

    mp.spawn(_worker, args=(world, free_port(), out_dir, shape, tiling or TILING), nprocs=world, join=True)
    return {rank: load_file(os.path.join(out_dir, f"vae_rank{rank}.safetensors")) for rank in range(world)}
