"""T5 v1.1 encoder configuration: from a Hugging Face config.json, from key shapes, or from GGUF metadata."""

from dataclasses import dataclass, replace
from typing import Mapping, Optional

from ...errors import CheckpointError, UnsupportedFormatError


@dataclass(frozen=True)
class T5Config:
    """Sizes of a T5 v1.1 encoder (gated-GELU FFN, relative position bias in block 0 only)."""

    vocab_size: int = 32128
    d_model: int = 4096
    d_kv: int = 64
    d_ff: int = 10240
    num_layers: int = 24
    num_heads: int = 64
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6

    @property
    def inner_dim(self) -> int:
        return self.num_heads * self.d_kv

    @classmethod
    def xxl(cls) -> "T5Config":
        """google/t5-v1_1-xxl (the encoder LTX-Video uses)."""
        return cls()

    @classmethod
    def tiny(cls, **overrides) -> "T5Config":
        """A small random-weights config for tests (several buckets in use, two layers)."""
        base = cls(vocab_size=256, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_heads=4,
                   relative_attention_num_buckets=8, relative_attention_max_distance=16)
        return replace(base, **overrides)

    @classmethod
    def from_hf_dict(cls, config: Mapping) -> "T5Config":
        """From a T5 config.json (T5EncoderModel / T5ForConditionalGeneration with gated-gelu)."""
        projection = str(config.get("feed_forward_proj", "gated-gelu"))
        if projection != "gated-gelu":
            raise CheckpointError(
                f"This T5 config uses feed_forward_proj={projection!r}; only T5 v1.1 ('gated-gelu', the encoder "
                "LTX-Video uses) is implemented. Use google/t5-v1_1-xxl or PixArt's text_encoder."
            )
        base = cls()
        return cls(
            vocab_size=int(config.get("vocab_size", base.vocab_size)),
            d_model=int(config.get("d_model", base.d_model)),
            d_kv=int(config.get("d_kv", base.d_kv)),
            d_ff=int(config.get("d_ff", base.d_ff)),
            num_layers=int(config.get("num_layers", base.num_layers)),
            num_heads=int(config.get("num_heads", base.num_heads)),
            relative_attention_num_buckets=int(config.get("relative_attention_num_buckets",
                                                          base.relative_attention_num_buckets)),
            relative_attention_max_distance=int(config.get("relative_attention_max_distance",
                                                           base.relative_attention_max_distance)),
            layer_norm_epsilon=float(config.get("layer_norm_epsilon", base.layer_norm_epsilon)),
        )

    def to_hf_dict(self) -> dict:
        """The config.json fields of this encoder (for writing tiny HF-layout folders)."""
        return {
            "architectures": ["T5EncoderModel"], "model_type": "t5", "vocab_size": self.vocab_size,
            "d_model": self.d_model, "d_kv": self.d_kv, "d_ff": self.d_ff, "num_layers": self.num_layers,
            "num_heads": self.num_heads, "relative_attention_num_buckets": self.relative_attention_num_buckets,
            "relative_attention_max_distance": self.relative_attention_max_distance,
            "layer_norm_epsilon": self.layer_norm_epsilon, "feed_forward_proj": "gated-gelu",
            "is_encoder_decoder": False, "tie_word_embeddings": False, "dropout_rate": 0.0,
        }

    @classmethod
    def from_shapes(cls, shapes: Mapping[str, tuple], base: Optional["T5Config"] = None) -> "T5Config":
        """Sizes read off our-named key shapes; the head count (not visible in shapes) comes from the relative
        bias table, buckets from it too; the rest from `base` (default: T5-XXL)."""
        base = base or cls()
        if "encoder.block.0.layer.1.DenseReluDense.wi.weight" in shapes:
            raise UnsupportedFormatError(
                "This is a T5 v1.0 encoder (ReLU FFN 'wi'); LTX-Video uses T5 v1.1 XXL (gated-GELU 'wi_0'/'wi_1'). "
                "Give t5xxl_fp16.safetensors / google/t5-v1_1-xxl instead."
            )
        try:
            vocab, d_model = shapes["shared.weight"]
            d_ff = shapes["encoder.block.0.layer.1.DenseReluDense.wi_0.weight"][0]
            inner = shapes["encoder.block.0.layer.0.SelfAttention.q.weight"][0]
            buckets, heads = shapes["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        except (KeyError, ValueError):
            raise CheckpointError(
                "These weights are not a T5 encoder: shared.weight, the block-0 attention, FFN or relative "
                "attention bias are missing. Give a T5 v1.1 (XXL) text-encoder file."
            ) from None
        layers = 1 + max(int(k.split(".")[2]) for k in shapes if k.startswith("encoder.block."))
        if inner % heads:
            raise CheckpointError(f"T5 attention width {inner} is not a multiple of the {heads} heads of the "
                                  "relative attention bias. The file is damaged.")
        return replace(base, vocab_size=int(vocab), d_model=int(d_model), d_ff=int(d_ff), num_layers=layers,
                       num_heads=int(heads), d_kv=int(inner) // int(heads), relative_attention_num_buckets=int(buckets))

    @classmethod
    def from_gguf_fields(cls, field, base: Optional["T5Config"] = None) -> "T5Config":
        """From llama.cpp `t5encoder.*` metadata (`field(name, default)`); sizes not stated keep `base`."""
        base = base or cls()
        arch = "t5encoder"

        def get(name, default, kind=int):
            value = field(f"{arch}.{name}", None)
            return default if value is None else kind(value)

        eps = get("attention.layer_norm_epsilon", base.layer_norm_epsilon, float)
        return replace(
            base, d_model=get("embedding_length", base.d_model), d_ff=get("feed_forward_length", base.d_ff),
            num_layers=get("block_count", base.num_layers), num_heads=get("attention.head_count", base.num_heads),
            d_kv=get("attention.key_length", base.d_kv),
            relative_attention_num_buckets=get("attention.relative_buckets_count",
                                               base.relative_attention_num_buckets),
            layer_norm_epsilon=float(f"{eps:.7g}"),
        )
