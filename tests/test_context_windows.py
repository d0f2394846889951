"""Temporal context windows (`pipeline.context_windows`, `generate --long windows`) on the tiny random model."""

import re
import subprocess
import sys

import pytest
import torch

from ltx2_core.audio import audio_latent_frames
from ltx2_core.errors import InputError
from ltx2_core.pipeline.context_windows import ContextWindows, pixel_frame, plan_windows
from ltx2_core.pipeline.demo import demo_components
from ltx2_core.pipeline.generate import generate
from ltx2_core.pipeline.guidance import NO_GUIDANCE


def test_plan_covers_every_frame_and_weights_sum_to_one():
    plan = plan_windows(241, 24.0, 97, 25)
    assert plan.windows[0].start == 0 and plan.windows[-1].stop == plan.latent == 31
    assert plan.windows[-1].audio_stop == plan.audio == audio_latent_frames(241, 24.0)
    for weights, length in ((plan.video_weights(), plan.latent), (plan.audio_weights(), plan.audio)):
        assert weights.shape[1] == length
        assert torch.allclose(weights.sum(0), torch.ones(length, dtype=torch.float64), atol=1e-12)
        assert bool((weights.sum(0) > 0).all())
    for a, b in zip(plan.windows, plan.windows[1:]):
        assert b.start < a.stop and b.audio_start < a.audio_stop  # overlapping on both streams


def test_audio_window_spans_equal_video_spans_in_seconds():
    fps = 24.0
    for w in plan_windows(241, fps, 97, 25).windows:
        for latent, audio in ((w.start, w.audio_start), (w.stop, w.audio_stop)):
            assert abs(pixel_frame(latent) / fps - audio / 25.0) <= 0.5 / 25.0 + 1e-9


@pytest.mark.parametrize("window, overlap, words", [
    (97, 25, "use plain generate"), (33, 33, "not shorter"), (34, 9, r"8k\+1"), (33, 10, r"8k\+1")])
def test_bad_plans_are_one_line(window, overlap, words):
    with pytest.raises(InputError, match=words) as info:
        plan_windows(49, 24.0, window, overlap)
    assert "\n" not in str(info.value)


def _clip(windows, frames):
    parts = demo_components()
    return generate(parts, "a fox", width=32, height=32, frames=frames, fps=24.0, seed=3, steps=2,
                    guidance=NO_GUIDANCE, context_windows=windows)


def test_one_window_as_long_as_the_clip_is_bit_identical():
    plain, windowed = _clip(None, 33), _clip(ContextWindows(33, 9), 33)
    assert torch.equal(plain.video_latent, windowed.video_latent)
    assert torch.equal(plain.audio_latent, windowed.audio_latent)


def test_overlapping_windows_keep_audio_and_video_in_sync():
    clip = _clip(ContextWindows(33, 9), 81)  # 11 latent frames: windows 0-5, 4-9, 6-11 (3 windows)
    assert clip.video.shape[1] == 81
    assert clip.audio.shape[-1] == round(81 / 24.0 * clip.sample_rate)
    assert abs(clip.audio.shape[-1] / clip.sample_rate - clip.video.shape[1] / 24.0) <= 1 / 24.0
    plain = _clip(None, 81)
    assert not torch.equal(plain.video_latent, clip.video_latent)  # the windows really changed the run


@pytest.mark.parametrize("flags, words", [
    (["--window-frames", "121"], "use plain generate"), (["--window-frames", "33", "--overlap-frames", "33"],
                                                          "not shorter"),
    (["--window-frames", "34"], r"8k\+1"), (["--overlap-frames", "10", "--window-frames", "33"], r"8k\+1")])
def test_cli_refuses_bad_windows_with_exit_2(flags, words, tmp_path):
    out = subprocess.run([sys.executable, "-m", "ltx2_core", "generate", "--checkpoint", str(tmp_path / "x"),
                          "--text-encoder", str(tmp_path / "t"), "--prompt", "x", "--frames", "49", "--long", "windows", *flags,
                          "--out", str(tmp_path / "o.mp4")], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and re.search(words, lines[0]), out.stderr


def test_sixty_second_clip_through_the_cli_is_in_sync(tmp_path, capsys):
    """`generate --long windows --seconds 60` on the tiny model's files: one 1441-frame denoise in 4 windows of
    481 frames; the mp4 holds exactly 60.04 s x 24 kHz audio samples and both tracks end together."""
    from _av_checks import check_av_mp4

    from ltx2_core.__main__ import main
    from ltx2_core.pipeline.demo import save_demo_checkpoint

    paths = save_demo_checkpoint(demo_components(), str(tmp_path / "models"))
    out = str(tmp_path / "long.mp4")
    args = ["generate", "--checkpoint", paths["checkpoint"], "--text-encoder", paths["text_encoder"],
            "--prompt", "a fox", "--out", out, "--width", "32", "--height", "32", "--seconds", "60",
            "--long", "windows", "--window-frames", "481", "--overlap-frames", "9", "--steps", "1",
            "--video-cfg", "1", "--audio-cfg", "1", "--dtype", "float32", "--device", "cpu"]
    assert main(args) == 0
    assert "Wrote" in capsys.readouterr().out
    measured = check_av_mp4(out, 1441, 24.0, sample_rate=24000)
    assert measured["audio_samples"] == round(1441 / 24.0 * 24000)
    assert abs(measured["audio_track_s"] - measured["video_track_s"]) < 1 / 24.0
    assert len(plan_windows(1441, 24.0, 481, 9).windows) == 4


def test_image_at_frame_zero_lands_in_the_first_window_and_keyframes_are_refused():
    from ltx2_core.pipeline.two_stage import VideoInput

    parts = demo_components(encoders=True)
    image = torch.rand(3, 1, 32, 32) * 2 - 1
    small = dict(width=32, height=32, frames=81, fps=24.0, seed=3, steps=2, guidance=NO_GUIDANCE)
    plain = generate(parts, "a fox", images=[VideoInput(image, crf=0)], **small)
    windowed = generate(parts, "a fox", images=[VideoInput(image, crf=0)], context_windows=ContextWindows(33, 9),
                        **small)
    assert torch.equal(windowed.video_latent[:, :, 0], plain.video_latent[:, :, 0])  # pinned to the same clean frame
    assert not torch.equal(windowed.video_latent[:, :, 1:], plain.video_latent[:, :, 1:])
    with pytest.raises(InputError, match="Context windows cannot take appended conditioning") as info:
        generate(parts, "a fox", images=[VideoInput(image, frame_index=40, crf=0)],
                 context_windows=ContextWindows(33, 9), **small)
    assert "\n" not in str(info.value)
