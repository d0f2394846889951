"""LTX2 Compile and LTX2 Step Cache in a real server, on a partially loaded (streamed) GGUF transformer: compile
(eager backend: the graphs dynamo captures, run as captured) and a threshold-0 cache give the frames and audio
of the plain full load up to rounding; a large threshold skips model calls and says so in the log."""

import os

import numpy as np

import workflow_api
from comfy_server import clear_outputs
from run_helpers import lossless_outputs, small_prompt, with_lossless_saves
from test_lowvram import TINY_BUDGET_GB

WORKFLOW, LOADER = "LTX2 GGUF Low VRAM.json", "LTX2TransformerLoader"


def _with_speed_nodes(prompt, threshold):
    prompt = {k: {"class_type": v["class_type"], "inputs": dict(v["inputs"])} for k, v in prompt.items()}
    sampler = next(k for k, v in prompt.items() if v["class_type"] == "LTX2Sampler")
    prompt["990"] = {"class_type": "LTX2Compile",
                     "inputs": {"model": prompt[sampler]["inputs"]["model"], "backend": "eager", "dynamic": False}}
    prompt["991"] = {"class_type": "LTX2StepCache", "inputs": {"model": ["990", 0], "threshold": threshold}}
    prompt[sampler]["inputs"]["model"] = ["991", 0]
    return prompt


def test_compile_and_step_cache_on_a_streamed_gguf_model(server, object_info, models):
    path = os.path.join(workflow_api.WORKFLOWS, WORKFLOW)
    clear_outputs(server)
    full = lossless_outputs(server, server.run(with_lossless_saves(small_prompt(path, object_info))))
    streamed = small_prompt(path, object_info, overrides={(LOADER, "gpu_weight_budget_gb"): TINY_BUDGET_GB})
    log_before = len(server.log())
    exact = lossless_outputs(server, server.run(with_lossless_saves(_with_speed_nodes(streamed, 0.0))))
    log = server.log()[log_before:]
    assert "LTX2: transformer partially loaded" in log
    assert "step cache" not in log  # threshold 0: no cache at all
    # compiled graphs may round differently in the last float bit: a few pixels one level off (measured: mean
    # 4.5e-5 levels), the audio within a few 16-bit steps
    frames = np.abs(exact[0].astype(float) - full[0])
    assert frames.max() <= 1 and frames.mean() < 1e-3, (frames.max(), frames.mean())
    audio = np.abs(np.asarray(exact[1], dtype=float) - np.asarray(full[1], dtype=float))
    assert audio.max() <= 1e-3, audio.max()
    log_before = len(server.log())
    server.run(with_lossless_saves(_with_speed_nodes(streamed, 1.0)))
    line = next(l for l in server.log()[log_before:].splitlines() if "step cache skipped" in l)
    skipped, calls = (int(w) for w in line.split("skipped ")[1].split(" model calls")[0].split(" of "))
    assert 0 < skipped == calls - 1, line
