"""GGUF weights stay packed inside a real ComfyUI: a GGUF transformer and a GGUF Gemma loaded through our nodes
keep every quantized tensor packed through whole prompts, with a full load and with a partial (lowvram-style)
load, and the transformer's weights occupy about the file's tensor bytes (not the 3x of float32 weights).

Observed from the server process through the line nodes/host.py logs whenever a network with packed weights
is loaded for compute: 'LTX2: <network> loaded for compute: N packed weights, B bytes of weights'."""

import os
import re

import gguf

from comfy_server import clear_outputs
from run_helpers import saved_videos, small_prompt
from test_nodes_graphs import GGUF

LINE = re.compile(r"LTX2: (transformer|text_encoder) (.+?): (\d+) packed weights, (\d+) bytes of weights")
FLOAT_TYPES = {gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.BF16}
TINY_BUDGET_GB = 1e-5  # less than any layer: ComfyUI's partial load leaves nearly every layer offloaded
RATIO_TOLERANCE = 0.10


def file_facts(path):
    """(quantized tensors, bytes of all tensors) of a GGUF file, read with the gguf package."""
    reader = gguf.GGUFReader(path)
    quantized = sum(t.tensor_type not in FLOAT_TYPES for t in reader.tensors)
    return quantized, sum(int(t.n_bytes) for t in reader.tensors)


def compute_loads(log):
    """{network: [(packed, bytes), ...]} of the 'loaded for compute' lines in `log`."""
    found = {"transformer": [], "text_encoder": []}
    for kind, when, packed, nbytes in LINE.findall(log):
        if when == "loaded for compute":
            found[kind].append((int(packed), int(nbytes)))
    return found


def test_gguf_weights_stay_packed_through_prompts(server, comfy, object_info, models):
    quantized, file_bytes = file_facts(models["gguf"])
    gemma_quantized, _ = file_facts(models["gemma_gguf"])
    assert quantized == 60 and gemma_quantized == 15  # what synthetic_weights writes
    ratios = []
    # Two prompts per load mode: the second one's load shows the weights after a whole prompt ran. A new seed
    # and prompt text make the sampler and the text encoder run again (not answered from ComfyUI's cache).
    for run, budget in enumerate((6.0, 6.0, TINY_BUDGET_GB, TINY_BUDGET_GB)):
        prompt = small_prompt(GGUF, object_info, overrides={
            ("LTX2TransformerLoader", "gpu_weight_budget_gb"): budget, ("LTX2Sampler", "seed"): 500 + run,
            ("LTX2TextEncode", "prompt"): f"a fox in the snow, take {run}"})
        clear_outputs(server)
        before = len(server.log())
        entry = server.run(prompt)
        assert len(saved_videos(server, entry)) == 1
        log = server.log()[before:]
        if run != 3:  # run 3 reuses run 2's partially loaded model: ComfyUI may keep it as it is
            assert ("LTX2: transformer partially loaded" in log) == (budget == TINY_BUDGET_GB), log[-2000:]
        loads = compute_loads(log)
        assert loads["transformer"] and loads["text_encoder"], log[-3000:]
        for packed, nbytes in loads["transformer"]:
            assert packed == quantized, (run, packed, quantized)
            ratios.append(nbytes / file_bytes)
            assert abs(nbytes / file_bytes - 1) <= RATIO_TOLERANCE, (run, nbytes, file_bytes)
        assert all(packed == gemma_quantized for packed, _ in loads["text_encoder"]), loads["text_encoder"]
    loader_lines = [m for m in LINE.findall(server.log()) if m[1] == f"from {os.path.basename(models['gguf'])}"]
    assert loader_lines and all(int(m[2]) == quantized for m in loader_lines), loader_lines
    print(f"ComfyUI {comfy.version}: transformer weights / file tensor bytes = "
          f"{min(ratios):.3f}..{max(ratios):.3f} ({file_bytes} file tensor bytes), {quantized}/{quantized} packed")
