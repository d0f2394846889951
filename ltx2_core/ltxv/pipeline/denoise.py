"""The LTX-Video denoising loop: guided rectified-flow Euler steps on patchified tokens.

Per step (official `LTXVideoPipeline.__call__` + `RectifiedFlowScheduler.step`): the passes the step's
guidance needs ([uncond, cond, perturbed]) run as one batch; each token's timestep is min(t, 1 - mask);
the step moves a token from its timestep to the next lower scheduled value (dt per token), or, with
`stochastic`, re-noises its x0 estimate to that value with fresh noise (0.9.6 distilled); tokens whose
conditioning is stronger than 1 - t stay. First-frame replacement (0.9.0 / 0.9.1) uses t (1 - mask) and
pins the conditioned tokens after each step instead.
"""

from typing import Callable, Optional, Sequence, Tuple

import torch

from ...errors import InputError
from ...validation import check_range
from .conditioning import LTXVCondition, TokenState, patchify, prepare_tokens, unpatchify
from .guidance import LTXVGuidance, combine, pass_names

T_EPS = 1e-6  # official scheduler / pipeline epsilon on timestep comparisons
Context = Tuple[torch.Tensor, torch.Tensor]  # (embeddings (B|1, L, D), mask (B|1, L))
Callback = Callable[[int, int, torch.Tensor], None]


def _batched(context: Context, batch: int) -> Context:
    states, mask = context
    if states.ndim != 3 or mask.shape != states.shape[:2] or states.shape[0] not in (1, batch):
        raise InputError(f"Text context must be embeddings (B, L, D) and mask (B, L) with B 1 or {batch}, "
                         f"got {tuple(states.shape)} / {tuple(mask.shape)}.")
    return states.expand(batch, -1, -1), mask.expand(batch, -1)


def lower_timesteps(padded: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
    """Per entry of `timestep` the largest value of `padded` (the schedule + 0) below timestep - eps."""
    below = padded.view(-1, *([1] * timestep.ndim)) < (timestep[None] - T_EPS)
    return (below * padded.view(-1, *([1] * timestep.ndim))).max(dim=0).values


def _noise(shape, generator, device, dtype, noise: Optional[torch.Tensor]) -> torch.Tensor:
    batch, channels, frames, height, width = shape
    if noise is None:
        return torch.randn((batch, frames * height * width, channels), generator=generator, device=device,
                           dtype=dtype)
    if tuple(noise.shape) == tuple(shape):
        return patchify(noise.to(device=device, dtype=dtype))
    if tuple(noise.shape) == (batch, frames * height * width, channels):
        return noise.to(device=device, dtype=dtype)
    raise InputError(f"noise {tuple(noise.shape)} must be {tuple(shape)} or tokens "
                     f"{(batch, frames * height * width, channels)}.")


@torch.no_grad()
def denoise_ltxv(model, latent_shape: Sequence[int], conditioning: Sequence[LTXVCondition], sigmas: torch.Tensor,
                 context: Context, negative: Optional[Context] = None, guidance: Optional[LTXVGuidance] = None, *,
                 noise: Optional[torch.Tensor] = None, generator: Optional[torch.Generator] = None,
                 frame_rate: float = 25.0, first_frame_replace: Optional[bool] = None, stochastic: bool = False,
                 initial_latent: Optional[torch.Tensor] = None, cond_noise_scale: float = 0.0,
                 callback: Optional[Callback] = None) -> torch.Tensor:
    """Denoise a normalized latent of `latent_shape` (B, C, F, H, W) through `sigmas` (decreasing, no 0).

    context / negative: T5 (embeddings, mask); a missing negative is zeros with an all-zero mask (official).
    first_frame_replace: None = 0.9.0 / 0.9.1 style when the model's positions are not causal.
    cond_noise_scale: official `image_cond_noise_scale` (hard-conditioned tokens get eps * scale * t^2).
    callback(step, total, x0 (B, C, F, H, W)). Returns the denoised latent (B, C, F, H, W)."""
    guidance = guidance if guidance is not None else LTXVGuidance.for_model(model.config.num_layers)
    guidance.check_blocks(model.config.num_layers)
    shape = tuple(int(n) for n in latent_shape)
    if len(shape) != 5 or shape[1] != model.config.in_channels:
        raise InputError(f"latent_shape must be (B, {model.config.in_channels}, F, H, W), got {shape}.")
    check_range("cond_noise_scale", cond_noise_scale, 0.0, 10.0)
    sigmas = torch.as_tensor(sigmas, dtype=torch.float32).flatten().cpu()
    if not len(sigmas) or bool((sigmas <= 0).any() or (sigmas > 1).any()):
        raise InputError("sigmas must be a non-empty list of values in (0, 1] without the trailing 0.")
    batch = shape[0]
    param = next(model.parameters())
    device, dtype = param.device, (param.dtype if param.dtype.is_floating_point else torch.float32)
    dtype = context[0].dtype if context[0].dtype.is_floating_point else dtype
    causal = bool(model.config.causal_temporal_positioning)
    replace_mode = (not causal) if first_frame_replace is None else bool(first_frame_replace)
    tokens0 = _noise(shape, generator, device, dtype, noise)
    state = prepare_tokens(shape, conditioning, tokens0, generator=generator, frame_rate=frame_rate, causal=causal,
                           initial_latent=initial_latent, sigma0=sigmas[0].to(device, dtype),
                           first_frame_replace=replace_mode)
    positive = _batched(context, batch)
    negative = (torch.zeros_like(positive[0]), torch.zeros_like(positive[1])) if negative is None \
        else _batched(negative, batch)
    padded = torch.cat([sigmas, torch.zeros(1)]).to(device)
    for i in range(len(sigmas)):
        t = padded[i]
        state = _step(model, state, t, padded, guidance, positive, negative, generator, replace_mode, stochastic,
                      cond_noise_scale, callback, i, len(sigmas), shape)
    return unpatchify(state.video_tokens(), *shape[2:])


def _timesteps(state: TokenState, t: torch.Tensor, rows: int, replace_mode: bool) -> torch.Tensor:
    """(rows, 1) or per token (rows, N) model timesteps."""
    ts = t[None].expand(rows).unsqueeze(-1)
    if state.mask is None:
        return ts
    mask = state.mask.repeat(rows // state.mask.shape[0], 1)
    return ts * (1.0 - mask) if replace_mode else torch.min(ts, 1.0 - mask)


def _step(model, state: TokenState, t, padded, guidance: LTXVGuidance, positive: Context, negative: Context,
          generator, replace_mode: bool, stochastic: bool, cond_noise_scale: float, callback, index: int,
          total: int, shape) -> TokenState:
    batch = state.x.shape[0]
    step = guidance.at(float(t))
    if state.mask is not None and cond_noise_scale > 0.0:
        eps = torch.randn(state.x.shape, generator=generator, device=state.x.device, dtype=state.x.dtype)
        hard = (state.mask > 1.0 - T_EPS).unsqueeze(-1)
        state.x = torch.where(hard, state.clean + cond_noise_scale * eps * (t ** 2), state.x)
    passes = pass_names(step)
    k = len(passes)
    contexts = [negative if name == "uncond" else positive for name in passes]
    ctx = torch.cat([c[0] for c in contexts])
    ctx_mask = torch.cat([c[1] for c in contexts])
    skip = None
    if step.uses_perturbed:
        skip = model.skip_mask(batch * k, step.stg_blocks, range((k - 1) * batch, k * batch)).to(state.x.device)
    ts = _timesteps(state, t, batch * k, replace_mode)
    dtype = next(model.parameters()).dtype if next(model.parameters()).dtype.is_floating_point else state.x.dtype
    velocity = model(torch.cat([state.x] * k).to(dtype), torch.cat([state.positions] * k), ctx.to(dtype), ts,
                     ctx_mask, skip_layer_mask=skip, stg_mode=guidance.stg_mode)
    parts = dict(zip(passes, velocity.chunk(k)))
    v = combine(parts["cond"], step, parts.get("uncond"), parts.get("perturbed"), guidance.cfg_star).to(state.x.dtype)
    # (1, 1) or (1, N): the official scheduler steps with the first row; replacement steps all tokens from t
    tok_t = t.view(1, 1) if replace_mode else ts[:1]
    dt = (tok_t - lower_timesteps(padded, tok_t))[..., None]
    if stochastic:
        x0 = state.x - tok_t[..., None] * v
        nxt = tok_t[..., None] - dt
        eps = torch.randn(state.x.shape, generator=generator, device=state.x.device, dtype=state.x.dtype)
        new = (1 - nxt) * x0 + nxt * eps
    else:
        new = state.x - dt * v
    if state.mask is not None and not replace_mode:
        moving = (t - T_EPS < (1.0 - state.mask)).unsqueeze(-1)
        new = torch.where(moving, new, state.x)
    elif state.mask is not None and state.replace is not None:
        new = torch.lerp(new, state.replace, state.mask.unsqueeze(-1).to(new.dtype))
    if callback is not None:
        x0 = state.x - tok_t[..., None].to(state.x.dtype) * v
        callback(index, total, unpatchify(x0[:, state.extra:], *shape[2:]))
    state.x = new
    return state
