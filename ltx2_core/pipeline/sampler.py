"""Flow-matching sampler steps (plain functions on patchified tokens).

Convention: x_sigma = (1 - sigma) x0 + sigma * noise; the model predicts v = noise - x0.
Per-token sigmas: a token's noise level is sigma * denoise_mask (mask 1 = generate, 0 = keep the
clean conditioning value, in between = partial strength). The model sees those per-token timesteps,
`to_x0` uses them, and `blend_clean` pins conditioned tokens to their clean values before the step,
so tokens with mask 0 never move. The Euler step itself uses the step's scalar sigma, as the
reference (ltx-core EulerDiffusionStep) does. Arithmetic runs in at least float32 (`calc_dtype`):
bfloat16 / float16 latents are upcast, float64 stays float64; results come back in the latent dtype.
"""

import math
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

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


RES2S_FINAL_SIGMA = 0.0011
"""res_2s never steps to sigma 0: a final 0 in the schedule becomes (0.0011, 0), the last step ends at
0.0011 and one more model call there gives the result (its x0), as the official sampler does."""


def phi(j: int, z: float) -> float:
    """phi_j(z) = (e^z - sum_{k<j} z^k / k!) / z^j (phi_1 = (e^z - 1) / z, phi_2 = (e^z - 1 - z) / z^2)."""
    if abs(z) < 1e-10:
        return 1.0 / math.factorial(j)
    head = math.expm1(z) - sum(z**k / math.factorial(k) for k in range(1, j))
    return head / z**j


def res2s_coefficients(h: float, c2: float = 0.5) -> Tuple[float, float, float]:
    """(a21, b1, b2) of the two-stage exponential Runge-Kutta step of log-size h = log(sigma / sigma_next).

    a21 = c2 phi_1(-c2 h) moves to the midpoint; b2 = phi_2(-h) / c2 and b1 = phi_1(-h) - b2 weight the
    two x0 estimates (second order: b1 + b2 = phi_1, c2 b2 = phi_2).
    """
    b2 = phi(2, -h) / c2
    return c2 * phi(1, -h * c2), phi(1, -h) - b2, b2


def res2s_noise(shape, generator: torch.Generator) -> torch.Tensor:
    """Unit-normalised Gaussian noise (float64 where the device has it) on the generator's device.

    Normalised over the whole tensor, then over the last two dims (tokens x channels per item).
    """
    dtype = torch.float32 if generator.device.type == "mps" else torch.float64
    noise = torch.randn(tuple(shape), generator=generator, dtype=dtype, device=generator.device)
    noise = (noise - noise.mean()) / noise.std()
    dims = (-2, -1)
    return (noise - noise.mean(dims, keepdim=True)) / noise.std(dims, keepdim=True)


def sde_renoise(x_from: torch.Tensor, x_to: torch.Tensor, sigma_from: float, sigma_to: float, eta: float,
                noise: Optional[torch.Tensor]) -> torch.Tensor:
    """Stochastic version of the deterministic move x_from (sigma_from) -> x_to (sigma_to).

    The move is read as a straight line through x0_hat (its value at sigma 0); the result goes down
    that line to sigma_down, is rescaled by alpha, and gets noise of std sigma_up = eta * sigma_to
    so that signal (1 - sigma_to) and noise (sigma_to) levels stay those of sigma_to.
    eta 0 (or sigma_to 0, or no move) returns x_to unchanged.
    """
    sigma_from, sigma_to = float(sigma_from), float(sigma_to)
    up = min(eta * sigma_to, 0.9999 * sigma_to)
    if up <= 0.0 or sigma_to == 0.0 or sigma_from == sigma_to:
        return x_to
    residual = math.sqrt(max(sigma_to**2 - up**2, 0.0))
    alpha = (1.0 - sigma_to) + residual
    down = residual / alpha
    slope = (x_from - x_to) / (sigma_from - sigma_to)
    x0_hat = x_from - slope * sigma_from
    return alpha * (x0_hat + slope * down) + noise.to(x_to.dtype) * up


@dataclass
class Res2sMidpoint:
    """What res_2s carries from a step's first model call to its second."""

    x: torch.Tensor  # (B, T, C) the midpoint latent the model sees (stream dtype)
    sigma: float  # its noise level, sqrt(sigma * sigma_next)
    anchor: torch.Tensor  # (B, T, C) float64 start point (after the anchor correction)
    eps: torch.Tensor  # (B, T, C) float64 x0_1 - anchor
    h: float


@dataclass
class Res2s:
    """res_2s: second-order exponential Runge-Kutta (midpoint c2 = 1/2) with SDE noise (official HQ sampler).

    Two model calls per step: x0_1 at (x, sigma), then x0_2 at the midpoint
    x_mid = x + h a21 (x0_1 - x) at sigma_mid = sqrt(sigma sigma_next) (h = log(sigma / sigma_next));
    x_next = x + h (b1 (x0_1 - x) + b2 (x0_2 - x)). Both moves get SDE noise (`sde_renoise`):
    `substep_eta` for the midpoint, `eta` for the step, from two generators seeded `seed` and
    `substep_seed` (default seed + 10000; the official pipeline uses seed -1). After the midpoint
    noise, `anchor_correction` (official "bongmath") moves the start point to the one the noisy
    midpoint is the exact deterministic midpoint of (the fixed point the official iteration
    converges to), on steps with h < 0.5 and sigma > 0.03. Conditioned tokens are re-pinned after
    each move: x <- x * mask + clean * (1 - mask). A final sigma 0 is handled via
    `RES2S_FINAL_SIGMA`. eta = substep_eta = 0 gives the deterministic second-order ODE solver.
    Arithmetic in float64; one instance per run (it holds the noise generators; streams share them).
    """

    eta: float = 0.5
    substep_eta: float = 0.5
    seed: int = -1
    substep_seed: Optional[int] = None
    anchor_correction: bool = True
    _generators: Dict[str, torch.Generator] = field(default_factory=dict, init=False, repr=False)

    @staticmethod
    def schedule(sigmas: torch.Tensor) -> torch.Tensor:
        """The sigmas res_2s steps through: a final 0 becomes (RES2S_FINAL_SIGMA, 0) (float32)."""
        sigmas = torch.as_tensor(sigmas, dtype=torch.float32)
        if sigmas[-1].item() == 0.0:
            sigmas = torch.cat([sigmas[:-1], torch.tensor([RES2S_FINAL_SIGMA, 0.0], device=sigmas.device)])
        return sigmas

    def _noise(self, which: str, like: torch.Tensor) -> torch.Tensor:
        if which not in self._generators:
            seed = self.seed if which == "step" else (
                self.seed + 10000 if self.substep_seed is None else self.substep_seed)
            self._generators[which] = torch.Generator(device=like.device).manual_seed(seed)
        return res2s_noise(like.shape, self._generators[which]).to(like.device)

    @staticmethod
    def _pin(x: torch.Tensor, mask: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        mask = mask.to(x.dtype)
        return x * mask + clean.to(x.dtype) * (1.0 - mask)

    def midpoint(self, x: torch.Tensor, x0: torch.Tensor, mask: torch.Tensor, clean: torch.Tensor,
                 sigma: float, sigma_next: float) -> Res2sMidpoint:
        """First half of a step: x0 = the (mask-blended) prediction at (x, sigma)."""
        sigma, sigma_next = float(sigma), float(sigma_next)
        if sigma <= 0.0 or sigma_next <= 0.0:
            raise ValueError("res_2s steps need sigma > 0 and sigma_next > 0 (see Res2s.schedule).")
        h = math.log(sigma / sigma_next)
        a21 = res2s_coefficients(h)[0]
        sub_sigma = math.sqrt(sigma * sigma_next)
        anchor = x.to(torch.float64)
        eps = x0.to(torch.float64) - anchor
        x_mid = anchor + eps * (h * a21)
        noise = self._noise("substep", x) if self.substep_eta else None
        x_mid = self._pin(sde_renoise(anchor, x_mid, sigma, sub_sigma, self.substep_eta, noise), mask, clean)
        if self.anchor_correction and h < 0.5 and sigma > 0.03:
            c = h * a21  # x_mid = anchor + c (x0 - anchor)  =>  anchor = (x_mid - c x0) / (1 - c)
            anchor = (x_mid - x0.to(torch.float64) * c) / (1.0 - c)
            eps = x0.to(torch.float64) - anchor
        return Res2sMidpoint(x=x_mid.to(x.dtype), sigma=sub_sigma, anchor=anchor, eps=eps, h=h)

    def step(self, mid: Res2sMidpoint, x0_mid: torch.Tensor, mask: torch.Tensor, clean: torch.Tensor,
             sigma: float, sigma_next: float) -> torch.Tensor:
        """Second half: x0_mid = the (mask-blended) prediction at the midpoint; returns x at sigma_next."""
        _, b1, b2 = res2s_coefficients(mid.h)
        eps2 = x0_mid.to(torch.float64) - mid.anchor
        x_next = mid.anchor + (mid.eps * b1 + eps2 * b2) * mid.h
        noise = self._noise("step", mid.x) if self.eta else None
        x_next = sde_renoise(mid.anchor, x_next, float(sigma), float(sigma_next), self.eta, noise)
        return self._pin(x_next, mask, clean).to(mid.x.dtype)


@dataclass
class EulerAncestral:
    """Ancestral (SDE) Euler for rectified flow (official `EulerAncestralDiffusionStep`; LTX-2.5 distilled
    stage 1): a deterministic move to sigma_down <= sigma_next, then noise back up to sigma_next with the
    signal rescaled by alpha_next / alpha_down (alpha = 1 - sigma):

        sigma_down = sigma_next (1 + (sigma_next / sigma - 1) eta)
        x' = (sigma_down / sigma) x + (1 - sigma_down / sigma) x0
        x_next = (alpha_next / alpha_down) x' + s_noise sqrt(max(0, sigma_next^2 - sigma_down^2 alpha_next^2
                 / alpha_down^2)) eps

    float32 arithmetic (float64 for float64 latents); a final sigma 0 returns x0. eps ~ N(0, 1) in the latent
    dtype over the whole token tensor (appended tokens included), from ONE generator seeded `seed` shared by
    the streams (video drawn before audio); conditioned tokens are re-pinned after the noise. eta 0 = Euler.
    One instance per run (it holds the generator).
    """

    eta: float = 1.0
    s_noise: float = 1.0
    seed: int = -1
    _generator: Optional[torch.Generator] = field(default=None, init=False, repr=False)

    def noise(self, like: torch.Tensor) -> torch.Tensor:
        if self._generator is None:
            self._generator = torch.Generator(device=like.device).manual_seed(self.seed)
        return torch.randn(like.shape, generator=self._generator, dtype=like.dtype, device=like.device)

    def step(self, x: torch.Tensor, x0: torch.Tensor, sigma: float, sigma_next: float,
             mask: Optional[torch.Tensor] = None, clean: Optional[torch.Tensor] = None,
             noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        work = calc_dtype(x.dtype)
        sigma_t = torch.tensor(float(sigma), dtype=torch.float32).to(work)
        next_t = torch.tensor(float(sigma_next), dtype=torch.float32).to(work)
        if float(sigma_next) == 0.0:
            return x0.to(x.dtype)
        down = next_t * (1.0 + (next_t / sigma_t - 1.0) * self.eta)
        ratio = down / sigma_t
        out = ratio * x.to(work) + (1.0 - ratio) * x0.to(work)
        if self.eta > 0:
            noise = self.noise(x) if noise is None else noise
            alpha_next, alpha_down = 1.0 - next_t, 1.0 - down
            coeff = (next_t**2 - down**2 * alpha_next**2 / alpha_down**2).clamp(min=0) ** 0.5
            out = (alpha_next / alpha_down) * out + noise.to(work) * self.s_noise * coeff
            if mask is not None:
                m = mask.to(work)
                out = out * m + clean.to(work) * (1.0 - m)
        return out.to(x.dtype)


SAMPLERS = ("euler", "gradient_estimation", "res_2s")  # the node's choices
ALL_SAMPLERS = SAMPLERS + ("euler_ancestral",)  # what `denoise` takes (ancestral: LTX-2.5 distilled stage 1)
