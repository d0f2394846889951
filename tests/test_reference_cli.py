"""Reference control end to end on the tiny demo model: `generate --ic-lora --reference-video --reference-audio`
through the real file loaders, and the one-line refusals (wrong-model IC-LoRA, bad flags)."""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from _av_checks import check_av_mp4  # noqa: E402

from ltx2_core.__main__ import main  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from ltx2_core.pipeline.demo import _safetensors_bytes, _write_atomic, demo_components, demo_lora, \
        save_demo_checkpoint
    from ltx2_core.pipeline.video_io import write_mp4, write_wav

    folder = tmp_path_factory.mktemp("reference")
    parts = demo_components(encoders=True)
    paths = save_demo_checkpoint(parts, str(folder / "models"))
    paths["ic_lora"] = str(folder / "ic_lora.safetensors")
    _write_atomic(paths["ic_lora"], _safetensors_bytes(demo_lora(parts, seed=7), {"reference_downscale_factor": "2"}))
    wide = {k: torch.zeros(v.shape[0] * 2, v.shape[1] * 2, dtype=v.dtype) for k, v in demo_lora(parts).items()}
    paths["wide_lora"] = str(folder / "wide_lora.safetensors")
    _write_atomic(paths["wide_lora"], _safetensors_bytes(wide))
    # a control clip at 12 fps and another aspect ratio: resampled to 24 fps and cover-cropped, with notes
    paths["reference"] = write_mp4(str(folder / "depth.mp4"), torch.rand(3, 9, 40, 100) * 2 - 1, 12.0)
    paths["voice"] = write_wav(str(folder / "voice.wav"), torch.sin(torch.arange(8000) / 5.0).unsqueeze(0) * 0.3,
                               16000)
    return paths


def _args(files, out, *extra):
    return ["generate", "--checkpoint", files["checkpoint"], "--text-encoder", files["text_encoder"],
            "--prompt", "a dancer", "--out", out, "--width", "128", "--height", "64", "--frames", "17", "--steps", "2",
            "--stg-blocks", "1", "--dtype", "float32", "--device", "cpu", *extra]


def test_ic_lora_and_reference_audio_end_to_end(files, tmp_path, capsys):
    out = str(tmp_path / "out.mp4")
    assert main(_args(files, out, "--ic-lora", files["ic_lora"] + "@0.8", "--reference-video", files["reference"],
                      "--reference-attention", "0.6", "--reference-audio", files["voice"])) == 0
    err = capsys.readouterr().err
    assert "note: reference video resampled from 12 to 24 fps (18 frames)" in err
    assert "note: reference video 100x40 is cover-resized and center-cropped to the 128x64 aspect" in err
    check_av_mp4(out, 17, 24.0)


def test_ic_lora_for_another_model_size_is_one_line(files, tmp_path, capsys):
    code = main(_args(files, str(tmp_path / "o.mp4"), "--ic-lora", files["wide_lora"], "--reference-video",
                      files["reference"]))
    assert code == 2
    lines = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "is an IC-LoRA for another model size" in lines[0]


@pytest.mark.parametrize("extra,message", [
    (["--ic-lora", "x.safetensors"], "--ic-lora needs --reference-video FILE"),
    (["--reference-video", "missing.mp4"], "Input file not found: 'missing.mp4'"),
    (["--reference-video", "missing.mp4", "--reference-strength", "1.5"], "--reference-strength"),
    (["--reference-mask", "m.mp4"], "--reference-mask needs --reference-video"),
])
def test_bad_reference_flags_are_one_line(files, tmp_path, capsys, extra, message):
    assert main(_args(files, str(tmp_path / "o.mp4"), *extra)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
