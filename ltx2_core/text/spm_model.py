"""The sentencepiece `ModelProto` wire format, written and read without the `protobuf` package.

A sentencepiece model is a serialized protobuf message; `encode_model_proto` writes one from a vocabulary
(pieces, scores, token types in sentencepiece's numbering: 1 normal, 2 unknown, 3 control, 4 user-defined,
5 unused, 6 byte; llama.cpp uses the same numbers) and `decode_model_pieces` / `describe_model` read one.
Field numbers below are those of sentencepiece_model.proto; sentencepiece itself loads the bytes, so the
pack never needs protobuf at run time.
"""

import struct
from typing import Optional, Sequence

from ..errors import CheckpointError

# ModelProto: pieces = 1, trainer_spec = 2, normalizer_spec = 3; SentencePiece: piece 1, score 2, type 3.
# TrainerSpec: model_type 3 (BPE = 2), vocab_size 4, split_digits 25, byte_fallback 35,
# unk_id 40, bos_id 41, eos_id 42, pad_id 43. NormalizerSpec: name 1, add_dummy_prefix 3,
# remove_extra_whitespaces 4, escape_whitespaces 5, precompiled_charsmap 2.
MODEL_TYPES = {"unigram": 1, "bpe": 2}
_VARINT, _FIXED32, _BYTES = 0, 5, 2
BYTE_TYPE = 6  # sentencepiece / llama.cpp token type of the <0xNN> byte pieces


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32 values are written as 10-byte two's complement varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int_field(number: int, value: int) -> bytes:
    return _key(number, _VARINT) + _varint(int(value))


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _key(number, _BYTES) + _varint(len(payload)) + payload


def _float_field(number: int, value: float) -> bytes:
    return _key(number, _FIXED32) + struct.pack("<f", float(value))


def encode_model_proto(
    pieces: Sequence[str], scores: Sequence[float], types: Optional[Sequence[int]] = None, *,
    model_type: str = "bpe", byte_fallback: bool = True, split_digits: bool = True, add_dummy_prefix: bool = False,
    unk_id: int = 3, bos_id: int = 2, eos_id: int = 1, pad_id: int = 0,
    normalizer_name: str = "identity", precompiled_charsmap: bytes = b"", remove_extra_whitespaces: bool = False,
) -> bytes:
    """Serialized sentencepiece ModelProto (whitespace escaped to U+2581). The normalizer is the identity unless a
    rule name and its `precompiled_charsmap` are given (e.g. T5's `nmt_nfkc` from a tokenizer.json)."""
    if len(pieces) != len(scores) or (types is not None and len(types) != len(pieces)):
        raise CheckpointError(
            "The tokenizer vocabulary is inconsistent: pieces, scores and types differ in length."
        )
    if model_type not in MODEL_TYPES:
        raise CheckpointError(f"Unsupported tokenizer model type {model_type!r}: expected 'bpe' or 'unigram'.")
    out = bytearray()
    for index, (piece, score) in enumerate(zip(pieces, scores)):
        entry = _bytes_field(1, piece.encode("utf-8")) + _float_field(2, score)
        entry += _int_field(3, int(types[index]) if types is not None else 1)
        out += _bytes_field(1, entry)
    trainer = (_int_field(3, MODEL_TYPES[model_type]) + _int_field(4, len(pieces)) + _int_field(25, split_digits)
               + _int_field(35, byte_fallback) + _int_field(40, unk_id) + _int_field(41, bos_id)
               + _int_field(42, eos_id) + _int_field(43, pad_id))
    out += _bytes_field(2, trainer)
    normalizer = (_bytes_field(1, normalizer_name.encode("utf-8"))
                  + (_bytes_field(2, bytes(precompiled_charsmap)) if precompiled_charsmap else b"")
                  + _int_field(3, add_dummy_prefix) + _int_field(4, remove_extra_whitespaces) + _int_field(5, True))
    out += _bytes_field(3, normalizer)
    return bytes(out)


def _read_varint(data: bytes, pos: int):
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise CheckpointError("The tokenizer model is not a valid sentencepiece file (bad varint).")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes):
    """(field number, wire type, value) of one protobuf message; value is int, bytes or a 4/8-byte blob."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _BYTES:
            length, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire in (_FIXED32, 1):
            size = 4 if wire == _FIXED32 else 8
            value, pos = data[pos:pos + size], pos + size
        else:
            raise CheckpointError("The tokenizer model is not a valid sentencepiece file (bad wire type).")
        if pos > len(data):
            raise CheckpointError("The tokenizer model is truncated.")
        yield number, wire, value


def decode_model_pieces(model: bytes):
    """(pieces, scores, types) of a serialized sentencepiece ModelProto, read without protobuf."""
    pieces, scores, types = [], [], []
    for number, wire, value in _fields(bytes(model)):
        if number != 1 or wire != _BYTES:
            continue
        piece, score, kind = "", 0.0, 1
        for sub, sub_wire, sub_value in _fields(value):
            if sub == 1 and sub_wire == _BYTES:
                piece = sub_value.decode("utf-8")
            elif sub == 2 and sub_wire == _FIXED32:
                score = struct.unpack("<f", sub_value)[0]
            elif sub == 3 and sub_wire == _VARINT:
                kind = sub_value
        pieces.append(piece)
        scores.append(score)
        types.append(kind)
    return pieces, scores, types


def describe_model(model: bytes):
    """(llama.cpp tokenizer kind, add_space_prefix) of a serialized sentencepiece ModelProto, without protobuf.

    The trainer spec's model type (UNIGRAM = 1, BPE = 2; unset means UNIGRAM) gives llama.cpp's `t5` (unigram)
    or `llama` (the rest); the normalizer spec's `add_dummy_prefix` (default true) is the space prefix.
    """
    model_type, add_dummy_prefix = 1, True
    for number, wire, value in _fields(bytes(model)):
        if wire != _BYTES or number not in (2, 3):
            continue
        for sub, sub_wire, sub_value in _fields(value):
            if sub == 3 and sub_wire == _VARINT:
                if number == 2:
                    model_type = sub_value
                else:
                    add_dummy_prefix = bool(sub_value)
    return ("t5" if model_type == 1 else "llama"), add_dummy_prefix
