"""LTX-Video 0.9.x diffusion transformer (2B / 13B): config, model, key names, loader, tiny files."""

from .config import LTXVTransformerConfig
from .keys import ltxv_state_dict_from, official_to_diffusers
from .loader import load_ltxv_transformer
from .lora import apply_loras as apply_ltxv_loras
from .model import LTXVTransformer
from .positions import video_positions
from .tiny import save_tiny_checkpoint

__all__ = ["LTXVTransformer", "LTXVTransformerConfig", "apply_ltxv_loras", "load_ltxv_transformer", "ltxv_state_dict_from",
           "official_to_diffusers", "save_tiny_checkpoint", "video_positions"]
