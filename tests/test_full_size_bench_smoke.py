"""`python -m benchmarks.full_size --tiny`: the full-size benchmark's code on toy configs, and the converter's
streaming GGUF writer it relies on."""

import glob
import json
import os
import subprocess
import sys

import gguf
import numpy as np
import torch

from benchmarks.full_size import write_files
from ltx2_core.atomic import temp_prefix
from ltx2_core.convert import write_gguf
from ltx2_core.gguf.quantize import quantize
from ltx2_core.gguf.reader import GGUFFile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_write_gguf_streams_one_tensor_at_a_time(tmp_path):
    dst = str(tmp_path / "streamed.gguf")
    rows, cols, count = 256, 1024, 4  # Q4_0: 256 * 1024 / 32 * 18 = 147456 bytes per tensor
    tensor_bytes = rows * cols // 32 * 18
    plan = [(f"k{i}", f"blk.{i}.w", "Q4_0", (rows, cols)) for i in range(count)] + [("n", "norm", "F32", (cols,))]
    made, on_disk = {}, []

    def tensor_of(key, name, kind, shape):
        temps = glob.glob(os.path.join(str(tmp_path), temp_prefix(dst) + "*"))
        on_disk.append(os.path.getsize(temps[0]))
        made[name] = torch.randn(shape, generator=torch.Generator().manual_seed(len(made))) * 0.02
        return made[name]

    writer = gguf.GGUFWriter(path=None, arch="ltxv")
    counts = write_gguf(dst, writer, plan, tensor_of)
    assert counts == {"Q4_0": count, "F32": 1}
    # When tensor i is asked for, the i tensors before it are already in the file (give or take a write buffer).
    for i in range(1, count + 1):
        assert on_disk[i] - on_disk[0] >= i * tensor_bytes - 65536, (i, on_disk)
    file = GGUFFile(dst)
    for i in range(count):
        stored = file.tensor(f"blk.{i}.w")
        assert stored.qtype == "Q4_0" and tuple(stored.shape) == (rows, cols)
        packed = quantize(made[f"blk.{i}.w"], "Q4_0").numpy()
        assert np.array_equal(stored.data_packed.numpy().reshape(packed.shape), packed)
    assert torch.equal(file.tensor("norm"), made["norm"])
    assert not glob.glob(os.path.join(str(tmp_path), temp_prefix(dst) + "*"))


def test_full_size_benchmark_tiny_runs_every_phase(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.full_size", "--tiny", "--cache", str(tmp_path / "cache"),
                           "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    assert set(results) == {"write", "load", "step", "encode", "pipeline", "lowvram"}
    assert not [name for name, row in results.items() if "error" in row]
    assert results["write"]["transformer_file_bytes"] > 0 and results["write"]["gemma_file_bytes"] > 0
    load = results["load"]
    # The packed weights are the file's tensor bytes (the model holds views of the mapped file, no copies).
    assert 0.95 <= load["weight_gib"] / load["file_tensor_gib"] <= 1.0
    step = results["step"]
    assert step["step_s"] > 0 and step["dequant_s"] > 0 and step["matmul_s"] > 0 and step["attention_s"] > 0
    assert results["encode"]["tokens"] == 5 and results["encode"]["encode_s"] > 0
    pipeline = results["pipeline"]
    assert [s["stage"] for s in pipeline["stages"]] == ["encoded", "Gemma freed", "denoised", "transformer freed",
                                                        "decoded"]
    assert pipeline["video_shape"] == [1, 3, 9, 64, 64]
    assert pipeline["peak_rss_gib"] >= 0.99 * max(s["VmRSS"] for s in pipeline["stages"])  # lazy kernel counters
    assert results["lowvram"]["step_s"] > 0 and results["lowvram"]["peak_rss_gib"] > 0
    # A second run finds the cached files and writes nothing.
    lines = []
    again = write_files(str(tmp_path / "cache"), True, 0, log=lines.append)
    assert len(lines) == 2 and all(": cached " in line for line in lines), lines
    assert "transformer_write_s" not in again and again["gemma_file_bytes"] == results["write"]["gemma_file_bytes"]

def test_full_size_benchmark_unknown_phase_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.full_size", "--tiny", "--only", "warp"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown phase(s) warp: choose from write, load, step, encode, pipeline, lowvram."
