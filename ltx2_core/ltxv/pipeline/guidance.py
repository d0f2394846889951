"""LTX-Video guidance: CFG (optionally CFG-star), STG with its rescale, piecewise by timestep.

Unlike LTX-2's `ltx2_core.pipeline.guidance` (which combines x0 predictions and rescales toward the
conditional x0), LTX-Video combines *velocities* and rescales only when STG is on, with a neutral rescale
of 1 (official `LTXVideoPipeline.__call__`):
    v = u + g (c - u)            (CFG, when g > 1; CFG-star first scales u by <c, u> / (|u|^2 + 1e-8))
    v = v + s (c - p)            (STG, when s > 0; p = the perturbed pass, positive prompt)
    v = v * (r std(c) / std(v) + 1 - r)   (when s > 0 and r != 1; std per batch item)
Presets follow the official yaml configs (LTX-Video repo `configs/`).
"""

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import torch

from ...errors import InputError
from ...pipeline.sampler import calc_dtype
from ..transformer.block import STG_MODES

Scale = Union[float, Tuple[float, ...]]

# configs/ltxv-13b-0.9.7-dev.yaml and ltxv-13b-0.9.8-dev.yaml, first_pass (guidance_timesteps and per-segment values).
DEV_13B_THRESHOLDS = (1.0, 0.996, 0.9933, 0.9850, 0.9767, 0.9008, 0.6180)
DEV_13B_CFG = (1, 1, 6, 8, 6, 1, 1)
DEV_13B_STG = (0, 0, 4, 4, 4, 2, 1)
DEV_13B_RESCALE = (1, 1, 0.5, 0.5, 1, 1, 1)
DEV_13B_BLOCKS = ((), (11, 25, 35, 39), (22, 35, 39), (28,), (28,), (28,), (28,))


@dataclass(frozen=True)
class StepGuidance:
    """The guidance of one step (all scalars)."""
    cfg: float
    stg: float
    rescale: float
    stg_blocks: Tuple[int, ...]

    @property
    def uses_uncond(self) -> bool:
        return self.cfg > 1.0

    @property
    def uses_perturbed(self) -> bool:
        return self.stg > 0.0


@dataclass(frozen=True)
class LTXVGuidance:
    """CFG / STG / rescale, each a number or (with `thresholds`) one value per timestep segment.

    thresholds: decreasing timesteps; a step at t uses segment i = the first with thresholds[i] <= t
    (the last when none), as the official `guidance_timesteps`. stg_blocks: block indices, or per segment."""
    cfg: Scale = 3.0
    stg: Scale = 1.0
    rescale: Scale = 0.7
    stg_blocks: Union[Tuple[int, ...], Tuple[Tuple[int, ...], ...]] = (19,)
    stg_mode: str = "attention_values"
    cfg_star: bool = False
    thresholds: Optional[Tuple[float, ...]] = None

    def __post_init__(self) -> None:
        if self.stg_mode not in STG_MODES:
            raise InputError(f"Unknown STG mode {self.stg_mode!r}: use one of {', '.join(STG_MODES)}.")
        n = None if self.thresholds is None else len(self.thresholds)
        for name in ("cfg", "stg", "rescale"):
            value = getattr(self, name)
            if isinstance(value, (tuple, list)):
                if n is None or len(value) != n:
                    raise InputError(f"Guidance {name} has {len(value)} values; give one per threshold "
                                     f"({n or 'no thresholds set'}) or a single number.")
                object.__setattr__(self, name, tuple(float(v) for v in value))
        blocks = self.stg_blocks
        if blocks and isinstance(blocks[0], (tuple, list)):
            if n is None or len(blocks) != n:
                raise InputError("Per-segment stg_blocks need one block list per threshold.")
            object.__setattr__(self, "stg_blocks", tuple(tuple(int(b) for b in seg) for seg in blocks))
        else:
            object.__setattr__(self, "stg_blocks", tuple(int(b) for b in blocks))

    def at(self, sigma: float) -> StepGuidance:
        """The scalars for a step at timestep `sigma`."""
        seg = None
        if self.thresholds is not None:
            hits = [i for i, v in enumerate(self.thresholds) if v <= sigma]
            seg = hits[0] if hits else len(self.thresholds) - 1

        def pick(value):
            return value[seg] if isinstance(value, tuple) else value

        blocks = self.stg_blocks
        if blocks and isinstance(blocks[0], tuple):
            blocks = blocks[seg]
        return StepGuidance(float(pick(self.cfg)), float(pick(self.stg)), float(pick(self.rescale)), tuple(blocks))

    def check_blocks(self, num_layers: int) -> None:
        segments = self.stg_blocks if self.stg_blocks and isinstance(self.stg_blocks[0], tuple) else (self.stg_blocks,)
        bad = sorted({b for seg in segments for b in seg if not 0 <= b < num_layers})
        if bad:
            raise InputError(f"STG blocks {bad} do not exist: this model has blocks 0..{num_layers - 1}. "
                             "Pick skip blocks in that range.")

    @classmethod
    def off(cls) -> "LTXVGuidance":
        """No guidance (distilled models: CFG 1, STG 0, rescale 1)."""
        return cls(cfg=1.0, stg=0.0, rescale=1.0, stg_blocks=())

    @classmethod
    def for_model(cls, num_layers: int, *, distilled: bool = False, second_pass: bool = False) -> "LTXVGuidance":
        """The official yaml values: distilled -> off; 2B (28 blocks) dev -> CFG 3, STG 1 @ [19], rescale 0.7;
        13B (48 blocks) dev -> the piecewise first pass, or CFG 1, STG 1 @ [27], rescale 1 for the second pass."""
        if distilled:
            return cls.off()
        if num_layers >= 48:
            if second_pass:
                return cls(cfg=1.0, stg=1.0, rescale=1.0, stg_blocks=(27,))
            return cls(cfg=DEV_13B_CFG, stg=DEV_13B_STG, rescale=DEV_13B_RESCALE, stg_blocks=DEV_13B_BLOCKS,
                       cfg_star=True, thresholds=DEV_13B_THRESHOLDS)
        blocks = (19,) if num_layers > 19 else (num_layers - 1,)
        return cls(cfg=3.0, stg=1.0, rescale=0.7, stg_blocks=blocks)


def combine(cond: torch.Tensor, step: StepGuidance, uncond: Optional[torch.Tensor] = None,
            perturbed: Optional[torch.Tensor] = None, cfg_star: bool = False) -> torch.Tensor:
    """Guided velocity (B, N, C) from the passes' velocities (each (B, N, C)); the official operation order."""
    work = calc_dtype(cond.dtype)
    c = cond.to(work)
    batch = c.shape[0]
    v = c
    if step.uses_uncond:
        if uncond is None:
            raise ValueError("CFG needs the unconditional velocity.")
        u = uncond.to(work)
        if cfg_star:
            dot = (c.reshape(batch, -1) * u.reshape(batch, -1)).sum(dim=1, keepdim=True)
            alpha = dot / ((u.reshape(batch, -1) ** 2).sum(dim=1, keepdim=True) + 1e-8)  # (B, 1)
            u = alpha.view(batch, *([1] * (u.ndim - 1))) * u
        v = u + step.cfg * (c - u)
    if step.uses_perturbed:
        if perturbed is None:
            raise ValueError("STG needs the perturbed velocity.")
        v = v + step.stg * (c - perturbed.to(work))
        if step.rescale != 1.0:
            factor = c.reshape(batch, -1).std(dim=1, keepdim=True) / v.reshape(batch, -1).std(dim=1, keepdim=True)
            factor = step.rescale * factor + (1 - step.rescale)
            v = v * factor.view(batch, *([1] * (v.ndim - 1)))
    return v.to(cond.dtype)


def pass_names(step: StepGuidance) -> Sequence[str]:
    """The passes a step runs, in the official batch order."""
    wanted = (("uncond", step.uses_uncond), ("cond", True), ("perturbed", step.uses_perturbed))
    return tuple(name for name, on in wanted if on)
