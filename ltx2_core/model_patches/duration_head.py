"""`DurationHead` (LTX-2.5): the natural length of a shot, in seconds, from the text-connector outputs.

head(video_context (B, L_v, 4096) | None, audio_context (B, L_a, 2048) | None) -> seconds (B,)

Each stream is projected to the pooler width and tagged with a learned modality vector; the tokens of both
streams are concatenated; learned query tokens cross-attend to them (multi-head attention, no mask: the
connectors already replaced padding with registers); a GELU(tanh) MLP gives log-seconds, exponentiated.
Keys equal the official file (`duration_head.` prefix, stripped on load), in PyTorch's MultiheadAttention
layout (`attention_pooler.cross_attn.in_proj_weight` = q, k, v stacked).
"""

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import load_strict
from ..checkpoint_source import open_checkpoint
from ..errors import CheckpointError, InputError

PREFIX = "duration_head."


@dataclass(frozen=True)
class DurationHeadConfig:
    video_dim: int = 4096
    audio_dim: int = 2048
    hidden: int = 256  # pooler width
    queries: int = 1
    heads: int = 4
    mlp_hidden: int = 256

    def __post_init__(self) -> None:
        if min(self.video_dim, self.audio_dim, self.hidden, self.queries, self.heads, self.mlp_hidden) < 1 \
                or self.hidden % self.heads:
            raise CheckpointError(f"Invalid duration-head config {self}: sizes must be positive and the pooler "
                                  "width divisible by the heads.")

    @classmethod
    def from_metadata(cls, config: Optional[Mapping[str, Any]], **changes: Any) -> "DurationHeadConfig":
        """From the official `config` metadata (`duration_head` and `transformer` sections; defaults as the
        official configurator)."""
        config = config if isinstance(config, Mapping) else {}
        transformer = config.get("transformer") or {}
        head = config.get("duration_head") or {}
        fields = dict(video_dim=transformer.get("cross_attention_dim", 4096),
                      audio_dim=transformer.get("audio_cross_attention_dim", 2048),
                      hidden=head.get("pooler_hidden_dim", 256), queries=head.get("num_queries", 1),
                      heads=head.get("num_pooler_heads", 4), mlp_hidden=head.get("mlp_hidden", 256))
        return cls(**{**fields, **changes})

    @classmethod
    def from_shapes(cls, shapes: Mapping[str, tuple], heads: int = 4) -> "DurationHeadConfig":
        """Sizes read off the key shapes; the head count (not visible in shapes) is `heads`."""
        hidden, video = shapes["video_input_proj.weight"]
        return cls(video_dim=video, audio_dim=shapes["audio_input_proj.weight"][1], hidden=hidden,
                   queries=shapes["attention_pooler.query_tokens"][0], heads=heads,
                   mlp_hidden=shapes["mlp_hidden.weight"][0])

    def to_metadata(self) -> dict:
        return {"transformer": {"cross_attention_dim": self.video_dim, "audio_cross_attention_dim": self.audio_dim},
                "duration_head": {"pooler_hidden_dim": self.hidden, "num_queries": self.queries,
                                  "num_pooler_heads": self.heads, "mlp_hidden": self.mlp_hidden}}


class _CrossAttention(nn.Module):
    """nn.MultiheadAttention's parameters (in_proj_weight (3D, D), in_proj_bias, out_proj), batch first."""

    def __init__(self, dim: int, heads: int, device=None, dtype=None) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim, device=device, dtype=dtype))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim, device=device, dtype=dtype))
        self.out_proj = nn.Linear(dim, dim, device=device, dtype=dtype)

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)

        def heads(x):  # (B, L, D) -> (B, H, L, D/H)
            return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

        q = heads(F.linear(queries, w_q, b_q))
        k, v = heads(F.linear(tokens, w_k, b_k)), heads(F.linear(tokens, w_v, b_v))
        out = F.scaled_dot_product_attention(q, k, v)  # (B, H, Q, D/H)
        return self.out_proj(out.transpose(1, 2).flatten(2))


class _AttentionPooler(nn.Module):
    def __init__(self, config: DurationHeadConfig, device=None, dtype=None) -> None:
        super().__init__()
        self.query_tokens = nn.Parameter(torch.empty(config.queries, config.hidden, device=device, dtype=dtype))
        self.cross_attn = _CrossAttention(config.hidden, config.heads, device=device, dtype=dtype)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        queries = self.query_tokens.unsqueeze(0).expand(tokens.shape[0], -1, -1)  # (B, Q, D)
        return self.cross_attn(queries, tokens)


class DurationHead(nn.Module):
    def __init__(self, config: DurationHeadConfig = DurationHeadConfig(), *, device=None, dtype=None) -> None:
        super().__init__()
        self.config = c = config
        kw = dict(device=device, dtype=dtype)
        self.video_input_proj = nn.Linear(c.video_dim, c.hidden, **kw)
        self.video_modality_emb = nn.Parameter(torch.empty(c.hidden, **kw))
        self.audio_input_proj = nn.Linear(c.audio_dim, c.hidden, **kw)
        self.audio_modality_emb = nn.Parameter(torch.empty(c.hidden, **kw))
        self.attention_pooler = _AttentionPooler(c, **kw)
        self.mlp_hidden = nn.Linear(c.hidden * c.queries, c.mlp_hidden, **kw)
        self.mlp_out = nn.Linear(c.mlp_hidden, 1, **kw)

    def forward(self, video: Optional[torch.Tensor] = None, audio: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Seconds (B,) from the video and/or audio connector outputs (cast to the head's dtype)."""
        if video is None and audio is None:
            raise InputError("The duration head needs the video and/or the audio text context.")
        dtype = self.mlp_out.weight.dtype
        groups = []
        for x, name, width in ((video, "video", self.config.video_dim), (audio, "audio", self.config.audio_dim)):
            if x is None:
                continue
            if x.ndim != 3 or x.shape[-1] != width:
                raise InputError(f"Duration head: the {name} context must be (B, L, {width}), got {tuple(x.shape)}: "
                                 "the head belongs to another model.")
            groups.append(getattr(self, name + "_input_proj")(x.to(dtype)) + getattr(self, name + "_modality_emb"))
        pooled = self.attention_pooler(torch.cat(groups, dim=1)).flatten(1)  # (B, Q*D)
        log_seconds = self.mlp_out(F.gelu(self.mlp_hidden(pooled), approximate="tanh")).squeeze(-1)
        return log_seconds.exp()


Source = Union[str, os.PathLike, Mapping[str, torch.Tensor]]


def load_duration_head(source: Source, *, dtype: Optional[torch.dtype] = None, device="cpu",
                       config: Optional[DurationHeadConfig] = None) -> DurationHead:
    """The head from its official file (`duration_head.*` keys; also found inside a combined file) or a
    state dict; the config from `config`, else the file's `config` metadata, else the key shapes."""
    metadata = None
    if isinstance(source, Mapping):
        tensors, name = dict(source), "state dict"
    else:
        checkpoint = open_checkpoint(os.fspath(source), what="duration head")
        name = checkpoint.name
        keys = [k for k in checkpoint.keys() if k.startswith(PREFIX)]
        if not keys:
            raise CheckpointError(f"{name} holds no duration head (no '{PREFIX}*' keys): pick "
                                  "ltx-2.5-duration-head-bf16.safetensors (model_patches folder).")
        tensors, metadata = checkpoint.load(keys), checkpoint.metadata
    state = {k[len(PREFIX):] if k.startswith(PREFIX) else k: v for k, v in tensors.items()}
    if config is None:
        raw = (metadata or {}).get("config")
        stated = json.loads(raw) if raw else None
        if stated and "duration_head" in stated:
            config = DurationHeadConfig.from_metadata(stated)
        else:
            missing = [k for k in ("video_input_proj.weight", "audio_input_proj.weight", "mlp_hidden.weight",
                                   "attention_pooler.query_tokens") if k not in state]
            if missing:
                raise CheckpointError(f"{name} is not a complete duration head: missing {', '.join(missing)}.")
            heads = DurationHeadConfig.from_metadata(stated).heads
            config = DurationHeadConfig.from_shapes({k: tuple(v.shape) for k, v in state.items()}, heads=heads)
    model = DurationHead(config, device="meta", dtype=dtype)
    if dtype is not None or str(device) != "cpu":
        state = {k: v.to(device=device, dtype=dtype if dtype is not None and v.is_floating_point() else v.dtype)
                 for k, v in state.items()}
    load_strict(model, state, "LTX-2.5 duration head")
    return model.eval()
