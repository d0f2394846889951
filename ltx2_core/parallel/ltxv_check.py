"""The parity check of the parallel modes for LTX-Video 0.9.x (tiny random weights, gloo ranks), as
`selfcheck` is for LTX-2: a guided 3-step run (CFG + STG on block 1, a hard first-frame image and an appended
keyframe) on a (1, 8, 4, 1, 5) latent: 20 generated + 5 keyframe tokens, divisible by neither 2 nor 3.
"""

import os
from typing import Dict

import torch
import torch.distributed as dist

from ..ltxv.pipeline import LTXVCondition, LTXVGuidance, denoise_ltxv, ltxv_sigmas
from ..ltxv.transformer import LTXVTransformer, LTXVTransformerConfig
from ..ltxv.transformer.tiny import random_state_dict
from .modes import MODES, parallel_model
from .selfcheck import free_port

LATENT = (1, 8, 4, 1, 5)  # (B, C, F, H, W)
GUIDANCE = LTXVGuidance(cfg=3.0, stg=1.0, rescale=0.7, stg_blocks=(1,))


def build_model(dtype: torch.dtype) -> LTXVTransformer:
    """The same random weights on every rank (causal positions, as 0.9.5+)."""
    config = LTXVTransformerConfig.tiny(causal_temporal_positioning=True)
    model = LTXVTransformer(config, dtype=dtype).eval()
    model.load_state_dict({k: v.to(dtype) for k, v in random_state_dict(config, seed=0).items()})
    return model


def run_case(model, dtype: torch.dtype) -> torch.Tensor:
    """The denoised latent (B, C, F, H, W) of the guided run."""
    g = torch.Generator().manual_seed(1)
    randn = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)  # noqa: E731
    context = (randn(1, 6, 24), torch.tensor([[1, 1, 1, 1, 0, 0]]))
    negative = (randn(1, 6, 24), torch.tensor([[1, 1, 0, 0, 0, 0]]))
    image, key = randn(1, 8, 1, 1, 5), randn(1, 8, 1, 1, 5)
    with torch.no_grad():
        return denoise_ltxv(model, LATENT, [LTXVCondition(image, 0, 1.0), LTXVCondition(key, 16, 0.8)],
                            ltxv_sigmas(3, LATENT[2:]), context, negative, GUIDANCE,
                            generator=torch.Generator().manual_seed(3))


def _worker(rank: int, world: int, port: int, out_dir: str, modes: tuple, dtypes: tuple) -> None:
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        tensors: Dict[str, torch.Tensor] = {}
        for dtype_name in dtypes:
            for mode in modes:
                wrapped = parallel_model(build_model(getattr(torch, dtype_name)), mode)
                tensors[f"{mode}/{dtype_name}"] = run_case(wrapped, getattr(torch, dtype_name)).contiguous()
                sent = sum(wrapped.comm.sent_bytes.values()) if "sp" in mode else 0
                tensors[f"sent/{mode}/{dtype_name}"] = torch.tensor([float(sent)], dtype=torch.float64)
        save_file(tensors, os.path.join(out_dir, f"rank{rank}.safetensors"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def run_ranks(world: int, out_dir: str, modes: tuple = MODES,
              dtypes: tuple = ("float32", "float64")) -> Dict[int, Dict[str, torch.Tensor]]:
    """Runs the case on `world` gloo ranks; every rank's tensors by name."""
    import torch.multiprocessing as mp
    from safetensors.torch import load_file

    mp.spawn(_worker, args=(world, free_port(), out_dir, modes, dtypes), nprocs=world, join=True)
    return {rank: load_file(os.path.join(out_dir, f"rank{rank}.safetensors")) for rank in range(world)}


def reference(dtypes: tuple = ("float32", "float64")) -> Dict[str, torch.Tensor]:
    return {name: run_case(build_model(getattr(torch, name)), getattr(torch, name)) for name in dtypes}
