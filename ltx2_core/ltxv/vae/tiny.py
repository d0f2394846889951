"""Tiny random LTX-Video VAEs and official-layout files for tests and demos."""

import json
import os
from typing import Dict

import torch
from safetensors.torch import save_file

from ...atomic import atomic_output
from .config import LTXVVAEConfig, tiny_metadata
from .model import LTXVVideoVAE


def tiny_state_dict(version: str, *, seed: int = 0, base: int = 8, latent: int = 8) -> Dict[str, torch.Tensor]:
    """Random float32 weights (our names) of a tiny VAE of `version`; statistics positive std."""
    model = LTXVVideoVAE(LTXVVAEConfig.from_metadata(tiny_metadata(version, base, latent)), device="meta")
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, t in model.state_dict().items():
        value = torch.randn(t.shape, generator=gen) * 0.2
        if name.endswith("std-of-means"):
            value = value.abs() + 0.5
        elif name.endswith("timestep_scale_multiplier"):
            value = torch.tensor(1000.0)
        out[name] = value.contiguous()
    return out


def save_tiny_ltxv_vae(path: str, version: str, *, seed: int = 0, prefix: str = "vae.") -> str:
    """Write a tiny VAE of `version` as an official-layout safetensors (`vae.` keys, `config` metadata
    with a `vae` section and the unused statistics the official files carry)."""
    meta = tiny_metadata(version)
    state = {prefix + k: v for k, v in tiny_state_dict(version, seed=seed).items()}
    channels = meta["latent_channels"]
    state[prefix + "per_channel_statistics.channel"] = torch.arange(channels, dtype=torch.float32)
    state[prefix + "per_channel_statistics.mean-of-stds"] = torch.ones(channels)
    with atomic_output(os.fspath(path)) as tmp:
        save_file(state, tmp, metadata={"config": json.dumps({"vae": meta})})
    return os.fspath(path)
