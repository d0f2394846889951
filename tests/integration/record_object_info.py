"""Writes tests/data/object_info.json: our nodes' schemas as the host reports them.

Only our nodes are recorded from the live host. The core nodes the workflows use (the host-free workflow
test needs their widget order) are kept as they are in the file, and taken from the host only when missing:
their schemas differ between ComfyUI versions, so re-recording on another host does not rewrite them.
"""

import json
import os

from workflow_api import RECORDED, load, normalize, workflow_files


def record(object_info):
    previous = json.load(open(RECORDED)) if os.path.isfile(RECORDED) else {}
    ours = {k for k, v in object_info.items() if k.startswith("LTX2") and "custom_nodes" in v.get("python_module", "")}
    core = set()
    for path in workflow_files():
        core |= {n["type"] for n in load(path)["nodes"] if n["type"] in object_info and n["type"] not in ours}
    recorded = {k: normalize(object_info[k]) for k in ours}
    recorded.update({k: previous[k] if k in previous else normalize(object_info[k]) for k in core})
    temporary = f"{RECORDED}.tmp"
    with open(temporary, "w") as handle:
        json.dump(dict(sorted(recorded.items())), handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.replace(temporary, RECORDED)
