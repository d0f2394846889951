"""The LTX-2 / LTX-2.3 dual-stream audio-video transformer.

Public API: `TransformerConfig`, `LTX2Transformer`, `ModalityInput`, `Perturbations`,
`load_transformer`, `transformer_state_dict_from`, the position / patchify helpers, and the
building blocks (`Attention`, `FeedForward`, `AdaLayerNormSingle`, RoPE) reused by the text connectors.
"""

from .config import TransformerConfig
from .inputs import ALL_BLOCKS, NO_BLOCKS, ItemPerturbation, ModalityInput, Perturbations
from .keys import detect_key_format, transformer_state_dict_from
from .layers import AdaLayerNormSingle, Attention, FeedForward, RMSNorm, TextProjection, rms_norm
from .loader import dequantize_fp8_scaled, load_transformer, transformer_keys_in_file
from .model import LTX2Transformer
from .positions import (audio_positions, keyframe_positions, patchify_audio, patchify_video, reference_positions,
                        unpatchify_audio, unpatchify_video, video_positions)
from .rope import Rope, apply_rope, rope_from_positions

__all__ = [
    "ALL_BLOCKS", "AdaLayerNormSingle", "Attention", "FeedForward", "ItemPerturbation", "LTX2Transformer",
    "ModalityInput", "NO_BLOCKS", "Perturbations", "RMSNorm", "Rope", "TextProjection", "TransformerConfig",
    "apply_rope", "audio_positions", "dequantize_fp8_scaled", "detect_key_format", "keyframe_positions",
    "load_transformer", "patchify_audio", "patchify_video", "reference_positions", "rms_norm", "rope_from_positions",
    "transformer_keys_in_file", "transformer_state_dict_from", "unpatchify_audio", "unpatchify_video",
    "video_positions",
]
