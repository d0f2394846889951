"""Step cache (ltx2_core.transformer.step_cache): threshold -> skipped model calls, speed-up, deviation.

`python -m benchmarks.step_cache [--layers 8] [--steps 20] [--size 128] [--frames 17] [--repeats 3]`
A tiny random LTX-2 transformer (video 2x16, audio 2x8 wide, `--layers` blocks, weights ~ N(0, 0.05^2),
seed 0), the dev guidance (CFG + STG + modality, four passes batched per call), the LTX-2 schedule,
float32 on one CPU thread, fixed noise seed. Every threshold runs the same denoise as the uncached run in
the same process; the speed-up is the uncached median CPU time of the computing thread over the cached one
(robust on a shared machine; one thread, the default), the deviation the
max |cached - uncached| of the final latents (video, audio), also relative to max |uncached|.
Random weights say nothing about the quality on real weights: that is unmeasured here.
"""

import argparse
import statistics
import time

import torch

from ltx2_core.pipeline.conditioning import initial_audio_state, initial_video_state
from ltx2_core.pipeline.denoise import TextContext, denoise
from ltx2_core.pipeline.guidance import Guidance, GuidanceParams
from ltx2_core.pipeline.latents import latent_shape, make_generator
from ltx2_core.pipeline.schedules import ltx2_sigmas
from ltx2_core.transformer import LTX2Transformer, TransformerConfig
from ltx2_core.transformer.step_cache import StepCache

FPS = 24.0
THRESHOLDS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.1)


def _guidance(layers: int) -> Guidance:
    params = dict(stg=1.0, stg_blocks=(layers - 1,), rescale=0.7, modality=3.0)
    return Guidance(GuidanceParams(cfg=3.0, **params), GuidanceParams(cfg=7.0, **params))


def _model(layers: int) -> LTX2Transformer:
    torch.manual_seed(0)
    model = LTX2Transformer(TransformerConfig.tiny("2.0", num_layers=layers)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.05)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=128, help="width = height in pixels")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = _model(args.layers)
    shape = latent_shape(args.size, args.size, args.frames, FPS, video_channels=8, audio_channels=2,
                         audio_mel_bins=4)
    gen = torch.Generator().manual_seed(1)
    pos = TextContext(torch.randn(1, 4, 24, generator=gen), torch.randn(1, 4, 24, generator=gen))
    neg = TextContext(torch.randn(1, 4, 24, generator=gen), torch.randn(1, 4, 24, generator=gen))
    guidance, sigmas = _guidance(args.layers), ltx2_sigmas(args.steps)

    def run(cache):
        start = time.thread_time()
        result = denoise(model, shape, initial_video_state(shape, FPS), initial_audio_state(shape), sigmas, pos, neg,
                         guidance, generator=make_generator(7), step_cache=cache)
        return result, time.thread_time() - start

    rows = []
    for threshold in (None,) + THRESHOLDS:
        times, cache = [], None
        for _ in range(args.repeats):
            cache = None if threshold is None else StepCache(threshold)
            result, seconds = run(cache)
            times.append(seconds)
        rows.append((threshold, cache, result, statistics.median(times)))
    _, _, reference, base = rows[0]
    print(f"{args.layers} blocks, {args.steps} steps, {args.size}x{args.size}x{args.frames}, dev guidance "
          f"(4 passes batched), uncached {base:.3f} s CPU")
    print("| threshold | model calls skipped | speed-up | max abs dev video / audio | relative to max abs latent |")
    print("|---|---|---|---|---|")
    for threshold, cache, result, seconds in rows[1:]:
        dv = (result.video - reference.video).abs().max().item()
        da = (result.audio - reference.audio).abs().max().item()
        rv, ra = dv / reference.video.abs().max().item(), da / reference.audio.abs().max().item()
        print(f"| {threshold:g} | {cache.skipped} / {cache.calls} | {base / seconds:.2f}x | {dv:.2e} / {da:.2e} "
              f"| {rv:.2e} / {ra:.2e} |")


if __name__ == "__main__":
    main()
