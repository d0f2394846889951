"""Parallel modes: per-rank weight and activation memory, bytes sent per forward, and the scaling model.

    python -m benchmarks.parallel [--worlds 1,2,4] [--tokens 1001] [--layers 4]     # CPU, gloo
    python -m benchmarks.parallel --gpu [--worlds 2,4]   # under the GPUs lent: nccl, bf16, peak CUDA memory + time
    python -m benchmarks.parallel --vae [--worlds 1,2,3] [--gpu]   # the video VAE decode, tiles over the ranks

One transformer forward (batch 1, video + audio, a mid-sized random model) per mode and world size.
Weights: bytes of the parameters each rank holds (FSDP shards measured from the DTensors). Activations:
the peak of live tensor bytes during the forward (CPU: a dispatch mode counting every tensor storage the
ops create until it is freed; GPU: torch.cuda.max_memory_allocated minus the weights). Bytes sent: the
`Collectives` counters (what our sequence-parallel code sends), checked against `sp_bytes` (the formula
of docs/benchmarks_parallel.md); FSDP's own all-gathers are reported from their formula
((P-1)/P of the weights, once per forward). `--model` prints the scaling model for the full-size models.
`--vae`: peak live bytes per rank of the video VAE decode, whole / tiled on one process and with the
tiles shared over the ranks (`parallel.vae_decode`; rank 0 blends and holds the output).
"""

import argparse
import json
import os
import time
import weakref

import torch
import torch.distributed as dist
from torch.utils._python_dispatch import TorchDispatchMode

from ltx2_core.parallel.modes import parallel_model
from ltx2_core.parallel.selfcheck import free_port
from ltx2_core.transformer import LTX2Transformer, TransformerConfig
from ltx2_core.transformer.inputs import ModalityInput
from ltx2_core.transformer.positions import audio_positions, video_positions


class LiveBytes(TorchDispatchMode):
    """Peak bytes of tensor storages created inside the mode and still alive (CPU activation memory)."""

    def __init__(self):
        super().__init__()
        self.live, self.peak, self._seen = 0, 0, set()

    def _free(self, key, size):
        self._seen.discard(key)
        self.live -= size

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and not isinstance(t, torch.nn.Parameter):
                storage = t.untyped_storage()
                key = storage.data_ptr()
                if key and key not in self._seen:
                    self._seen.add(key)
                    self.live += storage.nbytes()
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(storage, self._free, key, storage.nbytes()).atexit = False
        return out


def bench_config(layers: int) -> TransformerConfig:
    return TransformerConfig.tiny("2.0", num_layers=layers, heads=4, head_dim=32, cross_attention_dim=128,
                                  audio_heads=4, audio_head_dim=16, audio_cross_attention_dim=64)


def inputs(config: TransformerConfig, tokens: int, audio_tokens: int, dtype, device):
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=gen).to(device=device, dtype=dtype)

    sigma = torch.full((1,), 0.7, dtype=dtype, device=device)
    video = ModalityInput(rand(1, tokens, config.in_channels), sigma, sigma[:, None].expand(1, tokens).contiguous(),
                          video_positions(1, 1, 1, tokens, 24.0, dtype=dtype, device=device), rand(1, 8, 24))
    audio = ModalityInput(rand(1, audio_tokens, config.audio_in_channels), sigma,
                          sigma[:, None].expand(1, audio_tokens).contiguous(),
                          audio_positions(1, audio_tokens, dtype=dtype, device=device), rand(1, 8, 24))
    return video, audio


def sp_bytes(config: TransformerConfig, tokens: int, audio_tokens: int, world: int, elem: int, rank: int = 0) -> int:
    """Bytes one rank sends in one sequence-parallel forward (batch 1, no STG block)."""
    local = -(-tokens // world)
    heads = -(-config.heads // world) * world
    a2a = 4 * local * heads * config.head_dim * elem * (world - 1) // world  # q, k, v, out of video self-attn
    v2a = 2 * local * config.audio_heads * config.audio_head_dim * elem * (world - 1)  # gathered k, v
    out = local * config.out_channels * elem * (world - 1)
    audio = audio_tokens * config.audio_out_channels * elem * (world - 1) if rank == 0 else 0
    return config.num_layers * (a2a + v2a) + out + audio


def _worker(rank, world, port, args, out_dir):
    torch.set_num_threads(1)
    device = torch.device("cuda", rank) if args.gpu else torch.device("cpu")
    dtype = torch.bfloat16 if args.gpu else torch.float32
    if args.gpu:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if args.gpu else "gloo", init_method=f"tcp://127.0.0.1:{port}",
                                rank=rank, world_size=world)
    config = bench_config(args.layers)
    rows = []
    for mode in (("single",) if world == 1 else ("sp", "fsdp", "sp+fsdp")):
        torch.manual_seed(0)
        model = LTX2Transformer(config, dtype=dtype, device=device).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0, 0.05)
        full = sum(p.numel() * p.element_size() for p in model.parameters())
        wrapped = model if mode == "single" else parallel_model(model, mode)
        weights = sum(getattr(p, "_local_tensor", p).numel() * p.element_size() for p in model.parameters())
        video, audio = inputs(config, args.tokens, args.audio_tokens, dtype, device)
        with torch.no_grad():
            wrapped(video, audio)  # warm-up (FSDP lazy init)
            if hasattr(wrapped, "comm"):
                wrapped.comm.reset()
            if args.gpu:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            start = time.perf_counter()
            if args.gpu:
                wrapped(video, audio)
                torch.cuda.synchronize()
                activations = torch.cuda.max_memory_allocated() - base
            else:
                with LiveBytes() as live:
                    wrapped(video, audio)
                activations = live.peak
            seconds = time.perf_counter() - start
        sent = sum(wrapped.comm.sent_bytes.values()) if hasattr(wrapped, "comm") else 0
        elem = torch.finfo(dtype).bits // 8
        expected = sp_bytes(config, args.tokens, args.audio_tokens, world, elem, rank) if "sp" in mode else 0
        fsdp = (full - weights) if "fsdp" in mode else 0  # all-gathered once per forward
        rows.append(dict(mode=mode, world=world, rank=rank, weights=weights, full=full, activations=activations,
                         sent=sent, sent_formula=expected, fsdp_gathered=fsdp, seconds=seconds))
    with open(os.path.join(out_dir, f"{world}_{rank}.json"), "w", encoding="utf-8") as handle:
        json.dump(rows, handle)
    if world > 1:
        dist.barrier()  # no rank tears its gloo threads down while another still sends
        dist.destroy_process_group()


VAE_LATENT = (1, 8, 6, 4, 6)  # 41 x 128 x 192 px


def _vae_worker(rank, world, port, args, out_dir):
    """The video VAE decode with 64 px tiles / 16-frame chunks: whole and tiled on one process, the tiles
    shared over the ranks (`decode_parallel`, result on rank 0) otherwise. Peak live bytes per rank."""
    from ltx2_core.parallel import vae_check
    from ltx2_core.parallel.group import Collectives
    from ltx2_core.parallel.vae_decode import decode_parallel, decode_plan

    torch.set_num_threads(1)
    device = torch.device("cuda", rank) if args.gpu else torch.device("cpu")
    dtype = torch.bfloat16 if args.gpu else torch.float32
    if args.gpu:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if args.gpu else "gloo", init_method=f"tcp://127.0.0.1:{port}",
                                rank=rank, world_size=world)
    vae = vae_check.build_vae(timestep_conditioning=False, base_channels=args.vae_channels).to(device, dtype)
    latent = vae_check.make_latent(shape=VAE_LATENT).to(device, dtype)
    tiles = len(decode_plan(latent.shape, vae_check.TILING, 8, 32)[0])
    comm = Collectives() if world > 1 else None
    jobs = {"whole": lambda: vae.decode(latent), "tiled": lambda: vae.decode(latent, tiling=vae_check.TILING)}
    if world > 1:
        jobs = {"parallel": lambda: decode_parallel(vae, latent, vae_check.TILING, comm=comm, to_all=False)}
    rows = []
    for mode, job in jobs.items():
        with torch.no_grad():
            if args.gpu:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            start = time.perf_counter()
            if args.gpu:
                out = job()
                torch.cuda.synchronize()
                peak = torch.cuda.max_memory_allocated() - base
            else:
                with LiveBytes() as live:
                    out = job()
                peak = live.peak
            seconds = time.perf_counter() - start
        output = 0 if out is None else out.numel() * out.element_size()
        mine = {"whole": 1, "tiled": tiles}.get(mode, len(range(rank, tiles, world)))
        rows.append(dict(mode=mode, world=world, rank=rank, peak=peak, output=output, tiles=mine,
                         sent=comm.sent_bytes.get("send", 0) if comm else 0, seconds=seconds))
        del out
    with open(os.path.join(out_dir, f"vae_{world}_{rank}.json"), "w", encoding="utf-8") as handle:
        json.dump(rows, handle)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def _vae_table(args, out):
    import torch.multiprocessing as mp

    print("| decode | ranks | tiles decoded | peak live / rank (MB) | of which output (MB) | sent (MB) | s |")
    print("|---|---|---|---|---|---|---|")
    for world in (int(w) for w in args.worlds.split(",")):
        mp.spawn(_vae_worker, args=(world, free_port(), args, out), nprocs=world, join=True)
        for rank in range(world):
            with open(os.path.join(out, f"vae_{world}_{rank}.json"), encoding="utf-8") as handle:
                for r in json.load(handle):
                    print(f"| {r['mode']} | {world} (rank {rank}) | {r['tiles']} | {r['peak'] / 1e6:.2f} "
                          f"| {r['output'] / 1e6:.2f} | {r['sent'] / 1e6:.2f} | {r['seconds']:.2f} |")


def scaling_model(world: int, *, tokens=24_576, dim=4096, layers=48, heads=32, head_dim=128, audio_inner=2048,
                  params=19e9, flops=600e12, bandwidth=300e9, elem=2, overlap=0.0) -> dict:
    """Step-time model of sequence parallelism (see docs/benchmarks_parallel.md for the assumptions)."""
    linear = 2 * params * tokens  # every weight touches every video token once (audio ignored: ~4%)
    attention = 4 * tokens * tokens * heads * head_dim * layers
    compute = (linear + attention) / flops
    local = tokens / world
    sent = layers * (4 * local * dim * (world - 1) / world + 2 * local * audio_inner * (world - 1)) * elem
    comm = sent / bandwidth * (1 - overlap)
    step = compute / world + comm
    return dict(world=world, compute_s=compute / world, comm_s=comm, sent_gb=sent / 1e9,
                efficiency=compute / (world * step))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--worlds", default="1,2,4")
    parser.add_argument("--tokens", type=int, default=1001)
    parser.add_argument("--audio-tokens", type=int, default=40)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--model", action="store_true", help="print only the scaling model")
    parser.add_argument("--vae", action="store_true", help="only the video VAE decode over the ranks")
    parser.add_argument("--vae-channels", type=int, default=8, help="decoder base channels of the --vae model")
    args = parser.parse_args()
    if args.vae:
        import tempfile

        _vae_table(args, tempfile.mkdtemp())
        return
    if not args.model:
        import tempfile

        import torch.multiprocessing as mp

        out = tempfile.mkdtemp()
        print("| mode | ranks | weights / rank (MB) | activations peak / rank (MB) | sent / rank / forward (MB) "
              "| formula (MB) | FSDP gathers (MB) | forward s |")
        print("|---|---|---|---|---|---|---|---|")
        for world in (int(w) for w in args.worlds.split(",")):
            mp.spawn(_worker, args=(world, free_port(), args, out), nprocs=world, join=True)
            for rank in range(world):
                with open(os.path.join(out, f"{world}_{rank}.json"), encoding="utf-8") as handle:
                    for r in json.load(handle):
                        print(f"| {r['mode']} | {world} (rank {rank}) | {r['weights'] / 1e6:.2f} "
                              f"| {r['activations'] / 1e6:.2f} | {r['sent'] / 1e6:.3f} | {r['sent_formula'] / 1e6:.3f} "
                              f"| {r['fsdp_gathered'] / 1e6:.2f} | {r['seconds']:.3f} |")
    print("\nScaling model (LTX-2 19B, 24.6k video tokens, bf16, 600 TFLOP/s per GPU):")
    print("| GPUs | link | compute s | comm s | sent / rank (GB) | efficiency |")
    print("|---|---|---|---|---|---|")
    for link, bandwidth in (("NVLink 300 GB/s", 300e9), ("PCIe 4 x16 20 GB/s", 20e9)):
        for world in (2, 4, 8):
            m = scaling_model(world, bandwidth=bandwidth)
            print(f"| {world} | {link} | {m['compute_s']:.2f} | {m['comm_s']:.2f} | {m['sent_gb']:.1f} "
                  f"| {m['efficiency']:.0%} |")


if __name__ == "__main__":
    main()
