"""benchmarks/parallel.py runs on 2 gloo ranks: the bytes our collectives counted equal the written formula,
FSDP halves the weights, and the scaling model prints its 2/4/8-GPU rows; --vae shares the decode's tiles."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_parallel_benchmark_counts_match_the_formula():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.parallel", "--worlds", "2", "--tokens", "101",
                           "--layers", "2"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.strip("|").split("|") for line in proc.stdout.splitlines() if line.startswith("| sp") or
            line.startswith("| fsdp")]
    assert len(rows) == 6  # 3 modes x 2 ranks
    for mode, _, weights, _, sent, formula, gathered, _ in ([c.strip() for c in row] for row in rows):
        assert sent == formula and (float(sent) > 0) == ("sp" in mode), (mode, sent, formula)
        if "fsdp" in mode:
            assert abs(float(weights) - float(gathered)) <= 0.02, (mode, weights, gathered)
    assert proc.stdout.count("GB/s |") == 6


def test_parallel_vae_benchmark_shares_the_tiles():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.parallel", "--vae", "--worlds", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in proc.stdout.splitlines()
            if line.startswith("| parallel")]
    assert [r[1] for r in rows] == ["2 (rank 0)", "2 (rank 1)"]
    assert int(rows[0][2]) + int(rows[1][2]) == 75 and int(rows[0][2]) - int(rows[1][2]) == 1
    assert float(rows[1][3]) < float(rows[0][3]) and float(rows[1][4]) == 0 < float(rows[0][4])  # rank 0 blends
    assert float(rows[1][5]) > 0 == float(rows[0][5])  # the tiles travel to rank 0
