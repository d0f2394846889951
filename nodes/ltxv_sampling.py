"""LTX-Video 0.9.x sampling in the shared graph: the scheduler node (its shift depends on the latent size, so it
takes the latent) and the LTX-Video branch of 'LTX2 Sampler' (which dispatches on the model's family)."""

import dataclasses
import logging

import torch
from comfy_api.latest import io

from ..ltx2_core.validation import MAX_STEPS
from . import family, host, params
from .conditioning import encode_pixels, fit_images
from .types import AVLatent, ImageCondition, T5Context

CATEGORY = "LTX2/sampling"
SCHEDULES = ("dev", "dev linear-quadratic", "distilled", "distilled second pass")


def ltxv_schedule(schedule: str, steps: int, latent) -> torch.Tensor:
    """SIGMAS (steps + 1,) ending in 0 (ComfyUI's convention) for the latent's size."""
    from ..ltx2_core.errors import InputError
    from ..ltx2_core.ltxv.pipeline import schedules

    shape = tuple(latent.video.shape[2:])  # (F', H', W'): the shift follows the token count
    if schedule == "distilled":
        sigmas = torch.tensor(schedules.DISTILLED_FIRST_PASS, dtype=torch.float32)
    elif schedule == "distilled second pass":
        sigmas = torch.tensor(schedules.DISTILLED_SECOND_PASS, dtype=torch.float32)
    elif schedule in ("dev", "dev linear-quadratic"):
        sampler = "linear-quadratic" if schedule.endswith("linear-quadratic") else "uniform"
        sigmas = schedules.ltxv_sigmas(steps, shape, sampler=sampler)
    else:
        raise InputError(f"schedule {schedule!r} is unknown: use one of {', '.join(SCHEDULES)}.")
    sigmas = torch.as_tensor(sigmas, dtype=torch.float32).flatten()
    return torch.cat([sigmas, sigmas.new_zeros(1)]) if float(sigmas[-1]) != 0.0 else sigmas


class LTX2LTXVScheduler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2LTXVScheduler",
            display_name="LTX2 LTX-Video Scheduler",
            category=CATEGORY,
            description="Noise levels (SIGMAS) for LTX-Video 0.9.x: 'dev' = the rectified-flow schedule shifted for "
                        "the latent's token count, 'distilled' = the fixed list of the distilled models, "
                        "'distilled second pass' = the refinement after 'LTX2 Latent Upscale' (multi-scale).",
            inputs=[
                AVLatent.Input("latent", tooltip="The latent to be sampled: its size sets the schedule's shift."),
                io.Combo.Input("schedule", options=list(SCHEDULES), default="dev",
                               tooltip="Which schedule; the distilled lists ignore steps."),
                io.Int.Input("steps", default=40, min=1, max=MAX_STEPS, tooltip="Steps of the 'dev' schedules."),
            ],
            outputs=[io.Sigmas.Output(display_name="sigmas")],
        )

    @classmethod
    def execute(cls, latent, schedule, steps):
        from ..ltx2_core.validation import check_steps

        check_steps(steps)
        return io.NodeOutput(ltxv_schedule(schedule, steps, latent))


def ltxv_guidance(guidance):
    """LTX2 Guider's video-stream scales as LTX-Video guidance (CFG, STG, rescale; audio / modality unused)."""
    from ..ltx2_core.ltxv.pipeline import LTXVGuidance

    video = guidance.video
    return LTXVGuidance(cfg=video.cfg, stg=video.stg, rescale=video.rescale, stg_blocks=tuple(video.stg_blocks))


def ltxv_conditions(latent, model_family: str):
    """LTXVCondition items for the latent's pending image / clip conditionings (encoded now, at its size)."""
    from ..ltx2_core.errors import InputError
    from ..ltx2_core.ltxv.pipeline import LTXVCondition

    out = []
    for item in latent.items:
        if not isinstance(item, ImageCondition):
            raise InputError("This conditioning was made for an LTX-2 model: use 'LTX2 Image / Keyframe "
                             "Conditioning' or 'LTX2 Video Continuation' with the LTX-Video VAE.")
        family.require(item.vae, model_family, "The image conditioning's VAE",
                       "connect the VAE of the LTX-Video checkpoint to the conditioning node.")
        host.check_interrupt()
        images = item.images
        if item.mode == "in_place":
            usable = (images.shape[0] - 1) // 8 * 8 + 1  # longest 8k+1 tail of the clip
            images = images[images.shape[0] - usable:]
        else:
            images = images[:1]
        encoded = encode_pixels(item.vae, fit_images(images, latent.width, latent.height))
        index = item.frame_index if item.frame_index >= 0 else latent.frames + item.frame_index
        if index < 0 or index >= latent.frames:
            raise InputError(f"frame_index {item.frame_index} is outside the {latent.frames}-frame clip: use "
                             f"0..{latent.frames - 1} or -1..-{latent.frames}.")
        out.append(LTXVCondition(latent=encoded, frame=index, strength=item.strength))
    return out


def check_inputs(model, conditioning, latent, sampler: str) -> None:
    """One line for inputs of the other family (Gemma prompts, audio conditioning, LTX-2 samplers)."""
    from ..ltx2_core.errors import InputError

    if not isinstance(conditioning.positive, T5Context):
        raise InputError("An LTX-Video model needs T5 prompts: encode them with 'LTX2 Text Encode' connected to "
                         "'LTX2 Load T5 Text Encoder' (not the Gemma 'LTX2 Load Text Encoder').")
    if latent.audio_items:
        raise InputError("LTX2 Audio Conditioning is for LTX-2 models: LTX-Video 0.9.x makes video only. Remove it.")
    if sampler != "euler":
        raise InputError(f"sampler {sampler!r} is LTX-2 only: LTX-Video samples with 'euler'.")


def sample_ltxv(model, conditioning, guidance, sigmas, latent, seed, sampler="euler", preview=True):
    """One LTX-Video denoising pass over `latent` (a second pass when sigmas start below 1: the latent is
    noised to sigmas[0] first); returns the latent value with the sampled video (family 'ltx-video')."""
    from ..ltx2_core.ltxv.pipeline import denoise_ltxv
    from ..ltx2_core.pipeline.latents import make_generator

    check_inputs(model, conditioning, latent, sampler)
    guide = ltxv_guidance(guidance)
    conditions = ltxv_conditions(latent, model.family)
    sigmas = torch.as_tensor(sigmas, dtype=torch.float32).cpu().flatten()
    if sigmas.numel() > 1 and float(sigmas[-1]) == 0.0:
        sigmas = sigmas[:-1]  # ComfyUI's SIGMAS end in 0; the LTX-Video loop takes the list without it
    steps = sigmas.numel()
    video = latent.video
    passes = 1 + int(guide.cfg != 1.0) + int(guide.stg != 0.0)
    tokens = video.shape[2] * video.shape[3] * video.shape[4]
    width = getattr(model.config, "dim", params.VIDEO_WIDTH)
    memory = tokens * width * torch.finfo(model.dtype).bits // 8 * params.ACTIVATION_FACTOR * video.shape[0] * passes
    module = host.load(model, memory_required=int(memory))
    device, dtype = model.device, model.dtype

    def context(value):
        if value is None:
            return None
        batch = video.shape[0]
        return (value.embeddings.to(device, dtype).expand(batch, -1, -1), value.mask.to(device).expand(batch, -1))

    # Noise is drawn on the CPU so a seed gives the same clip on every device.
    noise = torch.randn(video.shape, generator=make_generator(seed)).to(device, dtype)
    second_pass = float(sigmas[0]) < 1.0 - 1e-6
    progress = host.Progress(steps)
    logging.info("LTX2 Sampler (LTX-Video): %d steps, %d video tokens, cfg %s, stg %s%s", steps, tokens, guide.cfg,
                 guide.stg, ", second pass" if second_pass else "")

    def callback(step, total, x0):
        image = host.latent_preview_image(x0) if preview and x0 is not None else None
        progress.step(step + 1, image, total)

    result = denoise_ltxv(
        module, tuple(video.shape), [host.to_device(c, device, dtype) for c in conditions],
        sigmas, context(conditioning.positive), context(conditioning.negative), guide, noise=noise,
        frame_rate=float(latent.fps), initial_latent=video.to(device, dtype) if second_pass else None,
        callback=callback,
    )
    from ..ltx2_core.validation import check_finite

    check_finite(result, "Denoising (LTX-Video latent)")
    return dataclasses.replace(latent, video=result.to(host.intermediate_device(), torch.float32),
                               family=family.LTXV)
