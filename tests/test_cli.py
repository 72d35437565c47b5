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


def test_jobs_runs_notebooks_side_by_side_in_the_order_their_metadata_allows(tmp_path, capsys, monkeypatch):
    """--jobs 2: 01 and 02 run at once, each with its share of the workers; 03 reads 01's runs
    and starts after it ends; 04 times code and runs alone, with every worker; outcomes and
    claims come back in the notebooks' order."""
    import json

    from lthlib.core.threads import cpu_cores

    monkeypatch.delenv("LTHLIB_WORKERS", raising=False)
    folder, log = tmp_path / "nbs", tmp_path / "log"
    folder.mkdir()
    log.mkdir()
    body = ("import json, os, time\n"
            "t0 = time.time(); time.sleep({sleep})\n"
            "open(r'{log}/{n}.json', 'w').write(json.dumps([t0, time.time(), os.environ.get('LTHLIB_WORKERS')]))")
    meta = {"01": {}, "02": {}, "03": {"reads": ["01"]}, "04": {"alone": True, "reads": ["03"]}}
    for n, m in meta.items():
        path = folder / f"{n}_nb.ipynb"
        write_notebook(path, body.format(sleep=3 if n in ("01", "02") else 0.5, log=log, n=n))
        nb = json.loads(path.read_text())
        nb["metadata"]["lthlib"] = m
        path.write_text(json.dumps(nb))
    assert main(["run", "--scale", "smoke", "--jobs", "2", "--profile", "--notebooks", str(folder),
                 "--out", str(tmp_path / "out"), "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    spans = {n: json.loads((log / f"{n}.json").read_text()) for n in meta}
    assert spans["01"][0] < spans["02"][1] and spans["02"][0] < spans["01"][1]  # side by side
    assert spans["03"][0] >= spans["01"][1]  # after what it reads
    assert all(spans["04"][0] >= spans[n][1] for n in ("01", "02", "03"))  # alone, last
    share = str(max(1, cpu_cores() // 2))
    assert [spans[n][2] for n in meta] == [share, share, share, None]
    assert "04_nb ... (alone: it times code)" in out
    table = [line.split()[0] for line in out.split("Profile")[0].splitlines() if line.startswith("0")
             and " ok " in f" {line} "]
    assert table == ["01_nb", "02_nb", "03_nb", "04_nb"]  # the summary in the notebooks' order
    assert "LTHLIB_PROFILE_FILE" not in os.environ and "LTHLIB_WORKERS" not in os.environ


def test_jobs_must_be_positive_and_bad_metadata_stops_before_anything_runs(tmp_path, capsys):
    import json

    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "01_a.ipynb", "raise SystemExit('must not run')")
    with pytest.raises(SystemExit):
        main(["run", "--jobs", "0", "--notebooks", str(folder)])
    assert "--jobs 0: must be an integer >= 1" in capsys.readouterr().err
    nb = json.loads((folder / "01_a.ipynb").read_text())
    nb["metadata"]["lthlib"] = {"reads": "00"}
    (folder / "01_a.ipynb").write_text(json.dumps(nb))
    with pytest.raises(SystemExit, match="01_a.ipynb: metadata lthlib.reads must be a list"):
        main(["run", "--scale", "smoke", "--jobs", "2", "--notebooks", str(folder),
              "--out", str(tmp_path / "out"), "--results", str(tmp_path / "r")])
    assert not (tmp_path / "out" / "notebooks").exists()
