"""The swappable attention function equals the textbook formula."""

import torch

from ltx2_core.attention import sdpa_attention


def _reference(q, k, v, heads, mask=None):
    b, tq, inner = q.shape
    d = inner // heads
    q, k, v = (t.view(b, -1, heads, d).transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / d**0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, tq, inner)


def test_sdpa_attention_matches_formula_with_mask():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 5, 12, generator=g, dtype=torch.float64)
    k = torch.randn(2, 7, 12, generator=g, dtype=torch.float64)
    v = torch.randn(2, 7, 12, generator=g, dtype=torch.float64)
    mask = torch.ones(2, 1, 1, 7, dtype=torch.bool)
    mask[1, ..., 5:] = False
    out = sdpa_attention(q, k, v, heads=3, mask=mask)
    assert out.shape == (2, 5, 12)
    assert (out - _reference(q, k, v, 3, mask)).abs().max() < 1e-12
