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
    "LTX2 GGUF Low VRAM.json", "LTX2 Audio to Video.json",
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
    """Create Video takes its fps from LTX2 Video Decode (the latent's fps), never from a typed number."""
    workflow = workflow_api.load(path)
    prompt = workflow_api.to_api(workflow, RECORDED)
    for node in prompt.values():
        if node["class_type"] == "CreateVideo":
            source = prompt[node["inputs"]["fps"][0]]
            assert source["class_type"] == "LTX2VideoDecode"


def test_validator_rejects_bad_workflows():
    workflow = workflow_api.load(FILES[0])
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
