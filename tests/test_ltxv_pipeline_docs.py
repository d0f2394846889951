"""The ```python blocks of docs/ltxv_pipeline.md run as written."""

from pathlib import Path

import pytest

from test_docs_examples import python_blocks

DOC = Path(__file__).resolve().parents[1] / "docs" / "ltxv_pipeline.md"
BLOCKS = python_blocks(DOC.read_text(encoding="utf-8"))


def test_doc_has_an_example():
    assert len(BLOCKS) >= 1


@pytest.mark.parametrize("line,code", BLOCKS, ids=[str(line) for line, _ in BLOCKS])
def test_ltxv_pipeline_doc_example_runs(line, code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"docs/ltxv_pipeline.md:{line}", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert "torch.Size([3, 17, 96, 128])" in out and "torch.Size([1, 3, 17, 96, 128])" in out
