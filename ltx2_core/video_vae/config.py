"""Configuration of the LTX-2 / LTX-2.3 causal video autoencoder.

The official checkpoints carry the architecture in the safetensors metadata (`config` JSON, section
`vae`): block lists such as `["res_x", {"num_layers": 4}]` or `["compress_all", {"multiplier": 2}]`.
`VideoVAEConfig.from_metadata` reads that section with the defaults of the official code; the two
released layouts are also available as presets (`VideoVAEConfig.ltx2()` / `.ltx23()`).
"""

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Tuple

from ..errors import CheckpointError

ENCODER_BLOCKS = ("res_x", "compress_space_res", "compress_time_res", "compress_all_res")
DECODER_BLOCKS = ("res_x", "compress_space", "compress_time", "compress_all")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
LOG_VAR_MODES = {"uniform": 1, "constant": 1, "per_channel": None}  # extra conv_out channels (None: x2)

# (time, height, width) stride of each resampling block name (encoder and decoder names).
_STRIDES = {
    "compress_space": (1, 2, 2),
    "compress_time": (2, 1, 1),
    "compress_all": (2, 2, 2),
}


@dataclass(frozen=True)
class BlockSpec:
    """One entry of an encoder or decoder block list, with every default resolved."""

    name: str
    num_layers: int = 0  # res_x only
    multiplier: int = 1  # resampling blocks: encoder multiplies channels, decoder divides them
    residual: bool = False  # decoder depth-to-space only

    @property
    def stride(self) -> Tuple[int, int, int]:
        """(time, height, width) resampling factor; (1, 1, 1) for res_x."""
        return _STRIDES.get(self.name.replace("_res", ""), (1, 1, 1))


def _parse_blocks(raw: Any, side: str) -> Tuple[BlockSpec, ...]:
    allowed = ENCODER_BLOCKS if side == "encoder" else DECODER_BLOCKS
    default_multiplier = 2 if side == "encoder" else 1
    if not isinstance(raw, (list, tuple)) or not raw:
        raise CheckpointError(f"Video VAE config: '{side}_blocks' must be a non-empty list, got {raw!r}.")
    blocks = []
    for entry in raw:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2 or not isinstance(entry[0], str):
            raise CheckpointError(f"Video VAE config: malformed {side} block {entry!r}; expected [name, params].")
        name, params = entry
        if name not in allowed:
            raise CheckpointError(
                f"Video VAE config: {side} block type {name!r} is not supported (supported: {', '.join(allowed)}). "
                "This checkpoint is not an LTX-2 / LTX-2.3 video VAE."
            )
        params = {"num_layers": params} if isinstance(params, int) else dict(params or {})
        if params.get("inject_noise"):
            raise CheckpointError(f"Video VAE config: noise injection in {side} block {name!r} is not supported.")
        if name == "res_x":
            layers = params.get("num_layers")
            if not isinstance(layers, int) or layers < 1:
                raise CheckpointError(f"Video VAE config: res_x block needs num_layers >= 1, got {params!r}.")
            blocks.append(BlockSpec(name, num_layers=layers))
        else:
            multiplier = int(params.get("multiplier", default_multiplier))
            if multiplier < 1:
                raise CheckpointError(f"Video VAE config: {name} multiplier must be >= 1, got {multiplier}.")
            blocks.append(BlockSpec(name, multiplier=multiplier, residual=bool(params.get("residual", False))))
    return tuple(blocks)


def _res(n: int) -> list:
    return ["res_x", {"num_layers": n}]


def _blk(name: str, multiplier: int, **extra: Any) -> list:
    return [name, {"multiplier": multiplier, **extra}]


# The `vae` metadata sections of the released checkpoints (spec: autoencoders-text.md section 2.1).
LTX2_VAE_METADATA = {
    "latent_channels": 128,
    "patch_size": 4,
    "norm_layer": "pixel_norm",
    "latent_log_var": "uniform",
    "causal_decoder": False,
    "timestep_conditioning": False,
    "encoder_spatial_padding_mode": "zeros",
    "decoder_spatial_padding_mode": "reflect",
    "encoder_blocks": [
        _res(4), _blk("compress_space_res", 2), _res(6), _blk("compress_time_res", 2), _res(6),
        _blk("compress_all_res", 2), _res(2), _blk("compress_all_res", 2), _res(2),
    ],
    "decoder_blocks": [
        _res(5), _blk("compress_all", 2, residual=True), _res(5), _blk("compress_all", 2, residual=True), _res(5),
        _blk("compress_all", 2, residual=True), _res(5),
    ],
}
LTX23_VAE_METADATA = {
    "latent_channels": 128,
    "patch_size": 4,
    "norm_layer": "pixel_norm",
    "latent_log_var": "uniform",
    "causal_decoder": False,
    "timestep_conditioning": False,
    "spatial_padding_mode": "zeros",
    "encoder_blocks": [
        _res(4), _blk("compress_space_res", 2), _res(6), _blk("compress_time_res", 2), _res(4),
        _blk("compress_all_res", 2), _res(2), _blk("compress_all_res", 1), _res(2),
    ],
    "decoder_blocks": [
        _res(4), _blk("compress_space", 2), _res(6), _blk("compress_time", 2), _res(4),
        _blk("compress_all", 1), _res(2), _blk("compress_all", 2), _res(2),
    ],
}


@dataclass(frozen=True)
class VideoVAEConfig:
    """Architecture of the causal video VAE (encoder + decoder).

    `decoder_blocks` is listed encoder-side, like the checkpoint metadata: the decoder builds it reversed.
    The encoder's first width equals `latent_channels`; the decoder's bottleneck width is
    `decoder_base_channels * 8` (three x2 channel reductions), as in the official code.
    """

    encoder_blocks: Tuple[BlockSpec, ...] = field(default_factory=tuple)
    decoder_blocks: Tuple[BlockSpec, ...] = field(default_factory=tuple)
    latent_channels: int = 128
    in_channels: int = 3
    patch_size: int = 4
    latent_log_var: str = "uniform"
    encoder_padding: str = "zeros"
    decoder_padding: str = "reflect"
    causal_decoder: bool = False
    timestep_conditioning: bool = False
    decoder_base_channels: int = 128
    decode_noise_scale: float = 0.025
    decode_timestep: float = 0.05

    def __post_init__(self) -> None:
        for mode in (self.encoder_padding, self.decoder_padding):
            if mode not in PADDING_MODES:
                raise CheckpointError(f"Video VAE config: unknown spatial padding mode {mode!r}.")
        if self.latent_log_var not in LOG_VAR_MODES:
            raise CheckpointError(
                f"Video VAE config: latent_log_var {self.latent_log_var!r} is not supported "
                f"(supported: {', '.join(LOG_VAR_MODES)})."
            )
        if self.patch_size < 1 or self.latent_channels < 1:
            raise CheckpointError("Video VAE config: patch_size and latent_channels must be positive.")
        if self.encoder_blocks and self.decoder_blocks and self._factors(self.encoder_blocks) != self._factors(
            self.decoder_blocks
        ):
            raise CheckpointError("Video VAE config: encoder and decoder block lists compress by different factors.")

    @staticmethod
    def _factors(blocks: Tuple[BlockSpec, ...]) -> Tuple[int, int]:
        time, space = 1, 1
        for block in blocks:
            time *= block.stride[0]
            space *= block.stride[1]
        return time, space

    @property
    def temporal_compression(self) -> int:
        return self._factors(self.encoder_blocks or self.decoder_blocks)[0]

    @property
    def spatial_compression(self) -> int:
        return self._factors(self.encoder_blocks or self.decoder_blocks)[1] * self.patch_size

    @classmethod
    def from_metadata(cls, config: Mapping[str, Any]) -> "VideoVAEConfig":
        """Build from a checkpoint `config` JSON (the whole object with a `vae` section, or the section)."""
        section = config.get("vae", config) if isinstance(config, Mapping) else None
        if not isinstance(section, Mapping):
            raise CheckpointError("Video VAE config: metadata 'config' has no usable 'vae' section.")
        if section.get("dims", 3) != 3:
            raise CheckpointError(f"Video VAE config: only 3-D convolutions are supported, got dims={section['dims']}.")
        if section.get("norm_layer", "pixel_norm") != "pixel_norm":
            raise CheckpointError(f"Video VAE config: norm_layer {section['norm_layer']!r} is not supported.")
        if section.get("in_channels", 3) != section.get("out_channels", 3):
            raise CheckpointError("Video VAE config: in_channels and out_channels must be equal.")
        shared = section.get("spatial_padding_mode")
        return cls(
            encoder_blocks=_parse_blocks(section.get("encoder_blocks"), "encoder"),
            decoder_blocks=_parse_blocks(section.get("decoder_blocks"), "decoder"),
            latent_channels=int(section.get("latent_channels", 128)),
            in_channels=int(section.get("in_channels", 3)),
            patch_size=int(section.get("patch_size", 4)),
            latent_log_var=str(section.get("latent_log_var", "uniform")),
            encoder_padding=str(section.get("encoder_spatial_padding_mode", shared or "zeros")),
            decoder_padding=str(section.get("decoder_spatial_padding_mode", shared or "reflect")),
            causal_decoder=bool(section.get("causal_decoder", False)),
            # The official configurator treats a missing key as True; loaders override it from the keys.
            timestep_conditioning=bool(section.get("timestep_conditioning", True)),
            decoder_base_channels=int(section.get("decoder_base_channels", 128)),
        )

    @classmethod
    def ltx2(cls) -> "VideoVAEConfig":
        """The LTX-2 (19B) video VAE."""
        return cls.from_metadata(LTX2_VAE_METADATA)

    @classmethod
    def ltx23(cls) -> "VideoVAEConfig":
        """The LTX-2.3 (22B) video VAE."""
        return cls.from_metadata(LTX23_VAE_METADATA)

    def with_(self, **changes: Any) -> "VideoVAEConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def block_specs(raw: Any, side: str) -> Tuple[BlockSpec, ...]:
    """Parse a metadata-style block list (`[[name, params], ...]`) for `side` ('encoder' or 'decoder')."""
    return _parse_blocks(raw, side)
