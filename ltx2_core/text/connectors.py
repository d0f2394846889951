"""Embeddings connectors: the 1-D transformers between the text features and the diffusion transformer.

Per stream (video, audio): real tokens are moved to the front (in order), every remaining position p
is filled with learnable register `p mod num_registers`, and all positions then attend to each other
(no mask). Blocks are `h += attn(rms(h))`, `h += ff(rms(h))` with weightless RMSNorms, attention with
q/k RMSNorm over the full width, 1-D RoPE on positions 0..T-1 (max_pos 4096) and, for LTX-2.3, a
per-head output gate. A final weightless RMSNorm closes the stack.

Checkpoint prefix: `model.diffusion_model.{video,audio}_embeddings_connector.`
"""

from dataclasses import dataclass, replace
from typing import Mapping, Optional, Tuple

import torch
import torch.nn as nn

from ..attention import sdpa_attention
from ..checkpoint import cast_floats, load_strict, logical_shape
from ..configs import key_indices, metadata_section, non_positive
from ..errors import CheckpointError, InputError
from ..ops import cast_like
from ..transformer.layers import Attention, FeedForward, rms_norm
from ..transformer.rope import rope_from_positions

EPS = 1e-6
CONNECTOR_PREFIXES = {
    "video": "model.diffusion_model.video_embeddings_connector.",
    "audio": "model.diffusion_model.audio_embeddings_connector.",
}


@dataclass(frozen=True)
class ConnectorConfig:
    """Sizes and RoPE settings of one embeddings connector (video or audio)."""

    heads: int = 30
    head_dim: int = 128
    num_layers: int = 2
    num_registers: int = 128
    gated: bool = False
    rope_type: str = "split"
    rope_theta: float = 10000.0
    max_pos: Tuple[float, ...] = (4096.0,)
    double_precision_rope: bool = True

    def __post_init__(self):
        if non_positive(self, ("heads", "head_dim", "num_layers", "num_registers")):
            raise CheckpointError(f"Invalid embeddings-connector configuration: {self}.")
        if self.rope_type not in ("split", "interleaved"):
            raise CheckpointError(f"Unknown connector rope_type {self.rope_type!r} (expected split or interleaved).")

    @property
    def width(self) -> int:
        return self.heads * self.head_dim

    @classmethod
    def from_metadata(cls, config: Mapping, stream: str = "video") -> "ConnectorConfig":
        """From an LTX checkpoint's metadata `config` (`transformer` section); audio falls back to video values.

        Missing keys take ltx-core's defaults (interleaved RoPE, float32 grid, max_pos [1]); the released
        checkpoints state split / float64 / [4096] explicitly. Without metadata use `from_state_dict`, whose
        defaults are the released values."""
        t = metadata_section(config, "transformer")

        def pick(name, default):
            if stream == "audio" and f"audio_connector_{name}" in t:
                return t[f"audio_connector_{name}"]
            return t.get(f"connector_{name}", default)

        return cls(
            heads=int(pick("num_attention_heads", 30)),
            head_dim=int(pick("attention_head_dim", 128)),
            num_layers=int(pick("num_layers", 2)),
            num_registers=int(pick("num_learnable_registers", 128)),
            gated=bool(t.get("connector_apply_gated_attention", False)),
            rope_type=str(t.get("rope_type", "interleaved")),
            max_pos=tuple(float(p) for p in t.get("connector_positional_embedding_max_pos", [1])),
            double_precision_rope=t.get("frequencies_precision") == "float64",
        )

    @classmethod
    def from_state_dict(cls, state_dict: Mapping, *, head_dim: int = 128, **overrides) -> "ConnectorConfig":
        """Sizes from key shapes (connector keys without prefix). Ungated connectors do not reveal their head
        count: `head_dim` (128 for every official checkpoint) decides it."""
        try:
            registers, width = logical_shape(state_dict["learnable_registers"])
        except KeyError:
            raise CheckpointError(
                "The connector weights have no 'learnable_registers'. Use an LTX-2 / LTX-2.3 checkpoint."
            ) from None
        blocks = key_indices(state_dict, "transformer_1d_blocks.")
        gate = state_dict.get("transformer_1d_blocks.0.attn1.to_gate_logits.weight")
        heads = int(logical_shape(gate)[0]) if gate is not None else int(width) // head_dim
        if not blocks:
            raise CheckpointError("The connector weights have no 'transformer_1d_blocks.*'. Use an LTX-2 / LTX-2.3 "
                                  "checkpoint.")
        if heads <= 0 or width % heads:
            raise CheckpointError(
                f"Cannot split the connector width {width} into heads of {head_dim} channels: the file does not "
                "state its head count. Load it with its `config` metadata (connector_num_attention_heads) or pass "
                "head_dim."
            )
        values = dict(heads=heads, head_dim=int(width) // heads, num_layers=max(blocks) + 1,
                      num_registers=int(registers), gated=gate is not None)
        values.update(overrides)
        return cls(**values)


class ConnectorBlock(nn.Module):
    """Pre-norm self-attention + feed-forward block (keys `attn1.*`, `ff.net.*`)."""

    def __init__(self, config: ConnectorConfig, *, operations, attention_fn, device, dtype):
        super().__init__()
        self.attn1 = Attention(
            config.width, heads=config.heads, head_dim=config.head_dim, gated=config.gated, norm_eps=EPS,
            operations=operations, attention_fn=attention_fn, device=device, dtype=dtype,
        )
        self.ff = FeedForward(config.width, operations=operations, device=device, dtype=dtype)

    def forward(self, h: torch.Tensor, rope) -> torch.Tensor:
        h = h + self.attn1(rms_norm(h, EPS), rope=rope)
        return h + self.ff(rms_norm(h, EPS))


class EmbeddingsConnector(nn.Module):
    """features (B, T, W) + mask (B, T) -> context (B, T, W) where every position is valid."""

    def __init__(self, config: ConnectorConfig, *, operations=nn, attention_fn=sdpa_attention, device=None, dtype=None):
        super().__init__()
        self.config = config
        self.transformer_1d_blocks = nn.ModuleList(
            ConnectorBlock(config, operations=operations, attention_fn=attention_fn, device=device, dtype=dtype)
            for _ in range(config.num_layers)
        )
        self.learnable_registers = nn.Parameter(
            torch.empty(config.num_registers, config.width, device=device, dtype=dtype)
        )

    def with_registers(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Real tokens first (stable order), register `p mod R` at every other position p."""
        batch, tokens, width = x.shape
        count = self.config.num_registers
        if tokens % count:
            raise InputError(f"The connector needs a sequence length divisible by {count} (got {tokens}); "
                             "tokenize to the model length (1024).")
        if mask is None:
            return x
        keep = mask.bool()  # (B, T)
        order = torch.sort((~keep).to(torch.uint8), dim=1, stable=True).indices  # real tokens first
        moved = torch.gather(x, 1, order[:, :, None].expand(batch, tokens, width))  # (B, T, W)
        registers = cast_like(self.learnable_registers, x).repeat(tokens // count, 1)  # (T, W)
        filled = torch.arange(tokens, device=x.device)[None, :] < keep.sum(dim=1, keepdim=True)  # (B, T)
        return torch.where(filled[:, :, None], moved, registers[None])

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.with_registers(x, mask)
        cfg = self.config
        positions = torch.arange(h.shape[1], dtype=torch.float32, device=h.device)[None, None, :]  # (1, 1, T)
        rope = rope_from_positions(positions, max_pos=cfg.max_pos, width=cfg.width, heads=cfg.heads,
                                   rope_type=cfg.rope_type, theta=cfg.rope_theta,
                                   double_precision=cfg.double_precision_rope, dtype=h.dtype, midpoint=False)
        for block in self.transformer_1d_blocks:
            h = block(h, rope)
        return rms_norm(h, EPS)


def connector_state_dict(checkpoint: Mapping[str, torch.Tensor], stream: str) -> dict:
    """The `{stream}_embeddings_connector` tensors of an LTX checkpoint, prefix removed (bare keys pass through)."""
    prefix = CONNECTOR_PREFIXES[stream]
    found = {k[len(prefix):]: v for k, v in checkpoint.items() if k.startswith(prefix)}
    if not found:
        short = prefix[len("model.diffusion_model."):]
        found = {k[len(short):]: v for k, v in checkpoint.items() if k.startswith(short)}
    return found


def build_connector(checkpoint: Mapping[str, torch.Tensor], stream: str, *, metadata: Optional[Mapping] = None,
                    operations=nn, attention_fn=sdpa_attention, device=None, dtype=None) -> EmbeddingsConnector:
    """A loaded video or audio connector from an LTX checkpoint's tensors. Plain float weights are cast to
    `dtype` (None keeps the checkpoint's) and moved to `device` (None: where they are)."""
    weights = connector_state_dict(checkpoint, stream)
    if not weights:
        raise CheckpointError(f"The checkpoint has no {stream} embeddings connector ({CONNECTOR_PREFIXES[stream]}*). "
                              "Use a full LTX-2 / LTX-2.3 checkpoint (or its text-connector file).")
    config = connector_config(weights, stream, metadata)
    module = EmbeddingsConnector(config, operations=operations, attention_fn=attention_fn, device="meta", dtype=dtype)
    load_strict(module, cast_floats(weights, dtype), f"LTX {stream} embeddings connector")
    return module.to(device) if device is not None else module


def connector_config(weights: Mapping[str, torch.Tensor], stream: str, metadata: Optional[Mapping]) -> ConnectorConfig:
    """The config of one connector (prefix-free `weights`): the metadata's heads and RoPE settings when given
    (its register count when it states one, else the shapes'), else everything from the shapes."""
    if not metadata:
        return ConnectorConfig.from_state_dict(weights)
    config = ConnectorConfig.from_metadata(metadata, stream)
    if "learnable_registers" not in weights:
        raise CheckpointError(f"The {stream} connector weights have no 'learnable_registers'. Use an LTX-2 / "
                              "LTX-2.3 checkpoint.")
    section = metadata_section(metadata, "transformer")
    stated = any(k in section for k in ("connector_num_learnable_registers", "audio_connector_num_learnable_registers"))
    if not stated:
        config = replace(config, num_registers=int(logical_shape(weights["learnable_registers"])[0]))
    return config
