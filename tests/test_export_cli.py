"""`python -m ltx2_core demo --export DIR` writes real files in the official layouts, and every `generate` path runs
on them through the CLI as a user would run it (subprocesses, default options; only tiny sizes are given):
safetensors with a LoRA and image + keyframe conditioning; a GGUF transformer and a GGUF Gemma made by
`python -m ltx2_core.convert` with a LoRA and two stages; audio-to-video. Each output mp4 is checked."""

import json
import os
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from safetensors import safe_open

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = ["--width", "128", "--height", "64", "--frames", "17"]
FRAMES, FPS = 17, 24


def _cli(*args, cwd, module="ltx2_core", check=True):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _keys(path):
    with safe_open(path, framework="pt") as handle:
        return list(handle.keys()), handle.metadata() or {}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The exported files, the GGUF conversions of the checkpoint and the Gemma folder, an image and a wav."""
    work = tmp_path_factory.mktemp("export")
    proc = _cli("demo", "--export", "models", cwd=work)
    lines = [line[len("Wrote "):] for line in proc.stdout.splitlines() if line.startswith("Wrote ")]
    written = dict(line.split(": ", 1) for line in lines)
    assert set(written) == {"checkpoint", "text_encoder", "upsampler", "lora"}
    gemma = written["text_encoder"]
    _cli(written["checkpoint"], "models/ltx-Q8_0.gguf", "--type", "Q8_0", cwd=work, module="ltx2_core.convert")
    _cli(os.path.join(gemma, "model.safetensors"), "models/gemma-Q8_0.gguf", "--type", "Q8_0", "--tokenizer",
         os.path.join(gemma, "tokenizer.model"), cwd=work, module="ltx2_core.convert")
    written.update(gguf=str(work / "models" / "ltx-Q8_0.gguf"), gemma_gguf=str(work / "models" / "gemma-Q8_0.gguf"))
    pixels = (np.random.default_rng(0).random((48, 80, 3)) * 255).astype(np.uint8)
    with av.open(str(work / "first.png"), "w", format="image2") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 80, 48, "rgb24"
        for packet in list(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24"))) + list(stream.encode()):
            container.mux(packet)
    from ltx2_core.pipeline.video_io import write_wav

    t = torch.arange(44100) / 44100
    tones = torch.stack([torch.sin(2 * torch.pi * 440 * t), torch.sin(2 * torch.pi * 220 * t)]) * 0.3  # (2, N)
    write_wav(str(work / "voice.wav"), tones, 44100)
    return work, written


def test_export_writes_the_official_layouts(exported):
    work, paths = exported
    keys, metadata = _keys(paths["checkpoint"])
    config = json.loads(metadata["config"])
    assert {"transformer", "vae", "audio_vae", "vocoder"} <= set(config)
    assert config["transformer"]["num_layers"] == 2 and config["transformer"]["caption_proj_before_connector"]
    for prefix in ("model.diffusion_model.transformer_blocks.1.", "model.diffusion_model.video_embeddings_connector.",
                   "model.diffusion_model.audio_embeddings_connector.", "text_embedding_projection.", "vae.encoder.",
                   "vae.decoder.", "audio_vae.encoder.", "audio_vae.decoder.", "vocoder."):
        assert any(k.startswith(prefix) for k in keys), prefix
    gemma = paths["text_encoder"]
    assert sorted(os.listdir(gemma)) == ["config.json", "model.safetensors", "tokenizer.model"]
    with open(os.path.join(gemma, "config.json"), encoding="utf-8") as handle:
        hf_config = json.load(handle)
    assert hf_config["model_type"] == "gemma3" and hf_config["text_config"]["model_type"] == "gemma3_text"
    gemma_keys, _ = _keys(os.path.join(gemma, "model.safetensors"))
    assert "language_model.model.embed_tokens.weight" in gemma_keys
    assert all(k.startswith("language_model.model.") for k in gemma_keys)
    upsampler_keys, upsampler_meta = _keys(paths["upsampler"])
    assert json.loads(upsampler_meta["config"])["spatial_scale"] == 2.0 and upsampler_keys
    lora_keys, _ = _keys(paths["lora"])
    assert lora_keys and all(k.startswith("diffusion_model.transformer_blocks.") for k in lora_keys)
    assert sum(k.endswith(".lora_A.weight") for k in lora_keys) == sum(k.endswith(".lora_B.weight") for k in lora_keys)
    leftovers = [name for _, _, files in os.walk(work / "models") for name in files if name.endswith(".tmp")]
    assert leftovers == []


def _check_clip(path):
    """One video and one audio stream; 17 frames of 128x64; both streams last frames / fps within one frame."""
    expected, frame = Fraction(FRAMES, FPS), Fraction(1, FPS)
    with av.open(path) as container:
        assert (len(container.streams.video), len(container.streams.audio)) == (1, 1)
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert (video.width, video.height) == (128, 64)
        for stream in (video, audio):
            assert abs(Fraction(stream.duration) * stream.time_base - expected) <= frame, stream.type
        assert sum(1 for _ in container.decode(video=0)) == FRAMES


RUNS = {
    "safetensors_lora_image_keyframe": lambda w, p: [
        "--checkpoint", p["checkpoint"], "--text-encoder", p["text_encoder"], "--lora", p["lora"] + "@0.8",
        "--image", str(w / "first.png"), "--image", f"{w / 'first.png'}@16@0.5"],
    "gguf_gemma_gguf_lora_two_stage": lambda w, p: [
        "--checkpoint", p["gguf"], "--text-encoder", p["gemma_gguf"], "--video-vae", p["checkpoint"],
        "--audio-vae", p["checkpoint"], "--lora", p["lora"], "--two-stage", "--upsampler", p["upsampler"]],
    "audio_to_video": lambda w, p: [
        "--checkpoint", p["checkpoint"], "--text-encoder", p["text_encoder"], "--audio", str(w / "voice.wav")],
}


@pytest.mark.parametrize("run", list(RUNS))
def test_generate_paths_on_the_exported_files(exported, run):
    work, paths = exported
    out = str(work / f"{run}.mp4")
    proc = _cli("generate", *RUNS[run](work, paths), "--prompt", "a fox in snow", *SIZE, "--out", out, cwd=work)
    assert f"Wrote {out}" in proc.stdout
    assert ("step 33/33" if "two_stage" in run else "step 30/30") in proc.stderr  # the dev default: 30 steps
    _check_clip(out)


def test_a_gguf_checkpoint_without_vaes_names_the_options(exported, capsys):
    from ltx2_core.__main__ import main

    work, paths = exported
    args = ["generate", "--checkpoint", paths["gguf"], "--text-encoder", paths["gemma_gguf"], "--prompt", "p",
            *SIZE, "--out", str(work / "never.mp4")]
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == (
        "error: ltx-Q8_0.gguf holds no video VAE, audio VAE or vocoder: pass the file(s) holding them with "
        "--video-vae and --audio-vae (load_components: video_vae=, audio_vae=), e.g. the official single-file "
        "checkpoint; the audio VAE file also gives the vocoder.")
    assert main(args + ["--video-vae", paths["checkpoint"]]) == 2
    assert "ltx-Q8_0.gguf holds no audio VAE or vocoder: pass the file(s) holding them with --audio-vae" in \
        capsys.readouterr().err
    assert not os.path.exists(work / "never.mp4")


def test_load_components_keeps_gguf_packed_and_patches_the_lora(exported):
    from ltx2_core.gguf import GGUFFile, QuantizedTensor
    from ltx2_core.pipeline.generate import load_components
    from ltx2_core.pipeline.lora import load_lora

    _, paths = exported
    parts = load_components(paths["gguf"], text_encoder=paths["gemma_gguf"], video_vae=paths["checkpoint"],
                            audio_vae=paths["checkpoint"], loras=[(paths["lora"], 0.5)], dtype=torch.float32)

    def packed(module):
        return sum(isinstance(t, QuantizedTensor) for t in module.state_dict(keep_vars=True).values())

    from ltx2_core.gguf.dequant import type_name

    quantized = {name for name, info in GGUFFile(paths["gguf"]).infos.items() if type_name(info.qtype) == "Q8_0"}
    transformer_quantized = [n for n in quantized if not n.startswith(("text_embedding_projection.",
                                                                       "video_embeddings_connector.",
                                                                       "audio_embeddings_connector."))]
    assert packed(parts.transformer) == len(transformer_quantized) > 0
    assert packed(parts.text_encoder.gemma) == GGUFFile(paths["gemma_gguf"]).tensor_types()["Q8_0"] > 0
    modules = dict(parts.transformer.named_modules())
    lora = load_lora(paths["lora"])
    assert all(len(modules[target].weight_patches) == 1 and modules[target].weight_patches[0].scale == 0.5
               for target in lora)
    assert sum(len(getattr(m, "weight_patches", [])) for m in modules.values()) == len(lora)
    from ltx2_core.text import GemmaTokenizer

    folder_tokenizer = GemmaTokenizer.from_file(paths["text_encoder"])
    assert parts.text_encoder.tokenizer.encode("a fox in snow") == folder_tokenizer.encode("a fox in snow")


def test_a_transformer_only_checkpoint_names_the_missing_parts(exported, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    from ltx2_core.__main__ import main

    _, paths = exported
    tensors = load_file(paths["checkpoint"])
    split = str(tmp_path / "transformer-only.safetensors")
    save_file({k: v for k, v in tensors.items() if not k.startswith(("vae.", "audio_vae.", "vocoder."))}, split)
    args = ["generate", "--checkpoint", split, "--text-encoder", paths["text_encoder"], "--prompt", "p", *SIZE,
            "--out", str(tmp_path / "never.mp4"), "--audio-vae", paths["checkpoint"]]
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == (
        "error: transformer-only.safetensors holds no video VAE: pass the file(s) holding them with --video-vae "
        "(load_components: video_vae=), e.g. the official single-file checkpoint; the audio VAE file also gives "
        "the vocoder.")
