"""The graded assignments (assignments/, lthlib.apps.assignments): releases hold no solution or
hidden test and keep the visible tests; nbgrader's autograde gives every source solution
full marks, every released stub none, and every wrong solution loses its part."""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import nbformat
from conftest import write_toy_assignment
import pytest

from lthlib.apps import assignment_sources as S
from lthlib.apps import assignments as A
from lthlib.apps.cli import main

NAMES = S.names()


def _nb_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {}) or {}


# Test cells graded on what a choice or a measurement achieves (a6's budget, a7's numbers)
# have nothing to hide; they say so in a comment line starting with this.
OUTCOME = "# outcome test:"


def test_there_are_seven_assignments_each_with_graded_parts_and_a_scale():
    assert len(NAMES) >= 7, NAMES
    for name in NAMES:
        nb = nbformat.read(S.source_notebook(name), as_version=4)
        tests = [c for c in S.graded_cells(nb) if c.autograded]
        assert len(tests) >= 3 and all(c.points > 0 for c in tests), f"{name}: several graded parts with points"
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and re.search(r'^SCALE = "smoke"', params[0].source, re.M), \
            f"{name}: a parameters cell with SCALE = 'smoke' by default"
        for cell in nb.cells:
            meta = _nb_meta(cell)
            if meta.get("grade") and cell.cell_type == "code":
                assert "### BEGIN HIDDEN TESTS" in cell.source or OUTCOME in cell.source, \
                    f"{name}: {meta['grade_id']} has no hidden tests (and is not an outcome test)"
                assert meta.get("locked"), f"{name}: test cell {meta['grade_id']} must be locked"
            if meta.get("solution") and cell.cell_type == "code":
                assert "### BEGIN SOLUTION" in cell.source, f"{name}: {meta['grade_id']} has no solution region"
        wrong = S.wrong_solutions(name)
        assert len(wrong) >= 2, f"{name}: at least two realistic wrong submissions in assignments/wrong/"
        for w in wrong:
            assert w.why and w.says, f"{w.path}: say why it is wrong (# why:) and what its feedback says (# says:)"


def test_scripts_are_in_sync_with_the_source_notebooks():
    """assignments/scripts/<name>/<name>.py (jupytext) holds the same cells as the notebook."""
    import jupytext

    for name in NAMES:
        script = S.ASSIGNMENTS_DIR / "scripts" / name / f"{name}.py"
        paired, nb = jupytext.read(script), nbformat.read(S.source_notebook(name), as_version=4)
        assert [c.source for c in paired.cells] == [c.source for c in nb.cells], \
            f"{script} and its notebook differ: jupytext --sync {S.source_notebook(name)}"
        assert [_nb_meta(c) for c in paired.cells] == [_nb_meta(c) for c in nb.cells], \
            f"{script} and its notebook differ in nbgrader metadata: jupytext --sync"


def test_release_has_no_solutions_or_hidden_tests_and_keeps_the_visible_tests(tmp_path, capsys):
    out = tmp_path / "release"
    assert main(["assignments", "release", "--out", str(out)]) == 0
    assert "released" in capsys.readouterr().out
    for name in NAMES:
        released = out / name / f"{name}.ipynb"
        assert released.is_file()
        assert [p.name for p in (out / name).rglob("*") if p.is_file()] == [released.name], \
            "only the notebook is released (no paired script, no wrong solutions)"
        raw = released.read_text()
        for marker in S.SECRET_MARKERS:  # grep the release
            assert marker not in raw, f"{name}: '{marker}' in the release"
        sources = "\n".join(c.source for c in nbformat.reads(raw, as_version=4).cells)
        secret = S.distinctive_lines(name)
        assert len(secret) > 20, "the leak check needs distinctive lines to look for"
        leaked = [line for line in secret if line in sources or json.dumps(line)[1:-1] in raw]
        assert not leaked, f"{name}: solution or hidden-test lines in the release: {leaked[:3]}"
        src = nbformat.read(S.source_notebook(name), as_version=4)
        rel = {_nb_meta(c).get("grade_id"): c for c in nbformat.reads(raw, as_version=4).cells}
        for cell in src.cells:
            meta = _nb_meta(cell)
            if meta.get("grade") and cell.cell_type == "code":
                visible = S.visible_part(cell.source).strip()
                assert "assert" in visible and rel[meta["grade_id"]].source.strip() == visible, \
                    f"{name}: test cell {meta['grade_id']} must keep exactly its visible tests"
            if meta.get("solution") and cell.cell_type == "code":
                assert "raise NotImplementedError()" in rel[meta["grade_id"]].source
            if meta.get("solution") and cell.cell_type == "markdown":
                assert rel[meta["grade_id"]].source.strip() == "YOUR ANSWER HERE"
        wrong_code = [w.code for w in S.wrong_solutions(name)]
        assert not any(line.strip() in sources for code in wrong_code for line in code.splitlines()
                       if len(line.strip()) > 40 and line.strip() not in "\n".join(c.source for c in src.cells))
    assert A.leaks(out) == []


def test_leaks_finds_a_source_notebook_passed_off_as_a_release(tmp_path):
    name = NAMES[0]
    (tmp_path / name).mkdir()
    (tmp_path / name / f"{name}.ipynb").write_text(S.source_notebook(name).read_text())
    problems = A.leaks(tmp_path, [name])
    assert any("BEGIN SOLUTION" in p for p in problems)
    assert any("secret line" in p for p in problems)
    assert any("not replaced by a stub" in p for p in problems)


# ------------------------------------------------------------------ the checker itself, on a toy assignment
def _toy_assignment(source: Path, name: str = "t1_double") -> None:
    """A tiny nbgrader assignment (no torch): one solution, one test cell with hidden tests."""
    write_toy_assignment(source, name, "assert double(5) == 10")


def test_check_flags_wrong_solutions_that_keep_their_points(tmp_path, capsys):
    source, wrong = tmp_path / "source", tmp_path / "wrong"
    _toy_assignment(source)
    wrong.mkdir()
    # passes the visible test (double(1) == 2) but not the hidden one: must lose the part
    (wrong / "t1_double.py").write_text("# why: adds one\n# cell: double\n# loses: test_double\n"
                                        "def double(x):\n    return x + 1\n")
    # a "wrong" solution that is right: the check must fail, naming the cell
    (wrong / "t1_double.right.py").write_text("# cell: double\n# loses: test_double\ndef double(x):\n    return x * 2\n")
    code = main(["assignments", "check", "--source", str(source), "--wrong", str(wrong), "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 1
    table = captured.out
    assert re.search(r"t1_double\s+solution\s+2/2\s+full marks\s+ok", table), table
    assert re.search(r"t1_double\s+stub\s+0/2\s+no marks\s+ok", table), table
    assert re.search(r"t1_double\s+wrong_double\s+0/2\s+loses test_double\s+ok", table), table
    assert re.search(r"t1_double\s+wrong_right\s+2/2\s+loses test_double\s+FAILED", table), table
    assert "test_double: 2/2, expected 0" in captured.err


def test_a_wrong_solution_must_name_real_cells(tmp_path):
    source, wrong = tmp_path / "source", tmp_path / "wrong"
    _toy_assignment(source)
    wrong.mkdir()
    (wrong / "t1_double.py").write_text("# cell: no_such_cell\n# loses: test_double\ndef double(x):\n    return x\n")
    with pytest.raises(S.AssignmentError, match="not a code solution cell"):
        A.check(source=source, wrong_dir=wrong, log=None)
    (wrong / "t1_double.py").write_text("# cell: double\ndef double(x):\n    return x\n")
    with pytest.raises(S.AssignmentError, match="must name loses"):
        A.check(source=source, wrong_dir=wrong, log=None)


def test_unknown_assignment_is_an_error(capsys):
    assert main(["assignments", "check", "--only", "zz"]) == 1
    assert "matches no assignment" in capsys.readouterr().err


def test_nbgrader_asks_alembic_for_its_revision_once_per_process(monkeypatch, tmp_path):
    """Every course folder's gradebook needs nbgrader's database revision, which nbgrader
    gets by running the ``alembic`` command (seconds each time): ``Course`` keeps the first
    answer, so two gradebooks run the command once, and both hold that revision."""
    import sqlite3

    import nbgrader.api as api

    calls = []
    real = getattr(api.get_alembic_version, "__wrapped__", api.get_alembic_version)
    monkeypatch.setattr(api, "get_alembic_version", real)  # as nbgrader has it; put back after
    monkeypatch.setattr(api.sp, "check_output", lambda *a, **k: calls.append(a) or b"0123abcd (head)\n")
    A.one_alembic_head()
    for i in range(2):
        db = tmp_path / f"gradebook{i}.db"
        with api.Gradebook(f"sqlite:///{db}"):
            pass
        with sqlite3.connect(db) as con:
            assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [("0123abcd",)]
    assert len(calls) == 1
    A.one_alembic_head()  # once wrapped, left as it is
    assert api.get_alembic_version.__wrapped__ is real


# ------------------------------------------------------------------ the real assignments, end to end
# Each assignment is checked once per test process that asks for it (``_checked``) and its
# tests carry its name: conftest's scheduler runs every test of one assignment in one
# process, and the seven assignments (about 40 s each on an idle core) spread over the
# processes instead of one process checking all seven while the other runs out of work.
@functools.cache
def _checked(name: str) -> tuple[A.CheckRow, ...]:
    """``check`` on one assignment, with every wrong submission and its feedback."""
    return tuple(A.check([name], log=None, workers=1))


@pytest.mark.parametrize("name", NAMES)
def test_full_check_passes(name):
    rows = _checked(name)
    assert all(r.ok for r in rows), "\n" + A.format_table(list(rows))
    assert {r.assignment for r in rows} == {name}
    assert [r.submission for r in rows] == ["release", A.SOLUTION_STUDENT, A.STUB_STUDENT,
                                             *[w.student for w in S.wrong_solutions(name)]]


@pytest.mark.parametrize("name", NAMES)
def test_the_source_solution_gets_full_marks(name):
    (row,) = [r for r in _checked(name) if r.submission == A.SOLUTION_STUDENT]
    got, total = row.auto()
    assert total > 0 and got == total, f"{name}: {got}/{total}"


@pytest.mark.parametrize("name", NAMES)
def test_the_released_stub_gets_no_marks(name):
    (row,) = [r for r in _checked(name) if r.submission == A.STUB_STUDENT]
    got, total = row.auto()
    assert total > 0 and got == 0, f"{name}: the stub got {got}/{total}"


@pytest.mark.parametrize("name", NAMES)
def test_every_wrong_solution_loses_the_points_of_its_part(name):
    rows = _checked(name)
    for wrong in S.wrong_solutions(name):
        (row,) = [r for r in rows if r.submission == wrong.student]
        for cell in row.tests:
            score, max_score, _ = row.scores[cell]
            assert score == (0 if cell in wrong.loses else max_score), \
                f"{name} {wrong.student}: {cell} scored {score}/{max_score}"
        got, total = row.auto()
        assert got < total


@pytest.mark.parametrize("name", NAMES)
def test_every_wrong_solution_is_told_what_is_wrong_and_no_feedback_leaks(name):
    """``check`` also generates each submission's feedback (the course's HideHiddenTests step):
    no hidden-test line, seed or traceback in any page, and each wrong submission's lost cells
    show the message its ``# says:`` lines name. A row that fails either is not ok."""
    feedback = [p for r in _checked(name) for p in r.problems if p.startswith("feedback")]
    assert not feedback, feedback
    assert S.wrong_solutions(name)


def test_there_are_at_least_25_wrong_solutions():
    assert sum(len(S.wrong_solutions(n)) for n in NAMES) >= 25


@pytest.mark.parametrize("name", ["a6_sensitivity"])
def test_a6_is_graded_on_the_rates_outcome(name):
    """a6 (per-layer rates for a budget above a floor): the right choice gets the points,
    uniform pruning misses the floor, a choice over the budget loses both parts."""
    rows = {r.submission: r for r in _checked(name)}
    assert rows["solution"].auto() == (7, 7)
    uniform = rows["wrong_rates"]
    assert uniform.scores["test_budget"][0] == 1 and uniform.scores["test_floor"][0] == 0
    over = rows["wrong_over_budget"]
    assert over.scores["test_budget"][0] == 0 and over.scores["test_floor"][0] == 0
    assert all(r.ok for r in rows.values())


@pytest.mark.parametrize("name", ["a7_latency"])
def test_a7_is_graded_on_measured_latency(name):
    """a7 (measured latency against MACs): latencies made up from the MACs are inconsistent."""
    rows = {r.submission: r for r in _checked(name)}
    assert rows["wrong_numbers_from_macs"].scores["test_my_numbers"][0] == 0
    assert all(r.ok for r in rows.values())


def test_points_split_into_implementation_judgement_and_explanation():
    """The README's point table matches the notebooks' points."""
    text = (S.ASSIGNMENTS_DIR / "README.md").read_text()
    for name in NAMES:
        auto = sum(c.points for c in S.graded_cells(S.source_notebook(name)) if c.autograded)
        hand = sum(c.points for c in S.graded_cells(S.source_notebook(name)) if not c.autograded)
        row = re.search(rf"^\| `{name}` \|.*\| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", text, re.M)
        assert row, f"assignments/README.md: no points row for {name}"
        impl, judge, expl, total = (int(x) for x in row.groups())
        assert impl + judge == auto and expl == hand and total == auto + hand, (name, row.groups(), auto, hand)


@pytest.mark.parametrize("name", NAMES)
def test_release_rows_are_clean(name):
    rows = [r for r in _checked(name) if r.submission == "release"]
    assert len(rows) == 1 and all(r.ok for r in rows), [r.problems for r in rows]
