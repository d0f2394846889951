"""ComfyUI's attention launch flags, read inside each real host, decide the attention the loaders pass on.

sageattention and flash_attn are stand-in packages written to a temporary folder (ComfyUI refuses to start
with --use-sage-attention / --use-flash-attention when the package does not import)."""

import json
import os
import subprocess

import pytest

from comfy_server import REPO

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = [  # one host process each (flags are parsed at import); the other flags are unit-tested
    ((), "sdpa", "sdpa_attention"),
    (("--use-split-cross-attention",), "sdpa", "sdpa_attention"),
    (("--use-sage-attention",), "sage", "KernelAttention(sage)"),
    (("--use-flash-attention",), "flash", "KernelAttention(flash)"),
]


@pytest.fixture(scope="module")
def stub_packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("attention_stubs")
    for package, function in (("sageattention", "sageattn"), ("flash_attn", "flash_attn_func")):
        os.makedirs(root / package)
        (root / package / "__init__.py").write_text(f"def {function}(q, k, v, **kw):\n    raise RuntimeError('stub')\n")
    return str(root)


def test_host_attention_flags(comfy, stub_packages):
    comfy_dir, python = comfy
    env = dict(os.environ, PYTHONPATH=stub_packages, OMP_NUM_THREADS="1")
    for flags, kind, function in CASES:
        run = subprocess.run([python, os.path.join(HERE, "attention_flags.py"), comfy_dir, REPO, *flags],
                             capture_output=True, text=True, timeout=120, env=env)
        assert run.returncode == 0, run.stderr[-3000:]
        report = json.loads(run.stdout.strip().splitlines()[-1])
        assert (report["kind"], report["function"]) == (kind, function), (flags, report)
    assert report["source"] == "flash_attention_enabled"
