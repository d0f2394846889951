"""The ```python blocks of docs/t5.md run as written."""

from pathlib import Path

import pytest

from test_docs_examples import python_blocks

DOC = Path(__file__).resolve().parents[1] / "docs" / "t5.md"
BLOCKS = python_blocks(DOC.read_text(encoding="utf-8"))


def test_doc_has_an_example():
    assert len(BLOCKS) >= 1


@pytest.mark.parametrize("line,code", BLOCKS, ids=[str(line) for line, _ in BLOCKS])
def test_t5_doc_example_runs(line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"docs/t5.md:{line}", "exec"), {"__name__": "__main__"})
