"""The LTX-Video side of `python -m ltx2_core generate` / `demo --model ltx-video` (argument mapping only;
the parser and the LTX-2 path stay in ltx2_core/__main__.py)."""

import os
import sys
from typing import Callable, Sequence, Tuple

from ...errors import CheckpointError, InputError
from .components import checkpoint_family, text_encoder_kind

LTX2_ONLY = (("audio", "--audio"), ("audio_only", "--audio-only"), ("audio_vae", "--audio-vae"),
             ("distilled_lora", "--distilled-lora"), ("audio_cfg", "--audio-cfg"), ("ic_lora", "--ic-lora"),
             ("reference_video", "--reference-video"), ("reference_mask", "--reference-mask"),
             ("reference_audio", "--reference-audio"), ("duration_head", "--duration-head"), ("video", "--video"),
             ("long", "--long"), ("num_generated_keyframes", "--num-generated-keyframes"))
LTXV_ONLY = (("decode_timestep", "--decode-timestep"), ("decode_noise_scale", "--decode-noise-scale"))


def _set(args, name: str) -> bool:
    value = getattr(args, name, None)
    return value not in (None, False, [], "")


def route_generate(args, progress: Callable, images: Sequence[Tuple[str, int, float]],
                   loras: Sequence[Tuple[str, float]]) -> bool:
    """Run `generate` for an LTX-Video checkpoint and return True; return False for the LTX-2 path (after
    refusing LTX-Video-only options and a T5 text encoder there). A T5 file as checkpoint gets one line.
    images: parsed --image (path, frame, strength); loras: parsed --lora (path, strength)."""
    path = args.checkpoint
    family = checkpoint_family(path) if os.path.isfile(path) else None
    if family == "t5":
        raise CheckpointError(f"{os.path.basename(path)} is a T5 text encoder, not a diffusion-model checkpoint: "
                              "pass it as --text-encoder and give the LTX-Video file as --checkpoint.")
    if family != "ltx-video":
        if family in ("ltx-2", "ltx-2.5") and text_encoder_kind(args.text_encoder) == "t5":
            raise CheckpointError(f"{os.path.basename(os.path.normpath(args.text_encoder))} is a T5 text encoder "
                                  "(LTX-Video); this LTX-2 checkpoint needs its Gemma 3 text encoder.")
        for name, flag in LTXV_ONLY:
            if _set(args, name):
                raise InputError(f"{flag} is for LTX-Video checkpoints (denoising decoder); remove it for LTX-2.")
        return False
    _run(args, progress, images, loras)
    return True


def _guidance(parts, args):
    """The model's preset guidance with --video-cfg / --stg-blocks applied (to every segment of a piecewise one)."""
    import dataclasses

    from .guidance import LTXVGuidance

    if args.video_cfg is None and args.stg_blocks is None:
        return None
    base = LTXVGuidance.for_model(parts.transformer.config.num_layers, distilled=parts.distilled)
    segments = None if base.thresholds is None else len(base.thresholds)

    def each(value):
        return value if segments is None else tuple(value for _ in range(segments))

    changes = {}
    if args.video_cfg is not None:
        changes["cfg"] = each(float(args.video_cfg))
    if args.stg_blocks is not None:
        try:
            blocks = tuple(int(b) for b in args.stg_blocks.split(",") if b.strip())
        except ValueError:
            raise InputError(f"--stg-blocks {args.stg_blocks!r} is malformed: use e.g. 19 or 11,25.") from None
        changes["stg_blocks"] = each(blocks)
        if segments is None and base.stg == 0.0:
            changes["stg"] = 1.0  # distilled presets have STG off: asking for blocks turns it on
    return dataclasses.replace(base, **changes)


def _run(args, progress: Callable, images, loras) -> None:
    import torch

    from ...pipeline.request import check_request
    from ...pipeline.video_io import read_video
    from .components import check_ltxv_files, load_ltxv_components
    from .generate import generate

    for name, flag in LTX2_ONLY:
        if _set(args, name):
            raise InputError(f"{flag} is for LTX-2 (audio + video); LTX-Video makes video only: remove it.")
    if getattr(args, "sampler", "euler") != "euler":
        raise InputError("LTX-Video samples with its own Euler rectified-flow steps: remove --sampler.")
    check_request(width=args.width, height=args.height, frames=args.frames, fps=args.fps, steps=args.steps,
                  seed=args.seed, batch_size=args.batch_size, images=images, out=args.out,
                  cfgs=(("--video-cfg", args.video_cfg),))
    if args.two_stage and args.upsampler is None:
        raise InputError("--two-stage needs --upsampler PATH (the LTX-Video spatial or temporal upscaler).")
    check_ltxv_files(args.checkpoint, args.text_encoder)
    from ...parallel.cli import setup as parallel_setup

    run = parallel_setup(args)  # --parallel: torchrun ranks share the transformer; rank 0 writes
    writes = run is None or run.writes
    inputs = []
    for path, frame, strength in images:
        pixels, _ = read_video(path, max_frames=args.frames)
        inputs.append((pixels[:, 0] if pixels.shape[1] == 1 else pixels, frame, strength))
    parts = load_ltxv_components(args.checkpoint, text_encoder=args.text_encoder, vae=args.video_vae,
                                 upsampler=args.upsampler if args.two_stage else None, loras=loras,
                                 dtype=getattr(torch, args.dtype), device=args.device,
                                 distilled=True if args.distilled else None)
    if run is not None:
        parts = run.wrap(parts)
    guidance = _guidance(parts, args)
    stem, ext = os.path.splitext(args.out)
    for index in range(args.batch_size):
        clip = generate(parts, args.prompt, negative_prompt=args.negative_prompt or "", width=args.width,
                        height=args.height, frames=args.frames, fps=args.fps, steps=args.steps,
                        seed=args.seed + index, guidance=guidance, images=inputs, two_pass=args.two_stage,
                        decode_timestep=args.decode_timestep, decode_noise_scale=args.decode_noise_scale,
                        callback=(lambda step, total, x0: progress(step, total, x0, None)) if writes else None)
        out = args.out if args.batch_size == 1 else f"{stem}_{index}{ext}"
        if writes:
            clip.save(out)
            print(f"Wrote {os.path.abspath(out)}")
    if run is not None:
        run.close()


def run_demo(args, progress: Callable) -> None:
    """`demo --model ltx-video`: --out runs the tiny model, --export writes its files."""
    import torch

    from ...pipeline.request import check_request
    from .demo import export_ltxv_demo, run_ltxv_demo

    if args.export is not None:
        paths = export_ltxv_demo(args.export)
        for key, path in paths.items():
            print(f"Wrote {key}: {os.path.abspath(path)}")
        print("Try: python -m ltx2_core generate --checkpoint {checkpoint} --text-encoder {text_encoder} "
              "--prompt \"a fox\" --width 128 --height 96 --frames 17 --steps 4 --out clip.mp4   "
              "(random weights: noise)".format(**paths))
        return
    check_request(width=args.width, height=args.height, frames=args.frames, fps=args.fps, steps=args.steps,
                  seed=args.seed, out=args.out)
    print("The LTX-Video demo model has RANDOM weights: its output is noise. For real generation use an LTX-Video "
          "0.9.x checkpoint and a T5-XXL text encoder with `python -m ltx2_core generate` (docs/ltxv_pipeline.md).",
          file=sys.stderr)
    torch.set_num_threads(1)
    path = run_ltxv_demo(args.out, args.prompt, args.width, args.height, args.frames, args.fps, args.steps,
                         args.seed, args.two_stage, callback=lambda step, total, x0: progress(step, total, x0, None))
    print(f"Wrote {path} (random weights: noise).")
