"""The tiny LTX-2.5 demo: in memory, exported as official per-component files, and through the CLI."""

import os
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from ltx2_core.pipeline.demo25 import DEMO25_FILES, demo25_components, export_demo25, gemma4_hf_config
from ltx2_core.pipeline.generate import Components, default_stage1, load_components
from ltx2_core.release import LTX25_GEMMA, read_release
from ltx2_core.text.gemma4 import Gemma4Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo25_is_an_ltx25_model_with_gemma4_and_duration_head():
    parts = demo25_components()
    config = parts.transformer.config
    assert config.keyframe_marker and not config.ff_bias and config.version == "2.5"
    assert type(parts.text_encoder.gemma).__name__ == "Gemma4TextModel"
    assert parts.duration_head is not None and parts.release.is_ltx25
    assert parts.video_vae.decoder_kind == "diffusion"  # the 2.5 VAE: conv encoder + diffusion decoder
    gemma = parts.text_encoder.gemma.config
    assert Gemma4Config.from_hf_dict(gemma4_hf_config(gemma)) == gemma  # the written config reads back equal
    stage = default_stage1(parts, None, None, None, "euler")
    assert stage.sigmas.numel() - 1 == 30  # LTX-2.5 dev keeps the LTX-2.3 presets (30 steps)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo25")
    return demo25_components(encoders=True), export_demo25(str(folder))


def test_export_writes_the_official_per_component_layout(exported):
    parts, paths = exported
    assert {role: os.path.basename(p) for role, p in paths.items()} == DEMO25_FILES
    for role in ("checkpoint", "text_encoder", "video_vae", "audio_vae", "duration_head"):
        assert read_release(paths[role]).version == (2, 5, 0), role
        assert read_release(paths[role]).gemma_version == LTX25_GEMMA, role
    with safe_open(paths["checkpoint"], "pt") as f:
        keys = set(f.keys())
    assert "model.diffusion_model.keyframes_abs_pos_embedding" in keys
    assert "model.diffusion_model.transformer_blocks.0.ff.net.0.proj.bias" not in keys
    assert any(k.startswith("model.diffusion_model.video_embeddings_connector.") for k in keys)
    assert not any(k.startswith(("text_embedding_projection.", "vae.", "audio_vae.")) for k in keys)
    with safe_open(paths["text_encoder"], "pt") as f:
        keys = set(f.keys())
    assert "tokenizer_json" in keys and any(k.startswith("text_embedding_projection.") for k in keys)


def test_exported_files_load_back_equal(exported):
    parts, paths = exported
    loaded = load_components(paths["checkpoint"], text_encoder=paths["text_encoder"], video_vae=paths["video_vae"],
                             audio_vae=paths["audio_vae"], duration_head=paths["duration_head"], dtype=torch.float32)
    assert isinstance(loaded, Components) and loaded.release.is_ltx25
    assert loaded.video_vae.decoder_kind == "diffusion"
    for name in ("transformer", "video_vae", "audio_vae", "vocoder", "duration_head"):
        ours, theirs = getattr(parts, name).state_dict(), getattr(loaded, name).state_dict()
        assert set(ours) == set(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours), name
    loaded.text_encoder.max_length = parts.text_encoder.max_length
    a = parts.text_encoder.encode(["a red fox"], use_cache=False)
    b = loaded.text_encoder.encode(["a red fox"], use_cache=False)
    assert torch.equal(a.video, b.video) and torch.equal(a.audio, b.audio)


def test_cli_demo_and_generate_with_the_exported_files(exported, tmp_path):
    """`demo --model ltx-2.5` (auto length) and `generate` on the exported files with --seconds auto, as a user
    runs them: subprocesses, real mp4 files with one video and one audio stream of the predicted length."""
    from _av_checks import check_av_mp4

    _, paths = exported
    env = dict(os.environ, PYTHONPATH=ROOT)
    run = lambda *args: subprocess.run([sys.executable, "-m", "ltx2_core", *args], cwd=tmp_path, env=env,  # noqa
                                       capture_output=True, text=True, timeout=300)
    demo = run("demo", "--model", "ltx-2.5", "--out", "demo.mp4", "--width", "64", "--height", "64", "--steps", "2")
    assert demo.returncode == 0, demo.stderr[-2000:]
    gen = run("generate", "--checkpoint", paths["checkpoint"], "--text-encoder", paths["text_encoder"],
              "--video-vae", paths["video_vae"], "--audio-vae", paths["audio_vae"], "--duration-head",
              paths["duration_head"], "--seconds", "auto", "--prompt", "a fox", "--width", "64", "--height", "64",
              "--steps", "2", "--distilled", "--out", "clip.mp4")
    assert gen.returncode == 0, gen.stderr[-2000:]
    import av

    for name in ("demo.mp4", "clip.mp4"):
        with av.open(str(tmp_path / name)) as container:
            frames = container.streams.video[0].frames
        assert (frames - 1) % 8 == 0 and frames > 1, name
        check_av_mp4(str(tmp_path / name), frames, 24.0)
    missing = run("generate", "--checkpoint", paths["checkpoint"], "--text-encoder", paths["text_encoder"],
                  "--prompt", "a fox", "--out", "x.mp4", "--width", "64", "--height", "64")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "video VAE" in missing.stderr or "--video-vae" in missing.stderr


def test_image_conditioning_crf_follows_the_release(monkeypatch):
    """Single images are re-encoded at CRF 18 for model_version >= 2.4 and 33 for LTX-2 / 2.3 (official
    LTX_2_4_PARAMS / LTX_2_3_PARAMS); an explicit crf on the input wins."""
    from ltx2_core.pipeline import two_stage
    from ltx2_core.pipeline.demo import demo_components
    from ltx2_core.pipeline.generate import generate
    from ltx2_core.pipeline.guidance import NO_GUIDANCE
    from ltx2_core.pipeline.two_stage import VideoInput

    seen = []
    real = two_stage.h264_roundtrip
    monkeypatch.setattr(two_stage, "h264_roundtrip", lambda pixels, crf: (seen.append(crf), real(pixels, crf))[1])
    image = torch.rand(3, 1, 64, 64) * 2 - 1
    small = dict(width=64, height=64, frames=9, seed=1, guidance=NO_GUIDANCE, sigmas=[1.0, 0.0])
    generate(demo25_components(encoders=True), "a fox", images=[VideoInput(image)], **small)
    generate(demo_components(encoders=True), "a fox", images=[VideoInput(image)], **small)
    generate(demo25_components(encoders=True), "a fox", images=[VideoInput(image, crf=25)], **small)
    assert seen == [18, 33, 25]
