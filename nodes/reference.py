"""Reference control nodes: the IC-LoRA guide (control video tokens) and reference audio (voice tokens)."""

import logging

import torch
from comfy_api.latest import io

from ..ltx2_core.validation import check_pixels, check_strength
from . import host
from .conditioning import encode_pixels, fit_images
from .types import AudioVAE, AVLatent, VideoVAE

CATEGORY = "LTX2/conditioning"
NO_LORA = "(none: factor below)"


def _scales(lora_name: str, downscale_factor: int) -> tuple:
    """(spatial downscale, temporal scale): the IC-LoRA file's metadata when one is named, else (widget, 1)."""
    from ..ltx2_core.pipeline.reference.ic_lora import METADATA_TEMPORAL, reference_downscale_factor

    if lora_name == NO_LORA:
        return int(downscale_factor), 1
    path = host.model_path("loras", lora_name)
    return reference_downscale_factor(path), reference_downscale_factor(path, METADATA_TEMPORAL)


def _pixel_mask(mask: torch.Tensor) -> torch.Tensor:
    """ComfyUI MASK (N, H, W) or (H, W) in [0, 1] -> (1, 1, N, H, W)."""
    mask = mask.float()
    if mask.ndim == 2:
        mask = mask.unsqueeze(0)
    return mask.unsqueeze(0).unsqueeze(0).clamp(0.0, 1.0)


class LTX2ICLoRAGuide(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2ICLoRAGuide",
            display_name="LTX2 IC-LoRA Guide",
            category=CATEGORY,
            description="Structure control with an IC-LoRA (depth, pose, canny, detailer, ...): the control video is "
                        "encoded and appended as extra reference tokens with their own positions, as the official "
                        "IC-LoRA pipeline does. Load the IC-LoRA itself with 'LTX2 Load LoRA'. Use it on the "
                        "first stage only: an upscaled latent drops the reference (official behaviour).",
            inputs=[
                AVLatent.Input("latent", tooltip="Latent to guide (from Empty Latent or another conditioning node)."),
                VideoVAE.Input("video_vae", tooltip="Video VAE (with its encoder) used to encode the control video."),
                io.Image.Input("control_video", tooltip="Control frames (depth / pose / edges ...); resized and "
                                                        "centre-cropped, cut to the clip length and to 8k+1 frames."),
                io.Combo.Input("lora_name", options=[NO_LORA] + host.model_files("loras"), default=NO_LORA,
                               tooltip="The IC-LoRA file (in 'loras') whose reference_downscale_factor metadata sets "
                                       "the reference size; it is not applied here."),
                io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="1 keeps the reference tokens clean; lower values let the model denoise them."),
                io.Float.Input("attention_strength", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="How much generated and reference tokens attend to each other (1 = fully; "
                                       "below 1 adds a self-attention mask)."),
                io.Int.Input("downscale_factor", default=1, min=1, max=8,
                             tooltip="Reference size = video size / factor; used only when no IC-LoRA file is named."),
                io.Mask.Input("attention_mask", optional=True,
                              tooltip="Optional per-region attention (white = follow the control), one mask per "
                                      "control frame; multiplied by attention_strength."),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, latent, video_vae, control_video, lora_name=NO_LORA, strength=1.0, attention_strength=1.0,
                downscale_factor=1, attention_mask=None):
        from ..ltx2_core.errors import InputError
        from ..ltx2_core.pipeline.reference import latent_attention_mask, reference_item
        from ..ltx2_core.pipeline.reference.ic_lora import ICLora, subsample_frames

        check_strength(strength)
        check_strength(attention_strength, "attention_strength")
        check_pixels(control_video, "control_video", low=0.0, high=1.0)
        factor, temporal = _scales(lora_name, downscale_factor)
        ic_lora = ICLora({}, 1.0, factor, temporal_scale=temporal)
        width, height = ic_lora.stage_size(latent.width, latent.height)
        usable = (min(control_video.shape[0], latent.frames) - 1) // 8 * 8 + 1
        pixels = fit_images(control_video[:usable], width, height)  # (1, 3, F, h, w)
        pixels = subsample_frames(pixels[0], temporal).unsqueeze(0)
        encoded = encode_pixels(video_vae, pixels)  # (1, C, F', h', w')
        attention = float(attention_strength)
        if attention_mask is not None:
            mask = _pixel_mask(attention_mask)[:, :, :usable]
            if mask.shape[2] != usable:
                raise InputError(f"attention_mask has {mask.shape[2]} frames, the control video {usable}: give one "
                                 "mask per control frame (or a single one for an image).")
            mask = subsample_frames(mask[0], temporal).unsqueeze(0)
            attention = latent_attention_mask(mask, *encoded.shape[2:]) * attention
        encoded = encoded.expand(latent.video.shape[0], -1, -1, -1, -1)
        logging.info("LTX2 IC-LoRA Guide: %d reference tokens at 1/%d size", encoded[0, 0].numel(), factor)
        return io.NodeOutput(latent.with_items(reference_item(encoded, ic_lora, strength, attention)))


class LTX2ReferenceAudio(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2ReferenceAudio",
            display_name="LTX2 Reference Audio (Voice)",
            category=CATEGORY,
            description="Speaker identity: the reference audio is encoded and appended as clean audio tokens placed "
                        "before the clip in time (newer official Lightricks code, used with its Dub-It IC-LoRA).",
            inputs=[
                AVLatent.Input("latent", tooltip="Latent to condition."),
                AudioVAE.Input("audio_vae", tooltip="Audio VAE (with its encoder) used to encode the reference."),
                io.Audio.Input("audio", tooltip="A few seconds of the voice to follow."),
                io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="1 keeps the reference tokens clean (official); lower values denoise them."),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, latent, audio_vae, audio, strength=1.0):
        from ..ltx2_core.errors import InputError
        from ..ltx2_core.pipeline.reference import ReferenceAudio

        check_strength(strength)
        if audio_vae is None:
            raise InputError("LTX2 Reference Audio needs an LTX-2 audio VAE: LTX-Video 0.9.x has no audio.")
        rate = int(audio["sample_rate"])
        waveform = audio["waveform"]
        if rate <= 0 or waveform.shape[-1] == 0 or not bool(torch.isfinite(waveform).all()):
            raise InputError("The reference audio is empty or invalid: load a valid audio file.")
        module = host.load(audio_vae.vae)
        with torch.no_grad():
            encoded = module.encode(waveform[:1].to(audio_vae.vae.device, audio_vae.vae.dtype), rate)
        encoded = encoded.to(host.intermediate_device(), torch.float32).expand(latent.audio.shape[0], -1, -1, -1)
        return io.NodeOutput(latent.with_audio_items(ReferenceAudio(encoded, strength)))
