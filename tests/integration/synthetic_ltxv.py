"""Tiny random LTX-Video 0.9.x files in the official layouts, for the ComfyUI integration tests, written with
the component packages' tiny builders (transformer, VAE, T5). Latents have the released 128 channels, so the
shared empty-latent node fits them; T5 and the transformer's caption width agree (32).

  checkpoints/ltxv-13b-0.9.8-distilled.safetensors   transformer (causal positions) + 0.9.5-layout VAE
  checkpoints/ltxv-2b-0.9.6-distilled-04-25.safetensors  the same weights as a 2B 0.9.6 file (image-to-video)
  checkpoints/ltx-video-2b-v0.9.1.safetensors        transformer (non-causal positions) + 0.9.1 VAE (denoising decoder)
  vae/ltx-video-0.9.0-vae.safetensors                 0.9.0 VAE only (no denoising decoder)
  text_encoders/t5xxl_fp16.safetensors                ComfyUI-style T5 encoder (HF names) + spiece.model beside it
  latent_upscale_models/ltxv-spatial-upscaler-0.9.8.safetensors
  diffusion_models/ltxv-13b-0.9.8-distilled-Q8_0.gguf the 13B file's transformer, Q8_0 (ltx2_core.convert)
  loras/ltxv-test-lora.safetensors                    official LoRA on two layers of that transformer, rank 4
  loras/ltxv-other-size-lora.safetensors              a LoRA whose layers have another width (another model size)
"""

import json
import os
import shutil

import torch
from safetensors.torch import save_file

LATENT_CHANNELS = 128
FILES = {
    "ltxv_13b": ("checkpoints", "ltxv-13b-0.9.8-distilled.safetensors"),
    "ltxv_2b": ("checkpoints", "ltxv-2b-0.9.6-distilled-04-25.safetensors"),
    "ltxv_091": ("checkpoints", "ltx-video-2b-v0.9.1.safetensors"),
    "ltxv_vae_090": ("vae", "ltx-video-0.9.0-vae.safetensors"),
    "t5": ("text_encoders", "t5xxl_fp16.safetensors"),
    "ltxv_upscaler": ("latent_upscale_models", "ltxv-spatial-upscaler-0.9.8.safetensors"),
    "ltxv_gguf": ("diffusion_models", "ltxv-13b-0.9.8-distilled-Q8_0.gguf"),
    "ltxv_lora": ("loras", "ltxv-test-lora.safetensors"),
    "ltxv_lora_other": ("loras", "ltxv-other-size-lora.safetensors"),
}
LORA_TARGETS = ("transformer_blocks.0.attn1.to_q", "transformer_blocks.1.ff.net.2")
UPSAMPLER = {"_class_name": "LatentUpsampler", "in_channels": LATENT_CHANNELS, "mid_channels": 32,
             "num_blocks_per_stage": 1, "dims": 3, "spatial_upsample": True, "temporal_upsample": False}


def _vae(version, seed):
    from ltx2_core.ltxv.vae import tiny_metadata, tiny_state_dict

    meta = tiny_metadata(version, latent=LATENT_CHANNELS)
    return {f"vae.{k}": v for k, v in tiny_state_dict(version, seed=seed, latent=LATENT_CHANNELS).items()}, meta


def _lora(state, width_change=0, rank=4, seed=8):
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for target in LORA_TARGETS:
        rows, cols = state[target + ".weight"].shape
        cols += width_change
        out[f"diffusion_model.{target}.lora_A.weight"] = torch.randn(rank, cols, generator=generator) / cols ** 0.5
        out[f"diffusion_model.{target}.lora_B.weight"] = torch.randn(rows + width_change, rank, generator=generator)
    return out


def _checkpoint(path, version, causal, seed):
    from ltx2_core.ltxv import LTXVTransformerConfig, save_tiny_checkpoint
    from ltx2_core.text.t5 import T5Config

    config = LTXVTransformerConfig.tiny(in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS,
                                        caption_channels=T5Config.tiny().d_model,
                                        causal_temporal_positioning=causal)
    vae, vae_meta = _vae(version, seed)
    meta = {"config": json.dumps({"transformer": config.to_metadata(), "vae": vae_meta})}
    return save_tiny_checkpoint(path, config, seed=seed, extra=vae, metadata=meta)


def write_ltxv_models(models_dir):
    """Write every file listed in the module docstring; returns {role: path}."""
    from ltx2_core.ltxv.upsampler import LatentUpsampler
    from ltx2_core.text.t5 import tiny_spiece_model, tiny_t5
    from ltx2_core.upsampler import LatentUpsamplerConfig

    path = {role: os.path.join(models_dir, *where) for role, where in FILES.items()}
    for folder, _ in FILES.values():
        os.makedirs(os.path.join(models_dir, folder), exist_ok=True)
    from ltx2_core.convert import convert

    state = _checkpoint(path["ltxv_13b"], "0.9.5", True, seed=3)
    convert(path["ltxv_13b"], path["ltxv_gguf"], "Q8_0", min_elements=0)
    save_file(_lora(state), path["ltxv_lora"])
    save_file(_lora(state, width_change=16), path["ltxv_lora_other"])
    shutil.copyfile(path["ltxv_13b"], path["ltxv_2b"])
    _checkpoint(path["ltxv_091"], "0.9.1", False, seed=4)
    vae, meta = _vae("0.9.0", 5)
    save_file(vae, path["ltxv_vae_090"], metadata={"config": json.dumps({"vae": meta})})
    t5 = tiny_t5(seed=6)
    save_file({k: v.contiguous() for k, v in t5.state_dict().items()}, path["t5"])
    with open(os.path.join(models_dir, "text_encoders", "spiece.model"), "wb") as handle:
        handle.write(tiny_spiece_model())
    generator = torch.Generator().manual_seed(7)
    config = LatentUpsamplerConfig(in_channels=LATENT_CHANNELS, mid_channels=32, num_blocks_per_stage=1)
    upsampler = LatentUpsampler(config)
    state = {k: torch.randn(v.shape, generator=generator) * 0.05 for k, v in upsampler.state_dict().items()}
    save_file(state, path["ltxv_upscaler"], metadata={"config": json.dumps(UPSAMPLER)})
    return path
