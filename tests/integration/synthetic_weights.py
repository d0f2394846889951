"""Tiny random-weight model files in the official layouts, for the ComfyUI integration tests.

Configs are written as the official `config` safetensors metadata (transformer / vae / audio_vae /
vocoder sections) and the modules are built from exactly what ltx2_core's loaders will read back,
so key names are the official ones (the parity tests check ours equal ltx-core's). Files:

  checkpoints/ltx-2-19b-dev.safetensors         all-in-one (transformer, connectors, text projection,
  checkpoints/ltx-2-19b-distilled.safetensors   video VAE, audio VAE, vocoder); the two are identical
  text_encoders/gemma_3_12B_it.safetensors      ComfyUI-style Gemma (model.* keys + spiece_model)
  text_encoders/gemma-3-12b-it-Q8_0.gguf        the same Gemma as a llama.cpp `gemma3` GGUF (every matrix
                                                Q8_0, tokenizer vocabulary embedded), by ltx2_core.convert
  vae/LTX2_video_vae_bf16.safetensors           video VAE only (vae.* keys)
  vae/LTX2_audio_vae_bf16.safetensors           audio VAE + vocoder only
  latent_upscale_models/ltx-2-spatial-upscaler-x2-1.0.safetensors
  diffusion_models/ltx-2-19b-dev-Q4_K_M.gguf    the transformer, Q8_0/Q4_0-quantized GGUF (arch ltxv)
  loras/ltx-2-test-lora.safetensors             official (PEFT) LoRA on three layers, rank 4
  input/example.png, first_frame.png, last_frame.png, speech.wav, example_video.mp4
  and the LTX-Video 0.9.x files of synthetic_ltxv.py
"""

import copy
import io
import json
import os
import shutil

import numpy as np
import torch
from safetensors.torch import save_file

VERSION_SECTION = {
    "dropout": 0.0, "attention_bias": True, "num_vector_embeds": None, "activation_fn": "gelu-approximate",
    "num_embeds_ada_norm": 1000, "use_linear_projection": False, "only_cross_attention": False,
    "cross_attention_norm": True, "double_self_attention": False, "upcast_attention": False,
    "standardization_norm": "rms_norm", "norm_elementwise_affine": False, "qk_norm": "rms_norm",
    "positional_embedding_type": "rope", "use_audio_video_cross_attention": True, "share_ff": False,
    "av_cross_ada_norm": True, "use_middle_indices_grid": True,
}
TRANSFORMER = {
    **VERSION_SECTION,
    "num_layers": 2, "num_attention_heads": 2, "attention_head_dim": 16, "in_channels": 128, "out_channels": 128,
    "cross_attention_dim": 32, "audio_num_attention_heads": 2, "audio_attention_head_dim": 8,
    "audio_in_channels": 128, "audio_out_channels": 128, "audio_cross_attention_dim": 16,
    # LTX-2.3 text path: projection before the connectors, gated attention.
    "caption_proj_before_connector": True, "caption_projection_first_linear": False,
    "caption_proj_input_norm": False, "caption_projection_second_linear": False,
    "apply_gated_attention": True, "cross_attention_adaln": True,
    "rope_type": "split", "frequencies_precision": "float64", "positional_embedding_theta": 10000.0,
    "positional_embedding_max_pos": [20, 2048, 2048], "audio_positional_embedding_max_pos": [20],
    "connector_num_attention_heads": 2, "connector_attention_head_dim": 16, "connector_num_layers": 1,
    "connector_apply_gated_attention": True, "audio_connector_num_attention_heads": 2,
    "audio_connector_attention_head_dim": 8, "connector_positional_embedding_max_pos": [4096],
}
CONNECTOR_REGISTERS = 4
AUDIO_VAE = {"audio_vae": {
    "model": {"params": {"sampling_rate": 16000, "ddconfig": {
        "double_z": True, "mel_bins": 64, "z_channels": 8, "resolution": 256, "downsample_time": False,
        "in_channels": 2, "out_ch": 2, "ch": 16, "ch_mult": [1, 2, 4], "num_res_blocks": 1,
        "attn_resolutions": [], "dropout": 0.0, "mid_block_add_attention": False,
        "norm_type": "pixel", "causality_axis": "height"}}},
    "preprocessing": {"audio": {"sampling_rate": 16000, "stereo": True},
                      "stft": {"filter_length": 1024, "hop_length": 160, "win_length": 1024, "causal": True},
                      "mel": {"n_mel_channels": 64, "mel_fmin": 0, "mel_fmax": 8000}}}}
VOCODER = {"vocoder": dict(upsample_initial_channel=32, upsample_rates=[6, 5, 2, 2, 2],
                           upsample_kernel_sizes=[16, 15, 8, 4, 4], resblock="1", stereo=True,
                           resblock_kernel_sizes=[3, 7, 11], resblock_dilation_sizes=[[1, 3, 5]] * 3)}
UPSAMPLER = {"_class_name": "LatentUpsampler", "in_channels": 128, "mid_channels": 32, "num_blocks_per_stage": 1,
             "dims": 3, "spatial_upsample": True, "temporal_upsample": False, "spatial_scale": 2.0,
             "rational_resampler": False}
SENTENCES = [
    "A red fox trots through fresh snow in a quiet pine forest at dawn.",
    "blurry, low quality, distorted, static, watermark, text",
    "The camera tracks alongside at low height while wind moves the trees.",
    "A woman speaks softly to the camera in a bright kitchen.",
    "Waves crash on black rocks under a grey sky, gulls call overhead.",
]

FILES = {
    "checkpoint": "ltx-2-19b-dev.safetensors",
    "checkpoint_distilled": "ltx-2-19b-distilled.safetensors",
    "gemma": "gemma_3_12B_it.safetensors",
    "gemma_gguf": "gemma-3-12b-it-Q8_0.gguf",
    "video_vae": "LTX2_video_vae_bf16.safetensors",
    "audio_vae": "LTX2_audio_vae_bf16.safetensors",
    "upscaler": "ltx-2-spatial-upscaler-x2-1.0.safetensors",
    "gguf": "ltx-2-19b-dev-Q4_K_M.gguf",
    "lora": "ltx-2-test-lora.safetensors",
}
LORA_TARGETS = ("transformer_blocks.0.attn1.to_q", "transformer_blocks.1.ff.net.2", "audio_proj_out")


def video_vae_section():
    from ltx2_core.video_vae import LTX2_VAE_METADATA

    meta = copy.deepcopy(LTX2_VAE_METADATA)
    meta.update(latent_channels=128, decoder_base_channels=4)
    for side in ("encoder_blocks", "decoder_blocks"):
        meta[side] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p] for n, p in meta[side]]
    # Keep the encoder at the latent width (the released encoder doubles it at every compression).
    meta["encoder_blocks"] = [[n, {**p, "multiplier": 1}] if "multiplier" in p else [n, p]
                              for n, p in meta["encoder_blocks"]]
    return meta


def randomize(module, generator, scale=0.2):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim == 1:
                p.copy_(1.0 + 0.05 * torch.randn(p.shape, generator=generator) if "norm" in name or "std" in name
                        else 0.05 * torch.randn(p.shape, generator=generator))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) * scale / fan_in ** 0.5)
        for name, b in module.named_buffers():
            if not b.is_floating_point():
                continue
            if "std" in name:  # latent statistics: std in [0.5, 1.5), mean small
                b.copy_(torch.rand(b.shape, generator=generator) + 0.5)
            elif "mean" in name:
                b.copy_(0.1 * torch.randn(b.shape, generator=generator))
            elif not torch.isfinite(b).all():
                raise AssertionError(f"uninitialized buffer {name}")
    return module


def float_state(module):
    return {k: v.detach().float().contiguous().clone() for k, v in module.state_dict().items()}


def train_tokenizer() -> bytes:
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES * 8), model_writer=buffer, vocab_size=120, model_type="unigram",
        character_coverage=1.0, pad_id=0, unk_id=3, bos_id=2, eos_id=1, hard_vocab_limit=False,
        minloglevel=2, num_threads=1, byte_fallback=False,
    )
    return buffer.getvalue()


def build_parts(vocab_size, seed=0):
    """{prefix-free part name: state dict} of every network plus the metadata config."""
    from ltx2_core.audio import AudioVAE, AudioVAEConfig, Vocoder, VocoderConfig
    from ltx2_core.text import ConnectorConfig, EmbeddingsConnector, FeatureExtractorConfig, GemmaConfig, TextProjection
    from ltx2_core.text.gemma import GemmaTextModel
    from ltx2_core.transformer import LTX2Transformer, TransformerConfig
    from ltx2_core.upsampler import LatentUpsampler, LatentUpsamplerConfig
    from ltx2_core.video_vae import VideoVAE, VideoVAEConfig

    g = torch.Generator().manual_seed(seed)
    config = {"transformer": TRANSFORMER, "vae": video_vae_section(), **AUDIO_VAE, **VOCODER}
    # The vocabulary equals the tokenizer's, so generated ids always decode (prompt enhancer).
    gemma_cfg = GemmaConfig.tiny(num_layers=2, sliding_window=4, vocab_size=vocab_size)
    parts = {
        "transformer": randomize(LTX2Transformer(TransformerConfig.from_metadata(config)), g),
        "vae": randomize(VideoVAE(VideoVAEConfig.from_metadata(config)), g, scale=0.5),
        "audio_vae": randomize(AudioVAE(AudioVAEConfig.from_metadata(config)), g, scale=0.5),
        "vocoder": randomize(Vocoder(VocoderConfig.from_metadata(config)), g, scale=0.5),
        "projection": randomize(TextProjection(FeatureExtractorConfig.from_metadata(
            config, embedding_dim=gemma_cfg.hidden_size, num_states=gemma_cfg.num_layers + 1)), g),
        "gemma": randomize(GemmaTextModel(gemma_cfg), g, scale=1.0),
        "upsampler": randomize(LatentUpsampler(LatentUpsamplerConfig.from_metadata(UPSAMPLER)), g, scale=0.1),
    }
    for stream in ("video", "audio"):
        cfg = ConnectorConfig.from_metadata(config, stream)
        cfg = type(cfg)(**{**cfg.__dict__, "num_registers": CONNECTOR_REGISTERS})
        parts[f"{stream}_connector"] = randomize(EmbeddingsConnector(cfg), g)
    return {k: float_state(v) for k, v in parts.items()}, config


def prefixed(state, prefix):
    return {prefix + k: v for k, v in state.items()}


def write_gguf(path, transformer_state, config):
    """The transformer as a GGUF file (arch ltxv): 2-D weights Q8_0 / Q4_0, the rest F32."""
    import gguf

    writer = gguf.GGUFWriter(path, arch="ltxv")
    writer.add_string("general.name", "ltx2-tiny-test")
    writer.add_string("config", json.dumps(config))
    for index, (key, tensor) in enumerate(sorted(transformer_state.items())):
        array = tensor.float().numpy()
        if array.ndim == 2 and array.shape[1] % 32 == 0:
            qtype = gguf.GGMLQuantizationType.Q8_0 if index % 2 else gguf.GGMLQuantizationType.Q4_0
            packed = gguf.quants.quantize(array, qtype)
            writer.add_tensor(key, packed, raw_shape=packed.shape, raw_dtype=qtype)
        else:
            writer.add_tensor(key, array.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def lora_state(transformer_state, rank=4, seed=1):
    """Official-format LoRA: diffusion_model.<module>.lora_A.weight (r, in), .lora_B.weight (out, r)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for target in LORA_TARGETS:
        rows, cols = transformer_state[target + ".weight"].shape
        out[f"diffusion_model.{target}.lora_A.weight"] = torch.randn(rank, cols, generator=g) / cols ** 0.5
        out[f"diffusion_model.{target}.lora_B.weight"] = torch.randn(rows, rank, generator=g) * 0.5
    return out


def write_inputs(input_dir):
    from PIL import Image

    os.makedirs(input_dir, exist_ok=True)
    y, x = np.mgrid[0:96, 0:128]
    for name, phase in (("example.png", 0), ("first_frame.png", 1), ("last_frame.png", 2)):
        rgb = np.stack([(x * 2 + phase * 60) % 256, (y * 2 + phase * 90) % 256, ((x + y) + phase * 30) % 256], -1)
        Image.fromarray(rgb.astype(np.uint8)).save(os.path.join(input_dir, name))
    write_example_video(os.path.join(input_dir, "example_video.mp4"))
    import av

    rate, seconds = 16000, 2.0
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32)
    with av.open(os.path.join(input_dir, "speech.wav"), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray((wave * 32767).astype(np.int16)[None], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def example_video_pixels(frames=9, size=64):
    """(3, frames, size, size) smooth moving gradients in [-1, 1]: the video of the video-to-audio workflow."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    clips = [torch.stack([(x + 3 * t) % size, (y + 2 * t) % size, (x + y) // 2]) for t in range(frames)]
    return torch.stack(clips, dim=1).float() / (size - 1) * 2 - 1


def write_example_video(path, fps=24):
    """An H.264 mp4 (no audio) of `example_video_pixels`, written with PyAV alone (scripts use it without the pack)."""
    import av

    frames = ((example_video_pixels() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).numpy()
    with av.open(path, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "18"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_models(models_dir, input_dir):
    """Write every file listed in the module docstring; returns {role: path}."""
    import sentencepiece
    from ltx2_core.convert import convert

    spm_bytes = train_tokenizer()
    parts, config = build_parts(sentencepiece.SentencePieceProcessor(model_proto=spm_bytes).GetPieceSize())
    meta = {"config": json.dumps(config)}
    path = lambda folder, role: os.path.join(models_dir, folder, FILES[role])  # noqa: E731
    for folder in ("checkpoints", "text_encoders", "vae", "latent_upscale_models", "diffusion_models", "loras"):
        os.makedirs(os.path.join(models_dir, folder), exist_ok=True)

    audio = {**prefixed(parts["audio_vae"], "audio_vae."), **prefixed(parts["vocoder"], "vocoder.")}
    monolith = {
        **prefixed(parts["transformer"], "model.diffusion_model."),
        **prefixed(parts["video_connector"], "model.diffusion_model.video_embeddings_connector."),
        **prefixed(parts["audio_connector"], "model.diffusion_model.audio_embeddings_connector."),
        **prefixed(parts["projection"], "text_embedding_projection."),
        **prefixed(parts["vae"], "vae."),
        **audio,
    }
    save_file(monolith, path("checkpoints", "checkpoint"), metadata=meta)
    shutil.copyfile(path("checkpoints", "checkpoint"), path("checkpoints", "checkpoint_distilled"))
    gemma = prefixed(parts["gemma"], "model.")
    gemma["spiece_model"] = torch.frombuffer(bytearray(spm_bytes), dtype=torch.uint8)
    save_file(gemma, path("text_encoders", "gemma"))
    convert(path("text_encoders", "gemma"), path("text_encoders", "gemma_gguf"), "Q8_0", min_elements=0)
    vae_meta = {"config": json.dumps({"vae": config["vae"]})}
    save_file(prefixed(parts["vae"], "vae."), path("vae", "video_vae"), metadata=vae_meta)
    audio_meta = {"config": json.dumps({"audio_vae": config["audio_vae"], "vocoder": config["vocoder"]})}
    save_file(audio, path("vae", "audio_vae"), metadata=audio_meta)
    save_file(parts["upsampler"], path("latent_upscale_models", "upscaler"), metadata={"config": json.dumps(UPSAMPLER)})
    write_gguf(path("diffusion_models", "gguf"), parts["transformer"], {"transformer": TRANSFORMER})
    save_file(lora_state(parts["transformer"]), path("loras", "lora"))
    write_inputs(input_dir)
    from synthetic_ltx25 import write_ltx25_models
    from synthetic_ltxv import write_ltxv_models

    ltx25 = write_ltx25_models(models_dir, {role: path(folder, role) for role, folder in (
        ("video_vae", "vae"), ("audio_vae", "vae"), ("upscaler", "latent_upscale_models"), ("lora", "loras"))})
    return {**write_ltxv_models(models_dir), **ltx25, **{role: path(folder, role) for role, folder in (("lora", "loras"),
        ("checkpoint", "checkpoints"), ("checkpoint_distilled", "checkpoints"), ("gemma", "text_encoders"),
        ("gemma_gguf", "text_encoders"),
        ("video_vae", "vae"), ("audio_vae", "vae"), ("upscaler", "latent_upscale_models"),
        ("gguf", "diffusion_models"))}}
