"""T5 v1.1 encoder: parity with transformers' T5EncoderModel (tiny random, fp32 / fp64, with padding) and the
full-size T5-XXL layout on the meta device."""

import pytest
import torch

from ltx2_core.text.t5 import T5Config, T5Encoder, relative_position_bucket, tiny_t5

transformers = pytest.importorskip("transformers")


def _reference(config: T5Config, model: T5Encoder, dtype):
    hf = {k: v for k, v in config.to_hf_dict().items() if k != "architectures"}
    ref = transformers.T5EncoderModel(transformers.T5Config(**hf)).to(dtype).eval()
    state = dict(model.state_dict())
    state["encoder.embed_tokens.weight"] = state["shared.weight"]
    ref.load_state_dict(state, strict=True)
    return ref


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_matches_transformers_with_padding(dtype, tol):
    config = T5Config.tiny()
    model = tiny_t5(config, seed=1, dtype=dtype).eval()
    ref = _reference(config, model, dtype)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, config.vocab_size, (3, 40), generator=generator)  # 40 > max_distance 16: far buckets
    mask = torch.ones(3, 40, dtype=torch.long)
    mask[1, 23:] = 0
    mask[2, 4:] = 0
    with torch.no_grad():
        ours = model(ids, mask)
        theirs = ref(input_ids=ids, attention_mask=mask).last_hidden_state
    assert ours.shape == (3, 40, config.d_model) and ours.dtype == dtype
    rel = ((ours - theirs).abs().max() / theirs.abs().max()).item()
    assert rel <= tol, rel
    # the mask matters: real tokens of row 2 differ from an unmasked run, and equal a run on the prefix alone
    with torch.no_grad():
        unmasked = model(ids[2:3])
        prefix = model(ids[2:3, :4])
    assert (unmasked[0, :4] - ours[2, :4]).abs().max() > 1e-3
    assert torch.allclose(prefix[0], ours[2, :4], rtol=0, atol=tol * 10 * theirs.abs().max().item())


def test_buckets_match_transformers():
    relative = torch.arange(-300, 301)[None, :]
    from transformers.models.t5.modeling_t5 import T5Attention

    for buckets, distance in ((32, 128), (8, 16)):
        theirs = T5Attention._relative_position_bucket(relative, True, buckets, distance)
        assert torch.equal(relative_position_bucket(relative, buckets, distance), theirs)
    assert relative_position_bucket(torch.tensor([0, 1, -1, 500, -500]), 32, 128).tolist() == [0, 17, 1, 31, 15]


def test_full_size_layout_equals_transformers_on_meta():
    config = T5Config.xxl()
    with torch.device("meta"):
        ours = T5Encoder(config, device="meta")
        ref = transformers.T5EncoderModel(transformers.T5Config(
            **{k: v for k, v in config.to_hf_dict().items() if k != "architectures"}))
    our_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    ref_shapes = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    ref_shapes.pop("encoder.embed_tokens.weight")  # transformers' tied alias of shared.weight
    assert our_shapes == ref_shapes
    assert len(our_shapes) == 219
    assert sum(p.numel() for p in ours.parameters()) == 4_762_310_656
    assert our_shapes["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] == (32, 64)
    assert our_shapes["encoder.block.23.layer.1.DenseReluDense.wo.weight"] == (4096, 10240)


def test_float16_guards_keep_values_finite():
    config = T5Config.tiny()
    model = tiny_t5(config, seed=2, dtype=torch.float32)
    with torch.no_grad():
        for block in model.encoder.block:
            block.layer[1].DenseReluDense.wo.weight.mul_(3000.0)  # FFN output overflows float16
    ids = torch.randint(0, config.vocab_size, (1, 12))
    half = model.to(torch.float16)(ids)
    assert torch.isfinite(half).all()
