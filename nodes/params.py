"""Host-free helpers for the node layer: clip length, token counts, memory estimates, model lists.

Nothing here imports ComfyUI, so these functions are unit-tested without a host. `web/js/ltx2_math.js`
mirrors `frames_from_seconds`, `seconds_from_frames`, `token_counts`, `size_problems` and
`activation_gib`; tests/test_nodes_params.py checks the two agree.
"""

import os
from typing import Dict, Iterable, List, Optional

TIME_SCALE = 8  # pixel frames per latent frame (after the first)
SPATIAL_SCALE = 32  # pixels per latent row/column
AUDIO_LATENTS_PER_SECOND = 25.0  # 16 kHz mel, hop 160, 4x latent downsampling
MAX_FRAMES = 8 * 128 + 1


def snap_frames(frames: int) -> int:
    """The nearest valid frame count 8k + 1 (k >= 0)."""
    k = max(0, round((int(frames) - 1) / TIME_SCALE))
    return k * TIME_SCALE + 1


def frames_from_seconds(seconds: float, fps: float) -> int:
    """Frame count 8k + 1 closest to `seconds` at `fps` (at least 1 frame)."""
    return snap_frames(round(float(seconds) * float(fps)) + 1)


def seconds_from_frames(frames: int, fps: float) -> float:
    """Clip duration of `frames` at `fps`, which is also the length of the generated audio."""
    return float(frames) / float(fps)


def token_counts(width: int, height: int, frames: int, fps: float) -> Dict[str, int]:
    """Transformer sequence lengths: video tokens F'*H'*W' and audio tokens round(seconds * 25)."""
    latent_frames = (int(frames) - 1) // TIME_SCALE + 1
    video = latent_frames * (int(width) // SPATIAL_SCALE) * (int(height) // SPATIAL_SCALE)
    audio = round(float(frames) / float(fps) * AUDIO_LATENTS_PER_SECOND)
    return {"video": video, "audio": audio, "latent_frames": latent_frames}


def size_problems(width: int, height: int, frames: int) -> List[str]:
    """Human-readable problems with a requested size (empty when valid)."""
    problems = []
    for name, value in (("width", int(width)), ("height", int(height))):
        if value < SPATIAL_SCALE or value % SPATIAL_SCALE:
            lower = max(SPATIAL_SCALE, value // SPATIAL_SCALE * SPATIAL_SCALE)
            problems.append(f"{name} {value} is not a multiple of 32 (use {lower} or {lower + SPATIAL_SCALE})")
    if int(frames) < 1 or (int(frames) - 1) % TIME_SCALE:
        below = max(1, (int(frames) - 1) // TIME_SCALE * TIME_SCALE + 1)
        problems.append(f"frames {frames} is not 8k+1 (use {below} or {below + TIME_SCALE})")
    return problems


# Rough activation peak of one transformer pass (bf16, memory-efficient attention): the video stream's
# hidden states, q/k/v and the 4x feed-forward intermediate dominate: ~ tokens * width * 2 bytes * 12.
VIDEO_WIDTH = 4096
AUDIO_WIDTH = 2048
ACTIVATION_FACTOR = 12


def activation_gib(width: int, height: int, frames: int, fps: float, batch: int = 1, passes: int = 1) -> float:
    """Estimated activation memory (GiB) of one denoising step, weights excluded."""
    tokens = token_counts(width, height, frames, fps)
    per_pass = (tokens["video"] * VIDEO_WIDTH + tokens["audio"] * AUDIO_WIDTH) * 2 * ACTIVATION_FACTOR
    return per_pass * int(batch) * int(passes) / 2**30


def list_model_files(directories: Iterable[str], extensions: Iterable[str]) -> List[str]:
    """Relative paths (with '/') of files under `directories` whose names end with one of `extensions`."""
    extensions = tuple(e.lower() for e in extensions)
    found = set()
    for root_dir in directories:
        if not os.path.isdir(root_dir):
            continue
        for current, dirs, files in os.walk(root_dir, followlinks=True):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.lower().endswith(extensions):
                    rel = os.path.relpath(os.path.join(current, name), root_dir)
                    found.add(rel.replace(os.sep, "/"))
    return sorted(found)


def resolve_model_file(directories: Iterable[str], name: str) -> Optional[str]:
    """Absolute path of `name` (as listed by list_model_files) in the first directory holding it."""
    if not name or os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
        return None
    for root_dir in directories:
        path = os.path.join(root_dir, *name.split("/"))
        if os.path.isfile(path):
            return path
    return None


def guider_streams(video_cfg: float, audio_cfg: float, stg_scale: float, stg_blocks: tuple, modality_scale: float,
                   rescale: float) -> Dict[str, dict]:
    """The LTX2 Guider node's inputs as `GuidanceParams` fields per stream: each stream its own CFG scale,
    STG / modality / rescale shared."""
    common = dict(stg=stg_scale, stg_blocks=tuple(stg_blocks), rescale=rescale, modality=modality_scale)
    return {"video": dict(cfg=video_cfg, **common), "audio": dict(cfg=audio_cfg, **common)}
