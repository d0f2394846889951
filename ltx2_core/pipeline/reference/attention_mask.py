"""Self-attention masks for appended reference tokens (IC-LoRA video, reference audio).

Weights in [0, 1] (1 = full attention, 0 = none; the transformer turns them into log-space additive
biases). Each appended group of M tokens extends the (B, N, N) mask of the N tokens already in the
sequence to (B, N + M, N + M): the old block is kept (all ones when there was no mask yet), the new
group attends fully to itself, the generated (first `noisy`) tokens and the new group see each other
with the per-token `cross` weight, and the new group and earlier appended groups do not see each
other. Facts from ltx-core 1.0.0 `conditioning/mask_utils.py`.
"""

from typing import Optional, Union

import torch

from ...errors import InputError

CrossWeight = Union[float, torch.Tensor]


def cross_weights(weight: CrossWeight, tokens: int, batch: int, device, dtype) -> torch.Tensor:
    """A scalar, (M,) or (B | 1, M) weight as a (B, M) tensor."""
    if not torch.is_tensor(weight) or weight.ndim == 0:
        value = float(weight)
        if not 0.0 <= value <= 1.0:
            raise InputError(f"Reference attention strength {value} is invalid: use a value between 0 and 1.")
        return torch.full((batch, tokens), value, device=device, dtype=dtype)
    given = weight.to(device=device, dtype=dtype)
    if given.ndim == 1:
        given = given.unsqueeze(0)
    if given.ndim != 2 or given.shape[1] != tokens or given.shape[0] not in (1, batch):
        raise InputError(f"Reference attention mask has shape {tuple(weight.shape)}, expected ({batch}, {tokens}) "
                         "(one weight per reference token): build it with latent_attention_mask().")
    return given.expand(batch, tokens)


def extend_mask(existing: Optional[torch.Tensor], existing_tokens: int, noisy_tokens: int,
                cross: torch.Tensor) -> torch.Tensor:
    """(B, N + M, N + M) mask after appending M tokens with (B, M) `cross` weights to N existing tokens."""
    batch, new = cross.shape
    total = existing_tokens + new
    mask = torch.zeros(batch, total, total, device=cross.device, dtype=cross.dtype)
    if existing is None:
        mask[:, :existing_tokens, :existing_tokens] = 1.0
    else:
        mask[:, :existing_tokens, :existing_tokens] = existing.to(cross.dtype)
    mask[:, existing_tokens:, existing_tokens:] = 1.0
    mask[:, :noisy_tokens, existing_tokens:] = cross.unsqueeze(1)  # generated queries -> new keys
    mask[:, existing_tokens:, :noisy_tokens] = cross.unsqueeze(2)  # new queries -> generated keys
    return mask


def appended_mask(existing: Optional[torch.Tensor], existing_tokens: int, noisy_tokens: int, new_tokens: int,
                  batch: int, weight: Optional[CrossWeight], device, dtype) -> Optional[torch.Tensor]:
    """The mask after appending `new_tokens`: None while nothing asks for one; an existing mask is padded
    with full cross attention when `weight` is None."""
    if weight is None and existing is None:
        return None
    cross = cross_weights(1.0 if weight is None else weight, new_tokens, batch, device, dtype)
    return extend_mask(existing, existing_tokens, noisy_tokens, cross)


def latent_attention_mask(mask: torch.Tensor, frames: int, height: int, width: int) -> torch.Tensor:
    """A pixel-space mask (B, 1, F_px, H_px, W_px) in [0, 1] as one weight per reference token (B, F*H*W).

    Area-averaged to (height, width) per frame; pixel frame 0 is latent frame 0 (causal VAE), the other
    pixel frames are averaged in groups of (F_px - 1) / (frames - 1) (official `_downsample_mask_to_latent`).
    """
    if mask.ndim != 5 or mask.shape[1] != 1:
        raise InputError(f"Attention mask must be (B, 1, F, H, W), got shape {tuple(mask.shape)}.")
    batch, _, pixel_frames = mask.shape[:3]
    small = torch.nn.functional.interpolate(mask.transpose(1, 2).reshape(batch * pixel_frames, 1, *mask.shape[3:]),
                                            size=(height, width), mode="area")
    small = small.reshape(batch, pixel_frames, height, width)  # (B, F_px, H, W)
    rows = [small[:, :1]]
    if pixel_frames > 1 and frames > 1:
        if (pixel_frames - 1) % (frames - 1):
            raise InputError(f"Attention mask has {pixel_frames} frames, which does not fit a reference of "
                             f"{frames} latent frames: give it as many frames as the reference video.")
        group = (pixel_frames - 1) // (frames - 1)
        rows.append(small[:, 1:].reshape(batch, frames - 1, group, height, width).mean(dim=2))
    return torch.cat(rows, dim=1).reshape(batch, -1)  # (B, F*H*W) frame-major like the tokens
