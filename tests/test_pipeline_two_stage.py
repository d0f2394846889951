"""Two stages with every released upsampler kind (tiny random weights): the stage-1 geometry that lands on
the requested size, exact output shapes, determinism, and the errors for sizes that cannot be reached."""

import json

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.__main__ import main
from ltx2_core.errors import InputError
from ltx2_core.pipeline.demo import DEMO_GUIDANCE, demo_components, demo_upsampler
from ltx2_core.pipeline.generate import generate
from ltx2_core.pipeline.two_stage import Stage1Geometry, VideoInput, stage1_geometry
from ltx2_core.upsampler import SPATIAL_X1_5, SPATIAL_X2, TEMPORAL_X2

SPATIOTEMPORAL_X2 = SPATIAL_X2.with_(temporal_upsample=True)


@pytest.fixture(scope="module")
def parts():
    return demo_components(seed=2, encoders=True)


@pytest.mark.parametrize("config, size, expected", [
    (None, (256, 128, 9, 24.0), (128, 64, 9, 24.0)),
    (SPATIAL_X2, (1536, 1024, 121, 24.0), (768, 512, 121, 24.0)),
    (SPATIAL_X1_5, (1152, 768, 121, 24.0), (768, 512, 121, 24.0)),  # latent 36 x 24 -> 24 x 16
    (SPATIAL_X1_5, (1920, 1056, 9, 25.0), (1280, 704, 9, 25.0)),  # 60 x 33 -> 40 x 22
    (SPATIAL_X1_5, (160, 64, 9, 24.0), (96, 32, 9, 24.0)),  # 3k+2 sides: 5 x 2 -> 3 x 1 (ceil(1.5 * L))
    (TEMPORAL_X2, (768, 512, 97, 48.0), (768, 512, 49, 24.0)),  # latent frames 13 -> 7 (2 * 7 - 1 = 13)
    (TEMPORAL_X2, (64, 64, 1, 24.0), (64, 64, 1, 12.0)),
    (SPATIOTEMPORAL_X2, (512, 256, 17, 24.0), (256, 128, 9, 12.0)),
])
def test_stage1_geometry(config, size, expected):
    assert stage1_geometry(config, *size) == Stage1Geometry(*expected)


@pytest.mark.parametrize("config, size, message", [
    (SPATIAL_X2, (96, 64, 9), "width 96 is not a multiple of 64: use a multiple of 64 such as 64 or 128"),
    (SPATIAL_X1_5, (128, 96, 9), "width 128 cannot be reached with the x1.5 upsampler .* use 96 or 160"),
    (SPATIAL_X1_5, (96, 1088, 9), "height 1088 cannot be reached .* use 1056 or 1120"),
    (SPATIAL_X1_5, (32, 64, 9), "width 32 cannot be reached .* use 64"),
    (SPATIAL_X1_5, (100, 64, 9), "width 100 is not a multiple of 32"),
    (TEMPORAL_X2, (64, 64, 25), "frames 25 cannot be reached with the temporal x2 upsampler .* such as 17 or 33"),
    (SPATIAL_X2.with_(spatial_scale=4.0, rational_resampler=True), (128, 128, 9), "not x4.0"),
])
def test_stage1_geometry_errors(config, size, message):
    with pytest.raises(InputError, match=message):
        stage1_geometry(config, *size, 24.0)


@pytest.mark.parametrize("kind", ["spatial_x1_5", "temporal_x2"])
def test_upsampler_lands_on_every_reachable_latent_size(kind):
    """The tiny upsampler itself takes every stage-1 latent stage1_geometry picks to the requested one."""
    upsampler = demo_upsampler(kind, channels=16)
    for side in range(1, 9):
        frames = 8 * side + 1 if kind == "spatial_x1_5" else 16 * side + 1
        try:
            first = stage1_geometry(upsampler.config, 32 * side, 32 * 2, frames, 24.0)
        except InputError:
            assert kind == "spatial_x1_5" and side % 3 == 1
            continue
        latent = torch.randn(1, 16, (first.frames - 1) // 8 + 1, first.height // 32, first.width // 32)
        with torch.no_grad():
            out = upsampler(latent)
        assert out.shape == (1, 16, (frames - 1) // 8 + 1, 2, side), (kind, side, first)


@pytest.mark.parametrize("kind, width, height, frames", [
    ("spatial_x2", 128, 64, 9),
    ("spatial_x1_5", 160, 96, 9),  # latent 5 x 3 from 3 x 2
    ("temporal_x2", 64, 64, 17),  # latent frames 3 from 2, stage 1 at 12 fps
])
def test_two_stage_output_has_exactly_the_requested_shape_and_is_deterministic(parts, kind, width, height, frames):
    parts.upsampler = demo_upsampler(kind, channels=16)
    image = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    kwargs = dict(width=width, height=height, frames=frames, steps=2, seed=5, guidance=DEMO_GUIDANCE,
                  two_stage=True, images=[VideoInput(image, crf=0), VideoInput(image, frame_index=8, crf=0)])
    shapes = []
    first = generate(parts, "a fox", callback=lambda s, t, v, a: shapes.append((s, t, tuple(v.shape))), **kwargs)
    again = generate(parts, "a fox", **kwargs)
    assert first.video.shape == (3, frames, height, width)
    assert first.video_latent.shape == (1, 16, (frames - 1) // 8 + 1, height // 32, width // 32)
    assert first.audio.shape == (2, round(frames / 24 * first.sample_rate))
    small = stage1_geometry(parts.upsampler.config, width, height, frames, 24.0)
    stage1 = (1, 16, (small.frames - 1) // 8 + 1, small.height // 32, small.width // 32)
    assert shapes == [(0, 5, stage1), (1, 5, stage1)] + [(s, 5, tuple(first.video_latent.shape)) for s in (2, 3, 4)]
    assert torch.equal(first.video, again.video) and torch.equal(first.audio, again.audio)
    assert torch.isfinite(first.video).all()


def test_two_stage_input_errors(parts):
    parts.upsampler = demo_upsampler("temporal_x2", channels=16)
    base = dict(width=64, height=64, steps=2, seed=5, guidance=DEMO_GUIDANCE, two_stage=True)
    with pytest.raises(InputError, match="frames 9 cannot be reached with the temporal x2 upsampler"):
        generate(parts, "a fox", frames=9, **base)
    with pytest.raises(InputError, match="temporal x2 upsampler takes image conditioning only"):
        generate(parts, "a fox", frames=17, images=[VideoInput(torch.zeros(3, 9, 64, 64))], **base)
    parts.upsampler = demo_upsampler("spatial_x1_5", channels=16)
    with pytest.raises(InputError, match="width 128 cannot be reached with the x1.5 upsampler"):
        generate(parts, "a fox", frames=9, **dict(base, width=128))
    parts.upsampler = None
    with pytest.raises(InputError, match="needs the latent upsampler"):
        generate(parts, "a fox", frames=9, **base)


def test_cli_reads_the_upsampler_kind_before_loading(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    up = demo_upsampler("spatial_x1_5", channels=16)
    config = {"_class_name": "LatentUpsampler", "in_channels": 16, "mid_channels": 32, "num_blocks_per_stage": 1,
              "dims": 3, "spatial_upsample": True, "temporal_upsample": False, "spatial_scale": 1.5,
              "rational_resampler": True}
    save_file({k: v.contiguous() for k, v in up.state_dict().items()}, "x15.safetensors",
              metadata={"config": json.dumps(config)})
    args = ["generate", "--checkpoint", "missing.safetensors", "--text-encoder", "gemma", "--prompt", "p",
            "--out", "x.mp4", "--two-stage", "--upsampler", "x15.safetensors", "--height", "64"]
    assert main(args + ["--width", "128"]) == 2
    assert capsys.readouterr().err.startswith("error: width 128 cannot be reached with the x1.5 upsampler")
    assert main(args + ["--width", "96"]) == 2  # reachable size (not a multiple of 64): fails later, on the file
    assert capsys.readouterr().err.strip() == "error: Checkpoint not found: 'missing.safetensors'. Check the path."
