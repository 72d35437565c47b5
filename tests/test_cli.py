import pytest
from conftest import write_notebook

from lthlib.__main__ import main


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
    from lthlib.__main__ import main

    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert "fc2019-fig3" in out and "ramanujan2020-width" in out
