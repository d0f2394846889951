"""`python -m benchmarks.diffusion_decoder --smoke`: the benchmark's own code on a tiny config, as CI runs it."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_smoke(tmp_path):
    out = tmp_path / "dd.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.diffusion_decoder", "--smoke", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"ours untiled", "ours tiled (streamed)", "diffusers untiled", "diffusers tiled",
                                    "conv untiled", "conv tiled (streamed)"}
    assert all(r["seconds"] > 0 for r in data["results"].values())
    assert data["max_diff_vs_diffusers"] < 1e-5
    assert "ours untiled" in proc.stdout
