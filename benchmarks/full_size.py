"""Full-size LTX-2.3 22B + Gemma 3 12B as GGUF Q4_0 on the CPU: load, resident memory, one step, encode, pipeline.

    python -m benchmarks.full_size [--cache DIR] [--json out.json] [--only write,load,step,encode,pipeline,lowvram]
    python -m benchmarks.full_size --tiny --cache DIR      (toy configs, seconds; what CI runs)

Phase `write` creates, once (cached in `--cache`, default ~/.cache/ltx2-bench), random-weight GGUF files in the
official layouts through the converter's streaming writer (`ltx2_core.convert.write_gguf`): one tensor is drawn
(N(0, 0.02) in bf16, so Q4_0 block scales are those of trained-like weights), quantized and written at a time.
Every measurement runs in a child process that reports its own resident memory from /proc/self/status
(VmHWM = peak RSS, file-backed mapped pages included; RssAnon = heap); a child whose heap passes `--max-anon-gib`
is stopped. Rows:
  load      load time; RSS and weight-tensor bytes after load and after a forward vs the file's tensor bytes
  step      one transformer call at 256x256x9 + audio (1024-token context); split: dequant (every packed weight
            dequantized once, timed alone), matmul (profiler self time of mm/addmm/bmm), attention (timed
            attention function), the rest
  encode    Gemma 3 12B over a 40-token prompt (pad-free: only the real tokens)
  pipeline  encode -> free Gemma -> one step -> free -> full-size video VAE decode of that latent; peak RSS
  lowvram   the same step with each block's weights dequantized to bf16 just before the block runs and the
            file's pages dropped after it (bf16-size paging, block by block, from the file); peak RSS
"""

import argparse
import gc
import json
import mmap
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import Callable, Dict, List, Optional

import torch

PHASES = ("write", "load", "step", "encode", "pipeline", "lowvram")
FILES = {"transformer": "ltx23_22b_random_Q4_0.gguf", "gemma": "gemma3_12b_random_Q4_0.gguf"}
STD = 0.02


# Configs ---------------------------------------------------------------------------------------------


def configs(tiny: bool):
    """(transformer config, Gemma config, video VAE metadata, (frames, height, width), context, prompt tokens)."""
    from ltx2_core.text.gemma_config import GemmaConfig
    from ltx2_core.transformer import TransformerConfig
    from ltx2_core.video_vae import LTX23_VAE_METADATA

    if tiny:
        from benchmarks.gpu import smoke_size

        s = smoke_size()
        return s.transformer, s.gemma, s.vae_metadata, (9, 64, 64), 16, 5
    return TransformerConfig.ltx23_22b(), GemmaConfig.gemma3_12b(), dict(LTX23_VAE_METADATA), (9, 256, 256), 1024, 40


# Writing ---------------------------------------------------------------------------------------------


def _random(shape, name: str, kind: str, generator: torch.Generator) -> torch.Tensor:
    """Trained-like random values: norm weights 1 (Gemma norms are stored as w + 1 in GGUF: 0 here), the rest
    N(0, STD); bf16 for quantized tensors (the quantizer works in float32 chunks), float32 otherwise."""
    dtype = torch.float32 if kind == "F32" else torch.bfloat16
    if len(shape) == 1 and "norm" in name:
        return torch.ones(shape, dtype=dtype)
    return torch.empty(shape, dtype=dtype).normal_(0.0, STD, generator=generator)


def _plan(state_shapes: Dict[str, tuple], name_of: Callable[[str], str], qtype: str):
    from ltx2_core.convert import MIN_QUANT_ELEMENTS, _target_type

    return [(k, name_of(k), _target_type(name_of(k), s, torch.bfloat16, qtype, MIN_QUANT_ELEMENTS), s)
            for k, s in state_shapes.items()]


def write_files(cache: str, tiny: bool, seed: int, only_blocks: Optional[int] = None, which=tuple(FILES),
                log=print) -> Dict[str, float]:
    """Write the two GGUF files (skipped when present); returns seconds and bytes per file.
    `only_blocks`: write only that many transformer blocks / Gemma layers (a timing sample, to a .sample file)."""
    import gguf

    from ltx2_core.convert import _FILE_TYPES, _gemma_fields_from_config, write_gguf
    from ltx2_core.gguf import keys
    from ltx2_core.text.gemma import GemmaTextModel
    from ltx2_core.transformer import LTX2Transformer

    tcfg, gcfg, *_ = configs(tiny)
    with torch.device("meta"):
        shapes = {"transformer": {k: tuple(v.shape) for k, v in LTX2Transformer(tcfg, device="meta").state_dict().items()},
                  "gemma": {k: tuple(v.shape) for k, v in GemmaTextModel(gcfg, device="meta").state_dict().items()}}
    result: Dict[str, float] = {}
    for what, file_name in FILES.items():
        if what not in which:
            continue
        path = os.path.join(cache, file_name + (".sample" if only_blocks is not None else ""))
        if os.path.exists(path) and only_blocks is None:
            log(f"{what}: cached {path}")
            result[f"{what}_file_bytes"] = os.path.getsize(path)
            continue
        arch = keys.LTXV_ARCH if what == "transformer" else keys.GEMMA_ARCH
        items = shapes[what]
        if only_blocks is not None:
            prefix = ("transformer_blocks." if what == "transformer" else "layers.")
            items = {k: s for k, s in items.items()
                     if k.startswith(prefix) and int(k.split(".")[1]) < only_blocks}
        name_of = (lambda k: k) if what == "transformer" else keys.gemma_to_gguf_name
        plan = _plan(items, name_of, "Q4_0")
        writer = gguf.GGUFWriter(path=None, arch=arch)
        writer.add_name(f"random {what} (benchmarks.full_size, seed {seed})")
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        writer.add_file_type(_FILE_TYPES["Q4_0"])
        if what == "transformer":
            writer.add_string("ltx2.meta.config", json.dumps(tcfg.to_metadata()))
        else:
            _gemma_fields_from_config(writer, gcfg)
        generator = torch.Generator().manual_seed(seed)

        def tensor_of(key, name, kind, shape, arch=arch):
            value = _random(shape, name, kind, generator)
            if arch == keys.GEMMA_ARCH and name.endswith("norm.weight"):
                value = value.float() - 1.0 + keys.GEMMA_NORM_SHIFT  # our norm weight 0 (scale 1), stored +1
            return value

        start = time.perf_counter()
        os.makedirs(cache, exist_ok=True)
        counts = write_gguf(path, writer, plan, tensor_of)
        seconds = time.perf_counter() - start
        result[f"{what}_write_s"] = seconds
        result[f"{what}_file_bytes"] = os.path.getsize(path)
        log(f"{what}: wrote {path} ({os.path.getsize(path) / 2**30:.2f} GiB, {counts}) in {seconds:.1f} s")
    return result


# Memory ----------------------------------------------------------------------------------------------


def memory() -> Dict[str, float]:
    """This process's resident memory in GiB (VmRSS, VmHWM = peak, RssAnon = heap, RssFile = mapped file pages)."""
    out = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 2**20
    return out


def _watchdog(limit_gib: float) -> None:
    def watch():
        while True:
            if memory().get("RssAnon", 0.0) > limit_gib:
                print(f"stopped: heap above {limit_gib} GiB", file=sys.stderr, flush=True)
                os._exit(3)
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's weight tensors as stored (packed bytes for quantized ones)."""
    from ltx2_core.gguf.tensor import QuantizedTensor

    total = 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        total += tensor.packed_nbytes if isinstance(tensor, QuantizedTensor) else tensor.numel() * tensor.element_size()
    return total


def file_tensor_bytes(file) -> int:
    """Bytes of a GGUFFile's tensor data (alignment padding excluded)."""
    from ltx2_core.gguf import dequant

    total = 0
    for info in file.infos.values():
        _, block, type_size = dequant.GGML_TYPES[info.qtype]
        total += int(torch.Size(info.shape).numel()) // block * type_size
    return total


# Models and inputs -----------------------------------------------------------------------------------


def load_transformer_file(path: str, attention_fn=None):
    """(GGUFFile, transformer) with packed weights mapped from the file."""
    from ltx2_core.attention import sdpa_attention
    from ltx2_core.gguf.loader import _config_json, gguf_metadata
    from ltx2_core.gguf.ops import QuantOps
    from ltx2_core.gguf.reader import GGUFFile
    from ltx2_core.transformer import TransformerConfig
    from ltx2_core.transformer.loader import load_transformer

    file = GGUFFile(path)
    config = TransformerConfig.from_metadata(_config_json(gguf_metadata(file), file.name))
    model = load_transformer(file.state_dict(), operations=QuantOps, attention_fn=attention_fn or sdpa_attention,
                             dtype=torch.bfloat16, config=config)
    return file, model.eval()


def step_inputs(tiny: bool, seed: int):
    from benchmarks.gpu import Size, transformer_inputs
    from ltx2_core.video_vae import TilingConfig

    tcfg, gcfg, vae, (frames, height, width), context, tokens = configs(tiny)
    size = Size(tcfg, gcfg, vae, TilingConfig(), frames, height, width, context, context, 1)
    return transformer_inputs(size, "cpu", seed)


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


class TimedAttention:
    """sdpa_attention with the seconds spent in it added up."""

    def __init__(self):
        from ltx2_core.attention import sdpa_attention

        self.inner, self.seconds = sdpa_attention, 0.0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def _dequant_seconds(model) -> float:
    from ltx2_core.gguf.tensor import QuantizedTensor

    start = time.perf_counter()
    for p in model.parameters():
        if isinstance(p, QuantizedTensor):
            del_ = p.dequantize_as(torch.bfloat16)
            del del_
    return time.perf_counter() - start


# Child phases ----------------------------------------------------------------------------------------


def phase_load(args) -> dict:
    path = os.path.join(args.cache, FILES["transformer"])
    (file, model), seconds = _timed(lambda: load_transformer_file(path))
    after_load = memory()
    tensor_bytes = file_tensor_bytes(file)
    video, audio = step_inputs(args.tiny, args.seed)
    with torch.inference_mode():
        _, forward_s = _timed(lambda: model(video, audio))
    after_forward = memory()
    return {"load_s": seconds, "file_tensor_gib": tensor_bytes / 2**30, "weight_gib": weight_bytes(model) / 2**30,
            "rss_after_load_gib": after_load["VmRSS"], "rss_after_forward_gib": after_forward["VmRSS"],
            "anon_after_forward_gib": after_forward["RssAnon"], "first_forward_s": forward_s}


def phase_step(args) -> dict:
    attention = TimedAttention()
    _, model = load_transformer_file(os.path.join(args.cache, FILES["transformer"]), attention)
    video, audio = step_inputs(args.tiny, args.seed)
    with torch.inference_mode():
        model(video, audio)  # warm: file pages mapped in
        attention.seconds = 0.0
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            _, step_s = _timed(lambda: model(video, audio))
        dequant_s = _dequant_seconds(model)
    matmul_us = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in ("aten::mm", "aten::addmm", "aten::bmm"))
    matmul_s = matmul_us / 1e6
    return {"step_s": step_s, "dequant_s": dequant_s, "matmul_s": matmul_s, "attention_s": attention.seconds,
            "other_s": step_s - dequant_s - matmul_s - attention.seconds, "peak_rss_gib": memory()["VmHWM"],
            "note": "step_s is under the profiler; dequant timed alone after it"}


def load_gemma_file(path: str):
    from ltx2_core.gguf.loader import load_gemma_gguf

    return load_gemma_gguf(path, dtype=torch.bfloat16).eval()


def encode(gemma, tokens: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, gemma.config.vocab_size, (1, tokens), generator=g)
    with torch.inference_mode():
        return gemma(ids, torch.ones(1, tokens, dtype=torch.long))


def phase_encode(args) -> dict:
    tokens = configs(args.tiny)[5]
    gemma, load_s = _timed(lambda: load_gemma_file(os.path.join(args.cache, FILES["gemma"])))
    encode(gemma, tokens, args.seed)
    _, seconds = _timed(lambda: encode(gemma, tokens, args.seed))
    return {"tokens": tokens, "load_s": load_s, "encode_s": seconds, "peak_rss_gib": memory()["VmHWM"]}


def _decode(tiny: bool, latent_tokens: torch.Tensor, seed: int) -> dict:
    from benchmarks.gpu import materialize_
    from ltx2_core.video_vae import TilingConfig, VideoVAE, VideoVAEConfig

    _, _, vae_meta, (frames, height, width), _, _ = configs(tiny)
    config = VideoVAEConfig.from_metadata(vae_meta)
    with torch.device("meta"):
        vae = VideoVAE(config, components=("decoder",), device="meta", dtype=torch.bfloat16)
    materialize_(vae, "cpu", torch.bfloat16, torch.Generator().manual_seed(seed + 2))
    f, h, w = (frames - 1) // 8 + 1, height // 32, width // 32
    latent = latent_tokens.view(1, f, h, w, -1).permute(0, 4, 1, 2, 3)[:, : config.latent_channels].contiguous()
    with torch.inference_mode():
        video, seconds = _timed(lambda: vae.decode(latent, tiling=TilingConfig()))
    return {"decode_s": seconds, "video_shape": list(video.shape)}


def _free(*_names) -> None:
    gc.collect()


def phase_pipeline(args, lowvram: bool = False) -> dict:
    rows: Dict[str, float] = {}
    stages: List[dict] = []
    if not lowvram:
        gemma = load_gemma_file(os.path.join(args.cache, FILES["gemma"]))
        _, rows["encode_s"] = _timed(lambda: encode(gemma, configs(args.tiny)[5], args.seed))
        stages.append({"stage": "encoded", **memory()})
        del gemma
        _free()
        stages.append({"stage": "Gemma freed", **memory()})
    file, model = load_transformer_file(os.path.join(args.cache, FILES["transformer"]))
    video, audio = step_inputs(args.tiny, args.seed)
    if lowvram:
        _stream_blocks(model, file)
    with torch.inference_mode():
        (out_video, _), rows["step_s"] = _timed(lambda: model(video, audio))
    stages.append({"stage": "denoised", **memory()})
    del model, file
    _free()
    stages.append({"stage": "transformer freed", **memory()})
    if not lowvram:
        rows.update(_decode(args.tiny, out_video, args.seed))
        stages.append({"stage": "decoded", **memory()})
    return {**rows, "peak_rss_gib": memory()["VmHWM"], "stages": stages}


def _stream_blocks(model, file) -> None:
    """Before each block: its packed weights dequantized to bf16 parameters; after it: packed ones back and the
    file's mapped pages dropped, so only one block's bf16 weights are resident at a time."""
    from ltx2_core.gguf.tensor import QuantizedTensor

    def before(block, _args, _kwargs=None):
        block._packed = {}
        for name, module in block.named_modules():
            weight = getattr(module, "weight", None)
            if isinstance(weight, QuantizedTensor):
                block._packed[name] = weight
                module.weight = torch.nn.Parameter(weight.dequantize_as(torch.bfloat16), requires_grad=False)

    def after(block, _args, _output):
        for name, weight in block._packed.items():
            block.get_submodule(name).weight = weight
        block._packed = {}
        file._map._mmap.madvise(mmap.MADV_DONTNEED)

    for block in model.transformer_blocks:
        block.register_forward_pre_hook(before)
        block.register_forward_hook(after)


CHILD = {"load": phase_load, "step": phase_step, "encode": phase_encode, "pipeline": phase_pipeline,
         "lowvram": lambda a: phase_pipeline(a, lowvram=True)}


def run_child(phase: str, args) -> dict:
    """Run `phase` in a child process; its JSON result plus the child's peak RSS seen by getrusage."""
    command = [sys.executable, "-m", "benchmarks.full_size", "--child", phase, "--cache", args.cache,
               "--seed", str(args.seed), "--max-anon-gib", str(args.max_anon_gib)] + (["--tiny"] if args.tiny else [])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["exit " + str(done.returncode)])[-1]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    import resource

    result["children_maxrss_gib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    result["wall_s"] = time.perf_counter() - start
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.full_size", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "ltx2-bench"))
    parser.add_argument("--tiny", action="store_true", help="toy configs (CI smoke)")
    parser.add_argument("--only", default=",".join(PHASES), help=f"comma-separated phases of {', '.join(PHASES)}")
    parser.add_argument("--sample-blocks", type=int, default=None,
                        help="only time writing this many blocks/layers (to estimate the full write) and stop")
    parser.add_argument("--write", default=",".join(FILES), help="files the write phase makes: transformer,gemma")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-anon-gib", type=float, default=17.0, help="a child whose heap passes this stops")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tiny:
        torch.set_num_threads(1)
    if args.child:
        _watchdog(args.max_anon_gib)
        print(json.dumps(CHILD[args.child](args)), flush=True)
        return 0
    phases = [p for p in args.only.split(",") if p]
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        print(f"error: unknown phase(s) {', '.join(unknown)}: choose from {', '.join(PHASES)}.", file=sys.stderr)
        return 2
    tcfg = configs(args.tiny)[0]
    print(f"benchmarks.full_size: {'tiny' if args.tiny else 'full size'}, {tcfg.num_layers} blocks, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, cache {args.cache}", flush=True)
    results: Dict[str, dict] = {}
    if args.sample_blocks is not None:
        results["write_sample"] = write_files(args.cache, args.tiny, args.seed, only_blocks=args.sample_blocks)
        for what in FILES:
            os.remove(os.path.join(args.cache, FILES[what] + ".sample"))
        print(json.dumps(results["write_sample"]))
        return 0
    if "write" in phases:
        results["write"] = write_files(args.cache, args.tiny, args.seed, which=args.write.split(","))
    for phase in phases:
        if phase == "write":
            continue
        results[phase] = run_child(phase, args)
        print(f"{phase}: {json.dumps(results[phase])}", flush=True)
    if args.json:
        from ltx2_core.atomic import atomic_output

        with atomic_output(args.json) as tmp:
            with open(tmp, "w") as handle:
                json.dump(results, handle, indent=1)
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
