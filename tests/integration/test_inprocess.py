"""Node classes run inside a ComfyUI process (no server, no executor cache): the LoRA clone changes the
sampled latents and leaves the shared model exact, and a partially loaded (streamed) transformer gives
bit-identical latents to a full load, for safetensors and GGUF weights; run under torch.inference_mode as
ComfyUI runs nodes, the GGUF transformer keeps all 60 quantized weights packed after sampling."""

import json
import os
import subprocess

from comfy_server import REPO

HERE = os.path.dirname(os.path.abspath(__file__))


def test_lora_clone_and_streaming_in_process(comfy, synthetic_models, models):
    comfy_dir, python = comfy
    base = synthetic_models[0]
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_CBWR="COMPATIBLE")
    run = subprocess.run([python, os.path.join(HERE, "inprocess_nodes.py"), comfy_dir, REPO, os.path.join(base, "models")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    for name in ("safetensors", "gguf"):
        item = report[name]
        assert item["lora_effect"] > 1e-3, report
        assert item["base_after_lora"] == 0.0, report
        assert item["streamed_partial"] is True, report
        assert item["streamed_vs_full"] == 0.0, report
    assert report["safetensors"]["packed_after_sampling"] == [0, 0], report
    assert report["gguf"]["packed_after_sampling"] == [60, 60], report  # every quantized tensor of the file
