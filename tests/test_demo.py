"""The demo command writes an mp4 with one H.264 and one AAC stream of the same duration."""

from _av_checks import check_av_mp4

from ltx2_core.__main__ import main


def test_demo_command_writes_av_mp4_with_matching_durations(tmp_path, capsys):
    out = str(tmp_path / "clip.mp4")
    assert main(["demo", "--out", out, "--width", "96", "--height", "64", "--frames", "17", "--steps", "3"]) == 0
    err = capsys.readouterr().err
    assert "noise" in err and "RANDOM weights" in err and "--checkpoint" in err
    assert "step 3/3" in err
    from ltx2_core.pipeline.demo import demo_components

    rate = demo_components().vocoder.output_sample_rate
    measured = check_av_mp4(out, 17, 24.0, rate)
    assert measured["audio_samples"] == round(17 / 24 * rate)


def test_demo_is_deterministic_and_two_stage_runs(tmp_path):
    import torch

    from ltx2_core.pipeline.demo import DEMO_GUIDANCE, demo_components
    from ltx2_core.pipeline.generate import generate

    parts = demo_components()
    kwargs = dict(width=128, height=64, frames=9, steps=2, seed=3, guidance=DEMO_GUIDANCE)
    a, b = generate(parts, "a fox", **kwargs), generate(parts, "a fox", **kwargs)
    assert torch.equal(a.video, b.video) and torch.equal(a.audio, b.audio)
    assert a.video.shape == (3, 9, 64, 128) and a.audio.shape == (2, round(9 / 24 * a.sample_rate))
    steps = []
    two = generate(parts, "a fox", two_stage=True, callback=lambda s, t, v, au: steps.append((s, t)), **kwargs)
    assert steps == [(i, 5) for i in range(5)]  # 2 stage-1 steps + 3 stage-2 steps
    assert two.video.shape == (3, 9, 64, 128) and torch.isfinite(two.video).all()
    assert two.video_latent.shape[-2:] == (2, 4)
