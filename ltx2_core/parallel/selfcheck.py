"""A tiny guided audio+video run (random weights) and a gloo launcher: the parity check of the parallel
modes against one process, shared by the tests and benchmarks/parallel.py.

The case: a 2-layer LTX-2 model, 160x32 px x 25 frames (4 latent frames of 1x5 tokens) with the first frame
replaced by an image and one appended keyframe (5 more tokens: 25 video tokens, divisible by neither 2 nor 3),
audio, CFG + STG (block 1) + modality guidance batched in one call, 3 Euler steps.
"""

import os
import socket
from dataclasses import dataclass
from typing import Callable, Dict

import torch
import torch.distributed as dist

from ..pipeline.conditioning import Keyframe, ReplaceFrames, apply_conditionings, initial_audio_state, \
    initial_video_state
from ..pipeline.denoise import DenoiseResult, TextContext, denoise
from ..pipeline.guidance import Guidance, GuidanceParams
from ..pipeline.latents import draw_noise, latent_shape, make_generator
from ..pipeline.schedules import ltx2_sigmas
from ..transformer import LTX2Transformer, TransformerConfig
from .modes import MODES, parallel_model

FPS = 24.0
GUIDANCE = Guidance(GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0),
                    GuidanceParams(cfg=5.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0))


@dataclass(frozen=True)
class Case:
    version: str = "2.0"
    width: int = 160
    height: int = 32
    frames: int = 25
    steps: int = 3
    config_changes: tuple = ()


def build_model(case: Case, dtype: torch.dtype) -> LTX2Transformer:
    """The same random weights on every rank (seeded)."""
    torch.manual_seed(0)
    model = LTX2Transformer(TransformerConfig.tiny(case.version, **dict(case.config_changes)), dtype=dtype).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return model


def make_request(config, case: Case, dtype: torch.dtype):
    """The guided run's `worker.DenoiseRequest` for a model of `config` (noise drawn here, seeded)."""
    from .worker import DenoiseRequest

    shape = latent_shape(case.width, case.height, case.frames, FPS, video_channels=config.in_channels,
                         audio_channels=2, audio_mel_bins=config.audio_in_channels // 2)
    gen = torch.Generator().manual_seed(1)
    c = config
    widths = (c.caption_channels or c.cross_attention_dim, c.caption_channels or c.audio_cross_attention_dim)
    pos, neg = (TextContext(*(torch.randn(1, 4, w, generator=gen, dtype=dtype) for w in widths)) for _ in range(2))
    image = torch.randn(1, shape.video_channels, 1, shape.height, shape.width, generator=gen, dtype=dtype)
    video = apply_conditionings(initial_video_state(shape, FPS, dtype=dtype),
                                [ReplaceFrames(image), Keyframe(image, 16, 0.7)], shape, FPS)
    audio = initial_audio_state(shape, dtype=dtype)
    noise = make_generator(7)
    noise = tuple(draw_noise([s.latent.shape], noise, dtype, s.latent.device)[0] for s in (video, audio))
    return DenoiseRequest(shape, video, audio, ltx2_sigmas(case.steps), pos, neg, GUIDANCE, noise)


def run_request(model: Callable, r) -> DenoiseResult:
    return denoise(model, r.shape, r.video, r.audio, r.sigmas, r.positive, r.negative, r.guidance, noise=r.noise,
                   noise_scale=r.noise_scale, sampler=r.sampler)


def run_case(model: Callable, case: Case, dtype: torch.dtype) -> DenoiseResult:
    """The guided run; `model` is the transformer or a parallel wrapper of it."""
    return run_request(model, make_request(model.config, case, dtype))


def forward_case(model: Callable, dtype: torch.dtype, batch: int = 2):
    """One transformer call with what the denoise case lacks: a (B, T, T) conditioning self-mask, per-token
    timesteps, a per-item STG keep mask and 7 video tokens. Returns (video_velocity, audio_velocity)."""
    from ..transformer.inputs import ModalityInput, Perturbations
    from ..transformer.positions import audio_positions, video_positions

    c = model.config
    gen = torch.Generator().manual_seed(3)
    tokens, audio_tokens = 7, 5
    mask = (torch.rand(batch, tokens, tokens, generator=gen) > 0.3).to(dtype) * torch.rand(batch, tokens, tokens,
                                                                                              generator=gen).to(dtype)
    mask[:, :, 0] = 1.0  # every query keeps one key
    sigma = torch.tensor([0.8, 0.5], dtype=dtype)[:batch]
    video = ModalityInput(
        latent=torch.randn(batch, tokens, c.in_channels, generator=gen, dtype=dtype), sigma=sigma,
        timesteps=sigma[:, None] * (torch.arange(tokens) % 3 != 0).to(dtype),
        positions=video_positions(batch, 1, 1, tokens, FPS, dtype=dtype),
        context=torch.randn(batch, 4, c.caption_channels or c.cross_attention_dim, generator=gen, dtype=dtype),
        context_mask=torch.tensor([[1, 1, 1, 0]] * batch, dtype=torch.bool), attention_mask=mask)
    audio = ModalityInput(
        latent=torch.randn(batch, audio_tokens, c.audio_in_channels, generator=gen, dtype=dtype), sigma=sigma,
        timesteps=sigma[:, None].expand(batch, audio_tokens), positions=audio_positions(batch, audio_tokens,
                                                                                        dtype=dtype),
        context=torch.randn(batch, 4, c.caption_channels or c.audio_cross_attention_dim, generator=gen, dtype=dtype))
    with torch.no_grad():
        return model(video, audio, Perturbations.stg(batch, (0,), items=(1,)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out_dir: str, case: Case, modes: tuple, dtypes: tuple,
            job: str) -> None:
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        tensors: Dict[str, torch.Tensor] = {}
        for dtype_name in dtypes:
            dtype = getattr(torch, dtype_name)
            for mode in modes:
                model = build_model(case, dtype)
                full = sum(p.numel() for p in model.parameters())
                wrapped = parallel_model(model, mode)
                video, audio = _run_job(job, wrapped, case, dtype)
                tensors[f"{mode}/{dtype_name}/video"] = video.contiguous()
                tensors[f"{mode}/{dtype_name}/audio"] = audio.contiguous()
                local = sum(getattr(p, "_local_tensor", p).numel() for p in model.parameters())
                sent = sum(wrapped.comm.sent_bytes.values()) if "sp" in mode else 0
                tensors[f"stats/{mode}/{dtype_name}"] = torch.tensor([local / full, float(sent)], dtype=torch.float64)
        save_file(tensors, os.path.join(out_dir, f"rank{rank}.safetensors"))
        dist.barrier()  # no rank tears its gloo threads down while another still sends
    finally:
        dist.destroy_process_group()


def _run_job(job: str, model: Callable, case: Case, dtype: torch.dtype):
    """(video, audio) tensors of `job`: "denoise" (the guided run's latent tokens) or "forward" (one call)."""
    if job == "denoise":
        result = run_case(model, case, dtype)
        return result.video_tokens, result.audio_tokens
    return forward_case(model, dtype)


def run_ranks(world: int, out_dir: str, case: Case = Case(), modes: tuple = MODES,
              dtypes: tuple = ("float32", "float64"), job: str = "denoise") -> Dict[int, Dict[str, torch.Tensor]]:
    """Runs `job` on `world` gloo ranks (torch.multiprocessing spawn); every rank's tensors by name."""
    import torch.multiprocessing as mp
    from safetensors.torch import load_file

    mp.spawn(_worker, args=(world, free_port(), out_dir, case, modes, dtypes, job), nprocs=world, join=True)
    return {rank: load_file(os.path.join(out_dir, f"rank{rank}.safetensors")) for rank in range(world)}


def max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|."""
    return float((a - b).abs().max() / b.abs().max().clamp(min=torch.finfo(b.dtype).tiny))


def reference(case: Case = Case(), dtypes: tuple = ("float32", "float64"),
              job: str = "denoise") -> Dict[str, torch.Tensor]:
    """The single-process tensors, named like `run_ranks`' (without the mode)."""
    out = {}
    for dtype_name in dtypes:
        dtype = getattr(torch, dtype_name)
        out[f"{dtype_name}/video"], out[f"{dtype_name}/audio"] = _run_job(job, build_model(case, dtype), case, dtype)
    return out
