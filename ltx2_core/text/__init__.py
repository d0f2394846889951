"""Text encoding for LTX-2 / LTX-2.3: Gemma 3 decoder, tokenizer, feature extractors and connectors."""

from .connectors import ConnectorConfig, EmbeddingsConnector
from .encoder import EncodeCache, TextContext, TextEncoder
from .feature_extractor import FeatureExtractorConfig, TextProjection
from .gemma import GemmaTextModel, KVCache
from .gemma_config import GemmaConfig
from .generate import enhance_prompt, generate, generate_ids
from .loader import TextConnectors, load_gemma, load_text_connectors, load_text_encoder
from .tokenizer import GemmaTokenizer

__all__ = [
    "ConnectorConfig", "EmbeddingsConnector", "FeatureExtractorConfig", "GemmaConfig", "GemmaTextModel",
    "GemmaTokenizer", "KVCache", "TextConnectors", "TextProjection", "EncodeCache", "TextContext", "TextEncoder",
    "load_gemma", "load_text_connectors", "load_text_encoder", "enhance_prompt", "generate", "generate_ids",
]
