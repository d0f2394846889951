"""Loading a latent upsampler strictly from its safetensors file or a state dict."""

import os
from typing import Any, Mapping, Optional, Union

import torch

from ..checkpoint import load_safetensors, load_strict, logical_shape, read_config_metadata, read_safetensors_header
from ..errors import CheckpointError
from .config import LatentUpsamplerConfig
from .model import LatentUpsampler, binomial_kernel

BLUR_KEY = "upsampler.blur_down.kernel"
PLAIN_KEY = "upsampler.0.weight"  # conv before a pixel shuffle (x2 spatial, temporal, 3-D)
RATIONAL_KEY = "upsampler.conv.weight"  # conv of the rational resampler


def detect_config(shapes: Mapping[str, tuple]) -> LatentUpsamplerConfig:
    """Rebuild the config from key shapes (used when a file has no `config` metadata).

    A rational x3 upsampler is taken as the released x1.5 (x0.75 has the same weights' shapes).
    """
    if "initial_conv.weight" not in shapes or "final_conv.weight" not in shapes:
        raise CheckpointError(
            "These weights are not a latent upsampler (no 'initial_conv.weight' / 'final_conv.weight')."
        )
    mid, in_channels = shapes["initial_conv.weight"][:2]
    dims = len(shapes["initial_conv.weight"]) - 2
    blocks = len({k.split(".")[1] for k in shapes if k.startswith("res_blocks.")})
    common = dict(in_channels=in_channels, mid_channels=mid, num_blocks_per_stage=blocks, dims=dims)
    if RATIONAL_KEY in shapes:
        num = int(round((shapes[RATIONAL_KEY][0] // mid) ** 0.5))
        scale = {2: 2.0, 3: 1.5, 4: 4.0}.get(num)
        if scale is None:
            raise CheckpointError(f"Unsupported rational upsampler factor {num} in the weights.")
        return LatentUpsamplerConfig(spatial_scale=scale, rational_resampler=True, **common)
    if PLAIN_KEY not in shapes:
        raise CheckpointError("The latent upsampler weights have no 'upsampler.*' convolution.")
    ratio = shapes[PLAIN_KEY][0] // mid
    ndim = len(shapes[PLAIN_KEY])
    if ndim == 4 and ratio == 4:
        return LatentUpsamplerConfig(**common)
    if ndim == 5 and ratio == 2:
        return LatentUpsamplerConfig(spatial_upsample=False, temporal_upsample=True, **common)
    if ndim == 5 and ratio == 8:
        return LatentUpsamplerConfig(spatial_upsample=True, temporal_upsample=True, **common)
    raise CheckpointError(f"Unrecognized latent upsampler layout ({PLAIN_KEY} shape {shapes[PLAIN_KEY]}).")


def _reconcile(config: LatentUpsamplerConfig, shapes: Mapping[str, tuple]) -> LatentUpsamplerConfig:
    """The x2 file's `rational_resampler` flag is reported both ways: the key names decide (same math)."""
    if config.spatial_upsample and not config.temporal_upsample and config.spatial_scale == 2.0:
        if RATIONAL_KEY in shapes and not config.rational_resampler:
            return config.with_(rational_resampler=True)
        if PLAIN_KEY in shapes and config.rational_resampler:
            return config.with_(rational_resampler=False)
    return config


def load_latent_upsampler(
    source: Union[str, os.PathLike, Mapping[str, torch.Tensor]],
    *,
    operations=torch.nn,
    dtype: Optional[torch.dtype] = None,
    device: Union[str, torch.device] = "cpu",
    config: Union[None, LatentUpsamplerConfig, Mapping[str, Any]] = None,
) -> LatentUpsampler:
    """Load a `LatentUpsampler` from an upscaler safetensors file (its own `config` metadata) or a state dict.

    The architecture comes from `config`, else the file metadata, else the key shapes. A rational
    resampler's fixed blur kernel is filled in when the file does not carry it.
    """
    metadata = None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        header = read_safetensors_header(path)
        shapes = {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}
        metadata = read_config_metadata(path)
        state = load_safetensors(path)
        what = os.path.basename(path)
    elif isinstance(source, Mapping):
        state = dict(source)
        shapes = {k: logical_shape(v) for k, v in state.items()}
        what = "the given state dict"
    else:
        raise CheckpointError(
            f"load_latent_upsampler needs a safetensors path or a state dict, got {type(source).__name__}."
        )
    if isinstance(config, LatentUpsamplerConfig):
        cfg = config
    elif config is not None or metadata is not None:
        cfg = _reconcile(LatentUpsamplerConfig.from_metadata(config if config is not None else metadata), shapes)
    else:
        cfg = detect_config(shapes)
    if cfg.uses_rational and BLUR_KEY not in state:
        state[BLUR_KEY] = binomial_kernel()
    loaded = {}
    for key, tensor in state.items():
        if dtype is not None and tensor.is_floating_point() and key != BLUR_KEY:
            tensor = tensor.to(dtype=dtype)
        loaded[key] = tensor.to(device=device)
    model = LatentUpsampler(cfg, operations=operations, device="meta", dtype=dtype)
    load_strict(model, loaded, f"LTX latent upsampler ({what})")
    return model.eval()
