"""Process-group helpers: who we are in torch.distributed, and the counted collectives the parallel code uses.

Every collective of sequence parallelism goes through one `Collectives` object, which counts the bytes each
call moves (`sent_bytes` per kind); the benchmarks read the counters instead of estimating them.
"""

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
import torch.distributed as dist

from ..errors import InputError


def world_from_env() -> int:
    """WORLD_SIZE as torchrun sets it (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_env(device: torch.device) -> None:
    """Joins the torchrun process group (nccl for CUDA devices, gloo otherwise) unless already joined."""
    if dist.is_initialized():
        return
    if "RANK" not in os.environ:
        raise InputError("--parallel needs several processes: start the command with "
                         "`torchrun --nproc-per-node N -m ltx2_core ...`.")
    dist.init_process_group("nccl" if torch.device(device).type == "cuda" else "gloo")


def local_device(device: str) -> torch.device:
    """`cuda` becomes this rank's GPU (LOCAL_RANK); other devices are used as given."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


@dataclass
class Collectives:
    """The collectives over `group` (None: the default group), each counted in bytes this rank sends."""

    group: Optional[dist.ProcessGroup] = None
    sent_bytes: Dict[str, int] = field(default_factory=dict)
    calls: Dict[str, int] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return dist.get_rank(self.group)

    @property
    def world(self) -> int:
        return dist.get_world_size(self.group)

    def _count(self, kind: str, sent: int) -> None:
        self.sent_bytes[kind] = self.sent_bytes.get(kind, 0) + sent
        self.calls[kind] = self.calls.get(kind, 0) + 1

    def reset(self) -> None:
        self.sent_bytes.clear()
        self.calls.clear()

    def all_to_all(self, chunks: torch.Tensor) -> torch.Tensor:
        """chunks (P, ...): chunk j goes to rank j; returns (P, ...) with chunk i from rank i."""
        chunks = chunks.contiguous()
        out = torch.empty_like(chunks)
        dist.all_to_all_single(out, chunks, group=self.group)
        self._count("all_to_all", chunks.numel() * chunks.element_size() * (self.world - 1) // self.world)
        return out

    def all_gather(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """Every rank's `x` concatenated along `dim` in rank order."""
        x = x.contiguous()
        parts: List[torch.Tensor] = [torch.empty_like(x) for _ in range(self.world)]
        dist.all_gather(parts, x, group=self.group)
        self._count("all_gather", x.numel() * x.element_size() * (self.world - 1))
        return torch.cat(parts, dim=dim)

    def broadcast(self, x: torch.Tensor, src: int = 0) -> torch.Tensor:
        """Rank `src`'s `x` on every rank (in place)."""
        x = x.contiguous()
        dist.broadcast(x, src=dist.get_global_rank(self.group, src) if self.group is not None else src,
                       group=self.group)
        if self.rank == src:
            self._count("broadcast", x.numel() * x.element_size() * (self.world - 1))
        return x

    def send(self, x: torch.Tensor, dst: int) -> None:
        """`x` to rank `dst` of the group (blocks until it is received)."""
        x = x.contiguous()
        dist.send(x, dst=dist.get_global_rank(self.group, dst) if self.group is not None else dst, group=self.group)
        self._count("send", x.numel() * x.element_size())

    def recv(self, out: torch.Tensor, src: int) -> torch.Tensor:
        """Fills `out` (contiguous, the sender's shape and dtype) with what rank `src` sends."""
        dist.recv(out, src=dist.get_global_rank(self.group, src) if self.group is not None else src, group=self.group)
        return out
