"""Prompt text -> (video context, audio context): the whole LTX-2 text path, with an encode cache.

tokenize (BOS, left-pad to 1024) -> Gemma 3 (all hidden states) -> text projection -> video and audio
connectors. The connectors replace padding by learnable registers, so every one of the 1024 context
positions is valid and the returned mask is None: exactly what the diffusion transformer consumes.

Pad-free (the default): Gemma and the projection run only over the columns after the batch's common left
padding (the longest prompt's tokens), with the RoPE positions those columns have in the padded layout;
the projected features are then zero-padded back on the left to the full length for the connectors.
Padding contributes nothing to the padded path's result: Gemma masks pad keys (and zeroes pad queries'
attention), the projection's statistics (LTX-2 range norm) count real tokens only and its features are
zeroed at padding, and the connectors overwrite every pad position by a register. `pad_free=False` runs
the padded path (the reference).
"""

from collections import OrderedDict
from dataclasses import dataclass
from typing import Hashable, List, Optional, Sequence

import torch
import torch.nn as nn

from ..errors import InputError
from .connectors import EmbeddingsConnector
from .feature_extractor import TextProjection
from .gemma import GemmaTextModel
from .tokenizer import GemmaTokenizer


@dataclass(frozen=True)
class TextContext:
    """Cross-attention context for the diffusion transformer."""

    video: torch.Tensor  # (B, L, Dv)
    audio: torch.Tensor  # (B, L, Da)
    mask: Optional[torch.Tensor] = None  # (B, L) 1 = attend; None = every position

    def to(self, device=None, dtype=None) -> "TextContext":
        def move(t):
            return None if t is None else t.to(device=device, dtype=dtype if t.is_floating_point() else None)

        return TextContext(move(self.video), move(self.audio), move(self.mask))

    @staticmethod
    def cat(items: Sequence["TextContext"]) -> "TextContext":
        masks = [c.mask for c in items]
        mask = None if all(m is None for m in masks) else torch.cat(
            [torch.ones(c.video.shape[:2], dtype=torch.long, device=c.video.device) if c.mask is None else c.mask
             for c in items])
        return TextContext(torch.cat([c.video for c in items]), torch.cat([c.audio for c in items]), mask)


class EncodeCache:
    """A small LRU of per-prompt TextContexts keyed by (model key, prompt, length); share it between encoders."""

    def __init__(self, capacity: int = 16):
        self.capacity = capacity
        self._items: "OrderedDict[Hashable, TextContext]" = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Optional[TextContext]:
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return item

    def put(self, key: Hashable, value: TextContext) -> None:
        if self.capacity <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class TextEncoder(nn.Module):
    """Gemma + tokenizer + text projection + video/audio connectors."""

    def __init__(
        self, gemma: GemmaTextModel, tokenizer: GemmaTokenizer, projection: TextProjection,
        video_connector: EmbeddingsConnector, audio_connector: EmbeddingsConnector, *,
        max_length: Optional[int] = None, cache: Optional[EncodeCache] = None, model_key: Optional[Hashable] = None,
        pad_free: bool = True,
    ):
        super().__init__()
        self.gemma = gemma
        self.tokenizer = tokenizer
        self.projection = projection
        self.video_connector = video_connector
        self.audio_connector = audio_connector
        self.max_length = int(max_length or tokenizer.max_length)
        self.cache = cache if cache is not None else EncodeCache()
        self.model_key = model_key if model_key is not None else ("TextEncoder", id(self))
        self.pad_free = bool(pad_free)

    def _device(self) -> torch.device:
        return next(self.gemma.parameters()).device

    def tokenize(self, prompts: Sequence[str]):
        """ids, mask (B, max_length); prompts are stripped of surrounding whitespace first."""
        return self.tokenizer([p.strip() for p in prompts], max_length=self.max_length)

    @torch.no_grad()
    def features(self, ids: torch.Tensor, mask: torch.Tensor, pad_free: Optional[bool] = None):
        """ids, mask (B, T) -> projected (video (B, T, Dv), audio (B, T, Da)) in the projection's dtype.

        Pad-free, the columns before the first real token of any row are skipped and come back as zeros
        (every consumer ignores them; see the module docstring)."""
        pad_free = self.pad_free if pad_free is None else pad_free
        full = ids.shape[1]
        start = _leading_padding(mask) if pad_free else 0
        states = self.gemma(ids[:, start:], mask[:, start:], start_position=start)
        work_dtype = _weight_dtype(self.projection, states[0].dtype)
        video, audio = self.projection([s.to(work_dtype) for s in states], mask[:, start:])
        del states
        if start:
            video, audio = _left_pad(video, full), _left_pad(audio, full)
        return video, audio

    @torch.no_grad()
    def encode_uncached(self, prompts: Sequence[str], device=None, pad_free: Optional[bool] = None) -> TextContext:
        """Run the full path for `prompts` on `device` (default: where Gemma's weights are); `pad_free`
        overrides the encoder's setting (False: the padded reference path)."""
        device = torch.device(device) if device is not None else self._device()
        ids, mask = self.tokenize(prompts)
        return self.encode_ids(ids.to(device), mask.to(device), pad_free)

    @torch.no_grad()
    def encode_ids(self, ids: torch.Tensor, mask: torch.Tensor, pad_free: Optional[bool] = None) -> TextContext:
        """Token ids and mask (B, max_length), left-padded as `tokenize` returns them -> TextContext."""
        video, audio = self.features(ids, mask, pad_free)
        video = self.video_connector(video.to(_weight_dtype(self.video_connector, video.dtype)), mask)
        audio = self.audio_connector(audio.to(_weight_dtype(self.audio_connector, audio.dtype)), mask)
        return TextContext(video, audio, None)

    def encode(self, prompts, device=None, use_cache: bool = True) -> TextContext:
        """prompts (str or list of str) -> TextContext with video (B, L, Dv), audio (B, L, Da), mask None.

        `device` selects where the computation runs (e.g. "cpu"); modules not on it are moved there.
        """
        if isinstance(prompts, str):
            prompts = [prompts]
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise InputError("encode() needs a list of prompt strings.")
        if device is not None and self._device() != torch.device(device):
            self.to(device)
        device = self._device()
        keys = [(self.model_key, p.strip(), self.max_length) for p in prompts]
        found: List[Optional[TextContext]] = [self.cache.get(k) if use_cache else None for k in keys]
        missing = list(dict.fromkeys(p.strip() for p, f in zip(prompts, found, strict=True) if f is None))
        if missing:
            fresh = self.encode_uncached(missing, device)
            for row, prompt in enumerate(missing):
                item = TextContext(fresh.video[row:row + 1], fresh.audio[row:row + 1], None)
                if use_cache:
                    self.cache.put((self.model_key, prompt, self.max_length), item)
                found = [item if f is None and p.strip() == prompt else f for p, f in zip(prompts, found, strict=True)]
        return TextContext.cat([f.to(device) for f in found])


def _leading_padding(mask: torch.Tensor) -> int:
    """The number of leading columns of mask (B, T) that are padding in every row (0 when all are)."""
    used = mask.bool().any(dim=0)  # (T,)
    return int(used.int().argmax())


def _left_pad(x: torch.Tensor, length: int) -> torch.Tensor:
    """x (B, T, W) -> (B, length, W) with zeros before x."""
    out = x.new_zeros(x.shape[0], length, x.shape[2])
    out[:, length - x.shape[1]:] = x
    return out


def _weight_dtype(module: nn.Module, fallback: torch.dtype) -> torch.dtype:
    """The dtype a module computes in: its first floating parameter's, unless that is a storage-only type."""
    for param in module.parameters():
        if param.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
            return param.dtype
        break
    return fallback
