"""Denoise loop behaviour: determinism, callback, interrupt, frozen audio, audio-only, samplers."""

import pytest
import torch

from ltx2_core.errors import InputError
from ltx2_core.pipeline.conditioning import (
    FrozenAudio, Keyframe, ReplaceFrames, apply_conditionings, initial_audio_state, initial_video_state,
)
from ltx2_core.pipeline.denoise import TextContext, denoise
from ltx2_core.pipeline.guidance import Guidance, GuidanceParams
from ltx2_core.pipeline.latents import latent_shape, make_generator
from ltx2_core.pipeline.sampler import GradientEstimation, blend_clean, euler_step, to_x0
from ltx2_core.pipeline.schedules import ltx2_sigmas
from ltx2_core.transformer import LTX2Transformer, TransformerConfig

FPS = 24.0
GUIDANCE = Guidance(GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
                    GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0))


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = LTX2Transformer(TransformerConfig.tiny("2.0")).eval()
    with torch.no_grad():  # parameters such as scale-shift tables start uninitialized
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    shape = latent_shape(64, 64, 9, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)
    gen = torch.Generator().manual_seed(1)
    pos = TextContext(torch.randn(1, 4, 24, generator=gen), torch.randn(1, 4, 24, generator=gen))
    neg = TextContext(torch.randn(1, 4, 24, generator=gen), torch.randn(1, 4, 24, generator=gen))
    return model, shape, pos, neg


def _run(setup, seed=7, **kwargs):
    model, shape, pos, neg = setup
    video = kwargs.pop("video", initial_video_state(shape, FPS))
    audio = kwargs.pop("audio", initial_audio_state(shape))
    return denoise(model, shape, video, audio, ltx2_sigmas(4), pos, neg, kwargs.pop("guidance", GUIDANCE),
                   generator=make_generator(seed), **kwargs)


def test_same_seed_same_output_and_different_seed_differs(setup):
    a, b, c = _run(setup, 7), _run(setup, 7), _run(setup, 8)
    assert torch.equal(a.video, b.video) and torch.equal(a.audio, b.audio)
    assert not torch.allclose(a.video, c.video)
    assert a.video.shape == (1, 8, 2, 2, 2) and a.audio.shape == (1, 2, 9, 4)


def test_callback_sees_every_step_and_an_exception_aborts(setup):
    seen = []
    _run(setup, callback=lambda step, total, v, a: seen.append((step, total, tuple(v.shape), tuple(a.shape))))
    assert seen == [(i, 4, (1, 8, 2, 2, 2), (1, 2, 9, 4)) for i in range(4)]

    class Stop(Exception):
        pass

    calls = []

    def interrupt(step, total, v, a):
        calls.append(step)
        if step == 1:
            raise Stop()

    with pytest.raises(Stop):
        _run(setup, callback=interrupt)
    assert calls == [0, 1]


def test_frozen_audio_is_kept_exactly_and_changes_the_video(setup):
    model, shape, _, _ = setup
    given = torch.randn(1, 2, 12, 4, generator=torch.Generator().manual_seed(3))
    audio = apply_conditionings(initial_audio_state(shape), [FrozenAudio(given)], shape, FPS)
    audio_guidance = Guidance(GUIDANCE.video, GuidanceParams())
    result = _run(setup, audio=audio, guidance=audio_guidance)
    assert torch.equal(result.audio, given[:, :, : shape.audio_frames])
    free = _run(setup, guidance=audio_guidance)
    assert not torch.allclose(result.video, free.video)
    with pytest.raises(InputError, match="too short"):
        FrozenAudio(given[:, :, :3]).apply(initial_audio_state(shape), shape, FPS)


def test_audio_only_and_conditioned_tokens(setup):
    model, shape, _, _ = setup
    result = _run(setup, video=None)
    assert result.video is None and result.audio.shape == (1, 2, 9, 4)
    image = torch.randn(1, 8, 1, 2, 2)
    video = apply_conditionings(initial_video_state(shape, FPS), [ReplaceFrames(image), Keyframe(image, 8, 0.5)],
                                shape, FPS)
    conditioned = _run(setup, video=video)
    assert torch.equal(conditioned.video[:, :, 0], image[:, :, 0])
    assert conditioned.video_tokens.shape[1] == 8 + 4  # appended keyframe tokens are dropped from `.video`


def test_gradient_estimation_sampler_runs_and_differs_from_euler(setup):
    euler = _run(setup)
    ge = _run(setup, sampler="gradient_estimation")
    assert torch.isfinite(ge.video).all() and not torch.allclose(ge.video, euler.video)
    with pytest.raises(InputError, match="sampler"):
        _run(setup, sampler="dpm")


def test_sampler_math_with_per_token_sigmas():
    x, v = torch.randn(1, 3, 4), torch.randn(1, 3, 4)
    mask = torch.tensor([[[1.0], [0.5], [0.0]]])
    x0 = to_x0(x, v, mask.squeeze(-1) * 0.8)
    torch.testing.assert_close(x0[:, 2], x[:, 2])  # mask 0: sigma 0, x0 = x
    torch.testing.assert_close(x0[:, 1], x[:, 1] - 0.4 * v[:, 1])
    clean = torch.randn(1, 3, 4)
    blended = blend_clean(x0, mask, clean)
    torch.testing.assert_close(blended[:, 2], clean[:, 2])
    torch.testing.assert_close(euler_step(x, blended, 0.8, 0.0), blended)  # the last step lands on x0
    ge = GradientEstimation()
    assert torch.equal(ge.step(x, blended, 0.8, 0.0), blended)


def test_batched_passes_fall_back_to_sequential_when_out_of_memory(setup):
    model, shape, pos, neg = setup
    calls = []

    def tight_memory_model(video, audio, perturbations):
        calls.append(video.latent.shape[0])
        if video.latent.shape[0] > 1:
            raise torch.OutOfMemoryError("simulated")
        return model(video, audio, perturbations)

    reference = _run(setup)
    fallback = denoise(tight_memory_model, shape, initial_video_state(shape, FPS), initial_audio_state(shape),
                       ltx2_sigmas(4), pos, neg, GUIDANCE, generator=make_generator(7))
    assert calls[:5] == [4, 1, 1, 1, 1]
    torch.testing.assert_close(fallback.video, reference.video, rtol=1e-5, atol=1e-6)


def test_continuing_from_a_latent_keeps_its_frames(setup):
    model, shape, _, _ = setup
    previous = torch.randn(1, 8, 2, 2, 2)  # both latent frames of an earlier clip: nothing left to generate
    video = apply_conditionings(initial_video_state(shape, FPS), [ReplaceFrames(previous)], shape, FPS)
    assert torch.equal(_run(setup, video=video).video, previous)
    head = apply_conditionings(initial_video_state(shape, FPS), [ReplaceFrames(previous[:, :, :1], 0.6)], shape, FPS)
    assert torch.allclose(head.mask[:, :4], torch.tensor(0.4)) and torch.all(head.mask[:, 4:] == 1)
