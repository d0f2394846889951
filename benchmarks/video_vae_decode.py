"""Video VAE decode: peak CPU memory vs clip length (whole / tiled / streamed) and time vs ltx-core 1.0.0.

    python -m benchmarks.video_vae_decode [--frames 17 33 65 129] [--size 128] [--threads N] [--repeats 3]

Model: the LTX-2.3 block layout at reduced width (latent 16 channels, decoder base 4 -> 32-channel
bottleneck, one res block per stage: activations stay large, compute stays small), random weights
shared by ours and the oracle, float32, CPU, 128x128 px by default.
Memory: the peak resident set (Linux VmHWM, reset through /proc/self/clear_refs before each decode)
minus the resident set just before it, measured in a child process run with a small glibc mmap
threshold so freed tensors leave the resident set. "tiled" returns the whole clip (its output is counted);
"stream" consumes `decode_iter` chunk by chunk (as a video writer would) and keeps nothing.
Time (normal allocator, this process): ours / ltx-core for the whole decode and for the same tiling,
best of --repeats, ours and the oracle interleaved so both see the same machine load.
"max diff": largest |ours tiled - ltx-core tiled| over the clip.
"""

import argparse
import copy
import os
import subprocess
import sys

import torch

from benchmarks.memory import MMAP_ENV, consume, measure, timed
from ltx2_core.video_vae import LTX23_VAE_METADATA, TilingConfig, VideoVAE, VideoVAEConfig

LATENT = 16
BASE = 4
TILING = TilingConfig(tile_size_px=None, chunk_frames=32, chunk_overlap_frames=8)


def build(seed: int = 0):
    from ltx_core.model.video_vae.model_configurator import VideoDecoderConfigurator

    meta = copy.deepcopy(LTX23_VAE_METADATA)
    meta.update(latent_channels=LATENT, decoder_base_channels=BASE)
    meta["decoder_blocks"] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p] for n, p in meta["decoder_blocks"]]
    ref = VideoDecoderConfigurator.from_config({"vae": meta}).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
        ref.per_channel_statistics.get_buffer("mean-of-means").zero_()
        ref.per_channel_statistics.get_buffer("std-of-means").fill_(1.0)
    ours = VideoVAE(VideoVAEConfig.from_metadata(meta), components=("decoder",)).eval()
    state = {("decoder." + k if not k.startswith("per_channel") else k): v for k, v in ref.state_dict().items()}
    ours.load_state_dict(state, strict=True)
    return ref, ours


def _setup(size, threads):
    from ltx_core.model.video_vae.tiling import TemporalTilingConfig
    from ltx_core.model.video_vae.tiling import TilingConfig as RefTiling

    torch.set_num_threads(threads)
    ref, ours = build()
    ref_tiling = RefTiling(temporal_config=TemporalTilingConfig(TILING.chunk_frames, TILING.chunk_overlap_frames))
    side = size // 32
    with torch.no_grad():
        warm = torch.zeros(1, LATENT, 2, side, side)
        ours.decode(warm), ref(warm)  # one-time allocations (thread pools, kernels) stay out of the figures
    return ref, ours, ref_tiling, side


def _latent(frames, side):
    return torch.randn(1, LATENT, 1 + (frames - 1) // 8, side, side, generator=torch.Generator().manual_seed(1))


def run_memory(frames_list, size, threads):
    """Peak extra resident memory per variant (run under the small mmap threshold)."""
    ref, ours, _, side = _setup(size, threads)
    print(f"# video VAE decode, float32 CPU, {torch.get_num_threads()} threads, {size}x{size} px, "
          f"LTX-2.3 layout at latent {LATENT} / base {BASE}, "
          f"chunks {TILING.chunk_frames}/{TILING.chunk_overlap_frames} frames")
    print(f"{'frames':>6} {'out MiB':>8} | peak extra MiB: {'whole':>7} {'tiled':>7} {'stream':>7} {'ltx whole':>9}")
    with torch.no_grad():
        for frames in frames_list:
            z = _latent(frames, side)
            out_mib = 3 * frames * size * size * 4 / 2**20
            _, m_whole = measure(lambda: ours.decode(z))
            _, m_tiled = measure(lambda: ours.decode(z, tiling=TILING))
            _, m_stream = measure(lambda: consume(ours.decode_iter(z, tiling=TILING)))
            _, m_ref = measure(lambda: ref(z))
            print(f"{frames:>6} {out_mib:>8.1f} | {'':>15} {m_whole:>7.1f} {m_tiled:>7.1f} {m_stream:>7.1f} {m_ref:>9.1f}")


def run_timing(frames_list, size, threads, repeats):
    """Wall time ours vs ltx-core (normal allocator), best of `repeats`, interleaved."""
    ref, ours, ref_tiling, side = _setup(size, threads)
    print(f"{'frames':>6} | {'s: whole':>8} {'ltx':>6} {'ratio':>5} | {'tiled':>6} {'ltx':>6} {'ratio':>5} | "
          "max |tiled - ltx tiled|")
    with torch.no_grad():
        for frames in frames_list:
            z = _latent(frames, side)
            outputs = {}

            def keep(name, fn):
                return lambda: outputs.__setitem__(name, fn())

            runs = [
                (timed(lambda: ours.decode(z)), timed(lambda: ref(z)),
                 timed(keep("tiled", lambda: ours.decode(z, tiling=TILING))),
                 timed(keep("ref_tiled", lambda: torch.cat(list(ref.tiled_decode(z, ref_tiling)), 2))))
                for _ in range(repeats)
            ]
            t_whole, t_ref, t_tiled, t_ref_tiled = (min(times) for times in zip(*runs))
            diff = (outputs.pop("tiled") - outputs.pop("ref_tiled")).abs().max().item()
            print(f"{frames:>6} | {t_whole:>8.2f} {t_ref:>6.2f} {t_whole / t_ref:>5.2f} | {t_tiled:>6.2f} "
                  f"{t_ref_tiled:>6.2f} {t_tiled / t_ref_tiled:>5.2f} | {diff:.1e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[17, 33, 65, 129])
    parser.add_argument("--size", type=int, default=128, help="frame edge in pixels (multiple of 32)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (best is reported)")
    args = parser.parse_args(argv)
    if os.environ.get(MMAP_ENV) is not None:
        run_memory(args.frames, args.size, args.threads)
        return
    # Memory in a child with every large allocation mmapped (freed tensors really leave the resident set);
    # timing here, with the normal allocator.
    env = dict(os.environ, **{MMAP_ENV: "131072"})
    cmd = [sys.executable, "-m", "benchmarks.video_vae_decode", *(argv if argv is not None else sys.argv[1:])]
    if subprocess.call(cmd, env=env):
        raise SystemExit("the memory measurement failed")
    run_timing(args.frames, args.size, args.threads, args.repeats)


if __name__ == "__main__":
    main()
