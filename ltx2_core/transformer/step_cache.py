"""First-block step caching for the AV transformer (opt-in, off unless a `StepCache` is passed).

Every model call runs block 0 of both streams. Its output residual (block-0 output - input) is compared
with the residual of the last call that ran all blocks: when the relative L1 change is below `threshold`
for every batch item of both streams, the remaining blocks are not run and their residual from that
last full call is added instead.

Design:
- One joint decision per call for video and audio: every block exchanges information between the
  streams (a2v / v2a), so one stream cannot run the remaining blocks without the other. Each stream keeps
  its own residuals and its own measured change; the call is skipped only when both are below threshold.
- One slot per kind of call (`StepCache.slot(key)`; the denoise loop keys them by the guidance passes in
  the call and their enabled flags), so cond / uncond / perturbed (STG) / isolated passes never reuse each
  other's residuals. In a batched call the passes are rows of the batch: each row is tested on its own
  (the call is skipped only when every row, i.e. every pass and clip, is under the threshold).
- The comparison is against the last fully computed call, not the previous call, so skipped calls cannot
  drift unnoticed. threshold 0 never skips (the test is strict), so results equal an uncached run bit for
  bit. `reset()` drops every slot: the denoise loop calls it when a stage starts.
"""

import math
from dataclasses import dataclass
from typing import Callable, Dict, Hashable, Optional, Tuple

import torch

from ..errors import InputError

Streams = Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]  # (video (B, T_v, D_v), audio (B, T_a, D_a))
RunBlocks = Callable[[Optional[torch.Tensor], Optional[torch.Tensor], int, int], Streams]


def _minus(a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    return None if a is None else a - b


def _plus(a: Optional[torch.Tensor], b: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    return None if a is None else a + b


def relative_change(new: Optional[torch.Tensor], old: Optional[torch.Tensor]) -> float:
    """max over batch items of mean|new - old| / mean|old| (0 for an absent or empty stream, inf when the
    shapes differ or `old` is zero while `new` is not)."""
    if new is None and old is None:
        return 0.0
    if new is None or old is None or new.shape != old.shape:
        return math.inf
    if new.numel() == 0:
        return 0.0
    dims = tuple(range(1, new.ndim))
    num = (new - old).abs().float().mean(dim=dims)  # (B,)
    den = old.abs().float().mean(dim=dims)  # (B,)
    ratio = torch.where(den > 0, num / den.clamp(min=torch.finfo(torch.float32).tiny),
                        torch.where(num > 0, torch.full_like(num, math.inf), torch.zeros_like(num)))
    return float(ratio.max())


class CacheSlot:
    """The residuals of one kind of model call (see the module docstring)."""

    def __init__(self, owner: "StepCache") -> None:
        self.owner = owner
        self.first: Optional[Streams] = None  # block-0 residuals of the last full call
        self.rest: Optional[Streams] = None  # residuals of blocks 1.. of the last full call
        self.last_change = math.inf

    def run(self, run_blocks: RunBlocks, vx: Optional[torch.Tensor], ax: Optional[torch.Tensor],
            depth: int) -> Streams:
        """Hidden states after all `depth` blocks; run_blocks(vx, ax, start, stop) runs blocks start..stop-1."""
        self.owner.calls += 1
        if depth < 2:
            return run_blocks(vx, ax, 0, depth)
        v1, a1 = run_blocks(vx, ax, 0, 1)
        first = (_minus(v1, vx), _minus(a1, ax))
        if self.first is not None:
            self.last_change = max(relative_change(first[0], self.first[0]), relative_change(first[1], self.first[1]))
            if self.last_change < self.owner.threshold:
                self.owner.skipped += 1
                return _plus(v1, self.rest[0]), _plus(a1, self.rest[1])
        vn, an = run_blocks(v1, a1, 1, depth)
        self.first, self.rest = first, (_minus(vn, v1), _minus(an, a1))
        return vn, an


@dataclass
class StepCache:
    """Opt-in step cache: `generate(..., step_cache=StepCache(threshold=0.05))`.

    threshold: relative L1 change of the block-0 residual under which a call reuses the remaining blocks'
    residual (0 = never; typical 0.02-0.1, unmeasured on real weights here). `calls` / `skipped` count
    model calls since construction (they survive `reset`)."""

    threshold: float = 0.05

    def __post_init__(self) -> None:
        if not isinstance(self.threshold, (int, float)) or not math.isfinite(self.threshold) or self.threshold < 0:
            raise InputError(f"Step cache threshold must be a finite number >= 0 (0 = off), got {self.threshold!r}.")
        self.slots: Dict[Hashable, CacheSlot] = {}
        self.calls = 0
        self.skipped = 0

    def slot(self, key: Hashable) -> CacheSlot:
        if key not in self.slots:
            self.slots[key] = CacheSlot(self)
        return self.slots[key]

    def reset(self) -> None:
        """Forget every cached residual (a new generation or stage starts)."""
        self.slots.clear()
