"""Reference control: IC-LoRA reference video tokens and reference-audio (voice) tokens."""

from .control import ReferenceControl, prepare_reference_video, reference_audio_items, reference_video_items
from .attention_mask import extend_mask, latent_attention_mask
from .ic_lora import ICLora, ReferenceVideo, reference_downscale_factor, reference_item
from .reference_audio import ReferenceAudio, reference_audio_positions

__all__ = ["ICLora", "ReferenceControl", "prepare_reference_video", "reference_audio_items",
           "reference_video_items", "ReferenceAudio", "ReferenceVideo", "extend_mask", "latent_attention_mask",
           "reference_audio_positions", "reference_downscale_factor", "reference_item"]
