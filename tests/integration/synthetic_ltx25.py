"""Tiny random LTX-2.5 files in the official per-component layout, under the official file names, for the ComfyUI
integration tests. Latents have the released widths (video 128, audio 8 x 16), so the shared nodes fit them; the
VAE files are the LTX-2 synthetic ones copied (2.5's audio files load through the 2.3 code); the diffusion-decoder VAE
keeps the conv VAE's encoder.

  diffusion_models/ltx-2.5-22b-distilled-transformer-bf16.safetensors  DiT (no video FFN bias, keyframe marker) +
                                                                        both connectors, model_version 2.5.0
  text_encoders/gemma4-12b-with-proj-ltx-2.5-bf16.safetensors           6-layer Gemma 4 + text projection +
                                                                        tokenizer_json + gemma_config
  vae/ltx-2.5-video-vae-conv-bf16.safetensors, vae/ltx-2.5-audio-vae-bf16.safetensors,
  vae/ltx-2.5-video-vae-bf16.safetensors (the diffusion-decoder VAE: the conv encoder + a tiny diffusion decoder)
  model_patches/ltx-2.5-duration-head-bf16.safetensors                  duration head (predicts about 1.3 s)
  diffusion_models/ltx-2.5-22b-dev-transformer-bf16.safetensors        the same file (dev and distilled headers
                                                                        are identical; the weights differ)
  latent_upscale_models/ltx-2.5-latent-spatial-upscaler-x2-bf16-1.0.safetensors, loras/ltx-2.5-22b-distilled-
  lora-450-bf16.safetensors                                             the LTX-2 synthetic upscaler and LoRA
"""

import json
import math
import os
import shutil

import torch
from safetensors.torch import save_file

FILES = {
    "ltx25_transformer": ("diffusion_models", "ltx-2.5-22b-distilled-transformer-bf16.safetensors"),
    "ltx25_gemma4": ("text_encoders", "gemma4-12b-with-proj-ltx-2.5-bf16.safetensors"),
    "ltx25_video_vae": ("vae", "ltx-2.5-video-vae-conv-bf16.safetensors"),
    "ltx25_diffusion_vae": ("vae", "ltx-2.5-video-vae-bf16.safetensors"),
    "ltx25_audio_vae": ("vae", "ltx-2.5-audio-vae-bf16.safetensors"),
    "ltx25_duration_head": ("model_patches", "ltx-2.5-duration-head-bf16.safetensors"),
    "ltx25_dev": ("diffusion_models", "ltx-2.5-22b-dev-transformer-bf16.safetensors"),
    "ltx25_upscaler": ("latent_upscale_models", "ltx-2.5-latent-spatial-upscaler-x2-bf16-1.0.safetensors"),
    "ltx25_lora": ("loras", "ltx-2.5-22b-distilled-lora-450-bf16.safetensors"),
}
HEAD_SECONDS = 1.3  # the head's output bias (log-seconds); its prediction is near this


def write_ltx25_models(models_dir, ltx2_files, seed=25):
    """Write every file listed in the module docstring (`ltx2_files`: the LTX-2 synthetic files whose VAEs,
    upscaler and LoRA are copied); returns {role: path}."""
    from synthetic_weights import CONNECTOR_REGISTERS, TRANSFORMER, float_state, prefixed, randomize

    from ltx2_core.model_patches import DurationHead, DurationHeadConfig
    from ltx2_core.pipeline.demo25 import demo25_tokenizer_json, gemma4_hf_config, ltx25_release_metadata
    from ltx2_core.text import ConnectorConfig, EmbeddingsConnector, FeatureExtractorConfig, TextProjection
    from ltx2_core.text.gemma4 import Gemma4Config, Gemma4TextModel
    from ltx2_core.text.gemma4.tokenizer import Gemma4Tokenizer
    from ltx2_core.transformer import LTX2Transformer, TransformerConfig

    path = {role: os.path.join(models_dir, *where) for role, where in FILES.items()}
    for folder, _ in FILES.values():
        os.makedirs(os.path.join(models_dir, folder), exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    release = ltx25_release_metadata()
    config = {"transformer": {**TRANSFORMER, "ff_bias": False, "audio_ff_bias": True,
                              "use_keyframes_abs_pos_embedding": True, "use_prompt_adaln_single": True}}
    transformer = randomize(LTX2Transformer(TransformerConfig.from_metadata(config)), g)
    dit = prefixed(float_state(transformer), "model.diffusion_model.")
    for stream in ("video", "audio"):
        cfg = ConnectorConfig.from_metadata(config, stream)
        cfg = type(cfg)(**{**cfg.__dict__, "num_registers": CONNECTOR_REGISTERS})
        connector = randomize(EmbeddingsConnector(cfg), g)
        dit.update(prefixed(float_state(connector), f"model.diffusion_model.{stream}_embeddings_connector."))
    save_file(dit, path["ltx25_transformer"], metadata={"config": json.dumps(config), **release})

    tokenizer_json = demo25_tokenizer_json()
    gemma_config = Gemma4Config.tiny(num_layers=6, vocab_size=Gemma4Tokenizer(tokenizer_json).vocab_size)
    gemma = randomize(Gemma4TextModel(gemma_config), g, scale=1.0)
    projection = randomize(TextProjection(FeatureExtractorConfig.from_metadata(
        config, embedding_dim=gemma_config.hidden_size, num_states=gemma_config.num_layers + 1)), g)
    encoder = {**prefixed(float_state(gemma), "model."), **prefixed(float_state(projection),
                                                                    "text_embedding_projection.")}
    encoder["tokenizer_json"] = torch.frombuffer(bytearray(tokenizer_json.encode("utf-8")), dtype=torch.uint8)
    save_file(encoder, path["ltx25_gemma4"],
              metadata={"gemma_config": json.dumps(gemma4_hf_config(gemma_config)), **release})

    shutil.copyfile(path["ltx25_transformer"], path["ltx25_dev"])
    for role in ("video_vae", "audio_vae", "upscaler", "lora"):
        shutil.copyfile(ltx2_files[role], path[f"ltx25_{role}"])
    write_diffusion_vae(ltx2_files["video_vae"], path["ltx25_diffusion_vae"], g)
    dims = TransformerConfig.from_metadata(config)
    head = randomize(DurationHead(DurationHeadConfig(video_dim=dims.dim, audio_dim=dims.audio_dim, hidden=16, heads=4,
                                                     mlp_hidden=8)), g)
    with torch.no_grad():
        head.mlp_out.weight.mul_(0.1)
        head.mlp_out.bias.fill_(math.log(HEAD_SECONDS))
    save_file(prefixed(float_state(head), "duration_head."), path["ltx25_duration_head"],
              metadata={"config": json.dumps(head.config.to_metadata()), **release})
    return path


def write_diffusion_vae(conv_path, out_path, generator):
    """The LTX-2.5 diffusion VAE layout: the conv VAE's encoder and statistics + a tiny random diffusion decoder."""
    from synthetic_weights import randomize

    from ltx2_core.video_vae import load_video_vae
    from ltx2_core.video_vae.diffusion_decoder import DiffusionDecoderConfig
    from ltx2_core.video_vae.diffusion_decoder.vae import DiffusionVAEConfig, DiffusionVideoVAE

    conv = load_video_vae(conv_path, dtype=torch.float32)
    decoder = DiffusionDecoderConfig.tiny(conv.config.latent_channels).with_(
        stage_kernels=((3, 1, 1), (3, 1, 1), (3, 3, 3), (3, 3, 3)))
    vae = DiffusionVideoVAE(DiffusionVAEConfig(conv.config, decoder))
    randomize(vae.decoder, generator)
    vae.encoder.load_state_dict(conv.encoder.state_dict())
    vae.per_channel_statistics.load_state_dict(conv.per_channel_statistics.state_dict())
    state = {k: v.detach().contiguous() for k, v in vae.state_dict().items()}
    save_file(state, out_path, metadata={"config": json.dumps(vae.config.to_metadata()), "model_version": "2.5.0"})
