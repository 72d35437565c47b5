import os

import pytest
from conftest import write_notebook

from lthlib.apps.cli import main


def test_run_reports_the_failing_notebook_and_cell(tmp_path, capsys):
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "01_fine.ipynb", 'assert SCALE == "smoke"')
    write_notebook(folder / "02_broken.ipynb", 'raise ValueError("this cell is broken")')
    code = main(["run", "--scale", "smoke", "--notebooks", str(folder), "--out", str(tmp_path / "out"),
                 "--results", str(tmp_path / "res")])
    captured = capsys.readouterr()
    assert code == 1
    assert "01_fine: ok" in captured.out
    assert "02_broken" in captured.err and "this cell is broken" in captured.err
    assert "raise ValueError(" in captured.err  # the failing cell, named by its code
    assert (tmp_path / "out" / "notebooks" / "02_broken.ipynb").exists()
    assert "notebook" in captured.out and "seconds" in captured.out  # the summary table


def test_only_selects_and_unknown_prefix_is_an_error(tmp_path, capsys):
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "01_fine.ipynb", "pass")
    with pytest.raises(SystemExit, match="matches no notebook"):
        main(["run", "--notebooks", str(folder), "--only", "07"])
    assert main(["run", "--scale", "smoke", "--notebooks", str(folder), "--only", "01",
                 "--out", str(tmp_path / "out"), "--results", str(tmp_path / "r")]) == 0


def test_reproduce_is_a_subcommand(capsys):
    from lthlib.apps.cli import main

    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert "fc2019-fig3" in out and "ramanujan2020-width" in out


def test_profile_counts_what_each_notebook_trains(tmp_path, capsys):
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "01_train.ipynb", "\n".join([
        "from lthlib.settings import TrainSettings",
        "from lthlib.engine.training import data_for, evaluate, model_for, train",
        "s = TrainSettings(model='mlp_mnist1d', dataset='mnist1d', iterations=20, eval_every=10,",
        "                  batch_size=32, train_size=600, validation_size=200,",
        "                  model_kwargs={'hidden': (16,)})",
        "d = data_for(s, 'cpu')",
        "train(model_for(s, d), d, s, progress=False)",
        "evaluate(model_for(s, d), d.x_test, d.y_test)  # counted at the kernel's exit"]))
    assert main(["run", "--scale", "smoke", "--profile", "--notebooks", str(folder),
                 "--out", str(tmp_path / "out"), "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Profile"))
    row = next(line.split() for line in lines[start:] if line.startswith("01_train"))
    # notebook, seconds, networks, steps, evaluations, eval passes, examples, s training,
    # s evaluating, processes
    assert row[2:6] == ["1", "20", "3", "10"] and row[-1] == "1"
    assert (tmp_path / "out" / "profile" / "01_train.jsonl").exists()
    assert "LTHLIB_PROFILE_FILE" not in os.environ  # not left set for what runs next


def _meeting(me: str, other: str, folder) -> str:
    """Notebook code that records its environment, then waits (up to 2 minutes) for
    ``other`` to have started: it returns only if the two kernels run at the same time."""
    return "\n".join([
        "import json, os, pathlib, time",
        f"folder = pathlib.Path({str(folder)!r})",
        "assert not (folder / '08_timed.done').exists(), 'a timed notebook runs last, alone'",
        f"(folder / '{me}.json').write_text(json.dumps({{k: os.environ.get(k) for k in",
        "    ('LTHLIB_WORKERS', 'LTHLIB_PROFILE_FILE')}))",
        "deadline = time.monotonic() + 120",
        f"while not (folder / '{other}.json').exists():",
        f"    assert time.monotonic() < deadline, '{other} never ran beside {me}'",
        "    time.sleep(0.05)",
        f"(folder / '{me}.end').write_text('')"])


def test_jobs_runs_notebooks_side_by_side_with_their_share_of_the_cores(tmp_path, capsys, monkeypatch):
    """--jobs 2: the notebooks two at a time (01 and 02 each wait for the other to start),
    each kernel with cores // (2 x threads) workers and its own profile file; then the timed
    notebook (settings.TIMED_NOTEBOOKS), alone, with the environment as it is; the table
    keeps the notebooks' order and a failing one is still reported."""
    import json

    from lthlib.core.threads import cpu_cores, training_threads

    monkeypatch.delenv("LTHLIB_WORKERS", raising=False)  # conftest sets it for the test processes
    folder, marks = tmp_path / "nbs", tmp_path / "marks"
    folder.mkdir()
    marks.mkdir()
    write_notebook(folder / "01_a.ipynb", _meeting("01_a", "02_b", marks))
    write_notebook(folder / "02_b.ipynb", _meeting("02_b", "01_a", marks))
    write_notebook(folder / "03_broken.ipynb", 'raise ValueError("this cell is broken")')
    write_notebook(folder / "08_timed.ipynb", "\n".join([
        "import json, os, pathlib",
        f"folder = pathlib.Path({str(marks)!r})",
        "assert {p.name for p in folder.glob('*.end')} == {'01_a.end', '02_b.end'}, 'the timed notebook runs last'",
        "(folder / '08_timed.done').write_text(json.dumps(os.environ.get('LTHLIB_WORKERS')))"]))
    code = main(["run", "--scale", "smoke", "--jobs", "2", "--profile", "--notebooks", str(folder),
                 "--out", str(tmp_path / "out"), "--results", str(tmp_path / "res")])
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    assert "03_broken" in captured.err and "this cell is broken" in captured.err
    for stem in ("01_a", "02_b", "08_timed"):
        assert f"{stem}: ok" in captured.out, captured.out + captured.err
    assert json.loads((marks / "08_timed.done").read_text()) is None  # all the cores: no share set
    share = str(max(1, cpu_cores() // (2 * training_threads())))
    for stem in ("01_a", "02_b"):
        env = json.loads((marks / f"{stem}.json").read_text())
        assert env == {"LTHLIB_WORKERS": share,
                       "LTHLIB_PROFILE_FILE": str(tmp_path / "out" / "profile" / f"{stem}.jsonl")}
    table = captured.out[captured.out.index("notebook  "):]
    assert [line.split()[0] for line in table.splitlines()[2:6]] == ["01_a", "02_b", "03_broken", "08_timed"]
    assert "LTHLIB_WORKERS" not in os.environ and "LTHLIB_PROFILE_FILE" not in os.environ


def test_jobs_must_be_a_positive_count(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--jobs", "0"])
    assert "--jobs 0: must be an integer >= 1" in capsys.readouterr().err
