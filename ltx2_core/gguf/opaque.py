"""ggml dequantization as an opaque torch op, for torch.compile.

The ggml kernels (`dequant.dequantize`) work on raw bytes in chunks with scratch buffers: dynamo cannot
trace them with fake tensors. Under compilation `QuantizedTensor.dequantize_as` calls this op instead: the
compiled graph holds one `ltx2::dequantize_ggml` node per packed weight (no graph break), which runs the
same kernels eagerly.
"""

from typing import List

import torch

from . import dequant


@torch.library.custom_op("ltx2::dequantize_ggml", mutates_args=())
def dequantize_ggml(packed: torch.Tensor, qtype: int, shape: List[int], dtype: torch.dtype) -> torch.Tensor:
    out = dequant.dequantize(packed, qtype, shape, dtype)
    # an op's output must not alias its input (F32 / F16 data already in `dtype` come back as a view)
    return out.clone() if out.untyped_storage().data_ptr() == packed.untyped_storage().data_ptr() else out


@dequantize_ggml.register_fake
def _dequantize_ggml_fake(packed: torch.Tensor, qtype: int, shape: List[int], dtype: torch.dtype) -> torch.Tensor:
    return packed.new_empty(shape, dtype=dtype)
