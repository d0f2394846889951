"""LTX-Video conditioning: images, clips and keyframes as latent tokens with a per-token strength.

Two styles (chosen per model, see `denoise_ltxv(first_frame_replace=)`):
- 0.9.5+ (official `LTXVideoPipeline.prepare_conditioning`): an item at frame 0 is blended into the initial
  latent in place, `lerp(x, z, strength)`, mask = strength; an item elsewhere is appended as extra tokens
  (`lerp(eps, z, strength)`, prepended to the sequence, positioned at its pixel frame); a clip at a later
  frame puts its first two latent frames in extra tokens and the rest in place. The step's per-token timestep
  is `min(t, 1 - mask)` and a token moves only while `t <= 1 - mask`.
- 0.9.0 / 0.9.1 first-frame replacement (the original image-to-video, diffusers `LTXImageToVideoPipeline`):
  conditioned tokens (frame 0, and keyframe tokens placed as above) start as `lerp(eps, z, strength)`, see
  timestep `t (1 - mask)`, and after every step are reset to `lerp(x, z, mask)`, so a hard (strength 1)
  image never changes.
Latents are *normalized* VAE latents (B or 1, C, f, h, w) at the generated latent's height and width.
"""

from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch

from ...errors import InputError
from ...validation import check_strength
from ..transformer.positions import VAE_SCALE_FACTORS, video_positions

PREFIX_LATENT_FRAMES = 2  # official `_handle_non_first_conditioning_sequence` num_prefix_latent_frames


@dataclass(frozen=True)
class LTXVCondition:
    """A conditioning latent (B or 1, C, f, h, w) placed at pixel frame `frame` with `strength` in [0, 1].

    f = 1: an image (frame 0: image-to-video; later: a keyframe); f > 1 at frame 0: video extension
    (continue a clip); f > 1 later (frame a multiple of 8): a clip in the middle or at the end."""
    latent: torch.Tensor
    frame: int = 0
    strength: float = 1.0


@dataclass
class TokenState:
    """Patchified tokens being denoised: x (B, N, C) = [extra conditioning tokens, video tokens]."""
    x: torch.Tensor
    positions: torch.Tensor  # (B, 3, N), time in seconds
    mask: Optional[torch.Tensor]  # (B, N) conditioning strength, None without conditioning
    extra: int  # leading extra tokens (removed before decode)
    clean: torch.Tensor  # (B, N, C) the tokens right after conditioning (image_cond_noise_scale reference)
    replace: Optional[torch.Tensor] = None  # (B, N, C) clean values replacement mode blends toward (by mask)

    def video_tokens(self) -> torch.Tensor:
        return self.x[:, self.extra:]


def patchify(latent: torch.Tensor) -> torch.Tensor:
    """(B, C, F, H, W) -> (B, F*H*W, C), frame-major (patch size 1)."""
    return latent.flatten(2).transpose(1, 2)


def unpatchify(tokens: torch.Tensor, frames: int, height: int, width: int) -> torch.Tensor:
    """(B, F*H*W, C) -> (B, C, F, H, W)."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], frames, height, width)


def pixel_frames(latent_frames: int) -> int:
    return (latent_frames - 1) * VAE_SCALE_FACTORS[0] + 1


def _check(item: LTXVCondition, shape: Sequence[int]) -> None:
    batch, channels, frames, height, width = shape
    z = item.latent
    if not isinstance(z, torch.Tensor) or z.ndim != 5:
        raise InputError("A conditioning latent must be a (batch, channels, frames, height, width) tensor.")
    if z.shape[0] not in (1, batch) or z.shape[1] != channels or tuple(z.shape[3:]) != (height, width):
        raise InputError(f"Conditioning latent {tuple(z.shape)} does not fit the generated latent {tuple(shape)}: "
                         "encode the image / clip at the output width and height.")
    check_strength(item.strength, "conditioning strength")
    total = pixel_frames(frames)
    if isinstance(item.frame, bool) or int(item.frame) != item.frame or item.frame < 0:
        raise InputError(f"Conditioning frame {item.frame!r} is invalid: use a whole pixel frame index >= 0.")
    end = int(item.frame) + pixel_frames(z.shape[2])
    if end > total:
        raise InputError(f"A conditioning of {pixel_frames(z.shape[2])} frames at frame {item.frame} ends past the "
                         f"video's {total} frames: move it earlier or shorten it.")
    if z.shape[2] > 1 and item.frame % VAE_SCALE_FACTORS[0]:
        raise InputError(f"A conditioning clip must start at a multiple of 8 frames, got frame {item.frame}.")


def prepare_tokens(shape: Sequence[int], items: Sequence[LTXVCondition], noise: torch.Tensor, *,
                   generator: Optional[torch.Generator], frame_rate: float, causal: bool,
                   initial_latent: Optional[torch.Tensor] = None, sigma0: Optional[torch.Tensor] = None,
                   first_frame_replace: bool = False) -> TokenState:
    """Initial TokenState for a latent of `shape` (B, C, F, H, W); `noise` (B, F*H*W, C) (the official
    pipeline draws its initial noise in token layout). Extra tokens draw their noise from `generator`, in
    item order, after `noise`. `initial_latent`: start from it noised to `sigma0` (second pass / v2v)."""
    batch, channels, frames, height, width = shape
    init = unpatchify(noise, frames, height, width)
    if initial_latent is not None:
        if tuple(initial_latent.shape) != tuple(shape):
            raise InputError(f"The initial latent {tuple(initial_latent.shape)} must match {tuple(shape)}.")
        init = sigma0 * init + (1 - sigma0) * initial_latent.to(init.dtype)
    init = init.clone()
    mask = torch.zeros(batch, frames, height, width, dtype=torch.float32, device=noise.device)
    extra_x: List[torch.Tensor] = []
    extra_pos: List[torch.Tensor] = []
    extra_mask: List[torch.Tensor] = []
    extra_clean: List[torch.Tensor] = []
    replace = init.clone() if first_frame_replace else None
    pos_kw = dict(batch=batch, frame_rate=frame_rate, causal_temporal_positioning=causal, device=noise.device)
    for item in items:
        _check(item, shape)
        z = item.latent.to(device=noise.device, dtype=init.dtype).expand(batch, -1, -1, -1, -1)
        s, f = float(item.strength), z.shape[2]
        prefix = z
        if item.frame == 0:
            init[:, :, :f] = torch.lerp(init[:, :, :f], z, s)
            mask[:, :f] = s
            if replace is not None:
                replace[:, :, :f] = z
            continue
        if f > 1:
            start = item.frame // VAE_SCALE_FACTORS[0] + PREFIX_LATENT_FRAMES
            if f > PREFIX_LATENT_FRAMES:
                init[:, :, start:start + f - PREFIX_LATENT_FRAMES] = torch.lerp(
                    init[:, :, start:start + f - PREFIX_LATENT_FRAMES], z[:, :, PREFIX_LATENT_FRAMES:], s)
                mask[:, start:start + f - PREFIX_LATENT_FRAMES] = s
                if replace is not None:
                    replace[:, :, start:start + f - PREFIX_LATENT_FRAMES] = z[:, :, PREFIX_LATENT_FRAMES:]
            prefix = z[:, :, :PREFIX_LATENT_FRAMES]
        eps = torch.randn(prefix.shape, generator=generator, device=noise.device, dtype=init.dtype)
        tokens = patchify(torch.lerp(eps, prefix, s))
        extra_x.append(tokens)
        extra_clean.append(patchify(prefix))
        extra_pos.append(video_positions(prefix.shape[2], height, width, frame_offset=int(item.frame), **pos_kw))
        extra_mask.append(torch.full(tokens.shape[:2], s, dtype=torch.float32, device=noise.device))
    x = patchify(init)
    positions = video_positions(frames, height, width, **pos_kw)
    if not items:
        return TokenState(x, positions, None, 0, x.clone())
    flat_mask = mask.flatten(1)  # (B, F*H*W)
    extra = sum(t.shape[1] for t in extra_x)
    x = torch.cat([*extra_x, x], dim=1)
    positions = torch.cat([*extra_pos, positions], dim=2)
    flat_mask = torch.cat([*extra_mask, flat_mask], dim=1)
    pinned = None if replace is None else torch.cat([*extra_clean, patchify(replace)], dim=1)
    return TokenState(x, positions, flat_mask, extra, x.clone(), pinned)
