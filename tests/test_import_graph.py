"""lthlib's modules form no import circle, counting imports inside functions too (an import
moved into a function hides a circle from Python, not from a reader)."""
from __future__ import annotations

import ast
from pathlib import Path

import lthlib

PACKAGE = Path(lthlib.__file__).parent


def _module_name(path: Path) -> str:
    """``store`` for lthlib/store.py, ``reproduce`` for lthlib/reproduce/__init__.py,
    ``reproduce.cli`` for lthlib/reproduce/cli.py."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The lthlib modules ``path`` imports anywhere in it (top level or inside a function);
    ``from lthlib.pkg import name`` counts as importing ``pkg.name`` where that is a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "lthlib":
            base = node.module[len("lthlib."):] if node.module != "lthlib" else ""
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                found.add(sub if sub in modules else base)
        elif isinstance(node, ast.Import):
            found |= {a.name[len("lthlib."):] for a in node.names if a.name.startswith("lthlib.")}
    return found & modules


def import_graph() -> dict[str, set[str]]:
    """Every module of lthlib (packages by their ``__init__``) -> the lthlib modules it imports."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py") if _module_name(p)}
    modules = set(paths)
    return {m: _imports(p, modules) - {m} for m, p in paths.items()}


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
    assert {"store", "config", "training", "run", "errors", "identity", "reproduce", "reproduce.cli"} <= set(graph)
    assert circles(graph) == []


def test_the_base_imports_nothing_above_it():
    """The errors, identity and store modules (what every other module builds on) import
    none of settings, data, models or training."""
    graph = import_graph()
    assert graph["errors"] == set()
    assert graph["identity"] <= {"errors"}
    assert graph["store"] <= {"errors", "identity", "threads", "devices"}


def test_no_module_of_a_package_imports_its_own_package():
    """A package's ``__init__`` lists its public names; its modules import each other, never
    the ``__init__`` (which imports them: a circle)."""
    graph = import_graph()
    for module, imported in graph.items():
        if "." in module:
            assert module.split(".")[0] not in imported, module
