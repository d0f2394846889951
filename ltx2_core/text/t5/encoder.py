"""Prompt text -> T5 embeddings and mask, as LTX-Video's transformer consumes them, with an encode cache."""

from typing import Hashable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ...errors import InputError
from ..encoder import EncodeCache
from .model import T5Encoder
from .tokenizer import T5Tokenizer


class T5TextEncoder(nn.Module):
    """T5 encoder + tokenizer. `encode(prompts) -> (embeddings (B, L, d_model), mask (B, L) int64)`.

    Padding positions are still computed (the official pipeline feeds them too); the mask says which
    positions are real tokens + EOS. Results are cached per (model key, stripped prompt, max length).
    """

    def __init__(self, model: T5Encoder, tokenizer: T5Tokenizer, *, max_length: Optional[int] = None,
                 cache: Optional[EncodeCache] = None, model_key: Optional[Hashable] = None):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = int(max_length or tokenizer.max_length)
        self.cache = cache if cache is not None else EncodeCache()
        self.model_key = model_key if model_key is not None else ("T5TextEncoder", id(self))

    def _device(self) -> torch.device:
        return self.model.encoder.final_layer_norm.weight.device

    @torch.no_grad()
    def encode_uncached(self, prompts: Sequence[str], device=None) -> Tuple[torch.Tensor, torch.Tensor]:
        device = torch.device(device) if device is not None else self._device()
        ids, mask = self.tokenizer([p.strip() for p in prompts], max_length=self.max_length)
        ids, mask = ids.to(device), mask.to(device)
        return self.model(ids, mask), mask

    def encode(self, prompts, device=None, use_cache: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
        """prompts (str or list of str) -> embeddings (B, L, d_model), mask (B, L); `device` moves the model."""
        if isinstance(prompts, str):
            prompts = [prompts]
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise InputError("encode() needs a list of prompt strings.")
        if device is not None and self._device() != torch.device(device):
            self.to(device)
        device = self._device()
        stripped = [p.strip() for p in prompts]
        keys = [(self.model_key, p, self.max_length) for p in stripped]
        found: List = [self.cache.get(k) if use_cache else None for k in keys]
        missing = list(dict.fromkeys(p for p, f in zip(stripped, found, strict=True) if f is None))
        if missing:
            states, mask = self.encode_uncached(missing, device)
            fresh = {p: (states[i:i + 1], mask[i:i + 1]) for i, p in enumerate(missing)}
            if use_cache:
                for prompt, item in fresh.items():
                    self.cache.put((self.model_key, prompt, self.max_length), item)
            found = [fresh[p] if f is None else f for p, f in zip(stripped, found, strict=True)]
        return (torch.cat([s.to(device) for s, _ in found]), torch.cat([m.to(device) for _, m in found]))
