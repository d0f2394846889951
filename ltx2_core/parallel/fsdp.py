"""Weight sharding with FSDP2 (`torch.distributed.fsdp.fully_shard`): one unit per transformer block plus
the root (patchify / AdaLN / output layers), so a rank holds 1/P of every block and gathers one block
at a time while it runs. `offload=True` keeps the shards in CPU memory between uses (the lowest-memory
mode: only the running block's full weights are on the GPU). Composes with `SequenceParallel` (same
group): shard the weights first, then wrap.

GGUF weights (packed quantized blocks) cannot be split by FSDP; with them use sequence parallelism
alone, where each rank holds its own packed copy.
"""

from typing import Optional

import torch
from torch import nn
from torch.distributed.device_mesh import init_device_mesh

from ..errors import InputError


def _has_packed_weights(model: nn.Module) -> bool:
    return any(type(p) not in (nn.Parameter, torch.Tensor) or not p.dtype.is_floating_point
               for p in model.parameters())


def shard_weights(model: nn.Module, *, device: Optional[torch.device] = None, offload: bool = False) -> nn.Module:
    """Shards `model` (an LTX2Transformer or LTXVTransformer: anything with `transformer_blocks`) in place
    over the default group; returns it. `device`: where the unsharded blocks run (its type picks the mesh)."""
    from torch.distributed.fsdp import CPUOffloadPolicy, OffloadPolicy, fully_shard

    if _has_packed_weights(model):
        raise InputError("FSDP cannot shard GGUF / packed quantized weights: use --parallel sp with GGUF files, "
                         "or load a safetensors checkpoint for fsdp.")
    device = torch.device(device or next(model.parameters()).device)
    world = torch.distributed.get_world_size()
    mesh = init_device_mesh(device.type, (world,))
    options = dict(mesh=mesh, reshard_after_forward=True,
                   offload_policy=CPUOffloadPolicy(pin_memory=device.type == "cuda") if offload else OffloadPolicy())
    for block in model.transformer_blocks:
        fully_shard(block, **options)
    fully_shard(model, **options)
    return model
