"""What the graded assignments (``assignments/``) need beyond nbgrader itself.

- ``no_shortcut(fn, part, *references)``: the student's function, wrapped so that a call
  into lthlib's own implementation of the part (the function the hidden tests compare with)
  fails the part with a message saying so. It watches calls with ``sys.setprofile`` while the
  student's function runs, so any route to the reference counts (an alias, ``functools.partial``,
  another lthlib function that calls it, a call whose error the student's code swallows).
- ``HideHiddenTests``: the nbgrader preprocessor of the course's ``generate_feedback`` step
  (``assignments/nbgrader_config.py``). nbgrader's own feedback shows every test cell as
  autograded, hidden tests included, and a failing test's traceback prints its lines. This
  preprocessor replaces the output of each failing test cell by the test's own message
  (``AssertionError: <what is wrong>``), drops any output line that quotes a hidden test, then
  removes the hidden tests from the source (nbgrader's ``ClearHiddenTests``).
- ``feedback_leaks(html, notebook)``: what of a source notebook's hidden tests shows in a
  feedback page (empty when nothing does); ``feedback_text``: the page's text.

Only ``no_shortcut`` runs in students' kernels; nbgrader (slow to import) is imported only
when the preprocessor is asked for.
"""
from __future__ import annotations

import functools
import html as html_lib
import importlib
import inspect
import re
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["ShortcutError", "no_shortcut", "HideHiddenTests", "hidden_regions", "hidden_lines",
           "feedback_text", "feedback_errors", "feedback_leaks", "plain_error", "squash", "mask_difference",
           "substituted"]


# ----------------------------------------------------------------------------- no shortcut
class ShortcutError(AssertionError):
    """A student's function called the library's implementation of what its part asks for.
    An AssertionError, so the test cell fails as any failed test does (the part scores 0)."""


def _functions_of(obj: Any) -> list[types.FunctionType]:
    """The Python functions behind ``obj``: a function (and what it wraps), every method of a
    class, every function and class defined in a module."""
    if isinstance(obj, str):
        obj = _resolve(obj)
    if isinstance(obj, types.ModuleType):
        return [f for v in vars(obj).values() if getattr(v, "__module__", None) == obj.__name__
                and (inspect.isfunction(v) or inspect.isclass(v)) for f in _functions_of(v)]
    if inspect.isclass(obj):
        out = []
        for v in vars(obj).values():
            v = getattr(v, "__func__", v)  # staticmethod, classmethod
            if isinstance(v, property):
                v = v.fget
            if inspect.isfunction(v):
                out += _functions_of(v)
        return out
    # A decorator's wrapper (functools.wraps) shares its code with every function it wraps
    # (torch.no_grad's, for one): only the innermost function is the reference's own code.
    while True:
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif inspect.ismethod(obj):
            obj = obj.__func__
        elif getattr(obj, "__wrapped__", None) is not None:
            obj = obj.__wrapped__
        else:
            break
    return [obj] if inspect.isfunction(obj) else []


def _watchable(ref: Any) -> list[types.FunctionType]:
    """``_functions_of(ref)``; a dotted name that no longer resolves (the library renamed
    it) gives none, so a student's kernel does not fail on it (``tests/test_assignments_grading.py``
    checks that every name the assignments watch resolves)."""
    try:
        return _functions_of(ref)
    except (ImportError, AttributeError):
        return []


def _resolve(dotted: str) -> Any:
    """``"lthlib.methods.pruning.magnitude_prune"`` -> the object (a module, class or function)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"no module in {dotted!r}")


def _name_of(fn: types.FunctionType) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def no_shortcut(fn: Callable, part: str, *references: Any) -> Callable:
    """``fn`` (a student's answer), wrapped: while it runs, a call of any of ``references``
    (functions, classes: their methods, modules: everything they define; or dotted names) is
    recorded, and when ``fn`` returns (or raises) the wrapper raises ``ShortcutError`` naming
    the part and the function called. Test cells rebind the student's name to the wrapper:
    ``layerwise_prune = no_shortcut(layerwise_prune, "Part A", "lthlib.methods.pruning.magnitude_prune")``.
    Wrapping a wrapper wraps the original (re-running a test cell does not stack them)."""
    fn = getattr(fn, "__lthlib_unguarded__", fn)
    functions = [f for ref in references for f in _watchable(ref)]
    watched = {id(f.__code__): _name_of(f) for f in functions}
    if references and not watched:
        raise ValueError(f"none of {references!r} names a Python function of lthlib to watch")
    keep = [f.__code__ for f in functions]  # keeps the ids valid

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        called: list[str] = []
        previous = sys.getprofile()

        def profiler(frame: types.FrameType, event: str, arg: Any) -> None:
            if event == "call":
                name = watched.get(id(frame.f_code))
                if name is not None and name not in called:
                    called.append(name)
            if previous is not None:
                previous(frame, event, arg)

        sys.setprofile(profiler)
        failed: BaseException | None = None
        try:
            result = fn(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 (re-raised below unless a shortcut explains it)
            failed = err
        finally:
            tampered = sys.getprofile() is not profiler
            sys.setprofile(previous)
        if tampered:
            raise ShortcutError(f"{part} scores 0: {fn.__name__} changed the interpreter's profiler "
                                "(sys.setprofile), which the grader uses to check that the answer is your own code")
        if called:
            raise ShortcutError(
                f"{part} scores 0: your {fn.__name__} calls {called[0]}, lthlib's own implementation "
                f"of what {part} asks you to write (the tests compare with it, so calling it shows nothing). "
                "Write it yourself; the functions the part's instructions name are allowed") from failed
        if failed is not None:
            raise failed
        return result

    guarded.__lthlib_unguarded__ = fn  # type: ignore[attr-defined]
    guarded.__lthlib_watched__ = keep  # type: ignore[attr-defined]
    return guarded


# ----------------------------------------------------------------------------- feedback
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
# A line of a hidden test at least this long (stripped) is looked for in feedback and output.
HIDDEN_LINE = 12
_SEED = re.compile(r"(manual_seed\(\s*\d+\s*\)|\bseed\s*=\s*\d+)")


def hidden_regions(source: str) -> list[str]:
    """The hidden-test regions of a cell's source (markers excluded)."""
    regions, current = [], None
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            current = []
        elif END_HIDDEN in line:
            if current is not None:
                regions.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return regions


def hidden_lines(source: str, shown: str = "", min_length: int = HIDDEN_LINE) -> list[str]:
    """Stripped lines of the hidden tests in ``source`` that are at least ``min_length``
    long and do not occur in ``shown`` (text students see anyway), not even inside a longer
    line (whitespace ignored)."""
    seen = squash(shown)
    return sorted({line.strip() for region in hidden_regions(source) for line in region.splitlines()
                   if len(line.strip()) >= min_length and squash(line) not in seen})


def plain_error(ename: str, evalue: str) -> list[str]:
    """What a failing test cell shows in feedback: the test's message, no traceback."""
    if ename in ("AssertionError", "ShortcutError"):
        return [f"{ename}: {evalue}" if evalue else f"{ename}: a test failed"]
    return [f"{ename}: {evalue}" if evalue else ename,
            "(raised by your code while the tests ran it; the tests' source is not shown in feedback)"]


def _scrub(text: str, secret: list[str]) -> str:
    lines = text.split("\n")
    return "\n".join("[a line of a hidden test, not shown]" if any(s in line for s in secret) else line
                     for line in lines)


def _hide_hidden_tests_class() -> type:
    from nbgrader import utils
    from nbgrader.preprocessors import ClearHiddenTests

    class HideHiddenTests(ClearHiddenTests):
        """nbgrader's ClearHiddenTests for feedback: in each test cell, first replace a failing
        test's traceback by its message and drop output lines that quote a hidden test, then
        remove the hidden tests from the source. Other cells are left as they are."""

        def preprocess_cell(self, cell, resources, cell_index):
            if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
                secret = hidden_lines(cell.source, min_length=HIDDEN_LINE)
                for out in cell.get("outputs", []):
                    if out.get("output_type") == "error":
                        out["evalue"] = _scrub(str(out.get("evalue", "")), secret)
                        out["traceback"] = plain_error(str(out.get("ename", "Error")), out["evalue"])
                    elif out.get("output_type") == "stream":
                        out["text"] = _scrub(str(out.get("text", "")), secret)
                    elif "data" in out:
                        for key, value in list(out["data"].items()):
                            if isinstance(value, str):
                                out["data"][key] = _scrub(value, secret)
            return super().preprocess_cell(cell, resources, cell_index)

    HideHiddenTests.__module__ = __name__
    HideHiddenTests.__qualname__ = "HideHiddenTests"
    return HideHiddenTests


def __getattr__(name: str) -> Any:  # PEP 562: the preprocessor is built (nbgrader imported) on first use
    if name == "HideHiddenTests":
        cls = _hide_hidden_tests_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def feedback_text(page: str) -> str:
    """The text of an HTML page (tags, scripts and styles removed, entities decoded,
    whitespace collapsed): what a student reads."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    page = re.sub(r"(?s)<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html_lib.unescape(page)).strip()


def squash(text: str) -> str:
    """``text`` without whitespace: how feedback is searched (the HTML of a code cell puts
    tags between tokens, which ``feedback_text`` turns into spaces)."""
    return re.sub(r"\s+", "", text)


_CELL = re.compile(r'<div class="cell\b')
_ANCHOR = re.compile(r'<a name="([^"]+)"></a>')
_ERROR = re.compile(r'(?s)<div class="[^"]*\boutput_error\b[^"]*">(.*?)</div>')


def feedback_errors(page: str) -> dict[str, list[str]]:
    """The error outputs of a feedback page (nbgrader's feedback template), as text, per cell:
    ``{grade id: [text, ...]}`` for graded cells, ``{"cell <n>": [...]}`` for the others."""
    out: dict[str, list[str]] = {}
    for i, chunk in enumerate(_CELL.split(page)[1:]):
        anchor = _ANCHOR.search(chunk)
        errors = [feedback_text(e) for e in _ERROR.findall(chunk)]
        if errors:
            out.setdefault(anchor.group(1) if anchor else f"cell {i}", []).extend(errors)
    return out


def feedback_leaks(page: str, notebook: Any, shown: Iterable[str] = ()) -> list[str]:
    """What of ``notebook``'s hidden tests (a source notebook: path or read) a feedback page
    shows: a hidden-test line (one not also a line of a cell students see, or of ``shown``),
    a seed set in a hidden test, the hidden-test markers, a traceback in a test cell's
    output (the test's message alone belongs there). Empty when none."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4) if not hasattr(notebook, "cells") else notebook
    visible = []
    for cell in nb.cells:
        src = cell.source
        for region in hidden_regions(src):
            src = src.replace(region, "")
        meta = cell.metadata.get("nbgrader", {}) or {}
        if not meta.get("solution"):
            visible.append(src)
    shown_text = "\n".join([*visible, *shown])
    text = feedback_text(page)
    squashed = squash(text)
    problems = []
    for marker in (BEGIN_HIDDEN, END_HIDDEN):
        if marker in text:
            problems.append(f"the marker '{marker}'")
    for cell in nb.cells:
        for line in hidden_lines(cell.source, shown_text):
            if squash(line) in squashed:
                problems.append(f"the hidden-test line {line!r}")
        for region in hidden_regions(cell.source):
            for seed in _SEED.findall(region):
                if seed not in shown_text and squash(seed) in squashed:
                    problems.append(f"the hidden seed {seed!r}")
    tests = {(c.metadata.get("nbgrader", {}) or {}).get("grade_id") for c in nb.cells
             if (c.metadata.get("nbgrader", {}) or {}).get("grade") and c.cell_type == "code"
             and not (c.metadata.get("nbgrader", {}) or {}).get("solution")}
    for cell, errors in feedback_errors(page).items():
        for error in errors:
            if cell in tests and (squash("Traceback (most recent call last)") in squash(error)
                                  or re.search(r"CellIn\[\d*\],line\d+", squash(error))):
                problems.append(f"a traceback in test cell {cell}")
    return sorted(set(problems))


# ----------------------------------------------------------------------------- messages
def mask_difference(mine: Any, want: Any, *, scores: Any = None, before: Any = None,
                    ranking: str = "|w|") -> str | None:
    """How a student's mask (``{name: bool tensor}``) differs from the right one, in one
    sentence a student can act on, or None when they are equal. ``scores``: what the masks
    rank (``{name: tensor}``), to tell a tie-order mistake from a ranking one; ``before``: the
    mask pruning started from, to tell a revived weight; ``ranking``: how the sentence names
    the score."""
    import torch

    if not hasattr(mine, "keys"):
        return f"return a Mask ({{name: bool tensor}}), not a {type(mine).__name__}"
    if list(mine.keys()) != list(want.keys()):
        return f"return a mask over the layers {list(want.keys())}, in that order; yours covers {list(mine.keys())}"
    for name in want.keys():
        m, w = mine[name], want[name]
        if not isinstance(m, torch.Tensor) or m.shape != w.shape:
            return f"layer {name!r}: the mask must be a bool tensor of shape {tuple(w.shape)}"
        m = m.bool()
        if before is not None and name in before.keys() and (m & ~before[name].bool()).any():
            return f"layer {name!r}: a pruned weight came back to life (pruning only ever removes survivors)"
        if int(m.sum()) != int(w.sum()):
            return f"layer {name!r}: you keep {int(m.sum())} weights, {int(w.sum())} should stay"
    for name in want.keys():
        m, w = mine[name].bool().flatten(), want[name].bool().flatten()
        if torch.equal(m, w):
            continue
        kept_wrongly = (m & ~w).nonzero().flatten()
        pruned_wrongly = (w & ~m).nonzero().flatten()
        if scores is None:
            return f"layer {name!r}: the right number of weights kept, but not the right ones"
        s = scores[name].detach().flatten().float()
        i, j = int(kept_wrongly[0]), int(pruned_wrongly[0])
        if torch.isclose(s[i], s[j]):
            return (f"layer {name!r}: the right number kept, but among weights of equal {ranking} you kept "
                    f"index {i} and pruned index {j}: among ties the lower (flattened) index is removed first")
        return (f"layer {name!r}: you keep index {i} ({ranking} = {float(s[i]):.4g}) and prune index {j} "
                f"({ranking} = {float(s[j]):.4g}): keep the weights of largest {ranking}")
    return None


class substituted:
    """``with substituted(globals(), top_k_mask=reference):`` runs a block with names of the
    student's namespace bound to other functions (lthlib's), and restores them after. Test
    cells use it to grade a part with the earlier parts it builds on replaced by correct
    ones, so that one mistake costs one part."""

    def __init__(self, namespace: dict, **replacements: Any):
        self.namespace, self.replacements = namespace, replacements
        self.saved: dict[str, Any] = {}

    def __enter__(self) -> "substituted":
        missing = object()
        self.saved = {k: self.namespace.get(k, missing) for k in self.replacements}
        self.namespace.update(self.replacements)
        self._missing = missing
        return self

    def __exit__(self, *exc: Any) -> None:
        for k, v in self.saved.items():
            if v is self._missing:
                self.namespace.pop(k, None)
            else:
                self.namespace[k] = v
