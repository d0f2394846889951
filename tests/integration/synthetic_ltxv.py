"""Tiny random LTX-Video 0.9.x files in the official layouts, for the ComfyUI integration tests, written with
the component packages' tiny builders (transformer, VAE, T5). Latents have the released 128 channels, so the
shared empty-latent node fits them; T5 and the transformer's caption width agree (32).

  checkpoints/ltxv-13b-0.9.8-distilled.safetensors   transformer (causal positions) + 0.9.5-layout VAE
  checkpoints/ltxv-2b-0.9.6-distilled-04-25.safetensors  the same weights as a 2B 0.9.6 file (image-to-video)
  checkpoints/ltx-video-2b-v0.9.1.safetensors        transformer (non-causal positions) + 0.9.1 VAE (denoising decoder)
  vae/ltx-video-0.9.0-vae.safetensors                 0.9.0 VAE only (no denoising decoder)
  text_encoders/t5xxl_fp16.safetensors                ComfyUI-style T5 encoder (HF names) + spiece.model beside it
  latent_upscale_models/ltxv-spatial-upscaler-0.9.8.safetensors
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
}
UPSAMPLER = {"_class_name": "LatentUpsampler", "in_channels": LATENT_CHANNELS, "mid_channels": 32,
             "num_blocks_per_stage": 1, "dims": 3, "spatial_upsample": True, "temporal_upsample": False}


def _vae(version, seed):
    from ltx2_core.ltxv.vae import tiny_metadata, tiny_state_dict

    meta = tiny_metadata(version, latent=LATENT_CHANNELS)
    return {f"vae.{k}": v for k, v in tiny_state_dict(version, seed=seed, latent=LATENT_CHANNELS).items()}, meta


def _checkpoint(path, version, causal, seed):
    from ltx2_core.ltxv import LTXVTransformerConfig, save_tiny_checkpoint
    from ltx2_core.text.t5 import T5Config

    config = LTXVTransformerConfig.tiny(in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS,
                                        caption_channels=T5Config.tiny().d_model,
                                        causal_temporal_positioning=causal)
    vae, vae_meta = _vae(version, seed)
    meta = {"config": json.dumps({"transformer": config.to_metadata(), "vae": vae_meta})}
    save_tiny_checkpoint(path, config, seed=seed, extra=vae, metadata=meta)


def write_ltxv_models(models_dir):
    """Write every file listed in the module docstring; returns {role: path}."""
    from ltx2_core.ltxv.upsampler import LatentUpsampler
    from ltx2_core.text.t5 import tiny_spiece_model, tiny_t5
    from ltx2_core.upsampler import LatentUpsamplerConfig

    path = {role: os.path.join(models_dir, *where) for role, where in FILES.items()}
    for folder, _ in FILES.values():
        os.makedirs(os.path.join(models_dir, folder), exist_ok=True)
    _checkpoint(path["ltxv_13b"], "0.9.5", True, seed=3)
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
