"""First-block step cache: exact at threshold 0, skips at large thresholds, per-pass slots, reset, bounded
deviation at a small threshold (tiny random model; real-weight quality is not measured here)."""

import math

import pytest
import torch

from ltx2_core.__main__ import _build_parser, _speed_options
from ltx2_core.compile import CompileOptions
from ltx2_core.errors import InputError
from ltx2_core.pipeline.conditioning import initial_audio_state, initial_video_state
from ltx2_core.pipeline.denoise import TextContext, denoise
from ltx2_core.pipeline.guidance import Guidance, GuidanceParams
from ltx2_core.pipeline.latents import latent_shape, make_generator
from ltx2_core.pipeline.schedules import ltx2_sigmas
from ltx2_core.transformer import LTX2Transformer, TransformerConfig
from ltx2_core.transformer.step_cache import StepCache, relative_change

FPS = 24.0
STEPS = 12
GUIDANCE = Guidance(GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
                    GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0))


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = LTX2Transformer(TransformerConfig.tiny("2.0", num_layers=3)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.05)
    shape = latent_shape(64, 64, 9, FPS, video_channels=8, audio_channels=2, audio_mel_bins=4)
    gen = torch.Generator().manual_seed(1)
    pos = TextContext(torch.randn(1, 4, 24, generator=gen), torch.randn(1, 4, 24, generator=gen))
    neg = TextContext(torch.randn(1, 4, 24, generator=gen), torch.randn(1, 4, 24, generator=gen))
    return model, shape, pos, neg


def _run(setup, step_cache=None, guidance=GUIDANCE, **kwargs):
    model, shape, pos, neg = setup
    return denoise(model, shape, initial_video_state(shape, FPS), initial_audio_state(shape), ltx2_sigmas(STEPS),
                   pos, neg, guidance, generator=make_generator(7), step_cache=step_cache, **kwargs)


@pytest.fixture(scope="module")
def reference(setup):
    return _run(setup)


@pytest.mark.parametrize("batch_passes", [True, False])
def test_threshold_zero_equals_uncached_bit_for_bit(setup, batch_passes):
    plain = _run(setup, batch_passes=batch_passes)
    cache = StepCache(0.0)
    keys = []
    cached = _run(setup, cache, batch_passes=batch_passes, callback=lambda *_: keys.append(list(cache.slots)))
    assert cache.slots == {}  # emptied when the stage ends (no residuals held during decoding)
    assert torch.equal(cached.video, plain.video) and torch.equal(cached.audio, plain.audio)
    passes = 1 if batch_passes else 4  # cond, uncond, perturbed (STG), isolated
    assert (cache.calls, cache.skipped) == (STEPS * passes, 0)
    if batch_passes:
        assert keys[-1] == [(("cond", "uncond", "perturbed", "isolated"), (True, True))]
    else:  # each guidance pass has its own slot
        assert sorted(key[0][0] for key in keys[-1]) == ["cond", "isolated", "perturbed", "uncond"]


def test_large_threshold_skips_every_call_after_the_first_per_pass(setup, reference):
    cache = StepCache(1e9)
    result = _run(setup, cache, batch_passes=False)
    assert cache.calls == 4 * STEPS and cache.skipped == 4 * (STEPS - 1)
    assert not torch.equal(result.video, reference.video)
    assert torch.isfinite(result.video).all() and torch.isfinite(result.audio).all()


def test_cache_is_reset_between_runs(setup):
    cache = StepCache(1e9)
    first = _run(setup, cache)
    assert cache.skipped == STEPS - 1
    second = _run(setup, cache)  # a stale cache would skip the new run's first call too
    assert cache.calls == 2 * STEPS and cache.skipped == 2 * (STEPS - 1)
    assert torch.equal(first.video, second.video) and torch.equal(first.audio, second.audio)
    cache.slot("cond")
    cache.reset()
    assert cache.slots == {}


def test_small_threshold_skips_some_calls_with_bounded_deviation(setup, reference):
    cache = StepCache(0.02)
    result = _run(setup, cache)
    assert 0 < cache.skipped < cache.calls - 1
    for got, want in ((result.video, reference.video), (result.audio, reference.audio)):
        assert (got - want).abs().max() <= 2e-3 * want.abs().max()  # measured: 3.3e-4 (video), 1.9e-4 (audio)
    loose = StepCache(1e9)
    far = _run(setup, loose)
    assert (far.video - reference.video).abs().max() > (result.video - reference.video).abs().max()


def test_decision_is_joint_over_streams_and_rows():
    old, new = torch.ones(2, 3, 4), torch.ones(2, 3, 4)
    new[1] *= 1.5  # the second batch row (another pass) changed by 50 %
    assert relative_change(new, old) == pytest.approx(0.5)
    assert relative_change(None, None) == 0.0
    assert relative_change(torch.ones(1, 2, 4), torch.ones(1, 3, 4)) == math.inf
    assert relative_change(torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)) == 0.0

    calls = []

    def blocks(vx, ax, start, stop):
        calls.append((start, stop))
        return vx + 1, ax * 2

    cache = StepCache(0.1)
    slot = cache.slot("cond")
    v, a = torch.ones(1, 2, 4), torch.ones(1, 3, 2)
    slot.run(blocks, v, a, 4)
    slot.run(blocks, v, a * 1.5, 4)  # video residual unchanged, audio residual 50 % larger: run all blocks
    out = slot.run(blocks, v, a * 1.5, 4)  # nothing changed since the last full call: reuse
    assert calls == [(0, 1), (1, 4), (0, 1), (1, 4), (0, 1)] and cache.skipped == 1
    assert torch.equal(out[0], v + 2) and torch.equal(out[1], a * 1.5 * 4)


def test_threshold_validation_and_cli_flags():
    for bad in (-0.1, math.nan, math.inf, "0.1"):
        with pytest.raises(InputError, match="Step cache threshold must be a finite number >= 0"):
            StepCache(bad)
    base = ["generate", "--checkpoint", "c", "--text-encoder", "t", "--prompt", "p", "--out", "o.mp4"]
    assert _speed_options(_build_parser().parse_args(base)) == {}
    options = _speed_options(_build_parser().parse_args(base + ["--compile", "--step-cache", "0.05"]))
    assert options["compile_options"] == CompileOptions() and options["step_cache"].threshold == 0.05


def test_generate_passes_the_cache_to_both_stages_and_the_compile_options():
    from ltx2_core.pipeline.demo import DEMO_GUIDANCE, demo_components
    from ltx2_core.pipeline.generate import generate

    parts = demo_components(seed=1, encoders=True)
    small = dict(width=64, height=64, frames=9, steps=2, seed=4, guidance=DEMO_GUIDANCE)
    cache = StepCache(1e9)
    generate(parts, "a fox", step_cache=cache, two_stage=True, **small)
    assert cache.calls == 2 + 3 and cache.skipped == cache.calls - 2  # reset when stage 2 starts: one full call each
    graphs = []
    plain = generate(parts, "a fox", **small)
    compiled = generate(parts, "a fox", compile_options=CompileOptions(
        backend=lambda gm, example_inputs: graphs.append(gm) or gm.forward), **small)
    assert graphs and len(graphs) <= parts.transformer.config.num_layers
    torch.testing.assert_close(compiled.video_latent, plain.video_latent, rtol=1e-5, atol=1e-5)


def test_cli_refuses_a_negative_threshold_before_loading(capsys, tmp_path):
    from ltx2_core.__main__ import main

    code = main(["generate", "--checkpoint", str(tmp_path / "missing.safetensors"), "--text-encoder", "missing",
                 "--prompt", "p", "--out", str(tmp_path / "o.mp4"), "--width", "256", "--height", "256",
                 "--frames", "9", "--step-cache", "-1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "Step cache threshold must be a finite number >= 0" in err
