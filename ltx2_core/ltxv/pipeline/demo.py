"""A tiny random-weight LTX-Video (transformer, 0.9.5-layout VAE, T5, spatial x2 upsampler) for
`python -m ltx2_core demo --model ltx-video`: run it end to end, or export it as official-layout files."""

import json
import os
from typing import Callable, Optional

import torch

from ...atomic import atomic_output
from ...upsampler import LatentUpsampler, LatentUpsamplerConfig
from ..transformer import LTXVTransformer, LTXVTransformerConfig
from ..transformer.tiny import random_state_dict, save_tiny_checkpoint
from ..vae import LTXVVAEConfig, LTXVVideoVAE, tiny_metadata, tiny_state_dict
from .components import LTXVComponents
from .generate import generate

DEMO_VAE_VERSION = "0.9.5"
DEMO_MAX_LENGTH = 16
FILES = {"checkpoint": "ltxv-demo-2b-0.9.5.safetensors", "text_encoder": "t5-demo",
         "upsampler": "ltxv-demo-spatial-upscaler.safetensors"}


def _t5_config():
    from ...text.t5.config import T5Config

    return T5Config.tiny()


def demo_transformer_config() -> LTXVTransformerConfig:
    return LTXVTransformerConfig.tiny(caption_channels=_t5_config().d_model, causal_temporal_positioning=True)


def demo_upsampler(seed: int = 0, channels: int = 8) -> LatentUpsampler:
    """A tiny spatial x2 upsampler (mid width 32, one block per stage) with small random weights."""
    model = LatentUpsampler(LatentUpsamplerConfig(in_channels=channels, mid_channels=32, num_blocks_per_stage=1))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim >= 2:
                param.copy_(torch.randn(param.shape, generator=generator) / param[0].numel() ** 0.5)
            else:
                param.copy_((1.0 if name.endswith("weight") else 0.0) + 0.02 * torch.randn(param.shape,
                                                                                           generator=generator))
    return model.eval()


def demo_components(seed: int = 0) -> LTXVComponents:
    """The tiny model in memory (deterministic in `seed`)."""
    from ...text.t5 import T5TextEncoder
    from ...text.t5.tiny import tiny_spiece_model, tiny_t5
    from ...text.t5.tokenizer import T5Tokenizer

    config = demo_transformer_config()
    transformer = LTXVTransformer(config)
    transformer.load_state_dict(random_state_dict(config, seed), strict=True)
    vae = LTXVVideoVAE(LTXVVAEConfig.from_metadata(tiny_metadata(DEMO_VAE_VERSION)))
    vae.load_state_dict(tiny_state_dict(DEMO_VAE_VERSION, seed=seed), strict=True)
    encoder = T5TextEncoder(tiny_t5(_t5_config(), seed=seed),
                            T5Tokenizer(tiny_spiece_model(), max_length=DEMO_MAX_LENGTH))
    return LTXVComponents(transformer.eval(), vae.eval(), encoder.eval(), demo_upsampler(seed), {}, False)


def run_ltxv_demo(out: str, prompt: str = "a red fox runs through snow", width: int = 256, height: int = 192,
                  frames: int = 25, fps: float = 24.0, steps: int = 8, seed: int = 10, two_pass: bool = False,
                  callback: Optional[Callable] = None) -> str:
    """Generate with the tiny random model and write a video-only clip (its content is noise)."""
    parts = demo_components()
    clip = generate(parts, prompt, width=width, height=height, frames=frames, fps=fps, steps=steps, seed=seed,
                    two_pass=two_pass, callback=callback)
    return clip.save(out)


def _upsampler_metadata(config: LatentUpsamplerConfig) -> dict:
    return {"_class_name": "LatentUpsampler", "in_channels": config.in_channels, "mid_channels": config.mid_channels,
            "num_blocks_per_stage": config.num_blocks_per_stage, "dims": config.dims,
            "spatial_upsample": config.spatial_upsample, "temporal_upsample": config.temporal_upsample}


def export_ltxv_demo(folder: str, seed: int = 0) -> dict:
    """Write the tiny model as official-layout files: one safetensors with the transformer
    (`model.diffusion_model.*`) and VAE (`vae.*`) plus the `config` metadata (transformer / vae / scheduler),
    a T5 HF folder (config.json, model.safetensors, spiece.model) and the upsampler (flat `config`).
    Returns {"checkpoint", "text_encoder", "upsampler"} paths."""
    from safetensors.torch import save_file

    from ...pipeline.demo import make_export_folder
    from ...text.t5.tiny import save_hf_folder, tiny_spiece_model, tiny_t5

    make_export_folder(folder)
    paths = {k: os.path.join(folder, v) for k, v in FILES.items()}
    config = demo_transformer_config()
    vae_meta = tiny_metadata(DEMO_VAE_VERSION)
    vae = {"vae." + k: v for k, v in tiny_state_dict(DEMO_VAE_VERSION, seed=seed).items()}
    channels = vae_meta["latent_channels"]
    vae["vae.per_channel_statistics.channel"] = torch.arange(channels, dtype=torch.float32)
    vae["vae.per_channel_statistics.mean-of-stds"] = torch.ones(channels)
    meta = {"transformer": config.to_metadata(), "vae": vae_meta,
            "scheduler": {"_class_name": "RectifiedFlowScheduler", "num_train_timesteps": 1000, "shifting": "SD3",
                          "base_resolution": None, "target_shift_terminal": 0.1, "sampler": "Uniform"}}
    save_tiny_checkpoint(paths["checkpoint"], config, seed=seed, extra=vae, metadata={"config": json.dumps(meta)})
    save_hf_folder(tiny_t5(_t5_config(), seed=seed), paths["text_encoder"])
    with atomic_output(os.path.join(paths["text_encoder"], "spiece.model")) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(tiny_spiece_model())
    up = demo_upsampler(seed)
    with atomic_output(paths["upsampler"]) as tmp:
        save_file({k: v.contiguous() for k, v in up.state_dict().items()}, tmp,
                  metadata={"config": json.dumps(_upsampler_metadata(up.config))})
    return paths
