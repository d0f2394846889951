"""Exact 3-D neighbourhood attention (NATTEN `na3d` semantics) in pure torch, through the one attention function.

Semantics: on a (T, H, W) grid, query i attends to the `kernel` window that is centred on it where possible
and shifted inward at the borders, so it always holds exactly min(kernel, length) positions per axis
(start = clamp(i - k // 2, 0, length - k)). No dilation, not causal.

Implementation: per axis, the queries are cut into blocks of `block` positions (the last block shifted back
to end at the border, so every block has the same size); each block's keys are one contiguous box of
`block + k - 1` positions that contains every window of the block. Blocks are gathered in chunks into a
batch of small dense attentions with a boolean mask (the outer product of the three per-axis window masks),
so the result is exact and memory is bounded by `budget` elements per gathered tensor. Every output position
is read back from the one block that owns it (no overlapping writes: deterministic).
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from ...attention import AttentionFn, sdpa_attention

# Elements of one gathered key/value chunk (B * blocks * box * C); bounds the extra memory of a call.
DEFAULT_BUDGET = 1 << 26


@dataclass(frozen=True)
class AxisPlan:
    """How one axis of length `length` is cut for kernel `kernel`."""

    q_index: torch.Tensor  # (n, block) query positions of each block
    k_index: torch.Tensor  # (n, box) key positions of each block's box
    mask: torch.Tensor  # (n, block, box) True where the key is in the query's window
    owner: torch.Tensor  # (length,) block that outputs each position
    offset: torch.Tensor  # (length,) the position's index inside its owner block

    @property
    def blocks(self) -> int:
        return self.q_index.shape[0]

    @property
    def block(self) -> int:
        return self.q_index.shape[1]

    @property
    def box(self) -> int:
        return self.k_index.shape[1]


def window_starts(length: int, kernel: int, device=None) -> torch.Tensor:
    """(length,) first key position of each query's window (NATTEN border rule)."""
    kernel = min(kernel, length)
    i = torch.arange(length, device=device)
    return (i - kernel // 2).clamp(0, length - kernel)


def axis_plan(length: int, kernel: int, block: Optional[int] = None, device=None) -> AxisPlan:
    kernel = min(kernel, length)
    block = min(length, block or max(1, (kernel + 1) // 2))
    box = min(length, block + kernel - 1)
    blocks = -(-length // block)
    q0 = (torch.arange(blocks, device=device) * block).clamp(max=length - block)  # (n,)
    k0 = (q0 - kernel // 2).clamp(0, length - box)
    q_index = q0[:, None] + torch.arange(block, device=device)  # (n, block)
    k_index = k0[:, None] + torch.arange(box, device=device)  # (n, box)
    start = window_starts(length, kernel, device)[q_index]  # (n, block)
    mask = (k_index[:, None, :] >= start[..., None]) & (k_index[:, None, :] < start[..., None] + kernel)
    pos = torch.arange(length, device=device)
    owner = (pos // block).clamp(max=blocks - 1)
    return AxisPlan(q_index, k_index, mask, owner, pos - q0[owner])


def _gather(x: torch.Tensor, t: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """x (B, T, H, W, C) at index blocks t (nt, a), h (nh, b), w (nw, c) -> (B * nt * nh * nw, a * b * c, C)."""
    g = x[:, t[:, :, None, None, None, None], h[None, None, :, :, None, None], w[None, None, None, None, :, :]]
    batch, nt, a, nh, b, nw, c, ch = g.shape  # (B, nt, a, nh, b, nw, c, C)
    return g.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(batch * nt * nh * nw, a * b * c, ch)


def neighborhood_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, kernel: Tuple[int, int, int], *,
    attention_fn: AttentionFn = sdpa_attention, block: Optional[Tuple[int, int, int]] = None,
    budget: int = DEFAULT_BUDGET,
) -> torch.Tensor:
    """q, k, v (B, T, H, W, heads*D), q not yet scaled -> (B, T, H, W, heads*D), softmax(q k / sqrt(D)) v
    over each query's neighbourhood. `block` overrides the per-axis query block sizes."""
    batch, frames, height, width, channels = q.shape
    dims = (frames, height, width)
    blocks = block or (None, None, None)
    pt, ph, pw = (axis_plan(n, kk, b, q.device) for n, kk, b in zip(dims, kernel, blocks))
    out = q.new_empty(q.shape)
    # Chunk over t-blocks, then h-blocks, so one gathered key box stays within `budget` elements.
    per_h_block = batch * pt.box * ph.box * pw.blocks * pw.box * channels
    h_step = max(1, min(ph.blocks, budget // max(1, per_h_block)))
    t_step = max(1, min(pt.blocks, budget // max(1, per_h_block * ph.blocks))) if h_step == ph.blocks else 1
    mask_hw = ph.mask[:, None, :, None, :, None] & pw.mask[None, :, None, :, None, :]  # (nh, nw, b, c, bh, bw)
    for t0 in range(0, pt.blocks, t_step):
        ts = slice(t0, min(t0 + t_step, pt.blocks))
        for h0 in range(0, ph.blocks, h_step):
            hs = slice(h0, min(h0 + h_step, ph.blocks))
            qi, ki = (pt.q_index[ts], ph.q_index[hs], pw.q_index), (pt.k_index[ts], ph.k_index[hs], pw.k_index)
            qb = _gather(q, *qi)  # (B*n, Nq, C)
            kb, vb = _gather(k, *ki), _gather(v, *ki)  # (B*n, Nk, C)
            mt, mhw = pt.mask[ts], mask_hw[hs]
            # (nt, a, at) x (nh, nw, b, c, bh, bw) -> (nt, nh, nw, a*b*c, at*bh*bw)
            mask = mt[:, None, None, :, None, None, :, None, None] & mhw[None, :, :, None, :, :, None, :, :]
            n_t, n_h, n_w = mask.shape[:3]
            mask = mask.reshape(1, n_t * n_h * n_w, 1, qb.shape[1], kb.shape[1])
            mask = mask.expand(batch, -1, -1, -1, -1).reshape(batch * n_t * n_h * n_w, 1, qb.shape[1], kb.shape[1])
            ob = attention_fn(qb, kb, vb, heads, mask)  # (B*n, Nq, C)
            ob = ob.reshape(batch, n_t, n_h, pw.blocks, pt.block, ph.block, pw.block, channels)
            # Positions owned by these blocks, read from their owner block.
            t_pos, h_pos = _owned(pt, ts), _owned(ph, hs)
            ot, oh, ow = pt.owner[t_pos] - ts.start, ph.owner[h_pos] - hs.start, pw.owner  # local block ids
            ft, fh, fw = pt.offset[t_pos], ph.offset[h_pos], pw.offset
            out[:, t_pos.start:t_pos.stop, h_pos.start:h_pos.stop] = ob[
                :, ot[:, None, None], oh[None, :, None], ow[None, None, :], ft[:, None, None], fh[None, :, None],
                fw[None, None, :]]
    return out


def _owned(plan: AxisPlan, blocks: slice) -> slice:
    """The contiguous positions whose owner block lies in `blocks` (the last block owns up to the end)."""
    stop = plan.owner.shape[0] if blocks.stop == plan.blocks else blocks.stop * plan.block
    return slice(blocks.start * plan.block, stop)
