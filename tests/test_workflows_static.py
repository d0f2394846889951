"""Every shipped workflow uses only existing node ids (ours or core) with valid widget values and links.

Checked against tests/data/object_info.json, recorded from a real ComfyUI host (the integration test
`test_recorded_schemas_match_live` fails when it is stale). Needs no ComfyUI.
"""

import ast
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
import workflow_api  # noqa: E402

RECORDED = json.load(open(workflow_api.RECORDED))
FILES = workflow_api.workflow_files()
EXPECTED = {
    "LTX2 Text to Video with Audio.json", "LTX2 Image to Video with Audio.json",
    "LTX2 First and Last Frame to Video.json", "LTX2 Distilled with 2x Upscale.json",
    "LTX2 GGUF Low VRAM.json", "LTX2 Audio to Video.json", "LTX2 IC-LoRA Structure Control.json",
    "LTX2 Reference Voice.json", "LTX2 Video to Audio.json", "LTX2 Long Clip by Extension.json",
    "LTX-Video 13B Distilled Text to Video.json", "LTX-Video 2B Image to Video.json",
    "LTX-Video 13B Multi-Scale with Spatial Upscaler.json", "LTX-Video First and Last Frame to Video.json",
    "LTX-Video 0.9.1 with Denoising Decoder.json",
    "LTX-2.5 Distilled Text to Video with Auto Duration.json", "LTX-2.5 Distilled Image to Video with Audio.json",
    "LTX-2.5 Dev Two-Stage with 2x Upscale.json",
}


def registered_ids():
    """Node ids listed in nodes/__init__.py NODE_CLASSES (read statically: importing needs ComfyUI)."""
    tree = ast.parse(open(os.path.join(workflow_api.REPO, "nodes", "__init__.py")).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "NODE_CLASSES":
            return {element.attr for element in node.value.elts}
    raise AssertionError("NODE_CLASSES not found")


def test_expected_workflows_present():
    assert {os.path.basename(f) for f in FILES} == EXPECTED


def test_recorded_ours_equal_registered():
    assert {k for k in RECORDED if k.startswith("LTX2")} == registered_ids()


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_workflow_valid(path):
    workflow = workflow_api.load(path)
    workflow_api.validate(workflow, RECORDED)
    types = {n["type"] for n in workflow["nodes"]} - workflow_api.UI_ONLY
    assert all(t.startswith("LTX2") or t in RECORDED for t in types)
    assert any(t == "SaveVideo" for t in types), "every workflow saves an mp4"
    prompt = workflow_api.to_api(workflow, RECORDED)
    assert len(prompt) == len([n for n in workflow["nodes"] if n["type"] not in workflow_api.UI_ONLY])


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_single_fps_source(path):
    """Create Video takes its fps from LTX2 Video Decode (the latent's fps), or from LTX2 Video to Audio (the
    given video's fps, which its latent also carries), never from a typed number."""
    workflow = workflow_api.load(path)
    prompt = workflow_api.to_api(workflow, RECORDED)
    for node in prompt.values():
        if node["class_type"] == "CreateVideo":
            source = prompt[node["inputs"]["fps"][0]]
            assert source["class_type"] in ("LTX2VideoDecode", "LTX2VideoToAudio")


LTXV_FILES = [f for f in FILES if os.path.basename(f).startswith("LTX-Video")]
AUDIO_NODES = {"LTX2AudioDecode", "LTX2AudioConditioning", "LTX2AudioVAELoader", "LTX2TextEncoderLoader",
               "LTX2PromptEnhancer", "LTX2Scheduler"}


@pytest.mark.parametrize("path", LTXV_FILES, ids=os.path.basename)
def test_ltxv_workflows_use_the_ltxv_path(path):
    """LTX-Video workflows: T5 prompts, the LTX-Video scheduler on every sampler, no LTX-2-only (audio / Gemma)
    node, video without audio, and an LTX-Video checkpoint file."""
    prompt = workflow_api.to_api(workflow_api.load(path), RECORDED)
    types = [n["class_type"] for n in prompt.values()]
    assert not AUDIO_NODES & set(types), AUDIO_NODES & set(types)
    assert types.count("LTX2T5TextEncoderLoader") == 1
    for node in prompt.values():
        inputs = node["inputs"]
        if node["class_type"] == "LTX2Sampler":
            assert prompt[inputs["sigmas"][0]]["class_type"] == "LTX2LTXVScheduler"
            assert prompt[inputs["conditioning"][0]]["class_type"] == "LTX2TextEncode"
        if node["class_type"] == "CreateVideo":
            assert "audio" not in inputs
        if node["class_type"] == "LTX2CheckpointLoader":
            assert inputs["ckpt_name"].startswith(("ltxv-", "ltx-video-")), inputs["ckpt_name"]


def test_ltxv_workflow_features():
    """The five LTX-Video workflows show what their names say."""
    def prompt(name):
        return workflow_api.to_api(workflow_api.load(os.path.join(workflow_api.WORKFLOWS, name + ".json")), RECORDED)

    def of(p, class_type):
        return [n["inputs"] for n in p.values() if n["class_type"] == class_type]

    multi = prompt("LTX-Video 13B Multi-Scale with Spatial Upscaler")
    assert len(of(multi, "LTX2Sampler")) == 2 and len(of(multi, "LTX2LatentUpscale")) == 1
    assert sorted(s["schedule"] for s in of(multi, "LTX2LTXVScheduler")) == ["distilled", "distilled second pass"]
    keys = prompt("LTX-Video First and Last Frame to Video")
    assert sorted(c["frame_index"] for c in of(keys, "LTX2ImageConditioning")) == [-1, 0]
    i2v = prompt("LTX-Video 2B Image to Video")
    assert [c["frame_index"] for c in of(i2v, "LTX2ImageConditioning")] == [0]
    assert of(i2v, "LTX2CheckpointLoader")[0]["ckpt_name"].startswith("ltxv-2b-")
    old = prompt("LTX-Video 0.9.1 with Denoising Decoder")
    assert of(old, "LTX2CheckpointLoader")[0]["ckpt_name"] == "ltx-video-2b-v0.9.1.safetensors"
    assert of(old, "LTX2T5TextEncoderLoader")[0]["max_length"].startswith("128")
    decode = of(old, "LTX2VideoDecode")[0]
    assert (decode["decode_timestep"], decode["decode_noise_scale"]) == (0.05, 0.025)
    assert of(old, "LTX2Guider")[0]["video_cfg"] > 1 and of(old, "LTX2LTXVScheduler")[0]["schedule"] == "dev"
    t2v = prompt("LTX-Video 13B Distilled Text to Video")
    assert of(t2v, "LTX2CheckpointLoader")[0]["ckpt_name"] == "ltxv-13b-0.9.8-distilled.safetensors"
    assert of(t2v, "LTX2LTXVScheduler")[0]["schedule"] == "distilled"


def test_validator_rejects_bad_workflows():
    workflow = workflow_api.load(os.path.join(workflow_api.WORKFLOWS, "LTX2 Text to Video with Audio.json"))
    broken = json.loads(json.dumps(workflow))
    broken["nodes"][0]["type"] = "LTXVNotANode"
    with pytest.raises(AssertionError, match="unknown node id"):
        workflow_api.validate(broken, RECORDED)
    broken = json.loads(json.dumps(workflow))
    scheduler = next(n for n in broken["nodes"] if n["type"] == "LTX2Scheduler")
    scheduler["widgets_values"][0] = "karras"
    with pytest.raises(AssertionError, match="not in"):
        workflow_api.validate(broken, RECORDED)
    broken = json.loads(json.dumps(workflow))
    sampler = next(n for n in broken["nodes"] if n["type"] == "LTX2Sampler")
    next(i for i in sampler["inputs"] if i["name"] == "guider")["link"] = None
    with pytest.raises(AssertionError, match="not connected"):
        workflow_api.validate(broken, RECORDED)
