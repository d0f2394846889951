"""Ulysses attention: the sequence-parallel forms of the one attention function (`AttentionFn`).

Each rank holds an equal slice of the (padded) video tokens. `UlyssesAttention` wraps any attention
function: an all-to-all turns q, k, v from (B, S, H*D) token slices into (B, P*S, H/P*D) head slices over
the whole sequence, the padded tokens are cut off (so the wrapped kernel gets exactly the single-process
call, mask included, with fewer heads), and a second all-to-all brings the output back to token slices.
Heads that do not divide the world size are padded with zero heads (their output is dropped).
`GatheredKeysAttention` serves queries every rank holds in full (audio) against sharded keys (video):
it gathers the keys and values and calls the wrapped function unchanged.
"""

from dataclasses import dataclass
from typing import Optional

import torch

from ..attention import AttentionFn
from .group import Collectives


@dataclass
class ShardLayout:
    """The video token count of the current forward (set by `SequenceParallel` around each call)."""

    tokens: int = 0  # T, before padding

    def padded(self, world: int) -> int:
        return -(-self.tokens // world) * world


class UlyssesAttention:
    """Self-attention over sharded tokens: q, k, v (B, S, H*D) local slices -> (B, S, H*D)."""

    def __init__(self, inner: AttentionFn, comm: Collectives, layout: ShardLayout):
        self.inner, self.comm, self.layout = inner, comm, layout

    def __repr__(self) -> str:
        return f"UlyssesAttention({self.inner!r})"

    def _to_heads(self, x: torch.Tensor, heads: int, head_dim: int, per_rank: int) -> torch.Tensor:
        """(B, S, H*D) token slice -> (B, P*S, H'*D) head slice (H' = per_rank heads of this rank)."""
        world = self.comm.world
        batch, local, _ = x.shape
        x = x.view(batch, local, heads, head_dim)
        missing = per_rank * world - heads
        if missing:
            x = torch.cat([x, x.new_zeros(batch, local, missing, head_dim)], dim=2)  # (B, S, P*H', D)
        chunks = x.view(batch, local, world, per_rank, head_dim).permute(2, 0, 1, 3, 4)  # (P, B, S, H', D)
        got = self.comm.all_to_all(chunks)  # (P, B, S, H', D): chunk i = rank i's tokens
        return got.permute(1, 0, 2, 3, 4).reshape(batch, world * local, per_rank * head_dim)

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                 mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        world = self.comm.world
        batch, local, inner = q.shape
        head_dim = inner // heads
        per_rank = -(-heads // world)
        tokens = self.layout.tokens
        q, k, v = (self._to_heads(t, heads, head_dim, per_rank)[:, :tokens] for t in (q, k, v))  # (B, T, H'*D)
        out = self.inner(q, k, v, per_rank, mask)  # (B, T, H'*D): mask is the full (.., T, T) one
        padded = world * local
        if padded > tokens:
            out = torch.cat([out, out.new_zeros(batch, padded - tokens, out.shape[-1])], dim=1)
        chunks = out.view(batch, world, local, per_rank, head_dim).permute(1, 0, 2, 3, 4)  # (P, B, S, H', D)
        got = self.comm.all_to_all(chunks)  # (P, B, S, H', D): chunk i = rank i's heads of my tokens
        out = got.permute(1, 2, 0, 3, 4).reshape(batch, local, world * per_rank, head_dim)[:, :, :heads]
        return out.reshape(batch, local, inner)  # (B, S, H*D)


class GatheredKeysAttention:
    """Replicated queries (B, Tq, H*D) against sharded keys / values (B, S, H*D): gathers them."""

    def __init__(self, inner: AttentionFn, comm: Collectives, layout: ShardLayout):
        self.inner, self.comm, self.layout = inner, comm, layout

    def __repr__(self) -> str:
        return f"GatheredKeysAttention({self.inner!r})"

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                 mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        tokens = self.layout.tokens
        k, v = (self.comm.all_gather(t, dim=1)[:, :tokens] for t in (k, v))  # (B, T, H*D)
        return self.inner(q, k, v, heads, mask)
