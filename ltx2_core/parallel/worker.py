"""One rank of a worker group (a Ray actor in ComfyUI, see `ray_pool`): joins the torch.distributed group,
loads the transformer itself from its file, and runs our denoise loop with the parallel transformer.

Plain class (no Ray import): `ray_pool.RayPool` makes it an actor. Every rank receives the same request
(states, prompts, guidance, noise) and runs the same loop; rank 0 returns the latents. `decode` shares the
video VAE decode's tiles over the same ranks (the decoder is loaded from its file on first use).
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class WorkerSpec:
    """What every worker of a group loads: the transformer file, the mode and where it computes."""

    checkpoint: str
    mode: str = "sp"  # "sp", "fsdp" or "sp+fsdp"
    device: str = "cpu"  # "cuda": each worker its own GPU (Ray gives one per actor)
    dtype: str = "bfloat16"
    offload: bool = False  # FSDP shards in CPU memory between uses


@dataclass(frozen=True)
class DenoiseRequest:
    """The inputs of `pipeline.denoise.denoise` for one stage (tensors on the CPU)."""

    shape: object  # LatentShape
    video: object  # conditioning.StreamState or None
    audio: object
    sigmas: torch.Tensor
    positive: object  # denoise.TextContext
    negative: object
    guidance: object  # guidance.Guidance
    noise: Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]
    noise_scale: float = 1.0
    sampler: str = "euler"


@dataclass(frozen=True)
class DecodeRequest:
    """A video latent to decode over the workers with the tiles of `tiling` (`vae_decode.decode_parallel`)."""

    vae: str  # a checkpoint or VAE file holding the LTX-2 / LTX-2.3 video VAE decoder
    latent: torch.Tensor  # (B, C, F', H', W') on the CPU
    tiling: object  # video_vae.TilingConfig
    seed: int = 0  # the generator of a timestep-conditioned decoder's noise


def _to(value, device, dtype):
    """Tensors (and the tensor fields of frozen dataclasses) moved to `device`; floating ones cast to `dtype`."""
    import dataclasses

    if isinstance(value, torch.Tensor):
        return value.to(device, dtype) if value.is_floating_point() else value.to(device)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _to(getattr(value, f.name), device, dtype) for f in dataclasses.fields(value)
                   if isinstance(getattr(value, f.name), torch.Tensor)}
        return dataclasses.replace(value, **changes)
    return value


class Worker:
    def __init__(self, rank: int, world: int, address: str, spec: WorkerSpec) -> None:
        from ..pipeline.component_files import load_transformer_file
        from .modes import parallel_model

        torch.set_num_threads(max(1, torch.get_num_threads()))
        self.rank, self.spec = rank, spec
        self.device = torch.device("cuda", 0) if spec.device == "cuda" else torch.device(spec.device)
        self.dtype = getattr(torch, spec.dtype)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo", init_method=f"tcp://{address}",
                                rank=rank, world_size=world)
        model = load_transformer_file(spec.checkpoint, [], self.dtype, self.device)
        self.model = parallel_model(model, spec.mode, offload=spec.offload)
        self.vae = None  # (file, VideoVAE) once `decode` has run

    def ready(self) -> int:
        return self.rank

    def denoise(self, request: DenoiseRequest):
        """(video latent, audio latent) on the CPU in float32 from rank 0; None from the others."""
        from ..pipeline.denoise import denoise

        device, dtype = self.device, self.dtype
        r = request
        result = denoise(self.model, r.shape, _to(r.video, device, dtype), _to(r.audio, device, dtype), r.sigmas,
                         _to(r.positive, device, dtype), _to(r.negative, device, dtype), r.guidance,
                         noise=tuple(None if n is None else n.to(device, dtype) for n in r.noise),
                         noise_scale=r.noise_scale, sampler=r.sampler)
        if self.rank != 0:
            return None
        return tuple(None if t is None else t.to("cpu", torch.float32) for t in (result.video, result.audio))

    def decode(self, request: DecodeRequest):
        """Pixels (B, 3, F, H, W) on the CPU in float32 from rank 0 (None from the others); the VAE decoder is
        loaded on the first call for its file and kept."""
        from ..video_vae import load_video_vae
        from .vae_decode import decode_parallel

        if self.vae is None or self.vae[0] != request.vae:
            self.vae = None  # the previous VAE is freed before the next one loads
            self.vae = (request.vae, load_video_vae(request.vae, dtype=self.dtype, device=self.device,
                                                    components=("decoder",)))
        generator = torch.Generator(device=self.device).manual_seed(int(request.seed))
        with torch.no_grad():
            pixels = decode_parallel(self.vae[1], request.latent.to(self.device, self.dtype), request.tiling,
                                     generator=generator, to_all=False)
        return None if pixels is None else pixels.to("cpu", torch.float32)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()
