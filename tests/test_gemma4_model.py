"""Gemma 4 text decoder: parity with transformers' Gemma 4 unified text model on a tiny random config, and
the single differences from Gemma 3 checked one by one."""

import pytest
import torch

from ltx2_core.text.gemma4.config import Gemma4Config
from ltx2_core.text.gemma4.model import Gemma4RMSNorm, Gemma4TextModel, inverse_frequencies

tf_cfg = pytest.importorskip("transformers.models.gemma4_unified.configuration_gemma4_unified")
tf_mod = pytest.importorskip("transformers.models.gemma4_unified.modeling_gemma4_unified")


def _pair(dtype, k_eq_v=True, global_kv=1, seed=0):
    torch.manual_seed(seed)
    hf_config = tf_cfg.Gemma4UnifiedTextConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=6, num_attention_heads=2,
        num_key_value_heads=2, head_dim=32, global_head_dim=64, num_global_key_value_heads=global_kv,
        attention_k_eq_v=k_eq_v, sliding_window=4,
    )
    # eager softmax runs in float32 even for float64 inputs; sdpa keeps float64
    hf_config._attn_implementation = "eager" if dtype == torch.float32 else "sdpa"
    ref = tf_mod.Gemma4UnifiedTextModel(hf_config).eval()
    with torch.no_grad():
        for name, tensor in ref.state_dict().items():
            if tensor.is_floating_point():
                scale = 0.3 if name.endswith("norm.weight") or name.endswith("layer_scalar") else 0.2
                base = 1.0 if (name.endswith("norm.weight") or name.endswith("layer_scalar")) else 0.0
                tensor.copy_(base + scale * torch.randn_like(tensor))
    ref = ref.to(dtype)
    if dtype == torch.float64:
        _promote_oracle_to_float64(ref)
    ours = Gemma4TextModel(Gemma4Config.from_hf_dict(hf_config.to_dict()), dtype=dtype)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours.eval()


def _promote_oracle_to_float64(ref):
    """transformers computes RMSNorm and RoPE angles in float32 even for a float64 model and rounds the embedding
    scale to float32; redo those pieces in float64 (its formulas) so a float64 comparison tests the math."""

    def norm64(self, x):
        y = x * torch.pow(x.pow(2).mean(-1, keepdim=True) + self.eps, -0.5)
        return y * self.weight if self.with_scale else y

    rotary = ref.rotary_emb

    def rotary64(x, position_ids, layer_type):
        params = rotary.config.rope_parameters[layer_type]
        dim = rotary.config.per_layer_config[layer_type].head_dim
        pairs = int(params.get("partial_rotary_factor", 1.0) * dim // 2)
        inv = torch.zeros(dim // 2, dtype=torch.float64)
        inv[:pairs] = 1.0 / (params["rope_theta"] ** (torch.arange(0, 2 * pairs, 2, dtype=torch.float64) / dim))
        angles = position_ids[..., None].double() * inv
        emb = torch.cat((angles, angles), dim=-1)
        return emb.cos(), emb.sin()

    for module in ref.modules():
        if isinstance(module, tf_mod.Gemma4UnifiedRMSNorm):
            module.forward = norm64.__get__(module)
    rotary.forward = rotary64
    ref.embed_tokens.embed_scale = torch.tensor(ref.config.hidden_size ** 0.5, dtype=torch.float64)


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
@pytest.mark.parametrize("k_eq_v,global_kv", [(True, 1), (False, 2)])
def test_all_hidden_states_match_transformers(dtype, tol, k_eq_v, global_kv):
    ref, ours = _pair(dtype, k_eq_v, global_kv)
    ids = torch.randint(3, 512, (2, 11))
    with torch.no_grad():
        expected = ref(input_ids=ids, output_hidden_states=True).hidden_states
        got = ours(ids)
    assert len(got) == len(expected) == 7
    for index, (a, b) in enumerate(zip(got, expected)):
        assert a.dtype == dtype and a.shape == b.shape == (2, 11, 64)
        assert _rel(a, b) <= tol, f"hidden state {index}: rel {_rel(a, b)}"


def test_left_padding_matches_transformers_on_real_tokens():
    ref, ours = _pair(torch.float64)
    ids = torch.randint(3, 512, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[0, :4] = 0
    ids[0, :4] = 0
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        got = ours(ids, mask)
    real = mask.bool()
    for a, b in zip(got, expected):
        assert _rel(a[real], b[real]) <= 1e-10


def test_rmsnorm_multiplies_by_w_not_one_plus_w():
    norm = Gemma4RMSNorm(4, 1e-6)
    with torch.no_grad():
        norm.weight.fill_(0.0)
    assert norm(torch.randn(3, 4)).abs().max().item() == 0.0
    weightless = Gemma4RMSNorm(4, 1e-6, with_weight=False)
    y = weightless(torch.tensor([[3.0, -3.0, 3.0, -3.0]], dtype=torch.float64))
    assert torch.allclose(y, torch.tensor([[1.0, -1.0, 1.0, -1.0]], dtype=torch.float64), atol=1e-6)


def test_proportional_rope_rotates_a_quarter_with_full_head_exponents():
    freqs = inverse_frequencies(512, 1e6, 0.25, 1.0, torch.float64)
    assert freqs.shape == (256,)
    assert (freqs[64:] == 0).all() and (freqs[:64] > 0).all()
    assert freqs[1].item() == pytest.approx(1e6 ** (-2 / 512), rel=1e-12)


def test_global_layers_have_own_head_size_one_kv_head_and_no_v_proj():
    model = Gemma4TextModel(Gemma4Config.gemma4_12b(), device="meta")
    sliding, full = model.layers[0].self_attn, model.layers[5].self_attn
    assert sliding.q_proj.weight.shape == (4096, 3840) and sliding.v_proj.weight.shape == (2048, 3840)
    assert full.q_proj.weight.shape == (8192, 3840) and full.k_proj.weight.shape == (512, 3840)
    assert full.v_proj is None and full.o_proj.weight.shape == (3840, 8192)
    assert model.embed_tokens.weight.shape == (262144, 3840)


def test_layer_scalar_and_attention_scale_change_the_output():
    ref, ours = _pair(torch.float64)
    ids = torch.randint(3, 512, (1, 6))
    with torch.no_grad():
        before = ours(ids)[-1]
        ours.layers[2].layer_scalar.mul_(2.0)
        after = ours(ids)[-1]
    assert _rel(after, before) > 1e-3


def test_kv_cache_greedy_generation_matches_transformers_full_recompute():
    from ltx2_core.text.generate import generate_ids

    ref, ours = _pair(torch.float64, seed=5)
    prompt = torch.randint(3, 512, (1, 5))
    new = generate_ids(ours, prompt, 9, stop_ids=())  # KV cache, one token per step
    ids = prompt
    with torch.no_grad():
        for _ in range(9):
            last = ref(input_ids=ids).last_hidden_state[:, -1]  # (1, hidden): full recompute
            token = (last @ ref.embed_tokens.weight.T).argmax(-1, keepdim=True)
            ids = torch.cat((ids, token), dim=1)
    assert new.shape == (1, 9) and torch.equal(new[0], ids[0, 5:])


def test_bfloat16_error_is_that_of_transformers_bfloat16():
    """In bfloat16 (how the file ships) our deviation from the float64 result is no larger than transformers'
    own bfloat16 deviation (q is pre-scaled by sqrt(head_dim) for sdpa: one extra bf16 rounding)."""
    ref64, ours64 = _pair(torch.float64, seed=11)
    ref16, ours16 = _pair(torch.bfloat16, seed=11)
    ids = torch.randint(3, 512, (2, 12))
    with torch.no_grad():
        exact = ours64(ids)[-1]
        ours_err = _rel(ours16(ids)[-1].double(), exact)
        ref_err = _rel(ref16(input_ids=ids, output_hidden_states=True).hidden_states[-1].double(), exact)
    assert ours_err < 0.05 and ours_err <= 1.5 * ref_err + 1e-3, (ours_err, ref_err)
