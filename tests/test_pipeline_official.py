"""Whole loops against ltx-pipelines 1.0.0 (`_pipeline_oracle`): the distilled loop, gradient estimation,
and `generate(two_stage=True)` (dev, distilled, audio-to-video) against the official two-stage flow with
the upsampler, compared on the final latents (fp32, relative error <= 2e-6)."""

import os
import sys
from types import SimpleNamespace

import pytest
import torch
from ltx_core.components.schedulers import LTX2Scheduler
from ltx_core.conditioning import VideoConditionByLatentIndex
from ltx_core.types import AudioLatentShape, VideoLatentShape, VideoPixelShape
from ltx_pipelines.utils.constants import DISTILLED_SIGMA_VALUES

sys.path.insert(0, os.path.dirname(__file__))
from _pipeline_oracle import (  # noqa: E402
    oracle_upsampler, random_contexts, reference_run, reference_two_stage, tiny_models)

from ltx2_core.pipeline.conditioning import (  # noqa: E402
    ReplaceFrames, apply_conditionings, initial_audio_state, initial_video_state,
)
from ltx2_core.pipeline.demo import demo_components  # noqa: E402
from ltx2_core.pipeline.denoise import TextContext, denoise  # noqa: E402
from ltx2_core.pipeline.generate import generate  # noqa: E402
from ltx2_core.pipeline.guidance import NO_GUIDANCE, Guidance, GuidanceParams  # noqa: E402
from ltx2_core.pipeline.latents import draw_noise, latent_shape, make_generator  # noqa: E402
from ltx2_core.pipeline.schedules import DISTILLED_SIGMAS, ltx2_sigmas  # noqa: E402
from ltx2_core.pipeline.two_stage import AudioInput, encode_audio_input  # noqa: E402

FPS = 24.0
TOL = 2e-6
GUIDANCE = Guidance(  # the dev presets with STG moved into the 2-block tiny model
    video=GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
    audio=GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
)


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module")
def pair():
    return tiny_models(seed=6, version="2.3")


def _one_stage(model, sigmas, guidance, sampler, i2v):
    shape = latent_shape(96, 64, 17, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)
    image = torch.randn(1, 8, 1, shape.height, shape.width, generator=torch.Generator().manual_seed(11))
    pos, neg = random_contexts(model)
    video = apply_conditionings(initial_video_state(shape, FPS), [ReplaceFrames(image)] if i2v else [], shape, FPS)
    audio = initial_audio_state(shape)
    noise = draw_noise([video.latent.shape, audio.latent.shape], make_generator(5))
    result = denoise(model, shape, video, audio, sigmas, TextContext(*pos), TextContext(*neg), guidance,
                     noise=noise, sampler=sampler)
    items = [VideoConditionByLatentIndex(image, 1.0, 0)] if i2v else []
    return result, shape, pos, neg, items


@pytest.mark.parametrize("i2v", [False, True], ids=["t2av", "i2av"])
def test_gradient_estimation_loop_matches_official(pair, i2v):
    ours, oracle = pair
    result, shape, pos, neg, items = _one_stage(ours, ltx2_sigmas(4), GUIDANCE, "gradient_estimation", i2v)
    ref_video, ref_audio = reference_run(oracle, shape, FPS, ltx2_sigmas(4), GUIDANCE, pos, neg, items, seed=5,
                                         loop="gradient_estimation")
    rel_v, rel_a = _rel(result.video, ref_video), _rel(result.audio, ref_audio)
    print(f"gradient estimation {'i2av' if i2v else 't2av'}: video rel {rel_v:.2e}, audio rel {rel_a:.2e}")
    # gamma 2 extrapolates the velocity change, doubling the fp32 round-off of the model calls (Euler: <= 2e-6)
    assert rel_v <= 5e-6 and rel_a <= 5e-6
    other_gamma, _ = reference_run(oracle, shape, FPS, ltx2_sigmas(4), GUIDANCE, pos, neg, items, seed=5,
                                   loop="gradient_estimation", ge_gamma=1.5)
    assert _rel(other_gamma, ref_video) > 1e-3  # the loop is sensitive to gamma


def test_gradient_estimation_float64_matches_official(pair):
    """In float64 gradient estimation agrees as closely as Euler does (ltx-core rounds x0 to float32 there),
    so the larger float32 difference above is round-off, not a different rule."""
    import copy

    from ltx2_core.pipeline.conditioning import initial_audio_state, initial_video_state

    ours, oracle = (copy.deepcopy(m).double() for m in pair)
    shape = latent_shape(96, 64, 17, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)
    pos, neg = (tuple(t.double() for t in ctx) for ctx in random_contexts(ours))
    video, audio = initial_video_state(shape, FPS, dtype=torch.float64), initial_audio_state(shape, dtype=torch.float64)
    noise = draw_noise([video.latent.shape, audio.latent.shape], make_generator(5), torch.float64)
    result = denoise(ours, shape, video, audio, ltx2_sigmas(4), TextContext(*pos), TextContext(*neg), GUIDANCE,
                     noise=noise, sampler="gradient_estimation")
    ref_video, ref_audio = reference_run(oracle, shape, FPS, ltx2_sigmas(4), GUIDANCE, pos, neg, [], seed=5,
                                         dtype=torch.float64, loop="gradient_estimation")
    rel_v, rel_a = _rel(result.video, ref_video), _rel(result.audio, ref_audio)
    print(f"gradient estimation float64: video rel {rel_v:.2e}, audio rel {rel_a:.2e}")
    assert result.video.dtype == torch.float64 and rel_v <= 1.5e-6 and rel_a <= 1.5e-6


def test_distilled_loop_matches_official(pair):
    ours, oracle = pair
    assert DISTILLED_SIGMAS == tuple(DISTILLED_SIGMA_VALUES)
    sigmas = torch.tensor(DISTILLED_SIGMAS)
    result, shape, pos, neg, items = _one_stage(ours, sigmas, NO_GUIDANCE, "euler", True)
    ref_video, ref_audio = reference_run(oracle, shape, FPS, sigmas, None, pos, neg, items, seed=5)
    rel_v, rel_a = _rel(result.video, ref_video), _rel(result.audio, ref_audio)
    print(f"distilled i2av: video rel {rel_v:.2e}, audio rel {rel_a:.2e}")
    assert rel_v <= TOL and rel_a <= TOL


# ---------------------------------------------------------------- two stages through generate()
SIZE = dict(width=128, height=128, frames=9, fps=FPS)


@pytest.fixture(scope="module")
def two_stage_parts():
    """The demo's VAEs, vocoder and x2 upsampler around a tiny transformer that ltx-core can mirror."""
    ours, oracle = tiny_models(seed=8, version="2.3", in_channels=16, out_channels=16, audio_in_channels=32,
                               audio_out_channels=32)
    parts = demo_components(seed=2, encoders=True)
    parts.transformer = ours
    upsampler, encoder = oracle_upsampler(parts.upsampler, parts.video_vae)
    return parts, oracle, upsampler, encoder


def _official_shape(width, height, frames, fps):
    """Latent shapes as the pipelines derive them (VideoLatentShape / AudioLatentShape from pixels)."""
    pixels = VideoPixelShape(batch=1, frames=frames, width=width, height=height, fps=fps)
    return SimpleNamespace(video=tuple(VideoLatentShape.from_pixel_shape(pixels, latent_channels=16)),
                           audio=tuple(AudioLatentShape.from_video_pixel_shape(pixels, channels=2, mel_bins=16)))


def _reference(two_stage_parts, guidance, steps=3, frozen_audio=None):
    parts, oracle, upsampler, encoder = two_stage_parts
    pos, neg = random_contexts(parts.transformer, seed=3)
    small = _official_shape(SIZE["width"] // 2, SIZE["height"] // 2, SIZE["frames"], FPS)
    full = _official_shape(SIZE["width"], SIZE["height"], SIZE["frames"], FPS)
    sigmas = (torch.tensor(DISTILLED_SIGMA_VALUES) if guidance is None
              else LTX2Scheduler().execute(steps=steps).to(torch.float32))
    return reference_two_stage(oracle, small, full, FPS, sigmas, guidance, pos, neg, seed=9, upsampler=upsampler,
                               encoder=encoder, frozen_audio=frozen_audio), (pos, neg)


def _generate(parts, contexts, guidance, distilled, steps=3, audio=None):
    parts.distilled = distilled
    try:
        return generate(parts, "", contexts=contexts, steps=steps, seed=9, two_stage=True,
                        guidance=None if distilled else guidance, audio=audio, **SIZE)
    finally:
        parts.distilled = False


@pytest.mark.parametrize("distilled", [False, True], ids=["dev", "distilled"])
def test_two_stage_generate_matches_official(two_stage_parts, distilled):
    """dev = ti2vid_two_stages (guided LTX2Scheduler stage 1), distilled = distilled.py; both decode the
    STAGE-2 audio (a dev run once returned the stage-1 audio: audio rel 1.6 against this)."""
    parts = two_stage_parts[0]
    (ref_video, ref_audio), (pos, neg) = _reference(two_stage_parts, None if distilled else GUIDANCE)
    clip = _generate(parts, (TextContext(*pos), None if distilled else TextContext(*neg)), GUIDANCE, distilled)
    rel_v, rel_a = _rel(clip.video_latent, ref_video), _rel(clip.audio_latent, ref_audio)
    print(f"two-stage {'distilled' if distilled else 'dev'}: video rel {rel_v:.2e}, audio rel {rel_a:.2e}")
    assert clip.video_latent.shape == ref_video.shape == (1, 16, 2, 4, 4)
    assert clip.audio_latent.shape == ref_audio.shape
    assert rel_v <= TOL and rel_a <= TOL


def test_two_stage_res2s_matches_official_hq_loop(two_stage_parts):
    """res_2s in both stages as ti2vid_two_stages_hq runs it (its schedule shifted for the stage-1 latent)."""
    parts, oracle, upsampler, encoder = two_stage_parts
    pos, neg = random_contexts(parts.transformer, seed=3)
    small = _official_shape(SIZE["width"] // 2, SIZE["height"] // 2, SIZE["frames"], FPS)
    full = _official_shape(**SIZE)
    sigmas = LTX2Scheduler().execute(latent=torch.empty(small.video), steps=3).to(torch.float32)
    ref_video, ref_audio = reference_two_stage(oracle, small, full, FPS, sigmas, GUIDANCE, pos, neg, seed=9,
                                               upsampler=upsampler, encoder=encoder, loop="res_2s")
    clip = generate(parts, "", contexts=(TextContext(*pos), TextContext(*neg)), sigmas=sigmas.tolist(), seed=9,
                    two_stage=True, guidance=GUIDANCE, sampler="res_2s", **SIZE)
    rel_v, rel_a = _rel(clip.video_latent, ref_video), _rel(clip.audio_latent, ref_audio)
    print(f"two-stage res_2s: video rel {rel_v:.2e}, audio rel {rel_a:.2e}")
    assert rel_v <= TOL and rel_a <= TOL


def test_two_stage_with_distilled_lora_in_stage_2_matches_official(two_stage_parts, tmp_path):
    """ti2vid_two_stages: stage 2 runs the dev model with the distilled LoRA (stage 1 without it)."""
    from safetensors.torch import save_file

    from _pipeline_oracle import oracle_with_lora

    from ltx2_core.pipeline.lora import load_lora

    parts, oracle, upsampler, encoder = two_stage_parts
    weights, gen = parts.transformer.state_dict(), torch.Generator().manual_seed(12)
    targets = ["transformer_blocks.0.attn1.to_q", "transformer_blocks.1.ff.net.0.proj",
               "transformer_blocks.1.audio_attn2.to_v", "proj_out"]
    lora = {}
    for name in targets:
        out_dim, in_dim = weights[name + ".weight"].shape
        lora[name + ".lora_A.weight"] = torch.randn(4, in_dim, generator=gen) * 0.1
        lora[name + ".lora_B.weight"] = torch.randn(out_dim, 4, generator=gen) * 0.1
    path = str(tmp_path / "distilled-lora.safetensors")
    save_file({"diffusion_model." + k: v for k, v in lora.items()}, path)
    pos, neg = random_contexts(parts.transformer, seed=3)
    small = _official_shape(SIZE["width"] // 2, SIZE["height"] // 2, SIZE["frames"], FPS)
    full = _official_shape(**SIZE)
    ref_video, ref_audio = reference_two_stage(
        oracle, small, full, FPS, LTX2Scheduler().execute(steps=3).to(torch.float32), GUIDANCE, pos, neg, seed=9,
        upsampler=upsampler, encoder=encoder, stage2_model=oracle_with_lora(parts.transformer, lora, 0.8))
    parts.stage2_lora, parts.stage2_lora_strength = load_lora(path), 0.8
    try:
        clip = _generate(parts, (TextContext(*pos), TextContext(*neg)), GUIDANCE, False)
        parts.stage2_lora = None
        plain = _generate(parts, (TextContext(*pos), TextContext(*neg)), GUIDANCE, False)
    finally:
        parts.stage2_lora, parts.stage2_lora_strength = None, 1.0
    rel_v, rel_a = _rel(clip.video_latent, ref_video), _rel(clip.audio_latent, ref_audio)
    print(f"two-stage dev + distilled LoRA: video rel {rel_v:.2e}, audio rel {rel_a:.2e}")
    assert rel_v <= TOL and rel_a <= TOL
    assert _rel(plain.video_latent, ref_video) > 1e-3  # the LoRA matters


def test_two_stage_audio_to_video_matches_official(two_stage_parts):
    """a2vid_two_stage: the audio stays frozen in both stages and the output keeps the given waveform."""
    parts = two_stage_parts[0]
    wave = torch.randn(2, 16000, generator=torch.Generator().manual_seed(4)) * 0.3
    given = AudioInput(wave, 16000)
    latent = encode_audio_input(given, parts.audio_vae)
    frames = _official_shape(**SIZE).audio[2]
    (ref_video, _), (pos, neg) = _reference(two_stage_parts, Guidance(GUIDANCE.video, NO_GUIDANCE.audio),
                                            frozen_audio=latent[:, :, :frames])
    clip = _generate(parts, (TextContext(*pos), TextContext(*neg)), GUIDANCE, False, audio=given)
    rel_v = _rel(clip.video_latent, ref_video)
    print(f"two-stage a2v: video rel {rel_v:.2e}")
    assert rel_v <= TOL
    assert clip.sample_rate == 16000 and torch.equal(clip.audio, wave[:, : round(SIZE["frames"] / FPS * 16000)])


@pytest.mark.parametrize("skips", [(1, 1), (1, 0),
                                   (0, 2)], ids=["both", "video", "audio"])
def test_guidance_skip_steps_match_official(pair, skips):
    """skip_step k: a stream's guided x0 is recomputed on every (k+1)-th step and reused in between (when
    both streams skip a step, the official loop makes no model call)."""
    ours, oracle = pair
    guidance = Guidance(GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0, skip_step=skips[0]),
                        GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0, skip_step=skips[1]))
    result, shape, pos, neg, items = _one_stage(ours, ltx2_sigmas(6), guidance, "euler", False)
    ref_video, ref_audio = reference_run(oracle, shape, FPS, ltx2_sigmas(6), guidance, pos, neg, items, seed=5)
    rel_v, rel_a = _rel(result.video, ref_video), _rel(result.audio, ref_audio)
    print(f"skip steps {skips}: video rel {rel_v:.2e}, audio rel {rel_a:.2e}")
    assert rel_v <= TOL and rel_a <= TOL
