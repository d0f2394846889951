"""Workflow JSON helpers shared by the static and the integration tests (no ComfyUI import).

`validate` checks a UI-format workflow (what ComfyUI saves and loads) against an /object_info
mapping; `to_api` converts it to the API format that POST /prompt takes.
"""

import copy
import json
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKFLOWS = os.path.join(REPO, "workflows")
RECORDED = os.path.join(REPO, "tests", "data", "object_info.json")
# Combo inputs whose options are the user's files: their option lists are not recorded.
FILE_INPUTS = {"ckpt_name", "model_name", "text_encoder_name", "t5_name", "vae_name", "lora_name", "image", "audio"}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
# Frontend-only nodes that never reach the server.
UI_ONLY = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}


def workflow_files():
    return sorted(os.path.join(WORKFLOWS, f) for f in os.listdir(WORKFLOWS) if f.endswith(".json"))


def load(path):
    with open(path) as handle:
        return json.load(handle)


def normalize(info):
    """An object_info entry with user-file option lists emptied (they depend on the models folder)."""
    info = copy.deepcopy(info)
    for section in ("required", "optional"):
        for name, spec in info["input"].get(section, {}).items():
            if name in FILE_INPUTS and isinstance(spec[0], list):
                spec[0] = []
            elif name in FILE_INPUTS and spec[0] == "COMBO":
                spec[1]["options"] = []
    return info


def input_specs(info):
    specs = {}
    for section in ("required", "optional"):
        for name, spec in info["input"].get(section, {}).items():
            specs[name] = (spec, section == "required")
    order = info.get("input_order", {})
    names = order.get("required", []) + order.get("optional", [])
    return [(n, *specs[n]) for n in names if n in specs] or [(n, *v) for n, v in specs.items()]


def spec_type(spec):
    return "COMBO" if isinstance(spec[0], list) else spec[0]


def is_widget(spec):
    options = spec[1] if len(spec) > 1 else {}
    return spec_type(spec) in WIDGET_TYPES and not options.get("forceInput")


def widget_names(info):
    """Widget input names in the order the frontend stores their values (seed control adds a slot)."""
    names = []
    for name, spec, _required in input_specs(info):
        if is_widget(spec):
            names.append(name)
            options = spec[1] if len(spec) > 1 else {}
            if options.get("control_after_generate") or (spec_type(spec) == "INT" and name in ("seed", "noise_seed")):
                names.append(None)  # 'fixed' / 'randomize' control value
            if options.get("image_upload") or options.get("audio_upload") or options.get("video_upload"):
                names.append(None)  # upload button
    return names


def combo_options(spec):
    if isinstance(spec[0], list):
        return spec[0]
    return spec[1].get("options", []) if len(spec) > 1 else []


def check_value(node_type, name, spec, value):
    kind = spec_type(spec)
    options = spec[1] if len(spec) > 1 else {}
    where = f"{node_type}.{name}={value!r}"
    if kind == "COMBO":
        choices = combo_options(spec)
        if name not in FILE_INPUTS:
            assert value in choices, f"{where} not in {choices}"
        else:
            assert isinstance(value, str) and value, where
    elif kind == "INT":
        assert isinstance(value, int) and not isinstance(value, bool), where
        assert options.get("min", value) <= value <= options.get("max", value), where
    elif kind == "FLOAT":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
        assert options.get("min", value) <= value <= options.get("max", value), where
    elif kind == "STRING":
        assert isinstance(value, str), where
    elif kind == "BOOLEAN":
        assert isinstance(value, bool), where


def validate(workflow, object_info):
    """Assert every node id exists, widget values fit their inputs and every link joins matching types."""
    nodes = {n["id"]: n for n in workflow["nodes"]}
    links = {l[0]: l for l in workflow["links"]}
    for node in workflow["nodes"]:
        if node["type"] in UI_ONLY:
            continue
        assert node["type"] in object_info, f"unknown node id {node['type']!r}"
        info = object_info[node["type"]]
        values = node.get("widgets_values", [])
        names = widget_names(info)
        assert len(values) == len(names), f"{node['type']}: {len(values)} widget values for {names}"
        specs = {n: s for n, s, _ in input_specs(info)}
        for name, value in zip(names, values):
            if name is not None:
                check_value(node["type"], name, specs[name], value)
        linked = {i["name"]: i.get("link") for i in node.get("inputs", [])}
        for name, spec, required in input_specs(info):
            if is_widget(spec):
                continue
            if required:
                assert linked.get(name) is not None, f"{node['type']}.{name} is not connected"
        for entry in node.get("inputs", []):
            if entry.get("link") is None:
                continue
            assert entry["name"] in specs, f"{node['type']} has no input {entry['name']!r}"
            link = links[entry["link"]]
            source = nodes[link[1]]
            out_type = object_info[source["type"]]["output"][link[2]]
            want = spec_type(specs[entry["name"]])
            assert out_type == want or "*" in (out_type, want), (
                f"link {link[0]}: {source['type']} output {link[2]} is {out_type}, {node['type']}.{entry['name']} wants {want}"
            )
            assert link[3] == node["id"], f"link {link[0]} does not end at node {node['id']}"


def to_api(workflow, object_info):
    """The API-format prompt {node_id: {class_type, inputs}} of a UI-format workflow."""
    links = {l[0]: l for l in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        if node["type"] in UI_ONLY or node.get("mode", 0) in (2, 4):
            continue
        info = object_info[node["type"]]
        inputs = {}
        for name, value in zip(widget_names(info), node.get("widgets_values", [])):
            if name is not None:
                inputs[name] = value
        for entry in node.get("inputs", []):
            if entry.get("link") is not None:
                link = links[entry["link"]]
                inputs[entry["name"]] = [str(link[1]), link[2]]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt
