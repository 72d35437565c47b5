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


@pytest.mark.parametrize("how", ["SIGTERM"])  # SIGHUP takes the same handler (passed too, when added here)
def test_a_terminated_run_shuts_its_kernel_down(tmp_path, how):
    """``kill`` (SIGTERM) stops ``python -m lthlib run`` as Ctrl-C does: the kernel running a
    cell is shut down with it, not left behind training, and the run dies of the signal it got."""
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "nbs"
    folder.mkdir()
    started = tmp_path / "kernel_pid"
    write_notebook(folder / "01_slow.ipynb", "import os, time\n"
                   f"open({str(started)!r}, 'w').write(str(os.getpid()))\n"
                   "time.sleep(120)")
    run = subprocess.Popen([sys.executable, "-m", "lthlib", "run", "--scale", "smoke", "--notebooks", str(folder),
                            "--out", str(tmp_path / "out"), "--results", str(tmp_path / "res")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
        assert run.poll() is None, run.communicate()
        time.sleep(0.2)
    kernel = int(started.read_text())
    run.send_signal(getattr(signal, how))
    _, err = run.communicate(timeout=60)
    assert run.returncode == -getattr(signal, how)
    assert f"stopped by {how}" in err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(kernel, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(kernel, signal.SIGKILL)
        pytest.fail(f"the kernel (pid {kernel}) still runs after the run was stopped by {how}")
