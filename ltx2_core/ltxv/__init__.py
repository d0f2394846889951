"""LTX-Video 0.9.x (2B / 13B, video only): the model family LTX-2 grew from."""

from .detect import model_family
from .pipeline import (LTXVCondition, LTXVGuidance, decode_ltxv, denoise_ltxv, load_ltxv_components,
                       ltxv_sigmas)
from .transformer import (LTXVTransformer, LTXVTransformerConfig, apply_ltxv_loras, load_ltxv_transformer,
                          save_tiny_checkpoint, video_positions)
from .upsampler import load_ltxv_upsampler
from .vae import LTXVVAEConfig, LTXVVideoVAE, load_ltxv_vae

__all__ = ["LTXVCondition", "LTXVGuidance", "LTXVTransformer", "LTXVTransformerConfig", "LTXVVAEConfig",
           "LTXVVideoVAE", "apply_ltxv_loras", "decode_ltxv", "denoise_ltxv", "load_ltxv_components",
           "load_ltxv_transformer", "load_ltxv_upsampler", "load_ltxv_vae", "ltxv_sigmas", "model_family",
           "save_tiny_checkpoint", "video_positions"]
