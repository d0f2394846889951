"""LTX-Video 0.9.x (2B / 13B, video only): the model family LTX-2 grew from."""

from .detect import model_family
from .transformer import (LTXVTransformer, LTXVTransformerConfig, apply_ltxv_loras, load_ltxv_transformer,
                          save_tiny_checkpoint, video_positions)
from .upsampler import load_ltxv_upsampler
from .vae import LTXVVAEConfig, LTXVVideoVAE, load_ltxv_vae

__all__ = ["LTXVTransformer", "LTXVTransformerConfig", "LTXVVAEConfig", "LTXVVideoVAE", "apply_ltxv_loras",
           "load_ltxv_transformer", "load_ltxv_upsampler", "load_ltxv_vae", "model_family", "save_tiny_checkpoint",
           "video_positions"]
