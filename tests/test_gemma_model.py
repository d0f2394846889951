"""Gemma 3 text decoder: parity with transformers' Gemma3TextModel, masks, meta construction, 12B key shapes."""

import dataclasses
import math

import pytest
import torch

from ltx2_core.errors import CheckpointError
from ltx2_core.text import GemmaConfig, GemmaTextModel
from ltx2_core.text.gemma import GemmaRMSNorm, KVCache, attention_masks

transformers = pytest.importorskip("transformers")


def hf_config(cfg: GemmaConfig):
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_kv_heads,
        head_dim=cfg.head_dim, query_pre_attn_scalar=int(cfg.query_pre_attn_scalar), rms_norm_eps=cfg.rms_norm_eps,
        sliding_window=cfg.sliding_window, max_position_embeddings=4096,
        layer_types=["full_attention" if t == "global" else "sliding_attention" for t in cfg.layer_types],
        rope_parameters={
            "full_attention": {"rope_type": "linear", "factor": cfg.rope_global_scaling,
                               "rope_theta": cfg.rope_global_theta},
            "sliding_attention": {"rope_type": "default", "rope_theta": cfg.rope_local_theta},
        },
        attn_implementation="sdpa",
    )


def make_pair(cfg: GemmaConfig, dtype: torch.dtype, seed: int = 0):
    from transformers import Gemma3TextModel

    torch.manual_seed(seed)
    oracle = Gemma3TextModel(hf_config(cfg)).eval()
    with torch.no_grad():  # non-trivial norm weights (HF initialises them to zero)
        for name, p in oracle.named_parameters():
            if "norm" in name:
                p.normal_(0.0, 0.3)
    oracle = oracle.to(dtype)
    ours = GemmaTextModel(cfg, device="meta", dtype=dtype)
    from ltx2_core.checkpoint import load_strict

    load_strict(ours, {k: v.detach().clone() for k, v in oracle.state_dict().items()}, "Gemma")
    return ours, oracle


def promote_oracle_to_float64(oracle):
    """transformers computes Gemma's RMSNorm and RoPE angles in float32 even for float64 models and rounds the
    embedding scale to float32; make those pieces float64 so that a float64 comparison tests the math."""
    from transformers.models.gemma3.modeling_gemma3 import Gemma3RMSNorm

    def norm64(self, x):
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return y * (1.0 + self.weight)

    rotary = oracle.rotary_emb

    def rotary64(x, position_ids, layer_type):
        inv = getattr(rotary, f"{layer_type}_inv_freq").double()
        cfg = rotary.config.rope_parameters[layer_type]
        dim = rotary.config.head_dim
        inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)) / cfg.get("factor", 1.0)
        angles = position_ids[..., None].double() * inv
        emb = torch.cat((angles, angles), dim=-1)
        return emb.cos(), emb.sin()

    for module in oracle.modules():
        if isinstance(module, Gemma3RMSNorm):
            module.forward = norm64.__get__(module)
    rotary.forward = rotary64
    oracle.embed_tokens.embed_scale = torch.tensor(math.sqrt(oracle.config.hidden_size), dtype=torch.float64)


def batch_with_left_padding(cfg, length, pads=(0, 5), seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, cfg.vocab_size, (len(pads), length), generator=g)
    mask = torch.ones(len(pads), length, dtype=torch.long)
    for row, pad in enumerate(pads):
        ids[row, :pad] = cfg.pad_token_id
        mask[row, :pad] = 0
    return ids, mask


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_hidden_states_match_transformers(dtype, tol):
    cfg = GemmaConfig.tiny(num_layers=6, sliding_window=4)  # sequences of 11 > window; layers 2 and 5 global
    ours, oracle = make_pair(cfg, dtype)
    if dtype == torch.float64:
        promote_oracle_to_float64(oracle)
    ids, mask = batch_with_left_padding(cfg, 11)
    with torch.no_grad():
        mine = ours(ids, mask)
        ref = oracle(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    assert len(mine) == len(ref) == cfg.num_layers + 1
    errors = []
    for a, b in zip(mine, ref, strict=True):
        assert a.dtype == dtype and a.shape == b.shape
        err = rel_err(a, b) if dtype == torch.float32 else (a - b).abs().max().item()
        errors.append(err)
    assert max(errors) <= tol, errors


def test_sliding_window_changes_the_result():
    cfg = GemmaConfig.tiny(num_layers=3, sliding_window=4)
    wide = GemmaConfig.tiny(num_layers=3, sliding_window=64)
    ours, _ = make_pair(cfg, torch.float32)
    wide_model = GemmaTextModel(wide)
    wide_model.load_state_dict(ours.state_dict())
    ids, mask = batch_with_left_padding(cfg, 10, pads=(0,))
    with torch.no_grad():
        a, b = ours(ids, mask), wide_model(ids, mask)
    assert torch.equal(a[1][:, :4], b[1][:, :4])  # within the window: identical
    assert (a[1][:, 4:] - b[1][:, 4:]).abs().max() > 1e-4  # beyond it: the window masks keys


def test_left_padding_leaves_real_tokens_unchanged():
    cfg = GemmaConfig.tiny(num_layers=3, sliding_window=64)
    ours, _ = make_pair(cfg, torch.float64)
    ids, mask = batch_with_left_padding(cfg, 9, pads=(4,))
    with torch.no_grad():
        padded = ours(ids, mask)
    # Without padding the same tokens sit at positions 0..4 instead of 4..8: RoPE is relative, so equal.
    with torch.no_grad():
        bare = ours(ids[:, 4:], mask[:, 4:])
    for a, b in zip(padded, bare, strict=True):
        assert (a[:, 4:] - b).abs().max().item() < 1e-10
    assert torch.isfinite(padded[-1]).all()  # pad rows attend to nothing: zero attention output, no NaN


def test_masks_causal_sliding_and_padding():
    mask = torch.tensor([[0, 0, 1, 1, 1, 1]])
    masks = attention_masks(mask, 1, 6, 6, window=2, device="cpu")
    glob, slide = masks["global"][0, 0], masks["sliding"][0, 0]
    assert glob[5].tolist() == [False, False, True, True, True, True]
    assert slide[5].tolist() == [False, False, False, False, True, True]
    assert not glob[1].any()  # a pad query sees no key at all
    # incremental: one query at position 6 over 7 keys
    inc = attention_masks(torch.ones(1, 7), 1, 1, 7, window=3, device="cpu")
    assert inc["sliding"][0, 0, 0].tolist() == [False] * 4 + [True] * 3


def test_rmsnorm_zero_centred_weight_and_float32_compute():
    norm = GemmaRMSNorm(4, 1e-6, dtype=torch.bfloat16)
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.bfloat16)
    expected = torch.tensor([[1.0, 2.0, 3.0, 4.0]]) / math.sqrt(7.5 + 1e-6)
    assert torch.allclose(norm(x).float(), expected, atol=1e-2)
    with torch.no_grad():
        norm.weight.fill_(1.0)
    assert torch.allclose(norm(x).float(), 2 * expected, atol=2e-2)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_rmsnorm_equals_transformers_bit_for_bit(dtype):
    """Half-precision activations are normalised in float32 and rounded once, as transformers does;
    normalising in the half type itself rounds every intermediate and changes many outputs."""
    from transformers.models.gemma3.modeling_gemma3 import Gemma3RMSNorm

    gen = torch.Generator().manual_seed(5)
    x = (torch.randn(8, 256, generator=gen) * torch.logspace(-2, 2, 256)).to(dtype)
    weight = (torch.randn(256, generator=gen) * 0.5).to(dtype)
    ours, ref = GemmaRMSNorm(256, 1e-6, dtype=dtype), Gemma3RMSNorm(256, 1e-6).to(dtype)
    with torch.no_grad():
        ours.weight.copy_(weight)
        ref.weight.copy_(weight)
        got, want = ours(x), ref(x)
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
        in_half = y * (1.0 + weight)
    assert got.dtype == dtype and torch.equal(got, want)
    assert (in_half != want).float().mean().item() > 0.05  # the upcast is what makes them equal


def test_kv_cache_matches_full_forward():
    cfg = GemmaConfig.tiny(num_layers=3, sliding_window=4)
    ours, _ = make_pair(cfg, torch.float64)
    ids = torch.randint(4, cfg.vocab_size, (1, 9), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = ours(ids)[-1]
        cache = KVCache(cfg.num_layers)
        first = ours(ids[:, :5], cache=cache, all_hidden_states=False)[0]
        steps = [ours(ids[:, i:i + 1], cache=cache, all_hidden_states=False)[0] for i in range(5, 9)]
    incremental = torch.cat([first] + steps, dim=1)
    assert cache.length == 9
    assert (incremental - full).abs().max().item() < 1e-10


def test_bfloat16_forward_close_to_float32():
    cfg = GemmaConfig.tiny(num_layers=3)
    ours, _ = make_pair(cfg, torch.float32)
    low = GemmaTextModel(cfg, dtype=torch.bfloat16)
    low.load_state_dict(ours.state_dict())
    ids, mask = batch_with_left_padding(cfg, 8)
    with torch.no_grad():
        a, b = ours(ids, mask)[-1], low(ids, mask)[-1]
    assert b.dtype == torch.bfloat16
    assert rel_err(b.float(), a) < 3e-2


def test_full_size_12b_keys_and_shapes_match_transformers_on_meta():
    from transformers import Gemma3TextModel

    cfg = GemmaConfig.gemma3_12b()
    with torch.device("meta"):
        oracle = Gemma3TextModel(hf_config(cfg))
    ours = GemmaTextModel(cfg, device="meta", dtype=torch.bfloat16)
    ref = {k: tuple(v.shape) for k, v in oracle.state_dict().items()}
    mine = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert len(ref) == 1 + 2 + 48 * 13 - 1  # embed + norm + 13 tensors per layer
    assert mine == ref
    assert sum(math.prod(s) for s in mine.values()) == sum(math.prod(s) for s in ref.values())
    assert [i for i, t in enumerate(cfg.layer_types) if t == "global"] == [5, 11, 17, 23, 29, 35, 41, 47]


def test_config_from_hf_dicts():
    pytest.importorskip("ltx_core")
    from ltx_core.text_encoders.gemma.config import GEMMA3_CONFIG_FOR_LTX

    assert GemmaConfig.from_hf_dict(GEMMA3_CONFIG_FOR_LTX.to_dict()) == GemmaConfig.gemma3_12b()
    # the sparse text_config of Google's gemma-3-12b-it config.json (transformers 4 spelling)
    sparse = {"model_type": "gemma3", "eos_token_id": [1, 106], "text_config": {
        "hidden_size": 3840, "intermediate_size": 15360, "model_type": "gemma3_text", "num_attention_heads": 16,
        "num_hidden_layers": 48, "num_key_value_heads": 8, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
        "sliding_window": 1024}}
    assert GemmaConfig.from_hf_dict(sparse) == GemmaConfig.gemma3_12b()
    tiny = GemmaConfig.tiny()
    assert GemmaConfig.from_hf_dict(hf_config(tiny).to_dict()) == dataclasses.replace(tiny, eos_token_ids=(1,))
    with pytest.raises(CheckpointError, match="layer types"):
        dataclasses.replace(tiny, layer_types=("global",))
    with pytest.raises(CheckpointError, match="not a Gemma 3 text model"):
        GemmaConfig.from_state_dict({"embed_tokens.weight": torch.empty(4, 2)})
