"""The documented Python API: load the components from paths, then `generate(...)` a clip.

    from ltx2_core.pipeline.generate import load_components, generate
    parts = load_components("ltx-2-19b-dev.safetensors", text_encoder="gemma-3-12b/",
                            upsampler="ltx-2-spatial-upscaler-x2-1.0.safetensors",
                            distilled_lora="ltx-2-19b-distilled-lora-384.safetensors")
    clip = generate(parts, "A red fox runs through snow", width=1536, height=1024, frames=121, seed=10)
    clip.save("fox.mp4")

Text-to-audio+video, image-to-video (`images=[VideoInput(pixels)]`), keyframes at any frame
(`VideoInput(pixels, frame_index=k)`), continuing a clip (a clip at frame 0), audio-to-video
(`audio=AudioInput(waveform, rate)`), text-to-audio (`audio_only=True`); one or two stages.

Batches: `generate(..., seed=s, batch_size=n)` (or `seeds=[...]`) returns a list of n Generations in
one denoising run; item i uses seed s + i (or seeds[i]) and equals `generate(..., seed=s + i)`.
"""

import contextlib
import os
from dataclasses import dataclass, field, replace
from typing import Any, List, Optional, Sequence, Tuple, Union

import torch

from ..attention import sdpa_attention
from ..compile import CompileOptions, CompiledTransformer
from ..errors import InputError
from ..validation import (
    check_finite, check_fps, check_frame_index, check_guidance, check_pixels, check_seed, check_steps, check_strength,
)
from .denoise import Callback, TextContext
from .guidance import (
    LTX2_DEV_GUIDANCE, LTX23_DEV_GUIDANCE, NO_GUIDANCE, Guidance, check_stg_blocks, fit_stg_blocks,
)
from .component_files import component_files, load_text_encoder_files, load_transformer_file
from .latents import latent_shape, make_generator, validate_file, validate_path
from .lora import load_lora, lora_hooks
from ..release import Release, read_release
from .duration import predict_frames
from .release_defaults import image_crf, stage1_sampler
from .keyframe_slots import KeyframeRequest, keyframe_slot_items, wants_keyframes
from .reference import ReferenceControl, reference_audio_items, reference_video_items
from .sampler import Res2s
from .schedules import DISTILLED_SIGMAS, as_sigmas, ltx2_sigmas
from .two_stage import (
    AudioInput, Stage, VideoInput, encode_audio_input, encode_video_inputs, run_stage, stage1_conditioning,
    stage1_geometry, stage2, upsample_video_latent,
)
from .video_io import write_video
from ..transformer.step_cache import StepCache

# ltx-pipelines constants.py DEFAULT_NEGATIVE_PROMPT (2.0 / 2.3 era), shortened to its first part.
DEFAULT_NEGATIVE_PROMPT = (
    "blurry, out of focus, overexposed, underexposed, low contrast, washed out colors, excessive noise, "
    "grainy texture, poor lighting, flickering, motion blur, distorted proportions, unnatural skin tones, "
    "deformed facial features, asymmetrical face, missing facial features, extra limbs, disfigured hands, "
    "wrong hand count, artifacts around text, inconsistent perspective, camera shake, silent or muted audio, "
    "distorted voice, robotic voice, echo, background noise, off-sync audio, jittery movement, AI artifacts."
)


@dataclass
class Components:
    """The loaded models of a generation. Optional parts are only needed by some features."""

    transformer: torch.nn.Module
    video_vae: Any = None  # VideoVAE: decode (always), encode (image / video conditioning)
    audio_vae: Any = None  # AudioVAE: decode (always), encode (audio-to-video)
    vocoder: Any = None
    text_encoder: Any = None  # has .encode(prompts) -> object with .video / .audio contexts
    upsampler: Any = None  # LatentUpsampler, for two stages
    stage2_lora: Any = None  # parsed distilled LoRA, applied (hooks) in stage 2 of a dev model
    stage2_lora_strength: float = 1.0
    distilled: bool = False  # the user says so (dev and distilled LTX-2.5 files have identical headers)
    release: Release = Release()  # the transformer file's model_version / gemma_source_checkpoint
    duration_head: Any = None  # model_patches.DurationHead (LTX-2.5), for frames="auto"

    @property
    def version(self) -> str:
        return getattr(self.transformer.config, "version", "2.0")

    @property
    def dtype(self) -> torch.dtype:
        dtype = getattr(self.transformer, "compute_dtype", None)
        return dtype if dtype is not None else next(self.transformer.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device


def load_components(
    checkpoint: str,
    *,
    text_encoder: Optional[str] = None,
    upsampler: Optional[str] = None,
    distilled_lora: Optional[str] = None,
    loras: Sequence[Tuple[str, float]] = (),
    video_vae: Optional[str] = None,
    audio_vae: Optional[str] = None,
    vocoder: Optional[str] = None,
    distilled: bool = False,
    dtype: torch.dtype = torch.bfloat16,
    device: str = "cpu",
    attention_fn=sdpa_attention,
    duration_head: Optional[str] = None,
) -> Components:
    """Load every part from files. The official single-file checkpoint holds the transformer, both VAEs,
    the vocoder and the text connectors, so `video_vae` / `audio_vae` default to `checkpoint` and `vocoder`
    to `audio_vae`. `checkpoint` may also be a GGUF transformer (weights stay packed, dequantized per layer;
    it carries the text connectors but no VAEs: pass `video_vae` and `audio_vae`, e.g. the single file) and
    `text_encoder` a Gemma 3 folder, safetensors file or GGUF file, as the ComfyUI loader nodes accept.
    `loras` are merged into the transformer (attached as per-layer patches for GGUF); `distilled_lora` is kept
    apart and applied in stage 2 only. `attention_fn` (e.g. `make_attention("sage")`) goes to the transformer
    and the text encoder. `duration_head`: the LTX-2.5 duration head file (for `generate(frames="auto")`)."""
    from ..audio import load_audio_vae, load_vocoder
    from ..video_vae import load_video_vae

    for path, what in ((checkpoint, "Checkpoint"), (video_vae, "Video VAE"), (audio_vae, "Audio VAE"),
                       (vocoder, "Vocoder")):  # a file, a shard index or a (sharded) folder
        if what == "Checkpoint" or path is not None:
            validate_path(path, what)
    for path, what in ((upsampler, "Upsampler"), (distilled_lora, "Distilled LoRA")):
        if path is not None:
            validate_file(path, what)
    for path, _ in loras:
        validate_file(path, "LoRA")
    if text_encoder is not None:
        validate_path(text_encoder, "Text encoder")
    if duration_head is not None:
        validate_file(duration_head, "Duration head")
    video_vae, audio_vae, vocoder = component_files(checkpoint, video_vae, audio_vae, vocoder)
    transformer = load_transformer_file(checkpoint, loras, dtype, device, attention_fn)
    parts = Components(
        transformer=transformer,
        video_vae=load_video_vae(video_vae, dtype=dtype, device=device).eval(),
        audio_vae=load_audio_vae(audio_vae, dtype=dtype, device=device).eval(),
        vocoder=load_vocoder(vocoder, dtype=dtype, device=device).eval(),
        distilled=distilled,
        release=read_release(checkpoint),
    )
    if upsampler is not None:
        from ..upsampler import load_latent_upsampler

        parts.upsampler = load_latent_upsampler(upsampler, dtype=dtype, device=device).eval()
    if distilled_lora is not None:
        parts.stage2_lora = load_lora(distilled_lora)
    if duration_head is not None:
        from ..model_patches import load_duration_head

        parts.duration_head = load_duration_head(duration_head, dtype=dtype, device=device).eval()
    if text_encoder is not None:
        parts.text_encoder = load_text_encoder_files(text_encoder, checkpoint, dtype, device, attention_fn)
    return parts


def encode_prompts(encoder: Any, prompts: Sequence[str]) -> Tuple[TextContext, ...]:
    """One TextContext per prompt from a text encoder whose encode(prompts) returns batched contexts."""
    if encoder is None:
        raise InputError("No text encoder is loaded: pass text_encoder= to load_components, or contexts= to generate.")
    with torch.no_grad():
        out = encoder.encode(list(prompts))
    return tuple(TextContext(out.video[i : i + 1], out.audio[i : i + 1]) for i in range(len(prompts)))


@dataclass
class Generation:
    """A generated clip: pixels (3, F, H, W) in [-1, 1] (None for audio-only), waveform (C, N)."""

    video: Optional[torch.Tensor]
    audio: Optional[torch.Tensor]
    sample_rate: int
    fps: float
    video_latent: Optional[torch.Tensor] = None
    audio_latent: Optional[torch.Tensor] = None
    info: dict = field(default_factory=dict)

    def save(self, path: str) -> str:
        """Write the clip atomically: .mp4 / .mkv (H.264 + AAC) or .webm (VP9 + Opus); video required."""
        if self.video is None:
            raise InputError("This generation is audio-only: write its waveform (video_io.write_audio) instead.")
        return write_video(path, self.video, self.fps, self.audio, self.sample_rate)


# Architectures whose dev runs use the LTX-2.3 presets (30 steps, LTX_2_3_PARAMS): LTX-2.5 keeps them
# (release_defaults: only the distilled stage-1 sampler and the image CRF change).
LTX23_PRESET_VERSIONS = ("2.3", "2.5")


def default_guidance(parts: Components) -> Guidance:
    """The reference guidance for the loaded model: none for distilled models, else the dev preset, its STG
    blocks fitted to the model's depth (`guidance.fit_stg_blocks`: a shallow model gets the same relative depth)."""
    if parts.distilled:
        return NO_GUIDANCE
    preset = LTX23_DEV_GUIDANCE if parts.version in LTX23_PRESET_VERSIONS else LTX2_DEV_GUIDANCE
    layers = getattr(parts.transformer.config, "num_layers", None)
    return preset if layers is None else fit_stg_blocks(preset, layers)


def default_stage1(parts: Components, steps: Optional[int], guidance: Optional[Guidance],
                   sigmas: Optional[Sequence[float]], sampler: str) -> Stage:
    """The reference stage-1 settings for the loaded model (dev: LTX2Scheduler + guidance)."""
    if sigmas is not None:
        schedule = as_sigmas(sigmas)
    elif parts.distilled:
        schedule = torch.tensor(DISTILLED_SIGMAS, dtype=torch.float32)
    else:
        schedule = ltx2_sigmas(steps or (30 if parts.version in LTX23_PRESET_VERSIONS else 40))
    if guidance is None:
        guidance = default_guidance(parts)
    layers = getattr(parts.transformer.config, "num_layers", None)
    if layers is not None:
        check_stg_blocks(guidance, layers)
    return Stage(schedule, guidance, sampler)


def generate(
    parts: Components,
    prompt: str = "",
    *,
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
    width: int = 768,
    height: int = 512,
    frames: Union[int, str] = 121,
    fps: float = 24.0,
    seed: int = 10,
    steps: Optional[int] = None,
    guidance: Optional[Guidance] = None,
    sigmas: Optional[Sequence[float]] = None,
    images: Sequence[VideoInput] = (),
    audio: Optional[AudioInput] = None,
    audio_only: bool = False,
    two_stage: bool = False,
    sampler: str = "euler",
    contexts: Optional[Tuple[TextContext, Optional[TextContext]]] = None,
    callback: Optional[Callback] = None,
    decode_tiling: Any = None,
    batch_passes: bool = True,
    batch_size: int = 1,
    seeds: Optional[Sequence[int]] = None,
    step_cache: Optional[StepCache] = None,
    compile_options: Optional[CompileOptions] = None,
    reference: Optional[ReferenceControl] = None,
    audio_items: Sequence = (),
    generated_keyframes: KeyframeRequest = 0,
    context_windows: Any = None,
) -> Union[Generation, List[Generation]]:
    """Generate a clip (see the module docstring). width x height x frames is the OUTPUT size; with
    two_stage, stage 1 runs at the size the loaded upsampler takes to it (`two_stage.stage1_geometry`):
    half of it for the spatial x2 upsampler (so both must be multiples of 64), 2/3 for x1.5, half the
    frames at half the frame rate for the temporal x2 upsampler (frames must be 16k + 1). frames="auto" (LTX-2.5)
    takes the length from `parts.duration_head` (`pipeline.duration.predict_frames`: 1..20 s, 8k + 1 frames).

    batch_size > 1 (or explicit `seeds`) generates several clips in one run and returns a list: item i
    starts from the noise of seed + i (or seeds[i]) and equals a batch-1 run with that seed; the prompt
    and conditioning are shared. With the res_2s sampler (its SDE noise is drawn for the whole batch from
    fixed seeds, which would couple the items) they run one after another to keep that property.

    callback(step, total, video_x0, audio_x0) is called after every denoising step of every stage
    (total counts the steps of all stages); raising in it stops the generation.

    step_cache: opt-in first-block step cache (`StepCache(threshold)`, reset at every stage);
    compile_options: opt-in regional torch.compile of the transformer blocks (`ltx2_core.compile`).
    reference: IC-LoRA reference video and / or reference voice (`pipeline.reference`); the reference video and
    its IC-LoRA act in stage 1 only (as the official IC-LoRA pipeline), the reference voice in every stage.
    audio_items: extra audio-stream conditioning items (e.g. `extend.AudioPrefix`), applied in every stage.
    generated_keyframes (LTX-2.5): a count of evenly spaced interior frames, or pixel frame indices, where the
    model generates an extra single-frame keyframe with the clip (`pipeline.keyframe_slots`; stage 1 only).
    context_windows: `context_windows.ContextWindows(window_frames, overlap_frames)`: denoise in overlapping
    temporal windows on both streams (one stage, audio+video, frame-0 conditioning only).
    """
    item_seeds = _item_seeds(seed, batch_size, seeds)
    if frames == "auto":  # LTX-2.5: the duration head reads the positive prompt's connector outputs
        positive = contexts[0] if contexts is not None else encode_prompts(parts.text_encoder, [prompt])[0]
        frames = predict_frames(parts.duration_head, positive.video, positive.audio, fps)
    if isinstance(sampler, str):  # LTX-2.5 distilled: ancestral stage 1 (release_defaults)
        sampler = stage1_sampler(getattr(parts, "release", Release()).version, parts.distilled, sampler)
    kwargs = dict(negative_prompt=negative_prompt, width=width, height=height, frames=frames, fps=fps, steps=steps,
                  guidance=guidance, sigmas=sigmas, images=images, audio=audio, audio_only=audio_only,
                  two_stage=two_stage, sampler=sampler, contexts=contexts, callback=callback,
                  decode_tiling=decode_tiling, batch_passes=batch_passes, step_cache=step_cache,
                  compile_options=compile_options, reference=reference, audio_items=tuple(audio_items),
                  generated_keyframes=generated_keyframes, context_windows=context_windows)
    if seeds is None and batch_size == 1:
        return _generate(parts, prompt, item_seeds, **kwargs)[0]
    if len(item_seeds) > 1 and (isinstance(sampler, Res2s) or sampler in ("res_2s", "euler_ancestral")):
        return [generate(parts, prompt, seed=s, **kwargs) for s in item_seeds]
    return _generate(parts, prompt, item_seeds, **kwargs)


def _stage2_sampler(sampler):
    """Stage 2 keeps plain Euler where stage 1 is ancestral (official distilled pipeline)."""
    return "euler" if sampler == "euler_ancestral" else sampler


def _item_seeds(seed: int, batch_size: int, seeds: Optional[Sequence[int]]) -> List[int]:
    """The seed of every batch item: `seeds` as given, else seed, seed + 1, ..., seed + batch_size - 1."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size {batch_size!r} is invalid: use a whole number of clips, 1 or more.")
    if seeds is None:
        return [int(seed) + i for i in range(batch_size)]
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise InputError("seeds is empty: give one seed per clip, or leave it out and use seed= and batch_size=.")
    if batch_size not in (1, len(seeds)):
        raise InputError(f"batch_size {batch_size} does not match the {len(seeds)} seeds given: "
                         "give one seed per clip, or leave batch_size out.")
    return seeds


def _batched_context(context: Optional[TextContext], batch: int) -> Optional[TextContext]:
    """A batch-1 text context repeated for every item of the batch."""
    if context is None or batch == 1 or context.video.shape[0] != 1:
        return context

    def grow(t):
        return None if t is None else t.expand(batch, *t.shape[1:])

    return TextContext(grow(context.video), grow(context.audio), grow(context.mask))


def _generate(parts: Components, prompt: str, seeds: List[int], *, negative_prompt, width, height, frames, fps,
              steps, guidance, sigmas, images, audio, audio_only, two_stage, sampler, contexts, callback,
              decode_tiling, batch_passes, step_cache, compile_options, reference,
              audio_items=(), generated_keyframes: KeyframeRequest = 0,
              context_windows=None) -> List[Generation]:
    """One denoising run for len(seeds) clips; one Generation per seed."""
    _check_arguments(seeds, frames, fps, steps, guidance, images, audio)
    crf = image_crf(getattr(parts, "release", Release()).version)  # the model's image re-encode CRF
    images = [given if given.crf is not None else replace(given, crf=crf) for given in images]
    config = getattr(parts.upsampler, "config", None) if two_stage and not audio_only else None
    spatial_x2 = config is None or (config.spatial_upsample and not config.temporal_upsample
                                    and float(config.spatial_scale) == 2.0)
    multiple = 64 if two_stage and spatial_x2 else 32
    batch = len(seeds)
    shape = latent_shape(width, height, frames, fps, batch=batch, multiple=multiple,
                         video_channels=getattr(parts.transformer.config, "in_channels", 128),
                         **_audio_geometry(parts))
    first_size = stage1_geometry(config, width, height, frames, fps) if two_stage else None
    temporal = config is not None and config.temporal_upsample
    for given in images:
        if not isinstance(given, VideoInput):
            raise InputError("images must be VideoInput items.")
    if audio_only and (images or audio is not None or wants_keyframes(generated_keyframes)):
        raise InputError("Audio-only generation takes only a prompt: remove image, audio and keyframe inputs.")
    if two_stage and not audio_only and (parts.upsampler is None or parts.video_vae is None):
        raise InputError("Two-stage generation needs the latent upsampler and the video VAE: pass both, "
                         "or generate in one stage.")
    first_images = stage1_conditioning(images, temporal) if two_stage else list(images)
    stage_one = default_stage1(parts, steps, guidance, sigmas, sampler)
    if audio is not None:  # the audio stream is given: guide only the video
        stage_one = Stage(stage_one.sigmas, Guidance(stage_one.guidance.video, NO_GUIDANCE.audio),
                          stage_one.sampler)
    if contexts is None:
        needs_negative = "uncond" in stage_one.guidance.passes
        encoded = encode_prompts(parts.text_encoder, [prompt, negative_prompt] if needs_negative else [prompt])
        contexts = (encoded[0], encoded[1] if needs_negative else None)
    for context in contexts:
        if context is not None:
            check_finite(context.video, "Text encoding (video context)")
            check_finite(context.audio, "Text encoding (audio context)")
    positive, negative = (_batched_context(c, batch) for c in contexts)
    dtype, device = parts.dtype, parts.device
    generators = [make_generator(s, device) for s in seeds]
    generator = generators[0] if batch == 1 else generators
    audio_latent = None
    if audio is not None:
        audio_latent = encode_audio_input(audio, parts.audio_vae, device, dtype)
    total = stage_one.sigmas.numel() - 1 + (3 if two_stage else 0)
    _check_reference(parts, reference, audio_only, temporal)
    run = dict(positive=positive, negative=negative, generator=generator, dtype=dtype, device=device,
               batch_passes=batch_passes, with_video=not audio_only, audio_latent=audio_latent, step_cache=step_cache,
               audio_items=list(audio_items) + reference_audio_items(reference, parts.audio_vae, device, dtype))

    def compiled(model):
        return model if compile_options is None else CompiledTransformer(model, compile_options)

    def progress(offset: int) -> Optional[Callback]:
        if callback is None:
            return None
        return lambda step, _total, v, a: callback(offset + step, total, v, a)

    if context_windows is not None:
        if two_stage or audio_only or audio is not None:
            raise InputError("Context windows denoise one audio+video stage: remove two_stage / audio_only / audio.")
        run["predictor"] = context_windows.predictor(shape, frames, fps)
    if not two_stage:
        items = encode_video_inputs(images, parts.video_vae, width, height)
        items += keyframe_slot_items(generated_keyframes, shape, parts.transformer.config)
        items += reference_video_items(reference, parts.video_vae, width, height)
        with _reference_model(parts, reference) as model:
            result = run_stage(compiled(model), shape, fps, stage_one, video_items=items, callback=progress(0), **run)
        video_latent, audio_out = result.video, result.audio
    else:
        # Stage 1 keeps the output's audio length (a temporal stage 1 spans (frames + 1) / fps seconds).
        small = replace(latent_shape(first_size.width, first_size.height, first_size.frames, first_size.fps,
                                     batch=batch, video_channels=shape.video_channels, **_audio_geometry(parts)),
                        audio_frames=shape.audio_frames)
        items = encode_video_inputs(first_images, parts.video_vae, first_size.width, first_size.height)
        items += keyframe_slot_items(generated_keyframes, small, parts.transformer.config)
        items += reference_video_items(reference, parts.video_vae, first_size.width, first_size.height)
        with _reference_model(parts, reference) as model:
            first = run_stage(compiled(model), small, first_size.fps, stage_one, video_items=items,
                              callback=progress(0), **run)
        audio_out = first.audio
        video_latent = None
        if first.video is not None:
            upsampled = upsample_video_latent(first.video, parts.upsampler, parts.video_vae)
            if tuple(upsampled.shape) != shape.video:
                raise InputError(f"The upsampler turned the stage-1 latent {tuple(first.video.shape)} into "
                                 f"{tuple(upsampled.shape)}, not {shape.video}: use a spatial x2 / x1.5 or "
                                 "temporal x2 upsampler.")
            items = encode_video_inputs(images, parts.video_vae, width, height)
            with _stage2_model(parts) as model:
                second = run_stage(compiled(model), shape, fps, stage2(_stage2_sampler(sampler)),
                                   video_items=items, initial_video=upsampled, initial_audio=first.audio,
                                   callback=progress(stage_one.sigmas.numel() - 1), **run)
            # every official two-stage pipeline (ti2vid_two_stages, distilled) decodes the stage-2 audio
            video_latent, audio_out = second.video, second.audio
    return [
        _decode(parts, None if video_latent is None else video_latent[i : i + 1],
                None if audio_out is None else audio_out[i : i + 1], audio, frames, fps, generators[i],
                decode_tiling)
        for i in range(batch)
    ]


def _check_arguments(seeds, frames, fps, steps, guidance, images, audio) -> None:
    """The numeric arguments of a generation (ltx2_core.validation rules)."""
    for seed in seeds:
        check_seed(seed)
    check_fps(fps)
    check_steps(steps)
    if guidance is not None:
        check_guidance(guidance)
    for index, given in enumerate(images):
        if isinstance(given, VideoInput):
            check_strength(given.strength, f"images[{index}] strength")
            if isinstance(frames, int):
                check_frame_index(given.frame_index, frames, f"images[{index}] frame_index")
            if given.pixels is not None:
                check_pixels(given.pixels, f"images[{index}]")
    if audio is not None:
        if not isinstance(audio.sample_rate, int) or isinstance(audio.sample_rate, bool) or audio.sample_rate <= 0:
            raise InputError(f"Audio sample rate {audio.sample_rate!r} is invalid: give the waveform's rate in Hz.")
        if not bool(torch.isfinite(audio.waveform).all()):
            raise InputError("The given audio has NaN or Inf samples: give a valid waveform.")


def _audio_geometry(parts: Components) -> dict:
    config = getattr(parts.audio_vae, "config", None)
    if config is None:
        return {}
    return dict(audio_channels=config.z_channels, audio_mel_bins=config.latent_mel_bins)


def _check_reference(parts: Components, reference: Optional[ReferenceControl], audio_only: bool,
                     temporal: bool) -> None:
    """Refuse reference inputs that cannot apply, and an IC-LoRA that does not fit the transformer."""
    if reference is None:
        return
    if reference.video is not None and audio_only:
        raise InputError("Audio-only generation cannot take a reference video: remove it or generate video.")
    if reference.video is not None and temporal:
        raise InputError("A reference video cannot be used with the temporal upsampler: use the spatial x2 "
                         "upsampler or one stage.")
    if reference.ic_lora is not None:
        reference.ic_lora.check_model(parts.transformer)


def _reference_model(parts: Components, reference: Optional[ReferenceControl]):
    """The transformer with the IC-LoRA applied on the fly (the plain transformer without one)."""
    if reference is None or reference.ic_lora is None:
        return contextlib.nullcontext(parts.transformer)
    return lora_hooks(parts.transformer, [(reference.ic_lora.layers, reference.ic_lora.strength)])


def _stage2_model(parts: Components):
    """The stage-2 transformer: a dev model runs with the distilled LoRA applied on the fly (weights untouched)."""
    if parts.stage2_lora is None or parts.distilled:
        return contextlib.nullcontext(parts.transformer)
    return lora_hooks(parts.transformer, [(parts.stage2_lora, parts.stage2_lora_strength)])


def _decode(parts: Components, video_latent, audio_latent, audio: Optional[AudioInput], frames: int, fps: float,
            generator: torch.Generator, tiling) -> Generation:
    from ..audio import decode_to_waveform, fit_to_duration

    seconds = frames / float(fps)
    pixels = None
    with torch.no_grad():
        if video_latent is not None:
            if parts.video_vae is None:
                raise InputError("Decoding the video needs the video VAE (with its decoder).")
            latent = video_latent.to(_param_dtype(parts.video_vae, video_latent.dtype))
            pixels = parts.video_vae.decode(latent, tiling=tiling, generator=generator)[0].float()
            check_finite(pixels, "Video decoding")
            pixels = pixels.clamp(-1, 1)
        if audio is not None:
            wave, rate = fit_to_duration(audio.waveform.float(), audio.sample_rate, seconds), audio.sample_rate
        else:
            if parts.audio_vae is None or parts.vocoder is None:
                raise InputError("Decoding the audio needs the audio VAE (with its decoder) and the vocoder.")
            latent = audio_latent.to(_param_dtype(parts.audio_vae, audio_latent.dtype))
            wave, rate = decode_to_waveform(latent, parts.audio_vae, parts.vocoder, seconds)
            wave = wave[0]
            check_finite(wave, "Audio decoding")
    return Generation(video=pixels, audio=wave, sample_rate=int(rate), fps=fps, video_latent=video_latent,
                      audio_latent=audio_latent)


def _param_dtype(module, fallback: torch.dtype) -> torch.dtype:
    param = next(module.parameters(), None)
    return param.dtype if param is not None else fallback
