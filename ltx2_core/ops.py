"""The `operations` seam.

Every layer with weights is built from an `operations` namespace that provides `Linear`, `Conv1d`,
`Conv2d`, `Conv3d`, `ConvTranspose1d`, `LayerNorm`, `GroupNorm` and `Embedding` with torch.nn's
constructor signatures (plus `device=` and `dtype=`). The default is `torch.nn` itself; the ComfyUI
adapter passes ComfyUI's weight-casting ops, and `ltx2_core.gguf` provides quantized ones.

Parameters that a module uses directly in `forward` (scale-shift tables, norm weights) must go
through `cast_like` so that they follow the activations' device and dtype, as the host's casting
ops do for their own layers.
"""

import torch

DEFAULT_OPERATIONS = torch.nn


def cast_like(tensor: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """`tensor` on `reference`'s device and in its dtype (no copy when both already match)."""
    weight = getattr(tensor, "dequantize_as", None)
    if weight is not None:
        return weight(reference.dtype, reference.device)
    return tensor.to(device=reference.device, dtype=reference.dtype)
