"""LTX-2.5 diffusion video decoder in pure torch: neighbourhood-attention stages + one-step pixel diffusion."""

from .config import DiffusionDecoderConfig
from .model import DiffusionVideoDecoder
from .neighborhood import neighborhood_attention
from .vae import DIFFUSION_CLASS_NAME, DiffusionVAEConfig, DiffusionVideoVAE

__all__ = [
    "DIFFUSION_CLASS_NAME",
    "DiffusionDecoderConfig",
    "DiffusionVAEConfig",
    "DiffusionVideoDecoder",
    "DiffusionVideoVAE",
    "neighborhood_attention",
]
