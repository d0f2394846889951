"""Video-to-audio node: sound for frames the user already has (ltx2_core.pipeline.video_to_audio).

The frames are VAE-encoded into a latent whose video stream is frozen (`FrozenVideo`: never noised, sigma 0 in
every step); 'LTX2 Sampler' then generates only the audio and 'LTX2 Audio Decode' cuts it to frames / fps. The
frames and the fps come out unchanged, for 'Create Video' (they are never decoded from the latent).
"""

import torch
from comfy_api.latest import io

from ..ltx2_core.validation import MAX_FPS, MIN_FPS, check_fps, check_pixels
from . import family, host
from .conditioning import encode_pixels, fit_images
from .types import AVLatent, AVLatentValue, VideoVAE

CATEGORY = "LTX2/conditioning"


def frozen_video_latent(video_vae, images: torch.Tensor, fps: float, width: int = 0, height: int = 0) -> AVLatentValue:
    """The AV latent of video-to-audio: images (N, H, W, 3) in [0, 1] padded to 8k + 1 frames with the last one,
    fitted to width x height (0: the frames' size rounded down to multiples of 32) and encoded; the audio latent
    (zeros, to be generated) lasts N / fps seconds."""
    from ..ltx2_core.audio import audio_latent_frames
    from ..ltx2_core.errors import InputError
    from ..ltx2_core.pipeline.conditioning import FrozenVideo
    from ..ltx2_core.pipeline.latents import validate_resolution
    from ..ltx2_core.pipeline.video_to_audio import encode_size, padded_frames

    if video_vae is None:
        raise InputError("LTX2 Video to Audio needs the video VAE: connect the VAE of the LTX-2 checkpoint.")
    family.require(video_vae, family.LTX2, "LTX2 Video to Audio",
                   "connect the video VAE of an LTX-2 checkpoint (LTX-Video 0.9.x makes no audio).")
    check_fps(fps)
    if images.ndim != 4 or images.shape[0] < 2:
        raise InputError(f"LTX2 Video to Audio needs a video (2 frames or more), got {images.shape[0]} frame(s): "
                         "connect the frames of a video, e.g. from 'Get Video Components'.")
    check_pixels(images, "images", low=0.0, high=1.0)
    count = images.shape[0]
    default = encode_size(images.shape[2], images.shape[1])
    width, height = width or default[0], height or default[1]
    validate_resolution(width, height)
    extra = padded_frames(count) - count
    frames = torch.cat([images, images[-1:].expand(extra, -1, -1, -1)]) if extra else images
    host.check_interrupt()
    latent = encode_pixels(video_vae, fit_images(frames, width, height))  # (1, C, F', H/32, W/32)
    audio = torch.zeros(1, 8, audio_latent_frames(count, fps), 16, device=latent.device)
    return AVLatentValue(video=latent, audio=audio, frames=count, fps=float(fps), width=width, height=height,
                         items=(FrozenVideo(latent=latent),))


class LTX2VideoToAudio(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2VideoToAudio",
            display_name="LTX2 Video to Audio",
            category=CATEGORY,
            description="Video-to-audio: encodes your frames and keeps them fixed (never denoised) while 'LTX2 "
                        "Sampler' generates audio that follows them and the prompt. Connect its images and fps "
                        "to 'Create Video': your frames are saved untouched with the new audio.",
            inputs=[
                VideoVAE.Input("video_vae", tooltip="Video VAE (with its encoder) of the LTX-2 checkpoint."),
                io.Image.Input("images", tooltip="The video's frames (e.g. from 'Get Video Components'); any count: "
                                                 "other than 8k+1 the last frame is repeated for the encoder only."),
                io.Float.Input("fps", default=24.0, min=MIN_FPS, max=MAX_FPS, step=0.001,
                               tooltip="The video's frame rate (connect 'Get Video Components' fps); the audio "
                                       "lasts frames / fps seconds."),
                io.Int.Input("width", default=0, min=0, max=8192, step=32,
                             tooltip="Width the frames are encoded at (a multiple of 32); 0 = the frames' width "
                                     "rounded down to a multiple of 32. The saved frames keep their own size."),
                io.Int.Input("height", default=0, min=0, max=8192, step=32,
                             tooltip="Height the frames are encoded at (a multiple of 32); 0 = the frames' height "
                                     "rounded down to a multiple of 32."),
            ],
            outputs=[AVLatent.Output(display_name="latent"), io.Image.Output(display_name="images"),
                     io.Float.Output(display_name="fps")],
        )

    @classmethod
    def execute(cls, video_vae, images, fps=24.0, width=0, height=0):
        latent = frozen_video_latent(video_vae, images, fps, width, height)
        return io.NodeOutput(latent, images, float(fps))

