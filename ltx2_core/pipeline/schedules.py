"""Sigma schedules (flow-matching noise levels, 1 = pure noise, 0 = clean).

Sources (Lightricks LTX-2 reference code):
- `ltx2_sigmas`: ltx-core `components/schedulers.py` LTX2Scheduler (dev models). The standard
  pipelines call it without a latent, so the token count defaults to 4096 (shift 2.05) whatever the
  resolution.
- `DISTILLED_SIGMAS`, `STAGE2_SIGMAS`: ltx-pipelines `utils/constants.py` (DISTILLED_SIGMA_VALUES,
  STAGE_2_DISTILLED_SIGMA_VALUES).
"""

import math
from typing import Optional, Sequence

import torch

from ..errors import InputError

# Distilled model, 8 steps (also the stage-1 schedule of the distilled two-stage pipeline).
DISTILLED_SIGMAS = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0)
# Stage 2 (refinement after latent upsampling) of every two-stage pipeline: 3 Euler steps.
STAGE2_SIGMAS = (0.909375, 0.725, 0.421875, 0.0)

BASE_SHIFT_TOKENS = 1024
MAX_SHIFT_TOKENS = 4096
DEFAULT_SHIFT_TOKENS = MAX_SHIFT_TOKENS


def ltx2_sigmas(
    steps: int,
    tokens: Optional[int] = None,
    max_shift: float = 2.05,
    base_shift: float = 0.95,
    stretch: bool = True,
    terminal: float = 0.1,
) -> torch.Tensor:
    """The dev-model schedule: `steps + 1` float32 sigmas from ~1 down to 0.

    The shift is linear in the token count (0.95 at 1024 tokens, 2.05 at 4096); `tokens=None`
    uses 4096 as the reference pipelines do. With `stretch`, the last non-zero sigma is `terminal`.
    """
    if not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps {steps} is invalid: use 1 or more steps.")
    if not 0.0 <= terminal < 1.0:
        raise InputError(f"terminal {terminal} is invalid: use a value in [0, 1).")
    count = DEFAULT_SHIFT_TOKENS if tokens is None else tokens
    slope = (max_shift - base_shift) / (MAX_SHIFT_TOKENS - BASE_SHIFT_TOKENS)
    shift = count * slope + (base_shift - slope * BASE_SHIFT_TOKENS)
    t = torch.linspace(1.0, 0.0, steps + 1)  # float32
    exp_shift = math.exp(shift)
    nonzero = t != 0
    sigmas = torch.zeros_like(t)
    sigmas[nonzero] = exp_shift / (exp_shift + (1.0 / t[nonzero] - 1.0))
    if stretch:
        one_minus = 1.0 - sigmas[nonzero]
        scale = one_minus[-1] / (1.0 - terminal)
        if scale > 0:  # a single step from exactly 1.0 cannot be stretched
            sigmas[nonzero] = 1.0 - one_minus / scale
    return sigmas


def as_sigmas(values: Sequence[float], device: Optional[torch.device] = None) -> torch.Tensor:
    """A user-given schedule as a float32 tensor, checked to be strictly decreasing within [0, 1]."""
    sigmas = torch.as_tensor([float(v) for v in values], dtype=torch.float32, device=device)
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise InputError("A sigma schedule needs at least two values (start and end), e.g. [1.0, 0.0].")
    if bool((sigmas < 0).any()) or bool((sigmas > 1).any()):
        raise InputError("Sigma values must lie in [0, 1]: fix the schedule.")
    if bool((sigmas[1:] >= sigmas[:-1]).any()):
        raise InputError("Sigma values must be strictly decreasing: fix the schedule.")
    return sigmas
