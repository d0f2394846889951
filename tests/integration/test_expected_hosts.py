"""The run fails when integration tests skip although a host was expected (LTX2_EXPECTED_HOSTS, set by
scripts/test.sh to the hosts it built), and passes their skips through when none was expected. Runs pytest on
one host test in a subprocess, with an unusable host, so it needs no ComfyUI."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "test_host_object_info.py") + "::test_pack_imports_without_errors"


def run_pytest(tmp_path, **env):
    environment = {k: v for k, v in os.environ.items() if k not in ("COMFYUI_PATH", "COMFYUI_PATHS",
                                                                     "LTX2_EXPECTED_HOSTS")}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", TARGET],
                          capture_output=True, text=True, env=environment, cwd=str(tmp_path), timeout=120)


def test_skips_fail_the_run_only_when_a_host_was_expected(tmp_path):
    missing = str(tmp_path / "ComfyUI")
    free = run_pytest(tmp_path, COMFYUI_PATHS=missing)
    assert free.returncode == 0, free.stdout[-2000:]
    assert "1 skipped" in free.stdout and "not a ComfyUI checkout" in free.stdout
    expected = run_pytest(tmp_path, COMFYUI_PATHS=missing, LTX2_EXPECTED_HOSTS="v0.3.64 v0.8.0")
    assert expected.returncode == 1, expected.stdout[-2000:]
    lines = [line for line in expected.stdout.splitlines() if line.startswith("FAIL (expected host)")]
    assert any("ComfyUI v0.8.0 was expected" in line for line in lines), expected.stdout[-2000:]
    assert any("test_pack_imports_without_errors[comfyui-unknown] skipped although a host was expected" in line
               for line in lines), expected.stdout[-2000:]
