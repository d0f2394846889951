"""`python -m ltx2_core generate --video PATH`: sound for an existing video. The file is read (and refused in one
line) before any model loads; the output holds the file's decoded frames, re-encoded as they are, at the file's
frame rate, with the generated audio (`video_io.write_video`, atomic)."""

import os
import sys
from typing import Optional

from ..errors import InputError
from .latents import validate_file
from .video_io import read_video
from .video_to_audio import VideoClip, padded_frames, video_to_audio

# flags that generate something video-to-audio does not: (attribute, flag, what it conflicts with)
_CONFLICTS = (
    ("audio_only", "--audio-only", "generates no video to follow"),
    ("audio", "--audio", "gives the audio instead of generating it"),
    ("image", "--image", "conditions a generated video"),
    ("two_stage", "--two-stage", "upsamples a generated video"),
    ("reference_video", "--reference-video", "controls a generated video"),
    ("ic_lora", "--ic-lora", "controls a generated video"),
    ("long", "--long", "chains generated segments; the audio follows the given video whole"),
    ("seconds", "--seconds", "sets the length of a generated video; the audio follows the video's own length"),
)


def read_clip(args) -> Optional[VideoClip]:
    """The --video clip (None without --video), after the flag checks."""
    if getattr(args, "video", None) is None:
        return None
    for attr, flag, why in _CONFLICTS:
        if getattr(args, attr, None):
            raise InputError(f"--video cannot be combined with {flag} (it {why}): remove {flag}.")
    if args.batch_size != 1:
        raise InputError("--video makes one soundtrack per run: drop --batch-size, or run again with another --seed.")
    validate_file(args.video, "Video file")
    pixels, fps = read_video(args.video)
    if pixels.shape[1] < 2:
        raise InputError(f"{args.video!r} has a single frame: video-to-audio needs a video (2 frames or more).")
    if pixels.shape[2] % 2 or pixels.shape[3] % 2:
        raise InputError(f"{args.video!r} is {pixels.shape[3]}x{pixels.shape[2]}; the H.264 output needs even sizes: "
                         "crop or scale the video to an even width and height.")
    clip = VideoClip(pixels, fps)
    if padded_frames(clip.frames) != clip.frames:
        print(f"note: {clip.frames} frames are encoded as {padded_frames(clip.frames)} (8k+1, the last frame "
              "repeated); the output keeps all frames and the audio their duration.", file=sys.stderr)
    return clip


def run(parts, args, clip: VideoClip, guidance, callback, writes: bool = True, **extra) -> None:
    """Generate the soundtrack and write --out (the clip's frames + the new audio)."""
    from .video_io import write_video

    result = video_to_audio(parts, args.prompt, clip, seed=args.seed, steps=args.steps, guidance=guidance,
                            sampler=args.sampler, callback=callback, **extra)
    if writes:
        write_video(args.out, result.video, result.fps, result.audio, result.sample_rate)
        print(f"Wrote {os.path.abspath(args.out)}")
