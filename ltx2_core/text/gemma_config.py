"""Configuration of the Gemma 3 text decoder (the language tower LTX-2 uses as its text encoder).

One frozen dataclass, with the Gemma 3 12B preset LTX-2 / LTX-2.3 were trained with, a tiny preset for
tests, a reader for Hugging Face `config.json` files (both the nested `gemma3` and the flat
`gemma3_text` layouts, old `rope_scaling` and new `rope_parameters` spellings) and a detector that
reads the sizes off a state dict's key shapes.
"""

import json
import os
from dataclasses import dataclass, replace
from typing import Mapping, Optional, Tuple

from ..checkpoint import logical_shape
from ..configs import key_indices, metadata_section, non_positive
from ..errors import CheckpointError

SLIDING = "sliding"
GLOBAL = "global"


def layer_pattern(num_layers: int, every: int) -> Tuple[str, ...]:
    """Gemma 3's layer types: sliding-window layers with every `every`-th layer global."""
    return tuple(GLOBAL if (i + 1) % every == 0 else SLIDING for i in range(num_layers))


@dataclass(frozen=True)
class GemmaConfig:
    """Sizes and constants of a Gemma 3 text decoder."""

    vocab_size: int = 262208
    hidden_size: int = 3840
    intermediate_size: int = 15360
    num_layers: int = 48
    num_heads: int = 16
    num_kv_heads: int = 8
    head_dim: int = 256
    query_pre_attn_scalar: float = 256.0
    rms_norm_eps: float = 1e-6
    sliding_window: int = 1024
    layer_types: Tuple[str, ...] = layer_pattern(48, 6)
    rope_local_theta: float = 10000.0
    rope_global_theta: float = 1000000.0
    rope_global_scaling: float = 8.0  # linear: positions divided by this factor on global layers
    pad_token_id: int = 0
    bos_token_id: int = 2
    eos_token_ids: Tuple[int, ...] = (1, 106)

    def __post_init__(self):
        sizes = ("vocab_size", "hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads",
                 "head_dim", "sliding_window")
        problems = [f"{name} must be positive (got {getattr(self, name)})" for name in non_positive(self, sizes)]
        if self.num_heads % max(self.num_kv_heads, 1):
            problems.append(f"num_heads {self.num_heads} is not a multiple of num_kv_heads {self.num_kv_heads}")
        if self.head_dim % 2:
            problems.append(f"head_dim {self.head_dim} must be even for rotary embeddings")
        if len(self.layer_types) != self.num_layers:
            problems.append(f"{len(self.layer_types)} layer types for {self.num_layers} layers")
        if set(self.layer_types) - {SLIDING, GLOBAL}:
            problems.append(f"unknown layer types {sorted(set(self.layer_types) - {SLIDING, GLOBAL})}")
        if problems:
            raise CheckpointError("Invalid Gemma 3 configuration: " + "; ".join(problems) + ".")

    @property
    def kv_groups(self) -> int:
        return self.num_heads // self.num_kv_heads

    @classmethod
    def gemma3_12b(cls) -> "GemmaConfig":
        """Gemma 3 12B (the text tower of `gemma-3-12b-it`), as LTX-2 and LTX-2.3 use it."""
        return cls()

    @classmethod
    def tiny(cls, num_layers: int = 3, sliding_window: int = 4, vocab_size: int = 512) -> "GemmaConfig":
        """A few-kilobyte model for tests: global layers every 3rd layer, a short sliding window."""
        return cls(
            vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_layers=num_layers, num_heads=4,
            num_kv_heads=2, head_dim=8, query_pre_attn_scalar=16.0, sliding_window=sliding_window,
            layer_types=layer_pattern(num_layers, 3), rope_global_scaling=8.0,
        )

    @classmethod
    def from_hf_dict(cls, config: Mapping) -> "GemmaConfig":
        """From a Hugging Face `config.json` dict (`gemma3` with `text_config`, or `gemma3_text`)."""
        text = metadata_section(config, "text_config", "The Gemma config.json has no usable 'text_config' section.")
        base = cls()
        num_layers = int(text.get("num_hidden_layers", base.num_layers))
        layer_types = text.get("layer_types")
        if layer_types:
            layer_types = tuple(GLOBAL if t == "full_attention" else SLIDING for t in layer_types)
        else:
            layer_types = layer_pattern(num_layers, int(text.get("sliding_window_pattern", 6)))
        local_theta = text.get("rope_local_base_freq", base.rope_local_theta)
        global_theta = text.get("rope_theta", base.rope_global_theta)
        scaling = text.get("rope_scaling") or {}
        rope_parameters = text.get("rope_parameters") or {}
        if "full_attention" in rope_parameters:
            global_theta = rope_parameters["full_attention"].get("rope_theta", global_theta)
            scaling = rope_parameters["full_attention"]
        if "sliding_attention" in rope_parameters:
            local_theta = rope_parameters["sliding_attention"].get("rope_theta", local_theta)
        rope_type = scaling.get("rope_type", scaling.get("type", "default"))
        if rope_type not in ("default", "linear"):
            raise CheckpointError(f"Unsupported Gemma RoPE scaling {rope_type!r}: only 'linear' is implemented.")
        eos = config.get("eos_token_id", text.get("eos_token_id", base.eos_token_ids))
        return cls(
            vocab_size=int(text.get("vocab_size", base.vocab_size)),
            hidden_size=int(text.get("hidden_size", base.hidden_size)),
            intermediate_size=int(text.get("intermediate_size", base.intermediate_size)),
            num_layers=num_layers,
            num_heads=int(text.get("num_attention_heads", base.num_heads)),
            num_kv_heads=int(text.get("num_key_value_heads", base.num_kv_heads)),
            head_dim=int(text.get("head_dim", base.head_dim)),
            query_pre_attn_scalar=float(text.get("query_pre_attn_scalar", base.query_pre_attn_scalar)),
            rms_norm_eps=float(text.get("rms_norm_eps", base.rms_norm_eps)),
            sliding_window=int(text.get("sliding_window", base.sliding_window)),
            layer_types=layer_types,
            rope_local_theta=float(local_theta),
            rope_global_theta=float(global_theta),
            rope_global_scaling=float(scaling.get("factor", 1.0)) if rope_type == "linear" else 1.0,
            pad_token_id=int(text.get("pad_token_id", base.pad_token_id) or 0),
            bos_token_id=int(text.get("bos_token_id", base.bos_token_id)),
            eos_token_ids=tuple(eos) if isinstance(eos, (list, tuple)) else (int(eos),),
        )

    @classmethod
    def from_json_file(cls, path: str) -> "GemmaConfig":
        try:
            with open(path, "r", encoding="utf-8") as handle:
                return cls.from_hf_dict(json.load(handle))
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"Could not read the Gemma config {os.path.basename(path)}: {exc}") from None

    @classmethod
    def from_state_dict(cls, state_dict: Mapping, base: Optional["GemmaConfig"] = None) -> "GemmaConfig":
        """Sizes read off the key shapes of a Gemma state dict (our names); constants from `base` (12B)."""
        base = base or cls.gemma3_12b()
        try:
            vocab, hidden = logical_shape(state_dict["embed_tokens.weight"])
            q_rows = logical_shape(state_dict["layers.0.self_attn.q_proj.weight"])[0]
            k_rows = logical_shape(state_dict["layers.0.self_attn.k_proj.weight"])[0]
            head_dim = logical_shape(state_dict["layers.0.self_attn.q_norm.weight"])[0]
            inter = logical_shape(state_dict["layers.0.mlp.gate_proj.weight"])[0]
        except KeyError as exc:
            raise CheckpointError(
                f"This is not a Gemma 3 text model: key {exc.args[0]!r} is missing. "
                "Select a Gemma 3 12B text encoder file."
            ) from None
        num_layers = 1 + max(key_indices(state_dict, "layers."))
        same_layers = num_layers == base.num_layers
        return replace(
            base, vocab_size=int(vocab), hidden_size=int(hidden), intermediate_size=int(inter), num_layers=num_layers,
            num_heads=int(q_rows) // int(head_dim), num_kv_heads=int(k_rows) // int(head_dim), head_dim=int(head_dim),
            layer_types=base.layer_types if same_layers else layer_pattern(num_layers, 6),
        )
