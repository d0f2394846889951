"""`DiffusionVideoVAE`: the LTX-2.5 video VAE with the diffusion decoder (`CausalDiffusionVAE`).

The encoder and the latent space are the LTX-2.3 ones (latents are interchangeable with the conv
decoder); only the decoder differs. Decoding draws noise, so it takes a `generator` or a `seed`.
"""

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional, Sequence

import torch
from torch import nn

from ...attention import AttentionFn, sdpa_attention
from ...errors import CheckpointError, InputError
from ..config import VideoVAEConfig
from ..encoder import VideoEncoder
from ..shell import COMPONENTS, PerChannelStatistics, VAEShell
from ..tiling import TilingConfig
from .config import DiffusionDecoderConfig
from .model import DiffusionVideoDecoder
from .tiling import decode_tiled

DIFFUSION_CLASS_NAME = "CausalDiffusionVAE"
CONV_CLASS_NAME = "CausalVideoAutoencoder"


@dataclass(frozen=True)
class DiffusionVAEConfig:
    """Encoder (the conv VAE's; its decoder-side fields are reset, they describe nothing here) + diffusion
    decoder."""

    encoder: VideoVAEConfig
    decoder: DiffusionDecoderConfig

    def __post_init__(self) -> None:
        neutral = dict(decoder_blocks=(), decoder_padding="reflect", causal_decoder=False,
                       timestep_conditioning=False, decoder_base_channels=128)
        object.__setattr__(self, "encoder", self.encoder.with_(**neutral))
        e, d = self.encoder, self.decoder
        if e.latent_channels != d.in_channels:
            raise CheckpointError(f"Diffusion VAE config: the encoder makes {e.latent_channels} latent channels, "
                                  f"the decoder takes {d.in_channels}.")
        if (e.temporal_compression, e.spatial_compression) != (d.temporal_compression, d.spatial_compression):
            raise CheckpointError("Diffusion VAE config: the encoder and the diffusion decoder compress by different "
                                  "factors.")

    latent_channels = property(lambda self: self.encoder.latent_channels)
    in_channels = property(lambda self: self.encoder.in_channels)
    temporal_compression = property(lambda self: self.decoder.temporal_compression)
    spatial_compression = property(lambda self: self.decoder.spatial_compression)

    @classmethod
    def from_metadata(cls, config: Mapping[str, Any]) -> "DiffusionVAEConfig":
        """From the `config` metadata (or its `vae` section) of a `CausalDiffusionVAE` file."""
        vae = config.get("vae", config)
        encoder = vae.get("encoder")
        if not isinstance(encoder, Mapping):
            raise CheckpointError("Diffusion VAE config: metadata 'vae.encoder' is missing or not an object.")
        base = int(encoder.get("base_channels", encoder.get("out_channels", 128)))
        latent = int(encoder.get("out_channels", vae.get("latent_channels", 128)))
        if base != latent:
            raise CheckpointError(f"Diffusion VAE config: encoder base_channels {base} != latent channels {latent} "
                                  "is not supported.")
        flat = {
            "latent_channels": latent, "in_channels": encoder.get("in_channels", 3),
            "out_channels": encoder.get("in_channels", 3), "patch_size": encoder.get("patch_size", 4),
            "norm_layer": encoder.get("norm_layer", "pixel_norm"), "dims": encoder.get("dims", 3),
            "latent_log_var": encoder.get("latent_log_var", "uniform"),
            "encoder_spatial_padding_mode": encoder.get("spatial_padding_mode", "zeros"),
            "encoder_blocks": encoder.get("blocks", encoder.get("encoder_blocks")),
        }
        enc = VideoVAEConfig.from_metadata(_with_decoder_placeholder(flat))
        return cls(encoder=enc, decoder=DiffusionDecoderConfig.from_metadata(vae))

    def to_metadata(self) -> dict:
        """The `config` metadata section `{"vae": {...}}` of an official-layout file."""
        e = self.encoder
        blocks = [[b.name, {"num_layers": b.num_layers} if b.name == "res_x" else {"multiplier": b.multiplier}]
                  for b in e.encoder_blocks]
        dec = self.decoder.to_metadata()
        return {"vae": {
            "_class_name": DIFFUSION_CLASS_NAME, "dims": 3, "model_output_type": dec["model_output_type"],
            "encoder": {"dims": 3, "in_channels": e.in_channels, "out_channels": e.latent_channels, "blocks": blocks,
                        "patch_size": e.patch_size, "latent_log_var": e.latent_log_var, "norm_layer": "pixel_norm",
                        "base_channels": e.latent_channels, "spatial_padding_mode": e.encoder_padding},
            "decoder": dec["decoder"],
        }}

    @classmethod
    def tiny(cls, encoder: VideoVAEConfig) -> "DiffusionVAEConfig":
        return cls(encoder=encoder, decoder=DiffusionDecoderConfig.tiny(encoder.latent_channels))


def _with_decoder_placeholder(flat: dict) -> dict:
    """VideoVAEConfig.from_metadata wants a decoder list: give it the encoder's mirror, dropped right after."""
    names = {"compress_space_res": "compress_space", "compress_time_res": "compress_time",
             "compress_all_res": "compress_all"}
    blocks = flat.get("encoder_blocks") or []
    mirror = [[names.get(b[0], b[0]), b[1]] for b in blocks if isinstance(b, (list, tuple)) and len(b) == 2]
    return {**flat, "decoder_blocks": mirror}


class DiffusionVideoVAE(VAEShell):
    """Encoder + diffusion decoder + latent statistics. Keys: encoder.*, decoder.*, per_channel_statistics.*.

    `encode` is the conv VAE's; `decode(latent, seed=... | generator=..., tiling=...)` runs the diffusion
    decoder: normalized latent (B, C, T, H, W) -> pixels (B, 3, 8(T-1)+1, 32H, 32W), roughly in [-1, 1].
    """

    NAME = "LTX-2.5 diffusion video VAE"

    def __init__(self, config: DiffusionVAEConfig, *, operations=torch.nn, attention_fn: AttentionFn = sdpa_attention,
                 device=None, dtype=None, components: Sequence[str] = COMPONENTS) -> None:
        nn.Module.__init__(self)
        if not components or set(components) - set(COMPONENTS):
            raise InputError(f"{self.NAME} components must be a non-empty subset of {COMPONENTS}, got {components!r}.")
        self.config = config
        self.components = tuple(c for c in COMPONENTS if c in components)
        kw = dict(operations=operations, device=device, dtype=dtype)
        self.encoder = VideoEncoder(config.encoder, **kw) if "encoder" in components else None
        self.decoder = (DiffusionVideoDecoder(config.decoder, attention_fn=attention_fn, **kw)
                        if "decoder" in components else None)
        self.per_channel_statistics = PerChannelStatistics(config.latent_channels, device=device, dtype=dtype)

    decoder_kind = "diffusion"

    def encode(self, pixels: torch.Tensor, *, tiling: Optional[TilingConfig] = None) -> torch.Tensor:
        """(B, 3, F, H, W) in [-1, 1] -> normalized latent (the LTX-2.3 encoder)."""
        from ..tiling import encode_tiled

        self._check_pixels(pixels)
        piece = lambda x: self.normalize_latent(self.encoder(x))  # noqa: E731
        if tiling is None:
            return piece(pixels)
        return encode_tiled(piece, pixels, self.latent_channels, tiling, self.temporal_compression,
                            self.spatial_compression)

    @staticmethod
    def _generator(generator: Optional[torch.Generator], seed: Optional[int]) -> Optional[torch.Generator]:
        if generator is not None and seed is not None:
            raise InputError("Pass either a seed or a generator to the diffusion decode, not both.")
        return torch.Generator().manual_seed(int(seed)) if seed is not None else generator

    def decode_iter(self, latent: torch.Tensor, *, tiling: Optional[TilingConfig] = None,
                    generator: Optional[torch.Generator] = None, seed: Optional[int] = None,
                    steps: Optional[int] = None, timestep: Any = None) -> Iterator[torch.Tensor]:
        """Consecutive pixel chunks (B, 3, n, H, W); one chunk untiled, one per temporal tile when tiled."""
        self._check_latent(latent)
        if timestep is not None:
            raise InputError("The diffusion video decoder takes no decode timestep (it is a conv-decoder option); "
                             "leave it unset.")
        generator = self._generator(generator, seed)
        z = self.unnormalize_latent(latent)
        if tiling is None:
            yield self.decoder.decode(z, generator, steps)
            return
        yield from decode_tiled(self.decoder, z, tiling, generator, steps)

    def decode(self, latent: torch.Tensor, *, tiling: Optional[TilingConfig] = None,
               generator: Optional[torch.Generator] = None, seed: Optional[int] = None,
               steps: Optional[int] = None, timestep: Any = None) -> torch.Tensor:
        """Normalized latent -> pixels. Without a seed or generator the noise comes from torch's global RNG."""
        chunks = self.decode_iter(latent, tiling=tiling, generator=generator, seed=seed, steps=steps,
                                  timestep=timestep)
        if tiling is None:
            return next(chunks)
        return self._assemble(chunks, latent)

    def decode_steps(self, *args, **kwargs):
        raise InputError("The parallel (multi-GPU) tile decode supports the conv video VAE only; decode the "
                         "LTX-2.5 diffusion VAE on one device.")
