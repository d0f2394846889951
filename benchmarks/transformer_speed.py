"""Forward time of LTX2Transformer vs the official ltx-core 1.0.0 LTXModel, measured in the same run.

`python -m benchmarks.transformer_speed [--layers 4] [--frames 8] [--size 16] [--repeats 3]`
Mid-size LTX-2.3-style config (video 8x64 = 512 wide, audio 8x32 = 256 wide), float32 on CPU,
image-to-video inputs (first latent frame at sigma 0), identical random weights. Prints wall-clock
medians and the CPU time of the computing thread (robust on a shared machine when run on one
thread, the default), and the ratios ours / ltx-core (lower is better; target <= 1.0).
"""

import argparse
import statistics

import torch

from benchmarks.timing import interleaved
from ltx2_core.transformer import LTX2Transformer, ModalityInput, TransformerConfig, audio_positions, video_positions


def _config(layers: int) -> TransformerConfig:
    return TransformerConfig.ltx23_22b(num_layers=layers, heads=8, head_dim=64, cross_attention_dim=512,
                                       audio_heads=8, audio_head_dim=32, audio_cross_attention_dim=256,
                                       cross_modulation="other_sigma")  # the semantics ltx-core 1.0.0 implements


def _inputs(config: TransformerConfig, frames: int, size: int, context: int, gen: torch.Generator):
    n_video, n_audio = frames * size * size, round((8 * (frames - 1) + 1) / 24 * 25)
    timesteps = torch.full((1, n_video), 0.8)
    timesteps[:, : size * size] = 0.0  # image-to-video: first latent frame is clean
    sigma = torch.tensor([0.8])
    video = ModalityInput(torch.randn(1, n_video, config.in_channels, generator=gen), sigma, timesteps,
                          video_positions(1, frames, size, size, fps=24.0),
                          torch.randn(1, context, config.cross_attention_dim, generator=gen))
    audio = ModalityInput(torch.randn(1, n_audio, config.audio_in_channels, generator=gen), sigma,
                          torch.full((1, n_audio), 0.8), audio_positions(1, n_audio),
                          torch.randn(1, context, config.audio_cross_attention_dim, generator=gen))
    return video, audio


def _reference(config: TransformerConfig, state):
    from ltx_core.model.transformer.model_configurator import LTXModelConfigurator

    with torch.device("meta"):
        model = LTXModelConfigurator.from_config(config.to_metadata())
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def _to_ltx(m: ModalityInput):
    from ltx_core.model.transformer.modality import Modality

    return Modality(latent=m.latent, sigma=m.sigma, timesteps=m.timesteps, positions=m.positions, context=m.context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=16, help="latent height = width")
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 keeps timings stable on a shared CPU; 0 = torch default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from ltx_core.guidance.perturbations import BatchedPerturbationConfig

    gen = torch.Generator().manual_seed(0)
    config = _config(args.layers)
    ours = LTX2Transformer(config)
    with torch.no_grad():
        for name, p in ours.named_parameters():
            scale = 0.2 if p.ndim == 1 or "table" in name else p.shape[-1] ** -0.5
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    ours.eval()
    ref = _reference(config, {k: v.clone() for k, v in ours.state_dict().items()})
    video, audio = _inputs(config, args.frames, args.size, args.context, gen)
    runs = {
        "ours": lambda: ours(video, audio),
        "ltx-core 1.0.0": lambda: ref(_to_ltx(video), _to_ltx(audio), BatchedPerturbationConfig.empty(1)),
    }
    outputs, wall, cpu = interleaved(runs, args.repeats)
    err = max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(outputs["ours"], outputs["ltx-core 1.0.0"]))
    print(f"config: {args.layers} layers, video {config.dim} wide ({video.latent.shape[1]} tokens), audio "
          f"{config.audio_dim} wide ({audio.latent.shape[1]} tokens), context {args.context}, float32, "
          f"{torch.get_num_threads()} thread(s), {args.repeats} repeats")
    for name in runs:
        median_ms, min_ms, cpu_ms = statistics.median(wall[name]) * 1e3, min(wall[name]) * 1e3, min(cpu[name]) * 1e3
        print(f"{name:>16}: wall median {median_ms:8.1f} ms, min {min_ms:8.1f} ms | thread CPU min {cpu_ms:8.1f} ms")
    ratio_wall = statistics.median(wall["ours"]) / statistics.median(wall["ltx-core 1.0.0"])
    ratio_cpu = min(cpu["ours"]) / min(cpu["ltx-core 1.0.0"])
    note = "" if torch.get_num_threads() == 1 else " (thread CPU time only counts the main thread)"
    print(f"ratio ours / ltx-core: wall (median) {ratio_wall:.3f}, thread CPU (min) {ratio_cpu:.3f}{note}  "
          f"(max relative output difference {err:.2e})")


if __name__ == "__main__":
    main()
