"""Gemma 4 tokenizer from the `tokenizer.json` embedded in the LTX-2.5 text-encoder file.

Encoding follows ltx-core's LTX Gemma tokenizer: the prompt is stripped, tokenized with the file's special-token
post-processing and truncated to `max_length`; a BOS is prepended when the result does not start with one (the
Gemma 4 tokenizer does not add it, Gemma 3's does) and never duplicated, and the row is cut to `max_length`
again; rows are left-padded with the pad id. No EOS, no chat template.
"""

from typing import List, Optional, Sequence, Tuple

import torch

from ...errors import CheckpointError
from ..tokenizer import left_padded

MAX_LENGTH = 1024


def _require_tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise CheckpointError(
            "The Gemma 4 tokenizer needs the 'tokenizers' package: pip install tokenizers (ComfyUI ships it)."
        ) from None
    return tokenizers


class Gemma4Tokenizer:
    """Callable like `GemmaTokenizer`: `tokenizer(prompts, max_length)` -> ids, mask (B, max_length)."""

    def __init__(self, tokenizer_json: str, *, max_length: int = MAX_LENGTH, pad_id: Optional[int] = None,
                 bos_id: Optional[int] = None):
        tokenizers = _require_tokenizers()
        try:
            self.backend = tokenizers.Tokenizer.from_str(tokenizer_json)
        except Exception as exc:  # the library raises a bare Exception on malformed JSON
            raise CheckpointError(f"The embedded tokenizer.json could not be read: {exc}.") from None
        self.backend.no_truncation()
        self.backend.no_padding()
        self.max_length = int(max_length)
        self.pad_id = self._special(pad_id, "<pad>", 0)
        self.bos_id = self._special(bos_id, "<bos>", 2)

    def _special(self, declared: Optional[int], piece: str, default: int) -> int:
        if declared is not None:
            return int(declared)
        found = self.backend.token_to_id(piece)
        return default if found is None else int(found)

    @classmethod
    def from_bytes(cls, data: bytes, **kwargs) -> "Gemma4Tokenizer":
        try:
            return cls(data.decode("utf-8"), **kwargs)
        except UnicodeDecodeError:
            raise CheckpointError("The embedded tokenizer.json is not UTF-8 text.") from None

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def encode(self, text: str, max_length: Optional[int] = None) -> List[int]:
        """BOS + token ids of the stripped `text`, at most `max_length` of them."""
        length = int(max_length or self.max_length)
        ids = self.backend.encode(text.strip(), add_special_tokens=True).ids[:length]
        if not ids or ids[0] != self.bos_id:
            ids = [self.bos_id, *ids][:length]
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.backend.decode([int(i) for i in ids], skip_special_tokens=True)

    def __call__(self, prompts, max_length: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """ids and mask (int64, (B, max_length)), left-padded."""
        prompts = [prompts] if isinstance(prompts, str) else prompts
        length = int(max_length or self.max_length)
        return left_padded(prompts, length, self.pad_id, lambda prompt: self.encode(prompt, length))
