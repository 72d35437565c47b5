"""lthlib's modules form no import circle, counting imports inside functions too (an import
moved into a function hides a circle from Python, not from a reader)."""
from __future__ import annotations

import ast
from pathlib import Path

import lthlib

PACKAGE = Path(lthlib.__file__).parent


def _module_name(path: Path) -> str:
    """``core.store`` for lthlib/core/store.py, ``apps.reproduce`` for lthlib/apps/reproduce/__init__.py,
    ``apps.reproduce.cli`` for lthlib/apps/reproduce/cli.py."""
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
    assert {"core.store", "settings", "engine.training", "engine.run", "core.errors", "core.identity", "apps.reproduce", "apps.reproduce.cli"} <= set(graph)
    assert circles(graph) == []


def test_the_base_imports_nothing_above_it():
    """The errors, identity and store modules (what every other module builds on) import
    none of settings, data, models or training."""
    graph = import_graph()
    assert graph["core.errors"] == set()
    assert graph["core.identity"] <= {"core.errors"}
    assert graph["core.store"] <= {"core.errors", "core.identity", "core.threads", "core.devices"}


def test_no_module_of_a_package_imports_its_own_package():
    """A package's ``__init__`` lists its public names; its modules import each other, never
    the ``__init__`` (which imports them: a circle)."""
    graph = import_graph()
    for module, imported in graph.items():
        if "." in module:
            assert module.split(".")[0] not in imported, module


def test_no_module_imports_a_package_it_is_in():
    """Nested packages too: ``apps.reproduce.cli`` imports neither ``apps.reproduce`` nor ``apps``."""
    for module, imported in import_graph().items():
        parts = module.split(".")
        ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
        assert not (ancestors & imported), (module, ancestors & imported)


def test_the_core_imports_nothing_above_it():
    for module, imported in import_graph().items():
        if module.split(".")[0] == "core":
            assert {m for m in imported if m.split(".")[0] != "core"} == set(), module


PACKAGES = {"__main__", "settings", "masks", "core", "data", "models", "engine", "methods", "experiments",
            "report", "apps"}


def test_every_module_lives_in_its_package():
    """A new module joins one of the packages (README, "The library"), not the top level."""
    top = {m.split(".")[0] for m in import_graph()}
    assert top <= PACKAGES, top - PACKAGES


MAX_LINES = 620  # "about 600": a module past this has more than one job; split it by job


def test_no_module_is_longer_than_about_600_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _private_imports(path: Path) -> set[str]:
    """``from lthlib.x import _name``: a private name taken across modules."""
    return {f"{node.module}.{a.name}" for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lthlib")
            for a in node.names if a.name.startswith("_") and not a.name.endswith("__")}


def test_the_line_count_and_private_import_checks_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from lthlib.experiments.imp import _plan_round\n" + "x = 1\n" * (MAX_LINES + 1))
    assert _private_imports(bad) == {"lthlib.experiments.imp._plan_round"}
    assert len(bad.read_text().splitlines()) > MAX_LINES


def test_no_module_imports_a_private_name_of_another():
    found = {str(p.relative_to(PACKAGE)): _private_imports(p) for p in PACKAGE.rglob("*.py")}
    assert {k: v for k, v in found.items() if v} == {}
