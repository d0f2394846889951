"""Runs with a small GPU-weight budget (partial, lowvram-style load: layers stay on the offload device
and are cast per forward) complete through the server and log the partial load. That streamed and full
loads give bit-identical latents is checked in-process (test_inprocess.py)."""

import os

import pytest

import workflow_api
from comfy_server import clear_outputs
from run_helpers import FRAMES, read_mp4, saved_videos, small_prompt

TINY_BUDGET_GB = 1e-5  # 10.5 KB: less than any layer, so nearly everything streams


@pytest.mark.parametrize("name,loader", [("ltx2_text_to_av.json", "LTX2CheckpointLoader"),
                                         ("ltx2_gguf_low_vram.json", "LTX2TransformerLoader")])
def test_small_budget_streams(server, object_info, models, name, loader):
    clear_outputs(server)
    log_before = len(server.log())
    prompt = small_prompt(os.path.join(workflow_api.WORKFLOWS, name), object_info,
                          overrides={(loader, "gpu_weight_budget_gb"): TINY_BUDGET_GB})
    entry = server.run(prompt)
    assert "LTX2: transformer partially loaded" in server.log()[log_before:]
    frames = read_mp4(saved_videos(server, entry)[0])[0]
    assert frames.shape[0] == FRAMES and frames.std() > 0
