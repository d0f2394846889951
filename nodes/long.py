"""Long-clip nodes: extend a sampled segment (the next segment's conditioned latent) and join decoded segments.

    Sampler -> latent A -> LTX2 Extend -> Sampler (new prompt) -> latent B -> ... ; decode each, then
    LTX2 Join Segments (A, B) -> Create Video. The mechanics are ltx2_core.pipeline.extend (docs/long_clips.md).
"""

import torch
from comfy_api.latest import io

from . import family, host, params
from .types import AVLatent, AVLatentValue

_OVERLAP_TOOLTIP = ("Frames the new segment repeats from the end of the previous one, 8k+1 (1, 9, 17, 25, ...); "
                    "they are kept exactly (video and the audio of the same span). Use the same value in "
                    "'LTX2 Join Segments'.")


def extend_latent(previous: AVLatentValue, frames: int, overlap_frames: int) -> AVLatentValue:
    """The next segment's latent: zeros of `frames` frames whose first latents are pinned to the previous
    segment's last video latents and the audio latents of the same time span (denoise mask 0)."""
    from ..ltx2_core.errors import InputError
    from ..ltx2_core.pipeline.conditioning import ReplaceFrames
    from ..ltx2_core.pipeline.extend import overlap_latent_frames, tail_conditioning
    from ..ltx2_core.pipeline.latents import latent_shape

    if previous.family == family.LTXV:
        raise InputError("LTX2 Extend needs an LTX-2 latent (video and audio): LTX-Video 0.9.x latents have no "
                         "audio. Use an LTX-2 model.")
    overlap_latent_frames(overlap_frames, "overlap_frames")
    if overlap_frames >= frames:
        raise InputError(f"overlap_frames {overlap_frames} is not shorter than the new segment ({frames} frames): "
                         "use fewer overlap frames or more frames.")
    if previous.frames < overlap_frames:
        raise InputError(f"The previous segment ({previous.frames} frames) is shorter than the overlap "
                         f"({overlap_frames} frames): use fewer overlap frames.")
    video, audio = previous.video, previous.audio
    shape = latent_shape(previous.width, previous.height, frames, previous.fps, batch=video.shape[0],
                         video_channels=video.shape[1], audio_channels=audio.shape[1], audio_mel_bins=audio.shape[3])
    video_item, audio_item = tail_conditioning(video, audio, overlap_frames, previous.fps)
    return AVLatentValue(
        video=torch.zeros(shape.video, device=video.device), audio=torch.zeros(shape.audio, device=audio.device),
        frames=frames, fps=previous.fps, width=previous.width, height=previous.height,
        items=(ReplaceFrames(video_item.latent),), audio_items=(audio_item,), family=previous.family,
    )


def join_segments(images, audio, next_images, next_audio, overlap_frames: int, fps: float):
    """(IMAGE, AUDIO) of the clip so far + the next decoded segment, its first `overlap_frames` dropped and the
    audio cut on the video clock (exactly round(frames / fps * rate) samples in the result)."""
    from ..ltx2_core.errors import InputError
    from ..ltx2_core.pipeline.extend import overlap_latent_frames, stitch_audio

    overlap_latent_frames(overlap_frames, "overlap_frames")
    if next_images.shape[0] <= overlap_frames:
        raise InputError(f"The next segment has {next_images.shape[0]} frames, not more than the overlap "
                         f"({overlap_frames}): use the overlap_frames of its 'LTX2 Extend'.")
    if tuple(images.shape[1:]) != tuple(next_images.shape[1:]):
        raise InputError(f"The segments have different sizes ({images.shape[2]}x{images.shape[1]} and "
                         f"{next_images.shape[2]}x{next_images.shape[1]}): decode them at one size.")
    rate = int(audio["sample_rate"])
    if int(next_audio["sample_rate"]) != rate:
        raise InputError(f"The segments' audio rates differ ({rate} and {next_audio['sample_rate']} Hz): decode both "
                         "with the same audio VAE.")
    frames, new = images.shape[0], next_images.shape[0] - overlap_frames
    first = stitch_audio(audio["waveform"], rate, fps, 0, 0, frames)  # (B, C, N) on the clock
    second = stitch_audio(next_audio["waveform"], rate, fps, frames, overlap_frames, new)
    joined = torch.cat([images, next_images[overlap_frames:]], dim=0)
    return joined, {"waveform": torch.cat([first, second.to(first.dtype)], dim=-1), "sample_rate": rate}


class LTX2Extend(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2Extend",
            display_name="LTX2 Extend",
            category="LTX2/conditioning",
            description="Next segment of a long clip: an empty latent whose first frames (video and the matching "
                        "audio) are the previous segment's last ones, kept exactly. Sample it with its own prompt, "
                        "then join the decoded segments with 'LTX2 Join Segments'.",
            inputs=[
                AVLatent.Input("previous", tooltip="Sampled latent of the previous segment (from 'LTX2 Sampler')."),
                io.Int.Input("frames", default=121, min=9, max=params.MAX_FRAMES, step=8,
                             tooltip="Frames of the new segment, 8k+1, including the overlap frames."),
                io.Int.Input("overlap_frames", default=25, min=1, max=params.MAX_FRAMES - 8, step=8,
                             tooltip=_OVERLAP_TOOLTIP),
            ],
            outputs=[AVLatent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, previous, frames=121, overlap_frames=25):
        return io.NodeOutput(extend_latent(previous, frames, overlap_frames))


class LTX2JoinSegments(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2JoinSegments",
            display_name="LTX2 Join Segments",
            category="LTX2/conditioning",
            description="Appends a decoded segment to the clip so far, without its repeated first frames; the audio "
                        "stays in sync to the sample. Chain one per extension.",
            inputs=[
                io.Image.Input("images", tooltip="Frames of the clip so far (the first segment, or a previous join)."),
                io.Audio.Input("audio", tooltip="Audio of the clip so far."),
                io.Image.Input("next_images", tooltip="Decoded frames of the next segment (from 'LTX2 Extend')."),
                io.Audio.Input("next_audio", tooltip="Decoded audio of the next segment."),
                io.Int.Input("overlap_frames", default=25, min=1, max=params.MAX_FRAMES - 8, step=8,
                             tooltip="The overlap_frames of the next segment's 'LTX2 Extend'."),
                io.Float.Input("fps", default=24.0, min=1.0, max=240.0, step=1.0, force_input=True,
                               tooltip="Frame rate of the clip: connect the fps output of 'LTX2 Video Decode'."),
            ],
            outputs=[io.Image.Output(display_name="images"), io.Audio.Output(display_name="audio")],
        )

    @classmethod
    def execute(cls, images, audio, next_images, next_audio, overlap_frames=25, fps=24.0):
        host.check_interrupt()
        return io.NodeOutput(*join_segments(images, audio, next_images, next_audio, overlap_frames, fps))
