"""Runs with a small GPU-weight budget (partial, lowvram-style load: layers stay on the offload device
and are cast per forward) through the server log the partial load and save the same frames and audio, bit
for bit, as a full load (compared on lossless PNG / FLAC saves, see run_helpers.with_lossless_saves)."""

import os

import numpy as np
import pytest

import workflow_api
from comfy_server import clear_outputs
from run_helpers import FRAMES, lossless_outputs, small_prompt, with_lossless_saves

TINY_BUDGET_GB = 1e-5  # 10.5 KB: less than any layer, so nearly everything streams


@pytest.mark.parametrize("name,loader", [("LTX2 Text to Video with Audio.json", "LTX2CheckpointLoader"),
                                         ("LTX2 GGUF Low VRAM.json", "LTX2TransformerLoader")])
def test_small_budget_streams_and_equals_full_load(server, object_info, models, name, loader):
    path = os.path.join(workflow_api.WORKFLOWS, name)
    clear_outputs(server)
    full = lossless_outputs(server, server.run(with_lossless_saves(small_prompt(path, object_info))))
    clear_outputs(server)
    log_before = len(server.log())
    prompt = small_prompt(path, object_info, overrides={(loader, "gpu_weight_budget_gb"): TINY_BUDGET_GB})
    streamed = lossless_outputs(server, server.run(with_lossless_saves(prompt)))
    assert "LTX2: transformer partially loaded" in server.log()[log_before:]
    assert streamed[0].shape[0] == FRAMES and streamed[0].std() > 0
    assert np.array_equal(streamed[0], full[0]), np.abs(streamed[0].astype(float) - full[0]).mean()
    assert np.array_equal(streamed[1], full[1])
