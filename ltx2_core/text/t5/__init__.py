"""T5-XXL v1.1 encoder for the LTX-Video 0.9.x family: model, tokenizer, loaders, encode cache.

Self-contained (no transformers at run time). See docs/t5.md.
"""

from .config import T5Config
from .detect import check_t5_keys, is_t5_checkpoint, t5_misuse_message
from .encoder import T5TextEncoder
from .keys import gguf_t5_key, t5_key, t5_state_dict, t5_to_gguf_name
from .loader import load_t5, load_t5_encoder, load_t5_tokenizer, read_t5_tensors
from .model import T5Encoder, relative_position_bucket
from .tiny import save_hf_folder, save_tiny_pipeline, tiny_spiece_model, tiny_t5
from .tokenizer import LEGACY_MAX_LENGTH, MAX_LENGTH, T5Tokenizer, find_t5_tokenizer, host_tokenizer_file

__all__ = [
    "LEGACY_MAX_LENGTH", "MAX_LENGTH", "T5Config", "T5Encoder", "T5TextEncoder", "T5Tokenizer", "check_t5_keys",
    "find_t5_tokenizer", "gguf_t5_key", "host_tokenizer_file", "is_t5_checkpoint", "load_t5", "load_t5_encoder",
    "load_t5_tokenizer", "read_t5_tensors", "relative_position_bucket", "save_hf_folder", "save_tiny_pipeline", "t5_key",
    "t5_misuse_message", "t5_state_dict", "t5_to_gguf_name", "tiny_spiece_model", "tiny_t5",
]
