"""`--parallel sp|fsdp|sp+fsdp` of `python -m ltx2_core generate`, started by torchrun.

Every rank runs the same command: it loads the models, encodes the prompt and samples (replicated; the
sampler's noise is seeded, so the ranks agree), the transformer runs split over the ranks, the video VAE
decode shares its tiles over the ranks, and only rank 0 prints progress and writes the output file
(atomically, as always).
"""

import dataclasses
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist

from ..errors import InputError
from .group import init_from_env, local_device

from .modes import MODES  # noqa: F401  (the --parallel choices)
_UNSUPPORTED = (("compile", "--compile"), ("step_cache", "--step-cache"), ("two_stage", "--two-stage"))


@dataclass
class ParallelRun:
    mode: str
    offload: bool

    @property
    def rank(self) -> int:
        return dist.get_rank()

    @property
    def writes(self) -> bool:
        """Only rank 0 prints progress and writes files."""
        return self.rank == 0

    def wrap(self, parts, tiling=None):
        """`parts` (pipeline Components or LTXVComponents) with its transformer prepared for the mode and (LTX-2)
        its video VAE decoding over the ranks (`vae_decode.ParallelVideoVAE`) with `tiling` (default: the
        TilingConfig defaults)."""
        from ..video_vae import TilingConfig
        from .modes import parallel_model
        from .vae_decode import ParallelVideoVAE

        changes = dict(transformer=parallel_model(parts.transformer, self.mode, offload=self.offload))
        if getattr(parts, "video_vae", None) is not None:  # LTX-2; LTX-Video components decode on every rank
            changes["video_vae"] = ParallelVideoVAE(parts.video_vae, tiling or TilingConfig())
        return dataclasses.replace(parts, **changes)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def setup(args) -> Optional[ParallelRun]:
    """None without --parallel; else joins the torchrun group and points args.device at this rank's GPU.
    Options the parallel path does not support yet are refused before anything loads."""
    mode = getattr(args, "parallel", None)
    if mode is None:
        if getattr(args, "offload_shards", False):
            raise InputError("--offload-shards needs --parallel fsdp or sp+fsdp.")
        return None
    if getattr(args, "offload_shards", False) and "fsdp" not in mode:
        raise InputError("--offload-shards moves FSDP shards to the CPU: use it with --parallel fsdp or sp+fsdp.")
    for name, flag in _UNSUPPORTED:
        if getattr(args, name, None):
            raise InputError(f"{flag} is not supported with --parallel yet: drop one of them.")
    device = local_device(args.device)
    init_from_env(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    args.device = str(device)
    return ParallelRun(mode, bool(getattr(args, "offload_shards", False)))
