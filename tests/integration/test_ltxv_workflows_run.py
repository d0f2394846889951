"""Every LTX-Video workflow runs through the HTTP API of a real ComfyUI (CPU, tiny official-layout LTX-Video
files of synthetic_ltxv.py) and saves a video-only mp4 of frames / fps; the server log shows the LTX-Video
transformer and T5 loaded, the LTX-Video sampler run, and (0.9.1) the denoising decode."""

import os
import re

import av
import numpy as np
import pytest

import workflow_api
from comfy_server import clear_outputs
from run_helpers import FPS, FRAMES, HEIGHT, WIDTH, saved_videos, small_prompt

NAMES = sorted(os.path.basename(p) for p in workflow_api.workflow_files() if os.path.basename(p).startswith("LTX-Video"))
SIZES = {"LTX-Video 13B Multi-Scale with Spatial Upscaler.json": (2 * WIDTH, 2 * HEIGHT)}
# The tiny transformers have 2 blocks: STG skips block 1 instead of the 2B model's 19.
OVERRIDES = {("LTX2LTXVScheduler", "steps"): 2, ("LTX2Guider", "stg_blocks"): "1"}


def read_video_only(path):
    """(frames (N, H, W, 3) uint8, fps, number of audio streams)."""
    with av.open(path) as container:
        audio_streams = len(container.streams.audio)
        fps = float(container.streams.video[0].average_rate)
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    return frames, fps, audio_streams


def test_every_ltxv_workflow_is_covered():
    assert len(NAMES) == 5, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_ltxv_workflow_saves_video_mp4(server, object_info, models, name):
    clear_outputs(server)
    prompt = small_prompt(os.path.join(workflow_api.WORKFLOWS, name), object_info, overrides=OVERRIDES)
    log_start = len(server.log())
    entry = server.run(prompt)
    videos = saved_videos(server, entry)
    assert len(videos) == 1, entry["outputs"]
    frames, fps, audio_streams = read_video_only(videos[0])
    width, height = SIZES.get(name, (WIDTH, HEIGHT))
    assert frames.shape == (FRAMES, height, width, 3)
    assert fps == FPS and audio_streams == 0
    assert frames.std() > 0, "decoded video is constant"
    log = server.log()[log_start:]
    checkpoint = next(n["inputs"]["ckpt_name"] for n in prompt.values() if n["class_type"] == "LTX2CheckpointLoader")
    if f"LTX-Video 0.9.x transformer from {checkpoint}" not in server.log():
        raise AssertionError(f"no LTX-Video transformer load of {checkpoint} in the server log")
    assert "LTX2 T5 Text Encoder: t5xxl_fp16.safetensors: 2 layers" in server.log()
    # ComfyUI may answer an identical first pass from its cache of an earlier workflow: count the new runs only.
    runs = re.findall(r"LTX2 Sampler \(LTX-Video\): (\d+) steps.*?(, second pass)?$", log, flags=re.M)
    assert runs, "the LTX-Video sampler did not run"
    if "Multi-Scale" in name:
        assert ("3", ", second pass") in runs, runs  # the 3-step distilled refinement on the upscaled latent
    if "0.9.1" in name:
        assert "LTX2 Video Decode: LTX-Video 0.9.x VAE, denoising decode at timestep 0.05, noise 0.025" in log
        assert runs == [("2", "")], runs
