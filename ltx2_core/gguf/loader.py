"""Loading models whose weights stay packed: GGUF files and scaled fp8/int8 safetensors.

The models are built by their own loaders (`ltx2_core.transformer.load_transformer`,
`ltx2_core.text.load_gemma`) with `operations=QuantOps`, so quantized weights are dequantized per
forward on the compute device. Configs come from metadata the converter wrote (`ltx2.meta.*`),
from llama.cpp's `gemma3.*` fields, or from key shapes.
"""

import json
import os
import warnings
from dataclasses import replace
from typing import Dict, Optional, Union

import torch

from ..attention import sdpa_attention
from ..errors import CheckpointError, UnsupportedFormatError
from .fp8 import is_scaled_checkpoint, pack_scaled_weights
from .keys import GEMMA_ARCH, LTXV_ARCH
from .ops import QuantOps
from .reader import GGUFFile
from .tokenizer import sentencepiece_model_from_gguf

META_PREFIX = "ltx2.meta."
PathLike = Union[str, os.PathLike]


def gguf_metadata(file: GGUFFile) -> Dict[str, str]:
    """The safetensors-style string metadata the converter stored (`ltx2.meta.<key>` fields)."""
    return {k[len(META_PREFIX):]: str(file.field(k)) for k in file.field_names() if k.startswith(META_PREFIX)}


def _config_json(metadata: Dict[str, str], name: str) -> Optional[dict]:
    raw = metadata.get("config")
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise CheckpointError(f"{name}: the stored 'config' metadata is not valid JSON. Re-convert the file.") from None


def load_transformer_gguf(
    path: PathLike, *, operations=QuantOps, attention_fn=sdpa_attention, dtype: torch.dtype = torch.bfloat16,
    device: Union[str, torch.device] = "cpu", config=None,
):
    """An LTX-2 / LTX-2.3 transformer from a GGUF file (architecture `ltxv`), weights kept packed.

    The config is `config`, else the file's stored LTX `config` metadata, else detected from key shapes.
    """
    from ..transformer.config import TransformerConfig
    from ..transformer.loader import load_transformer

    file = GGUFFile(os.fspath(path))
    file.check_architecture((LTXV_ARCH,), "LTX-2 transformer")
    if config is None:
        meta = _config_json(gguf_metadata(file), file.name)
        if meta is not None and "transformer" in meta:
            config = TransformerConfig.from_metadata(meta)
    state = file.state_dict(dtype=dtype)
    return load_transformer(state, operations=operations, attention_fn=attention_fn, dtype=dtype, device=device,
                            config=config)


def load_transformer_scaled(
    path: PathLike, *, operations=QuantOps, attention_fn=sdpa_attention, dtype: torch.dtype = torch.bfloat16,
    device: Union[str, torch.device] = "cpu", config=None,
):
    """An LTX-2 transformer from an fp8 / int8 scaled safetensors checkpoint (file, sharded set or folder),
    weights kept packed."""
    from ..checkpoint_source import open_checkpoint
    from ..transformer.config import TransformerConfig
    from ..transformer.loader import load_transformer

    source = open_checkpoint(path, subfolders=("transformer",), what="LTX-2 transformer")
    metadata = dict(source.metadata)
    tensors = source.load()
    if config is None:
        meta = _config_json(metadata, source.name)
        if meta is not None and "transformer" in meta:
            config = TransformerConfig.from_metadata(meta)
    state = pack_scaled_weights(tensors, metadata, dtype=dtype)
    return load_transformer(state, operations=operations, attention_fn=attention_fn, dtype=dtype, device=device,
                            config=config)


def load_transformer_quantized(path: PathLike, **kwargs):
    """`load_transformer_gguf` for .gguf files, `load_transformer_scaled` for safetensors (fp8 / int8 / float)."""
    if os.fspath(path).endswith(".gguf"):
        return load_transformer_gguf(path, **kwargs)
    return load_transformer_scaled(path, **kwargs)


def _from_float32(value) -> float:
    """A float32 metadata value as the decimal it was written from (1e-6 instead of 9.99999997e-07)."""
    return float(f"{float(value):.7g}")


# Released Gemma 3 text towers: (layers, width) -> (name, linear RoPE factor of the global layers, as in their
# config.json; the small ones have no scaling).
GEMMA3_VARIANTS = {
    (18, 640): ("Gemma 3 270M", 1.0), (26, 1152): ("Gemma 3 1B", 1.0), (34, 2560): ("Gemma 3 4B", 8.0),
    (48, 3840): ("Gemma 3 12B", 8.0), (62, 5376): ("Gemma 3 27B", 8.0),
}


def gguf_rope_scaling(file: GGUFFile, layers: int, width: int) -> float:
    """The global layers' linear RoPE factor a `gemma3` GGUF states (`rope.scaling.type` / `.factor`, or the
    older `rope.scale_linear`). A file that states none gets the value of the Gemma 3 variant its sizes
    declare (Gemma 3 12B's when they match no released one), with a warning saying so."""
    arch = GEMMA_ARCH
    kind = file.field(f"{arch}.rope.scaling.type")
    factor = file.field(f"{arch}.rope.scaling.factor", file.field(f"{arch}.rope.scale_linear"))
    if kind is not None and str(kind) not in ("linear", "none"):
        raise UnsupportedFormatError(f"{file.name} uses RoPE scaling {kind!r}; only 'linear' (Gemma 3) is "
                                     "implemented. Use a Gemma 3 GGUF converted with linear RoPE scaling.")
    if str(kind) == "none":
        return 1.0
    if factor is not None:
        value = _from_float32(factor)
        if value <= 0:
            raise CheckpointError(f"{file.name} states a RoPE scaling factor of {value}; it must be positive. "
                                  "Re-convert the file.")
        return value
    name, value = GEMMA3_VARIANTS.get((layers, width), (None, None))
    if name is None:
        name, value = "Gemma 3 12B (the LTX-2 text encoder)", GEMMA3_VARIANTS[(48, 3840)][1]
    warnings.warn(
        f"{file.name} states no RoPE scaling ({arch}.rope.scaling.*): using {name}'s linear factor {value:g} for "
        f"the {layers}-layer, {width}-wide {arch} model it declares. Re-convert the file if that is wrong.",
        UserWarning, stacklevel=3,
    )
    return value


def gemma_config_from_gguf(file: GGUFFile, state_dict=None):
    """GemmaConfig from llama.cpp `gemma3.*` metadata (sizes, RoPE, window, eps) and the key shapes."""
    from ..text.gemma_config import GemmaConfig, layer_pattern

    arch = GEMMA_ARCH
    base = GemmaConfig.gemma3_12b()
    layers = int(file.field(f"{arch}.block_count", base.num_layers))
    changes = dict(
        num_layers=layers,
        hidden_size=int(file.field(f"{arch}.embedding_length", base.hidden_size)),
        intermediate_size=int(file.field(f"{arch}.feed_forward_length", base.intermediate_size)),
        num_heads=int(file.field(f"{arch}.attention.head_count", base.num_heads)),
        num_kv_heads=int(file.field(f"{arch}.attention.head_count_kv", base.num_kv_heads)),
        head_dim=int(file.field(f"{arch}.attention.key_length", base.head_dim)),
        rms_norm_eps=_from_float32(file.field(f"{arch}.attention.layer_norm_rms_epsilon", base.rms_norm_eps)),
        sliding_window=int(file.field(f"{arch}.attention.sliding_window", base.sliding_window)),
        rope_global_theta=_from_float32(file.field(f"{arch}.rope.freq_base", base.rope_global_theta)),
        layer_types=base.layer_types if layers == base.num_layers else layer_pattern(layers, 6),
    )
    changes["query_pre_attn_scalar"] = float(changes["head_dim"])
    changes["rope_global_scaling"] = gguf_rope_scaling(file, layers, changes["hidden_size"])
    specials = (("bos_token_id", "tokenizer.ggml.bos_token_id"), ("pad_token_id", "tokenizer.ggml.padding_token_id"))
    for field, key in specials:
        value = file.field(key)
        if value is not None:
            changes[field] = int(value)
    return replace(base, **changes)


def load_gemma_gguf(
    path: PathLike, *, operations=QuantOps, attention_fn=sdpa_attention, dtype: torch.dtype = torch.bfloat16,
    device=None, config=None,
):
    """A Gemma 3 text decoder from a llama.cpp GGUF (architecture `gemma3`), weights kept packed."""
    from ..text.loader import load_gemma

    file = GGUFFile(os.fspath(path))
    file.check_architecture((GEMMA_ARCH,), "Gemma 3 text encoder")
    config = config or gemma_config_from_gguf(file)
    state = file.state_dict(dtype=dtype)
    return load_gemma(state, operations=operations, attention_fn=attention_fn, dtype=dtype, device=device,
                      config=config)


def gemma_tokenizer_from_gguf(path: PathLike, **kwargs):
    """The Gemma tokenizer rebuilt from a GGUF file's vocabulary (no protobuf needed)."""
    from ..text.tokenizer import GemmaTokenizer

    return GemmaTokenizer.from_bytes(sentencepiece_model_from_gguf(GGUFFile(os.fspath(path))), **kwargs)


def is_quantized_checkpoint(path: PathLike) -> bool:
    """Whether a file needs this module's loaders (a GGUF, or safetensors with scaled low-bit weights)."""
    path = os.fspath(path)
    if path.endswith(".gguf"):
        return True
    from ..checkpoint_source import open_checkpoint

    dtypes = open_checkpoint(path, subfolders=("transformer",)).dtypes()
    return is_scaled_checkpoint({k: _HeaderDtype(v) for k, v in dtypes.items()})


class _HeaderDtype:
    """Stands in for a tensor in `is_scaled_checkpoint` using only the header's dtype string."""

    _MAP = {"F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}

    def __init__(self, name):
        self.dtype = self._MAP.get(name)
