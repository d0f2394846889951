"""Configuration of the Gemma 4 text decoder LTX-2.5 encodes prompts with (`gemma4-12b-ltx-v1`).

Differences from Gemma 3 (`..gemma_config`) that each change the numbers, kept as explicit fields:
- RMSNorm multiplies by `w` (not `1 + w`) — see `model.Gemma4RMSNorm`;
- attention scale 1.0 (q and k are RMS-normed per head), V is RMS-normed too (weightless);
- global layers: own head size `global_head_dim` (512) and `num_global_kv_heads` (1); with `attention_k_eq_v`
  there is no `v_proj` and V is the (un-roped, v-normed) K projection;
- global RoPE is "proportional": only `global_partial_rotary` of the frequency pairs rotate, the exponent still
  divides by the full head size; the other pairs have frequency 0 (pass through);
- every layer multiplies its output by a stored scalar (`layer_scalar` buffer);
- vocabulary 262,144 rows.
"""

import json
from dataclasses import dataclass
from typing import Mapping, Tuple

from ...configs import metadata_section, non_positive
from ...errors import CheckpointError
from ..gemma_config import GLOBAL, SLIDING, layer_pattern

LTX_GEMMA4_VERSION = "gemma4-12b-ltx-v1"
GEMMA4_MODEL_TYPES = ("gemma4_unified", "gemma4_unified_text", "gemma4", "gemma4_text")


@dataclass(frozen=True)
class Gemma4Config:
    """Sizes and constants of a Gemma 4 text decoder (defaults: the 12B LTX-2.5 encoder)."""

    vocab_size: int = 262144
    hidden_size: int = 3840
    intermediate_size: int = 15360
    num_layers: int = 48
    num_heads: int = 16
    num_kv_heads: int = 8
    head_dim: int = 256
    global_head_dim: int = 512
    num_global_kv_heads: int = 1
    attention_k_eq_v: bool = True
    rms_norm_eps: float = 1e-6
    sliding_window: int = 1024
    layer_types: Tuple[str, ...] = layer_pattern(48, 6)
    rope_local_theta: float = 10000.0
    rope_global_theta: float = 1000000.0
    global_partial_rotary: float = 0.25
    rope_global_factor: float = 1.0
    pad_token_id: int = 0
    bos_token_id: int = 2
    eos_token_ids: Tuple[int, ...] = (1,)
    gemma_version: str = LTX_GEMMA4_VERSION

    def __post_init__(self):
        sizes = ("vocab_size", "hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads",
                 "head_dim", "global_head_dim", "num_global_kv_heads", "sliding_window")
        problems = [f"{name} must be positive (got {getattr(self, name)})" for name in non_positive(self, sizes)]
        for heads in (self.num_kv_heads, self.num_global_kv_heads):
            if heads > 0 and self.num_heads % heads:
                problems.append(f"num_heads {self.num_heads} is not a multiple of {heads} KV heads")
        if self.head_dim % 2 or self.global_head_dim % 2:
            problems.append("head sizes must be even for rotary embeddings")
        if len(self.layer_types) != self.num_layers:
            problems.append(f"{len(self.layer_types)} layer types for {self.num_layers} layers")
        if set(self.layer_types) - {SLIDING, GLOBAL}:
            problems.append(f"unknown layer types {sorted(set(self.layer_types) - {SLIDING, GLOBAL})}")
        if not 0.0 <= self.global_partial_rotary <= 1.0:
            problems.append(f"global_partial_rotary {self.global_partial_rotary} is not in [0, 1]")
        if problems:
            raise CheckpointError("Invalid Gemma 4 configuration: " + "; ".join(problems) + ".")

    def layer_head_dim(self, layer: int) -> int:
        return self.global_head_dim if self.layer_types[layer] == GLOBAL else self.head_dim

    def layer_kv_heads(self, layer: int) -> int:
        return self.num_global_kv_heads if self.layer_types[layer] == GLOBAL else self.num_kv_heads

    def shares_kv(self, layer: int) -> bool:
        """True where V is the K projection (no `v_proj`): global layers with `attention_k_eq_v`."""
        return self.attention_k_eq_v and self.layer_types[layer] == GLOBAL

    @classmethod
    def gemma4_12b(cls) -> "Gemma4Config":
        return cls()

    @classmethod
    def tiny(cls, num_layers: int = 6, vocab_size: int = 512, sliding_window: int = 4) -> "Gemma4Config":
        """A small model for tests that keeps the 5:1 sliding/global pattern and every Gemma 4 difference."""
        return cls(
            vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_layers=num_layers, num_heads=2,
            num_kv_heads=1, head_dim=32, global_head_dim=64, num_global_kv_heads=1, sliding_window=sliding_window,
            layer_types=layer_pattern(num_layers, 6),
        )

    @classmethod
    def from_hf_dict(cls, config: Mapping) -> "Gemma4Config":
        """From a Hugging Face config dict (`gemma4_unified` with `text_config`, or a flat text config).

        A config that is not Gemma 4 raises `CheckpointError`; `gemma_version` is read from the top level."""
        model_type = config.get("model_type")
        text = metadata_section(config, "text_config", "The Gemma 4 config has no usable 'text_config' section.")
        if (model_type or text.get("model_type")) not in GEMMA4_MODEL_TYPES:
            raise CheckpointError(
                f"This text encoder is model_type {model_type!r}, not Gemma 4: LTX-2.5 needs the Gemma 4 12B LTX "
                f"text encoder ({LTX_GEMMA4_VERSION}); Gemma 3 files are for LTX-2 / LTX-2.3."
            )
        base = cls()
        num_layers = int(text.get("num_hidden_layers", base.num_layers))
        types = text.get("layer_types")
        layer_types = (tuple(GLOBAL if t == "full_attention" else SLIDING for t in types) if types
                       else layer_pattern(num_layers, 6))
        rope = text.get("rope_parameters") or {}
        full, sliding = rope.get("full_attention") or {}, rope.get("sliding_attention") or {}
        full_type = full.get("rope_type", "proportional")
        if full_type not in ("proportional", "default") or sliding.get("rope_type", "default") != "default":
            raise CheckpointError(f"Unsupported Gemma 4 RoPE types {full_type!r}/{sliding.get('rope_type')!r}.")
        eos = config.get("eos_token_id", text.get("eos_token_id", base.eos_token_ids))
        k_eq_v = bool(text.get("attention_k_eq_v", base.attention_k_eq_v))
        kv = int(text.get("num_key_value_heads", base.num_kv_heads))
        global_kv = text.get("num_global_key_value_heads")
        global_dim = text.get("global_head_dim")
        # transformers >= 5.2x writes the global-layer overrides as `per_layer_config` {layer: {...}}.
        for index, override in (text.get("per_layer_config") or {}).items():
            if str(index).isdigit() and int(index) < len(layer_types) and layer_types[int(index)] == GLOBAL:
                global_dim = override.get("head_dim", global_dim)
                global_kv = override.get("num_key_value_heads", global_kv)
        return cls(
            vocab_size=int(text.get("vocab_size", base.vocab_size)),
            hidden_size=int(text.get("hidden_size", base.hidden_size)),
            intermediate_size=int(text.get("intermediate_size", base.intermediate_size)),
            num_layers=num_layers,
            num_heads=int(text.get("num_attention_heads", base.num_heads)),
            num_kv_heads=kv,
            head_dim=int(text.get("head_dim", base.head_dim)),
            global_head_dim=int(global_dim if global_dim is not None else base.global_head_dim),
            num_global_kv_heads=int(global_kv) if (global_kv is not None and k_eq_v) else kv,
            attention_k_eq_v=k_eq_v,
            rms_norm_eps=float(text.get("rms_norm_eps", base.rms_norm_eps)),
            sliding_window=int(text.get("sliding_window", base.sliding_window)),
            layer_types=layer_types,
            rope_local_theta=float(sliding.get("rope_theta", base.rope_local_theta)),
            rope_global_theta=float(full.get("rope_theta", base.rope_global_theta)),
            global_partial_rotary=float(full.get("partial_rotary_factor", 1.0)) if full_type == "proportional"
            else 1.0,
            rope_global_factor=float(full.get("factor", 1.0)),
            pad_token_id=int(text.get("pad_token_id", base.pad_token_id) or 0),
            bos_token_id=int(text.get("bos_token_id", base.bos_token_id)),
            eos_token_ids=tuple(eos) if isinstance(eos, (list, tuple)) else (int(eos),),
            gemma_version=str(config.get("gemma_version", "")),
        )

    @classmethod
    def from_json(cls, text: str) -> "Gemma4Config":
        try:
            return cls.from_hf_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"The embedded Gemma 4 config is not valid JSON: {exc}.") from None
