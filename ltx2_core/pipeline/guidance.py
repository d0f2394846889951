"""Modality-aware guidance: CFG, STG, modality isolation and rescale, per stream.

`guide` is the one pure function: it combines already-computed x0 predictions of up to four passes
(cond, uncond, perturbed, isolated) into the guided x0 for video and for audio, each stream with its
own `GuidanceParams`. `plan_passes` says which passes a step needs; the denoise loop runs them,
batched into one transformer call when allowed, sequentially otherwise.

Per stream (in float32, or float64 for float64 inputs): pred = c + (cfg-1)(c-u) + stg(c-p) + (mod-1)(c-m);
with rescale r != 0, pred *= r * std(c)/std(pred) + (1 - r), std taken per batch item (over all its tokens and
channels, as the reference does for its batch-1 runs), so items of a batch never influence each other. A pass
that was not run contributes 0. Semantics follow ltx-core `MultiModalGuider.calculate` and the ltx-pipelines
multimodal denoising function: the perturbed pass skips video self-attention in the video STG blocks
and audio self-attention in the audio STG blocks (value pass-through); the isolated pass skips the
audio-to-video and video-to-audio cross-attention in every block.
"""

from dataclasses import dataclass, field, replace
from typing import Optional, Tuple

import torch

from ..errors import InputError
from .sampler import calc_dtype


@dataclass(frozen=True)
class GuidanceParams:
    """Guidance scales of one stream. Neutral values: cfg 1, stg 0, modality 1, rescale 0."""

    cfg: float = 1.0
    stg: float = 0.0
    stg_blocks: Tuple[int, ...] = ()
    rescale: float = 0.0
    modality: float = 1.0
    skip_step: int = 0

    def __post_init__(self):
        object.__setattr__(self, "stg_blocks", tuple(int(b) for b in self.stg_blocks))
        if self.skip_step < 0:
            raise InputError(f"skip_step {self.skip_step} is invalid: use 0 (never skip) or more.")
        if any(b < 0 for b in self.stg_blocks):
            raise InputError(f"stg_blocks {self.stg_blocks} are invalid: block indices are 0-based and >= 0.")

    @property
    def uses_uncond(self) -> bool:
        return self.cfg != 1.0

    @property
    def uses_perturbed(self) -> bool:
        return self.stg != 0.0

    @property
    def uses_isolated(self) -> bool:
        return self.modality != 1.0

    def skips(self, step: int) -> bool:
        """True when this step reuses the previous x0 (skip_step k: recompute every (k+1)-th step)."""
        return self.skip_step > 0 and step % (self.skip_step + 1) != 0


@dataclass(frozen=True)
class Guidance:
    """Video and audio guidance parameters of one denoising stage."""

    video: GuidanceParams = field(default_factory=GuidanceParams)
    audio: GuidanceParams = field(default_factory=GuidanceParams)

    @property
    def passes(self) -> Tuple[str, ...]:
        return plan_passes(self)


# ltx-pipelines constants.py LTX_2_PARAMS (LTX-2 19B dev, 40 steps).
LTX2_DEV_GUIDANCE = Guidance(
    video=GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(29,), rescale=0.7, modality=3.0),
    audio=GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(29,), rescale=0.7, modality=3.0),
)
# ltx-pipelines constants.py LTX_2_3_PARAMS (LTX-2.3 dev, 30 steps): STG on block 28.
LTX23_DEV_GUIDANCE = Guidance(
    video=GuidanceParams(cfg=3.0, stg=1.0, stg_blocks=(28,), rescale=0.7, modality=3.0),
    audio=GuidanceParams(cfg=7.0, stg=1.0, stg_blocks=(28,), rescale=0.7, modality=3.0),
)
# Distilled models and every stage 2: a single conditional pass.
NO_GUIDANCE = Guidance()
# Depth of the released LTX-2 / LTX-2.3 transformers, for which the presets' STG blocks were chosen.
REFERENCE_DEPTH = 48


def fit_stg_blocks(guidance: Guidance, num_layers: int) -> Guidance:
    """A preset's STG blocks for a model `num_layers` deep. Blocks the model has are kept (every released
    model keeps the reference block); a block it lacks moves to the same relative depth,
    min(num_layers - 1, round(block * num_layers / 48)): block 28 or 29 of 48 becomes block 1 of a
    2-block model."""
    def fit(params: GuidanceParams) -> GuidanceParams:
        if all(b < num_layers for b in params.stg_blocks):
            return params
        blocks = sorted({min(num_layers - 1, round(b * num_layers / REFERENCE_DEPTH)) if b >= num_layers else b
                         for b in params.stg_blocks})
        return replace(params, stg_blocks=tuple(blocks))

    return Guidance(fit(guidance.video), fit(guidance.audio))


def check_stg_blocks(guidance: Guidance, num_layers: int) -> None:
    """InputError when a stream with STG on names a block the `num_layers`-deep model does not have."""
    for params in (guidance.video, guidance.audio):
        missing = [b for b in params.stg_blocks if b >= num_layers]
        if params.uses_perturbed and missing:
            raise InputError(f"STG block(s) {', '.join(map(str, missing))} do not exist in this {num_layers}-block "
                             f"model: use block numbers 0..{num_layers - 1}.")

PASS_ORDER = ("cond", "uncond", "perturbed", "isolated")


def plan_passes(guidance: Guidance) -> Tuple[str, ...]:
    """The passes a step needs, in the reference batch order (cond, uncond, perturbed, isolated)."""
    video, audio = guidance.video, guidance.audio
    wanted = {
        "cond": True,
        "uncond": video.uses_uncond or audio.uses_uncond,
        "perturbed": video.uses_perturbed or audio.uses_perturbed,
        "isolated": video.uses_isolated or audio.uses_isolated,
    }
    return tuple(name for name in PASS_ORDER if wanted[name])


def _guide_stream(
    cond: torch.Tensor,
    uncond: Optional[torch.Tensor],
    perturbed: Optional[torch.Tensor],
    isolated: Optional[torch.Tensor],
    params: GuidanceParams,
) -> torch.Tensor:
    work = calc_dtype(cond.dtype)
    c = cond.to(work)
    pred = c
    if uncond is not None:
        pred = pred + (params.cfg - 1.0) * (c - uncond.to(work))
    if perturbed is not None:
        pred = pred + params.stg * (c - perturbed.to(work))
    if isolated is not None:
        pred = pred + (params.modality - 1.0) * (c - isolated.to(work))
    if params.rescale != 0.0:
        item_dims = tuple(range(1, c.ndim))
        factor = c.std(dim=item_dims, keepdim=True) / pred.std(dim=item_dims, keepdim=True)  # (B, 1, ...)
        pred = pred * (params.rescale * factor + (1.0 - params.rescale))
    return pred.to(cond.dtype)


Pair = Tuple[torch.Tensor, torch.Tensor]


def guide(
    cond: Pair,
    guidance: Guidance,
    uncond: Optional[Pair] = None,
    perturbed: Optional[Pair] = None,
    isolated: Optional[Pair] = None,
) -> Pair:
    """Guided (video_x0, audio_x0) from the (video, audio) x0 predictions of each pass.

    Passes given as None contribute nothing; a stream whose prediction is None stays None.
    """
    results = []
    for index, params in enumerate((guidance.video, guidance.audio)):
        c = cond[index]
        if c is None:
            results.append(None)
            continue
        results.append(
            _guide_stream(
                c,
                uncond[index] if uncond is not None else None,
                perturbed[index] if perturbed is not None else None,
                isolated[index] if isolated is not None else None,
                params,
            )
        )
    return results[0], results[1]
