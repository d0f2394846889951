"""Long clips by extension (pipeline.extend): segment plan, exact overlap conditioning on both streams at every
step, sample-exact stitching, streaming mp4 output, CLI `--long extend`."""

import os

import pytest
import torch
from _av_checks import check_av_mp4

from ltx2_core.__main__ import main
from ltx2_core.audio import audio_latent_frames
from ltx2_core.errors import InputError
from ltx2_core.pipeline.demo import DEMO_GUIDANCE, demo_components
from ltx2_core.pipeline.extend import (
    AudioPrefix, generate_long, overlap_latent_frames, plan_segments, stitch_audio, write_segments,
)
from ltx2_core.pipeline.guidance import NO_GUIDANCE
from ltx2_core.pipeline.stream_writer import StreamingVideoWriter
from ltx2_core.transformer.positions import patchify_audio, patchify_video


@pytest.fixture(scope="module")
def parts():
    return demo_components()


@pytest.mark.parametrize("total, segment, overlap, expected", [
    (41, 25, 9, (25, 25)),
    (49, 25, 9, (25, 25, 17)),
    (17, 25, 9, (17,)),
    (1441, 121, 25, (121,) * 14 + (97,)),
])
def test_plan_segments_adds_up_to_the_clip(total, segment, overlap, expected):
    plan = plan_segments(total, segment, overlap)
    assert plan == expected
    assert plan[0] + sum(f - overlap for f in plan[1:]) == total
    assert all((f - 1) % 8 == 0 and f <= segment for f in plan)


@pytest.mark.parametrize("args, message", [
    ((41, 25, 10), "--overlap-frames 10 is not of the form 8k+1: use 9 or 17 (1, 9, 17, 25, ...)."),
    ((41, 25, 25), "--overlap-frames 25 is not shorter than a segment (25 frames): use at most 17 overlap frames"),
    ((41, 25, 33), "--overlap-frames 33 is not shorter than a segment (25 frames)"),
    ((9, 33, 17), "The clip (9 frames) is shorter than the overlap (17 frames): use a longer clip or fewer overlap"),
])
def test_plan_errors_are_one_line(args, message):
    with pytest.raises(InputError) as info:
        plan_segments(*args)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_overlap_latent_frames():
    assert [overlap_latent_frames(n) for n in (1, 9, 17, 25)] == [1, 2, 3, 4]


def test_stitch_audio_is_on_the_video_clock():
    rate, fps = 24000, 24.0
    wave = torch.arange(25 * 1000, dtype=torch.float32).expand(2, -1)  # a 25-frame segment, 1000 samples a frame
    piece = stitch_audio(wave, rate, fps, start_frame=25, skip_frames=9, new_frames=16)
    assert piece.shape == (2, 16000) and piece[0, 0].item() == 9000.0  # starts after the 9 overlap frames
    odd = stitch_audio(torch.zeros(2, 10), 44100, 25.0, start_frame=3, skip_frames=1, new_frames=2)
    assert odd.shape == (2, round(5 / 25 * 44100) - round(3 / 25 * 44100))  # zero-padded, clock-exact


def test_audio_prefix_pins_the_first_audio_tokens(parts):
    from ltx2_core.pipeline.conditioning import initial_audio_state
    from ltx2_core.pipeline.latents import latent_shape

    shape = latent_shape(64, 64, 25, 24.0, video_channels=16, audio_channels=2, audio_mel_bins=16)
    state = initial_audio_state(shape)
    prefix = torch.randn(1, 2, 5, 16)
    out = AudioPrefix(prefix).apply(state, shape, 24.0)
    assert torch.equal(out.latent[:, :5], patchify_audio(prefix)) and torch.equal(out.clean[:, :5], out.latent[:, :5])
    assert out.mask[:, :5].abs().sum() == 0 and bool((out.mask[:, 5:] == 1).all())
    with pytest.raises(InputError, match="covers 40 audio latent frames but the clip has 26"):
        AudioPrefix(torch.randn(1, 2, 40, 16)).apply(state, shape, 24.0)


def test_overlap_latents_equal_the_previous_segment_at_every_step(parts):
    """Hook the transformer input: in every model call of segment 2 (every guidance pass), the overlap's video
    and audio tokens equal segment 1's last latents exactly and have sigma 0; the prompts differ per segment."""
    seen = []

    def record(module, args, kwargs):
        video, audio = args[0], args[1]
        seen.append((video.latent.clone(), audio.latent.clone(), video.timesteps.clone(), audio.timesteps.clone(),
                     video.context.clone()))

    handle = parts.transformer.register_forward_pre_hook(record, with_kwargs=True)
    try:
        segments = list(generate_long(parts, ["a fox", "a river"], frames=49, segment_frames=25, overlap_frames=9,
                                      width=64, height=64, fps=24.0, steps=2, guidance=DEMO_GUIDANCE))
    finally:
        handle.remove()
    assert [s.video.shape[1] for s in segments] == [25, 16, 8]
    calls = len(seen) // 3
    assert calls == 2 and len(seen) == 6
    k, tokens_per_frame = overlap_latent_frames(9), 2 * 2
    audio_count = audio_latent_frames(9, 24.0)
    for index in (1, 2):
        previous = segments[index - 1]
        video_tail = patchify_video(previous.video_latent[:, :, -k:])
        audio_tail = patchify_audio(previous.audio_latent[:, :, -audio_count:])
        for video, audio, video_t, audio_t, _ in seen[index * calls:(index + 1) * calls]:
            for row in range(video.shape[0]):  # each guidance pass of the batched call
                assert torch.equal(video[row, : k * tokens_per_frame], video_tail[0])
                assert torch.equal(audio[row, :audio_count], audio_tail[0])
            assert video_t[:, : k * tokens_per_frame].abs().sum() == 0 and bool((video_t[:, k * tokens_per_frame:] > 0).all())
            assert audio_t[:, :audio_count].abs().sum() == 0 and bool((audio_t[:, audio_count:] > 0).all())
        assert torch.equal(segments[index].video_latent[:, :, :k], previous.video_latent[:, :, -k:])
        assert torch.equal(segments[index].audio_latent[:, :, :audio_count], previous.audio_latent[:, :, -audio_count:])
    assert not torch.equal(seen[0][4][:1], seen[calls][4][:1])  # segment 2 has its own prompt
    assert torch.equal(seen[calls][4], seen[2 * calls][4])  # the last prompt repeats
    assert sum(s.audio.shape[1] for s in segments) == round(49 / 24.0 * segments[0].sample_rate)


def test_sixty_second_clip_is_in_sync(parts, tmp_path):
    """A 60 s clip (1441 frames at 24 fps) from the tiny model, written segment by segment: the mp4's audio
    holds exactly duration x rate samples and both tracks last frames / fps (to the movie tick)."""
    out = str(tmp_path / "long.mp4")
    segments = generate_long(parts, ["a fox"], frames=1441, segment_frames=481, overlap_frames=9, width=32,
                             height=32, fps=24.0, steps=1, guidance=NO_GUIDANCE)
    frames, samples = write_segments(out, segments)
    assert (frames, samples) == (1441, 1441 * 1000)
    measured = check_av_mp4(out, 1441, 24.0, sample_rate=24000)
    assert measured["audio_samples"] == round(1441 / 24.0 * 24000)
    assert abs(measured["audio_track_s"] - measured["video_track_s"]) < 1 / 24.0
    assert os.listdir(tmp_path) == ["long.mp4"]


def test_streaming_writer_is_atomic_and_checks_pieces(tmp_path):
    out = str(tmp_path / "clip.mp4")
    with pytest.raises(RuntimeError, match="stop"):
        with StreamingVideoWriter(out, 24.0, 24000) as writer:
            writer.append(torch.zeros(3, 9, 32, 32), torch.zeros(2, 9000))
            raise RuntimeError("stop")
    assert os.listdir(tmp_path) == []
    with pytest.raises(InputError, match="A piece of 64x32 does not match the clip's 32x32"):
        with StreamingVideoWriter(out, 24.0, 24000) as writer:
            writer.append(torch.zeros(3, 9, 32, 32), torch.zeros(2, 9000))
            writer.append(torch.zeros(3, 9, 32, 64), torch.zeros(2, 9000))
    assert os.listdir(tmp_path) == []
    with StreamingVideoWriter(out, 24.0, 24000) as writer:  # short / long audio pieces land on the clock
        writer.append(torch.zeros(3, 9, 32, 32), torch.zeros(2, 8000))
        writer.append(torch.zeros(3, 8, 32, 32), torch.zeros(2, 9500))
    check_av_mp4(out, 17, 24.0, sample_rate=24000)


BASE = ["generate", "--checkpoint", "ckpt.safetensors", "--text-encoder", "gemma", "--prompt", "p", "--out", "x.mp4"]


@pytest.mark.parametrize("extra, expected", [
    (["--seconds", "5", "--long", "extend", "--overlap-frames", "12"],
     "error: --overlap-frames 12 is not of the form 8k+1: use 9 or 17 (1, 9, 17, 25, ...)."),
    (["--seconds", "5", "--long", "extend", "--window-frames", "25", "--overlap-frames", "33"],
     "error: --overlap-frames 33 is not shorter than a segment (25 frames): use at most 17 overlap frames"),
    (["--frames", "9", "--long", "extend", "--overlap-frames", "17"],
     "error: The clip (9 frames) is shorter than the overlap (17 frames)"),
    (["--seconds", "5", "--long", "extend", "--window-frames", "24"],
     "error: --window-frames: frames 24 is not of the form 8k+1: use 17 or 25."),
    (["--seconds", "5", "--overlap-frames", "9"], "error: --overlap-frames is used by --long only"),
    (["--seconds", "5", "--segment-prompt", "x"], "error: --segment-prompt is used by --long only"),
    (["--seconds", "5", "--long", "extend", "--two-stage", "--batch-size", "2"],
     "error: --long extend generates one audio+video stage per segment: remove --two-stage, --batch-size."),
    (["--frames", "121", "--long", "extend", "--segment-prompt", "x"],
     "error: 1 --segment-prompt given but the clip has only 1 segment(s)"),
])
def test_long_cli_errors_are_one_line(tmp_path, monkeypatch, capsys, extra, expected):
    monkeypatch.chdir(tmp_path)
    assert main(BASE + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected) and "\n" not in err and "Traceback" not in err


def test_long_cli_end_to_end_with_demo_files(tmp_path, capsys):
    from ltx2_core.pipeline.demo import save_demo_checkpoint

    paths = save_demo_checkpoint(demo_components(), str(tmp_path / "models"))
    out = str(tmp_path / "long.mp4")
    args = ["generate", "--checkpoint", paths["checkpoint"], "--text-encoder", paths["text_encoder"],
            "--prompt", "a fox", "--segment-prompt", "a river", "--out", out, "--width", "64", "--height", "64",
            "--seconds", "2", "--long", "extend", "--window-frames", "25", "--overlap-frames", "9", "--steps", "1",
            "--video-cfg", "1", "--audio-cfg", "1", "--dtype", "float32", "--device", "cpu"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "segment 3/3: frames 41..48" in captured.out and "Wrote" in captured.out
    check_av_mp4(out, 49, 24.0)


def test_long_clips_benchmark_child_reports_memory():
    from benchmarks.long_clips import _child

    row = _child(0.5, 32, 9, 1, 24.0, whole=False)
    assert (row["frames"], row["segments"], row["written"]) == (9, 1, (9, 9000))
    assert row["peak_rss_mib"] >= row["model_rss_mib"] > 0
