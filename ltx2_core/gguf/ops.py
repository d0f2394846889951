"""`QuantOps`: an `operations` namespace whose layers keep quantized weights packed.

Every layer subclasses its torch.nn counterpart (same constructor signature, `isinstance` still
holds) and adds:
  * `cast_weight_bias(device, dtype) -> (weight, bias)`: the weight and bias as plain tensors on the
    compute device in the compute dtype, dequantized from `QuantizedTensor`s or cast from float
    tensors, with attached patches applied. It is the single entry point a host wrapper (ComfyUI's
    lowvram streaming) needs; `forward` uses it with the input's device and dtype.
  * `weight_patches`: a list of patches applied after dequantization, in order. A patch is either a
    `LowRankPatch` (LoRA: W + scale * up @ down) or any callable `patch(weight) -> weight`.
  * `_load_from_state_dict` that takes packed tensors as they are (assign semantics, even in a
    non-assign `load_state_dict`) and marks them `requires_grad=False`.
The plain `weight` and `bias` attributes stay (packed or float) parameters; every layer has both
(`bias` is None where the torch layer has none, e.g. Embedding), as ComfyUI's model patcher reads them.
"""

from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, Tuple, Union

import torch
import torch.nn.functional as F

from ..errors import CheckpointError
from .tensor import QuantizedTensor, materialize


@dataclass(frozen=True)
class LowRankPatch:
    """LoRA delta `scale * up @ down`: up (out, rank), down (rank, in...) for Linear and Conv weights."""

    up: torch.Tensor
    down: torch.Tensor
    scale: float = 1.0

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        up = self.up.to(weight.device, weight.dtype).flatten(1)  # (out, rank)
        down = self.down.to(weight.device, weight.dtype).flatten(1)  # (rank, in * k...)
        return weight + (self.scale * (up @ down)).view(weight.shape)


Patch = Union[LowRankPatch, Callable[[torch.Tensor], torch.Tensor]]


class QuantizedWeightMixin:
    """Per-forward dequantization plus patches; mixed into torch.nn layers (see module docstring)."""

    weight_patches: List[Patch]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.weight_patches = []
        for name in ("weight", "bias"):
            if not hasattr(self, name):  # Embedding has no bias: hosts read both of every weighted layer
                self.register_parameter(name, None)

    def cast_weight_bias(self, device, dtype) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        weight = getattr(self, "weight", None)
        bias = getattr(self, "bias", None)
        if weight is not None:
            weight = materialize(weight, dtype, device)
            for patch in self.weight_patches:
                weight = patch(weight)
        if bias is not None:
            bias = materialize(bias, dtype, device)
        return weight, bias

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for name in ("weight", "bias"):
            key = prefix + name
            value = state_dict.get(key)
            if isinstance(value, QuantizedTensor) and getattr(self, name, None) is not None:
                if tuple(value.shape) != tuple(getattr(self, name).shape):
                    error_msgs.append(f"size mismatch for {key}: checkpoint {tuple(value.shape)}, "
                                      f"model {tuple(getattr(self, name).shape)}")
                    continue
                setattr(self, name, torch.nn.Parameter(value, requires_grad=False))
                state_dict = {k: v for k, v in state_dict.items() if k != key}
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        for name in ("weight", "bias"):
            if prefix + name in missing_keys and isinstance(getattr(self, name, None), QuantizedTensor):
                missing_keys.remove(prefix + name)


class Linear(QuantizedWeightMixin, torch.nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.cast_weight_bias(x.device, x.dtype)
        return F.linear(x, weight, bias)


class _ConvMixin(QuantizedWeightMixin):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.cast_weight_bias(x.device, x.dtype)
        return self._conv_forward(x, weight, bias)


class Conv1d(_ConvMixin, torch.nn.Conv1d):
    """torch.nn.Conv1d with a possibly packed weight."""


class Conv2d(_ConvMixin, torch.nn.Conv2d):
    """torch.nn.Conv2d with a possibly packed weight."""


class Conv3d(_ConvMixin, torch.nn.Conv3d):
    """torch.nn.Conv3d with a possibly packed weight."""


class ConvTranspose1d(QuantizedWeightMixin, torch.nn.ConvTranspose1d):
    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        weight, bias = self.cast_weight_bias(x.device, x.dtype)
        output_padding = self._output_padding(x, output_size, self.stride, self.padding, self.kernel_size, 1,
                                              self.dilation)
        return F.conv_transpose1d(x, weight, bias, self.stride, self.padding, output_padding, self.groups,
                                  self.dilation)


class LayerNorm(QuantizedWeightMixin, torch.nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.cast_weight_bias(x.device, x.dtype)
        return F.layer_norm(x, self.normalized_shape, weight, bias, self.eps)


class GroupNorm(QuantizedWeightMixin, torch.nn.GroupNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.cast_weight_bias(x.device, x.dtype)
        return F.group_norm(x, self.num_groups, weight, bias, self.eps)


class RMSNorm(QuantizedWeightMixin, torch.nn.RMSNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, _ = self.cast_weight_bias(x.device, x.dtype)
        return F.rms_norm(x, self.normalized_shape, weight, self.eps)


class Embedding(QuantizedWeightMixin, torch.nn.Embedding):
    """Looks up packed rows and unpacks only those (no full dequantization of a large vocabulary)."""

    def cast_weight_bias(self, device, dtype):
        weight, _ = super().cast_weight_bias(device, dtype)
        return weight, None

    def embed(self, ids: torch.Tensor, dtype: torch.dtype, device=None) -> torch.Tensor:
        """Rows `ids` in `dtype` on `device` (default: the ids' device)."""
        device = ids.device if device is None else device
        if isinstance(self.weight, QuantizedTensor) and not self.weight_patches and self.max_norm is None:
            return self.weight.dequantize_rows(ids, dtype, device)
        weight, _ = self.cast_weight_bias(device, dtype)
        return F.embedding(ids.to(device), weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        dtype = self.weight.dtype if self.weight.dtype.is_floating_point else torch.float32
        return self.embed(ids, dtype)


def module_nbytes(module: torch.nn.Module) -> int:
    """Bytes `module`'s parameters and buffers really occupy (packed size for quantized tensors).

    Hosts that size models as `numel * element_size` would count quantized weights at their nominal
    float size (4x too much for Q4 in bf16); use this instead.
    """
    total = 0
    for tensor in module.state_dict(keep_vars=True).values():
        total += tensor.packed_nbytes if isinstance(tensor, QuantizedTensor) else tensor.numel() * tensor.element_size()
    return total


def add_weight_patches(model: torch.nn.Module, patches: Mapping[str, Patch]) -> int:
    """Attach `patches` ({module path: patch}) to QuantOps layers of `model`; returns how many were added.

    This is how LoRAs reach packed weights: they are applied after dequantization in every forward.
    Remove them with `layer.weight_patches.clear()`.
    """
    modules = dict(model.named_modules())
    for name in patches:
        if not isinstance(modules.get(name), QuantizedWeightMixin):
            raise CheckpointError(
                f"Cannot attach a weight patch to {name!r}: it is not a layer of this model built with QuantOps. "
                "The LoRA may be for another model, or the model is unquantized (merge the LoRA instead)."
            )
    for name, patch in patches.items():
        modules[name].weight_patches.append(patch)
    return len(patches)


class QuantOps:
    """The quantized `operations` namespace (pass `operations=QuantOps`)."""

    Linear = Linear
    Conv1d = Conv1d
    Conv2d = Conv2d
    Conv3d = Conv3d
    ConvTranspose1d = ConvTranspose1d
    LayerNorm = LayerNorm
    GroupNorm = GroupNorm
    RMSNorm = RMSNorm
    Embedding = Embedding
