"""`LTXVSequenceParallel`: the LTX-Video 0.9.x transformer with its tokens split over the ranks of a group, the
video-only counterpart of `sequence.SequenceParallel` (same Ulysses attention, same padding rule).

Per call: latent (B, N, C) is padded with zero tokens to a multiple of the world size, positions (B, 3, N) and
per-token timesteps (B, N) repeat the last token; each rank keeps its slice. Only the self-attention of every
block talks to the other ranks (`UlyssesAttention`: all-to-all over heads, padded tokens cut before the kernel);
the text cross-attention reads local queries against the replicated prompt, and STG's per-item keep values act
per token. The velocity slices are gathered and unpadded, so every rank returns the whole (B, N, C_out).
"""

from typing import Optional

import torch
from torch import nn

from .group import Collectives
from .sequence import _pad_tokens
from .ulysses import ShardLayout, UlyssesAttention


class LTXVSequenceParallel(nn.Module):
    """Callable like `LTXVTransformer`; every rank must make the same calls with the same inputs."""

    def __init__(self, model: nn.Module, comm: Optional[Collectives] = None) -> None:
        super().__init__()
        self.model = model
        self.comm = comm or Collectives()
        self.layout = ShardLayout()
        for block in model.transformer_blocks:
            block.attn1.attention_fn = UlyssesAttention(block.attn1.attention_fn, self.comm, self.layout)

    @property
    def config(self):
        return self.model.config

    def skip_mask(self, *args, **kwargs) -> torch.Tensor:
        """The model's STG keep mask (`LTXVTransformer.skip_mask`)."""
        return self.model.skip_mask(*args, **kwargs)

    def forward(self, latent: torch.Tensor, positions: torch.Tensor, context: torch.Tensor, timestep: torch.Tensor,
                context_mask: Optional[torch.Tensor] = None, skip_layer_mask: Optional[torch.Tensor] = None,
                stg_mode: str = "attention_values") -> torch.Tensor:
        """Same arguments and result as `LTXVTransformer.forward` (velocity (B, N, C_out))."""
        comm = self.comm
        batch, tokens = latent.shape[:2]
        self.layout.tokens = tokens
        padded = self.layout.padded(comm.world)
        local = padded // comm.world
        start = comm.rank * local
        latent = _pad_tokens(latent, 1, padded, zeros=True).narrow(1, start, local)  # (B, S, C)
        positions = _pad_tokens(positions, 2, padded, zeros=False).narrow(2, start, local)  # (B, 3, S)
        if timestep.ndim == 2 and timestep.shape[1] == tokens > 1:  # per-token timesteps (B, N)
            timestep = _pad_tokens(timestep, 1, padded, zeros=False).narrow(1, start, local)
        out = self.model(latent, positions, context, timestep, context_mask, skip_layer_mask=skip_layer_mask,
                         stg_mode=stg_mode)  # (B, S, C_out)
        return comm.all_gather(out, dim=1)[:, :tokens]
