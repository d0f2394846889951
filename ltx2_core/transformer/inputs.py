"""What one forward pass of the transformer receives: per-stream inputs and per-item perturbations."""

from dataclasses import dataclass, field
from typing import FrozenSet, Iterable, Optional, Sequence, Tuple, Union

import torch

from ..errors import InputError

# A set of block indices, or ALL_BLOCKS.
Blocks = Optional[FrozenSet[int]]
ALL_BLOCKS: Blocks = None
NO_BLOCKS: Blocks = frozenset()
PERTURBATION_KINDS = ("video_self_attn", "audio_self_attn", "a2v", "v2a")


@dataclass(frozen=True)
class ModalityInput:
    """One stream (video or audio) of a forward pass.

    latent: (B, T, C) patchified tokens, appended conditioning tokens included.
    sigma: (B,) the step's noise level (0 for a frozen stream); drives the prompt AdaLN (LTX-2.3) and,
        depending on `TransformerConfig.cross_modulation`, the other stream's cross-attention AdaLN.
    timesteps: (B, T) per-token sigma (= denoise_mask * sigma; 0 for clean conditioning tokens).
    positions: (B, n_axes, T, 2) [start, end) bounds: video (t seconds, y px, x px), audio (t seconds).
    context: (B, L, D_ctx) text context after the text connectors.
    context_mask: (B, L) bool/0-1 (True = attend) or None.
    attention_mask: (B, T, T) self-attention weights in [0, 1] (1 = full attention) or None.
    keyframes_mask: (B, T) or (B, T, 1), > 0 for tokens whose latent frame encodes a single pixel frame (the
        target's first latent frame, generated keyframe slots); they get the learned keyframe marker (LTX-2.5).
        None = no token marked; ignored by models without the marker.
    enabled: False keeps the stream in the pass without denoising it: its tokens skip self-attention, text
        cross-attention, the FFNs and what the other stream sends them, yet the other stream still attends
        to them; its output is the final projection of its unchanged tokens (as ltx-core's `Modality.enabled`).
    """

    latent: torch.Tensor
    sigma: torch.Tensor
    timesteps: torch.Tensor
    positions: torch.Tensor
    context: torch.Tensor
    context_mask: Optional[torch.Tensor] = None
    attention_mask: Optional[torch.Tensor] = None
    enabled: bool = True
    keyframes_mask: Optional[torch.Tensor] = None

    def validate(self, name: str, n_axes: int) -> None:
        if not isinstance(self.enabled, bool):
            raise InputError(f"{name}.enabled must be True or False, got {self.enabled!r}.")
        if self.latent.ndim != 3:
            raise InputError(f"{name}.latent must be (B, T, C) tokens, got shape {tuple(self.latent.shape)}.")
        batch, tokens = self.latent.shape[:2]
        if self.timesteps.shape[:2] != (batch, tokens) or self.timesteps[0].numel() != tokens:
            raise InputError(f"{name}.timesteps must be (B, T) = {(batch, tokens)}, got {tuple(self.timesteps.shape)}.")
        if self.sigma.numel() not in (1, batch):
            raise InputError(f"{name}.sigma must be (B,) with B={batch}, got {tuple(self.sigma.shape)}.")
        if self.positions.ndim not in (3, 4) or tuple(self.positions.shape[:3]) != (batch, n_axes, tokens):
            raise InputError(f"{name}.positions must be (B, {n_axes}, T, 2) = {(batch, n_axes, tokens, 2)}, "
                             f"got {tuple(self.positions.shape)}.")
        if self.context.ndim != 3 or self.context.shape[0] != batch:
            raise InputError(f"{name}.context must be (B, L, D) with B={batch}, got {tuple(self.context.shape)}.")
        if self.keyframes_mask is not None and (tuple(self.keyframes_mask.shape[:2]) != (batch, tokens)
                                                or self.keyframes_mask[0].numel() != tokens):
            raise InputError(f"{name}.keyframes_mask must be (B, T) = {(batch, tokens)}, "
                             f"got {tuple(self.keyframes_mask.shape)}.")
        if self.context_mask is not None and tuple(self.context_mask.shape) != tuple(self.context.shape[:2]):
            raise InputError(f"{name}.context_mask must be (B, L) = {tuple(self.context.shape[:2])}.")


@dataclass(frozen=True)
class ItemPerturbation:
    """Perturbations of one batch item: the blocks (a frozenset, or ALL_BLOCKS) where video / audio
    self-attention is replaced by its value projection (STG) and where a2v / v2a is switched off."""

    video_self_attn: Blocks = NO_BLOCKS
    audio_self_attn: Blocks = NO_BLOCKS
    a2v: Blocks = NO_BLOCKS
    v2a: Blocks = NO_BLOCKS

    def hits(self, kind: str, block: int) -> bool:
        blocks = getattr(self, kind)
        return blocks is ALL_BLOCKS or block in blocks


def _blocks(value: Union[None, Iterable[int]]) -> Blocks:
    return ALL_BLOCKS if value is None else frozenset(int(b) for b in value)


@dataclass(frozen=True)
class Perturbations:
    """Per batch item perturbations (mirrors ltx-core's BatchedPerturbationConfig)."""

    items: Tuple[ItemPerturbation, ...] = field(default_factory=tuple)

    @classmethod
    def none(cls, batch: int) -> "Perturbations":
        return cls(tuple(ItemPerturbation() for _ in range(batch)))

    @classmethod
    def stg(cls, batch: int, blocks: Optional[Sequence[int]], *, items: Optional[Sequence[int]] = None,
            video: bool = True, audio: bool = True) -> "Perturbations":
        """Skip self-attention in `blocks` (None = all) for the batch `items` (None = all)."""
        chosen = set(range(batch)) if items is None else set(items)
        skip = _blocks(blocks)
        return cls(tuple(
            ItemPerturbation(video_self_attn=skip if i in chosen and video else NO_BLOCKS,
                             audio_self_attn=skip if i in chosen and audio else NO_BLOCKS)
            for i in range(batch)))

    @classmethod
    def isolate_modalities(cls, batch: int, *, items: Optional[Sequence[int]] = None) -> "Perturbations":
        """Switch a2v and v2a off in every block for the batch `items` (None = all)."""
        chosen = set(range(batch)) if items is None else set(items)
        return cls(tuple(ItemPerturbation(a2v=ALL_BLOCKS, v2a=ALL_BLOCKS) if i in chosen else ItemPerturbation()
                         for i in range(batch)))

    def keep(self, kind: str, block: int, like: torch.Tensor) -> Union[None, bool, torch.Tensor]:
        """None: nobody perturbed; False: everybody; else a (B, 1, 1) 0/1 keep mask like `like`."""
        hits = [item.hits(kind, block) for item in self.items]
        if not any(hits):
            return None
        if all(hits):
            return False
        return torch.tensor([0.0 if h else 1.0 for h in hits], device=like.device, dtype=like.dtype).view(-1, 1, 1)
