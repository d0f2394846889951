"""T5 tokenizer on sentencepiece, as the official LTX-Video pipeline uses it.

Prompt -> `.strip()` -> sentencepiece ids, truncated to `max_length - 1`, EOS `</s>` (id 1) appended, padded on
the right with `<pad>` (id 0) to exactly `max_length`; the mask is 1 on the tokens and the EOS. `<extra_id_N>`
(ids vocab + extra_ids - 1 - N, transformers' numbering), `</s>`, `<pad>` and `<unk>` written in a prompt become
their own ids. Max length: 128 for LTX-Video 0.9.0 / 0.9.1, 256 (the official default) from 0.9.5 on.

The sentencepiece model comes from an HF folder's `spiece.model` (also in `tokenizer/`), a tokenizers
`tokenizer.json` with a Unigram model (ComfyUI ships one in comfy/text_encoders/t5_tokenizer/), or a GGUF
vocabulary (`tokenizer.ggml.*`, model "t5").
"""

import base64
import json
import os
import re
from typing import List, Optional, Sequence, Tuple

import torch

from ...errors import CheckpointError, InputError
from ..spm_model import encode_model_proto

MAX_LENGTH = 256
LEGACY_MAX_LENGTH = 128  # LTX-Video 0.9.0 / 0.9.1
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
TOKENIZER_FILES = ("spiece.model", "tokenizer.json")
HOST_TOKENIZER = ("comfy", "text_encoders", "t5_tokenizer", "tokenizer.json")  # inside a ComfyUI install


def _processor(model_bytes: bytes):
    try:
        import sentencepiece
    except ImportError:
        raise CheckpointError(
            "The T5 tokenizer needs the 'sentencepiece' package: pip install sentencepiece."
        ) from None
    processor = sentencepiece.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(bytes(model_bytes))
    except (RuntimeError, OSError) as exc:
        raise CheckpointError(f"The T5 tokenizer data is not a valid sentencepiece model ({exc}).") from None
    return processor


class T5Tokenizer:
    """Prompt strings -> (ids (B, L), mask (B, L)) int64, EOS appended, right padding to `max_length`."""

    def __init__(self, model_bytes: bytes, *, max_length: int = MAX_LENGTH, extra_ids: int = 100):
        self.processor = _processor(model_bytes)
        self.max_length = int(max_length)
        self.extra_ids = int(extra_ids)
        size = self.processor.get_piece_size()
        specials = {"<pad>": PAD_ID, "</s>": EOS_ID, "<unk>": UNK_ID}
        specials.update({f"<extra_id_{i}>": size + self.extra_ids - 1 - i for i in range(self.extra_ids)})
        self._special = specials
        self._special_re = re.compile("(" + "|".join(re.escape(p) for p in sorted(specials, key=len, reverse=True))
                                      + ")")

    # ----- constructors -----
    @classmethod
    def from_file(cls, path, **kwargs) -> "T5Tokenizer":
        """From `spiece.model`, a `tokenizer.json`, a `.gguf` file, or a folder holding one of the first two
        (itself, its `tokenizer/` subfolder, or its parent's `tokenizer/`: the HF pipeline-folder layout)."""
        path = os.fspath(path)
        found = find_t5_tokenizer(path)
        if found is None:
            raise CheckpointError(
                f"No T5 tokenizer found for {path!r}: expected 'spiece.model' (or a tokenizers 'tokenizer.json') in "
                "the folder, its tokenizer/ subfolder or the parent's tokenizer/ folder. Put spiece.model from "
                "google/t5-v1_1-xxl (or PixArt-alpha's tokenizer/ folder) there, or pass the tokenizer path."
            )
        if found.endswith(".gguf"):
            from ...gguf.reader import GGUFFile

            return cls.from_gguf(GGUFFile(found), **kwargs)
        if found.endswith(".json"):
            return cls.from_tokenizer_json(found, **kwargs)
        with open(found, "rb") as handle:
            return cls(handle.read(), **kwargs)

    @classmethod
    def from_tokenizer_json(cls, path: str, **kwargs) -> "T5Tokenizer":
        """From a Hugging Face tokenizers file with T5's Unigram model (ComfyUI's t5_tokenizer/tokenizer.json)."""
        try:
            with open(path, "r", encoding="utf-8") as handle:
                data = json.load(handle)
            model = data["model"]
            vocab = model["vocab"]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{os.path.basename(path)} is not a tokenizers file with a vocabulary ({exc}). "
                                  "Give T5's spiece.model instead.") from None
        if model.get("type") != "Unigram":
            raise CheckpointError(f"{os.path.basename(path)} holds a {model.get('type')!r} tokenizer, not T5's "
                                  "Unigram one. Give T5's spiece.model instead.")
        extra = [i for i, (piece, _) in enumerate(vocab) if piece.startswith("<extra_id_")]
        count = min(extra) if extra else len(vocab)
        pieces = [p for p, _ in vocab[:count]]
        scores = [float(s) for _, s in vocab[:count]]
        types = [3 if i in (PAD_ID, EOS_ID) else 2 if i == UNK_ID else 1 for i in range(count)]
        charsmap = b""
        normalizers = (data.get("normalizer") or {}).get("normalizers") or [data.get("normalizer") or {}]
        for norm in normalizers:
            if norm.get("type") == "Precompiled" and norm.get("precompiled_charsmap"):
                charsmap = base64.b64decode(norm["precompiled_charsmap"])
        proto = _t5_proto(pieces, scores, types, charsmap)
        kwargs.setdefault("extra_ids", len(extra))
        return cls(proto, **kwargs)

    @classmethod
    def from_gguf(cls, file, **kwargs) -> "T5Tokenizer":
        """From a GGUF file's (`GGUFFile`) llama.cpp T5 vocabulary; its `<extra_id_N>` pieces stay in the model."""
        kind = file.field("tokenizer.ggml.model")
        tokens = file.field("tokenizer.ggml.tokens")
        if kind != "t5" or tokens is None:
            raise CheckpointError(
                f"{file.name} carries no T5 tokenizer vocabulary (tokenizer.ggml.model is {kind!r}). Pass the path "
                "of spiece.model (or ComfyUI's t5_tokenizer/tokenizer.json) as the tokenizer."
            )
        scores = [float(s) for s in (file.field("tokenizer.ggml.scores") or [0.0] * len(tokens))]
        types = list(file.field("tokenizer.ggml.token_type") or [1] * len(tokens))
        charsmap = file.field("tokenizer.ggml.precompiled_charsmap")
        charsmap = bytes(bytearray(int(b) & 0xFF for b in charsmap)) if charsmap is not None else b""
        proto = _t5_proto(list(tokens), scores, types, charsmap,
                          add_dummy_prefix=bool(file.field("tokenizer.ggml.add_space_prefix", True)),
                          remove_extra_whitespaces=bool(file.field("tokenizer.ggml.remove_extra_whitespaces", True)))
        kwargs.setdefault("extra_ids", 0)
        return cls(proto, **kwargs)

    # ----- encoding -----
    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size() + self.extra_ids

    def encode(self, text: str) -> List[int]:
        """Token ids of `text` without the EOS; special pieces written in the text map to their ids."""
        ids: List[int] = []
        for index, part in enumerate(self._special_re.split(text)):
            if index % 2:
                ids.append(self._special[part])
            elif part:
                ids.extend(self.processor.encode(part))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        size = self.processor.get_piece_size()
        keep = [int(i) for i in ids if int(i) not in (PAD_ID, EOS_ID) and int(i) < size]
        return self.processor.decode(keep)

    def __call__(self, prompts, max_length: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """ids and mask (int64, (B, max_length)) of the stripped prompts."""
        if isinstance(prompts, str):
            prompts = [prompts]
        length = int(max_length or self.max_length)
        if length < 1 or not prompts or not all(isinstance(p, str) for p in prompts):
            raise InputError("Tokenize at least one prompt string into at least one token position.")
        ids = torch.full((len(prompts), length), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(prompts), length), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            tokens = self.encode(prompt.strip())[: length - 1] + [EOS_ID]
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            mask[row, : len(tokens)] = 1
        return ids, mask


def _t5_proto(pieces, scores, types, charsmap: bytes, *, add_dummy_prefix: bool = True,
              remove_extra_whitespaces: bool = True) -> bytes:
    """A T5-style unigram ModelProto: pad 0, EOS 1, unk 2, no BOS, nmt_nfkc normalizer when a charsmap is known."""
    return encode_model_proto(
        pieces, scores, types, model_type="unigram", byte_fallback=False, split_digits=False,
        add_dummy_prefix=add_dummy_prefix, unk_id=UNK_ID, bos_id=-1, eos_id=EOS_ID, pad_id=PAD_ID,
        normalizer_name="nmt_nfkc" if charsmap else "identity", precompiled_charsmap=charsmap,
        remove_extra_whitespaces=remove_extra_whitespaces,
    )


def host_tokenizer_file(comfyui_root) -> Optional[str]:
    """The T5 tokenizer file a ComfyUI install ships (comfy/text_encoders/t5_tokenizer/tokenizer.json), or None."""
    path = os.path.join(os.fspath(comfyui_root), *HOST_TOKENIZER)
    return path if os.path.isfile(path) else None


def find_t5_tokenizer(path: str) -> Optional[str]:
    """The tokenizer file for `path` (a tokenizer file itself, or next to / around the weights), else None."""
    if os.path.isfile(path) and (path.endswith((".model", ".gguf")) or os.path.basename(path) == "tokenizer.json"):
        return path
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    for candidate in (folder, os.path.join(folder, "tokenizer"), os.path.join(os.path.dirname(folder), "tokenizer")):
        for name in TOKENIZER_FILES:
            if os.path.isfile(os.path.join(candidate, name)):
                return os.path.join(candidate, name)
    return None
