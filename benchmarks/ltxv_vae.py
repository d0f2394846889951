"""LTX-Video VAE decode: time and peak CPU memory vs diffusers 0.42.1 AutoencoderKLLTXVideo, and the
tiled / streamed decode's peak memory vs clip length.

    python -m benchmarks.ltxv_vae [--version 0.9.5] [--frames 17 33 65 129] [--size 128] [--threads N] [--repeats 3]
    python -m benchmarks.ltxv_vae --gpu [--version 0.9.5] [--gpu-frames 121] [--height 512 --width 768]
        [--dtype bfloat16]

Model: the `--version` block layout at reduced width (latent 16 channels, decoder base 8, one res block
per stage), random weights shared by ours and diffusers, latent statistics mean 0 / std 1 (so our
normalized latent equals diffusers' raw one), float32, CPU; timestep-conditioned versions decode at
t = 0.05 with noise scale 0 (diffusers' VAE does not mix decode noise itself).
Memory: peak resident set (VmHWM, reset through /proc/self/clear_refs) minus the resident set just
before, each figure in its own fresh child process run with a small glibc mmap threshold so freed
tensors leave the resident set. "tiled" returns the whole clip (its output is counted); "stream" consumes
`decode_iter` chunk by chunk as a video writer would; "dif frames" is diffusers' framewise decode (chunks of 32 frames, stride
24: its chunks are all held until the end). Time: best of --repeats, ours and diffusers interleaved.
"""

import argparse
import os
import subprocess
import sys
import time

import torch

from benchmarks.memory import MMAP_ENV, consume, measure, timed
from ltx2_core.ltxv.vae import LTXVVAEConfig, LTXVVideoVAE, tiny_metadata, tiny_state_dict
from ltx2_core.ltxv.vae.keys import diffusers_names
from ltx2_core.video_vae import TilingConfig

LATENT = 16
BASE = 8
TILING = TilingConfig(tile_size_px=None, chunk_frames=32, chunk_overlap_frames=8)


def _diffusers_kwargs(cfg: LTXVVAEConfig) -> dict:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from _ltxv_vae_oracle import diffusers_kwargs

    return diffusers_kwargs(cfg.version, base=BASE, latent=LATENT)


def build(version: str):
    from diffusers import AutoencoderKLLTXVideo

    cfg = LTXVVAEConfig.from_metadata(tiny_metadata(version, base=BASE, latent=LATENT))
    state = tiny_state_dict(version, base=BASE, latent=LATENT)
    state["per_channel_statistics.mean-of-means"].zero_()
    state["per_channel_statistics.std-of-means"].fill_(1.0)
    ours = LTXVVideoVAE(cfg, components=("decoder",)).eval()
    ours.load_state_dict({k: v for k, v in state.items() if not k.startswith("encoder.")}, strict=True)
    dif = AutoencoderKLLTXVideo(**_diffusers_kwargs(cfg)).eval()
    names = diffusers_names(cfg, state)
    dif.load_state_dict({names[k]: v for k, v in state.items()}, strict=True)
    return ours, dif


def _setup(version, size, threads):
    torch.set_num_threads(threads)
    ours, dif = build(version)
    side = size // 32
    conditioned = ours.config.timestep_conditioning
    kw = dict(timestep=0.05, noise_scale=0.0) if conditioned else {}
    temb = torch.tensor([0.05]) if conditioned else None
    with torch.no_grad():
        warm = torch.zeros(1, LATENT, 2, side, side)
        ours.decode(warm, **kw), dif.decode(warm, temb)
    return ours, dif, side, kw, temb


def _latent(frames, side):
    return torch.randn(1, LATENT, 1 + (frames - 1) // 8, side, side, generator=torch.Generator().manual_seed(1))


def _dif_framewise(dif, on: bool):
    dif.use_framewise_decoding = on
    dif.tile_sample_min_num_frames, dif.tile_sample_stride_num_frames = 32, 24


VARIANTS = ("whole", "tiled", "stream", "dif whole", "dif frames")


def measure_one(version, variant, frames, size, threads) -> float:
    """Peak extra MiB of one variant on one clip length (this process is fresh: nothing else was decoded)."""
    ours, dif, side, kw, temb = _setup(version, size, threads)
    z = _latent(frames, side)
    calls = {
        "whole": lambda: ours.decode(z, **kw),
        "tiled": lambda: ours.decode(z, tiling=TILING, **kw),
        "stream": lambda: consume(ours.decode_iter(z, tiling=TILING, **kw)),
        "dif whole": lambda: (_dif_framewise(dif, False), dif.decode(z, temb)),
        "dif frames": lambda: (_dif_framewise(dif, True), dif.decode(z, temb)),
    }
    with torch.no_grad():
        return measure(calls[variant])[1]


def run_memory(version, frames_list, size, threads):
    """One child process per (variant, clip length), run with a small mmap threshold."""
    print(f"# LTX-Video {version} VAE decode, float32 CPU, {threads} threads, {size}x{size} px, "
          f"latent {LATENT} / base {BASE}, chunks {TILING.chunk_frames}/{TILING.chunk_overlap_frames} frames")
    print(f"{'frames':>6} {'out MiB':>8} | peak extra MiB: " + " ".join(f"{v:>10}" for v in VARIANTS))
    env = dict(os.environ, **{MMAP_ENV: "131072"})
    for frames in frames_list:
        row = []
        for variant in VARIANTS:
            code = (f"from benchmarks.ltxv_vae import measure_one; "
                    f"print(measure_one({version!r}, {variant!r}, {frames}, {size}, {threads}))")
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            row.append(float(out.stdout.strip().splitlines()[-1]))
        out_mib = 3 * frames * size * size * 4 / 2**20
        print(f"{frames:>6} {out_mib:>8.1f} | {'':>15} " + " ".join(f"{m:>10.1f}" for m in row), flush=True)


def run_timing(version, frames_list, size, threads, repeats):
    ours, dif, side, kw, temb = _setup(version, size, threads)
    print(f"{'frames':>6} | {'s: whole':>8} {'dif':>6} {'ratio':>5} | {'tiled':>6} {'dif fr':>6} {'ratio':>5} | "
          "max |whole - dif whole|")
    with torch.no_grad():
        for frames in frames_list:
            z = _latent(frames, side)
            outputs = {}

            def keep(name, fn):
                return lambda: outputs.__setitem__(name, fn())

            def dif_run(framewise):
                def call():
                    _dif_framewise(dif, framewise)
                    return dif.decode(z, temb).sample
                return call

            runs = [(timed(keep("ours", lambda: ours.decode(z, **kw))), timed(keep("dif", dif_run(False))),
                     timed(lambda: ours.decode(z, tiling=TILING, **kw)), timed(dif_run(True)))
                    for _ in range(repeats)]
            t_whole, t_dif, t_tiled, t_dif_fr = (min(times) for times in zip(*runs))
            diff = (outputs.pop("ours") - outputs.pop("dif")).abs().max().item()
            print(f"{frames:>6} | {t_whole:>8.2f} {t_dif:>6.2f} {t_dif / t_whole:>5.2f} | {t_tiled:>6.2f} "
                  f"{t_dif_fr:>6.2f} {t_dif_fr / t_tiled:>5.2f} | {diff:.1e}")
    print("ratio = diffusers time / ours (> 1: ours faster)")


def run_gpu(version, frames, height, width, dtype_name, repeats, device="cuda"):
    """Full-size `version` decoder (random weights) on CUDA: time and peak allocated memory, ours whole /
    chunked vs diffusers whole / framewise, at the paper's headline 768x512x121 by default."""
    from diffusers import AutoencoderKLLTXVideo

    from ltx2_core.ltxv.vae.keys import diffusers_names as names_of

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from _ltxv_vae_oracle import diffusers_kwargs

    dtype, dev = getattr(torch, dtype_name), torch.device(device)
    cuda = dev.type == "cuda"
    cfg = LTXVVAEConfig.preset(version)
    ours = LTXVVideoVAE(cfg, components=("decoder",), device=dev, dtype=dtype).eval()
    gen = torch.Generator(device=dev).manual_seed(0)
    with torch.no_grad():
        for name, p in ours.state_dict().items():
            p.copy_(torch.randn(p.shape, generator=gen, device=dev, dtype=p.dtype) * 0.02)
        if cfg.timestep_conditioning:
            ours.decoder.timestep_scale_multiplier.fill_(1000.0)
        ours.per_channel_statistics.get_buffer("mean-of-means").zero_()
        ours.per_channel_statistics.get_buffer("std-of-means").fill_(1.0)
    dif = AutoencoderKLLTXVideo(**{k: v for k, v in diffusers_kwargs(version, full=True).items()}).to(dev, dtype).eval()
    names = names_of(cfg, ours.state_dict())
    missing, unexpected = dif.load_state_dict({names[k]: v for k, v in ours.state_dict().items()}, strict=False)
    assert not unexpected and all(k.startswith("encoder.") for k in missing), (missing, unexpected)
    z = torch.randn(1, 128, 1 + (frames - 1) // 8, height // 32, width // 32, device=dev, dtype=dtype)
    kw = dict(timestep=0.05, noise_scale=0.0) if cfg.timestep_conditioning else {}
    temb = torch.full((1,), 0.05, device=dev, dtype=dtype) if cfg.timestep_conditioning else None
    tiling = TilingConfig(tile_size_px=None, chunk_frames=64, chunk_overlap_frames=24)

    def cuda_run(fn):
        best, peak = float("inf"), 0
        for _ in range(repeats):
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated() if cuda else 0
            start = time.perf_counter()
            fn()
            if cuda:
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
            peak = max(peak, (torch.cuda.max_memory_allocated() - base) / 2**30 if cuda else 0.0)
        return best, peak

    where = torch.cuda.get_device_name() if cuda else "cpu"
    print(f"# LTX-Video {version} full-size decoder on {where}, {dtype_name}, "
          f"{width}x{height}x{frames}")
    with torch.no_grad():
        cuda_run(lambda: ours.decode(z[:, :, :2], **kw))
        results = {
            "ours whole": cuda_run(lambda: ours.decode(z, **kw)),
            "ours chunked 64/24": cuda_run(lambda: ours.decode(z, tiling=tiling, **kw)),
            "ours streamed 64/24": cuda_run(lambda: consume(ours.decode_iter(z, tiling=tiling, **kw))),
            "diffusers whole": cuda_run(lambda: (_dif_framewise(dif, False), dif.decode(z, temb))),
        }
    for name, (seconds, gib) in results.items():
        print(f"{name:>22}: {seconds:7.3f} s  peak extra {gib:7.2f} GiB")
    print(f"diffusers whole / ours whole time: {results['diffusers whole'][0] / results['ours whole'][0]:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default="0.9.5", choices=["0.9.0", "0.9.1", "0.9.5"])
    parser.add_argument("--frames", type=int, nargs="+", default=[17, 33, 65, 129])
    parser.add_argument("--size", type=int, default=128, help="frame edge in pixels (multiple of 32)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gpu", action="store_true", help="full-size decoder on CUDA (see run_gpu)")
    parser.add_argument("--gpu-frames", type=int, default=121)
    parser.add_argument("--gpu-device", default="cuda", help="cpu only to smoke-test the GPU section")
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args(argv)
    if args.gpu:
        run_gpu(args.version, args.gpu_frames, args.height, args.width, args.dtype, args.repeats, args.gpu_device)
        return
    run_memory(args.version, args.frames, args.size, args.threads)
    run_timing(args.version, args.frames, args.size, args.threads, args.repeats)


if __name__ == "__main__":
    main()
