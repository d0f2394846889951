"""The attention the user chose for ComfyUI, as an ltx2_core attention function.

ComfyUI picks one attention for its own models from its launch flags, in this order: sage
(--use-sage-attention), xformers (installed and not disabled), flash (--use-flash-attention), PyTorch
(--use-pytorch-cross-attention or the default on recent torch), else split / sub-quadratic. We read that
choice through the public `comfy.model_management` functions (ComfyUI 0.3.x and 0.8.x both offer them),
with `comfy.cli_args.args` where one is missing, and hand the loaders the matching function. Split and
sub-quadratic attention are memory savers of ComfyUI's own; SDPA stands in for them here.

This module imports no ComfyUI at import time, so `host_attention_kind` is testable with stand-ins.
"""

import logging
from typing import Any, Tuple

# (model_management function, cli_args attribute used when the function is missing, our kind)
_ORDER = (
    ("sage_attention_enabled", "use_sage_attention", "sage"),
    ("xformers_enabled", None, "xformers"),
    ("flash_attention_enabled", "use_flash_attention", "flash"),
    ("pytorch_attention_enabled", "use_pytorch_cross_attention", "sdpa"),
)


def _enabled(mm: Any, args: Any, function: str, flag) -> bool:
    check = getattr(mm, function, None)
    if callable(check):
        return bool(check())
    return bool(flag and getattr(args, flag, False))


def host_attention_kind(mm: Any, args: Any) -> Tuple[str, str]:
    """(kind for ltx2_core.attention.make_attention, the host setting it comes from)."""
    for function, flag, kind in _ORDER:
        if _enabled(mm, args, function, flag):
            return kind, function
    if getattr(args, "use_split_cross_attention", False):
        return "sdpa", "use_split_cross_attention (SDPA stands in)"
    if getattr(args, "use_quad_cross_attention", False):
        return "sdpa", "use_quad_cross_attention (SDPA stands in)"
    return "sdpa", "no attention flag"


def host_attention():
    """The attention function matching this ComfyUI's choice (SDPA when its package does not import)."""
    import comfy.model_management as mm
    from comfy.cli_args import args

    from ..ltx2_core.attention import make_attention

    kind, source = host_attention_kind(mm, args)
    logging.info("LTX2: ComfyUI attention setting %s -> %s attention", source, kind)
    return make_attention(kind)
