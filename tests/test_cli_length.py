"""CLI length options: --frames or --seconds S (nearest 8k+1) or --seconds auto with the LTX-2.5 duration head."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.__main__ import main
from ltx2_core.pipeline.duration import AUTO_MAX_SECONDS, frames_for_seconds, seconds_to_frames

BASE = ["generate", "--checkpoint", "ckpt.safetensors", "--text-encoder", "gemma", "--prompt", "p", "--out", "x.mp4"]


@pytest.mark.parametrize("seconds, fps, frames", [(5.0, 24.0, 121), (1.0, 24.0, 25), (0.01, 24.0, 1),
                                                  (2.0, 25.0, 49), (4.9, 30.0, 145), (60.0, 24.0, 1441)])
def test_frames_for_seconds_is_the_nearest_grid_point(seconds, fps, frames):
    got = frames_for_seconds(seconds, fps)
    assert got == frames and (got - 1) % 8 == 0
    assert abs(got - 1 - seconds * fps) <= 4


@pytest.mark.parametrize("extra, expected", [
    (["--frames", "17", "--seconds", "1"], "error: Give the length once: --frames N or --seconds S"),
    (["--seconds", "soon"], "error: --seconds 'soon' is invalid: give a number of seconds or 'auto'."),
    (["--seconds", "-2"], "error: --seconds -2.0 is invalid: give a positive length in seconds, or 'auto'."),
    (["--seconds", "auto"], "error: --seconds auto needs the LTX-2.5 duration head: add --duration-head"),
    (["--duration-head", "h.safetensors"], "error: --duration-head is used by --seconds auto only"),
    (["--seconds", "auto", "--duration-head", "h.safetensors", "--batch-size", "2"],
     "error: --seconds auto predicts one clip's length: use it with --batch-size 1"),
])
def test_length_errors_are_one_line(tmp_path, monkeypatch, capsys, extra, expected):
    monkeypatch.chdir(tmp_path)
    assert main(BASE + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected) and "\n" not in err


def _head_file(path, parts):
    from ltx2_core.model_patches import DurationHead, DurationHeadConfig

    config = parts.transformer.config
    head = DurationHead(DurationHeadConfig(video_dim=config.dim, audio_dim=config.audio_dim, hidden=16, heads=4,
                                           mlp_hidden=8))
    generator = torch.Generator().manual_seed(2)
    state = {"duration_head." + k: (torch.randn(v.shape, generator=generator) * 0.3).contiguous()
             for k, v in head.state_dict().items()}
    state["duration_head.mlp_out.bias"] = torch.tensor([1.0])  # log-seconds: about e = 2.7 s
    save_file(state, str(path), {"config": json.dumps(head.config.to_metadata()), "model_version": "2.5.0"})
    return str(path)


def test_seconds_and_auto_end_to_end_with_demo_files(tmp_path, capsys):
    """--seconds S writes the nearest 8k+1 frames; --seconds auto writes the length the duration head predicts
    for the prompt (the API's `predict_frames` on the same files)."""
    import av

    from ltx2_core.model_patches import load_duration_head
    from ltx2_core.pipeline.demo import demo_components, save_demo_checkpoint
    from ltx2_core.pipeline.duration import predict_frames
    from ltx2_core.pipeline.generate import encode_prompts, load_components

    parts = demo_components(encoders=True)
    paths = save_demo_checkpoint(parts, str(tmp_path / "models"))
    head = _head_file(tmp_path / "ltx-2.5-duration-head.safetensors", parts)
    common = ["generate", "--checkpoint", paths["checkpoint"], "--text-encoder", paths["text_encoder"],
              "--prompt", "a fox", "--width", "64", "--height", "64", "--steps", "1", "--dtype", "float32",
              "--device", "cpu", "--fps", "12"]
    out = str(tmp_path / "seconds.mp4")
    assert main(common + ["--out", out, "--seconds", "1.4"]) == 0
    with av.open(out) as container:
        assert container.streams.video[0].frames == 17  # 1.4 s x 12 fps = 16.8 -> 17
    loaded = load_components(paths["checkpoint"], text_encoder=paths["text_encoder"], dtype=torch.float32,
                             duration_head=head)
    assert loaded.duration_head is not None
    context = encode_prompts(loaded.text_encoder, ["a fox"])[0]
    want = predict_frames(load_duration_head(head), context.video, context.audio, 12.0)
    out = str(tmp_path / "auto.mp4")
    assert main(common + ["--out", out, "--seconds", "auto", "--duration-head", head]) == 0
    with av.open(out) as container:
        assert container.streams.video[0].frames == want
    assert want not in (17, 121, seconds_to_frames(AUTO_MAX_SECONDS, 12.0))  # the head decided the length
    assert "Wrote" in capsys.readouterr().out
