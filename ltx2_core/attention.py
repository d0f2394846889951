"""The one attention function every ltx2_core layer calls.

Signature (the `AttentionFn` contract): `fn(q, k, v, heads, mask=None) -> out` with q (B, Tq, H*D),
k and v (B, Tk, H*D), out (B, Tq, H*D). `mask` is None, a bool tensor (True = attend) or an additive
float tensor, broadcastable to (B, H, Tq, Tk). Layers receive the function at construction
(`attention_fn=`), so a host can swap in its own kernel without patching anything.
"""

from typing import Callable, Optional

import torch
import torch.nn.functional as F

AttentionFn = Callable[..., torch.Tensor]


def sdpa_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Multi-head attention through PyTorch's scaled_dot_product_attention."""
    batch, q_len, inner = q.shape
    head_dim = inner // heads
    q, k, v = (t.view(batch, -1, heads, head_dim).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
    if mask is not None and mask.dtype != torch.bool:
        mask = mask.to(q.dtype)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, Tq, D)
    return out.transpose(1, 2).reshape(batch, q_len, inner)  # (B, Tq, H*D)
