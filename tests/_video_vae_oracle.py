"""Shared helpers for the video-VAE and latent-upsampler tests: tiny VAE metadata, random weights,
state-dict shape inventories and the error measures used against ltx-core 1.0.0 (imported by the
tests themselves; this module needs only torch and ltx2_core)."""

import copy

import torch

from ltx2_core.video_vae import LTX2_VAE_METADATA, LTX23_VAE_METADATA

LATENT = 8
VERSIONS = {"ltx2": LTX2_VAE_METADATA, "ltx23": LTX23_VAE_METADATA}


def tiny_metadata(version: str = "ltx23", timestep_conditioning: bool = False) -> dict:
    """A released VAE config at toy width: 8 latent channels, 4 decoder base channels, 1 layer per res block."""
    meta = copy.deepcopy(VERSIONS[version])
    meta.update(latent_channels=LATENT, decoder_base_channels=4, timestep_conditioning=timestep_conditioning)
    for side in ("encoder_blocks", "decoder_blocks"):
        meta[side] = [[n, {"num_layers": 1}] if n == "res_x" else [n, p] for n, p in meta[side]]
    # ltx-core reads only `spatial_padding_mode`; its defaults (encoder zeros, decoder reflect) are LTX-2's.
    return meta


def randomize_(modules, generator: torch.Generator, scale: float = 0.1) -> None:
    """Overwrite every parameter of `modules` (in order) with scale * N(0, 1) drawn from `generator`."""
    with torch.no_grad():
        for module in modules:
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * scale)


def state_shapes(module) -> dict:
    """{state-dict key: shape} of a module (works on the meta device)."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    """max |ours - ref| / max |ref|."""
    return ((ours - ref).abs().max() / ref.abs().max()).item()


def parity_error(ours: torch.Tensor, ref: torch.Tensor) -> float:
    """The convention's parity measure: relative (`rel_err`) in float32, absolute max in float64."""
    if ref.dtype == torch.float64:
        return (ours - ref).abs().max().item()
    return rel_err(ours, ref)
