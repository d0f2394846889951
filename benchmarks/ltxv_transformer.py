"""Forward time of LTXVTransformer vs diffusers 0.42.1 LTXVideoTransformer3DModel (and the official ltx_video
0.1.2 Transformer3DModel when installed), identical random weights, measured in the same run.

`python -m benchmarks.ltxv_transformer [--layers 4] [--heads 8] [--head-dim 64] [--frames 4] [--size 16]`
Default: 4 blocks 512 wide (8 x 64), 4 x 16 x 16 = 1024 latent tokens, 128 text tokens (4096-wide T5
states), per-token timesteps, float32, 1 thread. Prints wall-clock medians, thread CPU minima and the
speed-up other / ours (higher is better; target >= 1.0).
GPU (the paper's 768x512x121 setting, 2B sizes): `--device cuda --dtype bfloat16 --layers 28 --heads 32
--frames 16 --size 16 --width 24`.
"""

import argparse
import statistics
import sys

import torch

from benchmarks.timing import interleaved
from ltx2_core.ltxv import LTXVTransformer, LTXVTransformerConfig, video_positions
from ltx2_core.ltxv.transformer.tiny import random_state_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--size", type=int, default=16, help="latent height (and width unless --width)")
    parser.add_argument("--width", type=int, default=0, help="latent width (0 = --size)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sys.path.insert(0, "tests")
    import _ltxv_transformer_oracles as oracles

    dim = args.heads * args.head_dim
    config = LTXVTransformerConfig(num_layers=args.layers, heads=args.heads, head_dim=args.head_dim,
                                   cross_attention_dim=dim, causal_temporal_positioning=True)
    state = random_state_dict(config, seed=0, scale=0.05)
    dtype, device, width = getattr(torch, args.dtype), torch.device(args.device), args.width or args.size
    ours = LTXVTransformer(config, dtype=dtype)
    ours.load_state_dict(state)
    ours.eval().to(device)
    gen = torch.Generator().manual_seed(1)
    tokens = args.frames * args.size * width
    latent = torch.randn(1, tokens, config.in_channels, generator=gen).to(device, dtype)
    positions = video_positions(args.frames, args.size, width, frame_rate=25.0).to(device)
    context = torch.randn(1, args.context, config.caption_channels, generator=gen).to(device, dtype)
    mask = torch.ones(1, args.context, device=device)
    mask[:, args.context // 2:] = 0
    timestep = torch.full((1, tokens), 0.7, device=device, dtype=dtype)
    timestep[:, : args.size * width] = 0.0  # first latent frame conditioned (0.9.5+ style)
    diffusers = oracles.diffusers_model(config, state, dtype).to(device)
    runs = {"ours": lambda: ours(latent, positions, context, timestep, mask),
            "diffusers 0.42.1": lambda: oracles.diffusers_forward(diffusers, latent, positions, context, timestep,
                                                                  mask)}
    try:
        official = oracles.official_model(config, state, dtype).to(device)
        runs["ltx_video 0.1.2"] = lambda: oracles.official_forward(official, latent, positions, context, timestep,
                                                                   mask)
    except ImportError:
        pass
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    outputs, wall, cpu = interleaved(runs, args.repeats, sync)
    print(f"config: {args.layers} layers, {dim} wide ({args.heads} x {args.head_dim}), {tokens} tokens, context "
          f"{args.context}, {args.dtype} on {device}, {torch.get_num_threads()} thread(s), {args.repeats} repeats")
    for name in runs:
        print(f"{name:>18}: wall median {statistics.median(wall[name]) * 1e3:8.1f} ms, min "
              f"{min(wall[name]) * 1e3:8.1f} ms | thread CPU min {min(cpu[name]) * 1e3:8.1f} ms")
    for name in list(runs)[1:]:
        err = ((outputs["ours"] - outputs[name]).abs().max() / outputs[name].abs().max()).item()
        speed_wall = statistics.median(wall[name]) / statistics.median(wall["ours"])
        print(f"speed-up {name} / ours: wall (median) {speed_wall:.3f}, thread CPU (min) "
              f"{min(cpu[name]) / min(cpu['ours']):.3f}  (max relative output difference {err:.2e})")


if __name__ == "__main__":
    main()
