"""One LTX-Video transformer block and its self-attention with the STG perturbations.

Block (adaLN-single, 6 modulation rows: shift/scale/gate for attention, then for the FF):
  x = x + gate_msa * attn1(rms(x) * (1 + scale_msa) + shift_msa)      self-attention with RoPE
  x = x + attn2(x, text)                                             cross-attention, not gated
  x = x + gate_mlp * ff(rms(x) * (1 + scale_mlp) + shift_mlp)
STG (official `SkipLayerStrategy`), per batch item via a 0/1 keep value (1 = unperturbed):
  attention_values (official default, "STG-AV"): attn1's attention output is replaced by V;
  attention_skip ("STG-AS"): replaced by attn1's input; transformer_block ("STG-T"): the block's
  output is replaced by its input; residual ("STG-R"): inert in this model (no residual connection
  inside the attention), accepted and ignored as in the official code.
"""

from typing import Optional

import torch
from torch import nn

from ...transformer.layers import Attention, FeedForward, rms_norm
from ...transformer.rope import Rope, apply_rope

STG_MODES = ("attention_values", "attention_skip", "transformer_block", "residual")


class SelfAttention(Attention):
    """`Attention` (same keys) whose STG keep value can also select the attention's input."""

    def forward(self, x: torch.Tensor, *, rope: Optional[Rope] = None, keep: Optional[torch.Tensor] = None,
                stg_mode: str = "attention_values") -> torch.Tensor:
        """x (B, T, D) -> (B, T, D); `keep` (B, 1, 1) or None."""
        if keep is None or stg_mode not in ("attention_values", "attention_skip"):
            return super().forward(x, rope=rope)
        v = self.to_v(x)  # (B, T, D)
        q = apply_rope(self.q_norm(self.to_q(x)), rope) if rope is not None else self.q_norm(self.to_q(x))
        k = apply_rope(self.k_norm(self.to_k(x)), rope) if rope is not None else self.k_norm(self.to_k(x))
        out = self.attention_fn(q, k, v, self.heads, None)  # (B, T, D)
        replacement = v if stg_mode == "attention_values" else x
        return self.to_out[0](out * keep + replacement * (1 - keep))


class LTXVBlock(nn.Module):
    """Keys: scale_shift_table (6, D), attn1.*, attn2.*, ff.net.{0.proj,2}.*."""

    def __init__(self, dim: int, heads: int, head_dim: int, *, norm_eps: float, qk_norm_eps: float,
                 operations=nn, attention_fn=None, device=None, dtype=None) -> None:
        super().__init__()
        self.norm_eps = norm_eps
        kwargs = dict(heads=heads, head_dim=head_dim, norm_eps=qk_norm_eps, operations=operations,
                      device=device, dtype=dtype)
        if attention_fn is not None:
            kwargs["attention_fn"] = attention_fn
        self.attn1 = SelfAttention(dim, **kwargs)
        self.attn2 = Attention(dim, dim, **kwargs)
        self.ff = FeedForward(dim, operations=operations, device=device, dtype=dtype)
        self.scale_shift_table = nn.Parameter(torch.empty(6, dim, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor, context: torch.Tensor, modulation: torch.Tensor, rope: Rope,
                context_mask: Optional[torch.Tensor] = None, keep: Optional[torch.Tensor] = None,
                stg_mode: str = "attention_values") -> torch.Tensor:
        """x (B, N, D), context (B, L, D), modulation (B, 1 or N, 6D), context_mask additive (B, 1, 1, L),
        keep (B, 1, 1) -> (B, N, D)."""
        batch, steps = modulation.shape[:2]
        table = self.scale_shift_table.to(x.dtype)
        ada = table[None, None] + modulation.reshape(batch, steps, 6, -1)  # (B, T, 6, D)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = ada.unbind(dim=2)  # (B, T, D) each
        residual = x
        h = rms_norm(x, self.norm_eps) * (1 + scale_msa) + shift_msa
        x = x + gate_msa * self.attn1(h, rope=rope, keep=keep, stg_mode=stg_mode)
        x = x + self.attn2(x, context, mask=context_mask)
        h = rms_norm(x, self.norm_eps) * (1 + scale_mlp) + shift_mlp
        x = x + gate_mlp * self.ff(h)
        if keep is not None and stg_mode == "transformer_block":
            x = x * keep + residual * (1 - keep)
        return x
