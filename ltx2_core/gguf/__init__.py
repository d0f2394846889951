"""GGUF and other low-bit weights: packed tensors, quantized operations, readers and loaders.

- `reader.GGUFFile`: validated, memory-mapped, lazy GGUF reading (metadata + tensors).
- `dequant.dequantize`: vectorized torch dequantization of ggml types on any device.
- `tensor.QuantizedTensor`: packed weights standing for a float tensor (`logical_shape`, `dequantize_as`).
- `ops.QuantOps`: the quantized `operations` namespace (weights dequantized per forward, LoRA patches).
- `fp8.pack_scaled_weights`: fp8 / int8 scaled safetensors layouts -> packed tensors.
- `loader`: LTX-2 transformer and Gemma 3 from GGUF, transformer from scaled fp8 safetensors.
- `quantize.quantize`: Q8_0 / Q5_0 / Q5_1 / Q4_0 / Q4_1 quantizers for `python -m ltx2_core.convert`.
"""

from .dequant import SUPPORTED_TYPES, dequantize
from .fp8 import pack_scaled_weights
from .loader import (
    gemma_tokenizer_from_gguf, gguf_metadata, is_quantized_checkpoint, load_gemma_gguf, load_transformer_gguf,
    load_transformer_quantized, load_transformer_scaled,
)
from .ops import LowRankPatch, QuantOps, add_weight_patches, module_nbytes
from .quantize import quantize
from .reader import GGUFFile, check_gguf_header
from .tensor import QuantizedTensor, is_quantized, materialize

__all__ = [
    "GGUFFile", "LowRankPatch", "QuantOps", "QuantizedTensor", "SUPPORTED_TYPES", "add_weight_patches",
    "check_gguf_header", "dequantize",
    "gemma_tokenizer_from_gguf", "gguf_metadata", "is_quantized", "is_quantized_checkpoint", "load_gemma_gguf",
    "load_transformer_gguf", "load_transformer_quantized", "load_transformer_scaled", "materialize", "module_nbytes",
    "pack_scaled_weights", "quantize",
]
