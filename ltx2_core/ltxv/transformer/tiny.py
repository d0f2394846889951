"""Tiny random LTX-Video transformers in the official file layouts, for tests and demos."""

import json
import os
from typing import Dict, Mapping, Optional

import torch
from safetensors.torch import save_file

from ...atomic import atomic_output
from .config import LTXVTransformerConfig
from .keys import official_to_diffusers
from .model import LTXVTransformer

LAYOUTS = ("official", "comfyui", "diffusers")


def random_state_dict(config: LTXVTransformerConfig, seed: int = 0, dtype: torch.dtype = torch.float32,
                      scale: float = 0.2) -> Dict[str, torch.Tensor]:
    """Random weights for `config` under official names (q/k norm weights near 1, everything else ~N(0, scale))."""
    shapes = {k: v.shape for k, v in LTXVTransformer(config, device="meta").state_dict().items()}
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for key in sorted(shapes):
        value = torch.randn(shapes[key], generator=generator, dtype=torch.float64) * scale
        if key.endswith(("q_norm.weight", "k_norm.weight")):
            value = 1.0 + value
        out[key] = value.to(dtype)
    return out


def save_tiny_checkpoint(path: str, config: Optional[LTXVTransformerConfig] = None, *, seed: int = 0,
                         layout: str = "official", dtype: torch.dtype = torch.float32,
                         extra: Optional[Mapping[str, torch.Tensor]] = None,
                         metadata: Optional[Mapping[str, str]] = None) -> Dict[str, torch.Tensor]:
    """Write a random transformer atomically and return its state dict (official names).

    layout "official": `model.diffusion_model.*` keys with the official `config` metadata (`extra`, e.g.
    `vae.*` tensors, is stored alongside); "comfyui": bare official names, no metadata; "diffusers":
    diffusers names (pair it with a config.json in the folder for a diffusers model folder).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}")
    config = config or LTXVTransformerConfig.tiny()
    state = random_state_dict(config, seed, dtype)
    if layout == "official":
        tensors = {f"model.diffusion_model.{k}": v for k, v in state.items()}
        info = {"config": json.dumps({"transformer": config.to_metadata()})}
    elif layout == "comfyui":
        tensors, info = dict(state), {}
    else:
        tensors, info = {official_to_diffusers(k): v for k, v in state.items()}, {}
    tensors.update(extra or {})
    info.update(metadata or {})
    with atomic_output(os.fspath(path)) as temp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, temp, metadata=info or None)
    return state
