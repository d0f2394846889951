"""`python -m benchmarks.peers --smoke` keeps running: every present peer prints its rows, absent ones say why."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_peers_smoke_prints_every_section():
    done = subprocess.run([sys.executable, "-m", "benchmarks.peers", "--smoke", "--only", "native,gguf,ltx-core,dequant"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for section in ("# ComfyUI native", "# GGUF forward vs bf16", "# GGUF dequant to bf16", "# transformer forward vs"):
        assert section in out, out
    native = out.split("# ComfyUI native")[1].split("# GGUF forward")[0]
    if "skipped:" in native:
        assert "setup_comfyui.sh" in native, native  # the reason names the fix
    else:
        assert native.count("x ") >= 4 and "failed" not in native, native
    assert out.count("overhead") == 3, out  # header + Q8_0 + Q4_0
    assert "skipped: ComfyUI-GGUF is not installed here" in out  # no --comfyui-gguf given
    assert " x " in out.split("# transformer forward vs")[1], out
