"""The low-level denoising loop: explicit initial noise, guidance passes, sampler, callback.

`denoise` runs one stage: it noises the conditioned states, then for every step asks the
transformer for velocities of the passes the guidance needs (batched into one call, or one call
per pass), turns them into x0 with per-token sigmas, combines them (`guidance.guide`), pins
conditioned tokens (`sampler.blend_clean`) and steps the sampler. `callback(step, total, video_x0,
audio_x0)` sees the current x0 estimates (unpatchified, conditioning tokens dropped) after every
step; an exception raised in it propagates out of `denoise` and nothing is left half-done. A step whose
latents hold NaN / Inf stops the loop with `validation.NonFiniteError` naming the step.
"""

import contextlib
import math
from dataclasses import dataclass, replace
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch

from ..errors import InputError
from ..text.encoder import TextContext
from ..transformer.inputs import NO_BLOCKS, ItemPerturbation, ModalityInput, Perturbations
from .conditioning import StreamState, noise_state
from .guidance import NO_GUIDANCE, Guidance, guide, plan_passes
from ..transformer.positions import unpatchify_audio, unpatchify_video
from ..transformer.step_cache import StepCache
from ..validation import check_finite
from .latents import LatentShape, draw_noise
from .sampler import (ALL_SAMPLERS, EulerAncestral, GradientEstimation, Res2s, blend_clean, euler_step, to_x0,
                      token_sigmas)

ANCESTRAL_SEED_OFFSET = 10000  # official: the ancestral loop's generator is seeded pipeline seed + 10000
Callback = Callable[[int, int, Optional[torch.Tensor], Optional[torch.Tensor]], None]


@dataclass(frozen=True)
class DenoiseResult:
    """Final tokens of both streams (appended conditioning tokens included) and their latents."""

    video_tokens: Optional[torch.Tensor]  # (B, T_v, C)
    audio_tokens: Optional[torch.Tensor]  # (B, T_a, C)
    video: Optional[torch.Tensor]  # (B, C, F, H, W)
    audio: Optional[torch.Tensor]  # (B, 8, T_a, 16)


def video_latent(tokens: torch.Tensor, state: StreamState, shape: LatentShape) -> torch.Tensor:
    """Drop appended conditioning tokens and unpatchify to (B, C, F, H, W)."""
    return unpatchify_video(tokens[:, : state.target_tokens], shape.frames, shape.height, shape.width)


def audio_latent(tokens: torch.Tensor, state: StreamState, shape: LatentShape) -> torch.Tensor:
    """Drop appended tokens and unpatchify to (B, 8, T_a, 16)."""
    return unpatchify_audio(tokens[:, : state.target_tokens], shape.audio_channels, shape.audio_mel_bins)


def _sigma_dtype(device: torch.device) -> torch.dtype:
    """The model's per-item sigma in float64 (float32 on MPS, which has no float64): res_2s midpoint sigmas
    sqrt(sigma * sigma_next) are no float32 values, and the official loop hands them over in double precision
    (their x1000 timestep is rounded to float32 once, in the embedding)."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


def _stream_input(state: Optional[StreamState], x: Optional[torch.Tensor], sigma: float,
                  context: torch.Tensor, enabled: bool = True) -> Optional[ModalityInput]:
    if state is None:
        return None
    batch = x.shape[0]
    step_sigma = 0.0 if state.frozen else sigma
    return ModalityInput(
        latent=x,
        sigma=torch.full((batch,), step_sigma, dtype=_sigma_dtype(x.device), device=x.device),
        timesteps=token_sigmas(state.mask, step_sigma, x.dtype),
        positions=state.positions,
        context=context,
        attention_mask=state.attention_mask,
        enabled=enabled,
        keyframes_mask=state.keyframes_mask() if state.marked else None,
    )


def _context(state: Optional[StreamState], context: TextContext, positive: TextContext) -> TextContext:
    """The context a stream sees in a pass: a frozen stream (audio-to-video) keeps the positive prompt even in
    the unconditioned pass. Official: Lightricks/LTX-2 @ 400fd310 (2026-08-16) `_guided_denoise` gives a
    stream without a negative context its positive one, and `a2vid_two_stage` builds the audio guider
    without one (as ltx-pipelines 1.0.0 did); frozen streams get Modality.sigma 0 (`_stream_input`)."""
    return positive if state is not None and state.frozen else context


def _pass_perturbations(name: str, guidance: Guidance, batch: int) -> Perturbations:
    if name == "perturbed":  # STG: each stream's self-attention skipped in its own blocks
        item = ItemPerturbation(
            video_self_attn=frozenset(guidance.video.stg_blocks) if guidance.video.uses_perturbed else NO_BLOCKS,
            audio_self_attn=frozenset(guidance.audio.stg_blocks) if guidance.audio.uses_perturbed else NO_BLOCKS,
        )
        return Perturbations((item,) * batch)
    if name == "isolated":
        return Perturbations.isolate_modalities(batch)
    return Perturbations.none(batch)


def _cat_inputs(inputs: Sequence[Optional[ModalityInput]]) -> Optional[ModalityInput]:
    if inputs[0] is None:
        return None
    return ModalityInput(
        latent=torch.cat([i.latent for i in inputs]),
        sigma=torch.cat([i.sigma for i in inputs]),
        timesteps=torch.cat([i.timesteps for i in inputs]),
        positions=torch.cat([i.positions for i in inputs]),
        context=torch.cat([i.context for i in inputs]),
        attention_mask=None if inputs[0].attention_mask is None else torch.cat([i.attention_mask for i in inputs]),
        enabled=inputs[0].enabled,
        keyframes_mask=None if inputs[0].keyframes_mask is None else torch.cat([i.keyframes_mask for i in inputs]),
    )


def _split(velocity: Optional[torch.Tensor], batch: int, count: int) -> list:
    return [None] * count if velocity is None else list(velocity.split(batch))


def _x0(x: Optional[torch.Tensor], velocity: Optional[torch.Tensor], given: Optional[ModalityInput]):
    return None if x is None else to_x0(x, velocity, given.timesteps)


def run_passes(
    model: Callable,
    video: Optional[StreamState],
    audio: Optional[StreamState],
    x_video: Optional[torch.Tensor],
    x_audio: Optional[torch.Tensor],
    sigma: float,
    positive: TextContext,
    negative: Optional[TextContext],
    guidance: Guidance,
    batched: bool = True,
    skipping: Tuple[bool, bool] = (False, False),
    step_cache: Optional[StepCache] = None,
) -> Dict[str, Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]]:
    """{pass name: (video_x0, audio_x0)} for the passes `guidance` needs at noise level `sigma`.

    `skipping` (video, audio): a stream whose guided x0 is reused this step (guidance skip_step) goes into
    the cond, perturbed and isolated passes disabled (`ModalityInput.enabled=False`: attended by the other
    stream, not run through the blocks) and into the uncond pass enabled, as ltx-pipelines 1.0.0's
    `multi_modal_guider_denoising_func` does (Lightricks/LTX-2 @ 400fd310 disables it in the uncond pass
    too). Passes whose streams differ in `enabled` run in separate transformer calls.

    `batched`: all passes in one transformer call (batch = passes x B), falling back to one call per
    pass when that runs out of memory. A stream given as None (audio-only / video-only) stays None.
    `step_cache`: each call gets the cache slot of its passes and enabled flags (`transformer.step_cache`).
    """
    passes = plan_passes(guidance)
    if "uncond" in passes and negative is None:
        raise InputError("CFG scale != 1 needs a negative prompt context: pass one, or set cfg to 1.")
    batch = (x_video if x_video is not None else x_audio).shape[0]
    per_pass = []
    for name in passes:
        context = negative if name == "uncond" else positive
        per_pass.append((
            _stream_input(video, x_video, sigma, _context(video, context, positive).video,
                          name == "uncond" or not skipping[0]),
            _stream_input(audio, x_audio, sigma, _context(audio, context, positive).audio,
                          name == "uncond" or not skipping[1]),
            _pass_perturbations(name, guidance, batch),
        ))
    same_context = negative is None or (
        negative.video.shape[1:] == positive.video.shape[1:] and negative.audio.shape[1:] == positive.audio.shape[1:]
    )
    groups: Dict[tuple, List[int]] = {}  # passes that can share one call: same `enabled` flags
    for index, (v_in, a_in, _) in enumerate(per_pass):
        groups.setdefault((v_in is None or v_in.enabled, a_in is None or a_in.enabled), []).append(index)
    outputs: list = [None] * len(per_pass)
    for flags, members in groups.items():
        group = [per_pass[i] for i in members]
        results = None
        if batched and len(group) > 1 and same_context:
            names = tuple(passes[i] for i in members)
            results = _batched_call(_cached(model, step_cache, (names, flags)), group, batch)
        if results is None:
            results = [_cached(model, step_cache, ((passes[i],), flags))(v_in, a_in, ptb)
                       for i, (v_in, a_in, ptb) in zip(members, group)]
        for index, result in zip(members, results):
            outputs[index] = result
    return {
        name: (_x0(x_video, v_vel, v_in), _x0(x_audio, a_vel, a_in))
        for name, (v_in, a_in, _), (v_vel, a_vel) in zip(passes, per_pass, outputs)
    }


def _cached(model: Callable, step_cache: Optional[StepCache], key: tuple) -> Callable:
    """`model`, given the step cache slot `key` when a step cache is on."""
    if step_cache is None:
        return model
    return lambda v_in, a_in, ptb: model(v_in, a_in, ptb, step_cache=step_cache.slot(key))


def _batched_call(model: Callable, group: list, batch: int) -> Optional[list]:
    """[(video_velocity, audio_velocity)] of `group`'s passes from one transformer call (batch = passes x B);
    None when that runs out of memory (the caller then runs one pass at a time)."""
    perturbations = Perturbations(tuple(item for p in group for item in p[2].items))
    try:
        v_vel, a_vel = model(_cat_inputs([p[0] for p in group]), _cat_inputs([p[1] for p in group]), perturbations)
    except torch.OutOfMemoryError:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return None
    return list(zip(_split(v_vel, batch, len(group)), _split(a_vel, batch, len(group))))


def _blend(x0: Optional[torch.Tensor], state: Optional[StreamState]) -> Optional[torch.Tensor]:
    return None if x0 is None else blend_clean(x0, state.mask, state.clean)


class _Predictor:
    """Guided, mask-blended x0 of both streams at (xs, sigma); applies guidance skip_step for `step`.

    The last guided x0 (before blending) is what a skipped step reuses.
    """

    def __init__(self, model, video, audio, positive, negative, guidance, batch_passes, step_cache=None):
        self.model, self.states, self.step_cache = model, (video, audio), step_cache
        self.positive, self.negative, self.guidance, self.batch_passes = positive, negative, guidance, batch_passes
        self.last: Optional[tuple] = None

    def __call__(self, xs: List[Optional[torch.Tensor]], sigma: float, step: int) -> list:
        guidance = self.guidance
        skips = (guidance.video.skips(step), guidance.audio.skips(step))
        if self.last is not None and all(skips):
            x0s = list(self.last)
        else:
            skipping = skips if self.last is not None else (False, False)
            preds = run_passes(self.model, *self.states, xs[0], xs[1], sigma, self.positive, self.negative,
                               guidance, self.batch_passes, skipping, self.step_cache)
            x0s = list(guide(preds["cond"], guidance, preds.get("uncond"), preds.get("perturbed"),
                             preds.get("isolated")))
            if self.last is not None:
                x0s = [old if skip else new for old, new, skip in zip(self.last, x0s, skips)]
        self.last = tuple(x0s)
        return [_blend(x0, s) for x0, s in zip(x0s, self.states)]


def _first_order_steps(predict: _Predictor, sampler, states, xs: list, sigmas: torch.Tensor) -> Iterator:
    """Euler / gradient-estimation / ancestral-Euler steps; yields (xs, x0s) after every step."""
    steppers = [GradientEstimation(), GradientEstimation()] if sampler == "gradient_estimation" else None
    ancestral = sampler if isinstance(sampler, EulerAncestral) else None
    for step in range(sigmas.numel() - 1):
        sigma, sigma_next = sigmas[step].item(), sigmas[step + 1].item()
        x0s = predict(xs, sigma, step)
        for i, s in enumerate(states):  # video before audio: the ancestral noise is drawn in this order
            if s is None:
                continue
            if ancestral is not None:
                xs[i] = ancestral.step(xs[i], x0s[i], sigma, sigma_next, s.mask, s.clean)
            elif steppers is None:
                xs[i] = euler_step(xs[i], x0s[i], sigma, sigma_next)
            else:
                xs[i] = steppers[i].step(xs[i], x0s[i], sigma, sigma_next)
        yield xs, x0s


def _res2s_steps(predict: _Predictor, res2s: Res2s, states, xs: list, sigmas: torch.Tensor) -> Iterator:
    """res_2s steps (official loop order: both streams' midpoints, one midpoint model call, both steps);
    a final sigma 0 adds one model call at RES2S_FINAL_SIGMA whose x0 is the result. Yields (xs, x0s)
    with the latest x0 estimate after every step."""
    schedule = res2s.schedule(sigmas)
    total = sigmas.numel() - 1
    for step in range(total):
        sigma, sigma_next = schedule[step].item(), schedule[step + 1].item()
        x0s = predict(xs, sigma, step)
        mids = [None if s is None else res2s.midpoint(xs[i], x0s[i], s.mask, s.clean, sigma, sigma_next)
                for i, s in enumerate(states)]
        sub_sigma = math.sqrt(sigma * sigma_next)
        x0s = predict([None if m is None else m.x for m in mids], sub_sigma, 0)
        for i, s in enumerate(states):
            if s is not None:
                xs[i] = res2s.step(mids[i], x0s[i], s.mask, s.clean, sigma, sigma_next)
        if step == total - 1 and schedule.numel() > sigmas.numel():
            x0s = predict(xs, schedule[total].item(), total)
            xs = list(x0s)
        yield xs, x0s


def denoise(
    model: Callable,
    shape: LatentShape,
    video: Optional[StreamState],
    audio: Optional[StreamState],
    sigmas: torch.Tensor,
    positive: TextContext,
    negative: Optional[TextContext] = None,
    guidance: Guidance = NO_GUIDANCE,
    noise: Optional[Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]] = None,
    generator: Optional[torch.Generator] = None,
    noise_scale: float = 1.0,
    sampler: Union[str, Res2s, EulerAncestral] = "euler",
    callback: Optional[Callback] = None,
    batch_passes: bool = True,
    step_cache: Optional[StepCache] = None,
    predictor: Optional[Callable] = None,
) -> DenoiseResult:
    """Denoise conditioned `video` and `audio` states along `sigmas` (one stage).

    Either state may be None (audio-only / video-only generation).
    noise: explicit (video, audio) noise in token layout (B, T, C) covering appended tokens; when
    None it is drawn from `generator` (video first, then audio) in the state dtype.
    noise_scale: 1 for a stage starting from pure noise; sigma_0 when refining (stage 2).
    sampler: "euler" (the reference), "gradient_estimation", "res_2s" (`sampler.Res2s` with the official
    defaults; two model calls per step) or a `Res2s` instance with other settings; "euler_ancestral" or an
    `EulerAncestral` instance (LTX-2.5 distilled stage 1; the string form seeds its noise with the
    generator's seed + ANCESTRAL_SEED_OFFSET, as the official pipeline does).
    step_cache: opt-in first-block step cache (`transformer.step_cache.StepCache`), empty when the stage starts
    and emptied when it ends (its residuals are not kept past the stage).
    predictor: a factory taking _Predictor's arguments (model, video, audio, positive, negative, guidance,
    batch_passes, step_cache) and returning a drop-in predictor (`context_windows.ContextWindows.predictor`).
    """
    sigmas = torch.as_tensor(sigmas, dtype=torch.float32).cpu()
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise InputError("sigmas need at least two values (start and end).")
    if sampler == "euler_ancestral":
        sampler = EulerAncestral(seed=-1 if generator is None or isinstance(generator, (list, tuple))
                                 else generator.initial_seed() + ANCESTRAL_SEED_OFFSET)
    if isinstance(sampler, EulerAncestral):
        sampler = replace(sampler)  # a fresh generator per stage
    elif not isinstance(sampler, Res2s) and sampler not in ALL_SAMPLERS:
        raise InputError(f"Unknown sampler {sampler!r}: use one of {', '.join(ALL_SAMPLERS)}.")
    states = (video, audio)
    if video is None and audio is None:
        raise InputError("Nothing to denoise: give a video state, an audio state or both.")
    if noise is None:
        if generator is None:
            raise InputError("denoise needs either explicit noise or a generator.")
        noise = tuple(
            None if s is None else draw_noise([s.latent.shape], generator, s.latent.dtype, s.latent.device)[0]
            for s in states
        )
    xs = [None if s is None else noise_state(s, n.to(s.latent.device), noise_scale) for s, n in zip(states, noise)]
    predict = (predictor or _Predictor)(model, video, audio, positive, negative, guidance, batch_passes, step_cache)
    total = sigmas.numel() - 1
    with torch.no_grad(), _fresh(step_cache):
        if isinstance(sampler, Res2s) or sampler == "res_2s":
            res2s = replace(sampler) if isinstance(sampler, Res2s) else Res2s()
            steps = _res2s_steps(predict, res2s, states, xs, sigmas)
        else:
            steps = _first_order_steps(predict, sampler, states, xs, sigmas)
        for step, (xs, x0s) in enumerate(steps):
            for x, stream in zip(xs, ("video", "audio")):
                check_finite(x, f"Denoising step {step + 1}/{total} ({stream} latent)")
            if callback is not None:
                callback(step, total, _video_latent(x0s[0], video, shape), _audio_latent(x0s[1], audio, shape))
    return DenoiseResult(
        video_tokens=xs[0],
        audio_tokens=xs[1],
        video=_video_latent(xs[0], video, shape),
        audio=_audio_latent(xs[1], audio, shape),
    )


@contextlib.contextmanager
def _fresh(step_cache: Optional[StepCache]):
    """`step_cache` starts empty and frees its residuals when the stage ends, also on errors."""
    if step_cache is not None:
        step_cache.reset()
    try:
        yield
    finally:
        if step_cache is not None:
            step_cache.reset()


def _video_latent(tokens, state, shape):
    return None if tokens is None else video_latent(tokens, state, shape)


def _audio_latent(tokens, state, shape):
    return None if tokens is None else audio_latent(tokens, state, shape)
