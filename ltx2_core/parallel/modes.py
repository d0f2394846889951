"""The three parallel modes as one function: a transformer prepared for "sp", "fsdp" or "sp+fsdp"."""

from torch import nn

MODES = ("sp", "fsdp", "sp+fsdp")


def parallel_model(model: nn.Module, mode: str, *, offload: bool = False) -> nn.Module:
    """`model` (an LTX2Transformer or an LTXVTransformer) prepared for `mode` (one of MODES) over the default
    group: FSDP2 shards first, then the family's sequence-parallel wrapper."""
    from ..ltxv.transformer import LTXVTransformer
    from .fsdp import shard_weights
    from .ltxv_sequence import LTXVSequenceParallel
    from .sequence import SequenceParallel

    wrapper = LTXVSequenceParallel if isinstance(model, LTXVTransformer) else SequenceParallel
    if "fsdp" in mode:
        model = shard_weights(model, offload=offload)
    return wrapper(model) if "sp" in mode else model
