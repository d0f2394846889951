"""`generate`: prompt (+ images / clips) -> an LTX-Video clip, in one pass or the multi-scale two passes.

Defaults follow the official yaml configs: dev 2B 40 steps / 13B 30 steps with `LTXVGuidance.for_model`,
the scheduler of the checkpoint's metadata (SD3 shift, terminal 0.1 when absent); distilled: the fixed
sigma lists of the 0.9.7 / 0.9.8 distilled configs (or, with `steps=`, that many scheduler steps with
stochastic sampling, as 0.9.6 distilled); two passes: first at 2/3 size (dev: 30-step grid without its last 3
steps; distilled: DISTILLED_FIRST_PASS), upsample + AdaIN, second at 2x the first-pass size (dev: the 30-step
grid from step 17, CFG 1 / STG 1 at block 27 for 13B; distilled: DISTILLED_SECOND_PASS), then resize.
"""

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import torch

from ...errors import InputError
from ...pipeline.latents import make_generator, validate_fps, validate_frames
from ...validation import check_seed, check_steps
from .components import LTXVComponents
from .conditioning import LTXVCondition
from .decode import decode_ltxv, has_denoising_decoder
from .denoise import denoise_ltxv
from .guidance import LTXVGuidance
from .multiscale import pass_sizes, resize_frames, upsample_ltxv_latent
from .schedules import DISTILLED_FIRST_PASS, DISTILLED_SECOND_PASS, ltxv_sigmas

DEV_STEPS_2B, DEV_STEPS_13B = 40, 30
MULTISCALE_STEPS, SKIP_FINAL_FIRST, SKIP_INITIAL_SECOND = 30, 3, 17  # 13B dev yaml first / second pass
IMAGE_COND_NOISE_SCALE = 0.15  # official inference CLI default
ImageInput = Tuple[torch.Tensor, int, float]  # (pixels (3, H, W) or (3, n, H, W) in [-1, 1], frame, strength)


@dataclass
class LTXVGeneration:
    video: torch.Tensor  # (3, F, H, W) in [-1, 1]
    fps: float
    latent: torch.Tensor  # (1, C, F', H', W') normalized, before decode

    def save(self, path: str) -> str:
        """Write a video-only clip atomically (.mp4 / .mkv / .webm)."""
        from ...pipeline.video_io import write_video

        return write_video(path, self.video, self.fps, None)


def _encode_images(parts: LTXVComponents, images: Sequence[ImageInput], width: int, height: int,
                   frames: int) -> List[LTXVCondition]:
    """Resize each image / clip to (width, height), cut clips to 8k+1 frames within the video, VAE-encode."""
    out = []
    vae = parts.vae
    param = next(vae.parameters())
    for pixels, frame, strength in images:
        if not isinstance(pixels, torch.Tensor) or pixels.ndim not in (3, 4) or pixels.shape[0] != 3:
            raise InputError("A conditioning image must be (3, H, W) or a clip (3, frames, H, W) in [-1, 1].")
        clip = pixels[:, None] if pixels.ndim == 3 else pixels
        n = min(clip.shape[1], frames - int(frame))
        if n < 1:
            raise InputError(f"Conditioning at frame {frame} lies past the video's {frames} frames.")
        clip = clip[:, :(n - 1) // 8 * 8 + 1]
        c, f, h, w = clip.shape
        if (h, w) != (height, width):
            flat = clip.permute(1, 0, 2, 3).float()
            flat = torch.nn.functional.interpolate(flat, size=(height, width), mode="bilinear", align_corners=False)
            clip = flat.permute(1, 0, 2, 3)
        with torch.no_grad():
            latent = vae.encode(clip[None].to(param.device, param.dtype))
        out.append(LTXVCondition(latent, int(frame), float(strength)))
    return out


def _check_allowed(parts: LTXVComponents, sigmas: torch.Tensor) -> None:
    """A distilled file's `allowed_inference_steps` (official check: every timestep, rounded to 4 decimals)."""
    allowed = parts.allowed_sigmas
    if allowed is None:
        return
    bad = [round(float(s), 4) for s in sigmas if round(float(s), 4) not in {round(a, 4) for a in allowed}]
    if bad:
        raise InputError(f"This distilled checkpoint only allows the timesteps {list(allowed)}; {bad} are not among "
                         "them: leave steps unset to use its sigma list.")


def _pass(parts, latent_shape, images, sigmas, positive, negative, guidance, generator, fps, stochastic,
          cond_noise, callback, offset, total, initial=None, pixel_size=None, frames=None):
    width, height = pixel_size
    cond = _encode_images(parts, images, width, height, frames)

    def report(step, n, x0):
        if callback is not None:
            callback(offset + step, total, x0)

    return denoise_ltxv(parts.transformer, latent_shape, cond, sigmas, positive, negative, guidance,
                        generator=generator, frame_rate=fps, stochastic=stochastic, initial_latent=initial,
                        cond_noise_scale=cond_noise if cond else 0.0, callback=report)


def generate(parts: LTXVComponents, prompt: str, *, negative_prompt: str = "", width: int = 704, height: int = 480,
             frames: int = 97, fps: float = 25.0, steps: Optional[int] = None, seed: int = 0,
             guidance: Optional[LTXVGuidance] = None, images: Sequence[ImageInput] = (), two_pass: bool = False,
             sigmas: Optional[Sequence[float]] = None, stochastic: Optional[bool] = None,
             cond_noise_scale: float = IMAGE_COND_NOISE_SCALE, decode_timestep: Optional[float] = None,
             decode_noise_scale: Optional[float] = None, tone_map_compression: float = 0.0,
             callback: Optional[Callable[[int, int, torch.Tensor], None]] = None) -> LTXVGeneration:
    """One clip (3, frames, height, width). images: [(pixels, pixel frame, strength)]; two_pass needs
    `parts.upsampler` (spatial x2: any size, the output is resized; temporal x2: an odd latent frame count)."""
    validate_frames(frames)
    validate_fps(fps)
    check_seed(seed, 1, "seed")
    check_steps(steps, "steps")
    model, vae = parts.transformer, parts.vae
    layers = model.config.num_layers
    if not has_denoising_decoder(vae) and (decode_timestep is not None or decode_noise_scale is not None):
        raise InputError(f"This LTX-Video {vae.version} VAE has no denoising decoder: drop the decode timestep "
                         "and noise scale, or use a 0.9.1+ VAE.")
    spatial = True
    if two_pass:
        if parts.upsampler is None:
            raise InputError("Two-pass (multi-scale) generation needs the latent upsampler: load it with "
                             "upsampler=PATH, or generate in one pass.")
        spatial = bool(parts.upsampler.config.spatial_upsample)
    if not two_pass or not spatial:
        for name, side in (("width", width), ("height", height)):
            if side % 32 or side < 32:
                raise InputError(f"{name} {side} must be a multiple of 32 (at least 32) for LTX-Video.")
    param = next(model.parameters())
    device = param.device
    generator = make_generator(seed, device)
    with torch.no_grad():
        positive = parts.text_encoder.encode([prompt], device=device)
        negative = parts.text_encoder.encode([negative_prompt], device=device)
    dtype = param.dtype if param.dtype.is_floating_point else torch.float32
    positive = (positive[0].to(dtype), positive[1])
    negative = (negative[0].to(dtype), negative[1])
    channels, lat_frames = model.config.in_channels, (frames - 1) // 8 + 1
    stochastic = bool(parts.distilled and steps is not None) if stochastic is None else bool(stochastic)
    guide1 = guidance or LTXVGuidance.for_model(layers, distilled=parts.distilled)
    if not two_pass:
        shape = (1, channels, lat_frames, height // 32, width // 32)
        if sigmas is None and parts.distilled and steps is None:
            sigmas = DISTILLED_FIRST_PASS
        sig = ltxv_sigmas(steps or (DEV_STEPS_13B if layers >= 48 else DEV_STEPS_2B), shape[2:], sigmas=sigmas,
                          scheduler=parts.scheduler)
        _check_allowed(parts, sig)
        latent = _pass(parts, shape, images, sig, positive, negative, guide1, generator, fps, stochastic,
                       cond_noise_scale, callback, 0, len(sig), pixel_size=(width, height), frames=frames)
        out_size = (width, height)
    else:
        latent, out_size = _two_pass(parts, images, width, height, frames, lat_frames, steps, spatial, positive,
                                     negative, guidance, generator, fps, stochastic, cond_noise_scale, callback)
    pixels = decode_ltxv(vae, latent.to(next(vae.parameters()).dtype), timestep=decode_timestep,
                         noise_scale=decode_noise_scale, generator=generator, tone_map_compression=tone_map_compression)
    pixels = resize_frames(pixels.float(), *out_size) if two_pass else pixels.float()
    return LTXVGeneration(pixels[0, :, :frames].cpu(), float(fps), latent)


def _two_pass(parts, images, width, height, frames, lat_frames, steps, spatial, positive, negative, guidance,
              generator, fps, stochastic, cond_noise, callback):
    model = parts.transformer
    layers, channels = model.config.num_layers, model.config.in_channels
    sizes = pass_sizes(width, height, spatial)
    (w1, h1), (w2, h2) = sizes.first, sizes.second
    if spatial:
        f1 = f2 = lat_frames
    else:
        if lat_frames % 2 == 0:
            raise InputError(f"{frames} frames give {lat_frames} latent frames; the temporal upsampler needs an odd "
                             "count (frames = 16k + 1).")
        f1, f2 = (lat_frames + 1) // 2, lat_frames
    shape1, shape2 = (1, channels, f1, h1 // 32, w1 // 32), (1, channels, f2, h2 // 32, w2 // 32)
    if parts.distilled and steps is None:
        sig1, sig2 = ltxv_sigmas(sigmas=DISTILLED_FIRST_PASS), ltxv_sigmas(sigmas=DISTILLED_SECOND_PASS)
    else:
        n = steps or MULTISCALE_STEPS
        skip_final, skip_initial = min(SKIP_FINAL_FIRST, n - 1), min(SKIP_INITIAL_SECOND * n // 30, n - 1)
        sig1 = ltxv_sigmas(n, shape1[2:], skip_final=skip_final, scheduler=parts.scheduler)
        sig2 = ltxv_sigmas(n, shape2[2:], skip_initial=skip_initial, scheduler=parts.scheduler)
    _check_allowed(parts, sig1)
    _check_allowed(parts, sig2)
    guide1 = guidance or LTXVGuidance.for_model(layers, distilled=parts.distilled)
    guide2 = guidance or LTXVGuidance.for_model(layers, distilled=parts.distilled, second_pass=True)
    total = len(sig1) + len(sig2)
    frames1 = (f1 - 1) * 8 + 1
    first_images = [(p, fr, s) for p, fr, s in images if fr < frames1] if not spatial else images
    if not spatial and any(fr % 2 for _, fr, _ in first_images):
        raise InputError("With the temporal upsampler, conditioning frames must be even (the first pass runs at "
                         "half the frame count).")
    first_images = [(p, fr // 2, s) for p, fr, s in first_images] if not spatial else first_images
    latent1 = _pass(parts, shape1, first_images, sig1, positive, negative, guide1, generator, fps / (1 if spatial
                    else 2), stochastic, cond_noise, callback, 0, total, pixel_size=(w1, h1), frames=frames1)
    up = upsample_ltxv_latent(latent1, parts.upsampler, parts.vae)
    latent2 = _pass(parts, shape2, images, sig2, positive, negative, guide2, generator, fps, stochastic, cond_noise,
                    callback, len(sig1), total, initial=up, pixel_size=(w2, h2), frames=frames)
    return latent2, (width, height)
