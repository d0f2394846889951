"""LTX-2 / LTX-2.3 causal video VAE (32x spatial / 8x temporal compression, tiled decode and encode) and the
LTX-2.5 diffusion-decoder VAE (`DiffusionVideoVAE`)."""

from .config import LTX2_VAE_METADATA, LTX23_VAE_METADATA, BlockSpec, VideoVAEConfig
from .diffusion_decoder import DiffusionDecoderConfig, DiffusionVAEConfig, DiffusionVideoVAE
from .loader import load_video_vae
from .model import VideoVAE
from .shell import PerChannelStatistics
from .tiling import TilingConfig

__all__ = [
    "BlockSpec",
    "DiffusionDecoderConfig",
    "DiffusionVAEConfig",
    "DiffusionVideoVAE",
    "LTX2_VAE_METADATA",
    "LTX23_VAE_METADATA",
    "PerChannelStatistics",
    "TilingConfig",
    "VideoVAE",
    "VideoVAEConfig",
    "load_video_vae",
]
