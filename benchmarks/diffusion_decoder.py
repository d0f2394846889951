"""LTX-2.5 diffusion video decoder: decode time and peak memory vs the conv decoder and vs diffusers 0.42.1,
untiled and tiled, at equal output size.

    python -m benchmarks.diffusion_decoder [--size 96] [--frames 17] [--threads N] [--kernels small|released]
                                           [--device cpu|cuda] [--json OUT] [--smoke]

Models (random weights, float32): the diffusion decoder at reduced width (widths 256/128/64/64/32, head 32,
depths 1/1/1/1/2, the released strides and patch; kernels (3,3,3) in stages 1-4 and (3,7,7) in stage 5 by
default so that diffusers' flex-attention path, which materializes the whole score matrix without
torch.compile, fits on a CPU; `--kernels released` uses (3,7,7)/(3,5,5)/(11,11,11) and needs >= 224 px),
the same weights in diffusers' `LTX2VideoDiffusionDecoderModel`, and our LTX-2.3-layout conv decoder at reduced
width (latent 16, base 8). Tiled: 64 px tiles / 32 px overlap, 16-frame chunks / 8 overlap (both decoders).
CPU memory: peak resident set minus the resident set before the call (Linux VmHWM, reset before each call), in
a child process with a small glibc mmap threshold so freed tensors leave the resident set; CUDA: peak allocated.
Time: one call after a warm-up, wall seconds. "max diff": ours vs diffusers (same weights, same noise).
`--smoke` runs every case once on a tiny config (CI).
"""

import argparse
import json
import os
import subprocess
import sys

import torch

from benchmarks.memory import MMAP_ENV, consume, measure, timed
from ltx2_core.atomic import atomic_output
from ltx2_core.video_vae import LTX23_VAE_METADATA, TilingConfig, VideoVAE, VideoVAEConfig
from ltx2_core.video_vae.diffusion_decoder import DiffusionDecoderConfig, DiffusionVideoDecoder
from ltx2_core.video_vae.diffusion_decoder.keys import to_diffusers
from ltx2_core.video_vae.diffusion_decoder.tiling import decode_tiled

LATENT = 16
TILING = TilingConfig(tile_size_px=64, tile_overlap_px=32, chunk_frames=16, chunk_overlap_frames=8)
KERNELS = {
    "small": dict(stage_kernels=((3, 3, 3),) * 4, stage5_kernel=(3, 7, 7)),
    "released": dict(stage_kernels=((3, 7, 7), (3, 7, 7), (3, 5, 5), (3, 5, 5)), stage5_kernel=(11, 11, 11)),
}


def decoder_config(kernels: str, smoke: bool) -> DiffusionDecoderConfig:
    if smoke:
        return DiffusionDecoderConfig.tiny(LATENT).with_(stage_kernels=((3, 1, 1), (3, 1, 1), (3, 3, 3), (3, 3, 3)))
    return DiffusionDecoderConfig(in_channels=LATENT, head_dim=32, stage_channels=(256, 128, 64, 64, 32),
                                  stage_depths=(1, 1, 1, 1, 2), t_emb_dim=64, **KERNELS[kernels])


def build(config: DiffusionDecoderConfig, device):
    """(ours, diffusers, conv VAE) with random weights; ours and diffusers share them."""
    from diffusers.models.autoencoders.ltx2_diffusion_decoder import LTX2VideoDiffusionDecoderModel

    c = config
    gen = torch.Generator().manual_seed(0)
    ours = DiffusionVideoDecoder(c)
    with torch.no_grad():
        for p in ours.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    theirs = LTX2VideoDiffusionDecoderModel(
        out_channels=c.out_channels, latent_channels=c.in_channels, patch_size=c.patch_size,
        decoder_head_dim=c.head_dim,
        decoder_stage_channels=c.stage_channels, decoder_stage_depths=c.stage_depths,
        decoder_stage_kernels=c.stage_kernels, decoder_upsample_strides=c.strides,
        decoder_upsample_channel_reductions=c.reductions, decoder_stage5_kernel=c.stage5_kernel,
        decoder_t_emb_dim=c.t_emb_dim, decoder_timestep_scale_multiplier=c.timestep_scale_multiplier,
        decoder_model_output_type=c.model_output_type, decoder_num_inference_steps=c.num_inference_steps)
    state = {"decoder." + k: v for k, v in ours.state_dict().items()}
    state["per_channel_statistics.mean-of-means"] = torch.zeros(c.in_channels)
    state["per_channel_statistics.std-of-means"] = torch.ones(c.in_channels)
    theirs.load_state_dict(to_diffusers(state), strict=True)
    meta = dict(LTX23_VAE_METADATA, latent_channels=LATENT, decoder_base_channels=8)
    meta["decoder_blocks"] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p] for n, p in meta["decoder_blocks"]]
    conv = VideoVAE(VideoVAEConfig.from_metadata(meta), components=("decoder",))
    with torch.no_grad():
        for name, p in conv.state_dict().items():
            p.copy_(torch.ones_like(p) if "std-of" in name else torch.randn(p.shape, generator=gen) * 0.05)
    return ours.eval().to(device), theirs.eval().to(device), conv.eval().to(device)


def cases(ours, theirs, conv, z):
    """name -> zero-argument decode; every diffusion case uses its own generator seeded 5."""
    def gen():
        return torch.Generator().manual_seed(5)

    def theirs_tiled():
        theirs.enable_tiling(tile_sample_min_height=TILING.tile_size_px, tile_sample_min_width=TILING.tile_size_px,
                             tile_sample_min_num_frames=TILING.chunk_frames,
                             tile_sample_stride_height=TILING.tile_size_px - TILING.tile_overlap_px,
                             tile_sample_stride_width=TILING.tile_size_px - TILING.tile_overlap_px,
                             tile_sample_stride_num_frames=TILING.chunk_frames - TILING.chunk_overlap_frames)
        try:
            return theirs.decode(z, generator=gen(), return_dict=False)[0]
        finally:
            theirs.disable_tiling()

    return {
        "ours untiled": lambda: ours.decode(z, gen()),
        "ours tiled (streamed)": lambda: consume(decode_tiled(ours, z, TILING, gen())),
        "diffusers untiled": lambda: theirs.decode(z, generator=gen(), return_dict=False)[0],
        "diffusers tiled": theirs_tiled,
        "conv untiled": lambda: conv.decode(z),
        "conv tiled (streamed)": lambda: consume(conv.decode_iter(z, tiling=TILING)),
    }


def measure_on(device, fn):
    """(seconds, peak extra MiB): resident set on the CPU, allocated memory on CUDA."""
    if device.type != "cuda":
        return measure(fn)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    seconds = timed(lambda: (fn(), torch.cuda.synchronize()))
    return seconds, (torch.cuda.max_memory_allocated() - before) / 2**20


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = decoder_config(args.kernels, args.smoke)
    ours, theirs, conv = build(config, device)
    side = args.size // 32
    z = torch.randn(1, LATENT, 1 + (args.frames - 1) // 8, side, side, generator=torch.Generator().manual_seed(1))
    z = z.to(device)
    results = {}
    with torch.no_grad():
        a = ours.decode(z, torch.Generator().manual_seed(5))
        b = theirs.decode(z, generator=torch.Generator().manual_seed(5), return_dict=False)[0]
        diff = (a - b).abs().max().item()
        for name, fn in cases(ours, theirs, conv, z).items():
            fn()  # warm-up: thread pools, kernels, lazily built tables
            seconds, mib = measure_on(device, fn)
            results[name] = {"seconds": round(seconds, 3), "peak_mib": round(mib, 1)}
    return {"size": args.size, "frames": args.frames, "kernels": "tiny" if args.smoke else args.kernels,
            "device": str(device), "threads": torch.get_num_threads(), "max_diff_vs_diffusers": diff,
            "results": results}


def report(data: dict) -> None:
    print(f"# diffusion decoder, {data['frames']} frames {data['size']}x{data['size']} px, float32 {data['device']}, "
          f"{data['threads']} threads, kernels {data['kernels']}; "
          f"max |ours - diffusers| {data['max_diff_vs_diffusers']:.1e}")
    print(f"{'case':<24} {'seconds':>8} {'peak MiB':>9}")
    for name, r in data["results"].items():
        print(f"{name:<24} {r['seconds']:>8.3f} {r['peak_mib']:>9.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=96, help="frame edge in pixels (multiple of 32)")
    parser.add_argument("--frames", type=int, default=17, help="1 + 8k frames")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--kernels", choices=sorted(KERNELS), default="small")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the figures to this file as well")
    parser.add_argument("--smoke", action="store_true", help="tiny config and size, every case once (CI)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.frames = 64, 17
    if args.device == "cpu" and not args.child:
        # The CPU figures come from a child whose large allocations are mmapped (freed tensors leave the RSS).
        env = dict(os.environ, **{MMAP_ENV: "131072"})
        argv = list(argv if argv is not None else sys.argv[1:])
        cmd = [sys.executable, "-m", "benchmarks.diffusion_decoder", *argv, "--child"]
        raise SystemExit(subprocess.call(cmd, env=env))
    data = run(args)
    report(data)
    if args.json:
        with atomic_output(args.json) as tmp:
            with open(tmp, "w") as handle:
                json.dump(data, handle, indent=1)


if __name__ == "__main__":
    main()
