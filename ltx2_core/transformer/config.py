"""`TransformerConfig`: the one description of an LTX-2 / LTX-2.3 / LTX-2.5 audio-video transformer.

Built from a checkpoint's metadata (`from_metadata`, the `transformer` section of the safetensors
`config` JSON), from its key shapes when metadata is absent (`from_state_dict`), or from a preset
(`ltx2_19b`, `ltx23_22b`, `ltx25_22b`, `tiny`). LTX-2.5 differs from 2.3 only by switches
(`ff_bias`, `keyframe_marker`); its release version lives in the file metadata (`model_version`).
"""

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Optional, Tuple

from ..checkpoint import logical_shape
from ..configs import key_indices, non_positive
from ..errors import CheckpointError

CrossModulation = Literal["own_timesteps", "other_sigma", "own_scale_other_gate"]
RopeType = Literal["split", "interleaved"]
CROSS_MODULATIONS = ("own_timesteps", "other_sigma", "own_scale_other_gate")

# Values the official configurator insists on (`model_configurator.py`); anything else is another model.
_FIXED_VALUES = {
    "dropout": 0.0, "attention_bias": True, "num_vector_embeds": None, "activation_fn": "gelu-approximate",
    "num_embeds_ada_norm": 1000, "use_linear_projection": False, "only_cross_attention": False,
    "cross_attention_norm": True, "double_self_attention": False, "upcast_attention": False,
    "standardization_norm": "rms_norm", "norm_elementwise_affine": False, "qk_norm": "rms_norm",
    "positional_embedding_type": "rope", "use_audio_video_cross_attention": True, "share_ff": False,
    "av_cross_ada_norm": True, "use_middle_indices_grid": True,
}
# Official switches this implementation does not support (no published file uses other values).
_UNSUPPORTED_VALUES = {"use_prompt_adaln_single": True, "connector_ff_bias": True}


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes and switches of the dual-stream (video + audio) transformer.

    Video stream: `heads * head_dim` wide; audio stream: `audio_heads * audio_head_dim` wide. The
    audio<->video cross attentions use the audio head geometry and 1-D temporal RoPE of width
    `audio_cross_attention_dim`.

    `cross_modulation` picks which timesteps drive the audio<->video cross-attention AdaLN; the
    official code changed this across versions (all three agree when every token of both streams
    has the same sigma, e.g. plain text-to-audio-video):
      - "own_timesteps": scale/shift and gate from the stream's own per-token timesteps (official
        code of January 2026 = LTX-2 release, ComfyUI, diffusers `use_cross_timestep=False`).
      - "other_sigma": scale/shift and gate from the other stream's sigma (ltx-core 1.0.0 = the
        LTX-2.3 release code, diffusers `use_cross_timestep=True`).
      - "own_scale_other_gate": scale/shift from own per-token timesteps, gate from the other
        stream's sigma (current official code since 2026-05-28, used for every model version).
    Default for both LTX-2 and LTX-2.3: "own_scale_other_gate", the current official semantics.
    """

    num_layers: int = 48
    heads: int = 32
    head_dim: int = 128
    in_channels: int = 128
    out_channels: int = 128
    cross_attention_dim: int = 4096
    audio_heads: int = 32
    audio_head_dim: int = 64
    audio_in_channels: int = 128
    audio_out_channels: int = 128
    audio_cross_attention_dim: int = 2048
    caption_channels: Optional[int] = 3840  # None: the text projection lives outside (LTX-2.3)
    gated_attention: bool = False  # LTX-2.3: per-head `to_gate_logits` on every attention
    cross_attention_adaln: bool = False  # LTX-2.3: 9 AdaLN rows + prompt (context) modulation
    norm_eps: float = 1e-6
    rope_type: RopeType = "split"
    rope_theta: float = 10000.0
    rope_double_precision: bool = True  # frequency grid computed in float64 (then float32)
    rope_max_pos: Tuple[int, ...] = (20, 2048, 2048)  # (seconds, pixels, pixels)
    audio_rope_max_pos: Tuple[int, ...] = (20,)
    timestep_scale_multiplier: float = 1000.0
    av_ca_timestep_scale_multiplier: float = 1000.0
    cross_modulation: CrossModulation = "own_scale_other_gate"
    ff_bias: bool = True  # LTX-2.5: False, the video FFN has no biases
    audio_ff_bias: bool = True
    keyframe_marker: bool = False  # LTX-2.5: learned `keyframes_abs_pos_embedding` (1, D) added to marked tokens

    def __post_init__(self) -> None:
        problems = []
        if non_positive(self, ("num_layers", "heads", "head_dim", "audio_heads", "audio_head_dim")):
            problems.append("layer/head counts and head dims must be positive")
        if self.rope_type not in ("split", "interleaved"):
            problems.append(f"rope_type {self.rope_type!r} is not 'split' or 'interleaved'")
        if self.cross_modulation not in CROSS_MODULATIONS:
            problems.append(f"cross_modulation {self.cross_modulation!r} is not one of {CROSS_MODULATIONS}")
        if len(self.rope_max_pos) != 3 or len(self.audio_rope_max_pos) != 1:
            problems.append("rope_max_pos needs 3 entries (t, h, w) and audio_rope_max_pos 1")
        if self.cross_attention_adaln and (self.cross_attention_dim != self.dim
                                           or self.audio_cross_attention_dim != self.audio_dim):
            problems.append("prompt AdaLN needs context widths equal to the stream widths")
        half = self.audio_cross_attention_dim // 2
        if self.rope_type == "split" and (half % self.heads or half % self.audio_heads or self.head_dim % 2
                                          or self.audio_head_dim % 2):
            problems.append("split RoPE needs even head dims and audio_cross_attention_dim/2 divisible by the heads")
        if problems:
            raise CheckpointError("Invalid LTX-2 transformer config: " + "; ".join(problems) + ".")

    @property
    def dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def audio_dim(self) -> int:
        return self.audio_heads * self.audio_head_dim

    @property
    def adaln_rows(self) -> int:
        return 9 if self.cross_attention_adaln else 6

    @property
    def version(self) -> str:
        """Architecture generation (for messages); the release version is the file's `model_version`."""
        if self.keyframe_marker or not self.ff_bias:
            return "2.5"
        return "2.3" if self.cross_attention_adaln else "2.0"

    def replace(self, **changes: Any) -> "TransformerConfig":
        return dataclasses.replace(self, **changes)

    # ---------------------------------------------------------------- presets
    @classmethod
    def ltx2_19b(cls, **changes: Any) -> "TransformerConfig":
        """LTX-2 (19B) as released (January 2026)."""
        return cls(**changes)

    @classmethod
    def ltx23_22b(cls, **changes: Any) -> "TransformerConfig":
        """LTX-2.3 (22B) as released (March 2026)."""
        base = dict(caption_channels=None, gated_attention=True, cross_attention_adaln=True)
        return cls(**{**base, **changes})

    @classmethod
    def ltx25_22b(cls, **changes: Any) -> "TransformerConfig":
        """LTX-2.5 (22B) as released (August 2026): LTX-2.3 with a bias-free video FFN and the keyframe marker."""
        return cls.ltx23_22b(**{**dict(ff_bias=False, keyframe_marker=True), **changes})

    @classmethod
    def tiny(cls, version: str = "2.0", **changes: Any) -> "TransformerConfig":
        """A 2-layer model for tests and demos (video 2x16, audio 2x8 wide)."""
        base = dict(num_layers=2, heads=2, head_dim=16, in_channels=8, out_channels=8, cross_attention_dim=32,
                    audio_heads=2, audio_head_dim=8, audio_in_channels=8, audio_out_channels=8,
                    audio_cross_attention_dim=16, caption_channels=24)
        if version in ("2.3", "2.5"):
            base.update(caption_channels=None, gated_attention=True, cross_attention_adaln=True)
        if version == "2.5":
            base.update(ff_bias=False, keyframe_marker=True)
        elif version not in ("2.0", "2.3"):
            raise CheckpointError(f"Unknown LTX-2 version {version!r}: use '2.0', '2.3' or '2.5'.")
        return cls(**{**base, **changes})

    # ---------------------------------------------------------------- metadata
    @classmethod
    def from_metadata(cls, config: Mapping[str, Any], **changes: Any) -> "TransformerConfig":
        """From the official `config` metadata JSON (its `transformer` section). Missing fields take
        the official code's defaults; values the official code rejects raise `CheckpointError`."""
        section = config.get("transformer") if isinstance(config, Mapping) else None
        if not isinstance(section, Mapping):
            raise CheckpointError("The checkpoint's 'config' metadata has no 'transformer' section: "
                                  "this is not an LTX-2 model file.")
        if section.get("_class_name") == "Transformer3DModel":
            raise CheckpointError("This is an LTX-Video 0.9.x (video-only) file: load it with the LTX-Video loader "
                                  "(ltx2_core.ltxv.load_ltxv_transformer).")
        for key, expected in _FIXED_VALUES.items():
            if section.get(key) != expected:
                raise CheckpointError(f"Transformer config {key}={section.get(key)!r} (expected {expected!r}): "
                                      "not an LTX-2 / LTX-2.3 transformer.")
        for key, supported in _UNSUPPORTED_VALUES.items():
            if section.get(key, supported) != supported:
                raise CheckpointError(f"Transformer config {key}={section.get(key)!r} is a variant no published "
                                      "LTX-2.x file uses, which this pack does not support.")
        caption = None if section.get("caption_proj_before_connector", False) else section.get("caption_channels")
        if not section.get("caption_proj_before_connector", False) and caption is None:
            raise CheckpointError("Transformer config lacks 'caption_channels' (needed by the LTX-2 caption "
                                  "projection). The metadata is incomplete: re-download the file.")
        rope_type = section.get("rope_type", "split")
        fields = dict(
            num_layers=section.get("num_layers", 48),
            heads=section.get("num_attention_heads", 32),
            head_dim=section.get("attention_head_dim", 128),
            in_channels=section.get("in_channels", 128),
            out_channels=section.get("out_channels", 128),
            cross_attention_dim=section.get("cross_attention_dim", 4096),
            audio_heads=section.get("audio_num_attention_heads", 32),
            audio_head_dim=section.get("audio_attention_head_dim", 64),
            audio_in_channels=section.get("audio_in_channels", 128),
            audio_out_channels=section.get("audio_out_channels", 128),
            audio_cross_attention_dim=section.get("audio_cross_attention_dim", 2048),
            caption_channels=caption,
            gated_attention=bool(section.get("apply_gated_attention", False)),
            cross_attention_adaln=bool(section.get("cross_attention_adaln", False)),
            norm_eps=float(section.get("norm_eps", 1e-6)),
            rope_type=rope_type,
            rope_theta=float(section.get("positional_embedding_theta", 10000.0)),
            rope_double_precision=section.get("frequencies_precision") == "float64",
            rope_max_pos=tuple(section.get("positional_embedding_max_pos", (20, 2048, 2048))),
            audio_rope_max_pos=tuple(section.get("audio_positional_embedding_max_pos", (20,))),
            timestep_scale_multiplier=float(section.get("timestep_scale_multiplier", 1000)),
            av_ca_timestep_scale_multiplier=float(section.get("av_ca_timestep_scale_multiplier", 1)),
            ff_bias=bool(section.get("ff_bias", True)),
            audio_ff_bias=bool(section.get("audio_ff_bias", True)),
            keyframe_marker=bool(section.get("use_keyframes_abs_pos_embedding", False)),
        )
        return cls(**{**fields, **changes})

    def to_metadata(self) -> dict:
        """The official `config` metadata layout: {"transformer": {...}} (inverse of `from_metadata`)."""
        section = dict(_FIXED_VALUES)
        section.update(
            num_layers=self.num_layers, num_attention_heads=self.heads, attention_head_dim=self.head_dim,
            in_channels=self.in_channels, out_channels=self.out_channels,
            cross_attention_dim=self.cross_attention_dim, audio_num_attention_heads=self.audio_heads,
            audio_attention_head_dim=self.audio_head_dim, audio_in_channels=self.audio_in_channels,
            audio_out_channels=self.audio_out_channels, audio_cross_attention_dim=self.audio_cross_attention_dim,
            caption_channels=self.caption_channels if self.caption_channels is not None else 3840,
            apply_gated_attention=self.gated_attention, cross_attention_adaln=self.cross_attention_adaln,
            norm_eps=self.norm_eps, rope_type=self.rope_type, positional_embedding_theta=self.rope_theta,
            frequencies_precision="float64" if self.rope_double_precision else "float32",
            positional_embedding_max_pos=list(self.rope_max_pos),
            audio_positional_embedding_max_pos=list(self.audio_rope_max_pos),
            timestep_scale_multiplier=self.timestep_scale_multiplier,
            av_ca_timestep_scale_multiplier=self.av_ca_timestep_scale_multiplier,
        )
        if not self.ff_bias or not self.audio_ff_bias or self.keyframe_marker:  # LTX-2.5 switches
            section.update(ff_bias=self.ff_bias, audio_ff_bias=self.audio_ff_bias,
                           use_keyframes_abs_pos_embedding=self.keyframe_marker, use_prompt_adaln_single=True)
        if self.caption_channels is None:  # LTX-2.3: the text projection sits before the connectors
            section.update(caption_proj_before_connector=True, caption_projection_first_linear=False,
                           caption_proj_input_norm=False, caption_projection_second_linear=False)
        return {"transformer": section}

    # ---------------------------------------------------------------- key shapes
    @classmethod
    def from_state_dict(cls, tensors: Mapping[str, Any], *, head_dim: Optional[int] = None,
                        audio_head_dim: Optional[int] = None, **changes: Any) -> "TransformerConfig":
        """Detect LTX-2 vs LTX-2.3 and the sizes from transformer key shapes (official names, prefix
        already stripped; values are tensors or shapes). Heads are counted from the per-head gates
        (LTX-2.3); otherwise head dims `head_dim` / `audio_head_dim` (default 128 / 64, the released
        models) split the widths. Released-file settings are assumed for what shapes cannot tell
        (split RoPE, float64 grid, AV timestep multiplier 1000); `changes` override any field."""
        shape = _shape_lookup(tensors)
        if shape("patchify_proj.weight") is None and shape("transformer_blocks.0.attn1.to_q.weight") is None:
            raise CheckpointError("This is not an LTX-2-family transformer: keys 'patchify_proj.weight' and "
                                  "'transformer_blocks.0.attn1.to_q.weight' are missing.")
        required = ("patchify_proj.weight", "proj_out.weight", "audio_patchify_proj.weight", "audio_proj_out.weight",
                    "transformer_blocks.0.scale_shift_table", "transformer_blocks.0.attn2.to_k.weight",
                    "transformer_blocks.0.audio_attn2.to_k.weight",
                    "transformer_blocks.0.audio_to_video_attn.to_q.weight")
        missing = [k for k in required if shape(k) is None]
        if missing:
            hint = (" It looks like an LTX-Video 0.9.x (video-only) model: load it with the LTX-Video loader "
                    "(ltx2_core.ltxv.load_ltxv_transformer)."
                    if shape("audio_patchify_proj.weight") is None else "")
            raise CheckpointError(f"Not a complete LTX-2 audio-video transformer: missing {', '.join(missing)}.{hint}")
        dim, in_ch = shape("patchify_proj.weight")
        audio_dim, audio_in = shape("audio_patchify_proj.weight")
        rows = shape("transformer_blocks.0.scale_shift_table")[0]
        if rows not in (6, 9):
            raise CheckpointError(f"Unexpected AdaLN table with {rows} rows (LTX-2 has 6, LTX-2.3 has 9).")
        gate = shape("transformer_blocks.0.attn1.to_gate_logits.weight")
        audio_gate = shape("transformer_blocks.0.audio_attn1.to_gate_logits.weight")
        heads = gate[0] if gate is not None else dim // (head_dim or 128)
        audio_heads = audio_gate[0] if audio_gate is not None else audio_dim // (audio_head_dim or 64)
        if not heads or not audio_heads or dim % heads or audio_dim % audio_heads:
            raise CheckpointError(f"Cannot split widths {dim}/{audio_dim} into heads: pass head_dim explicitly.")
        caption = shape("caption_projection.linear_1.weight")
        layers = key_indices(tensors, "transformer_blocks.")
        fields = dict(
            num_layers=max(layers) + 1, heads=heads, head_dim=dim // heads, in_channels=in_ch,
            out_channels=shape("proj_out.weight")[0],
            cross_attention_dim=shape("transformer_blocks.0.attn2.to_k.weight")[1],
            audio_heads=audio_heads, audio_head_dim=audio_dim // audio_heads, audio_in_channels=audio_in,
            audio_out_channels=shape("audio_proj_out.weight")[0],
            audio_cross_attention_dim=shape("transformer_blocks.0.audio_attn2.to_k.weight")[1],
            caption_channels=None if caption is None else caption[1],
            gated_attention=gate is not None, cross_attention_adaln=rows == 9,
            ff_bias=shape("transformer_blocks.0.ff.net.0.proj.bias") is not None,
            audio_ff_bias=shape("transformer_blocks.0.audio_ff.net.0.proj.bias") is not None,
            keyframe_marker=shape("keyframes_abs_pos_embedding") is not None,
        )
        return cls(**{**fields, **changes})


def _shape_lookup(tensors: Mapping[str, Any]):
    def shape(key: str) -> Optional[tuple]:
        value = tensors.get(key)
        if value is None:
            return None
        return tuple(value) if isinstance(value, (tuple, list)) else logical_shape(value)
    return shape
