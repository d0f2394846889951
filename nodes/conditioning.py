"""Conditioning nodes: images/keyframes, video continuation and audio (audio-to-video). All chain."""

import dataclasses
import logging
from typing import Any

import torch
import torch.nn.functional as F
from comfy_api.latest import io

from ..ltx2_core.validation import check_pixels, check_strength
from . import host, params
from .types import AudioVAE, AVLatent, ImageCondition, VideoVAE

CATEGORY = "LTX2/conditioning"


def fit_images(images: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """IMAGE (N, H, W, 3) in [0, 1] -> pixels (1, 3, N, height, width) in [-1, 1], centre-cropped to the aspect."""
    x = images[..., :3].movedim(-1, 1).float()  # (N, 3, H, W)
    h, w = x.shape[2:]
    scale = max(height / h, width / w)
    new_h, new_w = max(height, round(h * scale)), max(width, round(w * scale))
    x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    x = x[:, :, top:top + height, left:left + width]
    return (x * 2.0 - 1.0).clamp(-1.0, 1.0).movedim(0, 1).unsqueeze(0)  # (1, 3, N, H, W)


def encode_pixels(vae: host.Network, pixels: torch.Tensor) -> torch.Tensor:
    """Pixels (B, 3, N, H, W) in [-1, 1] -> normalized latent (B, C, F', H/32, W/32) on the intermediate device."""
    module = host.load(vae)
    with torch.no_grad():
        latent = module.encode(pixels.to(vae.device, vae.dtype))
    return latent.to(host.intermediate_device(), torch.float32)


@dataclasses.dataclass(frozen=True)
class KeyframeSlots:
    """Generated keyframe slots ('LTX2 Generated Keyframes') for a latent of `height` x `width` latents: applied
    by the sampler of that size, dropped after upscaling (the official pipelines use them in stage 1 only)."""

    item: Any  # ltx2_core.pipeline.keyframe_slots.GeneratedKeyframes
    height: int
    width: int


def resolve_items(latent):
    """ltx2_core conditioning items for the latent's current size (pending image conditions encoded now)."""
    from ..ltx2_core.errors import InputError
    from ..ltx2_core.pipeline.conditioning import Keyframe, ReplaceFrames
    from ..ltx2_core.pipeline.reference import ReferenceVideo

    resolved, references = [], []  # IC-LoRA reference tokens go last, as in the official pipeline
    for item in latent.items:
        if isinstance(item, KeyframeSlots):
            if (item.height, item.width) != tuple(latent.video.shape[3:]):
                logging.info("LTX2: generated keyframes dropped on the upscaled latent (official: stage 1 only)")
            else:
                resolved.append(item.item)
            continue
        if isinstance(item, ReferenceVideo):
            if item.latent.shape[3] * item.downscale_factor != latent.video.shape[3]:
                logging.info("IC-LoRA reference dropped on the upscaled latent (official: stage 2 runs without it)")
            else:
                references.append(item)
            continue
        if not isinstance(item, ImageCondition):
            resolved.append(item)
            continue
        host.check_interrupt()
        images = item.images
        if item.mode == "in_place":
            usable = (images.shape[0] - 1) // 8 * 8 + 1  # longest 8k+1 tail of the clip
            images = images[images.shape[0] - usable:]
        else:
            images = images[:1]
        pixels = fit_images(images, latent.width, latent.height)
        encoded = encode_pixels(item.vae, pixels).expand(latent.video.shape[0], -1, -1, -1, -1)
        index = item.frame_index if item.frame_index >= 0 else latent.frames + item.frame_index
        if index < 0 or index >= latent.frames:
            raise InputError(
                f"frame_index {item.frame_index} is outside the {latent.frames}-frame clip: use 0..{latent.frames - 1} "
                f"or -1..-{latent.frames}."
            )
        if item.mode == "in_place" or index == 0:
            resolved.append(ReplaceFrames(latent=encoded, strength=item.strength, latent_index=(index + 7) // 8))
        else:
            resolved.append(Keyframe(latent=encoded, frame_index=index, strength=item.strength))
    return tuple(resolved + references)


_STRENGTH_TOOLTIP = "1 keeps the frame exactly; lower values let the model change it."


class LTX2ImageConditioning(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2ImageConditioning",
            display_name="LTX2 Image / Keyframe Conditioning",
            category=CATEGORY,
            description="Pins an image at a frame: frame 0 gives image-to-video, other frames add keyframes "
                        "(e.g. first + last). Chain several.",
            inputs=[
                AVLatent.Input("latent", tooltip="Latent to condition (from Empty Latent or another conditioning node)."),
                VideoVAE.Input("video_vae", tooltip="Video VAE used to encode the image."),
                io.Image.Input("image", tooltip="The image; it is resized and centre-cropped to the video size."),
                io.Int.Input("frame_index", default=0, min=-params.MAX_FRAMES, max=params.MAX_FRAMES - 1,
                             tooltip="Pixel frame the image pins: 0 = first frame, -1 = last frame."),
                io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.01, tooltip=_STRENGTH_TOOLTIP),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, latent, video_vae, image, frame_index=0, strength=1.0):
        check_strength(strength)
        check_pixels(image[:1], "image", low=0.0, high=1.0)
        return io.NodeOutput(latent.with_items(ImageCondition(image[:1].clone(), video_vae, frame_index, strength)))


class LTX2VideoContinuation(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2VideoContinuation",
            display_name="LTX2 Video Continuation",
            category=CATEGORY,
            description="Continues a clip: its last 8k+1 frames become the start of the new video.",
            inputs=[
                AVLatent.Input("latent", tooltip="Latent of the new clip; must be longer than the frames given."),
                VideoVAE.Input("video_vae", tooltip="Video VAE used to encode the frames."),
                io.Image.Input("images", tooltip="Frames of the previous clip (the last 8k+1 are used)."),
                io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.01, tooltip=_STRENGTH_TOOLTIP),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, latent, video_vae, images, strength=1.0):
        check_strength(strength)
        check_pixels(images, "images", low=0.0, high=1.0)
        return io.NodeOutput(latent.with_items(ImageCondition(images.clone(), video_vae, 0, strength, "in_place")))


class LTX2AudioConditioning(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2AudioConditioning",
            display_name="LTX2 Audio Conditioning",
            category=CATEGORY,
            description="Audio-to-video: the given audio is encoded and kept fixed while the video is generated to match it.",
            inputs=[
                AVLatent.Input("latent", tooltip="Latent to condition."),
                AudioVAE.Input("audio_vae", tooltip="Audio VAE (with its encoder) used to encode the audio."),
                io.Audio.Input("audio", tooltip="Driving audio; at least as long as the clip (extra audio is cut)."),
                io.Float.Input("start_seconds", default=0.0, min=0.0, max=3600.0, step=0.1,
                               tooltip="Where in the audio the clip starts."),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, latent, audio_vae, audio, start_seconds=0.0):
        from ..ltx2_core.pipeline.conditioning import FrozenAudio

        from ..ltx2_core.errors import InputError

        if audio_vae is None:
            raise InputError("LTX2 Audio Conditioning needs an LTX-2 audio VAE: LTX-Video 0.9.x has no audio. Remove "
                             "it, or load an LTX-2 checkpoint.")
        rate = int(audio["sample_rate"])
        total = audio["waveform"].shape[-1]
        if rate <= 0 or not bool(torch.isfinite(audio["waveform"]).all()):
            raise InputError("The audio has an invalid sample rate or NaN/Inf samples: load a valid audio file.")
        if not 0.0 <= start_seconds < total / rate:
            raise InputError(f"start_seconds {start_seconds} is past the end of the {total / rate:.2f}-second audio: "
                             "use a smaller start.")
        waveform = audio["waveform"][..., int(round(start_seconds * rate)):]
        module = host.load(audio_vae.vae)
        with torch.no_grad():
            encoded = module.encode(waveform.to(audio_vae.vae.device, audio_vae.vae.dtype), rate)
        encoded = encoded.to(host.intermediate_device(), torch.float32)
        if encoded.shape[0] != latent.audio.shape[0]:
            encoded = encoded[:1].expand(latent.audio.shape[0], -1, -1, -1)
        return io.NodeOutput(latent.with_audio_items(FrozenAudio(latent=encoded)))


class LTX2GeneratedKeyframes(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2GeneratedKeyframes",
            display_name="LTX2 Generated Keyframes",
            category=CATEGORY,
            description="LTX-2.5: the model also generates sharp single frames at evenly spaced interior frames and "
                        "the clip follows them (finer motion there). Each costs one latent frame of tokens; the "
                        "clip keeps its length. Applied by the sampler of this latent's size (stage 1), dropped "
                        "after upscaling.",
            inputs=[
                AVLatent.Input("latent", tooltip="Latent to sample (an LTX-2.5 model is needed)."),
                io.Int.Input("count", default=2, min=1, max=params.MAX_FRAMES - 2,
                             tooltip="Generated keyframes, spread evenly between the first and last frame "
                                     "(official --num-generated-keyframes)."),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, latent, count=2):
        from ..ltx2_core.pipeline.keyframe_slots import GeneratedKeyframes, evenly_spaced_keyframes

        frames = evenly_spaced_keyframes(count, latent.frames)
        slots = KeyframeSlots(GeneratedKeyframes(frames), *latent.video.shape[3:])
        logging.info("LTX2 Generated Keyframes: frames %s", ", ".join(str(k) for k in frames))
        return io.NodeOutput(latent.with_items(slots))
