"""Running one generation over several processes: Ulysses sequence parallelism and FSDP2 weight sharding
on torch.distributed (see docs/parallel.md)."""

from .group import Collectives, init_from_env, local_device, world_from_env
from .sequence import SequenceParallel, shard_video
from .ulysses import GatheredKeysAttention, ShardLayout, UlyssesAttention

__all__ = ["Collectives", "GatheredKeysAttention", "SequenceParallel", "ShardLayout", "UlyssesAttention",
           "init_from_env", "local_device", "shard_video", "world_from_env"]
