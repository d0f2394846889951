"""GGUF dequantization throughput (ours vs `gguf.quants.dequantize`, numpy) and packed-model memory.

    python -m benchmarks.gguf_dequant [--size 4096] [--repeats 5] [--types Q8_0,Q4_K] [--threads N] [--skip-memory]

Part 1: one size x size weight per ggml type (random payload bytes with sane fp16 scales); best-of-N
wall time of gguf's numpy dequantizer and of ours (float32 into a new tensor, bfloat16 into a new
tensor, float32 into a reused buffer) and the speed-up ratios, all measured in this run.
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


def best_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput(types, size: int, repeats: int) -> None:
    import gguf

    from ltx2_core.gguf.dequant import TYPE_IDS, dequantize

    print(f"Dequantization of a {size}x{size} weight, best of {repeats}, torch threads {torch.get_num_threads()}")
    print(f"{'type':<8}{'numpy ms':>10}{'f32 ms':>9}{'x':>7}{'bf16 ms':>9}{'x':>7}{'f32 reuse ms':>14}{'x':>7}  exact")
    reuse = torch.empty(size, size)
    for name in types:
        raw = random_weight(name, size)
        packed = torch.from_numpy(raw)
        qtype = gguf.GGMLQuantizationType[name]
        t_np = best_time(lambda: gguf.quants.dequantize(raw, qtype), max(2, repeats // 2))
        t32 = best_time(lambda: dequantize(packed, TYPE_IDS[name], (size, size)), repeats)
        t16 = best_time(lambda: dequantize(packed, TYPE_IDS[name], (size, size), torch.bfloat16), repeats)
        t_re = best_time(lambda: dequantize(packed, TYPE_IDS[name], (size, size), out=reuse), repeats)
        ours = dequantize(packed, TYPE_IDS[name], (size, size)).numpy()
        exact = np.array_equal(ours, gguf.quants.dequantize(raw, qtype))
        print(f"{name:<8}{t_np * 1e3:>10.1f}{t32 * 1e3:>9.1f}{t_np / t32:>7.1f}{t16 * 1e3:>9.1f}{t_np / t16:>7.1f}"
              f"{t_re * 1e3:>14.1f}{t_np / t_re:>7.1f}  {exact}")


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
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--types", default=",".join(DEFAULT_TYPES))
    parser.add_argument("--width-heads", type=int, default=16, help="video heads (x64) of the memory test model")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    throughput([t for t in args.types.split(",") if t], args.size, args.repeats)
    if not args.skip_memory:
        memory(args.width_heads)


if __name__ == "__main__":
    main()
