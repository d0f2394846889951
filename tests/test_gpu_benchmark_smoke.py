"""`python -m benchmarks.gpu --smoke`: the GPU benchmark's own code at toy size on the CPU, as CI runs it."""

import json
import os
import subprocess
import sys

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_gpu_benchmark_smoke_runs_every_row(tmp_path):
    out = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--smoke", "--json", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["smoke"] is True and report["device"] == "CPU"
    rows = {row["row"]: row for row in report["rows"]}
    measured = ["transformer bf16, sdpa", "ltx-core 1.0.0 LTXModel bf16", "transformer fp8 (QuantOps), sdpa",
                "transformer Q8_0 (QuantOps), sdpa", "transformer Q4_K (QuantOps), sdpa",
                "video VAE tiled decode 96x64x17", "Gemma 3 text tower, 5 tokens, padded (16)",
                "Gemma 3 text tower, 5 tokens, real tokens only (5)"]
    for name in measured:
        assert rows[name]["seconds"] > 0, rows[name]
        assert name in proc.stdout
    # Every Linear of the 2 blocks is packed (2 x 34 = 68), in each quantized format alike.
    assert [rows[f"transformer {fmt} (QuantOps), sdpa"]["packed"] for fmt in ("fp8", "Q8_0", "Q4_K")] == [68] * 3
    compiled = rows["transformer bf16, sdpa, compiled blocks"]
    assert compiled.get("seconds", 0) > 0 or compiled["note"].startswith("skipped: this build has no compile option")
    assert not any("FAILED" in row.get("note", "") for row in report["rows"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the full benchmark would run")
def test_gpu_benchmark_without_a_gpu_says_so():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--device", "cuda"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "benchmarks.gpu needs a CUDA GPU; use --smoke" in proc.stderr
