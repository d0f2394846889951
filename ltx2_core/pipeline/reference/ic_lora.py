"""IC-LoRA (in-context LoRA) reference video: control tokens appended to the video sequence.

Facts from ltx-pipelines 1.0.0 `ic_lora.py` and ltx-core `VideoConditionByReferenceLatent`: the
reference video (depth / pose / canny / ... rendering) is resized to the stage size divided by the
LoRA's `reference_downscale_factor` (safetensors metadata, default 1), capped at the generated frame
count, VAE-encoded and appended after every other conditioning token. Its tokens keep their own grid
positions (causal time in seconds at the generation fps, space in pixels multiplied by the downscale
factor so they overlay the target), their content is the encoded latent, their denoise mask is
1 - strength (1 = kept clean: timestep 0). An attention strength below 1 or a per-token mask turns on
the self-attention mask of `attention_mask.py`. Newer official code (Lightricks/LTX-2 @ 400fd310) adds
`reference_temporal_scale_factor` metadata N: the reference keeps pixel frame 0 and every N-th frame after
it, and its token times are spaced at fps / N, shifted back by N - 1 target frames and clamped at 0. Only stage 1 of the official two-stage pipeline sees
the reference and the IC-LoRA; stage 2 refines without either.
"""

import os
from dataclasses import dataclass
from typing import Dict, Optional, Union

import torch

from ...checkpoint import read_metadata
from ...errors import CheckpointError, InputError
from ...transformer.positions import patchify_video, reference_positions
from ..conditioning import StreamState
from ..latents import LatentShape
from ..lora import LoraLayer, load_lora
from .attention_mask import appended_mask

METADATA_DOWNSCALE = "reference_downscale_factor"
METADATA_TEMPORAL = "reference_temporal_scale_factor"


@dataclass(frozen=True)
class ReferenceVideo:
    """An encoded reference video (B, C, F, H, W) appended as IC-LoRA control tokens.

    attention: None (full attention), a scalar in [0, 1], or per-token weights (B, F*H*W)
    (`latent_attention_mask`) for the reference <-> generated attention.
    """

    latent: torch.Tensor
    strength: float = 1.0
    downscale_factor: int = 1
    attention: Union[None, float, torch.Tensor] = None
    temporal_scale: int = 1

    def apply(self, state: StreamState, shape: LatentShape, fps: float) -> StreamState:
        if not 0.0 <= float(self.strength) <= 1.0:
            raise InputError(f"Reference strength {self.strength} is invalid: use a value between 0 and 1.")
        if self.latent.ndim != 5 or self.latent.shape[1] != shape.video_channels:
            raise InputError(f"Reference latent must be (B, {shape.video_channels}, F, H, W), "
                             f"got shape {tuple(self.latent.shape)}: encode it with the video VAE.")
        batch, _, frames, height, width = self.latent.shape
        f = self.downscale_factor
        if (height * f, width * f) != (shape.height, shape.width) or frames > shape.frames:
            raise InputError(
                f"Reference latent {frames}x{height}x{width} (frames x H x W) does not fit the video latent "
                f"{shape.frames}x{shape.height}x{shape.width} with downscale factor {f}: resize the reference to "
                f"the generation size / {f} and use at most as many frames as the output.")
        tokens = patchify_video(self.latent).to(state.latent.dtype)  # (B, M, C)
        positions = reference_positions(batch, frames, height, width, fps, downscale_factor=f,
                                        temporal_scale=self.temporal_scale, device=tokens.device).to(state.positions.dtype)
        attention = appended_mask(state.attention_mask, state.tokens, state.target_tokens, tokens.shape[1], batch,
                                  self.attention, tokens.device, torch.float32)
        return state.appended(tokens, positions, self.strength, attention)


def reference_downscale_factor(path: str, key: str = METADATA_DOWNSCALE) -> int:
    """The IC-LoRA's `reference_downscale_factor` (or another `key`'s) metadata (1 when absent)."""
    value = read_metadata(path).get(key, "1")
    try:
        factor = int(value)
    except (TypeError, ValueError):
        factor = 0
    if factor < 1:
        raise CheckpointError(f"{os.path.basename(path)} has {key}={value!r}: expected a whole "
                              "number 1 or more. Re-download the IC-LoRA.")
    return factor


@dataclass(frozen=True)
class ICLora:
    """A parsed IC-LoRA file: its layers, its strength and its reference downscale factor."""

    layers: Dict[str, LoraLayer]
    strength: float = 1.0
    downscale_factor: int = 1
    name: str = "IC-LoRA"
    temporal_scale: int = 1

    @classmethod
    def load(cls, path: str, strength: float = 1.0) -> "ICLora":
        return cls(load_lora(path), float(strength), reference_downscale_factor(path), os.path.basename(path),
                   reference_downscale_factor(path, METADATA_TEMPORAL))

    def check_model(self, model: torch.nn.Module) -> None:
        """Fail with one line when the IC-LoRA does not fit `model` (missing layers, other width / family)."""
        modules = dict(model.named_modules())
        for target, layer in self.layers.items():
            module = modules.get(target)
            weight = getattr(module, "weight", None)
            if module is None or weight is None:
                raise CheckpointError(f"{self.name} targets {target!r}, which this transformer does not have: "
                                      "it is an IC-LoRA for another model family or version.")
            expected = (weight.shape[0], weight.shape[1])
            got = (layer.up.shape[0], layer.down.shape[1])
            if got != expected:
                raise CheckpointError(f"{self.name} layer {target!r} is {got[0]}x{got[1]} but the transformer's is "
                                      f"{expected[0]}x{expected[1]}: it is an IC-LoRA for another model size.")

    def stage_size(self, width: int, height: int) -> tuple:
        """(width, height) of the reference pixels for a stage of that size."""
        f = self.downscale_factor
        if width % (32 * f) or height % (32 * f):
            raise InputError(f"The stage size {width}x{height} is not a multiple of {32 * f} (32 x the IC-LoRA's "
                             f"reference downscale factor {f}): use an output size that is a multiple of {32 * f} "
                             f"({64 * f} for two stages).")
        return width // f, height // f


def reference_item(latent: torch.Tensor, ic_lora: Optional[ICLora], strength: float = 1.0,
                   attention: Union[None, float, torch.Tensor] = None) -> ReferenceVideo:
    """The conditioning item of an encoded reference; a scalar attention of 1 means no mask (as official)."""
    if attention is not None and not torch.is_tensor(attention) and float(attention) >= 1.0:
        attention = None
    factor, temporal = (1, 1) if ic_lora is None else (ic_lora.downscale_factor, ic_lora.temporal_scale)
    return ReferenceVideo(latent, strength, factor, attention, temporal)


def subsample_frames(pixels: torch.Tensor, temporal_scale: int) -> torch.Tensor:
    """(C, F, H, W) -> frame 0 and every `temporal_scale`-th frame after it, cut to 8k + 1 frames."""
    if temporal_scale == 1:
        return pixels
    kept = pixels[:, [0, *range(1, pixels.shape[1], temporal_scale)]]
    return kept[:, : (kept.shape[1] - 1) // 8 * 8 + 1]
