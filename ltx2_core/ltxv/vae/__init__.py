"""LTX-Video 0.9.x causal video VAE (0.9.0, 0.9.1 denoising decoder, 0.9.5+) on the LTX-2 VAE layers."""

from .config import LTXVBlock, LTXVVAEConfig, tiny_metadata
from .loader import load_ltxv_vae
from .model import LTXVVideoVAE
from .tiny import save_tiny_ltxv_vae, tiny_state_dict

__all__ = ["LTXVBlock", "LTXVVAEConfig", "LTXVVideoVAE", "load_ltxv_vae", "save_tiny_ltxv_vae",
           "tiny_metadata", "tiny_state_dict"]
