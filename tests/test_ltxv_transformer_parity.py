"""LTX-Video transformer vs the official ltx_video 0.1.2 Transformer3DModel and diffusers LTXVideoTransformer3DModel
(same random weights through the rename table): per-token timesteps, text mask, STG, batch 2, non-square grid."""

import pytest
import torch

from ltx2_core.ltxv import LTXVTransformer, LTXVTransformerConfig, video_positions
from ltx2_core.ltxv.transformer.tiny import random_state_dict

oracles = pytest.importorskip("_ltxv_transformer_oracles")
pytest.importorskip("ltx_video")
pytest.importorskip("diffusers")


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def _case(dtype, causal=True):
    config = LTXVTransformerConfig.tiny(num_layers=3, causal_temporal_positioning=causal)
    state = random_state_dict(config, seed=3)
    ours = LTXVTransformer(config, dtype=dtype)
    ours.load_state_dict({k: v.to(dtype) for k, v in state.items()})
    g = torch.Generator().manual_seed(1)
    batch, frames, height, width, text = 2, 3, 2, 5, 7
    tokens = frames * height * width
    inputs = dict(
        latent=torch.randn(batch, tokens, config.in_channels, generator=g, dtype=dtype),
        positions=video_positions(frames, height, width, batch=batch, frame_rate=24.0,
                                  causal_temporal_positioning=causal),
        context=torch.randn(batch, text, config.caption_channels, generator=g, dtype=dtype),
        timestep=torch.rand(batch, tokens, generator=g, dtype=dtype),
        mask=torch.tensor([[1.0] * text, [1.0] * 4 + [0.0] * 3]),
    )
    return config, state, ours.eval(), inputs


def _ours(model, inputs, **kwargs):
    with torch.no_grad():
        return model(inputs["latent"], inputs["positions"], inputs["context"], inputs["timestep"], inputs["mask"],
                     **kwargs)


def _official(model, inputs, **kwargs):
    return oracles.official_forward(model, inputs["latent"], inputs["positions"], inputs["context"],
                                    inputs["timestep"], inputs["mask"], **kwargs)


@pytest.mark.parametrize("causal", [False, True])
def test_fp32_matches_official_and_diffusers(causal):
    config, state, ours, inputs = _case(torch.float32, causal)
    official = oracles.official_model(config, state, torch.float32)
    diffusers = oracles.diffusers_model(config, state, torch.float32)
    out = _ours(ours, inputs)
    assert out.shape == inputs["latent"].shape
    assert _rel(out, _official(official, inputs)) <= 1e-5
    assert _rel(out, oracles.diffusers_forward(diffusers, inputs["latent"], inputs["positions"], inputs["context"],
                                               inputs["timestep"], inputs["mask"])) <= 1e-5


@pytest.mark.parametrize("mode", ["attention_values", "attention_skip", "transformer_block"])
def test_stg_modes_match_official(mode):
    config, state, ours, inputs = _case(torch.float32)
    official = oracles.official_model(config, state, torch.float32)
    mask = ours.skip_mask(2, skip_blocks=[1], items=[1])
    perturbed = _ours(ours, inputs, skip_layer_mask=mask, stg_mode=mode)
    assert _rel(perturbed, _official(official, inputs, skip_layer_mask=mask, mode=mode)) <= 1e-5
    plain = _ours(ours, inputs)
    assert torch.equal(perturbed[0], plain[0])  # only the perturbed batch item changes
    assert _rel(perturbed[1], plain[1]) > 1e-3


def test_fp64_matches_official_exactly():
    """The oracles take every RMSNorm variance in float32; with those norms swapped for exact ones the
    official float64 model agrees to rounding."""
    config, state, ours, inputs = _case(torch.float64)
    official = oracles.exact_norms(oracles.official_model(config, state, torch.float64))
    out = _ours(ours, inputs)
    assert _rel(out, _official(official, inputs)) <= 1e-10
    mask = ours.skip_mask(2, skip_blocks=[0, 2], items=[0])
    assert _rel(_ours(ours, inputs, skip_layer_mask=mask),
                _official(official, inputs, skip_layer_mask=mask.double(), mode="attention_values")) <= 1e-10


def test_fp64_vs_diffusers_is_bounded_by_its_float32_rope():
    """diffusers' apply_rotary_emb upcasts q/k with .float() (float32) even for a float64 model: agreement
    is at the float32 level, never better."""
    config, state, ours, inputs = _case(torch.float64)
    diffusers = oracles.exact_norms(oracles.diffusers_model(config, state, torch.float64))
    rel = _rel(_ours(ours, inputs), oracles.diffusers_forward(diffusers, inputs["latent"], inputs["positions"],
                                                               inputs["context"], inputs["timestep"], inputs["mask"]))
    assert rel <= 1e-6


@pytest.mark.parametrize("size,keys,params", [("2b", 715, 1_923_385_472), ("13b", 1215, 13_042_569_344)])
def test_full_size_layout_equals_official(size, keys, params):
    from ltx_video.models.transformers.transformer3d import Transformer3DModel

    config = getattr(LTXVTransformerConfig, f"ltxv_{size}")()
    ours = LTXVTransformer(config, device="meta").state_dict()
    with torch.device("meta"):
        official = Transformer3DModel(**{k: v for k, v in config.to_metadata().items() if k != "_class_name"})
    theirs = official.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}
    assert len(ours) == keys
    assert sum(v.numel() for v in ours.values()) == params


@pytest.mark.parametrize("dtype,bound", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_conditioning_timesteps_match_official(dtype, bound):
    """0.9.5+ conditioning: first-frame tokens at 0, the rest at t (per item): the model embeds each distinct
    timestep once and gathers; the result equals the official per-token computation."""
    config, state, ours, inputs = _case(dtype)
    official = oracles.exact_norms(oracles.official_model(config, state, dtype))
    timestep = torch.tensor([0.9, 0.4], dtype=dtype)[:, None].repeat(1, inputs["latent"].shape[1])
    timestep[:, :10] = 0.0  # the first latent frame (2 x 5 tokens)
    inputs["timestep"] = timestep
    assert _rel(_ours(ours, inputs), _official(official, inputs)) <= bound
