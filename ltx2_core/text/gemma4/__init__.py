"""Gemma 4 text encoder of LTX-2.5 (`gemma4-12b-ltx-v1`): config, model, tokenizer, file loader."""

from .config import LTX_GEMMA4_VERSION, Gemma4Config
from .loader import (
    Gemma4File,
    build_gemma4,
    check_gemma_version,
    load_gemma4_text_encoder,
    read_gemma4_config,
    read_gemma4_file,
)
from .model import Gemma4RMSNorm, Gemma4TextModel
from .tokenizer import Gemma4Tokenizer

__all__ = [
    "LTX_GEMMA4_VERSION", "Gemma4Config", "Gemma4File", "Gemma4RMSNorm", "Gemma4TextModel", "Gemma4Tokenizer",
    "build_gemma4", "check_gemma_version", "load_gemma4_text_encoder", "read_gemma4_config", "read_gemma4_file",
]
