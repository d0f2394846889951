"""Test-only oracles for the LTX-Video VAE: the official ltx_video 0.1.2 CausalVideoAutoencoder and diffusers'
AutoencoderKLLTXVideo, built with the tiny configs of `ltx2_core.ltxv.vae.tiny_metadata` and loaded with
the same random weights as ours."""

import copy

import torch

from ltx2_core.ltxv.vae import LTXVVAEConfig, LTXVVideoVAE, tiny_metadata, tiny_state_dict
from ltx2_core.ltxv.vae.keys import diffusers_names

VERSIONS = ("0.9.0", "0.9.1", "0.9.5")
T, F = True, False


def diffusers_kwargs(version: str, base: int = 8, latent: int = 8, full: bool = False) -> dict:
    """AutoencoderKLLTXVideo arguments equal to our tiny (or full-size) `version` config."""
    n = (lambda *v: v) if full else (lambda *v: (1,) * len(v))
    b = 128 if full else base
    enc090 = dict(block_out_channels=(b, 2 * b, 4 * b, 4 * b), layers_per_block=n(4, 3, 3, 3, 4),
                  spatio_temporal_scaling=(T, T, T, F))
    dec_new = dict(decoder_block_out_channels=(2 * b, 4 * b, 8 * b), decoder_spatio_temporal_scaling=(T, T, T),
                   upsample_residual=(T, T, T), upsample_factor=(2, 2, 2), timestep_conditioning=True)
    common = dict(latent_channels=128 if full else latent, patch_size=4, encoder_causal=True, decoder_causal=False)
    if version == "0.9.0":
        return dict(**common, **enc090, decoder_block_out_channels=(b, 2 * b, 4 * b, 4 * b),
                    decoder_layers_per_block=n(4, 3, 3, 3, 4), decoder_spatio_temporal_scaling=(T, T, T, F),
                    decoder_inject_noise=(F,) * 5, upsample_residual=(F,) * 4, upsample_factor=(1,) * 4,
                    timestep_conditioning=False)
    if version == "0.9.1":
        return dict(**common, **enc090, **dec_new, decoder_layers_per_block=n(5, 6, 7, 8),
                    decoder_inject_noise=(T, T, T, F))
    return dict(**common, **dec_new, block_out_channels=(b, 2 * b, 4 * b, 8 * b, 16 * b),
                down_block_types=("LTXVideo095DownBlock3D",) * 4, layers_per_block=n(4, 6, 6, 2, 2),
                spatio_temporal_scaling=(T, T, T, T),
                downsample_type=("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
                decoder_layers_per_block=n(5, 5, 5, 5), decoder_inject_noise=(F,) * 4,
                spatial_compression_ratio=32, temporal_compression_ratio=8)


def build_official(meta: dict, device=None):
    from ltx_video.models.autoencoders.causal_video_autoencoder import CausalVideoAutoencoder

    if device == "meta":
        with torch.device("meta"):
            return CausalVideoAutoencoder.from_config(copy.deepcopy(meta))
    return CausalVideoAutoencoder.from_config(copy.deepcopy(meta))


def build_diffusers(version: str, full: bool = False):
    from diffusers import AutoencoderKLLTXVideo

    if full:
        with torch.device("meta"):
            return AutoencoderKLLTXVideo(**diffusers_kwargs(version, full=True))
    return AutoencoderKLLTXVideo(**diffusers_kwargs(version))


def build_triple(version: str, seed: int = 0):
    """(official, diffusers, ours) float64 eval models with identical random weights."""
    meta = tiny_metadata(version)
    state = tiny_state_dict(version, seed=seed)
    ours = LTXVVideoVAE(LTXVVAEConfig.from_metadata(meta))
    ours.load_state_dict(state, strict=True)
    official = build_official(meta)
    official.load_state_dict({k: v for k, v in state.items() if not k.startswith("per_channel")}, strict=True)
    dif = build_diffusers(version)
    dif.load_state_dict({diffusers_names(ours.config, [k])[k]: v for k, v in state.items()}, strict=True)
    return official.double().eval(), dif.double().eval(), ours.double().eval()
