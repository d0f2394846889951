"""`python -m ltx2_core demo --model ltx-video` and `generate` on exported LTX-Video files (subprocesses), and
the one-line refusals of mismatched files (in process: exit status 2, one line)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import pytest
import torch

from ltx2_core.__main__ import main
from ltx2_core.checkpoint import read_config_metadata, read_safetensors_header

ROOT = Path(__file__).resolve().parents[1]
SIZE = ["--width", "128", "--height", "96", "--frames", "17"]


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "ltx2_core", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _video_only(path, frames, width, height):
    with av.open(str(path)) as container:
        assert [s.type for s in container.streams] == ["video"]
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        decoded = list(container.decode(stream))
    assert len(decoded) == frames
    assert (decoded[0].width, decoded[0].height) == (width, height)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ltxv_export")
    run = _cli("demo", "--model", "ltx-video", "--export", str(folder / "files"), cwd=folder)
    assert run.returncode == 0, run.stderr
    files = folder / "files"
    paths = {"checkpoint": files / "ltxv-demo-2b-0.9.5.safetensors", "text_encoder": files / "t5-demo",
             "upsampler": files / "ltxv-demo-spatial-upscaler.safetensors", "folder": folder}
    from ltx2_core.pipeline.video_io import write_video

    write_video(str(folder / "image.mp4"), torch.rand(3, 1, 96, 128) * 2 - 1, 24.0)
    write_video(str(folder / "clip.mp4"), torch.rand(3, 9, 96, 128) * 2 - 1, 24.0)
    return paths


def test_demo_writes_a_video_only_mp4(tmp_path):
    run = _cli("demo", "--model", "ltx-video", "--out", "clip.mp4", *SIZE, "--steps", "3", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "RANDOM weights" in run.stderr and "Traceback" not in run.stderr
    _video_only(tmp_path / "clip.mp4", 17, 128, 96)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary left behind


def test_export_is_official_layout(exported):
    header = read_safetensors_header(str(exported["checkpoint"]))
    names = [k for k in header if k != "__metadata__"]
    assert any(k.startswith("model.diffusion_model.transformer_blocks.") for k in names)
    assert any(k.startswith("vae.decoder.") for k in names) and "vae.per_channel_statistics.channel" in names
    config = json.loads(header["__metadata__"]["config"])
    assert config["transformer"]["_class_name"] == "Transformer3DModel"
    assert config["scheduler"]["shifting"] == "SD3" and config["vae"]["latent_channels"] == 8
    assert sorted(os.listdir(exported["text_encoder"])) == ["config.json", "model.safetensors", "spiece.model"]
    assert read_config_metadata(str(exported["upsampler"]))["_class_name"] == "LatentUpsampler"


def _generate_args(exported, name, extra):
    extra = [str(exported["upsampler"]) if a == "UPSAMPLER" else a for a in extra]
    return ["generate", "--checkpoint", str(exported["checkpoint"]), "--text-encoder", str(exported["text_encoder"]),
            "--prompt", "a fox", *SIZE, "--steps", "3", "--dtype", "float32", "--device", "cpu", "--out",
            f"{name}.mp4", *extra]


@pytest.mark.parametrize("extra,name", [
    ([], "t2v"),
    (["--two-stage", "--upsampler", "UPSAMPLER", "--width", "160", "--height", "96"], "multiscale"),
])
def test_generate_on_exported_files(exported, extra, name):
    folder = exported["folder"]
    run = _cli(*_generate_args(exported, name, extra), cwd=folder)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    _video_only(folder / f"{name}.mp4", 17, 160 if name == "multiscale" else 128, 96)


@pytest.mark.parametrize("extra,name", [
    (["--image", "image.mp4"], "i2v"),
    (["--image", "clip.mp4@0", "--image", "image.mp4@16@0.8"], "extend_keyframe"),
])
def test_generate_with_conditioning_through_main(exported, extra, name, monkeypatch):
    """The same `main()` as `python -m ltx2_core`, in process (saves a torch start-up per case)."""
    monkeypatch.chdir(exported["folder"])
    assert main(_generate_args(exported, name, extra)) == 0
    _video_only(exported["folder"] / f"{name}.mp4", 17, 128, 96)


@pytest.fixture(scope="module")
def ltx2_files(tmp_path_factory):
    from ltx2_core.pipeline.demo import export_demo

    return export_demo(str(tmp_path_factory.mktemp("ltx2_export")))


def _refused(argv, capsys, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err


BASE = ["generate", "--prompt", "x", *SIZE, "--steps", "2", "--dtype", "float32", "--device", "cpu"]


def test_mismatched_files_are_refused_in_one_line(exported, ltx2_files, capsys, tmp_path):
    t5_file = str(exported["text_encoder"] / "model.safetensors")
    out = ["--out", str(tmp_path / "x.mp4")]
    _refused(BASE + out + ["--checkpoint", t5_file, "--text-encoder", str(exported["text_encoder"])], capsys,
             "is a T5 text encoder, not a diffusion-model checkpoint")
    _refused(BASE + out + ["--checkpoint", ltx2_files["checkpoint"], "--text-encoder", str(exported["text_encoder"])],
             capsys, "needs its Gemma 3 text encoder")
    _refused(BASE + out + ["--checkpoint", str(exported["checkpoint"]), "--text-encoder", ltx2_files["text_encoder"]],
             capsys, "LTX-Video needs a T5-XXL encoder")
    _refused(BASE + out + ["--checkpoint", str(exported["checkpoint"]), "--text-encoder",
                           str(exported["text_encoder"]), "--audio-only"], capsys, "LTX-Video makes video only")
    _refused(BASE + out + ["--checkpoint", str(exported["checkpoint"]), "--text-encoder",
                           str(exported["text_encoder"]), "--reference-video", "depth.mp4"], capsys,
             "--reference-video is for LTX-2")
    assert not (tmp_path / "x.mp4").exists()


def test_denoising_decode_on_a_090_vae_is_refused_before_sampling(exported, capsys, tmp_path):
    from ltx2_core.ltxv.vae import save_tiny_ltxv_vae

    vae = save_tiny_ltxv_vae(str(tmp_path / "vae-0.9.0.safetensors"), "0.9.0")
    argv = BASE + ["--out", str(tmp_path / "x.mp4"), "--checkpoint", str(exported["checkpoint"]), "--text-encoder",
                   str(exported["text_encoder"]), "--video-vae", vae]
    _refused(argv + ["--decode-timestep", "0.05"], capsys, "0.9.0 VAE has no denoising decoder")
    assert "step" not in capsys.readouterr().err
    assert main(argv) == 0  # the same VAE decodes fine without the denoising inputs
    _video_only(tmp_path / "x.mp4", 17, 128, 96)
