"""Numerical parity of LTX2Transformer with the official ltx-core 1.0.0 and with diffusers 0.42.1.

Identical random weights; fp64 compared by max abs error, fp32 by max error relative to the
reference's largest magnitude (fp32 against the reference's own fp32 run).
"""

import dataclasses

import pytest
import torch

from ltx2_core.transformer import Perturbations, TransformerConfig
from ltx2_core.transformer.inputs import ALL_BLOCKS, ItemPerturbation
from ltx2_core.transformer.keys import official_to_diffusers
from test_transformer_oracle_utils import (ltx_core_model, make_inputs, max_errors, random_model,
                                           to_ltx_modality, to_ltx_perturbations)

FP64_ABS = 1e-10
FP32_REL = 1e-5
DTYPES = [torch.float64, torch.float32]


def _check(ours_out, ref_out, dtype):
    for ours, ref in zip(ours_out, ref_out):
        assert (ours is None) == (ref is None)
        if ours is None:
            continue
        assert ours.shape == ref.shape and ours.dtype == dtype
        abs_err, rel_err = max_errors(ours, ref)
        assert abs_err <= FP64_ABS if dtype == torch.float64 else rel_err <= FP32_REL, (abs_err, rel_err)


def _run_ltx_core(config, dtype, video, audio, perturbations=None, patch_reference=None):
    ours = random_model(config, torch.float64)
    ref = ltx_core_model(config, ours.state_dict(), dtype)
    if patch_reference is not None:
        patch_reference(ref)
    ours = ours.to(dtype)
    batch = (video or audio).latent.shape[0]
    perturbations = perturbations or Perturbations.none(batch)
    with torch.no_grad():
        got = ours(video, audio, perturbations)
        want = ref(to_ltx_modality(video), to_ltx_modality(audio), to_ltx_perturbations(perturbations))
    return got, want


CASES = {
    "batch2_nonsquare": dict(),
    "first_frame_sigma0": dict(first_frame_clean=True),
    "appended_keyframe": dict(keyframe=True, first_frame_clean=True),
    "different_audio_sigma": dict(first_frame_clean=True, audio_sigma=0.25),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp64", "fp32"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_parity_ltx_core(version, case, dtype):
    config = TransformerConfig.tiny(version, cross_modulation="other_sigma")
    video, audio = make_inputs(config, dtype, **CASES[case])
    _check(*_run_ltx_core(config, dtype, video, audio), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp64", "fp32"])
@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_parity_ltx_core_interleaved_rope_float32_grid(version, dtype):
    config = TransformerConfig.tiny(version, cross_modulation="other_sigma", rope_type="interleaved",
                                    rope_double_precision=False)
    video, audio = make_inputs(config, dtype, first_frame_clean=True)
    _check(*_run_ltx_core(config, dtype, video, audio), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp64", "fp32"])
@pytest.mark.parametrize("mode", ["video_only", "audio_only"])
@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_parity_ltx_core_single_stream(version, mode, dtype):
    config = TransformerConfig.tiny(version, cross_modulation="other_sigma")
    video, audio = make_inputs(config, dtype, first_frame_clean=True)
    got, want = _run_ltx_core(config, dtype, video if mode == "video_only" else None,
                              audio if mode == "audio_only" else None)
    assert (got[0] is None) == (mode == "audio_only") and (got[1] is None) == (mode == "video_only")
    _check(got, want, dtype)


PERTURBATIONS = {
    "stg_block1_item1": Perturbations((ItemPerturbation(), ItemPerturbation(video_self_attn=frozenset({1}),
                                                                            audio_self_attn=frozenset({1})))),
    "stg_block0_all_items": Perturbations.stg(2, [0]),
    "a2v_v2a_off_item0": Perturbations.isolate_modalities(2, items=[0]),
    "a2v_off_all_v2a_off_block1": Perturbations((ItemPerturbation(a2v=ALL_BLOCKS, v2a=frozenset({1})),) * 2),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp64", "fp32"])
@pytest.mark.parametrize("name", list(PERTURBATIONS))
@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_parity_ltx_core_perturbations(version, name, dtype):
    config = TransformerConfig.tiny(version, cross_modulation="other_sigma")
    video, audio = make_inputs(config, dtype, first_frame_clean=True)
    got, want = _run_ltx_core(config, dtype, video, audio, PERTURBATIONS[name])
    _check(got, want, dtype)
    unperturbed, _ = _run_ltx_core(config, dtype, video, audio)
    assert (got[0] - unperturbed[0]).abs().max() > 1e-3  # the perturbation does something


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp64", "fp32"])
def test_parity_ltx_core_masks(dtype):
    config = TransformerConfig.tiny("2.3", cross_modulation="other_sigma")
    video, audio = make_inputs(config, dtype, keyframe=True)
    batch, tokens = video.latent.shape[:2]
    context_mask = torch.ones(batch, video.context.shape[1], dtype=torch.bool)
    context_mask[1, :2] = False
    weights = torch.ones(batch, tokens, tokens, dtype=dtype)
    weights[:, :-6, -6:] = 0.5  # keyframe tokens attenuated, as the attention-strength wrapper does
    weights[0, -6:, :-6] = 0.0
    video = dataclasses.replace(video, context_mask=context_mask, attention_mask=weights)
    audio = dataclasses.replace(audio, context_mask=context_mask)
    _check(*_run_ltx_core(config, dtype, video, audio), dtype)


def _head_cross_timesteps(ref):
    """ltx-core 1.0.0 turned into the current official semantics (commit 203d484, 2026-05-28):
    AV scale/shift from the stream's own per-token timesteps, gate from the other stream's sigma."""

    def patched(preprocessor):
        original = preprocessor._prepare_cross_attention_timestep

        def prepare(modality, cross_modality=None):
            args = preprocessor.simple_preprocessor.prepare(modality)
            base = type(preprocessor).prepare(preprocessor, modality, cross_modality)
            if cross_modality is None:
                return base
            own, _ = original(modality.timesteps, preprocessor.simple_preprocessor.timestep_scale_multiplier,
                              args.x.shape[0], modality.latent.dtype)
            return dataclasses.replace(base, cross_scale_shift_timestep=own)

        return prepare

    ref.video_args_preprocessor.prepare = patched(ref.video_args_preprocessor)
    ref.audio_args_preprocessor.prepare = patched(ref.audio_args_preprocessor)


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp64", "fp32"])
@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_parity_current_official_cross_modulation(version, dtype):
    config = TransformerConfig.tiny(version, cross_modulation="own_scale_other_gate")
    video, audio = make_inputs(config, dtype, first_frame_clean=True, keyframe=True, audio_sigma=0.3)
    got, want = _run_ltx_core(config, dtype, video, audio, patch_reference=_head_cross_timesteps)
    _check(got, want, dtype)
    other, _ = _run_ltx_core(config.replace(cross_modulation="other_sigma"), dtype, video, audio)
    assert (got[0] - other[0]).abs().max() > 1e-4  # the variants really differ for I2V + keyframes


def _diffusers_run(config, dtype, video, audio, use_cross_timestep, stg_blocks=None, stg_mask=None, isolate=False):
    from diffusers.models.transformers.transformer_ltx2 import LTX2VideoTransformer3DModel

    c = config
    ours = random_model(config, torch.float64)
    ref = LTX2VideoTransformer3DModel(
        in_channels=c.in_channels, out_channels=c.out_channels, num_attention_heads=c.heads,
        attention_head_dim=c.head_dim, cross_attention_dim=c.cross_attention_dim,
        audio_in_channels=c.audio_in_channels, audio_out_channels=c.audio_out_channels,
        audio_num_attention_heads=c.audio_heads, audio_attention_head_dim=c.audio_head_dim,
        audio_cross_attention_dim=c.audio_cross_attention_dim, num_layers=c.num_layers,
        caption_channels=c.caption_channels or 1, rope_type=c.rope_type, gated_attn=c.gated_attention,
        audio_gated_attn=c.gated_attention, cross_attn_mod=c.cross_attention_adaln,
        audio_cross_attn_mod=c.cross_attention_adaln, use_prompt_embeddings=c.caption_channels is not None,
        perturbed_attn=True,
    ).to(dtype)
    ref.load_state_dict({official_to_diffusers(k): v for k, v in ours.state_dict().items()}, strict=True)
    ours = ours.to(dtype)
    with torch.no_grad():
        want = ref(hidden_states=video.latent, audio_hidden_states=audio.latent, encoder_hidden_states=video.context,
                   audio_encoder_hidden_states=audio.context, timestep=video.timesteps * 1000,
                   audio_timestep=audio.timesteps * 1000, sigma=video.sigma * 1000, audio_sigma=audio.sigma * 1000,
                   video_coords=video.positions, audio_coords=audio.positions, use_cross_timestep=use_cross_timestep,
                   spatio_temporal_guidance_blocks=stg_blocks, perturbation_mask=stg_mask,
                   isolate_modalities=isolate, return_dict=False)
    return ours, want


@pytest.mark.parametrize("version", ["2.0", "2.3"])
@pytest.mark.parametrize("variant", ["own_timesteps", "other_sigma"])
def test_parity_diffusers_fp32(version, variant):
    config = TransformerConfig.tiny(version, cross_modulation=variant)
    video, audio = make_inputs(config, torch.float32, first_frame_clean=True, keyframe=True, audio_sigma=0.3)
    ours, want = _diffusers_run(config, torch.float32, video, audio, use_cross_timestep=variant == "other_sigma")
    with torch.no_grad():
        _check(ours(video, audio), want, torch.float32)


def test_parity_diffusers_stg_and_isolation_fp32():
    config = TransformerConfig.tiny("2.3", cross_modulation="own_timesteps")
    video, audio = make_inputs(config, torch.float32, first_frame_clean=True)
    ours, want = _diffusers_run(config, torch.float32, video, audio, False, stg_blocks=[1],
                                stg_mask=torch.tensor([1.0, 0.0]))
    with torch.no_grad():
        _check(ours(video, audio, Perturbations.stg(2, [1], items=[1])), want, torch.float32)
    ours, want = _diffusers_run(config, torch.float32, video, audio, False, isolate=True)
    with torch.no_grad():
        _check(ours(video, audio, Perturbations.isolate_modalities(2)), want, torch.float32)


def test_own_timesteps_differs_only_when_timesteps_differ():
    """All three cross-modulation variants agree for plain text-to-AV (every token at the same sigma)."""
    config = TransformerConfig.tiny("2.0")
    video, audio = make_inputs(config, torch.float64)
    sigma = torch.full((2,), 0.7, dtype=torch.float64)
    video = dataclasses.replace(video, sigma=sigma, timesteps=torch.full_like(video.timesteps, 0.7))
    outputs = []
    with torch.no_grad():
        for variant in ("own_timesteps", "other_sigma", "own_scale_other_gate"):
            model = random_model(config.replace(cross_modulation=variant), torch.float64)
            outputs.append(model(video, audio)[0])
    assert (outputs[0] - outputs[1]).abs().max() < 1e-12 and (outputs[0] - outputs[2]).abs().max() < 1e-12
