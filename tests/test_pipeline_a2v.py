"""Audio-to-video: a guided denoise with FrozenAudio equals ltx-pipelines 1.0.0's a2vid_two_stage stage
(`denoise_video_only` + `multi_modal_guider_denoising_func`, `_pipeline_oracle`): the frozen audio keeps
the positive audio context in the unconditioned pass (1.0.0 and Lightricks/LTX-2 @ 400fd310 alike) and
gets Modality.sigma 0 (the newer official rule, HEAD `state.frozen`; 1.0.0 passed the step sigma, so the
oracle zeroes it, `frozen_audio_sigma="zero"`, and a test shows the two differ)."""

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest
import torch
from ltx_core.conditioning import VideoConditionByLatentIndex

sys.path.insert(0, os.path.dirname(__file__))
from _pipeline_oracle import reference_res2s_run, reference_run, tiny_models  # noqa: E402

from ltx2_core.pipeline.conditioning import (  # noqa: E402
    FrozenAudio, ReplaceFrames, apply_conditionings, initial_audio_state, initial_video_state,
)
from ltx2_core.pipeline.denoise import TextContext, denoise  # noqa: E402
from ltx2_core.pipeline.guidance import NO_GUIDANCE, Guidance, GuidanceParams  # noqa: E402
from ltx2_core.pipeline.latents import draw_noise, latent_shape, make_generator  # noqa: E402
from ltx2_core.pipeline.schedules import ltx2_sigmas  # noqa: E402

FPS = 24.0
VIDEO_GUIDANCE = GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0)
# as generate() does for audio-to-video: the video is guided, the frozen audio is not
GUIDANCE = Guidance(VIDEO_GUIDANCE, NO_GUIDANCE.audio)


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module")
def models():
    return {version: tiny_models(seed=4, version=version) for version in ("2.0", "2.3")}


def _inputs(model):
    c = model.config
    shape = latent_shape(96, 64, 17, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)
    gen = torch.Generator().manual_seed(21)
    dv, da = c.caption_channels or c.dim, c.caption_channels or c.audio_dim
    pos = (torch.randn(1, 6, dv, generator=gen), torch.randn(1, 6, da, generator=gen))
    neg = (torch.randn(1, 6, dv, generator=gen), torch.randn(1, 6, da, generator=gen))
    given = torch.randn(1, 2, shape.audio_frames + 5, 4, generator=gen)  # longer than needed: truncated
    image = torch.randn(1, 8, 1, shape.height, shape.width, generator=gen)
    return shape, pos, neg, given, image


def _ours(model, i2v, sampler="euler"):
    shape, pos, neg, given, image = _inputs(model)
    video = apply_conditionings(initial_video_state(shape, FPS), [ReplaceFrames(image)] if i2v else [], shape, FPS)
    audio = apply_conditionings(initial_audio_state(shape), [FrozenAudio(given)], shape, FPS)
    noise = draw_noise([video.latent.shape, audio.latent.shape], make_generator(5))
    result = denoise(model, shape, video, audio, ltx2_sigmas(4), TextContext(*pos), TextContext(*neg), GUIDANCE,
                     noise=noise, sampler=sampler)
    return result, shape, pos, neg, given, image


@pytest.mark.parametrize("version", ["2.0", "2.3"])
@pytest.mark.parametrize("i2v", [False, True], ids=["a2v", "ia2v"])
def test_frozen_audio_loop_matches_reference(models, version, i2v):
    ours, oracle = models[version]
    result, shape, pos, neg, given, image = _ours(ours, i2v)
    kept = given[:, :, : shape.audio_frames]
    items = [VideoConditionByLatentIndex(image, 1.0, 0)] if i2v else []
    ref_video, ref_audio = reference_run(oracle, shape, FPS, ltx2_sigmas(4), GUIDANCE, pos, neg, items, seed=5,
                                         frozen_audio=kept)
    rel_v = _rel(result.video, ref_video)
    print(f"{version} {'ia2v' if i2v else 'a2v'}: video rel {rel_v:.2e}")
    assert result.video.shape == ref_video.shape and rel_v <= 2e-6
    assert torch.equal(result.audio, kept) and torch.equal(ref_audio, kept)  # the audio never moves
    if i2v:
        assert torch.equal(result.video[:, :, 0], image[:, :, 0])
    # ltx-pipelines 1.0.0 fed the frozen audio the step sigma: a different video (so sigma 0 is tested)
    old_video, _ = reference_run(oracle, shape, FPS, ltx2_sigmas(4), GUIDANCE, pos, neg, items, seed=5,
                                 frozen_audio=kept, frozen_audio_sigma="step")
    print(f"{version}: ours vs 1.0.0 step-sigma semantics: video rel {_rel(result.video, old_video):.2e}")
    assert _rel(result.video, old_video) > 1e-3


def test_frozen_audio_drives_the_video(models):
    ours, _ = models["2.3"]
    result = _ours(ours, False)[0]
    shape, pos, neg, given, _ = _inputs(ours)
    video = initial_video_state(shape, FPS)
    other = apply_conditionings(initial_audio_state(shape), [FrozenAudio(given.flip(2))], shape, FPS)
    noise = draw_noise([video.latent.shape, other.latent.shape], make_generator(5))
    changed = denoise(ours, shape, video, other, ltx2_sigmas(4), TextContext(*pos), TextContext(*neg), GUIDANCE,
                      noise=noise)
    assert _rel(changed.video, result.video) > 1e-3


def test_frozen_audio_res2s_matches_official_loop(models):
    ours, oracle = models["2.3"]
    result, shape, pos, neg, given, _ = _ours(ours, False, sampler="res_2s")
    kept = given[:, :, : shape.audio_frames]
    ref_video, ref_audio = reference_res2s_run(oracle, shape, FPS, ltx2_sigmas(4), GUIDANCE, pos, neg, [], seed=5,
                                               frozen_audio=kept)
    rel_v = _rel(result.video, ref_video)
    print(f"res_2s a2v: video rel {rel_v:.2e}")
    assert rel_v <= 2e-6 and torch.equal(result.audio, kept) and torch.equal(ref_audio, kept)


# The current official source this behaviour follows (a bare git dir, e.g. from `fetch github:Lightricks/LTX-2`).
OFFICIAL_GIT = os.environ.get("LTX2_OFFICIAL_GIT", "/work/.mirror/Lightricks+LTX-2/repo")
OFFICIAL_COMMIT = "400fd31054597515f47125691032c04b1c3ee24e"  # 2026-08-16


def _official_source(tmp_path):
    """Lightricks/LTX-2 @ OFFICIAL_COMMIT (ltx-core + ltx-pipelines sources) under tmp_path, or skip."""
    if not os.path.isdir(OFFICIAL_GIT):
        pytest.skip(f"optional oracle: no Lightricks/LTX-2 git dir at {OFFICIAL_GIT} (set LTX2_OFFICIAL_GIT)")
    run = subprocess.run(["git", "--git-dir", OFFICIAL_GIT, "archive", "--format=tar", OFFICIAL_COMMIT,
                          "packages/ltx-core/src", "packages/ltx-pipelines/src"], capture_output=True)
    if run.returncode:
        pytest.skip(f"optional oracle: {OFFICIAL_GIT} lacks commit {OFFICIAL_COMMIT[:8]}")
    with tarfile.open(fileobj=io.BytesIO(run.stdout)) as archive:
        archive.extractall(tmp_path, filter="data")
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "OpenImageIO.py").write_text("")  # HDR image IO: imported by media_io, never called here
    return [str(stubs), str(tmp_path / "packages/ltx-core/src"), str(tmp_path / "packages/ltx-pipelines/src")]


def test_frozen_audio_matches_the_current_official_source(tmp_path):
    """The a2v stage against the official source it follows, run from that source in a subprocess (its
    ltx_core shadows the installed 1.0.0): positive audio context in the uncond pass, Modality.sigma 0."""
    paths = _official_source(tmp_path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths + [root]))
    run = subprocess.run([sys.executable, os.path.join(root, "tests", "_head_a2v_oracle.py")], env=env, cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"a2v vs Lightricks/LTX-2 @ {OFFICIAL_COMMIT[:8]}: video rel {out['video_rel']:.2e}")
    assert out["ltx_core"].startswith(str(tmp_path)) and out["audio_equal"] and out["video_rel"] <= 2e-6
