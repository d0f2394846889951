"""Graphs beyond the shipped workflows, run through the HTTP API of a real ComfyUI: a LoRA for another model,
video continuation and a batch of two clips (LoRA patching and exact re-runs: test_determinism.py)."""

import os

import numpy as np

import workflow_api
from comfy_server import clear_outputs
from run_helpers import FPS, read_mp4, saved_videos, small_prompt

T2AV = os.path.join(workflow_api.WORKFLOWS, "LTX2 Text to Video with Audio.json")
GGUF = os.path.join(workflow_api.WORKFLOWS, "LTX2 GGUF Low VRAM.json")


def node_of(prompt, class_type):
    return next(k for k, v in prompt.items() if v["class_type"] == class_type)


def with_lora(prompt, strength):
    prompt = {k: {"class_type": v["class_type"], "inputs": dict(v["inputs"])} for k, v in prompt.items()}
    sampler = node_of(prompt, "LTX2Sampler")
    prompt["900"] = {"class_type": "LTX2LoraLoader", "inputs": {
        "model": prompt[sampler]["inputs"]["model"], "lora_name": "ltx-2-test-lora.safetensors", "strength": strength}}
    prompt[sampler]["inputs"]["model"] = ["900", 0]
    return prompt


def frames_of(server, prompt):
    clear_outputs(server)
    entry = server.run(prompt)
    return read_mp4(saved_videos(server, entry)[0])[0]


def test_lora_for_another_model_is_a_clear_error(server, object_info, models, tmp_path):
    from safetensors.torch import save_file
    import torch

    lora_dir = os.path.join(server.base, "models", "loras")
    save_file({"diffusion_model.not_a_layer.lora_A.weight": torch.zeros(2, 4),
               "diffusion_model.not_a_layer.lora_B.weight": torch.zeros(4, 2)},
              os.path.join(lora_dir, "other-model-lora.safetensors"))
    prompt = with_lora(small_prompt(T2AV, object_info), 1.0)
    prompt["900"]["inputs"]["lora_name"] = "other-model-lora.safetensors"
    entry = server.wait(server.queue(prompt))
    assert entry["status"]["status_str"] == "error"
    error = next(m[1] for m in entry["status"]["messages"] if m[0] == "execution_error")
    assert error["node_type"] == "LTX2LoraLoader"
    assert "not_a_layer" in error["exception_message"] and "another model version" in error["exception_message"]


def test_video_continuation(server, object_info, models):
    prompt = small_prompt(T2AV, object_info)
    decode = node_of(prompt, "LTX2VideoDecode")
    prompt["910"] = {"class_type": "LTX2EmptyAVLatent", "inputs": {
        "width": 64, "height": 64, "frames": 17, "seconds": 0.0, "fps": FPS, "batch_size": 1}}
    prompt["911"] = {"class_type": "LTX2VideoContinuation", "inputs": {
        "latent": ["910", 0], "video_vae": prompt[decode]["inputs"]["video_vae"], "images": [decode, 0], "strength": 1.0}}
    sampler = node_of(prompt, "LTX2Sampler")
    prompt["912"] = {"class_type": "LTX2Sampler", "inputs": {**prompt[sampler]["inputs"], "latent": ["911", 0]}}
    prompt["913"] = {"class_type": "LTX2VideoDecode", "inputs": {**prompt[decode]["inputs"], "latent": ["912", 0]}}
    audio = node_of(prompt, "LTX2AudioDecode")
    prompt["914"] = {"class_type": "LTX2AudioDecode", "inputs": {**prompt[audio]["inputs"], "latent": ["912", 0]}}
    prompt["915"] = {"class_type": "CreateVideo", "inputs": {"images": ["913", 0], "fps": ["913", 1], "audio": ["914", 0]}}
    prompt["916"] = {"class_type": "SaveVideo", "inputs": {"video": ["915", 0], "filename_prefix": "video/continued",
                                                          "format": "auto", "codec": "auto"}}
    clear_outputs(server)
    entry = server.run(prompt)
    lengths = sorted(read_mp4(p)[0].shape[0] for p in saved_videos(server, entry))
    assert lengths == [9, 17]


def test_batch_of_two_clips(server, object_info, models):
    prompt = small_prompt(T2AV, object_info)
    prompt[node_of(prompt, "LTX2EmptyAVLatent")]["inputs"]["batch_size"] = 2
    frames = frames_of(server, prompt)
    assert frames.shape[0] == 18  # both clips' frames, one after the other
    assert not np.array_equal(frames[:9], frames[9:])  # different noise per clip


def test_every_sampler_runs(server, object_info, models):
    for sampler in ("gradient_estimation", "res_2s"):
        prompt = small_prompt(T2AV, object_info)
        prompt[node_of(prompt, "LTX2Sampler")]["inputs"]["sampler"] = sampler
        frames = frames_of(server, prompt)
        assert frames.shape[0] == 9 and frames.std() > 0, sampler
