"""Construction, dtypes, seams and input checks of LTX2Transformer."""

import dataclasses
import types

import pytest
import torch
from torch import nn

from ltx2_core.attention import sdpa_attention
from ltx2_core.errors import InputError
from ltx2_core.transformer import LTX2Transformer, Perturbations, TransformerConfig
from test_transformer_oracle_utils import make_inputs, random_model


def test_meta_construction_has_no_buffers_and_full_size_builds():
    model = LTX2Transformer(TransformerConfig.ltx23_22b(), device="meta", dtype=torch.bfloat16)
    assert not list(model.buffers())
    assert all(p.device.type == "meta" and p.dtype == torch.bfloat16 for p in model.parameters())


def test_bfloat16_forward_close_to_float32():
    config = TransformerConfig.tiny("2.3")
    model = random_model(config, torch.float32)
    video, audio = make_inputs(config, torch.float32, first_frame_clean=True)
    with torch.no_grad():
        ref = model(video, audio)
        cast = lambda m: dataclasses.replace(m, latent=m.latent.bfloat16(), context=m.context.bfloat16())  # noqa: E731
        got = model.bfloat16()(cast(video), cast(audio))
    for g, r in zip(got, ref):
        assert g.dtype == torch.bfloat16 and torch.isfinite(g).all()
        assert (g.float() - r).abs().max() / r.abs().max() < 0.05


def test_operations_and_attention_fn_are_the_only_paths():
    built, calls = [], []

    class Linear(nn.Linear):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    def attention(q, k, v, heads, mask=None):
        calls.append(heads)
        return sdpa_attention(q, k, v, heads, mask)

    config = TransformerConfig.tiny("2.3")
    ops = types.SimpleNamespace(Linear=Linear)
    model = LTX2Transformer(config, operations=ops, attention_fn=attention)
    assert len(built) == sum(isinstance(m, nn.Linear) for m in model.modules())
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
        model(*make_inputs(config, torch.float32))
    assert len(calls) == config.num_layers * 6  # 2 self, 2 text, a2v, v2a per block


def test_stg_on_every_item_equals_value_passthrough_and_differs_from_plain():
    config = TransformerConfig.tiny("2.0")
    model = random_model(config, torch.float64)
    video, audio = make_inputs(config, torch.float64)
    with torch.no_grad():
        plain = model(video, audio)[0]
        all_items = model(video, audio, Perturbations.stg(2, [0]))[0]
        one_item = model(video, audio, Perturbations.stg(2, [0], items=[1]))[0]
    assert (one_item[0] - plain[0]).abs().max() < 1e-12  # item 0 is not perturbed
    assert (one_item[1] - all_items[1]).abs().max() < 1e-12 and (one_item[1] - plain[1]).abs().max() > 1e-3


def test_input_errors_name_the_problem():
    config = TransformerConfig.tiny("2.0")
    model = random_model(config, torch.float32)
    video, audio = make_inputs(config, torch.float32)
    with pytest.raises(InputError, match="at least one"):
        model(None, None)
    with pytest.raises(InputError, match="video.positions must be"):
        model(dataclasses.replace(video, positions=video.positions[:, :1]), audio)
    with pytest.raises(InputError, match="timesteps must be"):
        model(dataclasses.replace(video, timesteps=video.timesteps[:, :3]), audio)
    with pytest.raises(InputError, match="Perturbations describe 3 items"):
        model(video, audio, Perturbations.none(3))
