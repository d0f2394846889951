"""Latent nodes: the empty audio-video latent and the latent upscaler."""

import dataclasses
import logging

import torch
from comfy_api.latest import io

from ..ltx2_core.validation import MAX_FPS, MIN_FPS
from . import host, params
from .types import AVLatent, AVLatentValue, Conditioning, DurationHead, Upscaler, VideoVAE

CATEGORY = "LTX2/latent"


def empty_latent(width: int, height: int, frames: int, fps: float, batch: int = 1) -> AVLatentValue:
    """Zero video (B, 128, F', H/32, W/32) and audio (B, 8, T_a, 16) latents for the requested clip."""
    from ..ltx2_core.pipeline.latents import latent_shape
    from ..ltx2_core.validation import check_fps

    check_fps(fps)
    shape = latent_shape(width, height, frames, fps, batch=batch)
    device = host.intermediate_device()
    return AVLatentValue(
        video=torch.zeros(shape.video, device=device),
        audio=torch.zeros(shape.audio, device=device),
        frames=frames, fps=float(fps), width=width, height=height,
    )


class LTX2EmptyAVLatent(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2EmptyAVLatent",
            display_name="LTX2 Empty Audio-Video Latent",
            category=CATEGORY,
            description="Empty joint latent for a clip; this fps is the one every later node (and the saved video) uses.",
            inputs=[
                io.Int.Input("width", default=768, min=32, max=8192, step=32,
                             tooltip="Video width in pixels (a multiple of 32)."),
                io.Int.Input("height", default=512, min=32, max=8192, step=32,
                             tooltip="Video height in pixels (a multiple of 32)."),
                io.Int.Input("frames", default=121, min=1, max=params.MAX_FRAMES, step=8,
                             tooltip="Number of frames, of the form 8k+1 (e.g. 97, 121). Ignored when seconds > 0."),
                io.Float.Input("seconds", default=0.0, min=0.0, max=120.0, step=0.1,
                               tooltip="Clip length in seconds; when > 0 it sets frames to the nearest 8k+1 at this fps."),
                io.Float.Input("fps", default=24.0, min=MIN_FPS, max=MAX_FPS, step=1.0,
                               tooltip="Frame rate of the video and of the saved file; the audio length follows it."),
                io.Int.Input("batch_size", default=1, min=1, max=16, tooltip="Number of clips generated at once."),
                DurationHead.Input("duration_head", optional=True,
                                   tooltip="LTX-2.5 auto duration: with the duration head and the conditioning "
                                           "connected, the length is predicted from the prompt (1-20 s; frames "
                                           "and seconds are then ignored)."),
                Conditioning.Input("conditioning", optional=True,
                                   tooltip="The encoded prompt the duration head reads (only with duration_head)."),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, width, height, frames, seconds, fps, batch_size=1, duration_head=None, conditioning=None):
        if duration_head is not None:
            from .ltx25 import auto_frames

            frames = auto_frames(duration_head, conditioning, fps)
            logging.info("LTX2 Empty Latent: the duration head chose %d frames (%.2f s at %g fps)", frames,
                         frames / fps, fps)
        elif seconds > 0:
            frames = params.frames_from_seconds(seconds, fps)
        return io.NodeOutput(empty_latent(width, height, frames, fps, batch_size))


class LTX2LatentUpscale(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2LatentUpscale",
            display_name="LTX2 Latent Upscale",
            category=CATEGORY,
            description="Upscales the video latent with an LTX-2 latent upsampler (stage 2 of the two-stage pipeline). "
                        "Image conditionings are kept and re-encoded at the new size by the sampler.",
            inputs=[
                Upscaler.Input("upscaler", tooltip="Latent upsampler from 'LTX2 Load Latent Upscaler'."),
                VideoVAE.Input("video_vae", tooltip="Video VAE whose latent statistics the upsampler works with."),
                AVLatent.Input("latent", tooltip="Sampled latent from the first stage."),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, upscaler, video_vae, latent):
        from ..ltx2_core.upsampler import upsample_latent

        vae, module = host.load_together(video_vae, upscaler)
        with torch.no_grad():
            video = upsample_latent(latent.video.to(upscaler.device, upscaler.dtype), module, vae)
        video = video.to(host.intermediate_device(), torch.float32)
        scale_t = (video.shape[2] - 1) / max(1, latent.video.shape[2] - 1) if latent.video.shape[2] > 1 else 1
        frames = int(round((latent.frames - 1) * scale_t)) + 1
        return io.NodeOutput(dataclasses.replace(
            latent, video=video, frames=frames, fps=latent.fps * frames / latent.frames,
            width=video.shape[4] * params.SPATIAL_SCALE, height=video.shape[3] * params.SPATIAL_SCALE,
        ))
