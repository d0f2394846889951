"""`QuantizedTensor`: packed weights that stand for a float tensor of `logical_shape`.

A wrapper tensor subclass: to torch (and to `load_state_dict`'s shape check) it looks like a float
tensor of the logical shape and nominal dtype, but it owns only the packed data, so a model keeps its
weights packed in memory. Supported directly, without unpacking: `.to(device/dtype)` / module `.to()`
(the packed bytes move, a dtype change only changes the nominal dtype; also under
`torch.inference_mode`, which ComfyUI runs every node in), `detach`, `clone`,
`pin_memory`, and `nn.Parameter` wrapping. Any other torch operation sees the dequantized tensor (so
code that uses a parameter directly still works, just without saving memory); in-place writes are
refused.

Formats (`qtype`):
  * a ggml type name (`"Q4_K"`, `"Q8_0"`, ...): `data_packed` holds the uint8 blocks (ggml order:
    blocks run along the last dimension);
  * `"scaled"`: `data_packed` is float8 (e4m3fn / e5m2) or int8, `scale` float32 of shape () (per tensor),
    (rows,) (per output row) or (rows / b, cols / b) (per b x b block); value = data.float() * scale.
"""

from functools import partial
from typing import Optional, Sequence

import torch
from torch.utils._pytree import tree_map

from ..errors import UnsupportedFormatError
from . import dequant, opaque

_aten = torch.ops.aten


def _move(tensor: torch.Tensor, device) -> torch.Tensor:
    """`tensor` on `device`; asynchronous only for copies to an accelerator (a copy to the CPU must be
    complete before the CPU reads it)."""
    if device is None:
        return tensor
    device = torch.device(device)
    return tensor.to(device, non_blocking=device.type != "cpu")


def _apply_scale(values: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """values (rows, cols...) times a per-tensor, per-row or per-block scale (see module docstring)."""
    if scale.dim() == 0 or scale.numel() == 1:
        return values * scale.reshape(())
    if scale.dim() == 1:
        return values * scale.view(-1, *([1] * (values.dim() - 1)))  # per output row
    block_rows, block_cols = values.shape[0] // scale.shape[0], values.shape[1] // scale.shape[1]
    expanded = scale.repeat_interleave(block_rows, 0).repeat_interleave(block_cols, 1)  # (rows, cols)
    return values * expanded


class QuantizedTensor(torch.Tensor):
    """Packed `data` (+ optional `scale`) of format `qtype` standing for a `logical_shape` float tensor."""

    data_packed: torch.Tensor
    scale: Optional[torch.Tensor]
    qtype: str

    @staticmethod
    def __new__(cls, data: torch.Tensor, qtype: str, logical_shape: Sequence[int],
                dtype: torch.dtype = torch.bfloat16, scale: Optional[torch.Tensor] = None):
        return torch.Tensor._make_wrapper_subclass(
            cls, torch.Size(logical_shape), dtype=dtype, device=data.device, requires_grad=False
        )

    def __init__(self, data: torch.Tensor, qtype: str, logical_shape: Sequence[int],
                 dtype: torch.dtype = torch.bfloat16, scale: Optional[torch.Tensor] = None):
        self.data_packed = data
        self.scale = scale
        self.qtype = qtype

    __torch_function__ = torch._C._disabled_torch_function_impl

    @property
    def logical_shape(self) -> torch.Size:
        return torch.Size(self.shape)

    @property
    def packed_nbytes(self) -> int:
        """Bytes the packed representation occupies (data plus scale)."""
        total = self.data_packed.numel() * self.data_packed.element_size()
        if self.scale is not None:
            total += self.scale.numel() * self.scale.element_size()
        return total

    def __repr__(self) -> str:
        return (f"QuantizedTensor({self.qtype}, shape={tuple(self.shape)}, dtype={self.dtype}, "
                f"device={self.device}, packed={self.packed_nbytes} bytes)")

    def dequantize_as(self, dtype: Optional[torch.dtype] = None, device=None) -> torch.Tensor:
        """The float tensor, unpacked on `device` (default: where the data is) in `dtype`."""
        dtype = dtype or self.dtype
        data = _move(self.data_packed, device)
        if self.qtype == "scaled":
            return _apply_scale(data.to(torch.float32), _move(self.scale, data.device)).to(dtype)
        if torch.compiler.is_compiling():  # the ggml kernels are opaque to dynamo (see gguf/opaque.py)
            return opaque.dequantize_ggml(data, dequant.TYPE_IDS[self.qtype], list(self.shape), dtype)
        return dequant.dequantize(data, dequant.TYPE_IDS[self.qtype], self.shape, dtype)

    def dequantize_rows(self, index: torch.Tensor, dtype: Optional[torch.dtype] = None, device=None) -> torch.Tensor:
        """Rows `index` of dim 0 (an embedding lookup), unpacking only those rows."""
        dtype = dtype or self.dtype
        rows = self.data_packed.reshape(self.shape[0], -1)
        index = index.to(rows.device)
        picked = rows.index_select(0, index.reshape(-1))
        picked = _move(picked, device)
        out_shape = (*index.shape, *self.shape[1:])
        if self.qtype == "scaled":
            if self.scale.dim() > 1:
                return self.dequantize_as(dtype, device)[index.to(device or self.device)]
            scale = self.scale.to(rows.device)
            if scale.dim() == 1:
                scale = scale.index_select(0, index.reshape(-1)).view(-1, 1)
            return (picked.to(torch.float32) * scale.to(picked.device)).to(dtype).view(out_shape)
        return dequant.dequantize(picked, dequant.TYPE_IDS[self.qtype], out_shape, dtype)

    def _rewrap(self, data: torch.Tensor, scale: Optional[torch.Tensor], dtype: torch.dtype) -> "QuantizedTensor":
        return QuantizedTensor(data, self.qtype, self.shape, dtype=dtype, scale=scale)

    def __tensor_flatten__(self):
        names = ["data_packed"] if self.scale is None else ["data_packed", "scale"]
        return names, (self.qtype, tuple(self.shape), self.dtype)

    @staticmethod
    def __tensor_unflatten__(inner, ctx, outer_size, outer_stride):
        qtype, shape, dtype = ctx
        return QuantizedTensor(inner["data_packed"], qtype, shape, dtype=dtype, scale=inner.get("scale"))

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        handler = _HANDLERS.get(func)
        if handler is not None:
            return handler(*args, **kwargs)
        if func._schema.is_mutable:
            mutated = [a for a, arg in zip(args, func._schema.arguments) if arg.is_write and isinstance(a, cls)]
            if mutated:
                raise UnsupportedFormatError(
                    f"In-place operation {func} on a quantized ({mutated[0].qtype}) weight is not supported. "
                    "Dequantize it first (tensor.dequantize_as(dtype))."
                )

        def unpack(value):
            return value.dequantize_as() if isinstance(value, cls) else value

        return func(*tree_map(unpack, args), **tree_map(unpack, kwargs))


def _detach(self: QuantizedTensor) -> QuantizedTensor:
    if self.is_inference():
        return self._rewrap(self.data_packed, self.scale, self.dtype)
    # A detached alias of a normal tensor must be a normal tensor (torch then shares its version counter),
    # also when made under inference mode (nn.Parameter(weight) in a ComfyUI node detaches).
    with torch.inference_mode(False):
        return self._rewrap(self.data_packed, self.scale, self.dtype)


def _clone(self: QuantizedTensor, memory_format=None) -> QuantizedTensor:
    scale = None if self.scale is None else self.scale.clone()
    return self._rewrap(self.data_packed.clone(), scale, self.dtype)


def _to_copy(self: QuantizedTensor, dtype=None, layout=None, device=None, pin_memory=None,
             non_blocking=False, memory_format=None) -> QuantizedTensor:
    nominal = dtype if dtype is not None and dtype.is_floating_point else self.dtype
    data = self.data_packed if device is None else self.data_packed.to(device, non_blocking=non_blocking)
    scale = self.scale if self.scale is None or device is None else self.scale.to(device, non_blocking=non_blocking)
    if pin_memory:
        data, scale = data.pin_memory(), None if scale is None else scale.pin_memory()
    return self._rewrap(data, scale, nominal)


def _to(overload, *args, **kwargs):
    """`aten.to.*`: reached unexpanded under `torch.inference_mode` (outside it, autograd expands `to` into
    `_to_copy` first). The packed data moves; a floating dtype only changes the nominal dtype."""
    bound = dict(zip((a.name for a in overload._schema.arguments), args), **kwargs)
    self = bound["self"]
    device, dtype = bound.get("device"), bound.get("dtype")
    if "other" in bound:
        device, dtype = bound["other"].device, bound["other"].dtype
    dtype = dtype if isinstance(dtype, torch.dtype) else None
    target = None if device is None else torch.device(device)
    moves = target is not None and target != self.device and not (target.type == self.device.type == "cpu")
    same_dtype = dtype is None or not dtype.is_floating_point or dtype == self.dtype
    if not moves and same_dtype and not bound.get("copy") and not bound.get("pin_memory"):
        return self
    source = _clone(self) if not moves and bound.get("copy") else self  # copy=True: own bytes, as torch gives
    return _to_copy(source, dtype=dtype, device=target if moves else None, pin_memory=bound.get("pin_memory"),
                    non_blocking=bool(bound.get("non_blocking")))


def _pin_memory(self: QuantizedTensor, device=None) -> QuantizedTensor:
    scale = None if self.scale is None else self.scale.pin_memory()
    return self._rewrap(self.data_packed.pin_memory(), scale, self.dtype)


def _is_pinned(self: QuantizedTensor, device=None) -> bool:
    return self.data_packed.is_pinned()


def _copy_into(self, src, non_blocking=False):
    if isinstance(self, QuantizedTensor):
        if isinstance(src, QuantizedTensor) and src.qtype == self.qtype and src.shape == self.shape:
            self.data_packed.copy_(src.data_packed, non_blocking=non_blocking)
            if self.scale is not None:
                self.scale.copy_(src.scale, non_blocking=non_blocking)
            return self
        raise UnsupportedFormatError(
            f"Cannot write a float or differently packed tensor into a quantized ({self.qtype}) weight. "
            "Load models with assign=True (ltx2_core.checkpoint.load_strict); add LoRAs as patches "
            "(ltx2_core.gguf.ops.add_weight_patches) instead of merging them."
        )
    return self.copy_(src.dequantize_as(self.dtype, self.device), non_blocking=non_blocking)


_HANDLERS = {
    _aten.detach.default: _detach,
    _aten.alias.default: _detach,
    _aten.clone.default: _clone,
    _aten._to_copy.default: _to_copy,
    _aten._pin_memory.default: _pin_memory,
    _aten.is_pinned.default: _is_pinned,
    _aten.copy_.default: _copy_into,
    **{getattr(_aten.to, name): partial(_to, getattr(_aten.to, name)) for name in _aten.to.overloads()},
}


def is_quantized(tensor) -> bool:
    """True for a QuantizedTensor (also when wrapped as an nn.Parameter)."""
    return isinstance(tensor, QuantizedTensor)


def materialize(tensor: torch.Tensor, dtype: torch.dtype, device=None) -> torch.Tensor:
    """`tensor` as a plain tensor on `device` in `dtype`: dequantized if packed, else cast."""
    if isinstance(tensor, QuantizedTensor):
        return tensor.dequantize_as(dtype, device)
    return tensor.to(device=device, dtype=dtype)
