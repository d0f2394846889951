"""Configuration of the LTX-Video 0.9.x causal video VAE (versions 0.9.0, 0.9.1, 0.9.5+).

The official files carry the architecture in the `config` metadata, section `vae`, in the official
`CausalVideoAutoencoder` syntax: block lists such as `["res_x", {"num_layers": 4}]`, `["res_x_y", 1]`,
`["compress_all", {"residual": true, "multiplier": 2}]`. Decoder lists are written encoder-side and
run reversed. Differences from the LTX-2 VAE (`ltx2_core.video_vae`): channel-changing `res_x_y`
resnets (LayerNorm + 1x1x1 shortcut), strided-conv encoder downsampling (`compress_all`), spatial
noise injection in the 0.9.1 decoder, a decoder width computed from the block multipliers, zeros
padding everywhere.
"""

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping, Tuple

from ...errors import CheckpointError

ENCODER_BLOCKS = ("res_x", "res_x_y", "compress_all", "compress_time", "compress_space",
                  "compress_all_res", "compress_space_res", "compress_time_res")
DECODER_BLOCKS = ("res_x", "res_x_y", "compress_all", "compress_time", "compress_space")
STRIDES = {"all": (2, 2, 2), "time": (2, 1, 1), "space": (1, 2, 2)}
DECODE_TIMESTEP = 0.05  # official inference yaml defaults
DECODE_NOISE_SCALE = 0.025


@dataclass(frozen=True)
class LTXVBlock:
    """One block-list entry with its defaults resolved (multiplier: channel factor of the block)."""

    name: str
    num_layers: int = 0
    multiplier: int = 1
    residual: bool = False
    inject_noise: bool = False

    @property
    def stride(self) -> Tuple[int, int, int]:
        if not self.name.startswith("compress"):
            return (1, 1, 1)
        return STRIDES[self.name.split("_")[1]]


def _parse_blocks(raw: Any, side: str) -> Tuple[LTXVBlock, ...]:
    allowed = ENCODER_BLOCKS if side == "encoder" else DECODER_BLOCKS
    if not isinstance(raw, (list, tuple)) or not raw:
        raise CheckpointError(f"LTX-Video VAE config: '{side}_blocks' must be a non-empty list, got {raw!r}.")
    out = []
    for entry in raw:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2 or not isinstance(entry[0], str):
            raise CheckpointError(f"LTX-Video VAE config: malformed {side} block {entry!r}; expected [name, params].")
        name, params = entry
        if name not in allowed:
            raise CheckpointError(
                f"LTX-Video VAE config: {side} block {name!r} is not supported (supported: {', '.join(allowed)})."
            )
        params = {"num_layers": params} if isinstance(params, int) else dict(params or {})
        if name == "res_x":
            layers = params.get("num_layers")
            if not isinstance(layers, int) or layers < 1:
                raise CheckpointError(f"LTX-Video VAE config: res_x needs num_layers >= 1, got {params!r}.")
            out.append(LTXVBlock(name, num_layers=layers, inject_noise=bool(params.get("inject_noise", False))))
            continue
        default = 2 if name == "res_x_y" or name.endswith("_res") else 1
        multiplier = int(params.get("multiplier", default))
        if multiplier < 1 or (side == "decoder" and name in ("compress_time", "compress_space") and multiplier != 1):
            raise CheckpointError(f"LTX-Video VAE config: bad multiplier {multiplier} for {side} block {name!r}.")
        out.append(LTXVBlock(name, multiplier=multiplier, residual=bool(params.get("residual", False)),
                             inject_noise=bool(params.get("inject_noise", False))))
    return tuple(out)


def _res(n: int, noise: bool = False) -> list:
    return ["res_x", {"num_layers": n, "inject_noise": noise}] if noise else ["res_x", {"num_layers": n}]


_V090_BLOCKS = [_res(4), ["compress_all", {}], ["res_x_y", 1], _res(3), ["compress_all", {}], ["res_x_y", 1],
                _res(3), ["compress_all", {}], _res(3), _res(4)]
_D2S = ["compress_all", {"residual": True, "multiplier": 2}]
_COMMON = {"_class_name": "CausalVideoAutoencoder", "dims": 3, "in_channels": 3, "out_channels": 3,
           "latent_channels": 128, "patch_size": 4, "norm_layer": "pixel_norm", "latent_log_var": "uniform",
           "use_quant_conv": False, "causal_decoder": False}
# The `vae` metadata sections of the three VAE generations (fact sheet 1b, official block syntax).
V090_METADATA = {**_COMMON, "encoder_blocks": _V090_BLOCKS, "decoder_blocks": _V090_BLOCKS,
                 "timestep_conditioning": False}
V091_METADATA = {**_COMMON, "encoder_blocks": _V090_BLOCKS,
                 "decoder_blocks": [_res(5, True), _D2S, _res(6, True), _D2S, _res(7, True), _D2S, _res(8)],
                 "timestep_conditioning": True}
V095_METADATA = {**_COMMON,
                 "encoder_blocks": [_res(4), ["compress_space_res", {"multiplier": 2}], _res(6),
                                    ["compress_time_res", {"multiplier": 2}], _res(6),
                                    ["compress_all_res", {"multiplier": 2}], _res(2),
                                    ["compress_all_res", {"multiplier": 2}], _res(2)],
                 "decoder_blocks": [_res(5), _D2S, _res(5), _D2S, _res(5), _D2S, _res(5)],
                 "timestep_conditioning": True}
PRESETS = {"0.9.0": V090_METADATA, "0.9.1": V091_METADATA, "0.9.5": V095_METADATA}


@dataclass(frozen=True)
class LTXVVAEConfig:
    """Architecture of an LTX-Video VAE. `version` is derived: '0.9.5' (space-to-depth encoder),
    '0.9.1' (timestep-conditioned decoder) or '0.9.0'."""

    encoder_blocks: Tuple[LTXVBlock, ...]
    decoder_blocks: Tuple[LTXVBlock, ...]
    latent_channels: int = 128
    in_channels: int = 3
    patch_size: int = 4
    encoder_base_channels: int = 128
    decoder_base_channels: int = 128
    timestep_conditioning: bool = False
    causal_decoder: bool = False
    spatial_padding_mode: str = "zeros"

    def __post_init__(self) -> None:
        if self.patch_size < 1 or self.latent_channels < 1:
            raise CheckpointError("LTX-Video VAE config: patch_size and latent_channels must be positive.")
        if self._factors(self.encoder_blocks) != self._factors(self.decoder_blocks):
            raise CheckpointError("LTX-Video VAE config: encoder and decoder compress by different factors.")
        if self.spatial_padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise CheckpointError(f"LTX-Video VAE config: unknown padding mode {self.spatial_padding_mode!r}.")

    @staticmethod
    def _factors(blocks) -> Tuple[int, int]:
        return (math.prod(b.stride[0] for b in blocks), math.prod(b.stride[1] for b in blocks))

    @property
    def version(self) -> str:
        if any(b.name.endswith("_res") for b in self.encoder_blocks):
            return "0.9.5"
        return "0.9.1" if self.timestep_conditioning else "0.9.0"

    @property
    def temporal_compression(self) -> int:
        return self._factors(self.encoder_blocks)[0]

    @property
    def spatial_compression(self) -> int:
        return self._factors(self.encoder_blocks)[1] * self.patch_size

    @property
    def decoder_width(self) -> int:
        """Width after the decoder's conv_in: base x every res_x_y / compress multiplier."""
        return self.decoder_base_channels * math.prod(b.multiplier for b in self.decoder_blocks)

    @classmethod
    def from_metadata(cls, config: Mapping[str, Any]) -> "LTXVVAEConfig":
        """From a checkpoint `config` JSON (whole object with a `vae` section, or the section itself)."""
        section = config.get("vae", config) if isinstance(config, Mapping) else None
        if not isinstance(section, Mapping):
            raise CheckpointError("LTX-Video VAE config: metadata 'config' has no usable 'vae' section.")
        name = section.get("_class_name", "CausalVideoAutoencoder")
        if name != "CausalVideoAutoencoder":
            raise CheckpointError(f"LTX-Video VAE config: {name!r} is not a CausalVideoAutoencoder.")
        if section.get("dims", 3) not in (3, [3]):
            raise CheckpointError(f"LTX-Video VAE config: only dims=3 is supported, got {section.get('dims')!r}.")
        if section.get("norm_layer", "pixel_norm") != "pixel_norm":
            raise CheckpointError(f"LTX-Video VAE config: norm_layer {section['norm_layer']!r} is not supported.")
        if section.get("latent_log_var", "uniform") != "uniform" or section.get("use_quant_conv", False):
            raise CheckpointError(
                "LTX-Video VAE config: only latent_log_var='uniform' without quant conv is supported."
            )
        shared = section.get("blocks")
        return cls(
            encoder_blocks=_parse_blocks(section.get("encoder_blocks", shared), "encoder"),
            decoder_blocks=_parse_blocks(section.get("decoder_blocks", shared), "decoder"),
            latent_channels=int(section.get("latent_channels", 128)),
            in_channels=int(section.get("in_channels", 3)),
            patch_size=int(section.get("patch_size", 4)),
            encoder_base_channels=int(section.get("encoder_base_channels", 128)),
            decoder_base_channels=int(section.get("decoder_base_channels", 128)),
            timestep_conditioning=bool(section.get("timestep_conditioning", False)),
            causal_decoder=bool(section.get("causal_decoder", False)),
            spatial_padding_mode=str(section.get("spatial_padding_mode", "zeros")),
        )

    @classmethod
    def preset(cls, version: str) -> "LTXVVAEConfig":
        """The released VAE of `version` ('0.9.0', '0.9.1', '0.9.5'; 0.9.6-0.9.8 use '0.9.5')."""
        key = version if version in PRESETS else ("0.9.5" if version in ("0.9.6", "0.9.7", "0.9.8") else None)
        if key is None:
            raise CheckpointError(f"Unknown LTX-Video VAE version {version!r} (known: {', '.join(PRESETS)}).")
        return cls.from_metadata(PRESETS[key])

    def with_(self, **changes: Any) -> "LTXVVAEConfig":
        return replace(self, **changes)


def tiny_metadata(version: str, base: int = 8, latent: int = 8) -> dict:
    """A tiny random-test `vae` section with the block structure of `version` (one layer per stage)."""
    full = PRESETS[version]

    def shrink(blocks):
        out = []
        for name, params in blocks:
            if name == "res_x":
                params = {**params, "num_layers": 1}
            out.append([name, params])
        return out

    return {**full, "latent_channels": latent, "encoder_base_channels": base, "decoder_base_channels": base,
            "encoder_blocks": shrink(full["encoder_blocks"]), "decoder_blocks": shrink(full["decoder_blocks"])}
