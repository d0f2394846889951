"""CLI error handling: one-line messages that say what to change, no traceback, non-zero exit."""

import os
import subprocess
import sys

import pytest
from _av_checks import check_av_mp4

from ltx2_core.__main__ import main

BASE = ["generate", "--checkpoint", "ckpt.safetensors", "--text-encoder", "gemma", "--prompt", "p", "--out", "x.mp4"]


@pytest.mark.parametrize("extra, expected", [
    (["--width", "770"], "error: width 770 is not a multiple of 32: use a multiple of 32 such as 768 or 800."),
    (["--frames", "120"], "error: frames 120 is not of the form 8k+1: use 113 or 121."),
    (["--two-stage", "--width", "800"], "error: width 800 is not a multiple of 64"),
    ([], "error: Checkpoint not found: 'ckpt.safetensors'. Check the path."),
    (["--image", "missing.png"], "error: Image not found: 'missing.png'. Check the path."),
    (["--image", "x@1@a"], "error: --image 'x@1@a' is malformed"),
])
def test_bad_arguments_print_one_line_and_exit_2(tmp_path, monkeypatch, capsys, extra, expected):
    monkeypatch.chdir(tmp_path)
    assert main(BASE + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected) and "\n" not in err and "Traceback" not in err


def test_keyframe_index_out_of_range(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "key.png").write_bytes(b"not really an image")
    assert main(BASE + ["--frames", "17", "--image", "key.png@17"]) == 2
    assert capsys.readouterr().err.strip() == "error: --image frame 17 is out of range: use 0..16."


def test_subprocess_exit_code_and_no_traceback(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    proc = subprocess.run([sys.executable, "-m", "ltx2_core", *BASE, "--width", "100"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: width 100 is not a multiple of 32: use a multiple of 32 such as 96 or 128."]


def test_generate_command_end_to_end_with_demo_files(tmp_path, capsys):
    """`generate` with the tiny model saved in the official file layout: loaders, text encoder, image and
    keyframe conditioning, two stages with the upsampler, progress bar, mp4 output."""
    import av
    import torch

    from ltx2_core.pipeline.demo import demo_components, save_demo_checkpoint
    from ltx2_core.pipeline.video_io import write_mp4

    paths = save_demo_checkpoint(demo_components(encoders=True), str(tmp_path / "models"))
    image = write_mp4(str(tmp_path / "first.mp4"), torch.rand(3, 1, 70, 90) * 2 - 1, 24.0)
    out = str(tmp_path / "out.mp4")
    args = ["generate", "--checkpoint", paths["checkpoint"], "--text-encoder", paths["text_encoder"],
            "--prompt", "a fox", "--out", out, "--width", "128", "--height", "64", "--frames", "17",
            "--steps", "2", "--stg-blocks", "1", "--dtype", "float32", "--device", "cpu", "--two-stage",
            "--upsampler", paths["upsampler"], "--image", image, "--image", image + "@8@0.5"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "step 5/5" in captured.err and "Wrote" in captured.out
    with av.open(out) as container:
        video = container.streams.video[0]
        assert (video.width, video.height, video.frames) == (128, 64, 17)
    check_av_mp4(out, 17, 24.0)
    assert main(args[:-4] + ["--stg-blocks", "28"]) == 2
    assert "STG block(s) 28 do not exist in this 2-block model: use block numbers 0..1." in capsys.readouterr().err
