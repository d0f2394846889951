"""Video-to-audio: our guided denoise with a FrozenVideo stream equals the official building blocks run as the
ltx-trainer's `video_to_audio` validation does (Lightricks/LTX-2 @ 400fd310): ltx-pipelines 1.0.0's
`create_noised_state` with the encoded video as initial latent at noise scale 0 and its denoise mask zeroed,
a neutral video guider without a negative context, the audio guider with CFG / STG / modality, the 1.0.0
Euler loop, and the frozen video's Modality.sigma forced to 0 (the newer `frozen` rule; 1.0.0 had no such
flag, so the oracle zeroes it around the 1.0.0 model, and a test shows the step sigma would differ)."""

import os
import sys
from dataclasses import replace as dc_replace

import pytest
import torch
from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_pipelines.utils.helpers import create_noised_state, multi_modal_guider_denoising_func
from ltx_pipelines.utils.samplers import euler_denoising_loop

sys.path.insert(0, os.path.dirname(__file__))
from _pipeline_oracle import _tools, reference_params, tiny_models  # noqa: E402

from ltx2_core.pipeline.conditioning import (  # noqa: E402
    FrozenVideo, apply_conditionings, initial_audio_state, initial_video_state,
)
from ltx2_core.pipeline.denoise import TextContext, denoise  # noqa: E402
from ltx2_core.pipeline.guidance import NO_GUIDANCE, Guidance, GuidanceParams  # noqa: E402
from ltx2_core.pipeline.latents import draw_noise, latent_shape, make_generator  # noqa: E402
from ltx2_core.pipeline.schedules import ltx2_sigmas  # noqa: E402

FPS = 24.0
AUDIO_GUIDANCE = GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0)
GUIDANCE = Guidance(NO_GUIDANCE.video, AUDIO_GUIDANCE)  # as video_to_audio() builds it


class FrozenVideoSigma(torch.nn.Module):
    """A 1.0.0 X0Model whose video Modality.sigma is forced to 0 ("zero", the newer rule) or left ("step")."""

    def __init__(self, x0_model, rule):
        super().__init__()
        self.inner, self.rule = x0_model, rule

    def forward(self, video, audio, perturbations):
        if self.rule == "zero":
            video = dc_replace(video, sigma=torch.zeros_like(torch.as_tensor(video.sigma)))
        return self.inner(video=video, audio=audio, perturbations=perturbations)


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module")
def models():
    return {version: tiny_models(seed=6, version=version) for version in ("2.0", "2.3")}


def _inputs(model):
    c = model.config
    shape = latent_shape(96, 64, 17, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)
    gen = torch.Generator().manual_seed(31)
    dv, da = c.caption_channels or c.dim, c.caption_channels or c.audio_dim
    pos = (torch.randn(1, 6, dv, generator=gen), torch.randn(1, 6, da, generator=gen))
    neg = (torch.randn(1, 6, dv, generator=gen), torch.randn(1, 6, da, generator=gen))
    given = torch.randn(*shape.video, generator=gen)  # the encoded clip
    return shape, pos, neg, given


def _ours(model, given=None):
    shape, pos, neg, encoded = _inputs(model)
    given = encoded if given is None else given
    video = apply_conditionings(initial_video_state(shape, FPS), [FrozenVideo(given)], shape, FPS)
    audio = initial_audio_state(shape)
    noise = draw_noise([video.latent.shape, audio.latent.shape], make_generator(5))
    return denoise(model, shape, video, audio, ltx2_sigmas(4), TextContext(*pos), TextContext(*neg), GUIDANCE,
                   noise=noise)


def _official(oracle, model, rule="zero"):
    shape, pos, neg, given = _inputs(model)
    video_tools, audio_tools = _tools(shape, FPS)
    noiser = GaussianNoiser(torch.Generator().manual_seed(5))
    video = create_noised_state(video_tools, [], noiser, torch.float32, "cpu", 0.0, given)
    video = dc_replace(video, denoise_mask=torch.zeros_like(video.denoise_mask))
    audio = create_noised_state(audio_tools, [], noiser, torch.float32, "cpu", 1.0, None)
    denoise_fn = multi_modal_guider_denoising_func(
        MultiModalGuider(MultiModalGuiderParams()), MultiModalGuider(reference_params(AUDIO_GUIDANCE), neg[1]),
        pos[0], pos[1], FrozenVideoSigma(oracle, rule))
    with torch.no_grad():
        video, audio = euler_denoising_loop(ltx2_sigmas(4), video, audio, EulerDiffusionStep(), denoise_fn)
    return (video_tools.unpatchify(video_tools.clear_conditioning(video)).latent,
            audio_tools.unpatchify(audio_tools.clear_conditioning(audio)).latent, given)


@pytest.mark.parametrize("version", ["2.0", "2.3"])
def test_frozen_video_loop_matches_official(models, version):
    ours, oracle = models[version]
    result = _ours(ours)
    ref_video, ref_audio, given = _official(oracle, ours)
    rel = _rel(result.audio, ref_audio)
    print(f"{version} v2a: audio rel {rel:.2e}")
    assert result.audio.shape == ref_audio.shape and rel <= 2e-6
    assert torch.equal(result.video, given) and torch.equal(ref_video, given)  # the video never moves
    if version == "2.3":  # the step sigma (1.0.0, no frozen flag) changes the audio: sigma 0 is what is tested
        _, old_audio, _ = _official(oracle, ours, rule="step")
        assert _rel(result.audio, old_audio) > 1e-3, _rel(result.audio, old_audio)


def test_the_audio_follows_the_frozen_video(models):
    ours, _ = models["2.3"]
    shape, _, _, given = _inputs(ours)
    assert _rel(_ours(ours, given.flip(2)).audio, _ours(ours).audio) > 1e-3
