"""Helpers for running workflows through the HTTP API and checking the saved mp4 files."""

import itertools
import os

import av
import numpy as np

import workflow_api

WIDTH, HEIGHT, FRAMES, FPS = 64, 64, 9, 24.0
EXTEND_OVERLAP = 1  # overlap frames of the small extension workflows (each segment adds FRAMES - 1)
DEV_STEPS = 2
# AAC adds encoder priming / padding in 1024-sample frames; the muxed audio may run this much longer.
AAC_SLACK_S = 2 * 1024 / 24000
# Workflow file names -> the synthetic files that stand in for them (synthetic_weights.FILES).
SUBSTITUTE_FILES = {"gemma-3-12b-it-Q4_K_M.gguf": "gemma-3-12b-it-Q8_0.gguf",
                    "ltx-2-19b-ic-lora-depth-control.safetensors": "ltx-2-test-lora.safetensors"}


def small_prompt(path, object_info, steps=DEV_STEPS, frames=FRAMES, size=(WIDTH, HEIGHT), overrides=None):
    """API prompt of a workflow with a tiny clip and few steps (the graph is unchanged)."""
    prompt = workflow_api.to_api(workflow_api.load(path), object_info)
    for node in prompt.values():
        inputs = node["inputs"]
        for key, value in list(inputs.items()):
            if isinstance(value, str) and value in SUBSTITUTE_FILES:
                inputs[key] = SUBSTITUTE_FILES[value]
        if node["class_type"] == "LTX2EmptyAVLatent":
            inputs.update(width=size[0], height=size[1], frames=frames, seconds=0.0, fps=FPS)
        if node["class_type"] == "LTX2Extend":
            inputs.update(frames=frames, overlap_frames=EXTEND_OVERLAP)
        if node["class_type"] == "LTX2JoinSegments":
            inputs["overlap_frames"] = EXTEND_OVERLAP
        if node["class_type"] == "LTX2PromptEnhancer":
            inputs["max_new_tokens"] = 16
        if node["class_type"] == "LTX2Scheduler" and inputs["schedule"] == "dev":
            inputs["steps"] = steps
        for (class_type, key), value in (overrides or {}).items():
            if node["class_type"] == class_type:
                inputs[key] = value
    return prompt


def saved_videos(server, entry):
    paths = []
    for output in entry["outputs"].values():
        for item in output.get("images", []):
            if item.get("filename", "").endswith(".mp4"):
                paths.append(os.path.join(server.base, "output", item.get("subfolder", ""), item["filename"]))
    return paths


def read_mp4(path):
    """(frames (N, H, W, 3) uint8, fps, audio samples per channel, audio rate)."""
    with av.open(path) as container:
        video = container.streams.video[0]
        fps = float(video.average_rate)
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with av.open(path) as container:
        audio = container.streams.audio[0]
        rate = audio.rate
        samples = sum(f.samples for f in container.decode(audio=0))
    return frames, fps, samples, rate


def mean_abs_diff(a, b):
    """Mean absolute difference of two uint8 frame stacks (0..255 scale)."""
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


_LOSSLESS_RUNS = itertools.count()


def with_lossless_saves(prompt):
    """A copy of `prompt` that also saves the decoded frames as PNG (SaveImage) and the decoded audio as FLAC
    (SaveAudio): lossless outputs for bit-exact comparisons. The mp4 from SaveVideo is not one: its libx264
    encode is not reproducible inside the server (identical frames gave different h264 streams). The prefixes
    are new on every call, so the save nodes always run and write their files, even when everything upstream
    comes from ComfyUI's cache."""
    run = next(_LOSSLESS_RUNS)
    prompt = {k: {"class_type": v["class_type"], "inputs": dict(v["inputs"])} for k, v in prompt.items()}
    video = next(k for k, v in prompt.items() if v["class_type"] == "LTX2VideoDecode")
    audio = next(k for k, v in prompt.items() if v["class_type"] == "LTX2AudioDecode")
    prompt["980"] = {"class_type": "SaveImage",
                     "inputs": {"images": [video, 0], "filename_prefix": f"lossless/frame{run}"}}
    prompt["981"] = {"class_type": "SaveAudio",
                     "inputs": {"audio": [audio, 0], "filename_prefix": f"lossless/audio{run}"}}
    return prompt


def lossless_outputs(server, entry):
    """(frames (N, H, W, C) uint8 from the PNGs, audio (channels, samples) from the FLAC) of a finished run."""
    from PIL import Image

    frames, audio = [], []
    for output in entry["outputs"].values():
        for item in output.get("images", []):
            if item.get("filename", "").endswith(".png"):
                path = os.path.join(server.base, "output", item.get("subfolder", ""), item["filename"])
                frames.append(np.asarray(Image.open(path)))
        for item in output.get("audio", []):
            path = os.path.join(server.base, "output", item.get("subfolder", ""), item["filename"])
            with av.open(path) as container:
                audio.append(np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=-1))
    assert len(audio) == 1 and frames, entry["outputs"]
    return np.stack(frames), audio[0]
