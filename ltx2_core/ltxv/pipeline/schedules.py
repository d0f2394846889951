"""LTX-Video rectified-flow schedules: base grids, the resolution-dependent (SD3) shift, distilled lists.

Sigma == timestep in [0, 1]; x_t = (1 - t) x0 + t eps. Facts from the official `ltx_video` 0.1.2
`schedulers/rf.py` (RectifiedFlowScheduler) and the official pipeline yaml configs; the arithmetic runs in
float32 tensor ops in the same order, so the lists equal the official ones bit for bit.
"""

import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import torch

from ...errors import InputError

# configs/ltxv-13b-0.9.7-distilled.yaml, ltxv-13b-0.9.8-distilled.yaml, ltxv-2b-0.9.8-distilled.yaml
# (first_pass.timesteps / second_pass.timesteps; LTX-Video repo).
DISTILLED_FIRST_PASS = (1.0000, 0.9937, 0.9875, 0.9812, 0.9750, 0.9094, 0.7250)
DISTILLED_SECOND_PASS = (0.9094, 0.7250, 0.4219)
# configs/ltxv-13b-0.9.8-distilled.yaml second_pass.tone_map_compression_ratio.
DISTILLED_098_TONE_MAP = 0.6
# rf.py get_normal_shift defaults: shift mu is linear in the token count through these two points.
SHIFT_MIN_TOKENS, SHIFT_MAX_TOKENS = 1024, 4096
SHIFT_MIN, SHIFT_MAX = 0.95, 2.05
# utils/diffusers_config_mapping.py OURS_SCHEDULER_CONFIG: the scheduler when a file carries none.
DEFAULT_SHIFT_TERMINAL = 0.1
SAMPLERS = ("uniform", "linear-quadratic", "constant")
SHIFTS = ("sd3", "simple-diffusion", None)


@dataclass(frozen=True)
class LTXVScheduler:
    """The `scheduler` section of an official file's `config` metadata (RectifiedFlowScheduler)."""
    sampler: str = "uniform"
    shift: Optional[str] = "sd3"
    shift_terminal: Optional[float] = DEFAULT_SHIFT_TERMINAL
    constant_shift: Optional[float] = None
    base_resolution: int = 32 * 32

    @classmethod
    def from_metadata(cls, section: Optional[Mapping]) -> "LTXVScheduler":
        """Parse `config["scheduler"]`; None (0.9 / 0.9.1 files, diffusers folders) -> the official default."""
        if not section:
            return cls()
        sampler = {"uniform": "uniform", "linearquadratic": "linear-quadratic", "constant": "constant"}.get(
            str(section.get("sampler", "Uniform")).lower())
        shifting = section.get("shifting")
        shift = {None: None, "sd3": "sd3", "simplediffusion": "simple-diffusion"}.get(
            shifting.lower() if isinstance(shifting, str) else None, "?")
        if sampler is None or shift == "?":
            raise InputError(f"Unknown LTX-Video scheduler (sampler {section.get('sampler')!r}, shifting "
                             f"{shifting!r}); use one of Uniform / LinearQuadratic / Constant and SD3 / "
                             "SimpleDiffusion.")
        return cls(sampler=sampler, shift=shift, shift_terminal=section.get("target_shift_terminal"),
                   constant_shift=section.get("shift"), base_resolution=section.get("base_resolution") or 1024)


def linear_quadratic(steps: int, threshold: float = 0.025) -> torch.Tensor:
    """(steps,) decreasing: steps // 2 linear steps of noise up to `threshold`, then quadratic to 1."""
    if steps == 1:
        return torch.tensor([1.0])
    lin = steps // 2
    quad = steps - lin
    gap = lin - threshold * steps
    a = gap / (lin * quad ** 2)
    b = threshold / lin - 2 * gap / quad ** 2
    c = a * lin ** 2
    noise = [i * threshold / lin for i in range(lin)] + [a * i ** 2 + b * i + c for i in range(lin, steps)]
    return torch.tensor([1.0 - x for x in noise])


def base_grid(steps: int, sampler: str = "uniform", constant_shift: Optional[float] = None,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The unshifted (steps,) grid of `sampler`."""
    if sampler == "uniform":
        return torch.linspace(1, 1 / steps, steps, dtype=dtype)
    if sampler == "linear-quadratic":
        return linear_quadratic(steps).to(dtype)
    if sampler == "constant":
        if constant_shift is None:
            raise InputError("The constant LTX-Video sampler needs a shift value.")
        return time_shift(constant_shift, torch.linspace(1, 1 / steps, steps, dtype=dtype))
    raise InputError(f"Unknown LTX-Video sampler {sampler!r}; use one of {', '.join(SAMPLERS)}.")


def shift_mu(tokens: int) -> float:
    """SD3-style shift for `tokens` latent tokens (linear, extrapolated beyond 4096 tokens)."""
    slope = (SHIFT_MAX - SHIFT_MIN) / (SHIFT_MAX_TOKENS - SHIFT_MIN_TOKENS)
    return slope * tokens + (SHIFT_MIN - slope * SHIFT_MIN_TOKENS)


def time_shift(mu: float, t: torch.Tensor) -> torch.Tensor:
    """t' = e^mu / (e^mu + (1/t - 1))."""
    return math.exp(mu) / (math.exp(mu) + (1 / t - 1) ** 1)


def stretch_to_terminal(t: torch.Tensor, terminal: float) -> torch.Tensor:
    """Affinely rescale 1 - t so that the last value becomes `terminal`."""
    if not 0 < terminal < 1:
        raise InputError(f"shift_terminal {terminal} is invalid: use a value strictly between 0 and 1.")
    rest = 1 - t
    if float(rest[-1]) == 0.0:  # a one-step grid [1.0]: nothing to stretch (the official code returns NaN)
        return t
    return 1 - rest / (rest[-1] / (1 - terminal))


def shift_grid(grid: torch.Tensor, latent_shape: Sequence[int], shift: Optional[str] = "sd3",
               shift_terminal: Optional[float] = DEFAULT_SHIFT_TERMINAL, base_resolution: int = 1024) -> torch.Tensor:
    """Apply the resolution-dependent shift for a latent of (frames, height, width)."""
    if shift is None:
        return grid
    tokens = math.prod(int(n) for n in latent_shape)
    if shift == "sd3":
        out = time_shift(shift_mu(tokens), grid)
        return out if shift_terminal is None else stretch_to_terminal(out, shift_terminal)
    if shift == "simple-diffusion":
        snr = (grid / (1 - grid)) ** 2
        return torch.sigmoid(0.5 * (torch.log(snr) + 2 * math.log(tokens / base_resolution)))
    raise InputError(f"Unknown LTX-Video shift {shift!r}; use 'sd3', 'simple-diffusion' or None.")


def ltxv_sigmas(steps: Optional[int] = None, latent_shape: Optional[Sequence[int]] = None, *,
                sampler: str = "uniform", shift: Optional[str] = "sd3",
                shift_terminal: Optional[float] = DEFAULT_SHIFT_TERMINAL, sigmas: Optional[Sequence[float]] = None,
                skip_initial: int = 0, skip_final: int = 0, scheduler: Optional[LTXVScheduler] = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The (n,) decreasing sigma list (no trailing 0) the official pipeline steps through.

    dtype: float32 (default) is the official scheduler's arithmetic, bit for bit (diffusers'
    FlowMatchEulerDiscreteScheduler, in NumPy, agrees to a few float32 ulps); float64 for float64 sampling.
    latent_shape: (frames, height, width) of the latent, for the shift; `sigmas`: a fixed list instead
    (distilled); `skip_initial` / `skip_final`: drop steps of the full grid (multi-scale passes);
    `scheduler`: take sampler / shift / terminal from a file's scheduler section."""
    if sigmas is not None:
        out = torch.tensor([float(s) for s in sigmas], dtype=dtype)
        if out.ndim != 1 or not len(out) or bool((out <= 0).any() or (out > 1).any()) or \
                bool((out[1:] >= out[:-1]).any()):
            raise InputError("Custom sigmas must be a non-empty strictly decreasing list in (0, 1].")
        return out
    if steps is None or isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise InputError(f"steps {steps!r} is invalid: use a whole number of 1 or more.")
    steps = int(steps)
    if skip_initial < 0 or skip_final < 0 or skip_initial + skip_final >= steps:
        raise InputError(f"Skipping {skip_initial} initial and {skip_final} final steps of {steps} leaves none: "
                         "skip fewer steps.")
    if scheduler is not None:
        sampler, shift, shift_terminal = scheduler.sampler, scheduler.shift, scheduler.shift_terminal
    grid = base_grid(min(steps, 1000), sampler, scheduler.constant_shift if scheduler else None, dtype)
    if shift is not None:
        if latent_shape is None or len(latent_shape) != 3:
            raise InputError("The LTX-Video shift needs the latent (frames, height, width).")
        grid = shift_grid(grid, latent_shape, shift, shift_terminal,
                          scheduler.base_resolution if scheduler else 1024)
    return grid[skip_initial:len(grid) - skip_final]
