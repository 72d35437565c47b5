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


def test_startable_keeps_the_order_waits_for_what_a_notebook_reads_and_runs_timers_alone():
    from lthlib.apps.notebook_order import ALONE, READS, startable

    stems = [f"{i:02d}_nb" for i in range(1, 11)]
    # one at a time: the notebooks' own order, whatever READS says
    pending, order = list(stems), []
    while pending:
        (first,) = startable(pending, [], 1)
        order.append(first)
        pending.remove(first)
    assert order == stems
    # two at a time: 04 reads 02, so it waits while 02 runs; 03 does not
    assert startable(stems[2:], ["02_nb"], 2) == ["03_nb"]
    assert startable(stems[3:], [], 2) == ["04_nb", "05_nb"]  # 02 and 03 done (or not chosen)
    # a timing notebook waits for the others to finish, and nothing starts beside it
    (timer,) = sorted(ALONE)
    rest = [s for s in stems if s[:2] > max(READS[timer])]
    assert f"{timer}_nb" not in startable(rest, ["10_nb"], 2)
    assert startable([f"{timer}_nb", "10_nb"], [], 2) == [f"{timer}_nb"]
    assert startable(["10_nb"], [f"{timer}_nb"], 2) == []
    with pytest.raises(ValueError, match="jobs=0"):
        startable(stems, [], 0)


def test_jobs_runs_notebooks_side_by_side_with_their_share_of_the_cores(tmp_path, capsys):
    """Two notebooks that each wait for the other's file can only finish side by side;
    each kernel trains with one worker; 08 (it times code) runs alone with every core."""
    folder, meet = tmp_path / "nbs", tmp_path / "meet"
    folder.mkdir()
    meet.mkdir()
    for me, other in (("01", "02"), ("02", "01")):
        write_notebook(folder / f"{me}_side.ipynb", "\n".join([
            "import os, pathlib, time",
            f"meet = pathlib.Path({str(meet)!r})",
            f"(meet / '{me}').write_text(os.environ.get('LTHLIB_WORKERS', 'unset'))",
            "waited = time.monotonic()",
            f"while not (meet / '{other}').exists():",
            "    assert time.monotonic() - waited < 120, 'the other notebook never ran beside this one'",
            "    time.sleep(0.05)"]))
    write_notebook(folder / "08_timer.ipynb", "\n".join([
        "import os, pathlib",
        f"pathlib.Path({str(meet)!r}, '08').write_text(os.environ.get('LTHLIB_WORKERS', 'unset'))"]))
    env = {k: os.environ.pop(k) for k in ("LTHLIB_WORKERS",) if k in os.environ}
    try:
        code = main(["run", "--scale", "smoke", "--jobs", "2", "--notebooks", str(folder),
                     "--out", str(tmp_path / "out"), "--results", str(tmp_path / "r")])
    finally:
        os.environ.update(env)
    out = capsys.readouterr().out
    assert code == 0, out
    from lthlib.core.threads import cpu_cores

    assert (meet / "01").read_text() == (meet / "02").read_text() == str(max(1, cpu_cores() // 2))
    assert (meet / "08").read_text() == "unset"
    assert out.index("08_timer ...") > max(out.index("01_side: ok"), out.index("02_side: ok"))
    assert "3 notebook(s) in" in out and "up to 2 at a time" in out
    with pytest.raises(SystemExit):
        main(["run", "--jobs", "0", "--notebooks", str(folder)])
    assert "--jobs 0: must be an integer >= 1" in capsys.readouterr().err
