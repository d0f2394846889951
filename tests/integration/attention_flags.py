"""Reads ComfyUI's attention choice inside a real host (executed by the host's Python, one flag set a run).

usage: python attention_flags.py COMFYUI_DIR PACK_DIR [COMFYUI FLAGS...]
Prints one JSON line: the kind and source nodes.attention reads from comfy.model_management / cli_args,
and the name of the attention function the loaders would get.
"""

import importlib.util
import json
import sys

comfy_dir, pack_dir, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, comfy_dir)
sys.argv = [sys.argv[0], "--cpu", *flags]
import utils.install_util  # noqa: E402,F401  (ComfyUI's own `utils` package must win over others)
import comfy.options  # noqa: E402

comfy.options.enable_args_parsing()
import comfy.model_management as mm  # noqa: E402
from comfy.cli_args import args  # noqa: E402

spec = importlib.util.spec_from_file_location("ltx2pack", f"{pack_dir}/__init__.py",
                                              submodule_search_locations=[pack_dir])
pack = importlib.util.module_from_spec(spec)
sys.modules["ltx2pack"] = pack
spec.loader.exec_module(pack)
from ltx2pack.nodes import attention  # noqa: E402

kind, source = attention.host_attention_kind(mm, args)
fn = attention.host_attention()
print(json.dumps({"kind": kind, "source": source, "function": getattr(fn, "__name__", repr(fn))}))
