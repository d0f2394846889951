"""LTX-2.5 transformer switches (bias-free video FFN, keyframe marker): parity with diffusers 0.42.1,
detection from keys / metadata, and the full-size key and parameter counts on the meta device."""

import dataclasses
import json

import pytest
import torch

from ltx2_core.errors import CheckpointError
from ltx2_core.transformer import LTX2Transformer, TransformerConfig
from ltx2_core.transformer.keys import official_to_diffusers
from test_transformer_oracle_utils import make_inputs, max_errors, random_model


def _diffusers(config, state, dtype):
    from diffusers.models.transformers.transformer_ltx2 import LTX2VideoTransformer3DModel

    c = config
    ref = LTX2VideoTransformer3DModel(
        in_channels=c.in_channels, out_channels=c.out_channels, num_attention_heads=c.heads,
        attention_head_dim=c.head_dim, cross_attention_dim=c.cross_attention_dim,
        audio_in_channels=c.audio_in_channels, audio_out_channels=c.audio_out_channels,
        audio_num_attention_heads=c.audio_heads, audio_attention_head_dim=c.audio_head_dim,
        audio_cross_attention_dim=c.audio_cross_attention_dim, num_layers=c.num_layers, caption_channels=1,
        rope_type=c.rope_type, gated_attn=True, audio_gated_attn=True, cross_attn_mod=True,
        audio_cross_attn_mod=True, use_prompt_embeddings=False, ff_bias=c.ff_bias, audio_ff_bias=c.audio_ff_bias,
        use_prompt_adaln_single=True, use_keyframes_abs_pos_embedding=c.keyframe_marker,
    ).to(dtype)
    ref.load_state_dict({official_to_diffusers(k): v for k, v in state.items()}, strict=True)
    return ref


def _first_frame_mask(video, height=2, width=3):
    mask = torch.zeros(video.latent.shape[:2])
    mask[:, : height * width] = 1.0
    return mask


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["fp64", "fp32"])
def test_parity_diffusers_ltx25_with_keyframe_mask(dtype):
    config = TransformerConfig.tiny("2.5", cross_modulation="own_timesteps")
    ours = random_model(config, torch.float64)
    assert "keyframes_abs_pos_embedding" in ours.state_dict()
    assert "transformer_blocks.0.ff.net.0.proj.bias" not in ours.state_dict()
    assert "transformer_blocks.0.audio_ff.net.0.proj.bias" in ours.state_dict()
    ref = _diffusers(config, ours.state_dict(), dtype)
    ours = ours.to(dtype)
    video, audio = make_inputs(config, dtype, first_frame_clean=True, keyframe=True, audio_sigma=0.3)
    mask = _first_frame_mask(video)
    mask[1, -6:] = 1.0  # a generated keyframe slot of item 1
    video = dataclasses.replace(video, keyframes_mask=mask)
    with torch.no_grad():
        got = ours(video, audio)
        want = ref(hidden_states=video.latent, audio_hidden_states=audio.latent, encoder_hidden_states=video.context,
                   audio_encoder_hidden_states=audio.context, timestep=video.timesteps * 1000,
                   audio_timestep=audio.timesteps * 1000, sigma=video.sigma * 1000, audio_sigma=audio.sigma * 1000,
                   video_coords=video.positions, audio_coords=audio.positions, use_cross_timestep=False,
                   video_keyframes_mask=mask.unsqueeze(-1), return_dict=False)
        unmarked = ours(dataclasses.replace(video, keyframes_mask=None), audio)
    for g, w in zip(got, want):
        _, rel_err = max_errors(g, w)
        # diffusers keeps a float32 step inside its fp64 forward (measured 1.9e-8 rel): fp64 cannot reach 1e-10
        assert rel_err <= (1e-7 if dtype == torch.float64 else 1e-5), rel_err
    # diffusers' T2V / I2V pipelines pass no mask: that is the unmarked forward, which differs
    assert (unmarked[0] - got[0]).abs().max() > 1e-3


def test_zero_marker_is_a_no_op():
    config = TransformerConfig.tiny("2.5")
    model = random_model(config, torch.float64)
    with torch.no_grad():
        model.keyframes_abs_pos_embedding.zero_()
        video, audio = make_inputs(config, torch.float64)
        plain = model(video, audio)[0]
        marked = model(dataclasses.replace(video, keyframes_mask=_first_frame_mask(video)), audio)[0]
    assert torch.equal(plain, marked)


def test_detection_from_keys_and_metadata():
    config = TransformerConfig.tiny("2.5")
    shapes = {k: tuple(v.shape) for k, v in LTX2Transformer(config, device="meta").state_dict().items()}
    assert TransformerConfig.from_state_dict(shapes) == config.replace(cross_modulation="own_scale_other_gate")
    meta = config.to_metadata()
    assert meta["transformer"]["ff_bias"] is False and meta["transformer"]["use_keyframes_abs_pos_embedding"] is True
    assert TransformerConfig.from_metadata(meta) == config.replace(av_ca_timestep_scale_multiplier=1000.0)
    assert TransformerConfig.from_metadata(TransformerConfig.tiny("2.3").to_metadata()).version == "2.3"
    bad = {"transformer": {**meta["transformer"], "use_prompt_adaln_single": False}}
    with pytest.raises(CheckpointError, match="use_prompt_adaln_single=False"):
        TransformerConfig.from_metadata(bad)


def test_input_validation_of_keyframes_mask():
    config = TransformerConfig.tiny("2.5")
    model = random_model(config, torch.float32)
    video, audio = make_inputs(config, torch.float32)
    with pytest.raises(Exception, match="keyframes_mask must be"):
        model(dataclasses.replace(video, keyframes_mask=torch.ones(2, 3)), audio)


def test_full_size_ltx25_counts_on_meta():
    model = LTX2Transformer(TransformerConfig.ltx25_22b(), device="meta")
    state = model.state_dict()
    assert len(state) == 4091
    assert sum(p.numel() for p in state.values()) == 18_987_859_200
    ltx23 = LTX2Transformer(TransformerConfig.ltx23_22b(), device="meta").state_dict()
    assert set(ltx23) - set(state) == {f"transformer_blocks.{i}.ff.net.{j}" for i in range(48)
                                       for j in ("0.proj.bias", "2.bias")}
    assert set(state) - set(ltx23) == {"keyframes_abs_pos_embedding"}


def test_float32_tables_kept_as_stored(tmp_path):
    from safetensors.torch import save_file

    from ltx2_core.transformer import load_transformer

    config = TransformerConfig.tiny("2.5")
    model = random_model(config, torch.float32)
    state = {k: (v if "scale_shift_table" in k else v.to(torch.bfloat16)).contiguous()
             for k, v in model.state_dict().items()}
    path = tmp_path / "ltx-2.5-tiny.safetensors"
    save_file({"model.diffusion_model." + k: v for k, v in state.items()}, str(path),
              {"config": json.dumps(config.to_metadata()), "model_version": "2.5.0"})
    loaded = load_transformer(str(path), dtype=torch.bfloat16)
    tables = {k: v.dtype for k, v in loaded.state_dict().items() if "scale_shift_table" in k}
    assert len(tables) == 2 + 2 * 6 and set(tables.values()) == {torch.float32}
    assert loaded.patchify_proj.weight.dtype == torch.bfloat16
    assert loaded.config.keyframe_marker and not loaded.config.ff_bias
    video, audio = make_inputs(config, torch.bfloat16)
    with torch.no_grad():
        out = loaded(dataclasses.replace(video, keyframes_mask=_first_frame_mask(video)), audio)
    assert out[0].dtype == torch.bfloat16 and torch.isfinite(out[0].float()).all()


def test_gguf_round_trip_keeps_ltx25_switches_and_release(tmp_path):
    from safetensors.torch import save_file

    from ltx2_core.convert import convert
    from ltx2_core.gguf.loader import load_transformer_gguf
    from ltx2_core.release import read_release

    config = TransformerConfig.tiny("2.5")
    model = random_model(config, torch.float32)
    src, dst = tmp_path / "ltx-2.5-tiny.safetensors", tmp_path / "ltx-2.5-tiny-Q8_0.gguf"
    save_file({"model.diffusion_model." + k: v.contiguous() for k, v in model.state_dict().items()}, str(src),
              {"config": json.dumps(config.to_metadata()), "model_version": "2.5.0",
               "gemma_source_checkpoint": json.dumps({"gemma_version": "gemma4-12b-ltx-v1"})})
    counts = convert(str(src), str(dst), "Q8_0", min_elements=64)
    loaded = load_transformer_gguf(str(dst), dtype=torch.float32)
    assert loaded.config.keyframe_marker and not loaded.config.ff_bias
    assert read_release(str(dst)).gemma_version == "gemma4-12b-ltx-v1"
    video, audio = make_inputs(config, torch.float32)
    video = dataclasses.replace(video, keyframes_mask=_first_frame_mask(video))
    with torch.no_grad():
        want, got = model(video, audio)[0], loaded(video, audio)[0]
    rel = max_errors(got, want)[1]
    assert counts.get("Q8_0", 0) > 0 and rel <= 5e-2  # 8-bit weights


def test_diffusers_single_file_converter_misses_prompt_adaln_and_our_rename_does_not():
    """diffusers' `convert_ltx2_transformer_to_diffusers` leaves `prompt_adaln_single.*` /
    `audio_prompt_adaln_single.*` unrenamed (a strict load fails); our rename table maps them."""
    from diffusers.loaders.single_file_utils import convert_ltx2_transformer_to_diffusers

    config = TransformerConfig.tiny("2.5")
    state = LTX2Transformer(config, device="meta").state_dict()
    expected = set(_diffusers(config, random_model(config).state_dict(), torch.float32).state_dict())
    theirs = set(convert_ltx2_transformer_to_diffusers({"model.diffusion_model." + k: v for k, v in state.items()}))
    ours = {official_to_diffusers(k) for k in state}
    assert ours == expected
    missing, unexpected = expected - theirs, theirs - expected
    assert len(missing) == len(unexpected) == 12  # 2 streams x (linear_1, linear_2, linear) x (weight, bias)
    assert all(k.startswith(("prompt_adaln_single.", "audio_prompt_adaln_single.")) for k in unexpected)
