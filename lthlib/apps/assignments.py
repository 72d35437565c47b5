"""Graded assignments in nbgrader format: release the student versions, check the grading.

The assignments live in ``assignments/`` (see ``assignments/README.md``):

- ``source/<name>/<name>.ipynb``: the instructor's notebook, with nbgrader cell metadata,
  solutions between ``### BEGIN SOLUTION`` / ``### END SOLUTION`` and hidden tests between
  ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` (paired by jupytext with
  ``scripts/<name>/<name>.py``, outside ``source/`` so nbgrader never releases it);
- ``wrong/<name>.py`` (and ``wrong/<name>.<variant>.py``): a deliberately wrong solution,
  one solution cell's code, with a header naming the cell it replaces, the test cells that
  must then fail and what their feedback must say;
- ``nbgrader_config.py``: nbgrader's settings, read here too (its feedback step is
  ``lthlib.report.grading.HideHiddenTests``).

Everything is done by nbgrader itself (its Python API, ``NbGraderAPI``), in a temporary
course folder: ``release`` runs ``generate_assignment`` (ClearSolutions, ClearHiddenTests,
ClearOutput, LockCells, checksums...) and copies ``release/<name>`` out, then checks that
no solution or hidden-test text reached it; ``check`` also autogrades, as students,

- the source notebook itself: it must get every autograded point;
- the released stub: it must get no autograded point;
- each wrong solution: it must lose exactly the points of the cells its header names,

and generates each one's feedback (``generate_feedback``): no hidden test may show in it, and
a wrong solution's lost cells must show its messages. It reports a table (``CheckRow``);
any other outcome is a failure. Written answers (markdown cells with points) are graded by
hand and left out of these totals.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lthlib.apps.assignment_sources import (CONFIG_FILE, REPO_ROOT, SECRET_MARKERS, SOURCE_DIR, WRONG_DIR,
                                       AssignmentError, distinctive_lines, graded_cells, names, nbgrader_metadata,
                                       normalised_lines, patched, read_notebook, select, source_notebook,
                                       visible_part, wrong_solutions)

SOLUTION_STUDENT, STUB_STUDENT = "solution", "stub"

# ----------------------------------------------------------------------------- nbgrader
def nbgrader_config(root: str | Path, config_file: str | Path = CONFIG_FILE):
    """nbgrader's settings from ``assignments/nbgrader_config.py``, with ``root`` as the
    course folder."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    config_file = Path(config_file)
    if config_file.is_file():
        config.merge(PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config())
    config.CourseDirectory.root = str(root)
    config.NbGraderAPI.log_level = "ERROR"
    return config


class Course:
    """A temporary nbgrader course folder holding copies of some assignments' sources."""

    def __init__(self, assignments: list[str], source: str | Path = SOURCE_DIR,
                 config_file: str | Path = CONFIG_FILE, root: str | Path | None = None):
        self._tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="lthlib-course-")
        self.root = Path(root if root is not None else self._tmp.name)
        for name in assignments:
            shutil.copytree(Path(source) / name, self.root / "source" / name, dirs_exist_ok=True)
        from nbgrader.apps import NbGraderAPI

        one_alembic_head()
        with _quiet():
            self.api = NbGraderAPI(config=nbgrader_config(self.root, config_file))

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> "Course":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, what: str, fn: Callable[[], dict]) -> None:
        with _quiet():
            result = fn()
        if not result.get("success"):
            raise AssignmentError(f"nbgrader {what} failed:\n{result.get('error') or ''}\n{result.get('log') or ''}")

    def generate(self, name: str) -> Path:
        """``nbgrader generate_assignment``: the student version in ``release/<name>``."""
        self._call(f"generate_assignment {name}", lambda: self.api.generate_assignment(name, force=True))
        return self.root / "release" / name

    def submit(self, name: str, student: str, nb) -> None:
        """Put a notebook where ``nbgrader autograde`` looks for a student's submission."""
        import nbformat

        folder = self.root / "submitted" / student / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(folder / f"{name}.ipynb"))

    def autograde(self, name: str, student: str) -> dict[str, tuple[float, float, bool]]:
        """``nbgrader autograde``: ``{cell: (score, max score, autograded)}`` from the gradebook."""
        self._call(f"autograde {name} {student}", lambda: self.api.autograde(name, student, force=True, create=True))
        from nbgrader.api import Gradebook

        with _quiet(), Gradebook(self.api.coursedir.db_url) as gb:
            sub = gb.find_submission_notebook(name, name, student)
            return {g.name: (float(g.score or 0.0), float(g.max_score), g.auto_score is not None)
                    for g in sub.grades}

    def feedback(self, name: str, student: str) -> Path:
        """``nbgrader generate_feedback`` (with the course's preprocessors): the HTML page
        the student receives."""
        self._call(f"generate_feedback {name} {student}",
                   lambda: self.api.generate_feedback(name, student, force=True))
        return self.root / "feedback" / student / name / f"{name}.html"


def one_alembic_head() -> None:
    """Ask the ``alembic`` command for nbgrader's database revision once per process.

    nbgrader asks it each time it creates a gradebook (``nbgrader.api.Gradebook``: a new
    Python process that loads nbgrader's migrations, 3.2-4.0 s here), so every course folder
    paid it: ~15% of checking one assignment. The revision is fixed by the installed
    nbgrader, so the first answer serves every later gradebook of this process."""
    import nbgrader.api as api

    if not hasattr(api.get_alembic_version, "cache_info"):
        api.get_alembic_version = functools.cache(api.get_alembic_version)


class _quiet:
    """Silence nbgrader's SQLAlchemy 2.x autoflush warnings (harmless: the grades are stored)."""

    def __enter__(self):
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.filterwarnings("ignore", message=r".*not in session.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


# ----------------------------------------------------------------------------- release
def leaks(released: str | Path, assignments: Iterable[str] | None = None,
          source: str | Path = SOURCE_DIR) -> list[str]:
    """What in a release folder (``<released>/<name>/...``) students must not see: any file
    holding a solution/hidden-test marker or a distinctive line of a solution, hidden test
    or model answer; a missing notebook; a solution cell that is not a stub; a test cell
    whose visible tests are missing. Empty when the release is clean."""
    released = Path(released)
    problems = []
    for name in (list(assignments) if assignments is not None else names(source)):
        folder = released / name
        nb_path = folder / f"{name}.ipynb"
        if not nb_path.is_file():
            problems.append(f"{name}: no released notebook {nb_path}")
            continue
        secret_lines = distinctive_lines(name, source)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            try:
                text = path.read_text()
            except UnicodeDecodeError:
                continue
            for marker in SECRET_MARKERS:
                if marker in text:
                    problems.append(f"{name}: {path.relative_to(released)} contains '{marker}'")
            body = "\n".join(normalised_lines(_json_strings(text) if path.suffix == ".ipynb" else text))
            for line in secret_lines:
                if line in body:
                    problems.append(f"{name}: {path.relative_to(released)} contains the secret line {line!r}")
        problems += _release_structure(name, nb_path, source)
    return problems


def _json_strings(text: str) -> str:
    """The sources and outputs of every cell of a notebook file, unescaped (a raw .ipynb
    escapes quotes and newlines, so its lines cannot be compared as text)."""
    import nbformat

    nb = nbformat.reads(text, as_version=4)
    texts = []
    for cell in nb.cells:
        texts.append(cell.source)
        for output in cell.get("outputs", []):
            texts.append(str(output.get("text", "")))
            texts += [str(v) for v in output.get("data", {}).values()]
    return "\n".join(texts)


def _release_structure(name: str, released_nb: Path, source: str | Path) -> list[str]:
    src = read_notebook(source_notebook(name, source))
    rel = read_notebook(released_nb)
    rel_cells = {nbgrader_metadata(c).get("grade_id"): c for c in rel.cells if nbgrader_metadata(c).get("grade_id")}
    problems = []
    for cell in src.cells:
        meta = nbgrader_metadata(cell)
        gid = meta.get("grade_id")
        if not gid:
            continue
        if gid not in rel_cells:
            problems.append(f"{name}: cell {gid} is missing from the release")
            continue
        out = rel_cells[gid]
        if meta.get("solution") and cell.cell_type == "code" and "raise NotImplementedError" not in out.source:
            problems.append(f"{name}: solution cell {gid} was not replaced by a stub")
        if meta.get("grade") and cell.cell_type == "code" and not meta.get("solution"):
            want = normalised_lines(visible_part(cell.source))
            if normalised_lines(out.source) != want:
                problems.append(f"{name}: test cell {gid} does not hold exactly its visible tests")
            if not any(line.startswith("assert") for line in want):
                problems.append(f"{name}: test cell {gid} has no visible test (an assert students can run)")
    return problems


def release(out: str | Path, assignments: Iterable[str] | None = None, *, source: str | Path = SOURCE_DIR,
            config_file: str | Path = CONFIG_FILE) -> dict[str, Path]:
    """Write the student version of each assignment to ``<out>/<name>/`` with nbgrader's
    ``generate_assignment``; raise AssignmentError if anything secret reached it."""
    chosen = list(assignments) if assignments is not None else names(source)
    out = Path(out)
    written = {}
    with Course(chosen, source, config_file) as course:
        for name in chosen:
            target = out / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(course.generate(name), target)
            written[name] = target / f"{name}.ipynb"
    problems = leaks(out, chosen, source)
    if problems:
        raise AssignmentError("the release is not safe to hand out:\n  " + "\n  ".join(problems))
    return written


# ----------------------------------------------------------------------------- check
@dataclass
class CheckRow:
    """One autograded submission (or the release itself) and whether it was graded as it
    must be. ``scores``: ``{cell: (score, max score, autograded by nbgrader)}``; ``tests``:
    the assignment's test cells (its code parts), over which ``auto`` adds up."""

    assignment: str
    submission: str
    expected: str
    tests: tuple[str, ...] = ()
    scores: dict[str, tuple[float, float, bool]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def auto(self) -> tuple[float, float]:
        """(points scored, points available) over the test cells."""
        got = sum(self.scores[c][0] for c in self.tests if c in self.scores)
        total = sum(self.scores[c][1] for c in self.tests if c in self.scores)
        return got, total


def _judge(row: CheckRow, full: set[str], zero: set[str]) -> None:
    for cell in sorted(full | zero):
        if cell not in row.scores or not row.scores[cell][2]:
            row.problems.append(f"{cell}: not autograded")
            continue
        score, max_score, _ = row.scores[cell]
        if cell in zero and score != 0:
            row.problems.append(f"{cell}: {score:g}/{max_score:g}, expected 0")
        if cell in full and score != max_score:
            row.problems.append(f"{cell}: {score:g}/{max_score:g}, expected {max_score:g}")


def _judge_feedback(page: str, source_nb, submitted_nb, says: Iterable[str] = (),
                    lost: Iterable[str] = ()) -> list[str]:
    """What is wrong with a submission's feedback page: anything of the hidden tests in it
    (``lthlib.report.grading.feedback_leaks``), or a message (``# says:``) that no failing test cell
    of ``lost`` shows as its error."""
    from lthlib.report.grading import feedback_errors, feedback_leaks, squash

    own = [c.source for c in submitted_nb.cells if nbgrader_metadata(c).get("solution")]
    problems = [f"feedback shows {leak}" for leak in feedback_leaks(page, source_nb, shown=own)]
    errors = feedback_errors(page)
    said = [squash(e) for cell in lost for e in errors.get(cell, [])]
    problems += [f"feedback of {', '.join(sorted(lost))} does not say {message!r}" for message in says
                 if not any(squash(message) in e for e in said)]
    return problems


def check(assignments: Iterable[str] | None = None, *, source: str | Path = SOURCE_DIR,
          wrong_dir: str | Path = WRONG_DIR, config_file: str | Path = CONFIG_FILE,
          keep: str | Path | None = None, workers: int | None = None,
          log: Callable[[str], None] | None = print) -> list[CheckRow]:
    """Release and autograde every chosen assignment with nbgrader, each in its own
    temporary course folder: the source solution (full marks on every test cell), the
    released stub (no marks), each wrong solution (loses exactly the cells its header
    names, keeps the others); the release itself is checked by ``leaks``.

    ``workers``: assignments checked at once in separate processes (None: ``LTHLIB_WORKERS``,
    else one per core; each notebook's kernel computes on one thread). ``keep``: copy each
    assignment's course folder (submissions, autograded notebooks, gradebook) to
    ``<keep>/<name>/`` to look at afterwards."""
    from lthlib.core.warm_kernel import warm_kernels
    from lthlib.engine.parallel import default_workers, parallel_map

    chosen = list(assignments) if assignments is not None else names(source)
    for name in chosen:  # a bad header is an error before any work
        for wrong in wrong_solutions(name, wrong_dir):
            patched(read_notebook(source_notebook(name, source)), wrong)
    for var, value in (("LTHLIB_PROGRESS", "0"), ("LTHLIB_HEADLESS", "1")):  # the kernels inherit these
        os.environ.setdefault(var, value)
    workers = default_workers(len(chosen)) if workers is None else max(1, int(workers))
    jobs = [(name, str(source), str(wrong_dir), str(config_file), None if keep is None else str(Path(keep) / name))
            for name in chosen]
    with warm_kernels():  # each autograde's kernel forked with ipykernel and torch imported (Linux)
        if workers > 1 and len(jobs) > 1:
            if log is not None:
                log(f"checking {len(jobs)} assignments in {min(workers, len(jobs))} processes ...")
            parts = parallel_map(_check_job, jobs, workers)
        else:
            parts = [_check_one(*job, log=log) for job in jobs]
    return [row for part in parts for row in part]


def _check_job(job: tuple) -> list[CheckRow]:
    return _check_one(*job, log=print)


def _check_one(name: str, source: str, wrong_dir: str, config_file: str, keep: str | None,
               log: Callable[[str], None] | None = print) -> list[CheckRow]:
    log = log or (lambda _msg: None)
    src = read_notebook(source_notebook(name, source))
    tests = tuple(c.grade_id for c in graded_cells(src) if c.autograded)
    rows = []
    with Course([name], source, config_file) as course:
        try:
            started = time.perf_counter()
            release_dir = course.generate(name)
            rows.append(CheckRow(name, "release", "no solution or hidden test; visible tests kept", tests,
                                 problems=leaks(release_dir.parent, [name], source),
                                 seconds=time.perf_counter() - started))
            submissions = [(SOLUTION_STUDENT, src, "full marks", set(tests), set(), ()),
                           (STUB_STUDENT, read_notebook(release_dir / f"{name}.ipynb"), "no marks", set(), set(tests), ())]
            for wrong in wrong_solutions(name, wrong_dir):
                submissions.append((wrong.student, patched(src, wrong), f"loses {', '.join(wrong.loses)}",
                                    set(tests) - set(wrong.loses), set(wrong.loses), wrong.says))
            for student, nb, expected, full, zero, says in submissions:
                started = time.perf_counter()
                row = CheckRow(name, student, expected, tests)
                course.submit(name, student, nb)
                try:
                    row.scores = course.autograde(name, student)
                    page = course.feedback(name, student).read_text()
                except AssignmentError as err:
                    lines = [line for line in str(err).splitlines() if line.strip()]
                    row.problems.append(lines[0] + (f" ... {lines[-1].strip()}" if len(lines) > 1 else ""))
                else:
                    _judge(row, full, zero)
                    row.problems += _judge_feedback(page, src, nb, says, zero)
                row.seconds = time.perf_counter() - started
                rows.append(row)
                log(f"[{name}] {student}: {'as expected' if row.ok else 'NOT as expected'} "
                    f"({row.seconds:.1f} s)")
        finally:
            if keep is not None:
                shutil.copytree(course.root, Path(keep), dirs_exist_ok=True)
    return rows


def format_table(rows: list[CheckRow]) -> str:
    """The check's rows as a text table, with what went wrong under a failing row."""
    table = [("assignment", "submission", "tests' points", "expected", "result", "seconds")]
    for r in rows:
        got, total = r.auto()
        table.append((r.assignment, r.submission, f"{got:g}/{total:g}" if r.scores else "-", r.expected,
                      "ok" if r.ok else "FAILED", f"{r.seconds:.1f}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for j, row in enumerate(table):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
        elif not rows[j - 1].ok:
            lines += [f"    ! {p}" for p in rows[j - 1].problems]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- nbval
def nbval_command(assignments: Iterable[str] | None = None, source: str | Path = SOURCE_DIR) -> list[str]:
    """``pytest --nbval-lax`` over the source notebooks: each must run top to bottom
    without an error, so every solution passes its visible and hidden tests (no nbgrader
    involved; the outputs are not compared). Released notebooks are not run this way:
    their stubs raise NotImplementedError by design."""
    chosen = list(assignments) if assignments is not None else names(source)
    # -n 0: in this one process (the repository's pytest options spread tests over processes;
    # a notebook's cells must run in order in one kernel)
    return [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", "-n", "0",
            *[str(source_notebook(n, source)) for n in chosen]]


# ----------------------------------------------------------------------------- CLI
def add_parser(sub) -> None:
    """``python -m lthlib assignments release|check|nbval``."""
    p = sub.add_parser("assignments", help="graded assignments (nbgrader): release the student versions, "
                                           "check the autograding")
    tasks = p.add_subparsers(dest="task", required=True)
    p_rel = tasks.add_parser("release", help="write the student versions (no solutions, no hidden tests)")
    p_rel.add_argument("--out", required=True, help="folder to write <name>/<name>.ipynb into")
    p_chk = tasks.add_parser("check", help="autograde every source solution (full marks), released stub "
                                           "(no marks) and wrong solution (loses its part); exit non-zero otherwise")
    p_chk.add_argument("--keep", metavar="DIR", help="copy each assignment's nbgrader course folder "
                                                     "(autograded notebooks, gradebook) to DIR/<name>")
    p_chk.add_argument("--workers", type=int, metavar="N", help="assignments checked at once (default: "
                                                                "LTHLIB_WORKERS, else one per core)")
    p_chk.add_argument("--wrong", default=str(WRONG_DIR), metavar="DIR",
                       help="folder of the wrong solutions (default: assignments/wrong)")
    p_nbv = tasks.add_parser("nbval", help="run the source notebooks with pytest --nbval-lax (every solution "
                                           "passes its tests)")
    for q in (p_rel, p_chk, p_nbv):
        q.add_argument("--only", nargs="+", metavar="NAME", help="assignments whose name starts with these")
        q.add_argument("--source", default=str(SOURCE_DIR), metavar="DIR",
                       help="folder of the source assignments <name>/<name>.ipynb (default: assignments/source)")


def cli(args) -> int:
    from lthlib.core.store import folder_problem

    try:
        chosen = select(args.only, args.source)
        if args.task == "release":
            problem = folder_problem(args.out)
            if problem:
                print(f"error: --out {args.out}: {problem}", file=sys.stderr)
                return 2
            started = time.perf_counter()
            written = release(args.out, chosen, source=args.source)
            for name, path in written.items():
                print(f"{name}: {path}")
            print(f"released {len(written)} assignment(s) in {time.perf_counter() - started:.1f} s; "
                  "no solution or hidden-test text in them")
            return 0
        if args.task == "check":
            if args.keep:
                problem = folder_problem(args.keep)
                if problem:
                    print(f"error: --keep {args.keep}: {problem}", file=sys.stderr)
                    return 2
            started = time.perf_counter()
            rows = check(chosen, source=args.source, wrong_dir=args.wrong, keep=args.keep, workers=args.workers)
            print()
            print(format_table(rows))
            failed = [r for r in rows if not r.ok]
            print(f"\n{len(rows) - len(failed)}/{len(rows)} as expected in {time.perf_counter() - started:.1f} s")
            for r in failed:
                print(f"FAILED: {r.assignment} {r.submission}: {'; '.join(r.problems)}", file=sys.stderr)
            return 1 if failed else 0
        return subprocess.call(nbval_command(chosen, args.source), cwd=REPO_ROOT)
    except AssignmentError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
