"""Gemma 4 encode time: our Gemma4TextModel vs transformers' Gemma4UnifiedTextModel, same weights, same run.

`python -m benchmarks.gemma4_encode [--layers 6] [--tokens 128] [--repeats 3] [--threads 1] [--dtype float32]`
Full Gemma 4 12B width (hidden 3840, MLP 15360, sliding 16 x 256 / 8 kv heads, global 16 x 512 / 1 kv head with
K = V) with only `--layers` decoder layers (5 sliding : 1 global) and a 512-entry vocabulary; random weights
shared by both models (no copy). One prompt of `--tokens` tokens, all hidden states returned (what LTX encoding
uses). Prints the median wall and process-CPU time per model over `--repeats` runs after one warm-up, the ratio,
the largest relative difference over all hidden states, and a 48-layer extrapolation (x 48 / layers).
"""

import argparse
import json
import statistics
import time

import torch


def _models(layers: int, dtype: torch.dtype):
    from transformers.models.gemma4_unified.configuration_gemma4_unified import Gemma4UnifiedTextConfig
    from transformers.models.gemma4_unified.modeling_gemma4_unified import Gemma4UnifiedTextModel

    from ltx2_core.text.gemma4.config import Gemma4Config
    from ltx2_core.text.gemma4.model import Gemma4TextModel

    hf_config = Gemma4UnifiedTextConfig(
        vocab_size=512, hidden_size=3840, intermediate_size=15360, num_hidden_layers=layers, num_attention_heads=16,
        num_key_value_heads=8, head_dim=256, global_head_dim=512, num_global_key_value_heads=1,
        attention_k_eq_v=True, sliding_window=1024,
    )
    hf_config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    ref = Gemma4UnifiedTextModel(hf_config).to(dtype).eval()
    with torch.no_grad():
        for name, tensor in ref.state_dict().items():
            if tensor.is_floating_point() and "norm" not in name and "layer_scalar" not in name:
                tensor.normal_(0.0, 0.02)
    ours = Gemma4TextModel(Gemma4Config.from_hf_dict(hf_config.to_dict()), device="meta", dtype=dtype)
    ours.load_state_dict(ref.state_dict(), strict=True, assign=True)  # the very same tensors
    return ref.eval(), ours.eval()


def _time(fn, repeats: int):
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    ref, ours = _models(args.layers, dtype)
    ids = torch.randint(3, 512, (1, args.tokens))
    ids[0, 0] = 2
    mask = torch.ones_like(ids)
    with torch.no_grad():
        run_ref = lambda: ref(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states  # noqa: E731
        run_ours = lambda: ours(ids, mask)  # noqa: E731
        a, b = run_ours(), run_ref()
        diff = max(((x.float() - y.float()).abs().max() / y.float().abs().max()).item() for x, y in zip(a, b))
        ours_t, ref_t = _time(run_ours, args.repeats), _time(run_ref, args.repeats)
    result = {
        "layers": args.layers, "tokens": args.tokens, "dtype": args.dtype, "threads": args.threads,
        "ours_wall_s": round(ours_t[0], 4), "ours_cpu_s": round(ours_t[1], 4),
        "transformers_wall_s": round(ref_t[0], 4), "transformers_cpu_s": round(ref_t[1], 4),
        "transformers_over_ours_wall": round(ref_t[0] / ours_t[0], 3),
        "max_rel_diff_all_hidden_states": diff,
        "ours_48_layers_wall_s": round(ours_t[0] * 48 / args.layers, 2),
        "transformers_48_layers_wall_s": round(ref_t[0] * 48 / args.layers, 2),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
