"""Writes tests/data/object_info.json: our nodes plus the core nodes the workflows use, as the host reports them."""

import json

from workflow_api import RECORDED, load, normalize, workflow_files


def record(object_info):
    wanted = {k for k in object_info if k.startswith("LTX2")}
    for path in workflow_files():
        wanted |= {n["type"] for n in load(path)["nodes"] if n["type"] in object_info}
    recorded = {k: normalize(object_info[k]) for k in sorted(wanted)}
    with open(RECORDED, "w") as handle:
        json.dump(recorded, handle, indent=1, sort_keys=True)
        handle.write("\n")
