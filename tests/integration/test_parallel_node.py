"""'LTX2 Parallel Workers' + 'LTX2 Parallel Sampler' in a real ComfyUI (CPU): 2 Ray workers load the synthetic
checkpoint and run the sampler with sequence parallelism + FSDP; the clip equals 'LTX2 Sampler''s up to float
rounding, the workers are reused by the next prompt, and Cancel during sampling shuts them down (the next
prompt starts new ones and runs); 'LTX2 Parallel Video Decode' gives 'LTX2 Video Decode''s frames with the same
tiles."""

import os
import time

import numpy as np
import pytest

import workflow_api
from comfy_server import clear_outputs
from run_helpers import lossless_outputs, small_prompt, with_lossless_saves

pytest.importorskip("ray", reason="ray is optional (requirements-dev.txt / setup_comfyui.sh install it)")
WORKFLOW = "LTX2 Text to Video with Audio.json"


TILES = {("LTX2VideoDecode", "tile_size"): 64, ("LTX2VideoDecode", "tile_overlap"): 32,
         ("LTX2VideoDecode", "chunk_frames"): 16, ("LTX2VideoDecode", "chunk_overlap"): 8}


def _parallel(prompt, seed=None, steps=None, decode=False):
    """`prompt` with its LTX2Sampler replaced by the parallel sampler fed by a 2-worker node (and with `decode`,
    its LTX2VideoDecode by the parallel decode with the same tiles)."""
    prompt = {k: {"class_type": v["class_type"], "inputs": dict(v["inputs"])} for k, v in prompt.items()}
    sampler = next(k for k, v in prompt.items() if v["class_type"] == "LTX2Sampler")
    loader = next(v for v in prompt.values() if v["class_type"] == "LTX2CheckpointLoader")
    prompt["970"] = {"class_type": "LTX2ParallelWorkers", "inputs": {
        "model_name": "checkpoints/" + loader["inputs"]["ckpt_name"], "workers": 2, "mode": "sp+fsdp",
        "device": "cpu", "dtype": "float32", "offload_shards": False}}
    inputs = prompt[sampler]["inputs"]
    inputs.pop("model"), inputs.pop("preview", None)
    inputs["workers"] = ["970", 0]
    if seed is not None:
        inputs["seed"] = seed
    prompt[sampler]["class_type"] = "LTX2ParallelSampler"
    if decode:
        node = prompt[next(k for k, v in prompt.items() if v["class_type"] == "LTX2VideoDecode")]
        keep = ("latent", "tile_size", "tile_overlap", "chunk_frames", "chunk_overlap")
        node["inputs"] = dict({k: node["inputs"][k] for k in keep}, workers=["970", 0],
                              vae_name="checkpoints/" + loader["inputs"]["ckpt_name"])
        node["class_type"] = "LTX2ParallelVideoDecode"
    return prompt


def test_parallel_workers_match_the_sampler_are_reused_and_stop_on_cancel(server, object_info, models):
    path = os.path.join(workflow_api.WORKFLOWS, WORKFLOW)
    assert "LTX2ParallelWorkers" in object_info and "LTX2ParallelSampler" in object_info
    clear_outputs(server)
    base = small_prompt(path, object_info)
    single = lossless_outputs(server, server.run(with_lossless_saves(base)))
    log_before = len(server.log())
    parallel = lossless_outputs(server, server.run(with_lossless_saves(_parallel(base)), timeout=300))
    frames = np.abs(parallel[0].astype(float) - single[0])
    assert frames.shape[0] > 1 and frames.max() <= 1 and frames.mean() < 1e-2, (frames.max(), frames.mean())
    audio = np.abs(np.asarray(parallel[1], dtype=float) - np.asarray(single[1], dtype=float))
    assert audio.max() <= 1e-3, audio.max()
    seed = base[next(k for k, v in base.items() if v["class_type"] == "LTX2Sampler")]["inputs"]["seed"]
    server.run(with_lossless_saves(_parallel(base, seed=seed + 1)), timeout=300)
    log = server.log()[log_before:]
    assert log.count("LTX2 Parallel Workers: 2 cpu workers (sp+fsdp)") == 1, log[-3000:]  # started once
    assert log.count("LTX2 Parallel Sampler:") == 2

    long_prompt = _parallel(small_prompt(path, object_info, steps=200, frames=41, size=(128, 128)))
    log_before = len(server.log())
    prompt_id = server.queue(long_prompt)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "LTX2 Parallel Sampler: 200 steps" not in server.log()[log_before:]:
        time.sleep(0.1)
    time.sleep(1.0)
    status, _ = server.post("/interrupt")
    assert status == 200
    entry = server.wait(prompt_id, timeout=60)
    assert entry["status"]["status_str"] == "error"
    messages = {m[0]: m[1] for m in entry["status"]["messages"]}
    assert messages["execution_interrupted"]["node_type"] == "LTX2ParallelSampler", messages
    assert "interrupted, the workers were shut down" in server.log()[log_before:]
    log_before = len(server.log())
    again = lossless_outputs(server, server.run(with_lossless_saves(_parallel(base)), timeout=300))
    assert "LTX2 Parallel Sampler: 2 steps" in server.log()[log_before:]  # sampled again, by new workers
    assert np.array_equal(again[0], parallel[0])  # the same clip

    # 128x64 px with 64 px tiles: 3 tiles over 2 workers, the frames of 'LTX2 Video Decode' with those tiles
    wide = small_prompt(path, object_info, size=(128, 64), overrides=TILES)
    single = lossless_outputs(server, server.run(with_lossless_saves(wide)))
    log_before = len(server.log())
    decoded = lossless_outputs(server, server.run(_parallel(with_lossless_saves(wide), decode=True), timeout=300))
    assert "LTX2 Parallel Video Decode: " in server.log()[log_before:]
    frames = np.abs(decoded[0].astype(float) - single[0])
    assert frames.shape == (9, 64, 128, 3) and frames.max() <= 1 and frames.mean() < 1e-2, (frames.max(), frames.mean())
