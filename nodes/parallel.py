"""Several GPUs in ComfyUI: 'LTX2 Parallel Workers' starts N Ray workers that each load the transformer
(sequence parallel, FSDP-sharded or both, see docs/parallel.md); 'LTX2 Parallel Sampler' runs our denoise
loop in them and returns the latent to the graph; 'LTX2 Parallel Video Decode' shares the VAE decode's
tiles over them. Ray is optional: the workers node asks for it when
missing. The workers live as long as ComfyUI caches the workers node's output (reused between prompts);
Cancel during sampling shuts them down and the next prompt starts fresh ones."""

import dataclasses
import logging

import torch
from comfy_api.latest import io

from ..ltx2_core.pipeline.sampler import SAMPLERS
from ..ltx2_core.validation import SEED_LIMIT
from . import family, host
from .conditioning import resolve_items
from .decode import tiling_inputs
from .sampling import batched, check_ltx2_inputs
from .types import AVLatent, Conditioning, Guider

CATEGORY = "LTX2/parallel"
Workers = io.Custom("LTX2_PARALLEL_WORKERS")
MODES = ("sp", "fsdp", "sp+fsdp")
DTYPES = ("bfloat16", "float16", "float32")
FOLDERS = ("checkpoints", "diffusion_models")
VAE_FOLDERS = ("checkpoints", "vae")


def model_choices():
    """'folder/name' of every transformer file the workers can load."""
    return [f"{folder}/{name}" for folder in FOLDERS
            for name in host.model_files(folder, host.SAFETENSORS + host.GGUF)]


class LTX2ParallelWorkers(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2ParallelWorkers",
            display_name="LTX2 Parallel Workers",
            category=CATEGORY,
            description="Starts N Ray workers (one per GPU) that load the LTX-2 transformer and split each step "
                        "over themselves. Needs `pip install ray`. LoRAs are not applied in the workers.",
            inputs=[
                io.Combo.Input("model_name", options=model_choices(),
                               tooltip="LTX-2 / LTX-2.3 transformer file (a checkpoint or a diffusion model, "
                                       "safetensors or GGUF) each worker loads itself."),
                io.Int.Input("workers", default=2, min=1, max=16,
                             tooltip="Number of workers: one per GPU (or CPU workers when device is 'cpu')."),
                io.Combo.Input("mode", options=list(MODES), default="sp",
                               tooltip="'sp' splits the video tokens (each worker holds all weights), 'fsdp' "
                                       "shards the weights, 'sp+fsdp' both. GGUF files: 'sp' only."),
                io.Combo.Input("device", options=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu",
                               tooltip="Where the workers compute: 'cuda' gives each worker its own GPU."),
                io.Combo.Input("dtype", options=list(DTYPES), default="bfloat16",
                               tooltip="Compute dtype of the workers (float32 on CPU)."),
                io.Boolean.Input("offload_shards", default=False,
                                 tooltip="fsdp modes: keep the weight shards in CPU memory (lowest GPU memory)."),
            ],
            outputs=[Workers.Output(display_name="workers")],
        )

    @classmethod
    def execute(cls, model_name, workers=2, mode="sp", device="cpu", dtype="bfloat16", offload_shards=False):
        from ..ltx2_core.errors import InputError
        from ..ltx2_core.parallel.ray_pool import RayPool
        from ..ltx2_core.parallel.worker import WorkerSpec

        folder, _, name = str(model_name).partition("/")
        if folder not in FOLDERS or not name:
            raise InputError(f"model_name {model_name!r} is not 'checkpoints/NAME' or 'diffusion_models/NAME'.")
        if offload_shards and "fsdp" not in mode:
            raise InputError("offload_shards moves FSDP shards to the CPU: use it with mode 'fsdp' or 'sp+fsdp'.")
        pool = RayPool(workers, WorkerSpec(host.model_path(folder, name), mode, device, dtype, offload_shards))
        pool.start()
        logging.info("LTX2 Parallel Workers: %d %s workers (%s) loaded %s", workers, device, mode, name)
        return io.NodeOutput(pool)


class LTX2ParallelSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2ParallelSampler",
            display_name="LTX2 Parallel Sampler",
            category=CATEGORY,
            description="Denoises the latent in the parallel workers (the same result as 'LTX2 Sampler' up to "
                        "float rounding). Cancel stops the workers.",
            inputs=[
                Workers.Input("workers", tooltip="Workers from 'LTX2 Parallel Workers'."),
                Conditioning.Input("conditioning", tooltip="Encoded prompts from 'LTX2 Text Encode'."),
                Guider.Input("guider", tooltip="Guidance settings from 'LTX2 Guider'."),
                io.Sigmas.Input("sigmas", tooltip="Noise schedule, e.g. from 'LTX2 Scheduler'."),
                AVLatent.Input("latent", tooltip="Latent to denoise (empty, conditioned, or upscaled for stage 2)."),
                io.Int.Input("seed", default=0, min=0, max=SEED_LIMIT - 1, control_after_generate=True,
                             tooltip="Noise seed (drawn on the CPU, as 'LTX2 Sampler' does: the same clip)."),
                io.Combo.Input("sampler", options=list(SAMPLERS), default="euler",
                               tooltip="Step rule, as in 'LTX2 Sampler'."),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, workers, conditioning, guider, sigmas, latent, seed, sampler="euler"):
        import comfy.model_management as mm

        from ..ltx2_core.parallel.ray_pool import Interrupted
        from ..ltx2_core.validation import check_seed

        check_seed(seed)
        check_ltx2_inputs(conditioning, latent)
        request = build_request(conditioning, guider, sigmas, latent, seed, sampler)
        logging.info("LTX2 Parallel Sampler: %d steps on %d workers (%s)", request.sigmas.numel() - 1,
                     workers.workers, workers.spec.mode)
        try:
            video, audio = workers.denoise(request, interrupted=mm.processing_interrupted)
        except Interrupted:
            logging.info("LTX2 Parallel Sampler: interrupted, the workers were shut down")
            host.check_interrupt()
            raise
        out = host.intermediate_device()
        return io.NodeOutput(dataclasses.replace(latent, video=video.to(out), audio=audio.to(out)))


def vae_choices():
    """'folder/name' of every file holding a video VAE the workers can load (a checkpoint or a VAE file)."""
    return [f"{folder}/{name}" for folder in VAE_FOLDERS for name in host.model_files(folder, host.SAFETENSORS)]


class LTX2ParallelVideoDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2ParallelVideoDecode",
            display_name="LTX2 Parallel Video Decode",
            category=CATEGORY,
            description="Decodes the video latent in the parallel workers: each decodes its share of the tiles "
                        "and the first blends them, the same frames as 'LTX2 Video Decode' with the same tiles.",
            inputs=[
                Workers.Input("workers", tooltip="Workers from 'LTX2 Parallel Workers'."),
                AVLatent.Input("latent", tooltip="Sampled audio-video latent (LTX-2 / LTX-2.3)."),
                io.Combo.Input("vae_name", options=vae_choices(),
                               tooltip="File with the video VAE each worker loads itself (the checkpoint, or a "
                                       "VAE file of the 'vae' folder); loaded once and kept."),
                *tiling_inputs(),  # smaller tiles: more of them to share out
            ],
            outputs=[io.Image.Output(display_name="images"), io.Float.Output(display_name="fps")],
        )

    @classmethod
    def execute(cls, workers, latent, vae_name, tile_size=512, tile_overlap=64, chunk_frames=64, chunk_overlap=24):
        import comfy.model_management as mm

        from ..ltx2_core.errors import InputError
        from ..ltx2_core.parallel.ray_pool import Interrupted
        from ..ltx2_core.parallel.worker import DecodeRequest
        from ..ltx2_core.validation import check_finite
        from ..ltx2_core.video_vae import TilingConfig

        folder, _, name = str(vae_name).partition("/")
        if folder not in VAE_FOLDERS or not name:
            raise InputError(f"vae_name {vae_name!r} is not 'checkpoints/NAME' or 'vae/NAME'.")
        if latent.family == family.LTXV:
            raise InputError("LTX2 Parallel Video Decode decodes LTX-2 / LTX-2.3 latents: decode LTX-Video 0.9.x "
                             "latents with 'LTX2 Video Decode'.")
        tiling = TilingConfig(tile_size, tile_overlap, chunk_frames, chunk_overlap)
        request = DecodeRequest(host.model_path(folder, name), latent.video.to("cpu", torch.float32), tiling)
        logging.info("LTX2 Parallel Video Decode: %s on %d workers", name, workers.workers)
        try:
            pixels = workers.decode(request, interrupted=mm.processing_interrupted)
        except Interrupted:
            logging.info("LTX2 Parallel Video Decode: interrupted, the workers were shut down")
            host.check_interrupt()
            raise
        check_finite(pixels, "Video decoding")
        images = ((pixels[:, :, : latent.frames] + 1.0) / 2.0).clamp(0.0, 1.0)  # (B, 3, F, H, W)
        images = images.permute(0, 2, 3, 4, 1).reshape(-1, images.shape[3], images.shape[4], 3)
        return io.NodeOutput(images.contiguous().to(host.intermediate_device()), float(latent.fps))


def build_request(conditioning, guidance, sigmas, latent, seed, sampler):
    """The workers' DenoiseRequest: states, prompts and noise on the CPU in float32, as 'LTX2 Sampler' builds them."""
    from ..ltx2_core.parallel.worker import DenoiseRequest
    from ..ltx2_core.pipeline.conditioning import apply_conditionings, initial_audio_state, initial_video_state
    from ..ltx2_core.pipeline.latents import LatentShape, make_generator

    cpu, dtype = torch.device("cpu"), torch.float32
    video, audio = latent.video, latent.audio
    shape = LatentShape(batch=video.shape[0], frames=video.shape[2], height=video.shape[3], width=video.shape[4],
                        audio_frames=audio.shape[2], video_channels=video.shape[1], audio_channels=audio.shape[1],
                        audio_mel_bins=audio.shape[3])
    items = [host.to_device(i, cpu, dtype) for i in resolve_items(latent)]
    video_state = apply_conditionings(initial_video_state(shape, latent.fps, latent=video.to(cpu, dtype)), items,
                                      shape, latent.fps)
    audio_state = apply_conditionings(initial_audio_state(shape, latent=audio.to(cpu, dtype)),
                                      [host.to_device(i, cpu, dtype) for i in latent.audio_items], shape, latent.fps)
    positive = batched(host.to_device(conditioning.positive, cpu, dtype), shape.batch)
    negative = None
    if conditioning.negative is not None:
        negative = batched(host.to_device(conditioning.negative, cpu, dtype), shape.batch)
    generator = make_generator(seed)
    noise = tuple(torch.randn(s.latent.shape, generator=generator) for s in (video_state, audio_state))
    sigmas = torch.as_tensor(sigmas, dtype=torch.float32).cpu()
    return DenoiseRequest(shape, video_state, audio_state, sigmas, positive, negative, guidance, noise,
                          noise_scale=float(sigmas[0]), sampler=sampler)
