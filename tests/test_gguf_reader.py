"""GGUF reading: lazy tensors, metadata, clear errors; bounded fuzzing of GGUF and safetensors headers."""

import json
import os
import random
import struct

import numpy as np
import pytest
import torch

import gguf  # a runtime dependency: never skipped
from gguf import GGMLQuantizationType as Q  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from ltx2_core.checkpoint import load_safetensors, read_safetensors_header  # noqa: E402
from ltx2_core.errors import CheckpointError, UnsupportedFormatError  # noqa: E402
from ltx2_core.gguf.reader import GGUFFile, check_gguf_header  # noqa: E402
from ltx2_core.gguf.tensor import QuantizedTensor  # noqa: E402


def write_gguf(path, arch="ltxv", extra=None):
    values = np.random.default_rng(0).standard_normal((16, 64)).astype(np.float32)
    writer = gguf.GGUFWriter(str(path), arch=arch)
    writer.add_string("general.name", "tiny")
    writer.add_array("some.list", [1, 2, 3])
    writer.add_tensor("a.weight", values)
    writer.add_tensor("b.weight", values.astype(np.float16))
    for name, qtype in (("c.weight", Q.BF16), ("d.weight", Q.Q8_0), ("e.weight", Q.Q4_1)):
        raw = gguf.quants.quantize(values, qtype)
        writer.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qtype)
    flat = values.reshape(4, 256)
    writer.add_array("comfy.gguf.orig_shape.f.weight", [4, 4, 64])
    raw = gguf.quants.quantize(flat, Q.Q8_0)
    writer.add_tensor("f.weight", raw, raw_shape=raw.shape, raw_dtype=Q.Q8_0)
    for name, raw, qtype in (extra or []):
        writer.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return values


def test_reads_metadata_and_tensors_lazily(tmp_path):
    path = tmp_path / "t.gguf"
    values = write_gguf(path)
    file = GGUFFile(str(path))
    assert file.architecture == "ltxv" and file.field("general.name") == "tiny"
    assert file.field("some.list") == [1, 2, 3] and file.field("missing", 7) == 7
    assert file.tensor_types() == {"F32": 1, "F16": 1, "BF16": 1, "Q8_0": 2, "Q4_1": 1}
    state = file.state_dict(dtype=torch.float32)
    assert torch.equal(state["a.weight"], torch.from_numpy(values))
    assert state["c.weight"].dtype == torch.bfloat16 and state["c.weight"].shape == (16, 64)
    assert isinstance(state["d.weight"], QuantizedTensor) and state["d.weight"].shape == (16, 64)
    expected = gguf.quants.dequantize(gguf.quants.quantize(values, Q.Q8_0), Q.Q8_0)
    assert np.array_equal(state["d.weight"].dequantize_as().numpy(), expected)
    assert state["f.weight"].shape == (4, 4, 64)  # original shape from ComfyUI-GGUF metadata
    assert (state["e.weight"].dequantize_as() - torch.from_numpy(values)).abs().max() < 0.3
    state["a.weight"].add_(1)  # copy-on-write map: writes never reach the file
    assert torch.equal(GGUFFile(str(path)).tensor("a.weight"), torch.from_numpy(values))


def test_fields_and_tensors_agree_with_gguf_reader(tmp_path):
    path = tmp_path / "t.gguf"
    write_gguf(path)
    oracle = gguf.GGUFReader(str(path))
    file = GGUFFile(str(path))
    expected = {k: f.contents() for k, f in oracle.fields.items() if not k.startswith("GGUF.")}
    assert file.fields == expected
    for tensor in oracle.tensors:
        ours = file.tensor(tensor.name, torch.float32)
        ours = ours.data_packed if isinstance(ours, QuantizedTensor) else ours
        assert np.array_equal(ours.reshape(-1).view(torch.uint8).numpy(), tensor.data.reshape(-1).view(np.uint8))


def test_architecture_check(tmp_path):
    path = tmp_path / "t.gguf"
    write_gguf(path, arch="flux")
    with pytest.raises(CheckpointError, match="'flux'.*'ltxv'"):
        GGUFFile(str(path)).check_architecture(("ltxv",), "LTX-2 transformer")


def test_unsupported_quant_type_is_named(tmp_path):
    path = tmp_path / "t.gguf"
    raw = np.random.default_rng(0).integers(0, 255, (2, 66), dtype=np.uint8)
    write_gguf(path, extra=[("g.weight", raw, Q.IQ2_XXS)])
    file = GGUFFile(str(path))
    with pytest.raises(UnsupportedFormatError, match="IQ2_XXS"):
        file.state_dict()
    assert isinstance(file.tensor("d.weight"), QuantizedTensor)  # the others still load


def test_truncated_and_foreign_files(tmp_path):
    path = tmp_path / "t.gguf"
    write_gguf(path)
    data = path.read_bytes()
    for cut in (3, 20, 100, len(data) // 2, len(data) - 1):
        (tmp_path / "cut.gguf").write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            GGUFFile(str(tmp_path / "cut.gguf"))
    (tmp_path / "x.gguf").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(CheckpointError, match="not a GGUF"):
        GGUFFile(str(tmp_path / "x.gguf"))
    with pytest.raises(CheckpointError, match="not found"):
        GGUFFile(str(tmp_path / "missing.gguf"))
    version = bytearray(data)
    version[4:8] = struct.pack("<I", 7)
    (tmp_path / "v.gguf").write_bytes(bytes(version))
    with pytest.raises(UnsupportedFormatError, match="version 7"):
        GGUFFile(str(tmp_path / "v.gguf"))


def _mutations(data: bytes, rng: random.Random, header_end: int):
    """Byte flips, 64-bit count overwrites and truncations concentrated on the header."""
    buf = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(header_end)] = rng.randrange(256)
    elif kind == 1:
        pos = rng.randrange(max(header_end - 8, 1))
        buf[pos:pos + 8] = struct.pack("<Q", rng.choice([0, 1, 2**31, 2**40, 2**63, 2**64 - 1, rng.randrange(2**64)]))
    elif kind == 2:
        buf = buf[:rng.randrange(len(buf))]
    else:
        pos = rng.randrange(header_end)
        buf[pos:pos + 4] = struct.pack("<I", rng.randrange(2**32))
    return bytes(buf)


def test_fuzzed_gguf_files_fail_cleanly(tmp_path):
    path = tmp_path / "t.gguf"
    write_gguf(path)
    data = path.read_bytes()
    header_end = GGUFFile(str(path)).data_start
    rng = random.Random(1234)
    target = tmp_path / "fuzz.gguf"
    outcomes = {"ok": 0, "error": 0}
    for _ in range(200):
        target.write_bytes(_mutations(data, rng, header_end))
        try:
            file = GGUFFile(str(target))
            for name in file.infos:
                tensor = file.tensor(name, torch.float32)
                if isinstance(tensor, QuantizedTensor):
                    tensor.dequantize_as()
            outcomes["ok"] += 1
        except CheckpointError:  # UnsupportedFormatError included
            outcomes["error"] += 1
    assert outcomes["error"] > 100 and sum(outcomes.values()) == 200


def test_fuzzed_safetensors_headers_fail_cleanly(tmp_path):
    path = str(tmp_path / "t.safetensors")
    save_file({"a": torch.randn(4, 8), "b": torch.zeros(3, dtype=torch.int64)}, path, metadata={"config": "{}"})
    data = open(path, "rb").read()
    header_len = struct.unpack("<Q", data[:8])[0]
    rng = random.Random(99)
    target = str(tmp_path / "fuzz.safetensors")
    errors = 0
    for index in range(200):
        buf = bytearray(data)
        if index % 4 == 0:
            buf = buf[:rng.randrange(len(buf))]
        elif index % 4 == 1:
            buf[:8] = struct.pack("<Q", rng.choice([0, 1, 2**63, header_len + rng.randrange(1, 64)]))
        else:
            for _ in range(rng.randint(1, 6)):
                buf[8 + rng.randrange(header_len)] = rng.choice(b'{}[]":,0123456789-eE.aZ \x00\xff')
        with open(target, "wb") as handle:
            handle.write(bytes(buf))
        try:
            read_safetensors_header(target)
            load_safetensors(target)
        except CheckpointError:
            errors += 1
    assert errors > 100


def test_safetensors_header_with_wrong_types_is_a_checkpoint_error(tmp_path):
    cases = [
        [], {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}},
        {"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}},
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 9]}},
        {"a": "x"}, {"a": {"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]}},
        {"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}},
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "__metadata__": {"config": 5}},
    ]
    for index, header in enumerate(cases):
        raw = json.dumps(header).encode()
        path = os.path.join(tmp_path, f"h{index}.safetensors")
        with open(path, "wb") as handle:
            handle.write(struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
        with pytest.raises(CheckpointError):
            read_safetensors_header(path)
            load_safetensors(path)
