"""The class workflow of assignments/README.md ("Grading a class"), run with nbgrader's own
commands on a temporary exchange: release -> fetch -> submit -> collect -> autograde ->
feedback (generate, release, fetch) -> export. One student submits a3 with one mistake."""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from lthlib.apps import assignment_sources as S
from lthlib.report import grading as G

NAME = "a3_linear_mode_connectivity"


def _nbgrader(*args: str, cwd: Path) -> str:
    """Run ``nbgrader <args>`` as an instructor or student would; its log (stderr) on success."""
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def test_release_fetch_submit_collect_autograde_feedback_export(tmp_path):
    course, student, exchange = tmp_path / "course", tmp_path / "student", tmp_path / "exchange"
    for folder in (course, student, exchange):
        folder.mkdir()
    shutil.copy(S.CONFIG_FILE, course / "nbgrader_config.py")
    shutil.copytree(S.SOURCE_DIR / NAME, course / "source" / NAME)
    root = f"--Exchange.root={exchange}"

    # instructor: generate and release; student: fetch, answer (one mistake), submit
    _nbgrader("generate_assignment", NAME, cwd=course)
    _nbgrader("release_assignment", NAME, root, cwd=course)
    _nbgrader("fetch_assignment", NAME, "--course=lthlib", root, cwd=student)
    fetched = student / NAME / f"{NAME}.ipynb"
    nb = nbformat.read(fetched, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(
        S.source_notebook(NAME), as_version=4).cells if c.metadata.get("nbgrader", {}).get("solution")}
    (mistake,) = [w for w in S.wrong_solutions(NAME) if w.variant == "reversed_alpha"]
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = mistake.code if gid == mistake.cell else answers[gid]
    nbformat.write(nb, fetched)
    _nbgrader("submit", NAME, "--course=lthlib", root, cwd=student)

    # instructor: collect, autograde, feedback, export
    _nbgrader("collect", NAME, root, cwd=course)
    (student_id,) = [p.name for p in (course / "submitted").iterdir()]
    started = time.perf_counter()
    log = _nbgrader("autograde", NAME, cwd=course)
    seconds = time.perf_counter() - started
    # nbgrader warns that each test cell with hidden tests "changed": the release lacks the
    # hidden tests, so its checksum differs from the source's; autograde restores the source
    changed = {line.split("for cell ")[1].split(" ")[0] for line in log.splitlines()
               if "Attribute 'checksum'" in line}
    hidden = {c.grade_id for c in S.graded_cells(S.source_notebook(NAME)) if c.autograded}
    assert changed == hidden, (changed, hidden)
    _nbgrader("generate_feedback", NAME, cwd=course)
    _nbgrader("release_feedback", NAME, root, cwd=course)
    _nbgrader("fetch_feedback", NAME, "--course=lthlib", root, cwd=student)
    _nbgrader("export", cwd=course)

    (page_path,) = (student / NAME / "feedback").rglob(f"{NAME}.html")
    page = page_path.read_text()
    assert G.feedback_leaks(page, S.source_notebook(NAME), shown=[mistake.code, *answers.values()]) == []
    errors = G.feedback_errors(page)
    assert list(errors) == ["test_interpolate"] and "alpha is reversed" in errors["test_interpolate"][0], errors
    with open(course / "grades.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["assignment"], row["student_id"]) == (NAME, student_id)
    assert float(row["score"]) == 8.0 and float(row["max_score"]) == 12.0, row  # 10 autograded (lost A's 2) + 2 by hand
    assert seconds < 300, f"autograding one submission took {seconds:.0f} s"
