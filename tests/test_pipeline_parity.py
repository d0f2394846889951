"""A full guided denoise loop (dev guidance; text, image and keyframe conditioning) equals ltx-pipelines 1.0.0's
`euler_denoising_loop` + `multi_modal_guider_denoising_func` on ltx-core 1.0.0 (`_pipeline_oracle`)."""

import dataclasses
import os
import sys

import pytest
import torch
from ltx_core.conditioning import VideoConditionByKeyframeIndex, VideoConditionByLatentIndex

sys.path.insert(0, os.path.dirname(__file__))
from _pipeline_oracle import random_contexts, reference_run, tiny_models  # noqa: E402

from ltx2_core.pipeline.conditioning import (  # noqa: E402
    Keyframe, ReplaceFrames, apply_conditionings, initial_audio_state, initial_video_state,
)
from ltx2_core.pipeline.denoise import TextContext, denoise  # noqa: E402
from ltx2_core.pipeline.guidance import Guidance, GuidanceParams  # noqa: E402
from ltx2_core.pipeline.latents import draw_noise, latent_shape, make_generator  # noqa: E402
from ltx2_core.pipeline.schedules import ltx2_sigmas  # noqa: E402

FPS = 24.0
# Reference dev defaults with the STG block moved into the 2-layer tiny model.
GUIDANCE = Guidance(
    video=GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
    audio=GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
)


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module")
def models():
    return {version: tiny_models(seed=3, version=version) for version in ("2.0", "2.3")}


def _case(case):
    shape = latent_shape(96, 64, 17, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)
    gen = torch.Generator().manual_seed(11)
    image = torch.randn(1, 8, 1, shape.height, shape.width, generator=gen)
    clip = torch.randn(1, 8, 2, shape.height, shape.width, generator=gen)
    if case == "t2av":
        return shape, [], []
    if case == "i2av":
        return shape, [ReplaceFrames(image, strength=1.0)], [VideoConditionByLatentIndex(image, 1.0, 0)]
    # first frame at partial strength + a middle keyframe image + a keyframe clip at frame 0
    items = [ReplaceFrames(image, 0.8), Keyframe(image, 8, 1.0, narrow_single_frame=False), Keyframe(clip, 0, 0.9)]
    ref_items = [VideoConditionByLatentIndex(image, 0.8, 0), VideoConditionByKeyframeIndex(image, 8, 1.0),
                 VideoConditionByKeyframeIndex(clip, 0, 0.9)]
    return shape, items, ref_items


def _ours(model, case, batch_passes=True, guidance=GUIDANCE):
    shape, items, _ = _case(case)
    pos, neg = random_contexts(model)
    video = apply_conditionings(initial_video_state(shape, FPS), items, shape, FPS)
    audio = initial_audio_state(shape)
    noise = draw_noise([video.latent.shape, audio.latent.shape], make_generator(5))
    return denoise(model, shape, video, audio, ltx2_sigmas(4), TextContext(*pos), TextContext(*neg), guidance,
                   noise=noise, batch_passes=batch_passes)


def _reference(model, oracle, case, guidance=GUIDANCE):
    shape, _, ref_items = _case(case)
    pos, neg = random_contexts(model)
    return reference_run(oracle, shape, FPS, ltx2_sigmas(4), guidance, pos, neg, ref_items, seed=5)


@pytest.mark.parametrize("version", ["2.0", "2.3"])
@pytest.mark.parametrize("case", ["t2av", "i2av", "keyframes"])
def test_guided_loop_matches_reference(models, case, version):
    ours, oracle = models[version]
    result = _ours(ours, case)
    ref_video, ref_audio = _reference(ours, oracle, case)
    rel_v, rel_a = _rel(result.video, ref_video), _rel(result.audio, ref_audio)
    print(f"{version} {case}: video rel {rel_v:.2e}, audio rel {rel_a:.2e}")
    assert result.video.shape == ref_video.shape and result.audio.shape == ref_audio.shape
    assert rel_v <= 2e-6 and rel_a <= 2e-6
    if case == "i2av":  # the conditioned first latent frame is kept exactly
        assert torch.equal(result.video[:, :, 0], ref_video[:, :, 0])


def test_sequential_passes_equal_batched_passes(models):
    ours, _ = models["2.0"]
    batched, sequential = _ours(ours, "keyframes", True), _ours(ours, "keyframes", False)
    assert _rel(sequential.video, batched.video) < 1e-5 and _rel(sequential.audio, batched.audio) < 1e-5


def test_mixed_per_stream_guidance_matches_reference(models):
    """Video: CFG + modality isolation only; audio: STG on block 0 + rescale only."""
    mixed = Guidance(GuidanceParams(cfg=4.0, modality=2.0),
                     GuidanceParams(stg=2.0, stg_blocks=(0,), rescale=0.5))
    ours, oracle = models["2.3"]
    result = _ours(ours, "i2av", guidance=mixed)
    ref_video, ref_audio = _reference(ours, oracle, "i2av", guidance=mixed)
    assert _rel(result.video, ref_video) <= 2e-6 and _rel(result.audio, ref_audio) <= 2e-6
    plain = _ours(ours, "i2av", guidance=Guidance())
    assert _rel(plain.audio, ref_audio) > 1e-3  # the guidance changes the result


def test_float64_loop_matches_reference(models):
    import copy

    ours, oracle = (copy.deepcopy(m).double() for m in models["2.0"])
    shape, items, ref_items = _case("keyframes")
    pos, neg = (tuple(t.double() for t in pair) for pair in random_contexts(ours))
    ref_video, ref_audio = reference_run(oracle, shape, FPS, ltx2_sigmas(4), GUIDANCE, pos, neg,
                                         [type(i)(*(a.double() if torch.is_tensor(a) else a for a in _args(i)))
                                          for i in ref_items], seed=5, dtype=torch.float64)
    items = [dataclasses.replace(i, latent=i.latent.double()) for i in items]
    video = apply_conditionings(initial_video_state(shape, FPS, dtype=torch.float64), items, shape, FPS)
    audio = initial_audio_state(shape, dtype=torch.float64)
    noise = draw_noise([video.latent.shape, audio.latent.shape], make_generator(5), torch.float64)
    result = denoise(ours, shape, video, audio, ltx2_sigmas(4), TextContext(*pos), TextContext(*neg), GUIDANCE,
                     noise=noise)
    err_v, err_a = (result.video - ref_video).abs().max().item(), (result.audio - ref_audio).abs().max().item()
    print(f"float64 keyframes: video abs {err_v:.1e}, audio abs {err_a:.1e}")
    # ltx-core computes x0 and the Euler step in float32 even for float64 latents (to_denoised, EulerDiffusionStep)
    assert err_v < 1e-4 and err_a < 1e-4


def _args(item):
    """Constructor arguments of an ltx-core conditioning item (latent-index or keyframe-index)."""
    if isinstance(item, VideoConditionByLatentIndex):
        return item.latent, item.strength, item.latent_idx
    return item.keyframes, item.frame_idx, item.strength
