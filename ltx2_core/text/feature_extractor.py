"""Gemma hidden states -> per-token text features for the connectors ("text_embedding_projection").

All `L = num_layers + 1` hidden states (B, T, D) are normalized, flattened with the layer index
fastest (feature `d * L + l`), zeroed at padded positions and projected:

- LTX-2 (`v1`): per sample and per layer, over the real tokens and all D channels,
  `8 * (x - mean) / (max - min + 1e-6)`; one Linear(D*L -> D, no bias) (`aggregate_embed`) whose output
  feeds both the video and the audio connector.
- LTX-2.3 (`v2`): per token and per layer `x * rsqrt(mean(x^2) + 1e-6)`; two biased Linears
  (`video_aggregate_embed` D*L -> video width, `audio_aggregate_embed` D*L -> audio width), each applied
  to the features times sqrt(width / D).

Statistics are computed in at least float32 one layer at a time, then cast to the activation dtype.
"""

import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..checkpoint import logical_shape
from ..configs import metadata_section
from ..errors import CheckpointError, InputError

EPS = 1e-6
PROJECTION_PREFIX = "text_embedding_projection."
# LTX-2.3 metadata flags (transformer config) that select the v2 extractor, with the only values implemented.
V2_FLAGS = {
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
}


@dataclass(frozen=True)
class FeatureExtractorConfig:
    """The `text_embedding_projection` layout: v1 (LTX-2, one shared Linear) or v2 (LTX-2.3, per stream)."""

    version: str = "v1"  # "v1" (LTX-2) or "v2" (LTX-2.3)
    embedding_dim: int = 3840  # Gemma hidden size D
    num_states: int = 49  # Gemma layers + 1
    video_dim: int = 3840
    audio_dim: int = 3840

    def __post_init__(self):
        if self.version not in ("v1", "v2"):
            raise CheckpointError(f"Unknown text feature extractor version {self.version!r} (expected v1 or v2).")
        if self.version == "v1" and not (self.video_dim == self.audio_dim == self.embedding_dim):
            raise CheckpointError("The LTX-2 (v1) feature extractor projects to the Gemma width for both streams.")

    @property
    def flat_dim(self) -> int:
        return self.embedding_dim * self.num_states

    @classmethod
    def ltx2(cls, embedding_dim: int = 3840, num_states: int = 49) -> "FeatureExtractorConfig":
        return cls("v1", embedding_dim, num_states, embedding_dim, embedding_dim)

    @classmethod
    def ltx23(cls, embedding_dim: int = 3840, num_states: int = 49, video_dim: int = 4096,
              audio_dim: int = 2048) -> "FeatureExtractorConfig":
        return cls("v2", embedding_dim, num_states, video_dim, audio_dim)

    @classmethod
    def from_metadata(
        cls, config: Mapping, embedding_dim: int = 3840, num_states: int = 49
    ) -> "FeatureExtractorConfig":
        """From an LTX checkpoint's metadata `config` (its `transformer` section), as ltx-core selects."""
        transformer = metadata_section(config, "transformer")
        present = {k: transformer[k] for k in V2_FLAGS if k in transformer}
        if not present:
            return cls.ltx2(embedding_dim, num_states)
        wrong = {k: v for k, v in present.items() if v != V2_FLAGS[k]}
        if len(present) != len(V2_FLAGS) or wrong:
            raise CheckpointError(
                f"Unsupported text projection settings in the checkpoint metadata: {present}. Only LTX-2 and LTX-2.3 "
                "layouts are implemented."
            )
        try:
            video = int(transformer["num_attention_heads"]) * int(transformer["attention_head_dim"])
            audio = int(transformer["audio_num_attention_heads"]) * int(transformer["audio_attention_head_dim"])
        except KeyError as exc:
            raise CheckpointError(f"The checkpoint's transformer metadata lacks {exc}, needed by the LTX-2.3 text "
                                  "projection. The metadata is incomplete: re-download the file.") from None
        return cls.ltx23(embedding_dim, num_states, video, audio)

    @classmethod
    def from_state_dict(cls, state_dict: Mapping, num_states: int = 49) -> "FeatureExtractorConfig":
        """From key shapes (keys with or without the `text_embedding_projection.` prefix)."""
        sd = {k[len(PROJECTION_PREFIX):] if k.startswith(PROJECTION_PREFIX) else k: v for k, v in state_dict.items()}
        if "aggregate_embed.weight" in sd:
            out_dim, flat = logical_shape(sd["aggregate_embed.weight"])
            return cls.ltx2(int(out_dim), int(flat) // int(out_dim)) if flat % out_dim == 0 else cls._bad(flat, out_dim)
        if "video_aggregate_embed.weight" in sd and "audio_aggregate_embed.weight" in sd:
            video, flat = logical_shape(sd["video_aggregate_embed.weight"])
            audio = logical_shape(sd["audio_aggregate_embed.weight"])[0]
            if flat % num_states:
                cls._bad(flat, num_states)
            return cls.ltx23(int(flat) // num_states, num_states, int(video), int(audio))
        raise CheckpointError(
            "The checkpoint has no text_embedding_projection weights (aggregate_embed / video_aggregate_embed). "
            "Use the LTX-2 or LTX-2.3 checkpoint that matches the text encoder."
        )

    @staticmethod
    def _bad(flat, dim):
        raise CheckpointError(f"text_embedding_projection input width {flat} is not a multiple of {dim}.")


def _masked_range_norm(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """LTX-2: x (B, T, D) -> 8 * (x - mean) / (max - min + eps) with statistics over real tokens."""
    work = x.to(torch.promote_types(x.dtype, torch.float32))
    keep = mask.bool()[:, :, None]  # (B, T, 1)
    # The reference forms this denominator in float32, where the 1e-6 vanishes for any real prompt.
    count = (mask.sum(dim=1) * x.shape[-1]).float() + EPS  # (B,)
    mean = work.masked_fill(~keep, 0.0).sum(dim=(1, 2)) / count.to(work.dtype)
    low = work.masked_fill(~keep, float("inf")).amin(dim=(1, 2))
    high = work.masked_fill(~keep, float("-inf")).amax(dim=(1, 2))
    return 8.0 * (work - mean[:, None, None]) / (high - low + EPS)[:, None, None]


def _token_rms_norm(x: torch.Tensor) -> torch.Tensor:
    """LTX-2.3: x (B, T, D) -> x * rsqrt(mean(x^2) + eps) per token."""
    work = x.to(torch.promote_types(x.dtype, torch.float32))
    return work * torch.rsqrt(work.pow(2).mean(-1, keepdim=True) + EPS)


def normalized_features(
    config: FeatureExtractorConfig, states: Sequence[torch.Tensor], mask: torch.Tensor
) -> torch.Tensor:
    """Hidden states (L x (B, T, D)) and mask (B, T) -> flat features (B, T, D*L), zero at padding."""
    if len(states) != config.num_states:
        raise InputError(f"Expected {config.num_states} Gemma hidden states, got {len(states)}.")
    first = states[0]
    batch, tokens, dim = first.shape
    out = torch.empty(batch, tokens, dim, len(states), dtype=first.dtype, device=first.device)  # (B, T, D, L)
    norm = _masked_range_norm if config.version == "v1" else (lambda x, _: _token_rms_norm(x))
    for index, state in enumerate(states):
        out[..., index] = norm(state, mask).to(first.dtype)
    out = out.view(batch, tokens, dim * len(states))  # (B, T, D*L), layer index fastest
    return out.masked_fill_(~mask.bool()[:, :, None], 0.0)


class TextProjection(nn.Module):
    """The LTX `text_embedding_projection`: features -> (video features, audio features)."""

    def __init__(self, config: FeatureExtractorConfig, *, operations=nn, device=None, dtype=None):
        super().__init__()
        self.config = config
        flat = config.flat_dim
        if config.version == "v1":
            self.aggregate_embed = operations.Linear(flat, config.embedding_dim, bias=False, device=device, dtype=dtype)
        else:
            linear = dict(bias=True, device=device, dtype=dtype)
            self.video_aggregate_embed = operations.Linear(flat, config.video_dim, **linear)
            self.audio_aggregate_embed = operations.Linear(flat, config.audio_dim, **linear)

    def forward(self, states: Sequence[torch.Tensor], mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """states: L x (B, T, D) Gemma hidden states; mask (B, T) 1 = real token. -> (B, T, Dv), (B, T, Da)."""
        features = normalized_features(self.config, states, mask)
        if self.config.version == "v1":
            projected = self.aggregate_embed(features)
            return projected, projected
        dim = self.config.embedding_dim
        video = self.video_aggregate_embed(features * math.sqrt(self.config.video_dim / dim))
        audio = self.audio_aggregate_embed(features * math.sqrt(self.config.audio_dim / dim))
        return video, audio


def projection_state_dict(checkpoint: Mapping[str, torch.Tensor]) -> dict:
    """The `text_embedding_projection.*` tensors of an LTX checkpoint, with the prefix removed."""
    return {k[len(PROJECTION_PREFIX):]: v for k, v in checkpoint.items() if k.startswith(PROJECTION_PREFIX)}


def build_text_projection(checkpoint: Mapping[str, torch.Tensor], *, metadata: Optional[Mapping] = None,
                          num_states: int = 49, operations=nn, device=None, dtype=None) -> TextProjection:
    """A loaded TextProjection from an LTX checkpoint's tensors (config from metadata when given, else shapes).

    `num_states` is the Gemma layer count + 1 (49 for Gemma 3 12B)."""
    from ..checkpoint import load_strict

    weights = projection_state_dict(checkpoint)
    shape_config = FeatureExtractorConfig.from_state_dict(weights, num_states)
    config = shape_config
    if metadata:
        config = FeatureExtractorConfig.from_metadata(metadata, shape_config.embedding_dim, shape_config.num_states)
    module = TextProjection(config, operations=operations, device="meta", dtype=dtype)
    load_strict(module, weights, "LTX text projection")
    return module.to(device) if device is not None else module
