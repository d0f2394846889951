"""Run in every Ray worker process before any task (`worker_process_setup_hook`): makes the pack importable
under the module name its host gave it (ComfyUI names custom-node packages by their folder or full path),
so the worker class and the request objects, pickled by that name, load in a process without ComfyUI.

Environment (set by `ray_pool`): LTX2_PACK_MODULE (the host's name for the pack; empty outside a host) and
LTX2_PACK_DIR (the pack folder)."""

import importlib.util
import os
import sys


def register_pack() -> None:
    name, folder = os.environ.get("LTX2_PACK_MODULE", ""), os.environ.get("LTX2_PACK_DIR", "")
    if not name or name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)  # outside ComfyUI the pack registers no nodes and imports nothing heavy
