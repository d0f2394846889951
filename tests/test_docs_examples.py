"""Every ```python block of docs/api*.md runs as written (each in a fresh namespace, in a scratch folder)."""

import re
import time
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def python_blocks(text: str):
    """[(line number of the fence, code)] of the ```python blocks of a markdown text."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


DOCS = sorted(DOC.parent.glob("api*.md"))
BLOCKS = [(f"{doc.name}:{line}", code) for doc in DOCS for line, code in python_blocks(doc.read_text(encoding="utf-8"))]


def test_blocks_are_found():
    assert python_blocks("x\n```python\na = 1\n```\n```\nnot python\n```\n```python\nb = 2\n```\n") == [
        (2, "a = 1\n"), (8, "b = 2\n")]
    assert len(BLOCKS) >= 12


@pytest.mark.parametrize("where,code", BLOCKS, ids=[where for where, _ in BLOCKS])
def test_example_runs(where, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    exec(compile(code, f"docs/{where}", "exec"), {"__name__": "__main__"})
    assert time.perf_counter() - start < 10, "examples must stay short"


PACKAGES = ("ltx2_core.transformer", "ltx2_core.video_vae", "ltx2_core.audio", "ltx2_core.text", "ltx2_core.upsampler",
            "ltx2_core.gguf", "ltx2_core.pipeline")


def test_every_exported_name_is_documented():
    """Each name in the public packages' __all__ appears in docs/api.md (or another docs/api*.md)."""
    import importlib

    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    missing = [f"{name}.{item}" for name in PACKAGES for item in importlib.import_module(name).__all__
               if item not in words]
    assert not missing, f"undocumented public names: {missing}"
