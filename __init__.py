"""ComfyUI-LTX2: LTX-2 / LTX-2.3 audio+video generation for ComfyUI with a self-contained implementation.

ComfyUI imports this file and registers NODE_CLASS_MAPPINGS (V3 io.ComfyNode classes) and the web
extension in WEB_DIRECTORY. Outside ComfyUI (plain `import`, tests of ltx2_core) the mappings are empty.
"""

WEB_DIRECTORY = "./web"

try:
    import comfy_api.latest  # noqa: F401  (present only inside a ComfyUI process)
except ImportError:
    NODE_CLASS_MAPPINGS = {}
    NODE_DISPLAY_NAME_MAPPINGS = {}
else:
    from .nodes import DISPLAY_NAMES as NODE_DISPLAY_NAME_MAPPINGS
    from .nodes import NODE_CLASS_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
