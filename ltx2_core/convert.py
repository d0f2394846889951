"""Convert an LTX-2 transformer or a Gemma 3 safetensors file to GGUF.

    python -m ltx2_core.convert IN.safetensors OUT.gguf --type Q8_0|Q5_0|Q4_0 [--tokenizer tokenizer.model]

LTX-2 files (official single file or a transformer-only file) become an `ltxv` GGUF with the
community naming (`model.diffusion_model.` stripped, as ComfyUI-GGUF writes them) and the file's
metadata (`config`, `model_version`, ...) kept as `ltx2.meta.<key>` strings; the text projection
(`text_embedding_projection.*`) is kept beside the transformer and connectors. Gemma 3 files become a
llama.cpp-style `gemma3` GGUF (`blk.N.*` names, norms stored +1, `gemma3.*` fields, and the
tokenizer vocabulary when an embedded `spiece_model` or `--tokenizer` is given).

Only 2-D weights with more than `--min-elements` values and rows divisible by 32 are quantized;
1-D tensors, small tensors and the AdaLN scale-shift tables are stored as F32, anything else keeps
its float type (BF16 / F16 / F32; fp8 inputs are dequantized with their scales and stored as BF16).
Tensors are read, quantized and written one at a time, into a temporary file beside the output that
replaces it only when complete. The command line checks the paths before reading anything: an existing
output needs `--force`; errors are one line with exit status 2.
"""

import argparse
import os
import sys
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from safetensors import safe_open

from .atomic import atomic_output
from .checkpoint import read_metadata, read_safetensors_header
from .errors import CheckpointError, InputError, LTX2Error
from .gguf import keys
from .gguf.fp8 import DROPPED_SUFFIXES, MARKER_KEYS, SCALE_SUFFIXES, pack_scaled_weights
from .gguf.quantize import QUANTIZERS, quantize
from .gguf.reader import ORIG_SHAPE_PREFIX
from .text.spm_model import decode_model_pieces, describe_model
from .validation import check_output

MIN_QUANT_ELEMENTS = 1024
HIGH_PRECISION_KEYS = ("scale_shift_table",)
_FILE_TYPES = {"Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9}
_FLOAT_OUT = {torch.float32: ("F32", np.float32), torch.float16: ("F16", np.float16), torch.bfloat16: ("BF16", None)}
Plan = List[Tuple[str, str, str, Tuple[int, ...]]]  # (source key, gguf name, type, shape)


def _detect(keys_: List[str]) -> str:
    """'ltxv' or 'gemma3' from the key names."""
    from .text.keys import gemma_key

    if any(k.endswith("adaln_single.linear.weight") or "transformer_blocks." in k for k in keys_):
        return keys.LTXV_ARCH
    if any((gemma_key(k) or "").endswith("self_attn.q_norm.weight") for k in keys_):
        return keys.GEMMA_ARCH
    raise CheckpointError("The input is neither an LTX-2 transformer nor a Gemma 3 text model: cannot convert it.")


def _target_type(name: str, shape: Tuple[int, ...], source: torch.dtype, qtype: str, min_elements: int) -> str:
    numel = int(np.prod(shape)) if shape else 1
    if any(h in name for h in HIGH_PRECISION_KEYS) or len(shape) <= 1 or numel <= min_elements:
        return "F32"
    if len(shape) == 2 and shape[-1] % 32 == 0:
        return qtype
    return _FLOAT_OUT.get(source, ("BF16", None))[0]


def _encode(tensor: torch.Tensor, kind: str) -> np.ndarray:
    """numpy array to write: float arrays, or uint8 (rows, bytes) for BF16 and block types."""
    if kind == "F32":
        return tensor.to(torch.float32).contiguous().numpy()
    if kind == "F16":
        return tensor.to(torch.float16).contiguous().numpy()
    if kind == "BF16":
        data = tensor.to(torch.bfloat16).contiguous().view(torch.int16).numpy().view(np.uint8)
        return data.reshape(*tensor.shape[:-1], tensor.shape[-1] * 2) if tensor.dim() else data
    return quantize(tensor, kind).numpy().reshape(*tensor.shape[:-1], -1)


class _Source:
    """Lazy tensor access to the input file, with fp8/int8 scaled weights dequantized to float32."""

    def __init__(self, path: str):
        self.path = path
        self.header = {k: v for k, v in read_safetensors_header(path).items() if k != "__metadata__"}
        self.metadata = read_metadata(path)
        self.handle = safe_open(path, framework="pt", device="cpu")

    def weight_keys(self) -> List[str]:
        return [k for k in self.header if k not in MARKER_KEYS and not k.endswith(SCALE_SUFFIXES + DROPPED_SUFFIXES)
                and not k.endswith(".bias_scale")]

    def dtype(self, key: str) -> torch.dtype:
        return {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}.get(self.header[key]["dtype"],
                                                                                        torch.bfloat16)

    def tensor(self, key: str) -> torch.Tensor:
        value = self.handle.get_tensor(key)
        if value.dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
            return value
        layer = key.rpartition(".")[0]
        related = {k: self.handle.get_tensor(k) for k in self.header if k.startswith(layer + ".") and k != key}
        packed = pack_scaled_weights({key: value, **related}, self.metadata, dtype=torch.float32)
        result = packed[key]
        return result.dequantize_as(torch.float32) if hasattr(result, "dequantize_as") else result


def _tokenizer_fields(writer, model: bytes) -> None:
    pieces, scores, types = decode_model_pieces(model)
    kind, space_prefix = describe_model(model)
    index = {p: i for i, p in enumerate(pieces)}
    writer.add_string("tokenizer.ggml.model", kind)
    writer.add_array("tokenizer.ggml.tokens", pieces)
    writer.add_array("tokenizer.ggml.scores", [float(s) for s in scores])
    writer.add_array("tokenizer.ggml.token_type", [int(t) for t in types])
    for name, piece in (("bos", "<bos>"), ("eos", "<eos>"), ("unknown", "<unk>"), ("padding", "<pad>")):
        if piece in index:
            writer.add_uint32(f"tokenizer.ggml.{name}_token_id", index[piece])
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.add_bool("tokenizer.ggml.add_eos_token", False)
    writer.add_bool("tokenizer.ggml.add_space_prefix", space_prefix)


def _gemma_fields(writer, shapes: Dict[str, Tuple[int, ...]], source_dir: str) -> None:
    from .text.gemma_config import GemmaConfig

    meta = {k: torch.empty(s, device="meta") for k, s in shapes.items()}
    base = None
    config_path = os.path.join(source_dir, "config.json")
    if os.path.isfile(config_path):
        base = GemmaConfig.from_json_file(config_path)
    _gemma_fields_from_config(writer, GemmaConfig.from_state_dict(meta, base=base))


def _gemma_fields_from_config(writer, cfg) -> None:
    """llama.cpp `gemma3.*` fields of a GemmaConfig."""
    arch = keys.GEMMA_ARCH
    writer.add_uint32(f"{arch}.block_count", cfg.num_layers)
    writer.add_uint32(f"{arch}.context_length", 131072)
    writer.add_uint32(f"{arch}.embedding_length", cfg.hidden_size)
    writer.add_uint32(f"{arch}.feed_forward_length", cfg.intermediate_size)
    writer.add_uint32(f"{arch}.attention.head_count", cfg.num_heads)
    writer.add_uint32(f"{arch}.attention.head_count_kv", cfg.num_kv_heads)
    writer.add_uint32(f"{arch}.attention.key_length", cfg.head_dim)
    writer.add_uint32(f"{arch}.attention.value_length", cfg.head_dim)
    writer.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", cfg.rms_norm_eps)
    writer.add_uint32(f"{arch}.attention.sliding_window", cfg.sliding_window)
    writer.add_float32(f"{arch}.rope.freq_base", cfg.rope_global_theta)
    writer.add_string(f"{arch}.rope.scaling.type", "linear" if cfg.rope_global_scaling != 1.0 else "none")
    if cfg.rope_global_scaling != 1.0:
        writer.add_float32(f"{arch}.rope.scaling.factor", cfg.rope_global_scaling)


def convert(
    src: str, dst: str, qtype: str = "Q8_0", *, tokenizer: Optional[str] = None,
    min_elements: int = MIN_QUANT_ELEMENTS, log: Optional[Callable[[str], None]] = None,
) -> Dict[str, int]:
    """Write `src` (safetensors) as GGUF `dst` with 2-D weights in `qtype`; returns tensor counts per type."""
    import gguf

    if qtype not in QUANTIZERS:
        raise InputError(f"Unknown quantization {qtype!r}: choose one of {', '.join(QUANTIZERS)}.")
    if os.path.abspath(src) == os.path.abspath(dst):
        raise InputError("The output path must differ from the input path.")
    source = _Source(src)
    names = source.weight_keys()
    arch = _detect(names)
    plan: Plan = []
    if arch == keys.LTXV_ARCH:
        has_prefix = any(k.startswith(keys.LTX_PREFIX) for k in names)
        mapped = [(k, keys.ltx_key_from_source(k, has_prefix)) for k in names]
    else:
        from .text.keys import gemma_key

        mapped = [(k, keys.gemma_to_gguf_name(gemma_key(k))) for k in names if gemma_key(k) is not None]
    for key, name in mapped:
        if name is None:
            continue
        shape = tuple(int(d) for d in source.header[key]["shape"])
        plan.append((key, name, _target_type(name, shape, source.dtype(key), qtype, min_elements), shape))
    if not plan:
        raise CheckpointError(f"{os.path.basename(src)} has no tensors to convert.")

    writer = gguf.GGUFWriter(path=None, arch=arch)
    writer.add_name(os.path.splitext(os.path.basename(src))[0])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_file_type(_FILE_TYPES[qtype])
    if arch == keys.LTXV_ARCH:
        for key, value in source.metadata.items():
            writer.add_string(f"ltx2.meta.{key}", value)
    else:
        from .text.keys import gemma_key

        _gemma_fields(writer, {gemma_key(k): s for k, _, _, s in plan}, os.path.dirname(os.path.abspath(src)))
        model = None
        if tokenizer is not None:
            with open(tokenizer, "rb") as handle:
                model = handle.read()
        elif "spiece_model" in source.header:
            model = source.handle.get_tensor("spiece_model").to(torch.uint8).numpy().tobytes()
        if model is not None:
            _tokenizer_fields(writer, model)
    def tensor_of(key: str, name: str, kind: str, shape: Tuple[int, ...]) -> torch.Tensor:
        tensor = source.tensor(key)
        if kind not in ("BF16", "F16"):
            tensor = tensor.to(torch.float32)
        if arch == keys.GEMMA_ARCH and name.endswith("norm.weight"):
            tensor = tensor.to(torch.float32) + keys.GEMMA_NORM_SHIFT
        return tensor

    return write_gguf(dst, writer, plan, tensor_of, log=log)



def write_gguf(dst: str, writer, plan: Plan, tensor_of: Callable[[str, str, str, Tuple[int, ...]], torch.Tensor],
               *, log: Optional[Callable[[str], None]] = None) -> Dict[str, int]:
    """Declare every tensor of `plan` in `writer` (a `gguf.GGUFWriter(path=None)` holding the metadata),
    then write `dst` atomically, streaming: each tensor is asked of `tensor_of(key, name, type, shape)`,
    encoded and written before the next one is asked for. Returns tensor counts per type."""
    import gguf

    for key, name, kind, shape in plan:
        stored = shape if len(shape) <= 4 else (shape[0], int(np.prod(shape[1:])))
        if stored != shape:
            writer.add_array(ORIG_SHAPE_PREFIX + name, list(shape))
        raw = None if kind in ("F32", "F16") else gguf.GGMLQuantizationType[kind]
        if raw is None:
            np_dtype = np.float32 if kind == "F32" else np.float16
            writer.add_tensor_info(name, stored, np.dtype(np_dtype), int(np.prod(stored)) * np.dtype(np_dtype).itemsize)
        else:
            block, size = gguf.GGML_QUANT_SIZES[raw]
            byte_shape = (*stored[:-1], stored[-1] // block * size)
            writer.add_tensor_info(name, byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape)), raw_dtype=raw)
    counts: Dict[str, int] = {}
    with atomic_output(dst) as temp:
        try:
            writer.write_header_to_file(path=temp)
            writer.write_kv_data_to_file()
            writer.write_ti_data_to_file()
            for key, name, kind, shape in plan:
                tensor = tensor_of(key, name, kind, shape)
                if len(shape) > 4:
                    tensor = tensor.reshape(shape[0], -1)
                writer.write_tensor_data(_encode(tensor, kind))
                del tensor
                counts[kind] = counts.get(kind, 0) + 1
                if log is not None:
                    log(f"{name:<72} {str(tuple(shape)):<20} -> {kind}")
        finally:
            writer.close()
    return counts


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ltx2_core.convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("src", help="input .safetensors (LTX-2 transformer / single file, or Gemma 3)")
    parser.add_argument("dst", help="output .gguf")
    parser.add_argument("--type", default="Q8_0", choices=sorted(QUANTIZERS), help="quantization of 2-D weights")
    parser.add_argument("--tokenizer", help="Gemma tokenizer.model to embed (default: the file's spiece_model)")
    parser.add_argument("--min-elements", type=int, default=MIN_QUANT_ELEMENTS,
                        help="tensors with at most this many values stay F32")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    args = parser.parse_args(argv)
    try:
        _check_paths(args)
        counts = convert(args.src, args.dst, args.type, tokenizer=args.tokenizer, min_elements=args.min_elements,
                         log=print)
    except LTX2Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc} ({exc.filename or args.dst}): check the paths and the free disk space.",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: {args.dst} was not written", file=sys.stderr)
        return 130
    print(f"wrote {args.dst}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0


def _check_paths(args) -> None:
    """Everything about the paths, before the input is read: the output's folder and extension, an existing
    output (refused without --force), the input and tokenizer files."""
    check_output(args.dst, "gguf", "Output")
    if os.path.exists(args.dst) and not args.force:
        raise InputError(f"{args.dst} exists: use --force to overwrite it, or choose another output path.")
    if not os.path.isfile(args.src):
        raise InputError(f"Input not found: {args.src!r}. Check the path.")
    if args.tokenizer is not None and not os.path.isfile(args.tokenizer):
        raise InputError(f"Tokenizer not found: {args.tokenizer!r}. Check the path.")
    if args.min_elements < 0:
        raise InputError(f"--min-elements {args.min_elements} is invalid: use 0 or more.")


if __name__ == "__main__":
    sys.exit(main())
