"""GGUF dequantization throughput (ours vs `gguf.quants.dequantize`, numpy) and packed-model memory.

    python -m benchmarks.gguf_dequant [--size 4096] [--repeats 7] [--types Q8_0,Q4_K] [--threads 1]
                                      [--clock cpu|wall] [--skip-memory]

Part 1: one size x size weight per ggml type (random payload bytes with sane fp16 scales); the best of
`--repeats` rounds, each round timing gguf's numpy dequantizer and ours (float32 into a new tensor, bfloat16
into a new tensor, float32 into a reused buffer) back to back, so load from other processes hits all columns
alike. Ratios are numpy / ours from this run; `*` marks ratios meeting the 10x target. The default clock is
process CPU time (user + system, so page faults count; time spent waiting for other processes on a shared
machine does not), with one torch thread (numpy's dequantizer is single-threaded); `--clock wall` times wall
clock instead. A memory-bound floor line shows filling a new and a reused output of the same size.
Part 2: a tiny-but-wide LTX-2 transformer converted to Q4_0 GGUF, loaded packed: resident memory
(VmRSS) after loading and after one forward pass, vs the GGUF file size and the float32 weight size.
"""

import argparse
import gc
import json
import os
import tempfile
import time

import numpy as np
import torch

DEFAULT_TYPES = ("Q8_0", "Q5_0", "Q5_1", "Q4_0", "Q4_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS")
SCALE_OFFSETS = {
    "Q4_0": (0,), "Q4_1": (0, 2), "Q5_0": (0,), "Q5_1": (0, 2), "Q8_0": (0,), "IQ4_NL": (0,), "IQ4_XS": (0,),
    "Q2_K": (80, 82), "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,),
}


def random_weight(name: str, size: int) -> np.ndarray:
    """A (size, bytes-per-row) uint8 array of random blocks whose fp16 scales are finite and moderate."""
    import gguf

    block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[name]]
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(size * size // block, type_size), dtype=np.uint8)
    for offset in SCALE_OFFSETS[name]:
        raw[:, offset:offset + 2] = rng.uniform(-2, 2, size=(raw.shape[0], 1)).astype(np.float16).view(np.uint8)
    return raw.reshape(size, -1)


TARGET = 10.0


def clock(kind: str):
    return time.process_time if kind == "cpu" else time.perf_counter


def best_times(fns, repeats: int, timer) -> list:
    """Best time of each function over `repeats` rounds; every round runs all functions once, in turn."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = timer()
            fn()
            best[i] = min(best[i], timer() - start)
    return best


def ratio(reference: float, ours: float) -> str:
    value = reference / ours
    return f"{value:>6.1f}{'*' if value >= TARGET else ' '}"


def throughput(types, size: int, repeats: int, clock_kind: str) -> None:
    import gguf

    from ltx2_core.gguf.dequant import TYPE_IDS, dequantize

    timer = clock(clock_kind)
    print(f"Dequantization of a {size}x{size} weight: best of {repeats} rounds, {clock_kind} clock, "
          f"torch threads {torch.get_num_threads()}; x = numpy / ours, * = meets the {TARGET:.0f}x target")
    reuse = torch.empty(size, size)
    reuse.fill_(0)
    fresh, huge, kept = best_times([
        lambda: torch.empty(size, size).fill_(0),
        lambda: torch.from_numpy(np.empty((size, size), np.float32)).fill_(0),  # numpy madvises huge pages
        lambda: reuse.fill_(0),
    ], repeats, timer)
    print(f"memory-bound floor, filling a float32 output: new torch.empty {fresh * 1e3:.1f} ms, new numpy-allocated "
          f"(huge pages, what dequantize uses on CPU) {huge * 1e3:.1f} ms, reused {kept * 1e3:.1f} ms")
    print(f"{'type':<8}{'numpy ms':>10}{'f32 ms':>9}{'x':>7}{'bf16 ms':>9}{'x':>7}{'f32 reuse ms':>14}{'x':>7}"
          f"  exact  load")
    met = {"f32": [], "bf16": [], "reuse": []}
    for name in types:
        raw = random_weight(name, size)
        packed = torch.from_numpy(raw)
        qtype = gguf.GGMLQuantizationType[name]
        tid = TYPE_IDS[name]
        t_np, t32, t16, t_re = best_times([
            lambda: gguf.quants.dequantize(raw, qtype),
            lambda: dequantize(packed, tid, (size, size)),
            lambda: dequantize(packed, tid, (size, size), torch.bfloat16),
            lambda: dequantize(packed, tid, (size, size), out=reuse),
        ], repeats, timer)
        ours = dequantize(packed, tid, (size, size)).numpy()
        exact = np.array_equal(ours.view(np.uint32), gguf.quants.dequantize(raw, qtype).view(np.uint32))
        for key, value in (("f32", t32), ("bf16", t16), ("reuse", t_re)):
            if t_np / value >= TARGET:
                met[key].append(name)
        print(f"{name:<8}{t_np * 1e3:>10.1f}{t32 * 1e3:>9.1f}{ratio(t_np, t32)}{t16 * 1e3:>9.1f}{ratio(t_np, t16)}"
              f"{t_re * 1e3:>14.1f}{ratio(t_np, t_re)}  {str(exact):<5}  {os.getloadavg()[0]:.2f}")
    for key, label in (("f32", "float32, new tensor"), ("bf16", "bfloat16, new tensor"), ("reuse", "float32, reused")):
        print(f"meets {TARGET:.0f}x ({label}): {len(met[key])}/{len(types)} {' '.join(met[key])}")


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory(width_heads: int) -> None:
    from safetensors.torch import save_file

    from ltx2_core.convert import convert
    from ltx2_core.gguf.loader import load_transformer_gguf
    from ltx2_core.gguf.tensor import QuantizedTensor
    from ltx2_core.transformer import LTX2Transformer, ModalityInput, TransformerConfig
    from ltx2_core.transformer.config import _FIXED_VALUES

    section = dict(_FIXED_VALUES, num_layers=2, num_attention_heads=width_heads, attention_head_dim=64, in_channels=128,
                   out_channels=128, cross_attention_dim=width_heads * 64, audio_num_attention_heads=width_heads // 2,
                   audio_attention_head_dim=64, audio_in_channels=128, audio_out_channels=128,
                   audio_cross_attention_dim=width_heads * 32, caption_channels=width_heads * 64)
    meta = {"transformer": section}
    with tempfile.TemporaryDirectory() as folder:
        src, dst = os.path.join(folder, "wide.safetensors"), os.path.join(folder, "wide-Q4_0.gguf")
        model = LTX2Transformer(TransformerConfig.from_metadata(meta), dtype=torch.bfloat16)
        with torch.no_grad():
            for param in model.parameters():
                param.normal_(0, 0.02)
        params = sum(p.numel() for p in model.parameters())
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, src, metadata={"config": json.dumps(meta)})
        del model
        start = time.perf_counter()
        convert(src, dst, "Q4_0")
        convert_s = time.perf_counter() - start
        file_mb = os.path.getsize(dst) / 2**20
        del load_transformer_gguf(dst, dtype=torch.bfloat16).transformer_blocks  # warm-up: imports, first dispatch
        gc.collect()
        base = rss_mb()
        loaded = load_transformer_gguf(dst, dtype=torch.bfloat16)
        after_load = rss_mb() - base
        packed = sum(v.packed_nbytes for v in loaded.state_dict().values() if isinstance(v, QuantizedTensor))
        dim, adim = width_heads * 64, width_heads * 32
        g = torch.Generator().manual_seed(0)
        pos = torch.rand(1, 3, 64, 1, generator=g).repeat(1, 1, 1, 2)
        apos = torch.rand(1, 1, 16, 1, generator=g).repeat(1, 1, 1, 2)
        sigma = torch.tensor([0.5])
        video = ModalityInput(torch.randn(1, 64, 128, generator=g).bfloat16(), sigma, sigma.expand(1, 64), pos,
                              torch.randn(1, 16, dim, generator=g).bfloat16())
        audio = ModalityInput(torch.randn(1, 16, 128, generator=g).bfloat16(), sigma, sigma.expand(1, 16), apos,
                              torch.randn(1, 16, dim, generator=g).bfloat16())
        start = time.perf_counter()
        with torch.no_grad():
            loaded(video, audio)
        forward_s = time.perf_counter() - start
        after_forward = rss_mb() - base
    print(f"\nPacked model memory: LTX-2 transformer, 2 layers, widths {dim}/{adim}, {params / 1e6:.1f} M params")
    print(f"  float32 weights {params * 4 / 2**20:.1f} MiB, bf16 {params * 2 / 2**20:.1f} MiB, "
          f"Q4_0 GGUF file {file_mb:.1f} MiB (packed tensors {packed / 2**20:.1f} MiB); convert {convert_s:.1f} s")
    print(f"  resident memory added: after load {after_load:.1f} MiB (lazy memory map), after one forward "
          f"{after_forward:.1f} MiB ({forward_s:.2f} s) = {after_forward / file_mb:.2f} x file size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--types", default=",".join(DEFAULT_TYPES))
    parser.add_argument("--width-heads", type=int, default=16, help="video heads (x64) of the memory test model")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's choice)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="process CPU time or wall clock")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu" and torch.get_num_threads() > 1:
        print("note: with several threads the cpu clock sums their time; use --clock wall to compare throughput")
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) "
          f"on {os.cpu_count()} cores")
    throughput([t for t in args.types.split(",") if t], args.size, args.repeats, args.clock)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if not args.skip_memory:
        memory(args.width_heads)


if __name__ == "__main__":
    main()
