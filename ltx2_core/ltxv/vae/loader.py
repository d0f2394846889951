"""Loading an LTX-Video VAE strictly from an official single file, a VAE-only file, a diffusers `vae/`
folder / file, or a state dict."""

import os
from typing import Any, Mapping, Optional, Sequence, Union

import torch

from ...checkpoint import load_strict, logical_shape
from ...checkpoint_source import open_checkpoint
from ...errors import CheckpointError
from ...video_vae.keys import components_present, find_prefix, select
from ...video_vae.loader import component_state, wanted_components
from .config import PRESETS, LTXVVAEConfig
from .keys import detect_config, diffusers_names, expected_shapes, is_diffusers
from .model import LTXVVideoVAE

Source = Union[str, os.PathLike, Mapping[str, torch.Tensor]]
TIMESTEP_KEY = "decoder.timestep_scale_multiplier"


def _config_from(config: Any, metadata: Optional[dict]) -> Optional[LTXVVAEConfig]:
    if isinstance(config, LTXVVAEConfig):
        return config
    if config is not None:
        return LTXVVAEConfig.from_metadata(config)
    if isinstance(metadata, Mapping) and isinstance(metadata.get("vae"), Mapping):
        return LTXVVAEConfig.from_metadata(metadata)
    return None


def _diffusers_map(all_shapes: Mapping[str, tuple], config: Optional[LTXVVAEConfig]):
    """(config, our name -> file key) for a diffusers-named VAE; the presets are tried without a config."""
    keys = {k for k in all_shapes if k.startswith(("encoder.", "decoder.", "latents_"))}
    for cfg in [config] if config is not None else [LTXVVAEConfig.preset(v) for v in PRESETS]:
        components = components_present(keys) or ("encoder", "decoder")
        shapes = expected_shapes(cfg, components)
        names = diffusers_names(cfg, shapes)
        if set(names.values()) == keys or config is not None:
            if config is None and any(tuple(all_shapes[names[n]]) != s for n, s in shapes.items()):
                continue
            return cfg, {n: k for n, k in names.items() if k in keys}
    raise CheckpointError("The diffusers VAE weights match none of the LTX-Video 0.9.0 / 0.9.1 / 0.9.5 layouts; "
                          "pass config= with its architecture.")


def load_ltxv_vae(
    source: Source,
    *,
    operations=torch.nn,
    dtype: Optional[torch.dtype] = None,
    device: Union[str, torch.device] = "cpu",
    config: Union[None, LTXVVAEConfig, Mapping[str, Any]] = None,
    components: Optional[Sequence[str]] = None,
) -> LTXVVideoVAE:
    """Load an `LTXVVideoVAE` from a safetensors path / folder or a state dict.

    Architecture: `config`, else the file's `config` metadata (`vae` section), else the key shapes
    (the 0.9.0 / 0.9.1 / 0.9.5 layouts). Every VAE key must be used and every weight present
    (strict). `dtype` casts the weights; the latent statistics stay float32.
    """
    metadata = None
    if isinstance(source, (str, os.PathLike)):
        checkpoint = open_checkpoint(source, subfolders=("vae",), what="LTX-Video VAE")
        all_shapes, metadata, what = checkpoint.shapes(), checkpoint.config_metadata(), checkpoint.name
    elif isinstance(source, Mapping):
        checkpoint, all_shapes, what = None, {k: logical_shape(v) for k, v in source.items()}, "the given state dict"
    else:
        raise CheckpointError(f"load_ltxv_vae needs a safetensors path or a state dict, got {type(source).__name__}.")
    cfg = _config_from(config, metadata)
    if is_diffusers(all_shapes):
        cfg, names = _diffusers_map(all_shapes, cfg)
    else:
        prefix = find_prefix(all_shapes)
        if prefix is None:
            raise CheckpointError(f"{what} holds no LTX-Video VAE weights (no 'vae.encoder.*' / 'vae.decoder.*' keys). "
                                  "Choose an LTX-Video checkpoint or VAE file.")
        names = select(all_shapes, prefix)
        if cfg is None:
            cfg = detect_config({n: tuple(all_shapes[k]) for n, k in names.items()})
        elif "decoder" in components_present(names):
            # The keys decide: official 0.9.0 metadata omits the flag (default False), later ones set it.
            cfg = cfg.with_(timestep_conditioning=TIMESTEP_KEY in names)
    wanted = wanted_components(components_present(names), components, what, "LTX-Video VAE")
    state = component_state(names, wanted, source, checkpoint, dtype, device)
    model = LTXVVideoVAE(cfg, operations=operations, device="meta", dtype=dtype, components=wanted)
    load_strict(model, state, f"LTX-Video {cfg.version} VAE ({', '.join(wanted)})")
    return model.eval()
