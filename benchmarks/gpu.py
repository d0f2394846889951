"""Full-size LTX-2.3 on one GPU with random weights: s/step per weight format, attention kernel and compile,
ltx-core at equal config, tiled VAE decode and the Gemma 3 12B text tower, each with its peak VRAM.

`python -m benchmarks.gpu [--json results.json] [--budget-s 450] [--seed 0]` (one GPU, < 8 minutes);
`python -m benchmarks.gpu --smoke` runs the same code at toy size on the CPU (what CI runs).

Nothing is downloaded: every network is built on the meta device and materialized on the device module by
module with seeded random weights (N(0, 1/fan_in) for matrices, 1 for norm weights, 0.02 N(0, 1) for the
rest). Quantized rows pack the transformer blocks' Linear weights on the device: fp8 e4m3 with a per-tensor
scale, GGUF Q8_0 with our quantizer, GGUF Q4_K as random blocks with valid fp16 scales (we have no Q4_K
quantizer); they dequantize per forward through QuantOps, as a GGUF or fp8 file loads. One "step" is one
transformer call at 768x512x121 with audio (6144 video + 126 audio tokens, a 1024-token text context with
`--text-tokens` real ones); a dev step with full guidance makes up to 4 such calls. Rows that do not fit the
time budget are reported as skipped; a failing row is reported and the exit status is 1.
"""

import argparse
import gc
import importlib.util
import json
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch

from ltx2_core.attention import AUTO_ORDER, PACKAGES, make_attention, sdpa_attention
from ltx2_core.gguf import dequant
from ltx2_core.gguf.ops import QuantOps
from ltx2_core.gguf.quantize import quantize
from ltx2_core.gguf.tensor import QuantizedTensor
from ltx2_core.text.gemma import GemmaTextModel
from ltx2_core.text.gemma_config import GemmaConfig, layer_pattern
from ltx2_core.transformer import LTX2Transformer, ModalityInput, TransformerConfig, audio_positions, video_positions
from ltx2_core.video_vae import LTX23_VAE_METADATA, TilingConfig, VideoVAE, VideoVAEConfig

FORMATS = ("bf16", "fp8", "Q8_0", "Q4_K")


@dataclass(frozen=True)
class Size:
    """Everything the run's size decides."""

    transformer: TransformerConfig
    gemma: GemmaConfig
    vae_metadata: dict
    tiling: TilingConfig
    frames: int
    height: int
    width: int
    context: int
    text_tokens: int
    repeats: int


def full_size(text_tokens: int) -> Size:
    # ltx-core 1.0.0 implements the "other_sigma" cross modulation; equal config keeps the comparison fair.
    return Size(TransformerConfig.ltx23_22b(cross_modulation="other_sigma"), GemmaConfig.gemma3_12b(),
                dict(LTX23_VAE_METADATA), TilingConfig(), frames=121, height=512, width=768, context=1024,
                text_tokens=text_tokens, repeats=3)


def smoke_size() -> Size:
    """Two 256-wide blocks (wide enough for Q4_K's 256-value blocks), a 3-layer Gemma, a 4-channel VAE."""
    transformer = TransformerConfig.ltx23_22b(num_layers=2, heads=2, head_dim=128, cross_attention_dim=256,
                                              audio_heads=2, audio_head_dim=128, audio_cross_attention_dim=256,
                                              cross_modulation="other_sigma")
    gemma = GemmaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_layers=3, num_heads=4,
                        num_kv_heads=2, head_dim=16, query_pre_attn_scalar=16.0, sliding_window=4,
                        layer_types=layer_pattern(3, 3), rope_global_scaling=8.0)
    vae = json.loads(json.dumps(LTX23_VAE_METADATA))
    vae.update(latent_channels=8, decoder_base_channels=4)
    for side in ("encoder_blocks", "decoder_blocks"):
        vae[side] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p] for n, p in vae[side]]
    tiling = TilingConfig(tile_size_px=64, tile_overlap_px=32, chunk_frames=16, chunk_overlap_frames=8)
    return Size(transformer, gemma, vae, tiling, frames=17, height=64, width=96, context=16, text_tokens=5,
                repeats=1)


# Random weights, built on the device ----------------------------------------------------------------


def materialize_(model: torch.nn.Module, device, dtype: torch.dtype, generator: torch.Generator) -> torch.nn.Module:
    """Give every meta parameter of `model` storage on `device`, one module at a time, filled at random."""
    with torch.no_grad():
        for name, module in model.named_modules():
            module.to_empty(device=device, recurse=False)
            for pname, param in module.named_parameters(recurse=False):
                if param.dtype.is_floating_point and param.dtype != dtype:
                    param.data = param.data.to(dtype)
                if param.dim() >= 2:
                    param.normal_(0.0, param[0].numel() ** -0.5, generator=generator)
                elif "norm" in f"{name}.{pname}":
                    param.fill_(1.0)
                else:
                    param.normal_(0.0, 0.02, generator=generator)
            for buffer in module.buffers(recurse=False):
                buffer.zero_()
    return model.eval()


def _random_q4_k(weight: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random Q4_K blocks (144 bytes per 256 values) whose fp16 d / dmin give values of `weight`'s scale."""
    rows, cols = weight.shape
    blocks = torch.randint(0, 256, (rows, cols // 256, 144), dtype=torch.uint8, device=weight.device,
                           generator=generator)
    d = torch.full((rows, cols // 256, 1), float(weight.std()) / 60.0, dtype=torch.float16, device=weight.device)
    blocks[..., 0:2] = d.view(torch.uint8)
    blocks[..., 2:4] = (d * 4).view(torch.uint8)
    return blocks.reshape(rows, -1)


def pack_blocks_(model: LTX2Transformer, fmt: str, generator: torch.Generator) -> int:
    """Replace the blocks' Linear weights by packed ones in `fmt` (on their device); returns how many."""
    count = 0
    for module in model.transformer_blocks.modules():
        weight = getattr(module, "weight", None)
        if not isinstance(module, torch.nn.Linear) or weight is None or weight.dim() != 2:
            continue
        block = dequant.GGML_TYPES[dequant.TYPE_IDS[fmt]][1] if fmt != "fp8" else 1
        if weight.shape[1] % block:
            continue
        w = weight.detach()
        if fmt == "fp8":
            scale = (w.abs().amax().float() / torch.finfo(torch.float8_e4m3fn).max).reshape(())
            packed = QuantizedTensor((w.float() / scale).to(torch.float8_e4m3fn), "scaled", w.shape, dtype=w.dtype,
                                     scale=scale)
        elif fmt == "Q4_K":
            packed = QuantizedTensor(_random_q4_k(w, generator), fmt, w.shape, dtype=w.dtype)
        else:
            packed = QuantizedTensor(quantize(w, fmt), fmt, w.shape, dtype=w.dtype)
        module.weight = torch.nn.Parameter(packed, requires_grad=False)
        count += 1
    return count


def build_transformer(size: Size, fmt: str, attention_fn, device, seed: int) -> LTX2Transformer:
    ops = torch.nn if fmt == "bf16" else QuantOps
    with torch.device("meta"):
        model = LTX2Transformer(size.transformer, operations=ops, attention_fn=attention_fn, device="meta",
                                dtype=torch.bfloat16)
    generator = torch.Generator(device=device).manual_seed(seed)
    materialize_(model, device, torch.bfloat16, generator)
    if fmt != "bf16":
        pack_blocks_(model, fmt, generator)
    return model


def transformer_inputs(size: Size, device, seed: int):
    """(video, audio) ModalityInputs of one denoise call at `size` (text-to-audio-video, sigma 0.8)."""
    c = size.transformer
    g = torch.Generator(device=device).manual_seed(seed + 1)
    frames, h, w = (size.frames - 1) // 8 + 1, size.height // 32, size.width // 32
    n_video, n_audio = frames * h * w, round(size.frames / 24.0 * 25)
    mask = torch.zeros(1, size.context, dtype=torch.bool, device=device)
    mask[:, : size.text_tokens] = True
    sigma = torch.tensor([0.8], device=device)

    def stream(tokens, channels, positions, width):
        return ModalityInput(torch.randn(1, tokens, channels, generator=g, device=device, dtype=torch.bfloat16),
                             sigma, torch.full((1, tokens), 0.8, device=device), positions.to(device),
                             torch.randn(1, size.context, width, generator=g, device=device, dtype=torch.bfloat16),
                             context_mask=mask)

    video = stream(n_video, c.in_channels, video_positions(1, frames, h, w, fps=24.0), c.cross_attention_dim)
    audio = stream(n_audio, c.audio_in_channels, audio_positions(1, n_audio), c.audio_cross_attention_dim)
    return video, audio


# Timing ---------------------------------------------------------------------------------------------


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def measure(fn: Callable[[], object], device, repeats: int) -> Dict[str, float]:
    """Median seconds of `repeats` calls after one warm-up call, and the peak memory of those calls."""
    cuda = torch.device(device).type == "cuda"
    with torch.inference_mode():
        fn()
        _sync(device)
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            _sync(device)
            times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else float("nan")
    return {"seconds": statistics.median(times), "peak_gib": peak}


def _free(device) -> None:
    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()


class Report:
    """Rows printed as they come, kept for --json; the time budget decides which rows still run."""

    def __init__(self, budget_s: float):
        self.rows: List[dict] = []
        self.start, self.budget_s, self.failed = time.perf_counter(), budget_s, False

    def run(self, name: str, fn: Callable[[], Optional[Dict[str, float]]]) -> None:
        if time.perf_counter() - self.start > self.budget_s:
            return self.note(name, f"skipped: the {self.budget_s:.0f} s budget is spent")
        try:
            result = fn()
        except Exception as error:  # a row that fails must not hide the others
            self.failed = True
            return self.note(name, f"FAILED: {type(error).__name__}: {error}")
        if result is None:
            return
        self.rows.append({"row": name, **result})
        peak = "" if result["peak_gib"] != result["peak_gib"] else f", peak {result['peak_gib']:.2f} GiB"
        packed = f", {result['packed']} packed weights" if "packed" in result else ""
        print(f"{name:<52} {result['seconds']:9.4f} s{peak}{packed}", flush=True)

    def note(self, name: str, text: str) -> None:
        self.rows.append({"row": name, "note": text})
        print(f"{name:<52} {text}", flush=True)


# Rows -----------------------------------------------------------------------------------------------


def available_kernels() -> List[str]:
    """Attention kinds whose package imports here (SDPA always)."""
    return ["sdpa"] + [kind for kind in AUTO_ORDER if importlib.util.find_spec(PACKAGES[kind]) is not None]


def _ltx_core_row(model: LTX2Transformer, video, audio, device, repeats):
    try:
        from ltx_core.guidance.perturbations import BatchedPerturbationConfig
        from ltx_core.model.transformer.modality import Modality
        from ltx_core.model.transformer.model_configurator import LTXModelConfigurator
    except ImportError as error:
        return None, f"skipped: ltx-core is not installed ({error})"
    with torch.device("meta"):
        reference = LTXModelConfigurator.from_config(model.config.to_metadata())
    reference.load_state_dict(model.state_dict(), strict=True, assign=True)  # shares our tensors
    reference.eval()

    def convert(m):
        return Modality(latent=m.latent, sigma=m.sigma, timesteps=m.timesteps, positions=m.positions,
                        context=m.context, context_mask=m.context_mask.to(m.latent.dtype))  # 1 / 0

    v, a = convert(video), convert(audio)
    return measure(lambda: reference(v, a, BatchedPerturbationConfig.empty(1)), device, repeats), None


def transformer_rows(report: Report, size: Size, device, seed: int, smoke: bool) -> None:
    video, audio = transformer_inputs(size, device, seed)
    kernels = available_kernels()
    missing = [PACKAGES[k] for k in AUTO_ORDER if k not in kernels]
    if missing:
        report.note("attention kernels", f"{', '.join(missing)} not installed: those rows skipped")
    model = build_transformer(size, "bf16", sdpa_attention, device, seed)
    for kind in kernels:
        attention_fn = make_attention(kind)
        for block in model.modules():  # the same weights under each attention function
            if hasattr(block, "attention_fn"):
                block.attention_fn = attention_fn
        report.run(f"transformer bf16, {kind}", lambda: measure(lambda: model(video, audio), device, size.repeats))
    for block in model.modules():
        if hasattr(block, "attention_fn"):
            block.attention_fn = sdpa_attention

    def ltx_core():
        result, note = _ltx_core_row(model, video, audio, device, size.repeats)
        if note:
            report.note("ltx-core 1.0.0 LTXModel bf16", note)
        return result

    report.run("ltx-core 1.0.0 LTXModel bf16", ltx_core)
    compile_row(report, model, video, audio, device, size, smoke)
    del model
    _free(device)
    for fmt in FORMATS[1:]:
        def quantized(fmt=fmt):
            model = build_transformer(size, fmt, sdpa_attention, device, seed)
            try:
                packed = sum(isinstance(p, QuantizedTensor) for p in model.parameters())
                return {**measure(lambda: model(video, audio), device, size.repeats), "packed": packed}
            finally:
                del model
                _free(device)

        report.run(f"transformer {fmt} (QuantOps), sdpa", quantized)


def compile_row(report: Report, model, video, audio, device, size: Size, smoke: bool) -> None:
    name = "transformer bf16, sdpa, compiled blocks"
    try:
        from ltx2_core.compile import CompiledTransformer, CompileOptions
    except ImportError:
        return report.note(name, "skipped: this build has no compile option (ltx2_core.compile)")
    options = CompileOptions(backend="eager") if smoke else CompileOptions()
    compiled = CompiledTransformer(model, options)
    report.run(name, lambda: measure(lambda: compiled(video, audio), device, size.repeats))


def vae_row(report: Report, size: Size, device, seed: int) -> None:
    def decode():
        config = VideoVAEConfig.from_metadata(size.vae_metadata)
        with torch.device("meta"):
            vae = VideoVAE(config, components=("decoder",), device="meta", dtype=torch.bfloat16)
        materialize_(vae, device, torch.bfloat16, torch.Generator(device=device).manual_seed(seed + 2))
        g = torch.Generator(device=device).manual_seed(seed + 3)
        latent = torch.randn(1, config.latent_channels, (size.frames - 1) // 8 + 1, size.height // 32,
                             size.width // 32, generator=g, device=device, dtype=torch.bfloat16)
        try:
            return measure(lambda: vae.decode(latent, tiling=size.tiling), device, 1)
        finally:
            del vae
            _free(device)

    report.run(f"video VAE tiled decode {size.width}x{size.height}x{size.frames}", decode)


def text_rows(report: Report, size: Size, device, seed: int) -> None:
    model = GemmaTextModel(size.gemma, device="meta", dtype=torch.bfloat16)
    materialize_(model, device, torch.bfloat16, torch.Generator(device=device).manual_seed(seed + 4))
    g = torch.Generator(device=device).manual_seed(seed + 5)
    tokens = size.text_tokens
    for length in (size.context, tokens):
        ids = torch.randint(0, size.gemma.vocab_size, (1, length), generator=g, device=device)
        mask = torch.zeros(1, length, dtype=torch.long, device=device)
        mask[:, length - tokens:] = 1  # left padding, as the encoder pads
        layout = "padded" if length > tokens else "real tokens only"
        report.run(f"Gemma 3 text tower, {tokens} tokens, {layout} ({length})",
                   lambda: measure(lambda: model(ids, mask), device, size.repeats))
    del model
    _free(device)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="toy size on the CPU (CI)")
    parser.add_argument("--device", default=None, help="default: cuda (cpu with --smoke)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text-tokens", type=int, default=128, help="real prompt tokens of the 1024 context")
    parser.add_argument("--budget-s", type=float, default=450.0, help="rows starting later are skipped")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    device = args.device or ("cpu" if args.smoke else "cuda")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        print("benchmarks.gpu needs a CUDA GPU; use --smoke to run the same code on the CPU.", file=sys.stderr)
        return 2
    if args.smoke:
        torch.set_num_threads(1)  # toy sizes: thread start-up dominates, and CI shares two cores
    size = smoke_size() if args.smoke else full_size(args.text_tokens)
    name = torch.cuda.get_device_name(device) if torch.device(device).type == "cuda" else "CPU"
    print(f"benchmarks.gpu on {name}: {'smoke (toy size)' if args.smoke else 'full size'}, torch {torch.__version__}, "
          f"{size.transformer.num_layers} blocks, {size.width}x{size.height}x{size.frames} + audio, seed {args.seed}")
    report = Report(args.budget_s)
    transformer_rows(report, size, device, args.seed, args.smoke)
    vae_row(report, size, device, args.seed)
    text_rows(report, size, device, args.seed)
    print(f"total {time.perf_counter() - report.start:.1f} s")
    if args.json:
        from ltx2_core.atomic import atomic_output

        with atomic_output(args.json) as tmp:
            with open(tmp, "w") as f:
                json.dump({"device": name, "smoke": args.smoke, "rows": report.rows}, f, indent=1)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
