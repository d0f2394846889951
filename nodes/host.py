"""The seam between ltx2_core networks and ComfyUI's model management.

Only ComfyUI's stable surface is used: `comfy.model_patcher.ModelPatcher`, `comfy.model_management`,
`comfy.ops`, `comfy.utils.ProgressBar` and `folder_paths`. Every network is built on the meta device
with ComfyUI's casting layers injected through ltx2_core's `operations` seam, loaded with
`assign=True`, wrapped in a ModelPatcher and moved by `comfy.model_management.load_models_gpu`, so
--cpu/--lowvram/--novram and partial (lowvram) loading apply to it like to a core model.
"""

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import torch

import comfy.model_management as mm
import comfy.model_patcher
import comfy.ops
import comfy.utils
import folder_paths

from . import params

ROLES = ("diffusion", "text", "vae")
WEIGHT_DTYPES = {"default": None, "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def devices(role: str, choice: str = "default") -> Tuple[torch.device, torch.device]:
    """(load_device, offload_device) ComfyUI assigns to a network of `role`; `choice="cpu"` pins it to CPU."""
    if choice == "cpu":
        return torch.device("cpu"), torch.device("cpu")
    if role == "diffusion":
        return mm.get_torch_device(), mm.unet_offload_device()
    if role == "text":
        return mm.text_encoder_device(), mm.text_encoder_offload_device()
    if role == "vae":
        return mm.vae_device(), mm.vae_offload_device()
    raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")


def compute_dtype(role: str, load_device: torch.device, weight_dtype: Optional[torch.dtype] = None,
                  parameters: int = 0) -> torch.dtype:
    """The dtype ComfyUI would compute a network of `role` in on `load_device`."""
    if role == "diffusion":
        dtype = mm.unet_dtype(device=load_device, model_params=parameters, weight_dtype=weight_dtype,
                              supported_dtypes=[torch.bfloat16, torch.float16, torch.float32])
        return mm.unet_manual_cast(dtype, load_device) or dtype
    if role == "text":
        return mm.text_encoder_dtype(load_device)
    return mm.vae_dtype(load_device, allowed_dtypes=[torch.bfloat16, torch.float32])


def operations(weight_dtype: torch.dtype, dtype: torch.dtype, load_device: torch.device):
    """ComfyUI's layer namespace: `disable_weight_init` when weights are stored in the compute dtype,
    `manual_cast` otherwise (both cast weights on the fly while partially loaded)."""
    return comfy.ops.pick_operations(weight_dtype, dtype, load_device=load_device)


def _host_quantized_layer(base):
    """`base` (an ltx2_core.gguf QuantOps layer) with ComfyUI's cast-op attributes: ComfyUI's partial loading
    may leave it on the offload device (each forward dequantizes onto the input's device anyway) and the
    patcher's weight functions (LoRA) apply after dequantization."""

    class Layer(base, comfy.ops.CastWeightBiasOp):
        def cast_weight_bias(self, device, dtype):
            weight, bias = super().cast_weight_bias(device, dtype)
            for function in self.weight_function:
                weight = function(weight)
            if bias is not None:
                for function in self.bias_function:
                    bias = function(bias)
            return weight, bias

    Layer.__name__ = Layer.__qualname__ = base.__name__
    return Layer


def gguf_operations():
    """ltx2_core's quantized `operations` namespace, made streamable by ComfyUI's model management."""
    from ..ltx2_core.gguf.ops import QuantOps

    names = ("Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "LayerNorm", "GroupNorm", "RMSNorm", "Embedding")
    return type("HostQuantOps", (), {name: _host_quantized_layer(getattr(QuantOps, name)) for name in names})


def weight_bytes(module: torch.nn.Module) -> int:
    """Bytes `module`'s weights occupy: packed size for quantized ones (ComfyUI's module_size counts them at
    their nominal float size)."""
    from ..ltx2_core.gguf.ops import module_nbytes

    return module_nbytes(module)


def packed_count(module: torch.nn.Module) -> int:
    """How many of `module`'s weights are quantized tensors (still packed)."""
    from ..ltx2_core.gguf.tensor import is_quantized

    return sum(is_quantized(t) for t in module.state_dict(keep_vars=True).values())


def log_packed(network: "Network", when: str) -> None:
    """One log line with the packed-weight count and the weight bytes of a network that has packed weights."""
    count = packed_count(network.module)
    if count:
        logging.info("LTX2: %s %s: %d packed weights, %d bytes of weights", network.kind, when, count,
                     weight_bytes(network.module))


def wrap(module: torch.nn.Module, load_device: torch.device, offload_device: torch.device):
    """A ModelPatcher for `module` (already on `offload_device`), sized by the bytes its weights occupy."""
    return comfy.model_patcher.ModelPatcher(
        module, load_device=load_device, offload_device=offload_device, size=weight_bytes(module)
    )


@dataclass
class Network:
    """One loaded ltx2_core network, its patcher and the facts the nodes need about it."""

    patcher: Any
    kind: str
    dtype: torch.dtype
    config: Any = None
    weight_budget_bytes: int = 0
    family: str = "ltx-2"  # nodes/family.py: "ltx-2", "ltx-video" or "any"

    @property
    def module(self) -> torch.nn.Module:
        return self.patcher.model

    @property
    def device(self) -> torch.device:
        return self.patcher.load_device

    def clone(self) -> "Network":
        return Network(self.patcher.clone(), self.kind, self.dtype, self.config, self.weight_budget_bytes, self.family)


def load_together(*networks: Network):
    """Load networks used in the same computation in one request, so loading one cannot evict another."""
    mm.load_models_gpu([n.patcher for n in networks])
    return tuple(n.patcher.model for n in networks)


def load(network: Network, memory_required: int = 0) -> torch.nn.Module:
    """Load `network` for compute through ComfyUI; with a weight budget, stream the rest (lowvram)."""
    mm.load_models_gpu([network.patcher], memory_required=memory_required)
    budget = int(network.weight_budget_bytes)
    loaded = network.patcher.loaded_size()
    if budget > 0 and loaded > budget:
        network.patcher.partially_unload(network.patcher.offload_device, loaded - budget)
        logging.info("LTX2: %s partially loaded: %.1f of %.1f MB on %s, the rest streams per layer",
                     network.kind, network.patcher.loaded_size() / 2**20, network.patcher.model_size() / 2**20,
                     network.patcher.load_device)
    log_packed(network, "loaded for compute")
    return network.patcher.model


def apply_lora(network: Network, path: str, strength: float, name: str) -> Network:
    """A clone of `network` whose patcher adds the LoRA's low-rank deltas as weight functions.

    The deltas are applied when ComfyUI casts each weight (full or partial load, plain or quantized
    weights); the shared model is never modified."""
    from ..ltx2_core.errors import CheckpointError
    from ..ltx2_core.gguf.ops import LowRankPatch
    from ..ltx2_core.pipeline.lora import load_lora

    layers = load_lora(path)
    patched = network.clone()
    weights = dict(patched.module.named_parameters())
    unknown = [target for target in layers if f"{target}.weight" not in weights]
    if unknown:
        raise CheckpointError(
            f"LoRA {name} targets {len(unknown)} layers this transformer does not have (e.g. {unknown[0]!r}): "
            "it was trained for another model version."
        )
    from ..ltx2_core.checkpoint import logical_shape

    wrong = [t for t, layer in layers.items()
             if (int(layer.up.shape[0]), int(layer.down.shape[1])) != tuple(logical_shape(weights[f"{t}.weight"]))[:2]]
    if wrong:
        shape = tuple(logical_shape(weights[f"{wrong[0]}.weight"]))
        raise CheckpointError(
            f"LoRA {name} does not fit this transformer: {len(wrong)} layers have other sizes (e.g. {wrong[0]!r}: "
            f"LoRA {int(layers[wrong[0]].up.shape[0])}x{int(layers[wrong[0]].down.shape[1])}, model {shape[0]}x"
            f"{shape[1]}): it was trained for another model size (e.g. a 13B LoRA on a 2B model)."
        )
    # Route every patched layer through ComfyUI's cast path, where weight functions run (what
    # ModelPatcher.set_model_compute_dtype does, without its object patch on the module).
    patched.patcher.force_cast_weights = True
    for target, layer in layers.items():
        patched.patcher.add_weight_wrapper(
            f"{target}.weight", LowRankPatch(up=layer.up, down=layer.down, scale=layer.scale * float(strength))
        )
    return patched


def is_partially_loaded(network: Network) -> bool:
    return bool(getattr(network.patcher.model, "model_lowvram", False))


def check_interrupt() -> None:
    """Raise ComfyUI's InterruptProcessingException when the user pressed Cancel."""
    mm.throw_exception_if_processing_interrupted()


def intermediate_device() -> torch.device:
    return mm.intermediate_device()


def to_device(value, device: torch.device, dtype: Optional[torch.dtype] = None):
    """`value` (a tensor, or a dataclass of tensors such as TextContext) moved to `device` / `dtype`."""
    if isinstance(value, torch.Tensor):
        if dtype is not None and value.is_floating_point():
            return value.to(device=device, dtype=dtype)
        return value.to(device=device)
    if dataclasses.is_dataclass(value):
        changes = {f.name: to_device(getattr(value, f.name), device, dtype) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


class Progress:
    """ComfyUI progress bar for a loop of `total` steps, with optional JPEG previews."""

    def __init__(self, total: int):
        self.bar = comfy.utils.ProgressBar(total)
        self.total = total

    def step(self, value: int, preview_image=None, total: Optional[int] = None) -> None:
        check_interrupt()
        self.total = total or self.total
        preview = ("JPEG", preview_image, 512) if preview_image is not None else None
        self.bar.update_absolute(value, self.total, preview)


def latent_preview_image(video_x0: torch.Tensor):
    """A PIL image of the middle latent frame of (B, C, F, H, W) `video_x0` (first three channels,
    each normalised to its own range): a structural preview without decoding."""
    from PIL import Image

    frame = video_x0[0, :3, video_x0.shape[2] // 2].float()  # (3, H, W)
    low = frame.amin(dim=(1, 2), keepdim=True)
    high = frame.amax(dim=(1, 2), keepdim=True)
    rgb = ((frame - low) / (high - low).clamp(min=1e-6) * 255).round().clamp(0, 255).to(torch.uint8)
    image = Image.fromarray(rgb.permute(1, 2, 0).cpu().numpy())
    return image.resize((max(64, rgb.shape[2] * 8), max(64, rgb.shape[1] * 8)), Image.NEAREST)


# Model folders -------------------------------------------------------------------------------------

SAFETENSORS = (".safetensors", ".sft")
GGUF = (".gguf",)
UPSCALER_FOLDER = "latent_upscale_models"


def folder_directories(folder: str):
    if folder == UPSCALER_FOLDER and folder not in folder_paths.folder_names_and_paths:
        import os

        folder_paths.add_model_folder_path(folder, os.path.join(folder_paths.models_dir, folder))
    return folder_paths.get_folder_paths(folder)


def _directories(folders) -> list:
    """The directories of one folder_paths key or of several (in order)."""
    return [d for folder in ((folders,) if isinstance(folders, str) else folders) for d in folder_directories(folder)]


def model_files(folder, extensions=SAFETENSORS):
    """File names of `folder` (a folder_paths key, or a tuple of keys) with one of `extensions`, for a combo."""
    return params.list_model_files(_directories(folder), extensions)


def model_path(folder, name: str) -> str:
    """Absolute path of `name` in `folder` (or the first of several folders holding it); a clear error naming
    the folder(s) when it is missing."""
    from ..ltx2_core.errors import InputError

    path = params.resolve_model_file(_directories(folder), name)
    if path is None:
        label = folder if isinstance(folder, str) else "' / '".join(folder)
        raise InputError(
            f"Model file {name!r} was not found in the '{label}' folder "
            f"({', '.join(_directories(folder))}): put it there or pick another file."
        )
    return path

