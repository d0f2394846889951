"""Gemma 3 tokenizer on sentencepiece, as LTX-2 uses it: BOS, no EOS, left padding to 1024 tokens.

The sentencepiece model can come from a `tokenizer.model` file, from the `spiece_model` uint8 tensor
that ComfyUI-packaged Gemma files embed, from raw serialized ModelProto bytes, or from a vocabulary
(pieces, scores, types) such as a GGUF file carries.
"""

import os
import re
from typing import Callable, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch

from ..errors import CheckpointError, InputError
from .spm_model import encode_model_proto

MAX_LENGTH = 1024
SPIECE_KEY = "spiece_model"
# Pieces written literally in chat templates; each maps to its own id, never split.
SPECIAL_PIECES = ("<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<start_of_image>", "<end_of_image>")


def _require_sentencepiece():
    try:
        import sentencepiece
    except ImportError:
        raise CheckpointError(
            "The Gemma tokenizer needs the 'sentencepiece' package: pip install sentencepiece."
        ) from None
    return sentencepiece


class GemmaTokenizer:
    """Prompt strings -> (ids (B, L), mask (B, L)) with BOS, truncation to `max_length` and left padding."""

    def __init__(self, model_bytes: bytes, *, max_length: int = MAX_LENGTH):
        spm = _require_sentencepiece()
        self.processor = spm.SentencePieceProcessor()
        try:
            self.processor.LoadFromSerializedProto(bytes(model_bytes))
        except (RuntimeError, OSError) as exc:
            raise CheckpointError(f"The Gemma tokenizer data is not a valid sentencepiece model ({exc}).") from None
        self.max_length = max_length
        self.pad_id = self._special_id("<pad>", self.processor.pad_id(), 0)
        self.bos_id = self._special_id("<bos>", self.processor.bos_id(), 2)
        self.eos_id = self._special_id("<eos>", self.processor.eos_id(), 1)
        specials = [p for p in SPECIAL_PIECES if self.processor.piece_to_id(p) != self.processor.unk_id()]
        self._special_re = re.compile("(" + "|".join(re.escape(p) for p in specials) + ")") if specials else None

    def _special_id(self, piece: str, declared: int, default: int) -> int:
        found = self.processor.piece_to_id(piece)
        if found != self.processor.unk_id() or piece == "<unk>":
            return found
        return declared if declared >= 0 else default

    # ----- constructors -----
    @classmethod
    def from_bytes(cls, model_bytes: bytes, **kwargs) -> "GemmaTokenizer":
        """From a serialized sentencepiece ModelProto."""
        return cls(model_bytes, **kwargs)

    @classmethod
    def from_file(cls, path: str, **kwargs) -> "GemmaTokenizer":
        """From a `tokenizer.model`, a folder holding one, or a safetensors file embedding `spiece_model`."""
        found = find_tokenizer(path)
        if found is None:
            raise CheckpointError(
                f"No Gemma tokenizer found for {path!r}: expected a 'tokenizer.model' file (next to the weights or "
                f"in a parent folder) or a text-encoder safetensors file with an embedded '{SPIECE_KEY}' tensor. "
                "Put Gemma's tokenizer.model beside the weights."
            )
        if found.endswith(".safetensors"):
            from ..checkpoint import load_safetensors

            return cls.from_state_dict(load_safetensors(found, keys=[SPIECE_KEY]), **kwargs)
        with open(found, "rb") as handle:
            return cls(handle.read(), **kwargs)

    @classmethod
    def from_state_dict(
        cls, state_dict: Mapping[str, torch.Tensor], key: str = SPIECE_KEY, **kwargs
    ) -> "GemmaTokenizer":
        """From the uint8 byte tensor a ComfyUI-packaged text-encoder file carries."""
        tensor = state_dict.get(key)
        if tensor is None:
            raise CheckpointError(
                f"The text-encoder weights carry no '{key}' tokenizer tensor. Provide tokenizer.model."
            )
        return cls(tensor.detach().cpu().to(torch.uint8).numpy().tobytes(), **kwargs)

    @classmethod
    def from_vocab(
        cls, pieces: Sequence[str], scores: Sequence[float], types: Optional[Sequence[int]] = None, *,
        byte_fallback: bool = True, **kwargs,
    ) -> "GemmaTokenizer":
        """From a vocabulary (e.g. GGUF `tokenizer.ggml.tokens/scores/token_type`): a BPE model like Gemma's.

        `types` use sentencepiece's numbering (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte),
        which is also llama.cpp's.
        """
        return cls(build_model_proto(pieces, scores, types, byte_fallback=byte_fallback), **kwargs)

    # ----- encoding -----
    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, text: str, add_bos: bool = True) -> List[int]:
        """Token ids of `text`; special pieces written in the text (chat markers) become their own ids."""
        parts = self._special_re.split(text) if self._special_re is not None else [text]
        ids = [self.bos_id] if add_bos else []
        for index, part in enumerate(parts):
            if index % 2:
                ids.append(self.processor.piece_to_id(part))
            elif part:
                ids.extend(self.processor.encode(part))
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`, without control tokens (pad, BOS, EOS, chat markers)."""
        hidden = (self.pad_id, self.bos_id, self.eos_id)
        keep = [int(i) for i in ids if not (self.processor.is_control(int(i)) or int(i) in hidden)]
        return self.processor.decode(keep)

    def __call__(self, prompts, max_length: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """ids and mask (int64, (B, max_length)): BOS + tokens, truncated to `max_length`, padded on the left."""
        prompts = [prompts] if isinstance(prompts, str) else prompts
        length = int(max_length or self.max_length)
        return left_padded(prompts, length, self.pad_id, lambda prompt: self.encode(prompt)[:length])


def build_model_proto(pieces, scores, types=None, *, byte_fallback: bool = True) -> bytes:
    """A serialized sentencepiece BPE ModelProto with Gemma's settings (no dummy prefix, identity normalizer),
    special ids taken from the `<pad>` / `<eos>` / `<bos>` / `<unk>` pieces. Needs no protobuf."""
    index_of = {p: i for i, p in enumerate(pieces)}
    pad, eos, bos = (index_of.get(p, -1) for p in ("<pad>", "<eos>", "<bos>"))
    return encode_model_proto(pieces, scores, types, model_type="bpe", byte_fallback=byte_fallback,
                              unk_id=index_of.get("<unk>", 3), bos_id=bos, eos_id=eos, pad_id=pad)


def find_tokenizer(path: str) -> Optional[str]:
    """The tokenizer source for a weights path: the path itself (a `.model` file, or a safetensors file that
    embeds `spiece_model`), else a tokenizer.model beside it, in `tokenizer/` or one folder up; None if absent."""
    if os.path.isfile(path) and os.path.basename(path).endswith(".model"):
        return path
    if os.path.isfile(path) and path.endswith(".safetensors"):
        from ..checkpoint import read_safetensors_header

        if SPIECE_KEY in read_safetensors_header(path):
            return path
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    for candidate in (folder, os.path.join(folder, "tokenizer"), os.path.dirname(folder)):
        model = os.path.join(candidate, "tokenizer.model")
        if os.path.isfile(model):
            return model
    return None


def left_padded(prompts: Sequence[str], length: int, pad_id: int,
                encode: Callable[[str], List[int]]) -> Tuple[torch.Tensor, torch.Tensor]:
    """ids and mask (int64, (B, length)) of `encode(prompt)` (at most `length` ids each), padded on the left."""
    if length < 1 or not prompts:
        raise InputError("Tokenize at least one prompt into at least one token position.")
    ids = torch.full((len(prompts), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), length), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        tokens = encode(prompt)
        if tokens:
            ids[row, length - len(tokens):] = torch.tensor(tokens, dtype=torch.long)
            mask[row, length - len(tokens):] = 1
    return ids, mask
