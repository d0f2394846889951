"""Command line: `python -m ltx2_core generate ...` (real weights) and `python -m ltx2_core demo --out clip.mp4`
(a tiny random-weight model; its output is noise). User errors print one line and exit with status 2."""

import argparse
import os
import sys
import time
from typing import List, Optional

DEMO_FRAMES = 25  # the demo's clip length when --frames is omitted (LTX-2 and LTX-Video demos)


def _progress():
    start = time.time()

    def show(step: int, total: int, video, audio) -> None:
        done = step + 1
        width = 30
        filled = int(width * done / total)
        elapsed = time.time() - start
        stream = sys.stderr
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] step {done}/{total}  {elapsed:6.1f}s")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show


def _parse_image(spec: str):
    """PATH[@FRAME[@STRENGTH]] -> (path, frame, strength)."""
    from .errors import InputError

    parts = spec.rsplit("@", 2) if "@" in spec else [spec]
    path, frame, strength = parts[0], 0, 1.0
    try:
        if len(parts) > 1:
            frame = int(parts[1])
        if len(parts) > 2:
            strength = float(parts[2])
    except ValueError:
        raise InputError(f"--image {spec!r} is malformed: use PATH, PATH@FRAME or PATH@FRAME@STRENGTH.") from None
    return path, frame, strength


def _parse_lora(spec: str):
    from .errors import InputError

    path, _, strength = spec.partition("@")
    try:
        return path, float(strength) if strength else 1.0
    except ValueError:
        raise InputError(f"--lora {spec!r} is malformed: use PATH or PATH@STRENGTH.") from None


def _parse_tiling(spec: Optional[str]):
    """--vae-tiling TILE,OVERLAP,CHUNK,CHUNK_OVERLAP -> TilingConfig (None when not given)."""
    from .errors import InputError
    from .video_vae import TilingConfig

    if spec is None:
        return None
    try:
        tile, overlap, chunk, chunk_overlap = (int(v) for v in spec.split(","))
    except ValueError:
        raise InputError(f"--vae-tiling {spec!r} is malformed: use TILE_PX,OVERLAP_PX,CHUNK_FRAMES,CHUNK_OVERLAP, "
                         "e.g. 512,64,64,24.") from None
    return TilingConfig(tile, overlap, chunk, chunk_overlap)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ltx2_core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run a tiny random-weight model end to end (output is noise), or "
                                        "--export it as model files for trying `generate`")
    demo_target = demo.add_mutually_exclusive_group(required=True)
    demo_target.add_argument("--out", help="output video (.mp4, .mkv or .webm)")
    demo_target.add_argument("--export", metavar="DIR",
                             help="write the tiny model as real files in the official layouts (LTX-2.3 single "
                                  "file, Gemma 3 folder, spatial upscaler, LoRA) instead of generating")
    demo.add_argument("--prompt", default="a red fox runs through snow")
    demo.add_argument("--width", type=int, default=256)
    demo.add_argument("--height", type=int, default=192)
    demo.add_argument("--frames", type=int, default=None,
                      help=f"default {DEMO_FRAMES}; with --model ltx-2.5 the duration head predicts the length "
                           "when omitted")
    demo.add_argument("--fps", type=float, default=24.0)
    demo.add_argument("--steps", type=int, default=8)
    demo.add_argument("--seed", type=int, default=10)
    demo.add_argument("--two-stage", action="store_true")
    demo.add_argument("--model", default="ltx-2", choices=["ltx-2", "ltx-2.5", "ltx-video"],
                      help="ltx-2: the LTX-2.3 audio+video demo; ltx-2.5: the LTX-2.5 demo (Gemma 4, duration "
                           "head; --export writes its per-component files); ltx-video: the LTX-Video 0.9.x demo")

    gen = sub.add_parser("generate", help="generate a clip with real LTX-2 / LTX-2.3 or LTX-Video 0.9.x weights "
                                          "(the family is read from --checkpoint)")
    gen.add_argument("--checkpoint", required=True,
                     help="official single-file checkpoint (.safetensors), or a transformer-only .safetensors / "
                          ".gguf file (then give --video-vae and --audio-vae)")
    gen.add_argument("--text-encoder", required=True,
                     help="Gemma 3 (LTX-2) or T5-XXL (LTX-Video) folder, safetensors file or .gguf file")
    gen.add_argument("--video-vae", default=None, help="file holding the video VAE (default: --checkpoint)")
    gen.add_argument("--audio-vae", default=None,
                     help="file holding the audio VAE and vocoder (default: --checkpoint)")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--negative-prompt", default=None)
    gen.add_argument("--out", required=True,
                     help="output video: .mp4, .mkv or .webm (audio only: .wav or .flac); written atomically")
    gen.add_argument("--width", type=int, default=768)
    gen.add_argument("--height", type=int, default=512)
    gen.add_argument("--frames", type=int, default=None, help="frames of the clip, 8k + 1 (default 121)")
    gen.add_argument("--seconds", default=None,
                     help="length in seconds instead of --frames (nearest 8k + 1 frames at --fps), or 'auto': "
                          "LTX-2.5 predicts it from the prompt (1..20 s; needs --duration-head)")
    gen.add_argument("--duration-head", default=None,
                     help="LTX-2.5 duration head file (ltx-2.5-duration-head-*.safetensors) for --seconds auto")
    gen.add_argument("--num-generated-keyframes", type=int, default=0, metavar="N",
                     help="LTX-2.5: N extra single-frame keyframes generated with the clip at evenly spaced interior "
                          "frames (sharper motion there; each costs one latent frame of tokens; stage 1 only)")
    gen.add_argument("--fps", type=float, default=24.0)
    gen.add_argument("--steps", type=int, default=None, help="default: 40 (LTX-2) / 30 (LTX-2.3, LTX-2.5); 8 if distilled")
    gen.add_argument("--seed", type=int, default=10, help="0 to 2^64 - 1")
    gen.add_argument("--batch-size", type=int, default=1,
                     help="clips generated together; clip i uses seed + i and is written to OUT_i.mp4")
    gen.add_argument("--distilled", action="store_true", help="the checkpoint is a distilled model")
    gen.add_argument("--two-stage", action="store_true",
                     help="smaller first stage, latent upsampling, refinement (needs --upsampler)")
    gen.add_argument("--upsampler", default=None,
                     help="spatial x2 (stage 1 at half size), spatial x1.5 (2/3 size) or temporal x2 "
                          "(half the frames at half the fps) upscaler")
    gen.add_argument("--distilled-lora", default=None, help="LoRA merged for stage 2 of a dev model")
    gen.add_argument("--lora", action="append", default=[], help="PATH[@STRENGTH], repeatable")
    gen.add_argument("--image", action="append", default=[],
                     help="PATH[@FRAME[@STRENGTH]]: image or clip conditioning at a frame, repeatable")
    gen.add_argument("--audio", default=None, help="audio file the video follows (audio-to-video)")
    gen.add_argument("--audio-only", action="store_true", help="text-to-audio only")
    gen.add_argument("--video", default=None,
                     help="video file to add sound to (video-to-audio): its frames are kept, the audio is generated")
    gen.add_argument("--ic-lora", default=None, metavar="PATH[@STRENGTH]",
                     help="IC-LoRA (depth / pose / canny / ...) applied while --reference-video guides stage 1")
    gen.add_argument("--reference-video", default=None, help="control video appended as IC-LoRA reference tokens")
    gen.add_argument("--reference-strength", type=float, default=1.0, help="1 keeps the reference tokens clean")
    gen.add_argument("--reference-attention", type=float, default=1.0,
                     help="reference <-> generated attention weight, 0..1 (below 1 adds an attention mask)")
    gen.add_argument("--reference-mask", default=None, help="grayscale mask video scaling the attention per region")
    gen.add_argument("--reference-audio", default=None, help="audio file whose voice the generated audio follows")
    gen.add_argument("--sampler", default="euler",
                     choices=["euler", "gradient_estimation", "res_2s", "euler_ancestral"],
                     help="res_2s: second-order, two model calls per step (official HQ sampler); "
                          "euler_ancestral: the LTX-2.5 distilled stage 1 (its default with --distilled)")
    gen.add_argument("--video-cfg", type=float, default=None)
    gen.add_argument("--audio-cfg", type=float, default=None)
    gen.add_argument("--stg-blocks", default=None, help="comma-separated 0-based blocks for STG (both streams)")
    gen.add_argument("--decode-timestep", type=float, default=None,
                     help="LTX-Video 0.9.1+ denoising decoder timestep (default 0.05)")
    gen.add_argument("--decode-noise-scale", type=float, default=None,
                     help="LTX-Video 0.9.1+ decode noise scale (default 0.025, or the decode timestep when given)")
    gen.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    gen.add_argument("--device", default="cuda" if _cuda() else "cpu")
    gen.add_argument("--attention", default="auto", choices=["auto", "sdpa", "sage", "flash", "xformers"],
                     help="attention kernel: auto = sageattention, flash_attn or xformers when installed, else SDPA")
    gen.add_argument("--compile", action="store_true",
                     help="torch.compile the transformer blocks (regional; the first step is slower)")
    gen.add_argument("--parallel", default=None, choices=["sp", "fsdp", "sp+fsdp"],
                     help="under `torchrun --nproc-per-node N`: split the video tokens (sp), shard the weights "
                          "(fsdp) or both over the N processes; rank 0 writes the file (docs/parallel.md)")
    gen.add_argument("--vae-tiling", default=None, metavar="TILE,OVERLAP,CHUNK,CHUNK_OVERLAP",
                     help="LTX-2 / LTX-2.3: decode the video in tiles of TILE px and chunks of CHUNK frames "
                          "(e.g. 512,64,64,24); default: whole, or those sizes with --parallel (the ranks share "
                          "the tiles)")
    gen.add_argument("--offload-shards", action="store_true",
                     help="with --parallel fsdp / sp+fsdp: keep the weight shards in CPU memory (lowest memory)")
    gen.add_argument("--step-cache", type=float, default=None, metavar="THRESHOLD",
                     help="reuse the later blocks' residual when block 0 changed less than THRESHOLD (e.g. 0.05)")
    from .pipeline.long_cli import add_long_arguments

    add_long_arguments(gen)
    return parser


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def _run_demo(args) -> None:
    import torch

    from .pipeline.demo import NOISE_NOTICE, run_demo
    from .pipeline.request import check_request

    auto = args.model == "ltx-2.5" and args.frames is None  # the 2.5 demo's duration head picks the length
    if args.frames is None:
        from .pipeline.duration import AUTO_MAX_SECONDS, seconds_to_frames

        args.frames = seconds_to_frames(AUTO_MAX_SECONDS, args.fps) if auto else DEMO_FRAMES
    if args.model == "ltx-video":
        from .ltxv.pipeline.cli import run_demo as run_ltxv_demo

        run_ltxv_demo(args, _progress())
        return
    if args.export is not None:
        _export_demo(args.export, args.model)
        return
    check_request(width=args.width, height=args.height, frames=args.frames, fps=args.fps, steps=args.steps,
                  seed=args.seed, two_stage=args.two_stage, out=args.out)
    print(NOISE_NOTICE, file=sys.stderr)
    torch.set_num_threads(1)  # the toy model's ops are too small to gain from threads
    parts = None
    if args.model == "ltx-2.5":
        from .pipeline.demo25 import demo25_components

        parts = demo25_components()
    path = run_demo(args.out, args.prompt, args.width, args.height, "auto" if auto else args.frames, args.fps,
                    args.steps, args.seed, args.two_stage, callback=_progress(), parts=parts)
    print(f"Wrote {path} (random weights: noise).")


def _export_demo(folder: str, model: str) -> None:
    if model == "ltx-2.5":
        from .pipeline.demo25 import export_demo25 as export
    else:
        from .pipeline.demo import export_demo as export

    paths = export(folder)
    for key, path in paths.items():
        print(f"Wrote {key}: {os.path.abspath(path)}")
    if model == "ltx-2.5":
        print("Try: python -m ltx2_core generate --checkpoint {checkpoint} --text-encoder {text_encoder} "
              "--video-vae {video_vae} --audio-vae {audio_vae} --duration-head {duration_head} --seconds auto "
              "--prompt \"a fox\" --width 128 --height 64 --out clip.mp4   (random weights: noise)".format(**paths))
        return
    print("Try: python -m ltx2_core generate --checkpoint {checkpoint} --text-encoder {text_encoder} "
          "--prompt \"a fox\" --width 128 --height 64 --frames 17 --out clip.mp4   (random weights: noise)"
          .format(**paths))


def _run_generate(args) -> None:
    import torch

    from .attention import make_attention
    from .errors import InputError
    from .pipeline.generate import generate, load_components
    from .pipeline.two_stage import AudioInput, VideoInput
    from .pipeline.video_io import read_audio_as_given, read_video, write_audio, write_video
    from .pipeline.request import check_request

    from .ltxv.pipeline.cli import route_generate
    from .pipeline.reference.cli import reference_from_args
    from .pipeline.long_cli import check_long_arguments, run_long

    # Check everything cheap before loading tens of gigabytes.
    auto_length = _resolve_length(args)
    check_long_arguments(args, auto_length)
    _check_generated_keyframes(args, auto_length)
    images = [_parse_image(spec) for spec in args.image]
    tiling = _parse_tiling(args.vae_tiling)
    if route_generate(args, _progress(), images, [_parse_lora(spec) for spec in args.lora]):
        return  # an LTX-Video checkpoint: generated by ltx2_core.ltxv.pipeline
    from .pipeline.video_to_audio_cli import read_clip

    clip = read_clip(args)  # --video (video-to-audio): its flag conflicts first, then the file
    check_request(width=args.width, height=args.height, frames=args.frames, fps=args.fps, steps=args.steps,
                  seed=args.seed, batch_size=args.batch_size, two_stage=args.two_stage,
                  upsampler_config=_upsampler_config(args.upsampler) if args.two_stage else None, images=images,
                  audio=args.audio, audio_only=args.audio_only, out=args.out,
                  cfgs=(("--video-cfg", args.video_cfg), ("--audio-cfg", args.audio_cfg)))
    if args.two_stage and args.upsampler is None:
        raise InputError("--two-stage needs --upsampler PATH (the spatial x2 upscaler).")
    from .parallel.cli import setup as parallel_setup

    run = parallel_setup(args)
    writes = run is None or run.writes
    loras = [_parse_lora(spec) for spec in args.lora]
    speed = _speed_options(args)
    inputs = []  # media files are read (and refused when unreadable) before the models load
    for path, frame, strength in images:
        pixels, _ = read_video(path, max_frames=args.frames)
        usable = (pixels.shape[1] - 1) // 8 * 8 + 1  # a clip is cut to 8k+1 frames
        inputs.append(VideoInput(pixels[:, :usable], frame_index=frame, strength=strength))
    audio = None
    if args.audio is not None:  # kept as given (rate, channels): the VAE resamples for itself
        audio = AudioInput(*read_audio_as_given(args.audio))
    reference = reference_from_args(args)
    parts = load_components(
        args.checkpoint, text_encoder=args.text_encoder, upsampler=args.upsampler,
        distilled_lora=args.distilled_lora, loras=loras, video_vae=args.video_vae, audio_vae=args.audio_vae,
        distilled=args.distilled, dtype=getattr(torch, args.dtype), device=args.device,
        attention_fn=make_attention(args.attention), duration_head=args.duration_head,
    )
    if run is not None:
        parts = run.wrap(parts, tiling)
    guidance = None
    if args.video_cfg is not None or args.audio_cfg is not None or args.stg_blocks is not None:
        guidance = _guidance_overrides(parts, args)
    extra = {} if args.negative_prompt is None else {"negative_prompt": args.negative_prompt}
    if clip is not None:
        from .pipeline.video_to_audio_cli import run as run_video_to_audio

        run_video_to_audio(parts, args, clip, guidance, _progress() if writes else None, writes,
                           step_cache=speed.get("step_cache"), **extra)
        if run is not None:
            run.close()
        return
    if args.long is not None:
        windowed = {"images": inputs} if args.long == "windows" else {}  # frame-0 conditioning lands in window 0
        out = run_long(args, parts, _progress(), guidance=guidance, sampler=args.sampler, **windowed, **speed,
                       **extra)
        print(f"Wrote {os.path.abspath(out)}")
        return
    clips = generate(
        parts, args.prompt, width=args.width, height=args.height, frames="auto" if auto_length else args.frames,
        fps=args.fps, seed=args.seed,
        steps=args.steps, guidance=guidance, images=inputs, audio=audio, audio_only=args.audio_only,
        two_stage=args.two_stage, sampler=args.sampler, callback=_progress() if writes else None,
        batch_size=args.batch_size, reference=reference, decode_tiling=tiling,
        generated_keyframes=args.num_generated_keyframes, **speed, **extra,
    )
    clips = clips if isinstance(clips, list) else [clips]
    if run is not None:
        run.close()
    if not writes:
        return
    stem, ext = os.path.splitext(args.out)
    for index, clip in enumerate(clips):
        out = args.out if len(clips) == 1 else f"{stem}_{index}{ext}"
        if args.audio_only:
            write_audio(out, clip.audio, clip.sample_rate)
        else:
            write_video(out, clip.video, clip.fps, clip.audio, clip.sample_rate)
        print(f"Wrote {os.path.abspath(out)}")


def _check_generated_keyframes(args, auto_length: bool) -> None:
    """The model-free checks of --num-generated-keyframes (the model's support is checked after loading)."""
    from .errors import InputError
    from .pipeline.keyframe_slots import evenly_spaced_keyframes

    count = args.num_generated_keyframes
    if count == 0:
        return
    used = [flag for flag, on in (("--long", args.long is not None), ("--video", args.video is not None),
                                  ("--audio-only", args.audio_only)) if on]
    if used:
        raise InputError(f"--num-generated-keyframes cannot be combined with {', '.join(used)}: remove one.")
    if count < 0:
        raise InputError(f"--num-generated-keyframes {count} is negative: give 0 (off) or more.")
    if not auto_length:
        evenly_spaced_keyframes(count, args.frames)


def _resolve_length(args) -> bool:
    """Sets args.frames from --frames / --seconds (one of them; default 121 frames); True for --seconds auto,
    where args.frames becomes the longest auto length (the bound the cheap checks use)."""
    from .errors import InputError
    from .pipeline.duration import AUTO_MAX_SECONDS, frames_for_seconds, seconds_to_frames

    if args.seconds is not None and args.frames is not None:
        raise InputError("Give the length once: --frames N or --seconds S (or --seconds auto), not both.")
    if args.seconds is None:
        args.frames = 121 if args.frames is None else args.frames
        if args.duration_head is not None:
            raise InputError("--duration-head is used by --seconds auto only: add --seconds auto or remove it.")
        return False
    if str(args.seconds).strip().lower() != "auto":
        try:
            seconds = float(args.seconds)
        except ValueError:
            raise InputError(f"--seconds {args.seconds!r} is invalid: give a number of seconds or 'auto'.") from None
        args.frames = frames_for_seconds(seconds, args.fps)
        return False
    if args.duration_head is None:
        raise InputError("--seconds auto needs the LTX-2.5 duration head: add --duration-head "
                         "ltx-2.5-duration-head-bf16.safetensors, or give --frames / --seconds S.")
    if getattr(args, "reference_video", None) is not None or args.batch_size != 1:
        raise InputError("--seconds auto predicts one clip's length: use it with --batch-size 1 and no "
                         "--reference-video, or give --frames.")
    args.frames = seconds_to_frames(AUTO_MAX_SECONDS, args.fps)
    return True


def _speed_options(args) -> dict:
    """generate() keywords of --compile / --step-cache (checked before any model loads)."""
    from .compile import CompileOptions
    from .transformer.step_cache import StepCache

    options = {}
    if args.compile:
        options["compile_options"] = CompileOptions()
    if args.step_cache is not None:
        options["step_cache"] = StepCache(args.step_cache)
    return options


def _upsampler_config(path: Optional[str]):
    """The upsampler's config from its file header (None when there is no file yet: spatial x2 is assumed)."""
    if path is None or not os.path.isfile(path):
        return None
    from .checkpoint import read_config_metadata, read_safetensors_header
    from .upsampler import LatentUpsamplerConfig
    from .upsampler.loader import detect_config

    metadata = read_config_metadata(path)
    if metadata is not None:
        return LatentUpsamplerConfig.from_metadata(metadata)
    header = read_safetensors_header(path)
    return detect_config({k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"})


def _guidance_overrides(parts, args):
    """The model's default guidance with the --video-cfg / --audio-cfg / --stg-blocks overrides applied."""
    import dataclasses

    from .errors import InputError
    from .pipeline.generate import default_guidance
    from .pipeline.guidance import Guidance

    base = default_guidance(parts)
    changes = [{}, {}]
    if args.video_cfg is not None:
        changes[0]["cfg"] = args.video_cfg
    if args.audio_cfg is not None:
        changes[1]["cfg"] = args.audio_cfg
    if args.stg_blocks is not None:
        try:
            blocks = tuple(int(b) for b in args.stg_blocks.split(",") if b.strip())
        except ValueError:
            raise InputError(f"--stg-blocks {args.stg_blocks!r} is malformed: use e.g. 28 or 27,28.") from None
        changes[0]["stg_blocks"] = changes[1]["stg_blocks"] = blocks
    return Guidance(dataclasses.replace(base.video, **changes[0]), dataclasses.replace(base.audio, **changes[1]))


def main(argv: Optional[List[str]] = None) -> int:
    from .errors import LTX2Error

    args = _build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            _run_demo(args)
        else:
            _run_generate(args)
    except LTX2Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
