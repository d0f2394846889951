"""Decode nodes: video latent -> IMAGE frames, audio latent -> AUDIO, both the clip's exact duration."""

import logging

import torch
from comfy_api.latest import io

from ..ltx2_core.validation import SEED_LIMIT
from . import family, host
from .types import AudioVAE, AVLatent, VideoVAE

CATEGORY = "LTX2/decode"
DECODE_TIMESTEP = 0.05  # the official LTX-Video 0.9.1+ pipeline defaults
DECODE_NOISE_SCALE = 0.025


def has_denoising_decoder(vae: host.Network) -> bool:
    """Whether the VAE's decoder is timestep-conditioned (LTX-Video 0.9.1+)."""
    return vae.family == family.LTXV and bool(getattr(vae.config, "timestep_conditioning", False))


def has_diffusion_decoder(vae: host.Network) -> bool:
    """Whether the VAE decodes with the LTX-2.5 diffusion decoder (seeded pixel noise)."""
    from ..ltx2_core.video_vae.diffusion_decoder.vae import DiffusionVAEConfig

    return isinstance(vae.config, DiffusionVAEConfig)


def decode_video(vae: host.Network, latent, tiled: bool, tile_size: int, tile_overlap: int,
                 chunk_frames: int, chunk_overlap: int, seed: int = 0, decode_timestep: float = DECODE_TIMESTEP,
                 decode_noise_scale: float = DECODE_NOISE_SCALE) -> torch.Tensor:
    """IMAGE (B*F, H, W, 3) in [0, 1] of the video latent, frames of all batch items in order. A denoising
    decoder (LTX-Video 0.9.1+) decodes at `decode_timestep` after mixing in `decode_noise_scale` noise."""
    from ..ltx2_core.validation import check_finite
    from ..ltx2_core.video_vae import TilingConfig

    tiling = TilingConfig(tile_size_px=tile_size, tile_overlap_px=tile_overlap, chunk_frames=chunk_frames,
                          chunk_overlap_frames=chunk_overlap) if tiled else None
    module = host.load(vae)
    generator = torch.Generator(device=vae.device).manual_seed(seed)
    extra = {}
    if has_denoising_decoder(vae):
        extra = dict(timestep=float(decode_timestep), noise_scale=float(decode_noise_scale))
    chunks = []
    with torch.no_grad():
        for chunk in module.decode_iter(latent.video.to(vae.device, vae.dtype), tiling=tiling, generator=generator,
                                        **extra):
            host.check_interrupt()
            check_finite(chunk, "Video decoding")
            chunks.append(chunk.to(host.intermediate_device(), torch.float32))
    pixels = torch.cat(chunks, dim=2)[:, :, : latent.frames]  # (B, 3, F, H, W)
    images = ((pixels + 1.0) / 2.0).clamp(0.0, 1.0)
    return images.permute(0, 2, 3, 4, 1).reshape(-1, images.shape[3], images.shape[4], 3).contiguous()


def decode_audio(audio_vae, latent) -> dict:
    """AUDIO {'waveform': (B, C, N), 'sample_rate'} of the audio latent, exactly the clip's duration."""
    from ..ltx2_core.audio import decode_to_waveform
    from ..ltx2_core.validation import check_finite

    vae, vocoder = host.load_together(audio_vae.vae, audio_vae.vocoder)
    with torch.no_grad():
        waveform, sample_rate = decode_to_waveform(latent.audio.to(audio_vae.vae.device, audio_vae.vae.dtype), vae,
                                                   vocoder, duration_seconds=latent.seconds)
    check_finite(waveform, "Audio decoding")
    return {"waveform": waveform.to(host.intermediate_device(), torch.float32), "sample_rate": int(sample_rate)}


def tiling_inputs() -> list:
    """The tile / chunk inputs of the video decode nodes (pixels and frames; `TilingConfig`'s fields)."""
    return [
        io.Int.Input("tile_size", default=512, min=64, max=4096, step=32,
                     tooltip="Spatial tile edge in pixels: square tiles, as ComfyUI's tiled decode cuts them."),
        io.Int.Input("tile_overlap", default=64, min=0, max=2048, step=32,
                     tooltip="Overlap between spatial tiles in pixels."),
        io.Int.Input("chunk_frames", default=64, min=16, max=4096, step=8, tooltip="Frames decoded per temporal chunk."),
        io.Int.Input("chunk_overlap", default=24, min=0, max=4096, step=8,
                     tooltip="Overlap between temporal chunks in frames."),
    ]


class LTX2VideoDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2VideoDecode",
            display_name="LTX2 Video Decode",
            category=CATEGORY,
            description="Decodes the video latent to frames (IMAGE) and outputs the clip's fps for 'Create Video'.",
            inputs=[
                VideoVAE.Input("video_vae", tooltip="Video VAE from a loader."),
                AVLatent.Input("latent", tooltip="Sampled audio-video latent."),
                io.Boolean.Input("tiled", default=True, tooltip="Decode in overlapping tiles and chunks to save memory."),
                *tiling_inputs(),
                io.Float.Input("decode_timestep", default=DECODE_TIMESTEP, min=0.0, max=1.0, step=0.005,
                               tooltip="Denoising decoder (LTX-Video 0.9.1+ VAEs): the timestep it decodes at. "
                                       "Ignored by VAEs without one (LTX-2, LTX-Video 0.9.0)."),
                io.Float.Input("decode_noise_scale", default=DECODE_NOISE_SCALE, min=0.0, max=1.0, step=0.005,
                               tooltip="Denoising decoder: how much noise is mixed into the latent before decoding "
                                       "(official default 0.025). Ignored by VAEs without one."),
                io.Int.Input("seed", default=0, min=0, max=SEED_LIMIT - 1, optional=True,
                             tooltip="LTX-2.5 diffusion VAE: seed of the pixel noise its one-step decoder starts from "
                                     "(same seed, same frames). Ignored by the other VAEs."),
            ],
            outputs=[io.Image.Output(display_name="images"), io.Float.Output(display_name="fps")],
        )

    @classmethod
    def execute(cls, video_vae, latent, tiled=True, tile_size=512, tile_overlap=64, chunk_frames=64, chunk_overlap=24,
                decode_timestep=DECODE_TIMESTEP, decode_noise_scale=DECODE_NOISE_SCALE, seed=0):
        kind = family.same_family({"video_vae": video_vae, "latent": latent}, "LTX2 Video Decode")
        note = ""
        if has_denoising_decoder(video_vae):
            note = f", denoising decode at timestep {decode_timestep}, noise {decode_noise_scale}"
        elif has_diffusion_decoder(video_vae):
            note = f", LTX-2.5 diffusion decoder, seed {seed}"
        logging.info("LTX2 Video Decode: %s VAE%s", family.NAMES[kind if kind != family.ANY else video_vae.family],
                     note)
        images = decode_video(video_vae, latent, tiled, tile_size, tile_overlap, chunk_frames, chunk_overlap,
                              seed=seed, decode_timestep=decode_timestep, decode_noise_scale=decode_noise_scale)
        return io.NodeOutput(images, float(latent.fps))


class LTX2AudioDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LTX2AudioDecode",
            display_name="LTX2 Audio Decode",
            category=CATEGORY,
            description="Decodes the audio latent with the audio VAE and vocoder to AUDIO, cut to the video's duration.",
            inputs=[
                AudioVAE.Input("audio_vae", tooltip="Audio VAE + vocoder from a loader."),
                AVLatent.Input("latent", tooltip="Sampled audio-video latent."),
            ],
            outputs=[io.Audio.Output(display_name="audio")],
        )

    @classmethod
    def execute(cls, audio_vae, latent):
        from ..ltx2_core.errors import InputError

        if audio_vae is None or latent.family == family.LTXV:
            raise InputError("LTX2 Audio Decode needs an LTX-2 model: LTX-Video 0.9.x makes video only. Remove it and "
                             "save the frames of 'LTX2 Video Decode' with 'Create Video' (no audio).")
        return io.NodeOutput(decode_audio(audio_vae, latent))
