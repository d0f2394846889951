"""Loading the video VAE strictly from a single-file checkpoint, a VAE-only file (or sharded set / folder), or a
state dict."""

import os
from typing import Any, Mapping, Optional, Sequence, Union

import torch

from ..checkpoint import load_strict, logical_shape
from ..checkpoint_source import open_checkpoint
from ..errors import CheckpointError
from .config import VideoVAEConfig
from .keys import TIMESTEP_CONDITIONING_KEY, components_present, detect_preset, find_prefix, select
from .diffusion_decoder.loader import build_diffusion_vae, check_decoder_request, decoder_kind
from .diffusion_decoder.vae import DiffusionVAEConfig
from .model import VideoVAE

Source = Union[str, os.PathLike, Mapping[str, torch.Tensor]]
STATISTICS_DTYPE = torch.float32  # the latent statistics stay in float32 whatever the weights' dtype


def wanted_components(present: Sequence[str], components: Optional[Sequence[str]], what: str, noun: str) -> tuple:
    """The halves to build: `components`, default all the file holds; one line when one is missing."""
    wanted = tuple(components) if components is not None else tuple(present)
    missing = [c for c in wanted if c not in present]
    if missing:
        raise CheckpointError(f"{what} has no {noun} {' or '.join(missing)} weights; load a file that contains them.")
    return wanted


def component_state(names: Mapping[str, str], wanted: Sequence[str], source, checkpoint, dtype, device) -> dict:
    """Our name -> tensor for the wanted halves and the latent statistics, read once, cast (statistics float32)
    and moved; `checkpoint` is the opened file, or None when `source` is a state dict."""
    names = {n: k for n, k in names.items() if n.split(".", 1)[0] in tuple(wanted) + ("per_channel_statistics",)}
    loaded = source if checkpoint is None else checkpoint.load(names.values())
    state = {}
    for name, key in names.items():
        tensor = loaded[key]
        target = STATISTICS_DTYPE if name.startswith("per_channel_statistics.") else dtype
        if target is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype=target)
        state[name] = tensor.to(device=device)
    return state


def _resolve_config(config: Any, metadata: Optional[dict], shapes: Mapping[str, tuple]) -> VideoVAEConfig:
    if isinstance(config, VideoVAEConfig):
        return config
    if config is None and metadata is not None and isinstance(metadata.get("vae"), Mapping):
        config = metadata
    if config is None:
        return detect_preset(shapes)
    resolved = VideoVAEConfig.from_metadata(config)
    if "decoder" in components_present(shapes):
        # The keys decide: the official configurator's default for a missing flag is not reliable.
        resolved = resolved.with_(timestep_conditioning=TIMESTEP_CONDITIONING_KEY in shapes)
    return resolved


def load_video_vae(
    source: Source,
    *,
    operations=torch.nn,
    dtype: Optional[torch.dtype] = None,
    device: Union[str, torch.device] = "cpu",
    config: Union[None, VideoVAEConfig, Mapping[str, Any]] = None,
    components: Optional[Sequence[str]] = None,
    decoder: str = "auto",
):
    """Load a `VideoVAE` from a safetensors path or a state dict.

    Keys may carry the `vae.` prefix (single-file checkpoints, some ComfyUI VAE files) or not (ComfyUI
    VAE-only files); other prefixes in a monolith are ignored. The architecture comes from `config`,
    else the file's `config` metadata (`vae` section), else the key shapes (LTX-2 / LTX-2.3 layouts).
    `components` ('encoder', 'decoder') defaults to whatever the file holds. `dtype` casts the weights
    (default: as stored); the latent statistics are kept in float32.
    An LTX-2.5 `CausalDiffusionVAE` file (metadata `_class_name`, or `decoder.diff_blocks.*` keys) gives a
    `DiffusionVideoVAE`; `decoder` ('auto', 'conv', 'diffusion') refuses the other kind in one line.
    """
    metadata = None
    if isinstance(source, (str, os.PathLike)):
        checkpoint = open_checkpoint(source, subfolders=("vae",), what="video VAE")
        all_shapes = checkpoint.shapes()
        metadata = checkpoint.config_metadata()
        what = checkpoint.name
    elif isinstance(source, Mapping):
        checkpoint, all_shapes = None, {k: logical_shape(v) for k, v in source.items()}
        what = "the given state dict"
    else:
        raise CheckpointError(f"load_video_vae needs a safetensors path or a state dict, got {type(source).__name__}.")
    prefix = find_prefix(all_shapes)
    if prefix is None:
        raise CheckpointError(
            f"{what} holds no video VAE weights (no 'vae.encoder.*', 'vae.decoder.*' or 'encoder.*'/'decoder.*' "
            "keys). Choose the LTX-2 checkpoint or a VAE file."
        )
    names = select(all_shapes, prefix)
    shapes = {name: all_shapes[key] for name, key in names.items()}
    wanted = wanted_components(components_present(shapes), components, what, "video VAE")
    kind = decoder_kind(metadata, shapes)
    check_decoder_request(decoder, kind, what)
    if kind == "diffusion":
        return build_diffusion_vae(
            names, shapes, metadata, wanted,
            lambda selected: component_state(selected, wanted, source, checkpoint, dtype, device),
            operations=operations, dtype=dtype, device=device,
            config=config if isinstance(config, DiffusionVAEConfig) else None)
    cfg = _resolve_config(config, metadata, shapes)
    state = component_state(names, wanted, source, checkpoint, dtype, device)
    model = VideoVAE(cfg, operations=operations, device="meta", dtype=dtype, components=wanted)
    load_strict(model, state, f"LTX video VAE ({', '.join(wanted)})")
    return model.eval()
