"""The graded assignments' files, read: the instructor's source notebooks (their graded
cells, points, and the solution and hidden-test text students must never see) and the
deliberately wrong solutions (``wrong/<name>.py``), patched into a source notebook.
``lthlib.apps.assignments`` releases and checks them with nbgrader.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS_DIR = REPO_ROOT / "assignments"
SOURCE_DIR = ASSIGNMENTS_DIR / "source"
WRONG_DIR = ASSIGNMENTS_DIR / "wrong"
CONFIG_FILE = ASSIGNMENTS_DIR / "nbgrader_config.py"
# Text that marks what students must never see.
SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# A line of a solution or hidden test this long that appears nowhere in what students are
# given (not even inside a longer line) is "distinctive": finding it in a released file
# means the secret leaked.
DISTINCTIVE_LINE = 16


class AssignmentError(RuntimeError):
    """An assignment, a wrong solution or nbgrader itself is not as expected."""


# ----------------------------------------------------------------------------- sources
def names(source: str | Path = SOURCE_DIR) -> list[str]:
    """The assignments: folders ``source/<name>`` holding ``<name>.ipynb``, in order."""
    source = Path(source)
    if not source.is_dir():
        raise AssignmentError(f"no assignments folder {source}")
    return sorted(p.name for p in source.iterdir() if (p / f"{p.name}.ipynb").is_file())


def select(only: Iterable[str] | None, source: str | Path = SOURCE_DIR) -> list[str]:
    """The assignments whose name starts with one of ``only`` (``a1``, ``a3_lin``...); all
    when ``only`` is empty. An unmatched prefix is an error naming the assignments."""
    available = names(source)
    if not only:
        return available
    only = list(only)
    unmatched = [o for o in only if not any(n.startswith(o) for n in available)]
    if unmatched:
        raise AssignmentError(f"{' '.join(unmatched)} matches no assignment; assignments: {', '.join(available)}")
    return [n for n in available if any(n.startswith(o) for o in only)]


def source_notebook(name: str, source: str | Path = SOURCE_DIR) -> Path:
    return Path(source) / name / f"{name}.ipynb"


def read_notebook(path: Path):
    """The notebook at ``path`` (nbformat 4)."""
    import nbformat

    return nbformat.read(str(path), as_version=4)


def nbgrader_metadata(cell) -> dict:
    """A cell's nbgrader metadata ({} when it has none)."""
    return cell.metadata.get("nbgrader", {}) or {}


@dataclass(frozen=True)
class GradedCell:
    """A cell that carries points: autograded tests (code) or a written answer (markdown,
    graded by hand)."""

    grade_id: str
    points: float
    autograded: bool


def graded_cells(notebook) -> list[GradedCell]:
    """The cells with points of a notebook (a path or a read notebook), in order."""
    nb = read_notebook(Path(notebook)) if isinstance(notebook, (str, Path)) else notebook
    return [GradedCell(nbgrader_metadata(c)["grade_id"], float(nbgrader_metadata(c).get("points", 0)),
                       c.cell_type == "code" and not nbgrader_metadata(c).get("solution", False))
            for c in nb.cells if nbgrader_metadata(c).get("grade")]


def point_table(name: str, source: str | Path = SOURCE_DIR) -> list[tuple[str, float, str]]:
    """``(cell, points, "auto" | "manual")`` of an assignment, for its README table."""
    return [(c.grade_id, c.points, "auto" if c.autograded else "manual")
            for c in graded_cells(source_notebook(name, source))]


_HIDDEN = re.compile(r"^[ \t]*###? BEGIN HIDDEN TESTS.*?^[ \t]*###? END HIDDEN TESTS[^\n]*\n?", re.M | re.S)
_SOLUTION = re.compile(r"^[ \t]*###? BEGIN SOLUTION.*?^[ \t]*###? END SOLUTION[^\n]*\n?", re.M | re.S)


def visible_part(cell_source: str) -> str:
    """A test cell's source without its hidden tests: what students see."""
    return _HIDDEN.sub("", cell_source)


def secrets(nb) -> tuple[list[str], str]:
    """(texts students must not see, the text they do see) of a source notebook."""
    secret, visible = [], []
    for cell in nb.cells:
        meta = nbgrader_metadata(cell)
        src = cell.source
        if meta.get("solution") and cell.cell_type == "markdown":
            secret.append(src)  # a written answer's model answer: replaced as a whole
            continue
        hidden = _HIDDEN.findall(src) + (_SOLUTION.findall(src) if meta.get("solution") else [])
        secret += hidden
        for h in hidden:
            src = src.replace(h, "")
        visible.append(src)
    return secret, "\n".join(visible)


def normalised_lines(text: str) -> list[str]:
    """The non-empty lines of ``text``, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def distinctive_lines(name: str, source: str | Path = SOURCE_DIR) -> list[str]:
    """Lines of the solutions, hidden tests and model answers of assignment ``name`` that
    occur nowhere in what students are given: finding one in a release is a leak."""
    secret, visible = secrets(read_notebook(source_notebook(name, source)))
    seen = "\n".join(normalised_lines(visible))
    lines = {line for text in secret for line in normalised_lines(text)
             if len(line) >= DISTINCTIVE_LINE and line not in seen and not any(m in line for m in SECRET_MARKERS)}
    return sorted(lines)


# ----------------------------------------------------------------------------- wrong solutions
@dataclass(frozen=True)
class WrongSolution:
    """A deliberately wrong solution: ``code`` replaces solution cell ``cell``; the test
    cells ``loses`` must then fail (and every other autograded cell still pass)."""

    assignment: str
    variant: str
    path: Path
    cell: str
    loses: tuple[str, ...]
    why: str
    code: str
    says: tuple[str, ...] = ()

    @property
    def student(self) -> str:
        return f"wrong_{self.variant}"


def parse_wrong(path: str | Path, assignment: str) -> WrongSolution:
    """Read ``wrong/<assignment>[.<variant>].py``: a header of comment lines ``# why: ...``,
    ``# cell: <solution cell id>``, ``# loses: <test cell id>[, <test cell id>...]``, any
    number of ``# says: <text>`` (text the feedback of the submission must show: the message
    that tells the student what is wrong), then the code of the cell (the header stays in the
    cell: it is only comments). It is autograded as student ``wrong_<variant>``
    (``<name>.py``: ``wrong_<cell>``)."""
    path = Path(path)
    code = path.read_text()
    header: dict[str, str] = {}
    says: list[str] = []
    for line in code.splitlines():
        m = re.match(r"^#\s*(why|cell|loses|says)\s*:\s*(.*)$", line)
        if m and m.group(1) == "says":
            says.append(m.group(2).strip())
        elif m:
            header[m.group(1)] = m.group(2).strip()
        elif line.strip() and not line.startswith("#"):
            break
    missing = [k for k in ("cell", "loses") if not header.get(k)]
    if missing:
        raise AssignmentError(f"{path}: the header must name {' and '.join(missing)} "
                              "('# cell: <solution cell id>', '# loses: <test cell id>, ...')")
    variant = path.stem[len(assignment) + 1:] if path.stem != assignment else header["cell"]
    loses = tuple(x.strip() for x in header["loses"].split(",") if x.strip())
    return WrongSolution(assignment, re.sub(r"\W", "_", variant), path, header["cell"], loses,
                         header.get("why", ""), code, tuple(says))


def wrong_solutions(name: str, wrong_dir: str | Path = WRONG_DIR) -> list[WrongSolution]:
    """The wrong solutions of assignment ``name``: ``<name>.py`` and ``<name>.<variant>.py``."""
    wrong_dir = Path(wrong_dir)
    paths = sorted({*wrong_dir.glob(f"{name}.py"), *wrong_dir.glob(f"{name}.*.py")}, key=lambda p: (p.stem != name, p.name))
    return [parse_wrong(p, name) for p in paths]


def patched(nb, wrong: WrongSolution):
    """A copy of the source notebook with the wrong solution in its cell."""
    import copy

    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if nbgrader_metadata(c).get("grade_id") == wrong.cell]
    if not cells or not nbgrader_metadata(cells[0]).get("solution") or cells[0].cell_type != "code":
        solution_ids = [nbgrader_metadata(c)["grade_id"] for c in nb.cells
                        if nbgrader_metadata(c).get("solution") and c.cell_type == "code"]
        raise AssignmentError(f"{wrong.path}: '# cell: {wrong.cell}' is not a code solution cell of "
                              f"{wrong.assignment}; its solution cells are {solution_ids}")
    tests = {c.grade_id for c in graded_cells(nb) if c.autograded}
    unknown = [x for x in wrong.loses if x not in tests]
    if unknown:
        raise AssignmentError(f"{wrong.path}: '# loses: {', '.join(unknown)}' names no test cell of "
                              f"{wrong.assignment}; its test cells are {sorted(tests)}")
    cells[0].source = wrong.code
    return nb
