"""Building a `DiffusionVideoVAE` from an opened VAE file (called by `video_vae.load_video_vae`).

Detection (`decoder_kind`): the metadata's `config.vae._class_name` decides as in the official configurator
(`CausalVideoAutoencoder` = conv decoder, anything else = diffusion decoder); a file without that name is
a diffusion VAE when it holds `decoder.diff_blocks.*` keys.
"""

from typing import Any, Mapping, Optional, Sequence

import torch

from ...checkpoint import load_strict
from ...errors import CheckpointError
from ..keys import detect_preset
from .config import DiffusionDecoderConfig
from .keys import is_gate_or_dropped, resolve_official
from .vae import CONV_CLASS_NAME, DiffusionVAEConfig, DiffusionVideoVAE

DECODER_KINDS = ("auto", "conv", "diffusion")
DIFFUSION_KEY = "decoder.diff_blocks."


def decoder_kind(metadata: Optional[Mapping[str, Any]], names: Sequence[str]) -> str:
    """'diffusion' or 'conv' for a VAE file's `config` metadata and our key names."""
    vae = metadata.get("vae") if isinstance(metadata, Mapping) else None
    if isinstance(vae, Mapping) and "_class_name" in vae:
        return "conv" if vae["_class_name"] == CONV_CLASS_NAME else "diffusion"
    return "diffusion" if any(n.startswith(DIFFUSION_KEY) for n in names) else "conv"


def check_decoder_request(requested: str, kind: str, what: str) -> None:
    """One line when the caller asks for a decoder the file does not have."""
    if requested not in DECODER_KINDS:
        raise CheckpointError(f"decoder must be one of {', '.join(DECODER_KINDS)}, got {requested!r}.")
    if requested == "diffusion" and kind != "diffusion":
        raise CheckpointError(
            f"{what} has the convolutional video decoder (LTX-2 / LTX-2.3 or the LTX-2.5 conv VAE), not the LTX-2.5 "
            "diffusion decoder; load 'ltx-2.5-video-vae-bf16.safetensors' for diffusion decode, or decode with "
            "the conv decoder.")
    if requested == "conv" and kind != "conv":
        raise CheckpointError(
            f"{what} holds the LTX-2.5 diffusion video decoder, not a convolutional one; load "
            "'ltx-2.5-video-vae-conv-bf16.safetensors' for the conv decoder, or decode with the diffusion decoder.")


def diffusion_config(metadata: Optional[Mapping[str, Any]], shapes: Mapping[str, tuple]) -> DiffusionVAEConfig:
    """From the metadata when it has the nested `vae.encoder` / `vae.decoder` sections, else from the shapes
    (encoder: the LTX-2.3 layout; decoder: widths and depths read, kernels and sampling of LTX-2.5)."""
    vae = metadata.get("vae") if isinstance(metadata, Mapping) else None
    if isinstance(vae, Mapping) and isinstance(vae.get("decoder"), Mapping) and isinstance(vae.get("encoder"), Mapping):
        return DiffusionVAEConfig.from_metadata(vae)
    decoder = DiffusionDecoderConfig.from_shapes(shapes)
    encoder_shapes = {k: v for k, v in shapes.items() if k.startswith("encoder.")}
    if encoder_shapes:
        encoder = detect_preset(encoder_shapes)
    else:
        from ..config import VideoVAEConfig

        encoder = VideoVAEConfig.ltx23().with_(latent_channels=decoder.in_channels)
    return DiffusionVAEConfig(encoder=encoder, decoder=decoder)


def build_diffusion_vae(state_names: Mapping[str, str], shapes: Mapping[str, tuple], metadata, wanted, load,
                        *, operations=torch.nn, attention_fn=None, dtype=None, device="cpu",
                        config: Optional[DiffusionVAEConfig] = None) -> DiffusionVideoVAE:
    """`load(names)` reads our-name -> tensor for the wanted halves (cast, statistics float32); gates folded,
    coarse-head keys dropped, then a strict load of a meta-built module."""
    cfg = config or diffusion_config(metadata, {k: v for k, v in shapes.items() if not is_gate_or_dropped(k)})
    state = resolve_official(load(state_names))
    kw = {} if attention_fn is None else dict(attention_fn=attention_fn)
    model = DiffusionVideoVAE(cfg, operations=operations, device="meta", dtype=dtype, components=wanted, **kw)
    load_strict(model, state, f"LTX-2.5 diffusion video VAE ({', '.join(wanted)})")
    return model.eval()
