"""lthlib's modules form no import circle, counting imports inside functions too (an import
moved into a function hides a circle from Python, not from a reader)."""
from __future__ import annotations

import ast
from pathlib import Path

import lthlib

PACKAGE = Path(lthlib.__file__).parent


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The lthlib modules ``path`` imports anywhere in it (top level or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "lthlib":
                found |= {a.name for a in node.names if a.name in modules}
            elif node.module.startswith("lthlib."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("lthlib.")}
    return found & modules


def import_graph() -> dict[str, set[str]]:
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {m: _imports(PACKAGE / f"{m}.py", modules) - {m} for m in modules}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_lthlib_has_no_import_circle():
    graph = import_graph()
    assert {"store", "config", "training", "run", "errors", "identity"} <= set(graph)
    assert circles(graph) == []


def test_the_base_imports_nothing_above_it():
    """The errors, identity and store modules (what every other module builds on) import
    none of settings, data, models or training."""
    graph = import_graph()
    assert graph["errors"] == set()
    assert graph["identity"] <= {"errors"}
    assert graph["store"] <= {"errors", "identity", "threads", "devices"}
