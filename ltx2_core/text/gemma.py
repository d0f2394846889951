"""Gemma 3 text decoder: the language tower whose hidden states LTX-2 turns into text context.

Per layer: `h += post_attn_norm(attn(input_norm(h)))`, `h += post_ffw_norm(mlp(pre_ffw_norm(h)))`.
Norms are RMSNorms with a zero-centred weight (`x_hat * (1 + w)`) computed in at least float32.
Attention is grouped-query with per-head q/k norms, rotate-half RoPE (one base for sliding-window
layers, a linearly scaled one for global layers) and query scaling `query_pre_attn_scalar ** -0.5`.
Embeddings are multiplied by sqrt(hidden_size) in the activation dtype.

`forward` returns all `num_layers + 1` hidden states: the scaled embeddings, the output of every
layer, and for the last layer its output after the final norm. An optional `KVCache` makes the same
module usable for token-by-token generation.
"""

import math
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..attention import sdpa_attention
from ..ops import cast_like
from .gemma_config import GLOBAL, SLIDING, GemmaConfig


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half types, float64 stays float64."""
    return torch.promote_types(dtype, torch.float32)


class GemmaRMSNorm(nn.Module):
    """RMSNorm with a zero-centred weight: `x * rsqrt(mean(x^2) + eps) * (1 + w)` in at least float32."""

    def __init__(self, dim: int, eps: float, device=None, dtype=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(dim, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.to(_compute_dtype(x.dtype))
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * (1.0 + cast_like(self.weight, y))).to(x.dtype)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float, scaling: float, dtype: torch.dtype):
    """Rotate-half RoPE tables for integer `positions` (B, T): cos and sin of shape (B, T, head_dim).

    Angles are computed in float32 (float64 for float64 activations) and then cast to `dtype`.
    """
    work = _compute_dtype(dtype)
    exponents = torch.arange(0, head_dim, 2, device=positions.device, dtype=work) / head_dim
    inv_freq = 1.0 / (theta ** exponents)
    if scaling != 1.0:
        inv_freq = inv_freq / scaling
    angles = positions.to(work)[..., None] * inv_freq  # (B, T, head_dim / 2)
    angles = torch.cat((angles, angles), dim=-1)  # (B, T, head_dim)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def _apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x (B, T, H, D); cos, sin (B, T, D)."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos[:, :, None] + rotated * sin[:, :, None]


def attention_masks(
    attention_mask: Optional[torch.Tensor], batch: int, q_len: int, kv_len: int, window: int, device
) -> dict:
    """Boolean masks (B, 1, Tq, Tk), True = attend, for global (causal) and sliding (causal + window) layers.

    Queries are the last `q_len` of `kv_len` positions; `attention_mask` (B, kv_len) marks real tokens.
    """
    q_pos = torch.arange(kv_len - q_len, kv_len, device=device)[:, None]  # (Tq, 1)
    k_pos = torch.arange(kv_len, device=device)[None, :]  # (1, Tk)
    causal = k_pos <= q_pos
    sliding = causal & (q_pos - k_pos < window)
    if attention_mask is None:
        keep = torch.ones(batch, 1, 1, kv_len, dtype=torch.bool, device=device)
    else:
        keep = attention_mask.to(device=device).bool()[:, None, None, :]  # (B, 1, 1, Tk)
    return {GLOBAL: causal[None, None] & keep, SLIDING: sliding[None, None] & keep}


class KVCache:
    """Keys and values of past positions, per layer, for incremental decoding."""

    def __init__(self, num_layers: int):
        self.keys: List[Optional[torch.Tensor]] = [None] * num_layers
        self.values: List[Optional[torch.Tensor]] = [None] * num_layers

    @property
    def length(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].shape[1]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Append k, v (B, T, Hkv, D) and return the full cached k, v."""
        if self.keys[layer] is not None:
            k = torch.cat((self.keys[layer], k), dim=1)
            v = torch.cat((self.values[layer], v), dim=1)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class GemmaAttention(nn.Module):
    """Grouped-query self-attention with q/k norms and RoPE (keys `q_proj`, `k_proj`, `v_proj`, `o_proj`, ...)."""

    def __init__(self, config: GemmaConfig, layer: int, *, operations, attention_fn, device, dtype):
        super().__init__()
        self.layer = layer
        self.heads, self.kv_heads, self.head_dim = config.num_heads, config.num_kv_heads, config.head_dim
        # sdpa scales by head_dim ** -0.5; Gemma wants query_pre_attn_scalar ** -0.5.
        self.q_scale = math.sqrt(config.head_dim / config.query_pre_attn_scalar)
        self.attention_fn = attention_fn
        hidden = config.hidden_size
        q_dim, kv_dim = config.num_heads * config.head_dim, config.num_kv_heads * config.head_dim
        self.q_proj = operations.Linear(hidden, q_dim, bias=False, device=device, dtype=dtype)
        self.k_proj = operations.Linear(hidden, kv_dim, bias=False, device=device, dtype=dtype)
        self.v_proj = operations.Linear(hidden, kv_dim, bias=False, device=device, dtype=dtype)
        self.o_proj = operations.Linear(q_dim, hidden, bias=False, device=device, dtype=dtype)
        self.q_norm = GemmaRMSNorm(config.head_dim, config.rms_norm_eps, device=device, dtype=dtype)
        self.k_norm = GemmaRMSNorm(config.head_dim, config.rms_norm_eps, device=device, dtype=dtype)

    def forward(self, x, cos, sin, mask, cache: Optional[KVCache] = None):
        batch, length, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(batch, length, self.heads, self.head_dim))  # (B, T, H, D)
        k = self.k_norm(self.k_proj(x).view(batch, length, self.kv_heads, self.head_dim))  # (B, T, Hkv, D)
        v = self.v_proj(x).view(batch, length, self.kv_heads, self.head_dim)  # (B, T, Hkv, D)
        q, k = _apply_rope(q, cos, sin), _apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(self.layer, k, v)  # (B, Tk, Hkv, D)
        groups = self.heads // self.kv_heads
        if groups > 1:
            k, v = k.repeat_interleave(groups, dim=2), v.repeat_interleave(groups, dim=2)  # (B, Tk, H, D)
        if self.q_scale != 1.0:  # exactly 1 for Gemma 3 12B (query_pre_attn_scalar == head_dim)
            q = q * self.q_scale
        q = q.reshape(batch, length, -1)  # (B, T, H*D)
        # (B, T, H*D) x (B, Tk, H*D) x (B, Tk, H*D), mask (B, 1, T, Tk) -> (B, T, H*D)
        out = self.attention_fn(q, k.reshape(batch, k.shape[1], -1), v.reshape(batch, v.shape[1], -1), self.heads, mask)
        # Rows with nothing to attend to (left padding) are zero, whatever the backend returns for them.
        out = torch.where(mask.any(-1).transpose(1, 2), out, torch.zeros((), dtype=out.dtype, device=out.device))
        return self.o_proj(out)  # (B, T, hidden)


class GemmaMLP(nn.Module):
    """Gated MLP: down(gelu_tanh(gate(x)) * up(x))."""

    def __init__(self, config: GemmaConfig, *, operations, device, dtype):
        super().__init__()
        hidden, inter = config.hidden_size, config.intermediate_size
        self.gate_proj = operations.Linear(hidden, inter, bias=False, device=device, dtype=dtype)
        self.up_proj = operations.Linear(hidden, inter, bias=False, device=device, dtype=dtype)
        self.down_proj = operations.Linear(inter, hidden, bias=False, device=device, dtype=dtype)

    def forward(self, x):
        return self.down_proj(F.gelu(self.gate_proj(x), approximate="tanh") * self.up_proj(x))


class GemmaDecoderLayer(nn.Module):
    """One decoder layer: sandwich-normed attention and MLP residuals (see the module docstring)."""

    def __init__(self, config: GemmaConfig, layer: int, *, operations, attention_fn, device, dtype):
        super().__init__()
        self.kind = config.layer_types[layer]  # GLOBAL or SLIDING: its RoPE table and mask
        self.is_global = self.kind == GLOBAL
        eps = config.rms_norm_eps
        self.self_attn = GemmaAttention(
            config, layer, operations=operations, attention_fn=attention_fn, device=device, dtype=dtype
        )
        self.mlp = GemmaMLP(config, operations=operations, device=device, dtype=dtype)
        self.input_layernorm = GemmaRMSNorm(config.hidden_size, eps, device=device, dtype=dtype)
        self.post_attention_layernorm = GemmaRMSNorm(config.hidden_size, eps, device=device, dtype=dtype)
        self.pre_feedforward_layernorm = GemmaRMSNorm(config.hidden_size, eps, device=device, dtype=dtype)
        self.post_feedforward_layernorm = GemmaRMSNorm(config.hidden_size, eps, device=device, dtype=dtype)

    def forward(self, h, cos, sin, mask, cache=None):
        h = h + self.post_attention_layernorm(self.self_attn(self.input_layernorm(h), cos, sin, mask, cache))
        return h + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(h)))


class GemmaDecoderStack(nn.Module):
    """The decoder stack of both Gemma generations: scaled embedding, per-kind (global / sliding) RoPE tables and
    masks, the layers, the final norm, tied-embedding logits. Subclasses name their LAYER and NORM classes and
    build their RoPE tables (`rope_tables`)."""

    LAYER: type
    NORM: type

    def __init__(self, config, *, operations=nn, attention_fn=sdpa_attention, device=None, dtype=None):
        super().__init__()
        self.config = config
        self.embed_tokens = operations.Embedding(config.vocab_size, config.hidden_size, device=device, dtype=dtype)
        self.layers = nn.ModuleList(
            self.LAYER(config, i, operations=operations, attention_fn=attention_fn, device=device, dtype=dtype)
            for i in range(config.num_layers)
        )
        self.norm = self.NORM(config.hidden_size, config.rms_norm_eps, device=device, dtype=dtype)

    def rope_tables(self, positions: torch.Tensor, dtype: torch.dtype) -> dict:
        """{GLOBAL: (cos, sin), SLIDING: (cos, sin)} for positions (B, T)."""
        raise NotImplementedError

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        *,
        cache: Optional[KVCache] = None,
        all_hidden_states: bool = True,
        start_position: int = 0,
    ) -> List[torch.Tensor]:
        """input_ids (B, T); attention_mask (B, T) (with a cache: (B, past + T)), 1 = real token.

        `start_position` is the RoPE position of the first column (of the first past one with a cache): a
        sequence cut out of a longer left-padded one keeps its RoPE tables by passing the cut's offset.
        Returns the `num_layers + 1` hidden states (B, T, hidden), or only the final normed one when
        `all_hidden_states` is False.
        """
        cfg = self.config
        h = self.embed_tokens(input_ids)  # (B, T, hidden)
        # The scale is cast to the weight dtype first (sqrt(3840) becomes 62.0 in bfloat16), as in the reference.
        h = h * torch.tensor(math.sqrt(cfg.hidden_size), dtype=h.dtype, device=h.device)
        batch, length = input_ids.shape
        past = cache.length if cache is not None else 0
        first = start_position + past
        positions = torch.arange(first, first + length, device=h.device).expand(batch, length)  # (B, T)
        masks = attention_masks(attention_mask, batch, length, past + length, cfg.sliding_window, h.device)
        tables = self.rope_tables(positions, h.dtype)
        states = [h]
        for layer in self.layers:
            h = layer(h, *tables[layer.kind], masks[layer.kind], cache)
            if all_hidden_states:
                states.append(h)
        normed = self.norm(h)
        return states[:-1] + [normed] if all_hidden_states else [normed]

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token logits from final hidden states, through the tied embedding matrix."""
        return F.linear(hidden, cast_like(self.embed_tokens.weight, hidden))


class GemmaTextModel(GemmaDecoderStack):
    """Gemma 3 text decoder (no LM head: generation reuses the tied embedding matrix, see `logits`)."""

    LAYER = GemmaDecoderLayer
    NORM = GemmaRMSNorm

    def rope_tables(self, positions: torch.Tensor, dtype: torch.dtype) -> dict:
        cfg = self.config
        return {
            GLOBAL: rope_cos_sin(positions, cfg.head_dim, cfg.rope_global_theta, cfg.rope_global_scaling, dtype),
            SLIDING: rope_cos_sin(positions, cfg.head_dim, cfg.rope_local_theta, 1.0, dtype),
        }
