"""T5 encoder forward: ltx2_core.text.t5 vs transformers' T5EncoderModel at an equal small config (CPU).

Prints the median time of each and the ratio (transformers / ours; > 1 means ours is faster), measured in the
same run on the same weights and inputs. Usage: python benchmarks/t5_encode.py [--device cuda] [--dtype bf16]
"""

import argparse
import statistics
import time

import torch

from ltx2_core.text.t5 import T5Config, tiny_t5


def _median_times(fns, repeats: int, device: str):
    """Median seconds of each callable, run interleaved (a, b, a, b, ...) so load changes hit both alike."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for index, fn in enumerate(fns):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times[index].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=256)
    args = parser.parse_args()
    from transformers import T5Config as HFConfig
    from transformers import T5EncoderModel

    dtype = torch.float32 if args.dtype == "fp32" else torch.bfloat16
    config = T5Config(vocab_size=1024, d_model=512, d_kv=64, d_ff=1280, num_layers=4, num_heads=8)
    ours = tiny_t5(config, seed=0).to(args.device, dtype).eval()
    hf = {k: v for k, v in config.to_hf_dict().items() if k != "architectures"}
    ref = T5EncoderModel(HFConfig(**hf)).eval()
    state = dict(ours.state_dict())
    state["encoder.embed_tokens.weight"] = state["shared.weight"]
    ref.load_state_dict(state)
    ref = ref.to(args.device, dtype)
    ids = torch.randint(0, config.vocab_size, (2, args.tokens), device=args.device)
    mask = torch.ones_like(ids)
    mask[1, args.tokens // 3:] = 0
    with torch.inference_mode():
        a, b = ours(ids, mask), ref(input_ids=ids, attention_mask=mask).last_hidden_state
        rel = ((a.float() - b.float()).abs().max() / b.float().abs().max()).item()
        t_ours, t_ref = _median_times([lambda: ours(ids, mask), lambda: ref(input_ids=ids, attention_mask=mask)],
                                      args.repeats, args.device)
    print(f"config d_model={config.d_model} layers={config.num_layers} heads={config.num_heads} d_ff={config.d_ff} "
          f"batch=2 tokens={args.tokens} device={args.device} dtype={args.dtype}")
    print(f"max rel diff {rel:.2e}")
    print(f"ours {t_ours * 1e3:.1f} ms  transformers {t_ref * 1e3:.1f} ms  ratio (transformers/ours) "
          f"{t_ref / t_ours:.2f}x")


if __name__ == "__main__":
    main()
