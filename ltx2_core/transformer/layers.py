"""Building blocks shared by the LTX-2 transformer and its text connectors.

- `Attention`: multi-head attention with learnable RMSNorm on Q and K over the full inner width,
  optional RoPE on Q and K (separate tables allowed), optional per-head output gate
  (`2 * sigmoid(to_gate_logits(x))`, LTX-2.3) and the STG value pass-through.
- `FeedForward`: Linear -> GELU(tanh) -> Linear.
- `AdaLayerNormSingle`: sinusoidal timestep -> MLP -> `rows` modulation vectors (PixArt adaLN-single).
- `TextProjection`: the LTX-2 caption projection (Linear -> GELU(tanh) -> Linear).
Every Linear comes from `operations`; attention goes through `attention_fn` only.
"""

import math
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..attention import AttentionFn, sdpa_attention
from ..ops import cast_like
from .rope import Rope, apply_rope


def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Weightless RMSNorm over the last dim."""
    return F.rms_norm(x, (x.shape[-1],), eps=eps)


class RMSNorm(nn.Module):
    """RMSNorm with a learnable weight (key `weight`)."""

    def __init__(self, dim: int, eps: float = 1e-6, *, device=None, dtype=None) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(dim, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), weight=cast_like(self.weight, x), eps=self.eps)


class Attention(nn.Module):
    """Multi-head attention: `heads` x `head_dim` inner width, query from `query_dim`, keys/values
    from `context_dim` (defaults to `query_dim`: self-attention).

    Keys: to_q, to_k, to_v, q_norm, k_norm, to_out.0 and (gated) to_gate_logits.
    """

    def __init__(
        self, query_dim: int, context_dim: Optional[int] = None, *, heads: int, head_dim: int, gated: bool = False,
        norm_eps: float = 1e-6, operations=nn, attention_fn: AttentionFn = sdpa_attention, device=None, dtype=None,
    ) -> None:
        super().__init__()
        inner = heads * head_dim
        context_dim = query_dim if context_dim is None else context_dim
        self.heads, self.head_dim = heads, head_dim
        self.attention_fn = attention_fn
        self.to_q = operations.Linear(query_dim, inner, bias=True, device=device, dtype=dtype)
        self.to_k = operations.Linear(context_dim, inner, bias=True, device=device, dtype=dtype)
        self.to_v = operations.Linear(context_dim, inner, bias=True, device=device, dtype=dtype)
        self.q_norm = RMSNorm(inner, norm_eps, device=device, dtype=dtype)
        self.k_norm = RMSNorm(inner, norm_eps, device=device, dtype=dtype)
        self.to_gate_logits = (operations.Linear(query_dim, heads, bias=True, device=device, dtype=dtype)
                               if gated else None)
        self.to_out = nn.ModuleList([operations.Linear(inner, query_dim, bias=True, device=device, dtype=dtype)])

    def forward(
        self, x: torch.Tensor, context: Optional[torch.Tensor] = None, *, rope: Optional[Rope] = None,
        k_rope: Optional[Rope] = None, mask: Optional[torch.Tensor] = None,
        keep: Union[None, bool, torch.Tensor] = None,
    ) -> torch.Tensor:
        """x (B, Tq, query_dim), context (B, Tk, context_dim) -> (B, Tq, query_dim).

        `rope` rotates Q (and K unless `k_rope` is given). `keep` implements STG: False replaces the
        attention by the value projection for the whole batch; a (B, 1, 1) 0/1 tensor blends per
        item (`attn * keep + v * (1 - keep)`); None or True is plain attention.
        """
        context = x if context is None else context
        v = self.to_v(context)  # (B, Tk, H*D)
        if keep is False:
            out = v
        else:
            q = self.q_norm(self.to_q(x))  # (B, Tq, H*D)
            k = self.k_norm(self.to_k(context))  # (B, Tk, H*D)
            if rope is not None:
                q = apply_rope(q, rope)
                k = apply_rope(k, rope if k_rope is None else k_rope)
            out = self.attention_fn(q, k, v, self.heads, mask)  # (B, Tq, H*D)
            if isinstance(keep, torch.Tensor):
                out = out * keep + v * (1 - keep)
        if self.to_gate_logits is not None:
            batch, tokens, inner = out.shape
            gates = 2.0 * torch.sigmoid(self.to_gate_logits(x))  # (B, Tq, H)
            # (B, Tq, H, D) * (B, Tq, H, 1) -> (B, Tq, H*D)
            out = (out.view(batch, tokens, self.heads, self.head_dim) * gates.unsqueeze(-1)).view(batch, tokens, inner)
        return self.to_out[0](out)


class _GeluProjection(nn.Module):
    def __init__(self, dim_in: int, dim_out: int, bias: bool, operations, device, dtype) -> None:
        super().__init__()
        self.proj = operations.Linear(dim_in, dim_out, bias=bias, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    """dim -> mult*dim -> dim with GELU(tanh). Keys: net.0.proj, net.2."""

    def __init__(self, dim: int, mult: int = 4, *, bias: bool = True, operations=nn, device=None, dtype=None) -> None:
        super().__init__()
        self.net = nn.ModuleList([
            _GeluProjection(dim, dim * mult, bias, operations, device, dtype),
            nn.Identity(),
            operations.Linear(dim * mult, dim, bias=bias, device=device, dtype=dtype),
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](self.net[0](x))


def timestep_sinusoid(timesteps: torch.Tensor, channels: int = 256, max_period: float = 10000.0) -> torch.Tensor:
    """(N,) timesteps -> (N, channels) float32 features [cos | sin] (computed in float32 always)."""
    half = channels // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    angles = timesteps[:, None].float() * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TimestepEmbedding(nn.Module):
    """256 sinusoid features -> Linear -> SiLU -> Linear. Keys: linear_1, linear_2."""

    def __init__(self, dim: int, channels: int = 256, *, operations=nn, device=None, dtype=None) -> None:
        super().__init__()
        self.linear_1 = operations.Linear(channels, dim, bias=True, device=device, dtype=dtype)
        self.linear_2 = operations.Linear(dim, dim, bias=True, device=device, dtype=dtype)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(features)))


class _EmbeddingHolder(nn.Module):
    """Only gives the official key path `emb.timestep_embedder.*`."""

    def __init__(self, dim: int, operations, device, dtype) -> None:
        super().__init__()
        self.timestep_embedder = TimestepEmbedding(dim, operations=operations, device=device, dtype=dtype)


class AdaLayerNormSingle(nn.Module):
    """Timestep -> (modulation (N, rows*dim), embedded timestep (N, dim)).

    Keys: emb.timestep_embedder.linear_{1,2}, linear. Timesteps are already scaled (e.g. 1000*sigma).
    """

    def __init__(self, dim: int, rows: int, *, operations=nn, device=None, dtype=None) -> None:
        super().__init__()
        self.rows = rows
        self.emb = _EmbeddingHolder(dim, operations, device, dtype)
        self.linear = operations.Linear(dim, rows * dim, bias=True, device=device, dtype=dtype)

    def forward(self, timesteps: torch.Tensor, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
        embedded = self.emb.timestep_embedder(timestep_sinusoid(timesteps).to(dtype))
        return self.linear(F.silu(embedded)), embedded


class TextProjection(nn.Module):
    """LTX-2 caption projection: Linear(in -> dim) -> GELU(tanh) -> Linear(dim -> dim)."""

    def __init__(self, in_features: int, dim: int, *, operations=nn, device=None, dtype=None) -> None:
        super().__init__()
        self.linear_1 = operations.Linear(in_features, dim, bias=True, device=device, dtype=dtype)
        self.linear_2 = operations.Linear(dim, dim, bias=True, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.gelu(self.linear_1(x), approximate="tanh"))
