"""LTX-Video 0.9.x (2B / 13B, video only): the model family LTX-2 grew from."""

from .upsampler import load_ltxv_upsampler
from .vae import LTXVVAEConfig, LTXVVideoVAE, load_ltxv_vae
