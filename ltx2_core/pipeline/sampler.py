"""Flow-matching sampler steps (plain functions on patchified tokens).

Convention: x_sigma = (1 - sigma) x0 + sigma * noise; the model predicts v = noise - x0.
Per-token sigmas: a token's noise level is sigma * denoise_mask (mask 1 = generate, 0 = keep the
clean conditioning value, in between = partial strength). The model sees those per-token timesteps,
`to_x0` uses them, and `blend_clean` pins conditioned tokens to their clean values before the step,
so tokens with mask 0 never move. The Euler step itself uses the step's scalar sigma, as the
reference (ltx-core EulerDiffusionStep) does. Arithmetic runs in at least float32 (`calc_dtype`):
bfloat16 / float16 latents are upcast, float64 stays float64; results come back in the latent dtype.
"""

from dataclasses import dataclass
from typing import Optional

import torch


def calc_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype sampler arithmetic runs in: float64 for float64 latents, float32 otherwise."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def token_sigmas(denoise_mask: torch.Tensor, sigma: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Per-token noise levels (B, T) from a (B, T, 1) denoise mask and the step's sigma."""
    return denoise_mask.squeeze(-1).to(calc_dtype(dtype)) * float(sigma)


def to_x0(x: torch.Tensor, velocity: torch.Tensor, per_token_sigma: torch.Tensor) -> torch.Tensor:
    """Denoised estimate x0 = x - v * sigma_token (result in x's dtype)."""
    work = calc_dtype(x.dtype)
    sig = per_token_sigma.to(work)
    if sig.ndim == x.ndim - 1:
        sig = sig.unsqueeze(-1)  # (B, T, 1)
    return (x.to(work) - velocity.to(work) * sig).to(x.dtype)


def blend_clean(x0: torch.Tensor, denoise_mask: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """x0 * mask + clean * (1 - mask): conditioned tokens keep (part of) their clean value."""
    work = calc_dtype(x0.dtype)
    mask = denoise_mask.to(work)
    return (x0.to(work) * mask + clean.to(work) * (1.0 - mask)).to(x0.dtype)


def euler_step(x: torch.Tensor, x0: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
    """One Euler step from `sigma` to `sigma_next` given the (mask-blended) x0 prediction."""
    sigma, sigma_next = float(sigma), float(sigma_next)
    if sigma == 0.0:
        raise ValueError("euler_step needs sigma > 0.")
    work = calc_dtype(x.dtype)
    velocity = ((x.to(work) - x0.to(work)) / sigma).to(x.dtype)
    return (x.to(work) + velocity.to(work) * (sigma_next - sigma)).to(x.dtype)


@dataclass
class GradientEstimation:
    """Gradient-estimation Euler (ge_gamma, default 2.0; arXiv/OpenReview o2ND9v0CeK).

    Keeps the previous step's velocity and extrapolates: v = gamma * (v_now - v_prev) + v_prev.
    The final step (to sigma 0) returns x0 directly. One instance per stream and per run.
    """

    gamma: float = 2.0
    previous_velocity: Optional[torch.Tensor] = None

    def step(self, x: torch.Tensor, x0: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
        sigma, sigma_next = float(sigma), float(sigma_next)
        if sigma_next == 0.0:
            return x0
        work = calc_dtype(x.dtype)
        velocity = ((x.to(work) - x0.to(work)) / sigma).to(x.dtype)
        if self.previous_velocity is not None:
            total = self.gamma * (velocity - self.previous_velocity) + self.previous_velocity
            x0 = (x.to(work) - total.to(work) * sigma).to(x.dtype)
        self.previous_velocity = velocity
        return euler_step(x, x0, sigma, sigma_next)


SAMPLERS = ("euler", "gradient_estimation")
