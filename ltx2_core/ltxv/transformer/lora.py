"""LoRAs on an LTX-Video transformer: official / ComfyUI (`diffusion_model.*`, lora_A/B or lora_down/up + alpha)
and diffusers (`transformer.*` with diffusers module names) files, merged into float weights or attached as
per-forward patches to packed (GGUF / fp8) weights."""

from typing import Mapping, Sequence, Tuple

import torch

from ...errors import CheckpointError
from .keys import diffusers_to_official, strip_prefix
from .model import LTXVTransformer


def lora_target(name: str) -> str:
    """A LoRA target path (any naming) -> our module path."""
    return diffusers_to_official(strip_prefix(name))


def _check_fits(model: LTXVTransformer, layers: Mapping[str, object], name: str) -> None:
    modules = dict(model.named_modules())
    for target, layer in layers.items():
        module = modules.get(lora_target(target))
        if module is None or getattr(module, "weight", None) is None:
            raise CheckpointError(f"{name} targets {target!r}, which this LTX-Video {model.config.size_name} "
                                  "transformer does not have: it was trained for another model.")
        expected = tuple(module.weight.shape)
        got = (layer.up.shape[0], layer.down.flatten(1).shape[1])
        if got != expected:
            raise CheckpointError(f"{name} does not fit this LTX-Video {model.config.size_name} model ({target}: LoRA "
                                  f"{got}, model {expected}): it is for another model size (e.g. a 13B LoRA on a 2B "
                                  f"model); pick a LoRA trained for the {model.config.size_name} model.")


def apply_loras(model: LTXVTransformer, loras: Sequence[Tuple[Mapping[str, torch.Tensor], float]],
                name: str = "The LoRA") -> int:
    """Apply (LoRA state dict, strength) pairs to `model`; returns how many layers got a delta.

    Float weights are merged in place; packed weights (QuantOps layers) get a LowRankPatch each."""
    from ...gguf.ops import LowRankPatch, QuantizedWeightMixin, add_weight_patches
    from ...pipeline.lora import merge_loras, parse_lora  # lazy: the pipeline package builds on this one

    parsed = []
    for state, strength in loras:
        layers = parse_lora(state, name)
        _check_fits(model, layers, name)
        parsed.append((layers, strength))
    modules = dict(model.named_modules())
    count = 0
    float_loras = []
    for layers, strength in parsed:
        quant = {t: l for t, l in layers.items() if isinstance(modules[lora_target(t)], QuantizedWeightMixin)}
        plain = {t: l for t, l in layers.items() if t not in quant}
        if quant:
            count += add_weight_patches(model, {lora_target(t): LowRankPatch(up=l.up, down=l.down,
                                                                              scale=l.scale * float(strength))
                                                for t, l in quant.items()})
        if plain:
            float_loras.append((plain, strength))
    if float_loras:
        count += merge_loras(model, float_loras, rename=lora_target)
    return count
