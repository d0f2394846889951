"""T5 v1.1 encoder (the LTX-Video text encoder), pure torch, built through the `operations` seam.

Per block: `h += attn(norm(h))`, `h += ffn(norm(h))`; a final norm. Details that matter for parity with
transformers' `T5EncoderModel`:
- T5 LayerNorm is an RMSNorm without mean and without bias; the variance is computed in float32 (also
  for float64 activations, as transformers does), the normalized value is cast back to half types.
- Attention has no 1/sqrt(d) scaling; a bucketed, bidirectional relative position bias (H heads, from the
  table in block 0 only) is added to the scores of every block, with the padding mask on the keys.
- The FFN is gated GELU (tanh approximation): `wo(gelu(wi_0 x) * wi_1 x)`.
- float16: after each sub-layer, values are clamped to +-(max - 1000) once an inf appeared (transformers'
  rule), and the FFN output projection runs in float32 (transformers keeps `wo` in float32). bfloat16 or
  float32 are the recommended dtypes: T5-XXL's activations overflow float16 without these guards.
Key names are those of transformers (`shared.weight`, `encoder.block.N.layer.0.SelfAttention.q.weight`, ...).
"""

import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...ops import cast_like
from .config import T5Config


class T5LayerNorm(nn.Module):
    """`w * x / sqrt(mean(x^2) + eps)`, the mean of squares in float32."""

    def __init__(self, dim: int, eps: float, device=None, dtype=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        y = x * torch.rsqrt(variance + self.eps)
        if x.dtype in (torch.float16, torch.bfloat16):
            y = y.to(x.dtype)
        return cast_like(self.weight, y) * y


def relative_position_bucket(relative: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    """Bidirectional T5 buckets of `relative` = key position - query position (any integer tensor)."""
    half = num_buckets // 2
    buckets = (relative > 0).to(torch.long) * half
    distance = relative.abs()
    exact = half // 2
    scaled = torch.log(distance.float().clamp(min=1) / exact) / math.log(max_distance / exact) * (half - exact)
    large = torch.clamp(exact + scaled.to(torch.long), max=half - 1)
    return buckets + torch.where(distance < exact, distance, large)


def _embed(embedding: nn.Module, ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Rows of an `operations.Embedding` in `dtype` (packed GGUF rows are unpacked alone)."""
    embed = getattr(embedding, "embed", None)
    if embed is not None:
        return embed(ids, dtype)
    if hasattr(embedding, "forward_comfy_cast_weights"):  # ComfyUI's casting ops take the output dtype
        return embedding(ids, out_dtype=dtype).to(dtype)
    return embedding(ids).to(dtype)


def _clamp_fp16(h: torch.Tensor) -> torch.Tensor:
    if h.dtype != torch.float16:
        return h
    top = torch.finfo(torch.float16).max
    limit = torch.where(torch.isinf(h).any(), top - 1000.0, top)
    return torch.clamp(h, min=-limit, max=limit)


class T5Attention(nn.Module):
    def __init__(self, config: T5Config, has_bias: bool, operations=nn, device=None, dtype=None):
        super().__init__()
        self.config = config
        linear = dict(bias=False, device=device, dtype=dtype)
        self.q = operations.Linear(config.d_model, config.inner_dim, **linear)
        self.k = operations.Linear(config.d_model, config.inner_dim, **linear)
        self.v = operations.Linear(config.d_model, config.inner_dim, **linear)
        self.o = operations.Linear(config.inner_dim, config.d_model, **linear)
        if has_bias:
            self.relative_attention_bias = operations.Embedding(
                config.relative_attention_num_buckets, config.num_heads, device=device, dtype=dtype)

    def position_bias(self, length: int, dtype: torch.dtype, device) -> torch.Tensor:
        """(1, H, L, L) bias of the block-0 table."""
        positions = torch.arange(length, device=device)
        buckets = relative_position_bucket(positions[None, :] - positions[:, None],
                                           self.config.relative_attention_num_buckets,
                                           self.config.relative_attention_max_distance)
        return _embed(self.relative_attention_bias, buckets, dtype).permute(2, 0, 1)[None]

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x (B, L, D); bias (B or 1, H, L, L) position bias + key mask -> (B, L, D)."""
        b, length, _ = x.shape
        heads, dim = self.config.num_heads, self.config.d_kv

        def split(t):
            return t.view(b, length, heads, dim).transpose(1, 2)  # (B, H, L, d)

        out = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)),
                                             attn_mask=bias.to(x.dtype), scale=1.0)
        return self.o(out.transpose(1, 2).reshape(b, length, heads * dim))


class T5GatedFeedForward(nn.Module):
    def __init__(self, config: T5Config, operations=nn, device=None, dtype=None):
        super().__init__()
        linear = dict(bias=False, device=device, dtype=dtype)
        self.wi_0 = operations.Linear(config.d_model, config.d_ff, **linear)
        self.wi_1 = operations.Linear(config.d_model, config.d_ff, **linear)
        self.wo = operations.Linear(config.d_ff, config.d_model, **linear)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gated = F.gelu(self.wi_0(x), approximate="tanh") * self.wi_1(x)  # (B, L, d_ff)
        if gated.dtype == torch.float16:
            return _linear_in_float32(self.wo, gated).to(torch.float16)
        return self.wo(gated)


def _linear_in_float32(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`layer(x)` computed in float32: casting layers (QuantOps, ComfyUI's) follow the input's dtype, a plain
    torch.nn.Linear gets its weight upcast here."""
    if hasattr(layer, "cast_weight_bias") or getattr(layer, "comfy_cast_weights", False):
        return layer(x.float())
    return F.linear(x.float(), layer.weight.float(), None if layer.bias is None else layer.bias.float())


class _SelfAttentionLayer(nn.Module):
    def __init__(self, config, has_bias, operations, device, dtype):
        super().__init__()
        self.SelfAttention = T5Attention(config, has_bias, operations, device, dtype)
        self.layer_norm = T5LayerNorm(config.d_model, config.layer_norm_epsilon, device, dtype)


class _FeedForwardLayer(nn.Module):
    def __init__(self, config, operations, device, dtype):
        super().__init__()
        self.DenseReluDense = T5GatedFeedForward(config, operations, device, dtype)
        self.layer_norm = T5LayerNorm(config.d_model, config.layer_norm_epsilon, device, dtype)


class T5Block(nn.Module):
    def __init__(self, config: T5Config, has_bias: bool, operations=nn, device=None, dtype=None):
        super().__init__()
        self.layer = nn.ModuleList([_SelfAttentionLayer(config, has_bias, operations, device, dtype),
                                    _FeedForwardLayer(config, operations, device, dtype)])

    def forward(self, h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        attn, ffn = self.layer
        h = _clamp_fp16(h + attn.SelfAttention(attn.layer_norm(h), bias))
        return _clamp_fp16(h + ffn.DenseReluDense(ffn.layer_norm(h)))


class _Stack(nn.Module):
    def __init__(self, config: T5Config, operations, device, dtype):
        super().__init__()
        self.block = nn.ModuleList([T5Block(config, i == 0, operations, device, dtype)
                                    for i in range(config.num_layers)])
        self.final_layer_norm = T5LayerNorm(config.d_model, config.layer_norm_epsilon, device, dtype)


class T5Encoder(nn.Module):
    """T5 v1.1 encoder: ids (B, L) and mask (B, L) -> last hidden state (B, L, d_model) after the final norm."""

    def __init__(self, config: T5Config, *, operations=nn, device=None, dtype=None):
        super().__init__()
        self.config = config
        self.shared = operations.Embedding(config.vocab_size, config.d_model, device=device, dtype=dtype)
        self.encoder = _Stack(config, operations, device, dtype)

    def compute_dtype(self) -> torch.dtype:
        """The activation dtype: the norm weights' (always plain floats)."""
        return self.encoder.final_layer_norm.weight.dtype

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        dtype = dtype or self.compute_dtype()
        h = _embed(self.shared, input_ids, dtype)  # (B, L, D)
        length = input_ids.shape[1]
        bias = self.encoder.block[0].layer[0].SelfAttention.position_bias(length, dtype, h.device)  # (1, H, L, L)
        if attention_mask is not None:
            keep = attention_mask.to(h.device).bool()[:, None, None, :]  # (B, 1, 1, L)
            bias = bias.expand(keep.shape[0], -1, -1, -1).masked_fill(~keep, torch.finfo(dtype).min)
        for block in self.encoder.block:
            h = block(h, bias)
        return self.encoder.final_layer_norm(h)
