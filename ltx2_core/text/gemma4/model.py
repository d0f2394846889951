"""Gemma 4 text decoder (language model only): the tower whose hidden states LTX-2.5 turns into text context.

Per layer: `h += post_attn_norm(attn(input_norm(h)))`, `h += post_ffw_norm(mlp(pre_ffw_norm(h)))`, then
`h *= layer_scalar`. What differs from Gemma 3 (`..gemma`) is in the small classes below: `Gemma4RMSNorm`
(`x_hat * w`), `Gemma4Attention` (scale 1, v-norm, per-layer head size / KV heads, V = K on global layers) and
`gemma4_rope_tables` (proportional partial rotary on global layers). The MLP and the masks are Gemma 3's.

`forward` returns all `num_layers + 1` hidden states: the scaled embeddings, the output of every layer, and for
the last layer its output after the final norm (the tuple transformers returns with output_hidden_states).
"""

import math
from typing import Optional

import torch
import torch.nn as nn

from ...ops import cast_like
from ..gemma import GemmaDecoderStack, GemmaMLP, KVCache
from ..gemma_config import GLOBAL, SLIDING
from .config import Gemma4Config


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


class Gemma4RMSNorm(nn.Module):
    """`x * (mean(x^2) + eps) ** -0.5 * w` in at least float32; weightless (`with_weight=False`) for V."""

    def __init__(self, dim: int, eps: float, with_weight: bool = True, device=None, dtype=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device, dtype=dtype)) if with_weight else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.to(_compute_dtype(x.dtype))
        y = y * torch.pow(y.pow(2).mean(-1, keepdim=True) + self.eps, -0.5)
        if self.weight is not None:
            y = y * cast_like(self.weight, y)
        return y.to(x.dtype)


def inverse_frequencies(head_dim: int, theta: float, partial: float, factor: float, dtype) -> torch.Tensor:
    """(head_dim / 2,) RoPE frequencies: the first `partial` share of pairs rotate with exponents over the FULL
    head size (proportional RoPE), the rest are 0 (cos 1, sin 0: those dims pass through)."""
    rotating = int(partial * head_dim // 2)
    exponents = torch.arange(0, 2 * rotating, 2, dtype=dtype) / head_dim
    freqs = torch.zeros(head_dim // 2, dtype=dtype)
    freqs[:rotating] = 1.0 / (theta ** exponents)
    return freqs / factor


def gemma4_rope_tables(positions: torch.Tensor, config: Gemma4Config, dtype: torch.dtype) -> dict:
    """Rotate-half cos/sin tables (B, T, D) per layer kind; angles in float32 (float64 for float64 input)."""
    work = _compute_dtype(dtype)
    specs = {
        SLIDING: (config.head_dim, config.rope_local_theta, 1.0, 1.0),
        GLOBAL: (config.global_head_dim, config.rope_global_theta, config.global_partial_rotary,
                 config.rope_global_factor),
    }
    tables = {}
    for kind, (dim, theta, partial, factor) in specs.items():
        freqs = inverse_frequencies(dim, theta, partial, factor, work).to(positions.device)
        angles = positions.to(work)[..., None] * freqs  # (B, T, D / 2)
        angles = torch.cat((angles, angles), dim=-1)  # (B, T, D)
        tables[kind] = (angles.cos().to(dtype), angles.sin().to(dtype))
    return tables


def _apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, T, H, D); cos, sin (B, T, D)."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos[:, :, None] + rotated * sin[:, :, None]


class Gemma4Attention(nn.Module):
    """Self-attention with q/k/v norms and scale 1. Global layers with `attention_k_eq_v` have no `v_proj`."""

    def __init__(self, config: Gemma4Config, layer: int, *, operations, attention_fn, device, dtype):
        super().__init__()
        self.layer = layer
        self.heads, self.kv_heads = config.num_heads, config.layer_kv_heads(layer)
        self.head_dim = config.layer_head_dim(layer)
        self.attention_fn = attention_fn
        hidden, eps = config.hidden_size, config.rms_norm_eps
        q_dim, kv_dim = self.heads * self.head_dim, self.kv_heads * self.head_dim
        self.q_proj = operations.Linear(hidden, q_dim, bias=False, device=device, dtype=dtype)
        self.k_proj = operations.Linear(hidden, kv_dim, bias=False, device=device, dtype=dtype)
        self.v_proj = (None if config.shares_kv(layer)
                       else operations.Linear(hidden, kv_dim, bias=False, device=device, dtype=dtype))
        self.o_proj = operations.Linear(q_dim, hidden, bias=False, device=device, dtype=dtype)
        self.q_norm = Gemma4RMSNorm(self.head_dim, eps, device=device, dtype=dtype)
        self.k_norm = Gemma4RMSNorm(self.head_dim, eps, device=device, dtype=dtype)
        self.v_norm = Gemma4RMSNorm(self.head_dim, eps, with_weight=False)

    def forward(self, x, cos, sin, mask, cache: Optional[KVCache] = None):
        batch, length, _ = x.shape
        k_raw = self.k_proj(x).view(batch, length, self.kv_heads, self.head_dim)  # (B, T, Hkv, D)
        v_raw = k_raw if self.v_proj is None else self.v_proj(x).view(batch, length, self.kv_heads, self.head_dim)
        q = _apply_rope(self.q_norm(self.q_proj(x).view(batch, length, self.heads, self.head_dim)), cos, sin)
        k = _apply_rope(self.k_norm(k_raw), cos, sin)
        v = self.v_norm(v_raw)
        if cache is not None:
            k, v = cache.update(self.layer, k, v)  # (B, Tk, Hkv, D)
        groups = self.heads // self.kv_heads
        if groups > 1:
            k, v = k.repeat_interleave(groups, dim=2), v.repeat_interleave(groups, dim=2)  # (B, T, H, D)
        # Scale 1: sdpa divides by sqrt(D), so pre-multiply q by sqrt(D).
        q = (q * math.sqrt(self.head_dim)).reshape(batch, length, -1)  # (B, T, H*D)
        keys = k.shape[1]
        out = self.attention_fn(q, k.reshape(batch, keys, -1), v.reshape(batch, keys, -1), self.heads, mask)
        # Rows with nothing to attend to (left padding) are zero, whatever the backend returns for them.
        out = torch.where(mask.any(-1).transpose(1, 2), out, torch.zeros((), dtype=out.dtype, device=out.device))
        return self.o_proj(out)  # (B, T, hidden)


class Gemma4DecoderLayer(nn.Module):
    """Sandwich-normed attention and MLP residuals, output times the stored `layer_scalar` (1,)."""

    def __init__(self, config: Gemma4Config, layer: int, *, operations, attention_fn, device, dtype):
        super().__init__()
        self.kind = config.layer_types[layer]
        eps, hidden = config.rms_norm_eps, config.hidden_size
        self.self_attn = Gemma4Attention(
            config, layer, operations=operations, attention_fn=attention_fn, device=device, dtype=dtype
        )
        self.mlp = GemmaMLP(config, operations=operations, device=device, dtype=dtype)
        self.input_layernorm = Gemma4RMSNorm(hidden, eps, device=device, dtype=dtype)
        self.post_attention_layernorm = Gemma4RMSNorm(hidden, eps, device=device, dtype=dtype)
        self.pre_feedforward_layernorm = Gemma4RMSNorm(hidden, eps, device=device, dtype=dtype)
        self.post_feedforward_layernorm = Gemma4RMSNorm(hidden, eps, device=device, dtype=dtype)
        self.register_buffer("layer_scalar", torch.ones(1, device=device, dtype=dtype))

    def forward(self, h, cos, sin, mask, cache=None):
        h = h + self.post_attention_layernorm(self.self_attn(self.input_layernorm(h), cos, sin, mask, cache))
        h = h + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(h)))
        return h * cast_like(self.layer_scalar, h)


class Gemma4TextModel(GemmaDecoderStack):
    """Gemma 4 language model (no LM head; `logits` uses the tied embedding matrix). The stack (embedding scale,
    masks, hidden-state layout) is Gemma 3's; the layers, norms and RoPE tables are Gemma 4's."""

    LAYER = Gemma4DecoderLayer
    NORM = Gemma4RMSNorm

    def rope_tables(self, positions: torch.Tensor, dtype: torch.dtype) -> dict:
        return gemma4_rope_tables(positions, self.config, dtype)
