"""Sampling nodes: guider (CFG / STG / modality guidance per stream), scheduler and the sampler."""

import dataclasses
import logging

import torch
from comfy_api.latest import io

from ..ltx2_core.pipeline.sampler import SAMPLERS
from ..ltx2_core.validation import MAX_CFG, MAX_GUIDANCE_SCALE, MAX_STEPS, SEED_LIMIT
from . import family, host, params, speed
from .conditioning import resolve_items
from .types import AVLatent, Conditioning, Guider, ImageCondition, Model, T5Context

CATEGORY = "LTX2/sampling"
SCHEDULES = ("dev", "distilled", "stage2")


def parse_blocks(text: str):
    """'28, 29' -> (28, 29); a clear error for anything else."""
    from ..ltx2_core.errors import InputError

    blocks = []
    for part in str(text).replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise InputError(f"stg_blocks {text!r} is invalid: use comma-separated block numbers such as '29' or '28, 29'.")
        blocks.append(int(part))
    return tuple(blocks)


class LTX2Guider(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2Guider",
            display_name="LTX2 Guider",
            category=CATEGORY,
            description="Guidance for the video and audio streams. Defaults are the LTX-2 dev values; use 1 / 0 / 1 "
                        "(a single pass per step) for distilled models and stage 2.",
            inputs=[
                io.Float.Input("video_cfg", default=3.0, min=0.0, max=MAX_CFG, step=0.1,
                               tooltip="Classifier-free guidance scale of the video stream (1 = off)."),
                io.Float.Input("audio_cfg", default=7.0, min=0.0, max=MAX_CFG, step=0.1,
                               tooltip="Classifier-free guidance scale of the audio stream (1 = off)."),
                io.Float.Input("stg_scale", default=1.0, min=0.0, max=MAX_GUIDANCE_SCALE, step=0.1,
                               tooltip="Spatio-temporal guidance scale, both streams (0 = off)."),
                io.String.Input("stg_blocks", default="29",
                                tooltip="Transformer blocks whose self-attention STG skips, e.g. '29' (LTX-2) or '28' (LTX-2.3)."),
                io.Float.Input("modality_scale", default=3.0, min=0.0, max=MAX_GUIDANCE_SCALE, step=0.1,
                               tooltip="Audio-video cross-modal guidance scale (1 = off)."),
                io.Float.Input("rescale", default=0.7, min=0.0, max=1.0, step=0.01,
                               tooltip="Rescales the guided prediction's std toward the conditional one (0 = off)."),
            ],
            outputs=[Guider.Output(display_name="guider")],
        )

    @classmethod
    def execute(cls, video_cfg, audio_cfg, stg_scale, stg_blocks, modality_scale, rescale):
        from ..ltx2_core.pipeline.guidance import Guidance, GuidanceParams
        from ..ltx2_core.validation import check_guidance

        streams = params.guider_streams(video_cfg=video_cfg, audio_cfg=audio_cfg, stg_scale=stg_scale,
                                        stg_blocks=parse_blocks(stg_blocks), modality_scale=modality_scale,
                                        rescale=rescale)
        guidance = Guidance(**{stream: GuidanceParams(**fields) for stream, fields in streams.items()})
        check_guidance(guidance)
        return io.NodeOutput(guidance)


class LTX2Scheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2Scheduler",
            display_name="LTX2 Scheduler",
            category=CATEGORY,
            description="Noise levels (SIGMAS): 'dev' = the LTX-2 shifted schedule, 'distilled' = the fixed 8-step "
                        "list, 'stage2' = the 3-step refinement after latent upscaling.",
            inputs=[
                io.Combo.Input("schedule", options=list(SCHEDULES), default="dev",
                               tooltip="Which schedule; 'distilled' and 'stage2' ignore steps."),
                io.Int.Input("steps", default=40, min=1, max=MAX_STEPS, tooltip="Steps of the 'dev' schedule."),
            ],
            outputs=[io.Sigmas.Output(display_name="sigmas")],
        )

    @classmethod
    def execute(cls, schedule, steps):
        from ..ltx2_core.pipeline import schedules
        from ..ltx2_core.validation import check_steps

        check_steps(steps)
        if schedule == "distilled":
            sigmas = schedules.as_sigmas(schedules.DISTILLED_SIGMAS)
        elif schedule == "stage2":
            sigmas = schedules.as_sigmas(schedules.STAGE2_SIGMAS)
        else:
            sigmas = schedules.ltx2_sigmas(steps)
        return io.NodeOutput(sigmas)


def batched(context, batch: int):
    """A text context with batch 1 repeated for a latent batch of `batch` clips."""
    if context.video.shape[0] == batch:
        return context
    expand = lambda t: None if t is None else t.expand(batch, *t.shape[1:])  # noqa: E731
    return dataclasses.replace(context, video=expand(context.video), audio=expand(context.audio),
                               mask=expand(getattr(context, "mask", None)))


def activation_bytes(model, video, audio, passes: int) -> int:
    """Rough peak activation memory of one step (see nodes/params.py), for ComfyUI's load planning."""
    config = model.config
    tokens_v = video.shape[2] * video.shape[3] * video.shape[4]
    width_v, width_a = (config.dim, config.audio_dim) if config is not None else (4096, 2048)
    per_pass = (tokens_v * width_v + audio.shape[2] * width_a) * torch.finfo(model.dtype).bits // 8
    return int(per_pass * params.ACTIVATION_FACTOR * video.shape[0] * passes)


def sample(model, conditioning, guidance, sigmas, latent, seed, sampler, preview=True, windows=None):
    """Run one denoising stage on `latent` and return the sampled latent value (on the intermediate device).
    windows: a `context_windows.ContextWindows` to denoise in overlapping temporal windows (None: whole clip)."""
    from ..ltx2_core.pipeline.conditioning import apply_conditionings, initial_audio_state, initial_video_state
    from ..ltx2_core.pipeline.denoise import denoise
    from ..ltx2_core.pipeline.keyframe_slots import GeneratedKeyframes, check_model_supports
    from ..ltx2_core.pipeline.latents import LatentShape, make_generator

    video, audio = latent.video, latent.audio
    shape = LatentShape(batch=video.shape[0], frames=video.shape[2], height=video.shape[3], width=video.shape[4],
                        audio_frames=audio.shape[2], video_channels=video.shape[1], audio_channels=audio.shape[1],
                        audio_mel_bins=audio.shape[3])
    items = resolve_items(latent)
    if any(isinstance(item, GeneratedKeyframes) for item in items):
        check_model_supports(model.config)
    sigmas = torch.as_tensor(sigmas, dtype=torch.float32).cpu()
    module = host.load(model, memory_required=activation_bytes(model, video, audio, len(guidance.passes)))
    device, dtype = model.device, model.dtype
    video_state = initial_video_state(shape, latent.fps, latent=video.to(device, dtype))
    video_state = apply_conditionings(video_state, [host.to_device(i, device, dtype) for i in items], shape, latent.fps)
    audio_state = initial_audio_state(shape, latent=audio.to(device, dtype))
    audio_state = apply_conditionings(audio_state, [host.to_device(i, device, dtype) for i in latent.audio_items],
                                      shape, latent.fps)
    positive = batched(host.to_device(conditioning.positive, device, dtype), shape.batch)
    negative = None
    if conditioning.negative is not None:
        negative = batched(host.to_device(conditioning.negative, device, dtype), shape.batch)
    # Noise is drawn on the CPU so a seed gives the same clip on every device.
    generator = make_generator(seed)
    noise = tuple(torch.randn(s.latent.shape, generator=generator).to(device, dtype) for s in (video_state, audio_state))
    progress = host.Progress(sigmas.numel() - 1)
    logging.info("LTX2 Sampler: %d steps, %d video + %d audio tokens, passes %s", sigmas.numel() - 1,
                 video_state.tokens, audio_state.tokens, ",".join(guidance.passes))

    def callback(step, total, video_x0, audio_x0):
        image = host.latent_preview_image(video_x0) if preview and video_x0 is not None else None
        progress.step(step + 1, image, total)

    if sampler == "euler_ancestral":  # official: its own noise generator, seeded seed + 10000
        from ..ltx2_core.pipeline.denoise import ANCESTRAL_SEED_OFFSET
        from ..ltx2_core.pipeline.sampler import EulerAncestral

        sampler = EulerAncestral(seed=int(seed) + ANCESTRAL_SEED_OFFSET)
    compiled, step_cache = speed.model_speed(model)
    predictor = None
    if windows is not None:  # pixel frames of the latent: 8 (F - 1) + 1
        predictor = windows.predictor(shape, 8 * (shape.frames - 1) + 1, latent.fps)
    result = denoise(compiled or module, shape, video_state, audio_state, sigmas, positive, negative, guidance,
                     noise=noise, noise_scale=float(sigmas[0]), sampler=sampler, callback=callback,
                     step_cache=step_cache, predictor=predictor)
    if step_cache is not None:
        logging.info("LTX2 Sampler: step cache skipped %d of %d model calls", step_cache.skipped, step_cache.calls)
    out = host.intermediate_device()
    return dataclasses.replace(latent, video=result.video.to(out, torch.float32),
                               audio=result.audio.to(out, torch.float32))


def check_ltx2_inputs(conditioning, latent) -> None:
    """One line for LTX-Video inputs given to an LTX-2 model (T5 prompts, an LTX-Video VAE's image)."""
    from ..ltx2_core.errors import InputError

    if isinstance(conditioning.positive, T5Context):
        raise InputError("An LTX-2 model needs Gemma prompts: encode them with 'LTX2 Text Encode' connected to "
                         "'LTX2 Load Text Encoder' (T5 is LTX-Video's text encoder).")
    for item in latent.items:
        if isinstance(item, ImageCondition):
            family.require(item.vae, family.LTX2, "The image conditioning's VAE",
                           "connect the VAE of the LTX-2 checkpoint to the conditioning node.")


class LTX2Sampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2Sampler",
            display_name="LTX2 Sampler",
            category=CATEGORY,
            description="Denoises the latent with the connected model: audio + video for LTX-2, video only for "
                        "LTX-Video 0.9.x (sigmas from 'LTX2 LTX-Video Scheduler'). Shows progress and a live latent "
                        "preview; Cancel stops it between steps.",
            inputs=[
                Model.Input("model", tooltip="Transformer (optionally with LoRAs)."),
                Conditioning.Input("conditioning", tooltip="Encoded prompts from 'LTX2 Text Encode'."),
                Guider.Input("guider", tooltip="Guidance settings from 'LTX2 Guider'."),
                io.Sigmas.Input("sigmas", tooltip="Noise schedule, e.g. from 'LTX2 Scheduler'."),
                AVLatent.Input("latent", tooltip="Latent to denoise (empty, conditioned, or upscaled for stage 2)."),
                io.Int.Input("seed", default=0, min=0, max=SEED_LIMIT - 1, control_after_generate=True,
                             tooltip="Noise seed (noise is drawn on the CPU: the same seed gives the same clip everywhere)."),
                io.Combo.Input("sampler", options=[*SAMPLERS, "euler_ancestral"], default="euler",
                               tooltip="Step rule: 'euler' (reference), 'gradient_estimation' (often better at few "
                                       "steps), 'res_2s' (official second-order sampler, two model calls per step), "
                                       "'euler_ancestral' (LTX-2.5 distilled stage 1; stage 2 stays 'euler')."),
                io.Boolean.Input("preview", default=True, tooltip="Send a latent preview of the middle frame each step."),
                io.Int.Input("context_window_frames", default=0, min=0, max=100001, optional=True,
                             tooltip="LTX-2 only. 0 = off. Otherwise denoise in overlapping temporal windows of this "
                                     "many pixel frames (8k+1, e.g. 121 = the trained length), video and the audio "
                                     "of the same time span together, blended in the overlaps: for clips longer "
                                     "than the model's window. Frame-0 image conditioning only."),
                io.Int.Input("context_overlap_frames", default=25, min=1, max=100001, optional=True,
                             tooltip="Pixel frames neighbouring windows share (8k+1, shorter than a window); "
                                     "used when context_window_frames > 0."),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, model, conditioning, guider, sigmas, latent, seed, sampler="euler", preview=True,
                context_window_frames=0, context_overlap_frames=25):
        from ..ltx2_core.pipeline.context_windows import ContextWindows
        from ..ltx2_core.validation import check_seed

        check_seed(seed)
        if model.family == family.LTXV:
            if context_window_frames:
                from ..ltx2_core.errors import InputError

                raise InputError("context_window_frames works with LTX-2 models only: set it to 0 for LTX-Video.")
            from .ltxv_sampling import sample_ltxv

            return io.NodeOutput(sample_ltxv(model, conditioning, guider, sigmas, latent, seed, sampler, preview))
        check_ltx2_inputs(conditioning, latent)
        windows = ContextWindows(context_window_frames, context_overlap_frames) if context_window_frames else None
        return io.NodeOutput(sample(model, conditioning, guider, sigmas, latent, seed, sampler, preview, windows))
