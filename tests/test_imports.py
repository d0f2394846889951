"""Every ltx2_core module imports on its own in a fresh interpreter, and ltx2_core has no import cycle.

The import graph counts every import statement (function-local ones too: a deferred import that closes a
circle is still a circle). `from pkg import name` depends on `pkg.name` when that is a module, else on `pkg`.
"""

import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ltx2_core"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> Dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(module: str, is_package: bool, node: ast.AST, modules: Dict[str, Path]) -> List[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module
    else:
        base = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        base = f"{base}.{node.module}" if node.module else base
    submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
    return submodules + ([base] if len(submodules) < len(node.names) else [])


def import_graph(modules: Dict[str, Path]) -> Dict[str, Set[str]]:
    """module -> the ltx2_core modules it imports (anywhere in its body)."""
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps.update(t for t in _targets(name, path.name == "__init__.py", node, modules) if t in modules)
        deps.discard(name)
        graph[name] = deps
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import cycle as [a, b, ..., a], or [] when the graph is acyclic (iterative depth-first search)."""
    state: Dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(graph):
        if start in state:
            continue
        path, iters = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(sorted(graph[nxt])))
    return []


def test_find_cycle_finds_a_cycle_and_accepts_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_graph_resolves_relative_and_submodule_imports():
    graph = import_graph(_modules())
    assert {"ltx2_core.audio.hifigan", "ltx2_core.audio.bwe"} <= graph["ltx2_core.audio.vocoder"]
    assert "ltx2_core.gguf.dequant" in graph["ltx2_core.gguf.tensor"]  # `from . import dequant`
    assert "ltx2_core.gguf" not in graph["ltx2_core.gguf.tensor"]
    assert "ltx2_core.errors" in graph["ltx2_core.audio.mel"]  # `from ..errors import ...`


def test_ltx2_core_has_no_import_cycle():
    modules = _modules()
    assert len(modules) > 50
    cycle = find_cycle(import_graph(modules))
    assert not cycle, "import cycle: " + " -> ".join(cycle)


# Runs in a fresh interpreter: third-party packages are loaded once, then each ltx2_core module is imported
# in a forked child that has no ltx2_core module loaded yet.
_ISOLATED_IMPORTS = r"""
import importlib, os, sys, traceback
import numpy, safetensors, torch
assert not [m for m in sys.modules if m.split(".")[0] == "ltx2_core"]
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1] != 0:
        failed.append(name)
print("FAILED:" + ",".join(failed))
"""


def test_every_module_imports_alone_in_a_fresh_interpreter():
    names = sorted(_modules())
    if sys.platform == "win32":  # no fork: one interpreter per module
        failed = [n for n in names if subprocess.run([sys.executable, "-c", f"import {n}"], cwd=ROOT).returncode]
        assert not failed, failed
        return
    result = subprocess.run([sys.executable, "-c", _ISOLATED_IMPORTS, *names], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    failed = result.stdout.strip().rpartition("FAILED:")[2]
    assert failed == "", f"modules failing to import alone: {failed}\n{result.stderr[-3000:]}"
