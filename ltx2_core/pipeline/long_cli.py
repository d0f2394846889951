"""`generate --long extend`: the command-line side of long clips (`pipeline.extend`).

    python -m ltx2_core generate ... --seconds 60 --long extend --window-frames 121 --overlap-frames 25 \
        --segment-prompt "the fox reaches the river" --segment-prompt "it swims across"

--prompt is the first segment's prompt, each --segment-prompt the next one's (the last repeats). The clip is
decoded and written segment by segment into one file (`stream_writer`): memory does not grow with its length.

`--long windows` instead denoises the whole latent once, in overlapping temporal windows on both streams
(`pipeline.context_windows`), with one prompt; the clip is decoded whole and written at the end.
"""

import argparse

from ..errors import InputError

DEFAULT_WINDOW_FRAMES = 121
DEFAULT_OVERLAP_FRAMES = 25


def add_long_arguments(parser: argparse.ArgumentParser) -> None:
    """The long-clip options of `generate`."""
    parser.add_argument("--long", default=None, choices=["extend", "windows"],
                        help="clips beyond one window: extend = a chain of segments, each conditioned on the "
                             "previous one's last --overlap-frames (video and audio latents); windows = one "
                             "denoise whose every step runs overlapping temporal windows on both streams, blended")
    parser.add_argument("--window-frames", type=int, default=None,
                        help=f"frames per segment / window, 8k + 1 (default {DEFAULT_WINDOW_FRAMES})")
    parser.add_argument("--overlap-frames", type=int, default=None,
                        help=f"frames each segment repeats from the previous one / windows share, 8k + 1 (default "
                             f"{DEFAULT_OVERLAP_FRAMES})")
    parser.add_argument("--segment-prompt", action="append", default=[], metavar="TEXT",
                        help="prompt of the next segment (repeatable; the last one repeats)")


def check_long_arguments(args, auto_length: bool = False) -> None:
    """The model-free checks of the long-clip options (after --frames / --seconds are resolved)."""
    from .extend import plan_segments

    if args.long is None:
        for flag, value in (("--window-frames", args.window_frames), ("--overlap-frames", args.overlap_frames)):
            if value is not None:
                raise InputError(f"{flag} is used by --long only: add --long extend or remove it.")
        if args.segment_prompt:
            raise InputError("--segment-prompt is used by --long only: add --long extend or remove it.")
        return
    if auto_length:
        raise InputError("--long extend needs a length: give --seconds S or --frames N, not --seconds auto.")
    if args.long == "windows":
        _check_windows(args)
        return
    args.window_frames = DEFAULT_WINDOW_FRAMES if args.window_frames is None else args.window_frames
    args.overlap_frames = DEFAULT_OVERLAP_FRAMES if args.overlap_frames is None else args.overlap_frames
    refused = [flag for flag, used in (
        ("--two-stage", args.two_stage), ("--audio", args.audio is not None), ("--audio-only", args.audio_only),
        ("--image", bool(args.image)), ("--batch-size", args.batch_size != 1), ("--parallel", args.parallel),
        ("--reference-video", args.reference_video is not None),
        ("--reference-audio", args.reference_audio is not None)) if used]
    if refused:
        raise InputError(f"--long extend generates one audio+video stage per segment: remove {', '.join(refused)}.")
    try:
        plan = plan_segments(args.frames, args.window_frames, args.overlap_frames)
    except InputError as exc:
        if "overlap" in str(exc):
            raise
        raise InputError(f"--window-frames: {exc}") from None
    if len(args.segment_prompt) > len(plan) - 1:
        raise InputError(f"{len(args.segment_prompt)} --segment-prompt given but the clip has only {len(plan)} "
                         f"segment(s) ({len(plan) - 1} after the first): give fewer or make the clip longer.")


def _check_windows(args) -> None:
    """The model-free checks of `--long windows`."""
    from .context_windows import plan_windows

    args.window_frames = DEFAULT_WINDOW_FRAMES if args.window_frames is None else args.window_frames
    args.overlap_frames = DEFAULT_OVERLAP_FRAMES if args.overlap_frames is None else args.overlap_frames
    refused = [flag for flag, used in (
        ("--two-stage", args.two_stage), ("--audio", args.audio is not None), ("--audio-only", args.audio_only),
        ("--batch-size", args.batch_size != 1), ("--parallel", args.parallel),
        ("--segment-prompt", bool(args.segment_prompt)), ("--reference-video", args.reference_video is not None),
        ("--reference-audio", args.reference_audio is not None)) if used]
    if refused:
        raise InputError(f"--long windows denoises one audio+video stage with one prompt: remove {', '.join(refused)}.")
    plan_windows(args.frames, args.fps, args.window_frames, args.overlap_frames)


def run_long(args, parts, progress=None, **options) -> str:
    """Generate and write the long clip of `args` with loaded `parts`; returns the output path."""
    if args.long == "windows":
        return _run_windows(args, parts, progress, **options)
    from .extend import generate_long, plan_segments, write_segments

    plan = plan_segments(args.frames, args.window_frames, args.overlap_frames)
    prompts = [args.prompt] + list(args.segment_prompt)
    segments = generate_long(parts, prompts, frames=args.frames, segment_frames=args.window_frames,
                             overlap_frames=args.overlap_frames, width=args.width, height=args.height, fps=args.fps,
                             seed=args.seed, steps=args.steps, callback=progress, **options)

    def announced():
        for segment in segments:
            print(f"segment {segment.index + 1}/{len(plan)}: frames {segment.start_frame}.."
                  f"{segment.start_frame + segment.video.shape[1] - 1}", flush=True)
            yield segment

    write_segments(args.out, announced())
    return args.out


def _run_windows(args, parts, progress=None, images=(), **options) -> str:
    """`--long windows`: one windowed denoise of the whole latent, then the usual decode and atomic write."""
    from .context_windows import ContextWindows
    from .generate import generate

    clip = generate(parts, args.prompt, width=args.width, height=args.height, frames=args.frames, fps=args.fps,
                    seed=args.seed, steps=args.steps, images=images, callback=progress,
                    context_windows=ContextWindows(args.window_frames, args.overlap_frames), **options)
    return clip.save(args.out)
