"""The shared safetensors reading and strict-loading helpers."""

import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from ltx2_core.checkpoint import (
    load_safetensors,
    load_strict,
    read_config_metadata,
    read_safetensors_header,
)
from ltx2_core.errors import CheckpointError


def _write(path, tensors, metadata=None):
    save_file(tensors, str(path), metadata=metadata)
    return str(path)


def test_reads_metadata_config_and_tensors(tmp_path):
    path = _write(tmp_path / "m.safetensors", {"a": torch.arange(6.0).view(2, 3)}, {"config": json.dumps({"x": 1})})
    assert read_config_metadata(path) == {"x": 1}
    assert torch.equal(load_safetensors(path)["a"], torch.arange(6.0).view(2, 3))


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_safetensors_header(str(tmp_path / "nope.safetensors"))


def test_truncated_file_is_reported(tmp_path):
    path = _write(tmp_path / "m.safetensors", {"a": torch.zeros(64, 64)})
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match="truncated"):
        read_safetensors_header(path)


def test_garbage_header_is_reported(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 10) + b"not json!!" + b"\0" * 16)
    with pytest.raises(CheckpointError, match="unreadable"):
        read_safetensors_header(str(path))
    path.write_bytes(struct.pack("<Q", 1 << 40))
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        read_safetensors_header(str(path))


def test_load_strict_assigns_onto_meta_module():
    module = torch.nn.Linear(3, 2, device="meta")
    weights = {"weight": torch.randn(2, 3), "bias": torch.randn(2)}
    load_strict(module, weights, "test layer")
    assert module.weight.device.type == "cpu"
    assert torch.equal(module.weight, weights["weight"])


def test_load_strict_lists_missing_unexpected_and_mismatched_keys():
    module = torch.nn.Linear(3, 2, device="meta")
    with pytest.raises(CheckpointError) as info:
        load_strict(module, {"weight": torch.randn(2, 4), "extra": torch.zeros(1)}, "test layer")
    message = str(info.value)
    assert "missing key(s): bias" in message
    assert "unexpected key(s): extra" in message
    assert "weight (checkpoint (2, 4), model (2, 3))" in message
