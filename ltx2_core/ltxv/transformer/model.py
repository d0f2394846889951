"""The LTX-Video 0.9.x diffusion transformer (official `Transformer3DModel`, 2B and 13B).

Inputs: latent tokens (B, N, C_in) in frame/row/column order, their positions (B, 3, N) (see
`positions.video_positions`), T5 states (B, L, caption_channels) with a keep-mask (B, L), and the
flow time in [0, 1] as (B,), (B, 1) or per token (B, N) (0.9.5+ conditioning gives conditioning
tokens their own time). Output: the flow velocity (B, N, C_out). Keys are the official names.
"""

from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from ...attention import AttentionFn, sdpa_attention
from ...errors import InputError
from ...transformer.layers import AdaLayerNormSingle, TextProjection
from ...transformer.rope import rope_from_positions
from .block import STG_MODES, LTXVBlock
from .config import LTXVTransformerConfig


class LTXVTransformer(nn.Module):
    """Keys: patchify_proj, adaln_single.{emb.timestep_embedder.linear_{1,2},linear}, caption_projection.linear_{1,2},
    transformer_blocks.N.*, scale_shift_table (2, D), proj_out."""

    def __init__(self, config: LTXVTransformerConfig, *, operations=nn, attention_fn: AttentionFn = sdpa_attention,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.config = config
        dim = config.dim
        self.patchify_proj = operations.Linear(config.in_channels, dim, bias=True, device=device, dtype=dtype)
        self.adaln_single = AdaLayerNormSingle(dim, 6, operations=operations, device=device, dtype=dtype)
        self.caption_projection = TextProjection(config.caption_channels, dim, operations=operations,
                                                 device=device, dtype=dtype)
        self.transformer_blocks = nn.ModuleList([
            LTXVBlock(dim, config.heads, config.head_dim, norm_eps=config.norm_eps, qk_norm_eps=config.qk_norm_eps,
                      operations=operations, attention_fn=attention_fn, device=device, dtype=dtype)
            for _ in range(config.num_layers)
        ])
        self.scale_shift_table = nn.Parameter(torch.empty(2, dim, device=device, dtype=dtype))
        self.proj_out = operations.Linear(dim, config.out_channels, bias=True, device=device, dtype=dtype)

    def skip_mask(self, batch: int, skip_blocks: Sequence[int], items: Sequence[int]) -> torch.Tensor:
        """A (num_layers, batch) keep mask: 0 for `items` in `skip_blocks` (official `create_skip_layer_mask`)."""
        mask = torch.ones(self.config.num_layers, batch)
        for block in skip_blocks:
            if not 0 <= block < self.config.num_layers:
                raise InputError(f"STG block {block} does not exist: this {self.config.size_name} LTX-Video model has "
                                 f"blocks 0..{self.config.num_layers - 1}. Pick skip blocks in that range.")
            for item in items:
                mask[block, item] = 0.0
        return mask

    def forward(
        self, latent: torch.Tensor, positions: torch.Tensor, context: torch.Tensor, timestep: torch.Tensor,
        context_mask: Optional[torch.Tensor] = None, skip_layer_mask: Optional[torch.Tensor] = None,
        stg_mode: str = "attention_values",
    ) -> torch.Tensor:
        """latent (B, N, C_in), positions (B, 3, N), context (B, L, C_txt), timestep (B,) / (B, 1) / (B, N) in [0, 1],
        context_mask (B, L) 1 = keep, skip_layer_mask (num_layers, B) 1 = keep (STG) -> velocity (B, N, C_out)."""
        batch, tokens, _ = latent.shape
        if positions.shape != (batch, 3, tokens):
            raise InputError(f"positions must be (B, 3, N) = ({batch}, 3, {tokens}), got {tuple(positions.shape)}.")
        if stg_mode not in STG_MODES:
            raise InputError(f"Unknown STG mode {stg_mode!r}: use one of {', '.join(STG_MODES)}.")
        if skip_layer_mask is not None and tuple(skip_layer_mask.shape) != (self.config.num_layers, batch):
            raise InputError(f"skip_layer_mask must be (num_layers, B) = ({self.config.num_layers}, {batch}), "
                             f"got {tuple(skip_layer_mask.shape)}.")
        timestep = self._timestep(timestep, batch, tokens)
        x = self.patchify_proj(latent)  # (B, N, D)
        dtype = x.dtype
        modulation, embedded = self._modulation(timestep.flatten() * self.config.timestep_scale_multiplier, dtype)
        modulation = modulation.view(batch, -1, modulation.shape[-1])  # (B, 1 or N, 6D)
        embedded = embedded.view(batch, -1, embedded.shape[-1])  # (B, 1 or N, D)
        text = self.caption_projection(context).view(batch, -1, x.shape[-1])  # (B, L, D)
        bias = None
        if context_mask is not None:
            bias = ((1 - context_mask.to(dtype)) * -10000.0).view(batch, 1, 1, -1)  # (B, 1, 1, L)
        rope = rope_from_positions(positions, max_pos=self.config.rope_max_pos, width=x.shape[-1],
                                   heads=self.config.heads, rope_type="interleaved", theta=self.config.rope_theta,
                                   double_precision=False, dtype=dtype, midpoint=False)
        for index, block in enumerate(self.transformer_blocks):
            keep = None if skip_layer_mask is None else skip_layer_mask[index].to(dtype).view(batch, 1, 1)
            x = block(x, text, modulation, rope, bias, keep, stg_mode)
        table = self.scale_shift_table.to(dtype)[None, None] + embedded[:, :, None]  # (B, T, 2, D)
        shift, scale = table[:, :, 0], table[:, :, 1]
        x = F.layer_norm(x, (x.shape[-1],), eps=1e-6) * (1 + scale) + shift
        return self.proj_out(x)  # (B, N, C_out)

    def _modulation(self, timesteps: torch.Tensor, dtype: torch.dtype):
        """adaLN-single of (M,) scaled timesteps -> ((M, 6D), (M, D)). Per-token timesteps hold few distinct
        values (conditioning tokens at 0, the rest at t): embed each distinct value once, then gather."""
        if timesteps.numel() <= 8:
            return self.adaln_single(timesteps, dtype)
        values, inverse = torch.unique(timesteps, return_inverse=True)
        if values.numel() * 2 > timesteps.numel():
            return self.adaln_single(timesteps, dtype)
        modulation, embedded = self.adaln_single(values, dtype)  # (U, 6D), (U, D)
        return modulation[inverse], embedded[inverse]

    @staticmethod
    def _timestep(timestep: Union[float, torch.Tensor], batch: int, tokens: int) -> torch.Tensor:
        timestep = torch.as_tensor(timestep)
        if timestep.ndim == 0:
            return timestep.expand(batch)
        if timestep.shape in ((batch,), (batch, 1), (batch, tokens)):
            return timestep
        raise InputError(f"timestep must be (B,), (B, 1) or per token (B, N) = ({batch}, {tokens}), "
                         f"got {tuple(timestep.shape)}.")
