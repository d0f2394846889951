"""`python -m ltx2_core generate` reference flags: --ic-lora, --reference-video / -strength / -attention / -mask,
--reference-audio, read and checked before any model loads."""

import sys
from typing import Optional

from ...errors import InputError
from ...validation import check_strength
from ..latents import validate_file
from ..video_io import read_audio_as_given, read_video
from .control import ReferenceControl, prepare_reference_video
from .ic_lora import ICLora


def _parse_spec(spec: str):
    path, _, strength = spec.partition("@")
    try:
        return path, float(strength) if strength else 1.0
    except ValueError:
        raise InputError(f"--ic-lora {spec!r} is malformed: use PATH or PATH@STRENGTH.") from None


def reference_from_args(args) -> Optional[ReferenceControl]:
    """The ReferenceControl of --ic-lora / --reference-* (None without them); notes go to stderr."""
    if args.ic_lora is None and args.reference_video is None and args.reference_audio is None:
        if args.reference_mask is not None:
            raise InputError("--reference-mask needs --reference-video: add one, or drop the mask.")
        return None
    check_strength(args.reference_strength, "--reference-strength")
    check_strength(args.reference_attention, "--reference-attention")
    if args.ic_lora is not None and args.reference_video is None:
        raise InputError("--ic-lora needs --reference-video FILE (the control video it was trained on).")
    if args.reference_mask is not None and args.reference_video is None:
        raise InputError("--reference-mask needs --reference-video: add one, or drop the mask.")
    ic_lora = None
    if args.ic_lora is not None:
        path, strength = _parse_spec(args.ic_lora)
        validate_file(path, "IC-LoRA")
        ic_lora = ICLora.load(path, strength)
    video = mask = None
    if args.reference_video is not None:
        pixels, fps = read_video(args.reference_video, max_frames=args.frames * 8)
        video, notes = prepare_reference_video(pixels, fps, args.fps, args.frames, args.width, args.height)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    if args.reference_mask is not None:
        pixels, fps = read_video(args.reference_mask, max_frames=args.frames * 8)
        mask, _ = prepare_reference_video(pixels, fps, args.fps, video.shape[1], args.width, args.height)
        if mask.shape[1] != video.shape[1]:
            raise InputError(f"--reference-mask has {mask.shape[1]} usable frames, the reference video "
                             f"{video.shape[1]}: give the mask as many frames as the reference.")
        mask = ((mask.mean(dim=0, keepdim=True) + 1) / 2).clamp(0, 1).unsqueeze(0)  # (1, 1, F, H, W)
    wave, rate = (None, 16000) if args.reference_audio is None else read_audio_as_given(args.reference_audio)
    return ReferenceControl(video=video, ic_lora=ic_lora, strength=args.reference_strength,
                            attention=args.reference_attention, attention_mask=mask, audio=wave, audio_rate=rate)
