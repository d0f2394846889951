"""LTX-Video 0.9.x transformer configuration (official `Transformer3DModel` hyper-parameters).

Every public release uses the same architecture; only the size differs (2B: 28 layers x 2048,
13B: 48 layers x 4096) plus `causal_temporal_positioning` (how latent frame indices become
pixel-frame positions, see `positions.py`), which the official metadata states per file.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from ...errors import CheckpointError

# Official metadata fields whose value is fixed by this architecture (field -> accepted values).
_FIXED_FIELDS = {
    "adaptive_norm": ("single_scale_shift",),
    "standardization_norm": ("rms_norm",),
    "norm_elementwise_affine": (False,),
    "qk_norm": ("rms_norm",),
    "positional_embedding_type": ("rope",),
    "activation_fn": ("gelu-approximate",),
    "attention_bias": (True,),
    "only_cross_attention": (False,),
    "double_self_attention": (False,),
    "use_linear_projection": (False,),
}


@dataclass(frozen=True)
class LTXVTransformerConfig:
    num_layers: int = 28
    heads: int = 32
    head_dim: int = 64
    in_channels: int = 128
    out_channels: int = 128
    cross_attention_dim: int = 2048
    caption_channels: int = 4096
    norm_eps: float = 1e-6
    qk_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_max_pos: Tuple[int, int, int] = (20, 2048, 2048)
    timestep_scale_multiplier: float = 1000.0
    causal_temporal_positioning: bool = False

    def __post_init__(self) -> None:
        for name in ("num_layers", "heads", "head_dim", "in_channels", "out_channels", "cross_attention_dim",
                     "caption_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise CheckpointError(f"LTX-Video transformer config: {name}={value!r} must be a positive integer.")
        if self.cross_attention_dim != self.dim:
            raise CheckpointError(f"LTX-Video transformer config: cross_attention_dim {self.cross_attention_dim} must "
                                  f"equal heads*head_dim = {self.dim} (the caption projection outputs that width).")
        if len(self.rope_max_pos) != 3:
            raise CheckpointError(f"LTX-Video transformer config: positional_embedding_max_pos {self.rope_max_pos!r} "
                                  "needs 3 entries (frames, height, width).")

    @property
    def dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def size_name(self) -> str:
        return {2048: "2B", 4096: "13B"}.get(self.dim, f"{self.dim}-wide")

    def replace(self, **changes: Any) -> "LTXVTransformerConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def ltxv_2b(cls, causal_temporal_positioning: bool = True) -> "LTXVTransformerConfig":
        """The 2B model (0.9 / 0.9.1 use causal_temporal_positioning=False, 0.9.5+ True)."""
        return cls(causal_temporal_positioning=causal_temporal_positioning)

    @classmethod
    def ltxv_13b(cls) -> "LTXVTransformerConfig":
        """The 13B model (0.9.7 / 0.9.8)."""
        return cls(num_layers=48, head_dim=128, cross_attention_dim=4096, causal_temporal_positioning=True)

    @classmethod
    def tiny(cls, **changes: Any) -> "LTXVTransformerConfig":
        """A small random-weight config for tests and demos (2 layers, 2 heads x 16, 24-wide text)."""
        base = dict(num_layers=2, heads=2, head_dim=16, in_channels=8, out_channels=8, cross_attention_dim=32,
                    caption_channels=24)
        base.update(changes)
        return cls(**base)

    def to_metadata(self) -> dict:
        """The official `config["transformer"]` section for this config."""
        return {
            "_class_name": "Transformer3DModel", "num_layers": self.num_layers,
            "num_attention_heads": self.heads, "attention_head_dim": self.head_dim,
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "cross_attention_dim": self.cross_attention_dim, "caption_channels": self.caption_channels,
            "norm_eps": self.norm_eps, "positional_embedding_theta": self.rope_theta,
            "positional_embedding_max_pos": list(self.rope_max_pos),
            "timestep_scale_multiplier": self.timestep_scale_multiplier,
            "causal_temporal_positioning": self.causal_temporal_positioning,
            "dropout": 0.0, "num_embeds_ada_norm": 1000, "upcast_attention": False, "use_tpu_flash_attention": False,
            **{k: v[0] for k, v in _FIXED_FIELDS.items()},
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> "LTXVTransformerConfig":
        """From the official safetensors `config` metadata (the whole JSON or its "transformer" section)."""
        section = metadata.get("transformer", metadata)
        if not isinstance(section, Mapping):
            raise CheckpointError("The LTX-Video 'config' metadata has no 'transformer' object. Re-export the file.")
        for field, accepted in _FIXED_FIELDS.items():
            if field in section and section[field] not in accepted:
                raise CheckpointError(f"LTX-Video transformer config: {field}={section[field]!r} is not supported "
                                      f"(the released models use {accepted[0]!r}).")
        missing = [k for k in ("num_layers", "num_attention_heads", "attention_head_dim") if k not in section]
        if missing:
            raise CheckpointError(f"The LTX-Video transformer config metadata lacks {', '.join(missing)}. "
                                  "Re-export the file or pass config=.")
        heads, head_dim = int(section["num_attention_heads"]), int(section["attention_head_dim"])
        base = cls()
        multiplier = section.get("timestep_scale_multiplier")
        return cls(
            num_layers=int(section["num_layers"]), heads=heads, head_dim=head_dim,
            in_channels=int(section.get("in_channels", base.in_channels)),
            out_channels=int(section.get("out_channels") or section.get("in_channels", base.out_channels)),
            cross_attention_dim=int(section.get("cross_attention_dim") or heads * head_dim),
            caption_channels=int(section.get("caption_channels") or base.caption_channels),
            norm_eps=float(section.get("norm_eps", base.norm_eps)),
            rope_theta=float(section.get("positional_embedding_theta") or base.rope_theta),
            rope_max_pos=tuple(int(v) for v in section.get("positional_embedding_max_pos") or base.rope_max_pos),
            timestep_scale_multiplier=float(multiplier) if multiplier else base.timestep_scale_multiplier,
            causal_temporal_positioning=bool(section.get("causal_temporal_positioning", False)),
        )

    @classmethod
    def from_state_dict(cls, shapes: Mapping[str, Any], heads: int = 32,
                        causal_temporal_positioning: Optional[bool] = None) -> "LTXVTransformerConfig":
        """Sizes from key shapes (official names, prefix stripped; values are tensors or shapes).

        Heads cannot be read from shapes: the released models have 32. Without metadata the position
        handling defaults to 0.9.5+'s causal temporal positioning."""
        def shape(key: str) -> Optional[tuple]:
            value = shapes.get(key)
            return None if value is None else tuple(getattr(value, "shape", value))

        if shape("audio_patchify_proj.weight") is not None:
            raise CheckpointError("This is an LTX-2 audio-video transformer, not LTX-Video: load it with "
                                  "ltx2_core.transformer.load_transformer (the LTX-2 checkpoint loader).")
        needed = ("patchify_proj.weight", "proj_out.weight", "caption_projection.linear_1.weight")
        missing = [k for k in needed if shape(k) is None]
        if missing:
            raise CheckpointError(f"Not an LTX-Video transformer: missing {', '.join(missing)}. Pick an LTX-Video "
                                  "0.9.x model file (ltx-video-2b-*, ltxv-2b-*, ltxv-13b-*).")
        dim, in_channels = shape("patchify_proj.weight")
        out_channels = shape("proj_out.weight")[0]
        caption_channels = shape("caption_projection.linear_1.weight")[1]
        layers = 0
        while shape(f"transformer_blocks.{layers}.scale_shift_table") is not None:
            layers += 1
        if layers == 0:
            raise CheckpointError("Not an LTX-Video transformer: no 'transformer_blocks.N.scale_shift_table' keys.")
        if dim % heads:
            raise CheckpointError(f"LTX-Video transformer width {dim} is not divisible by {heads} heads.")
        return cls(num_layers=layers, heads=heads, head_dim=dim // heads, in_channels=in_channels,
                   out_channels=out_channels, cross_attention_dim=dim, caption_channels=caption_channels,
                   causal_temporal_positioning=True if causal_temporal_positioning is None
                   else causal_temporal_positioning)
