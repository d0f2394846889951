"""Small add-on models shipped beside the LTX transformer (ComfyUI `model_patches/` folder)."""

from .duration_head import DurationHead, DurationHeadConfig, load_duration_head

__all__ = ["DurationHead", "DurationHeadConfig", "load_duration_head"]
