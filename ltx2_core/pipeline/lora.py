"""LoRA: parse the official (PEFT lora_A / lora_B) and ComfyUI (lora_down / lora_up + alpha) formats,
compute per-layer weight deltas and merge them into a model.

Official LTX-2 LoRAs (`diffusion_model.<module>.lora_A.weight` (r, in) and `.lora_B.weight`
(out, r)) carry their scale baked in: delta = strength * B @ A, no alpha/rank factor (ltx-core
`fuse_loras.py`). A file that has `.alpha` keys is ComfyUI style: delta = strength * alpha / r * B @ A.
`layer_deltas` exposes the per-layer deltas so layers that cannot be merged in place (quantized
weights) can add `x @ delta.T` on top; `merge_loras` adds them into plain floating-point weights;
`lora_hooks` applies LoRAs on the fly in its context without touching any weight.
"""

import os
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

import torch

from ..checkpoint import load_safetensors
from ..errors import CheckpointError, InputError, UnsupportedFormatError

_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "transformer.")
_DOWN_SUFFIXES = (".lora_A.weight", ".lora_down.weight")
_UP_SUFFIXES = (".lora_B.weight", ".lora_up.weight")


@dataclass(frozen=True)
class LoraLayer:
    """One low-rank update: delta = scale * up @ down, for the weight of module `target`."""

    down: torch.Tensor  # (r, in) or (r, in, *kernel)
    up: torch.Tensor  # (out, r) or (out, r, 1, ...)
    scale: float  # alpha / r for ComfyUI-style files, 1.0 for official files

    @property
    def rank(self) -> int:
        return self.down.shape[0]

    def delta(self, strength: float = 1.0, dtype=torch.float32, device=None) -> torch.Tensor:
        """(out, in[, *kernel]) weight delta, computed in float32 and cast to `dtype`."""
        down = self.down.to(device=device, dtype=torch.float32)
        up = self.up.to(device=device, dtype=torch.float32)
        product = (up.flatten(1) * (float(strength) * self.scale)) @ down.flatten(1)  # (out, in*k)
        out_shape = (up.shape[0],) + tuple(down.shape[1:])
        return product.reshape(out_shape).to(dtype)


def _strip_prefix(key: str) -> str:
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def parse_lora(state_dict: Mapping[str, torch.Tensor], name: str = "LoRA") -> Dict[str, LoraLayer]:
    """{module path: LoraLayer} from a LoRA state dict in either format."""
    downs, ups, alphas = {}, {}, {}
    for key, tensor in state_dict.items():
        stripped = _strip_prefix(key)
        for suffix in _DOWN_SUFFIXES:
            if stripped.endswith(suffix):
                downs[stripped[: -len(suffix)]] = tensor
        for suffix in _UP_SUFFIXES:
            if stripped.endswith(suffix):
                ups[stripped[: -len(suffix)]] = tensor
        if stripped.endswith(".alpha"):
            alphas[stripped[: -len(".alpha")]] = tensor
    if not downs and not ups:
        raise CheckpointError(
            f"{name} has no lora_A/lora_B or lora_down/lora_up keys: it is not a LoRA file. Check the path."
        )
    unpaired = sorted(set(downs) ^ set(ups))
    if unpaired:
        raise CheckpointError(f"{name} is incomplete: {unpaired[0]} lacks its up or down matrix. Re-download it.")
    layers = {}
    for target, down in downs.items():
        up = ups[target]
        if up.shape[1] != down.shape[0]:
            raise CheckpointError(
                f"{name}: {target} has mismatched ranks (up {tuple(up.shape)}, down {tuple(down.shape)}). "
                "Re-download it."
            )
        scale = 1.0
        if target in alphas:
            scale = float(alphas[target].float().item()) / down.shape[0]
        layers[target] = LoraLayer(down=down, up=up, scale=scale)
    return layers


def load_lora(path: str) -> Dict[str, LoraLayer]:
    """Parse a LoRA .safetensors file."""
    if not os.path.isfile(path):
        raise InputError(f"LoRA file not found: {path!r}. Check the path.")
    return parse_lora(load_safetensors(path), os.path.basename(path))


LoraSpec = Tuple[Mapping[str, LoraLayer], float]


def layer_deltas(
    loras: Sequence[LoraSpec], dtype=torch.float32, device=None, rename: Optional[Callable[[str], str]] = None
) -> Dict[str, torch.Tensor]:
    """{module path: summed weight delta} over several (lora, strength) pairs."""
    deltas: Dict[str, torch.Tensor] = {}
    for layers, strength in loras:
        for target, layer in layers.items():
            name = rename(target) if rename is not None else target
            delta = layer.delta(strength, torch.float32, device)
            deltas[name] = deltas[name] + delta if name in deltas else delta
    return {name: delta.to(dtype) for name, delta in deltas.items()}


def merge_loras(
    model: torch.nn.Module, loras: Sequence[LoraSpec], rename: Optional[Callable[[str], str]] = None
) -> int:
    """Add the LoRA deltas into `model`'s weights in place; returns how many layers changed.

    Every LoRA target must name a module of `model` with a matching weight shape. Quantized weights
    (not a floating-point tensor) raise UnsupportedFormatError: apply `layer_deltas` on top instead.
    """
    modules = dict(model.named_modules())
    deltas = layer_deltas(loras, torch.float32, None, rename)
    missing = [name for name in deltas if name not in modules or getattr(modules[name], "weight", None) is None]
    if missing:
        raise CheckpointError(
            f"The LoRA targets {len(missing)} layer(s) this model does not have (e.g. {missing[0]!r}): "
            "it was trained for another model or version."
        )
    with torch.no_grad():
        for name, delta in deltas.items():
            weight = modules[name].weight
            if not torch.is_floating_point(weight) or weight.dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
                raise UnsupportedFormatError(
                    f"Cannot merge a LoRA into the quantized layer {name!r} ({weight.dtype}): "
                    "apply it on top with layer_deltas, or load unquantized weights."
                )
            if tuple(weight.shape) != tuple(delta.shape):
                raise CheckpointError(
                    f"LoRA layer {name!r} has shape {tuple(delta.shape)} but the model weight is "
                    f"{tuple(weight.shape)}: the LoRA is for another model size."
                )
            weight.copy_((weight.float() + delta.to(weight.device)).to(weight.dtype))
    return len(deltas)


class lora_hooks:
    """Context manager applying LoRAs on the fly (forward hooks) without touching the weights.

    Each target Linear gets y += sum_k strength_k * scale_k * (x @ down_k.T) @ up_k.T, in the input's dtype.
    Used for the stage-2 distilled LoRA (exactly removed afterwards) and for layers whose weights
    cannot be merged (quantized).
    """

    def __init__(self, model: torch.nn.Module, loras: Sequence[LoraSpec],
                 rename: Optional[Callable[[str], str]] = None):
        self.model, self.handles = model, []
        modules = dict(model.named_modules())
        self.targets: Dict[str, list] = {}
        for layers, strength in loras:
            for target, layer in layers.items():
                name = rename(target) if rename is not None else target
                if name not in modules or layer.down.ndim != 2:
                    raise CheckpointError(
                        f"The LoRA targets {name!r}, which is not a linear layer of this model: "
                        "it was trained for another model or version."
                    )
                self.targets.setdefault(name, []).append((layer, float(strength) * layer.scale))
        self.modules = {name: modules[name] for name in self.targets}

    def _hook(self, name: str):
        cache = {}

        def hook(module, inputs, output):
            x = inputs[0]
            key = (x.device, x.dtype)
            if key not in cache:
                cache[key] = [(layer.down.to(device=x.device, dtype=x.dtype),
                               (layer.up * factor).to(device=x.device, dtype=x.dtype))
                              for layer, factor in self.targets[name]]
            for down, up in cache[key]:
                output = output + torch.nn.functional.linear(torch.nn.functional.linear(x, down), up)
            return output

        return hook

    def __enter__(self) -> torch.nn.Module:
        self.handles = [module.register_forward_hook(self._hook(name)) for name, module in self.modules.items()]
        return self.model

    def __exit__(self, *exc) -> bool:
        for handle in self.handles:
            handle.remove()
        self.handles = []
        return False
