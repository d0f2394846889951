"""The three parallel modes as one function: a transformer prepared for "sp", "fsdp" or "sp+fsdp"."""

from torch import nn

MODES = ("sp", "fsdp", "sp+fsdp")


def parallel_model(model: nn.Module, mode: str, *, offload: bool = False) -> nn.Module:
    """`model` prepared for `mode` (one of MODES) over the default group: FSDP2 shards first, then the
    sequence-parallel wrapper."""
    from .fsdp import shard_weights
    from .sequence import SequenceParallel

    if "fsdp" in mode:
        model = shard_weights(model, offload=offload)
    return SequenceParallel(model) if "sp" in mode else model
