"""A sentencepiece model rebuilt from a GGUF vocabulary, serialized without protobuf.

llama.cpp keeps a SentencePiece vocabulary as `tokenizer.ggml.tokens` / `scores` / `token_type`
(token types use sentencepiece's numbering) plus the special ids; `ltx2_core.text.spm_model` writes
the sentencepiece `ModelProto` from them without protobuf.
"""

from ..errors import CheckpointError
from ..text.spm_model import BYTE_TYPE, encode_model_proto


def sentencepiece_model_from_gguf(file) -> bytes:
    """The sentencepiece model of a GGUF file (`GGUFFile`) with a llama.cpp SentencePiece vocabulary."""
    kind = file.field("tokenizer.ggml.model")
    tokens = file.field("tokenizer.ggml.tokens")
    if kind is None or tokens is None:
        raise CheckpointError(
            f"{file.name} carries no tokenizer vocabulary (tokenizer.ggml.*). Provide tokenizer.model."
        )
    if kind not in ("llama", "t5"):
        raise CheckpointError(f"{file.name} has a {kind!r} tokenizer; only SentencePiece vocabularies can be rebuilt.")
    scores = file.field("tokenizer.ggml.scores") or [0.0] * len(tokens)
    types = file.field("tokenizer.ggml.token_type")

    def special(name: str, default: int) -> int:
        value = file.field(f"tokenizer.ggml.{name}_token_id")
        return default if value is None else int(value)

    unk = special("unknown", next((i for i, t in enumerate(types or []) if t == 2), 3))
    # Byte fallback only where the vocabulary has byte pieces (<0x00>..<0xFF>); sentencepiece refuses it otherwise.
    byte_fallback = any(t == BYTE_TYPE for t in types) if types is not None else False
    return encode_model_proto(
        tokens, scores, types, model_type="bpe" if kind == "llama" else "unigram", byte_fallback=byte_fallback,
        add_dummy_prefix=bool(file.field("tokenizer.ggml.add_space_prefix", False)),
        unk_id=unk, bos_id=special("bos", -1), eos_id=special("eos", -1), pad_id=special("padding", -1),
    )
