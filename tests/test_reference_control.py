"""IC-LoRA reference tokens and reference-audio tokens: layout parity with the official conditioning items
(ltx-core 1.0.0 `VideoConditionByReferenceLatent` + `ConditioningItemAttentionStrengthWrapper`, the 1.0.0
IC-LoRA pipeline's mask downsampling) and a full guided denoise loop against ltx-pipelines 1.0.0."""

import dataclasses
import os
import sys

import pytest
import torch
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.conditioning import (ConditioningItemAttentionStrengthWrapper, VideoConditionByKeyframeIndex,
                                   VideoConditionByReferenceLatent)
from ltx_core.tools import VideoLatentTools
from ltx_core.types import AudioLatentShape, VideoLatentShape
from ltx_pipelines.ic_lora import ICLoraPipeline

sys.path.insert(0, os.path.dirname(__file__))
from _pipeline_oracle import random_contexts, reference_run, tiny_models  # noqa: E402

from ltx2_core.errors import CheckpointError, InputError  # noqa: E402
from ltx2_core.pipeline.conditioning import (Keyframe, apply_conditionings, initial_audio_state,  # noqa: E402
                                             initial_video_state)
from ltx2_core.pipeline.denoise import TextContext, denoise, _stream_input  # noqa: E402
from ltx2_core.pipeline.guidance import Guidance, GuidanceParams  # noqa: E402
from ltx2_core.pipeline.latents import draw_noise, latent_shape, make_generator  # noqa: E402
from ltx2_core.pipeline.reference import (ICLora, ReferenceAudio, ReferenceVideo, latent_attention_mask,  # noqa: E402
                                          reference_audio_positions)
from ltx2_core.pipeline.schedules import ltx2_sigmas  # noqa: E402

FPS = 24.0
SHAPE = latent_shape(128, 64, 17, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)  # latent 3 x 2 x 4
GUIDANCE = Guidance(video=GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
                    audio=GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0))


def _reference_latent(frames=3, height=1, width=2, seed=2):
    return torch.randn(1, 8, frames, height, width, generator=torch.Generator().manual_seed(seed))


def _official_state(items, shape=SHAPE):
    tools = VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape(*shape.video), FPS)
    state = tools.create_initial_state("cpu", torch.float32)
    for item in items:
        state = item.apply_to(state, tools)
    return state


def _official_item(latent, strength, factor, attention):
    item = VideoConditionByReferenceLatent(latent=latent, downscale_factor=factor, strength=strength)
    return item if attention is None else ConditioningItemAttentionStrengthWrapper(item, attention_mask=attention)


@pytest.mark.parametrize("factor,strength,attention", [(1, 1.0, None), (2, 0.7, 0.4), (2, 1.0, "mask")])
def test_token_layout_matches_official(factor, strength, attention):
    """Positions, denoise mask (timesteps), latents and the self-attention mask of the appended tokens, after a
    keyframe so the mask's block structure over earlier appended tokens is exercised."""
    ref = _reference_latent(3, 2 // factor, 4 // factor)
    key = _reference_latent(1, 2, 4, seed=3)
    weights = torch.rand(1, ref[0, 0].numel(), generator=torch.Generator().manual_seed(4)) \
        if attention == "mask" else attention
    ours = apply_conditionings(initial_video_state(SHAPE, FPS), [
        Keyframe(key, 8, 0.9, narrow_single_frame=False), ReferenceVideo(ref, strength, factor, weights)], SHAPE, FPS)
    theirs = _official_state([VideoConditionByKeyframeIndex(key, 8, 0.9), _official_item(ref, strength, factor,
                                                                                          weights)])
    assert ours.tokens == theirs.latent.shape[1] == SHAPE.video_tokens + 8 + ref[0, 0].numel()
    assert torch.equal(ours.positions, theirs.positions)
    assert torch.equal(ours.mask, theirs.denoise_mask)
    assert torch.equal(ours.latent, theirs.latent) and torch.equal(ours.clean, theirs.clean_latent)
    if attention is None:
        assert ours.attention_mask is None and theirs.attention_mask is None
    else:
        assert torch.equal(ours.attention_mask, theirs.attention_mask)
    given = _stream_input(ours, ours.latent, 0.5, torch.zeros(1, 2, 4))
    assert torch.equal(given.timesteps[0, -ref[0, 0].numel():],
                       torch.full((ref[0, 0].numel(),), 0.5 * (1 - strength)))  # per-token sigma of the reference
    assert given.attention_mask is ours.attention_mask


def test_pixel_mask_downsampling_matches_official():
    mask = torch.rand(1, 1, 17, 64, 96, generator=torch.Generator().manual_seed(1))
    ours = latent_attention_mask(mask, 3, 2, 3)
    theirs = ICLoraPipeline._downsample_mask_to_latent(mask, VideoLatentShape(1, 8, 3, 2, 3))
    assert ours.shape == (1, 18) and torch.allclose(ours, theirs, atol=1e-7)
    with pytest.raises(InputError, match="does not fit a reference of 4 latent frames"):
        latent_attention_mask(mask, 4, 2, 3)


def test_reference_audio_positions_match_newer_official():
    """Lightricks/LTX-2 @ 400fd310 `patchify_dubit_audio_reference_latent(negative_positions=True)`: the audio
    patchifier's bounds minus (last end + 0.04 s); recomputed here with the 1.0.0 patchifier."""
    latent = torch.randn(1, 2, 7, 4)
    patchifier = AudioPatchifier(patch_size=1)
    bounds = patchifier.get_patch_grid_bounds(AudioLatentShape(1, 2, 7, 4), device="cpu").float()
    expected = bounds - bounds[:, :, -1, 1].max() - 0.04
    assert torch.allclose(reference_audio_positions(1, 7), expected, atol=1e-7)
    state = ReferenceAudio(latent).apply(initial_audio_state(SHAPE), SHAPE, FPS)
    assert state.tokens == SHAPE.audio_tokens + 7 and state.target_tokens == SHAPE.audio_tokens
    assert torch.equal(state.clean[:, -7:], patchifier.patchify(latent)) and bool((state.mask[:, -7:] == 0).all())
    assert float(state.positions[:, :, -7:].max()) < 0 and state.attention_mask is None


def _ours_run(model, items, audio_items=()):
    pos, neg = random_contexts(model)
    video = apply_conditionings(initial_video_state(SHAPE, FPS), items, SHAPE, FPS)
    audio = apply_conditionings(initial_audio_state(SHAPE), audio_items, SHAPE, FPS)
    noise = draw_noise([video.latent.shape, audio.latent.shape], make_generator(5))
    return denoise(model, SHAPE, video, audio, ltx2_sigmas(3), TextContext(*pos), TextContext(*neg), GUIDANCE,
                   noise=noise)


@pytest.mark.parametrize("attention", [None, 0.5])
def test_guided_loop_with_reference_matches_official(attention):
    ours, oracle = tiny_models(seed=3, version="2.3")
    ref = _reference_latent(3, 1, 2)
    result = _ours_run(ours, [ReferenceVideo(ref, 1.0, 2, attention)])
    pos, neg = random_contexts(ours)
    ref_video, ref_audio = reference_run(oracle, SHAPE, FPS, ltx2_sigmas(3), GUIDANCE, pos, neg,
                                         [_official_item(ref, 1.0, 2, attention)], seed=5)
    rel_v = ((result.video - ref_video).norm() / ref_video.norm()).item()
    rel_a = ((result.audio - ref_audio).norm() / ref_audio.norm()).item()
    print(f"IC-LoRA loop attention={attention}: video rel {rel_v:.2e}, audio rel {rel_a:.2e}")
    assert result.video.shape == SHAPE.video and rel_v <= 2e-6 and rel_a <= 2e-6
    plain = _ours_run(ours, [])
    assert ((plain.video - result.video).norm() / result.video.norm()).item() > 1e-3  # the reference acts


def test_reference_of_wrong_size_is_refused():
    with pytest.raises(InputError, match=r"resize the reference to the generation size / 1"):
        ReferenceVideo(_reference_latent(3, 1, 2)).apply(initial_video_state(SHAPE, FPS), SHAPE, FPS)
    with pytest.raises(InputError, match="at most as many frames"):
        ReferenceVideo(_reference_latent(4, 2, 4)).apply(initial_video_state(SHAPE, FPS), SHAPE, FPS)
    with pytest.raises(InputError, match="one weight per reference token"):
        ReferenceVideo(_reference_latent(3, 2, 4), attention=torch.ones(1, 5)).apply(
            initial_video_state(SHAPE, FPS), SHAPE, FPS)
    state = ReferenceVideo(_reference_latent(3, 2, 4), attention=0.5).apply(initial_video_state(SHAPE, FPS),
                                                                             SHAPE, FPS)
    with pytest.raises(InputError, match="Keyframes must come before IC-LoRA reference tokens"):
        Keyframe(_reference_latent(1, 2, 4), 8).apply(state, SHAPE, FPS)


def test_ic_lora_on_wrong_model_is_refused():
    model, _ = tiny_models(seed=0, version="2.0")
    name = next(n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and "attn1.to_q" in n)
    width = dict(model.named_modules())[name].weight.shape
    from ltx2_core.pipeline.lora import LoraLayer
    good = ICLora({name: LoraLayer(torch.zeros(4, width[1]), torch.zeros(width[0], 4), 1.0)})
    good.check_model(model)
    wide = ICLora({name: LoraLayer(torch.zeros(4, width[1] * 2), torch.zeros(width[0] * 2, 4), 1.0)})
    with pytest.raises(CheckpointError, match="IC-LoRA for another model size"):
        wide.check_model(model)
    other = ICLora({"double_blocks.0.img_attn.qkv": LoraLayer(torch.zeros(4, 8), torch.zeros(8, 4), 1.0)})
    with pytest.raises(CheckpointError, match="IC-LoRA for another model family"):
        other.check_model(model)


@pytest.fixture(scope="module")
def demo():
    from ltx2_core.pipeline.demo import DEMO_GUIDANCE, demo_components, demo_lora
    from ltx2_core.pipeline.lora import parse_lora

    parts = demo_components(encoders=True)
    return parts, DEMO_GUIDANCE, ICLora(parse_lora(demo_lora(parts, seed=7)), 1.0, 2)


@pytest.mark.parametrize("two_stage,temporal", [(False, 1), (True, 1), (False, 2)])
def test_generate_with_reference_control(demo, two_stage, temporal):
    """The reference video (IC-LoRA on the fly, downscale 2) and voice change the clip; afterwards the plain
    transformer gives exactly the plain clip again (the IC-LoRA hooks are gone)."""
    from ltx2_core.pipeline.generate import generate
    from ltx2_core.pipeline.reference import ReferenceControl

    parts, guidance, ic_lora = demo
    ic_lora = dataclasses.replace(ic_lora, temporal_scale=temporal)
    gen = torch.Generator().manual_seed(0)
    mask = torch.rand(1, 1, 17, 64, 128, generator=gen) if temporal > 1 else None
    control = ReferenceControl(video=torch.rand(3, 17, 64, 128, generator=gen) * 2 - 1, ic_lora=ic_lora,
                               attention=0.5, attention_mask=mask, audio=torch.rand(1, 8000, generator=gen) - 0.5,
                               audio_rate=16000)
    size = dict(width=256 if two_stage else 128, height=128 if two_stage else 64, frames=17, fps=24.0, steps=2,
                guidance=guidance, two_stage=two_stage, contexts=None, prompt="a dancer")
    plain = generate(parts, **size)
    guided = generate(parts, reference=control, **size)
    again = generate(parts, **size)
    assert guided.video.shape == plain.video.shape and guided.audio.shape == plain.audio.shape
    assert (guided.video - plain.video).abs().max() > 1e-3 and (guided.audio - plain.audio).abs().max() > 1e-4
    assert torch.equal(again.video, plain.video) and torch.equal(again.audio, plain.audio)
    if two_stage:
        with pytest.raises(InputError, match=r"stage size 64x32 is not a multiple of 64 .* \(128 for two stages\)"):
            generate(parts, reference=control, **dict(size, width=128, height=64))


def test_temporal_scale_metadata_and_layout(tmp_path):
    """`reference_temporal_scale_factor` (Lightricks/LTX-2 @ 400fd310): frame 0 and every N-th frame kept, token
    times = the 1.0.0 layout at fps / N minus (N - 1) target frames, clamped at 0."""
    from safetensors.torch import save_file

    from ltx2_core.pipeline.reference.ic_lora import subsample_frames

    path = str(tmp_path / "ic.safetensors")
    save_file({"diffusion_model.a.lora_A.weight": torch.zeros(2, 4), "diffusion_model.a.lora_B.weight":
               torch.zeros(4, 2)}, path, metadata={"reference_downscale_factor": "2",
                                                   "reference_temporal_scale_factor": "2"})
    ic = ICLora.load(path, 0.5)
    assert (ic.downscale_factor, ic.temporal_scale, ic.strength) == (2, 2, 0.5)
    frames = torch.arange(33.0).view(1, 33, 1, 1)
    assert subsample_frames(frames, 2).flatten().tolist() == [0.0, *range(1, 33, 2)]  # 17 = 8k+1 kept
    assert subsample_frames(frames, 4).flatten().tolist() == [0.0, *range(1, 33, 4)]  # 9 kept
    assert subsample_frames(frames[:, :25], 2).shape[1] == 9  # 13 kept, cut to 9
    ref = _reference_latent(2, 1, 2)
    ours = ReferenceVideo(ref, 1.0, 2, None, 2).apply(initial_video_state(SHAPE, FPS), SHAPE, FPS)
    tools = VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape(*SHAPE.video), FPS / 2)
    theirs = VideoConditionByReferenceLatent(ref, downscale_factor=2).apply_to(
        tools.create_initial_state("cpu", torch.float32), tools)
    expected = theirs.positions[:, :, SHAPE.video_tokens:].clone()
    expected[:, 0] = (expected[:, 0] - 1 / FPS).clamp(min=0)
    assert torch.allclose(ours.positions[:, :, SHAPE.video_tokens:], expected, atol=1e-7)
    assert torch.equal(ours.positions[:, 1:, SHAPE.video_tokens:], theirs.positions[:, 1:, SHAPE.video_tokens:])
    save_file({"diffusion_model.a.lora_A.weight": torch.zeros(2, 4), "diffusion_model.a.lora_B.weight":
               torch.zeros(4, 2)}, path, metadata={"reference_downscale_factor": "half"})
    with pytest.raises(CheckpointError, match="reference_downscale_factor='half': expected a whole number"):
        ICLora.load(path)
