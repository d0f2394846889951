"""Every shipped LTX-2 workflow runs through the HTTP API of a real ComfyUI (CPU, tiny synthetic weights) and
saves an mp4 whose audio and video durations equal frames / fps, with its text encoder loaded from the
expected file (the GGUF workflow: the Q8_0 GGUF Gemma); interrupting the sampler leaves the server usable."""

import os
import re
import time

import pytest

import workflow_api
from comfy_server import clear_outputs
from run_helpers import (AAC_SLACK_S, EXTEND_OVERLAP, FPS, FRAMES, HEIGHT, WIDTH, read_mp4, saved_videos,
                         small_prompt)

WORKFLOW_SIZES = {
    "LTX2 Distilled with 2x Upscale.json": (2 * WIDTH, 2 * HEIGHT),
}
# Frames of the saved clip where it is not FRAMES: two segments joined, the overlap kept once.
WORKFLOW_FRAMES = {"LTX2 Long Clip by Extension.json": 2 * FRAMES - EXTEND_OVERLAP}
# Role (synthetic_weights.FILES) of the Gemma file each workflow's text-encoder loader must read.
TEXT_ENCODER_ROLES = {"LTX2 GGUF Low VRAM.json": "gemma_gguf"}


def check_text_encoder(server, prompt, models, name):
    """The workflow's text-encoder loader names the expected synthetic file, and the server log shows that file
    loaded with its weights in the expected form: all matrices packed Q8_0 for the GGUF, unpacked otherwise.
    The whole log is read: ComfyUI may answer the loader from its cache of an earlier prompt's identical load."""
    loaders = [n["inputs"] for n in prompt.values() if n["class_type"] == "LTX2TextEncoderLoader"]
    assert len(loaders) == 1, loaders
    file_name = loaders[0]["text_encoder_name"]
    assert file_name == os.path.basename(models[TEXT_ENCODER_ROLES.get(name, "gemma")])
    fmt = "GGUF" if file_name.endswith(".gguf") else "safetensors"
    lines = re.findall(rf"LTX2 Text Encoder: Gemma 3 from {fmt} {re.escape(file_name)}: (.*)", server.log())
    assert lines, f"no text-encoder load of {file_name} in the server log"
    match = re.fullmatch(r"(\d+) layers, (.*), tokenizer of (\d+) pieces", lines[-1])
    assert match, lines[-1]
    assert int(match[1]) == 2 and int(match[3]) > 0, lines[-1]
    if fmt == "GGUF":
        packed = re.fullmatch(r"(\d+) packed weights \(Q8_0 x(\d+)\)", match[2])
        # min_elements=0: the embedding and the 7 matrices of each of the 2 layers are Q8_0
        assert packed and int(packed[1]) == int(packed[2]) == 1 + 7 * 2, match[2]
    else:
        assert match[2] == "unpacked weights", match[2]


@pytest.mark.parametrize("name", sorted(os.path.basename(p) for p in workflow_api.workflow_files()
                                         if os.path.basename(p).startswith("LTX2 ")))
def test_workflow_saves_mp4_with_matching_audio(server, object_info, models, name):
    clear_outputs(server)
    prompt = small_prompt(os.path.join(workflow_api.WORKFLOWS, name), object_info)
    start = time.monotonic()
    entry = server.run(prompt)
    elapsed = time.monotonic() - start
    videos = saved_videos(server, entry)
    assert len(videos) == 1, entry["outputs"]
    frames, fps, samples, rate = read_mp4(videos[0])
    width, height = WORKFLOW_SIZES.get(name, (WIDTH, HEIGHT))
    expected_frames = WORKFLOW_FRAMES.get(name, FRAMES)
    assert frames.shape == (expected_frames, height, width, 3)
    assert fps == FPS
    video_seconds = expected_frames / FPS
    audio_seconds = samples / rate
    assert video_seconds - 1e-3 <= audio_seconds <= video_seconds + AAC_SLACK_S, (audio_seconds, video_seconds)
    assert frames.std() > 0, "decoded video is constant"
    check_text_encoder(server, prompt, models, name)
    print(f"{name}: {elapsed:.1f} s, audio {audio_seconds:.4f} s, video {video_seconds:.4f} s")


def test_interrupt_mid_sampling_then_next_prompt_runs(server, object_info, models):
    path = os.path.join(workflow_api.WORKFLOWS, "LTX2 Text to Video with Audio.json")
    long_prompt = small_prompt(path, object_info, steps=200, frames=41, size=(128, 128))
    log_before = len(server.log())
    prompt_id = server.queue(long_prompt)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "LTX2 Sampler: 200 steps" not in server.log()[log_before:]:
        time.sleep(0.1)
    time.sleep(0.5)
    status, _ = server.post("/interrupt")
    assert status == 200
    entry = server.wait(prompt_id, timeout=60)
    assert entry["status"]["status_str"] == "error"
    messages = {m[0]: m[1] for m in entry["status"]["messages"]}
    assert "execution_interrupted" in messages, messages
    assert messages["execution_interrupted"]["node_type"] == "LTX2Sampler"
    clear_outputs(server)
    entry = server.run(small_prompt(path, object_info))
    assert len(saved_videos(server, entry)) == 1
