"""The worker pool and the explorers (constructed without a front end)."""
from __future__ import annotations

import os

import ipywidgets
import pytest
import torch

from lthlib.engine.parallel import default_workers, parallel_map


def _square_and_threads(x: int) -> tuple[int, int, int]:
    return x * x, torch.get_num_threads(), os.getpid()


def test_parallel_map_keeps_order_and_caps_threads(monkeypatch):
    monkeypatch.delenv("LTHLIB_THREADS", raising=False)
    out = parallel_map(_square_and_threads, [3, 1, 2, 5], workers=2)
    assert [o[0] for o in out] == [9, 1, 4, 25]
    assert all(o[1] == 1 for o in out)  # lthlib.core.threads: one thread per process by default
    assert all(o[2] != os.getpid() for o in out)  # ran in workers


def test_one_worker_runs_in_process_and_env_sets_workers(monkeypatch):
    out = parallel_map(_square_and_threads, [2, 3], workers=1)
    assert [o[0] for o in out] == [4, 9] and all(o[2] == os.getpid() for o in out)
    monkeypatch.setenv("LTHLIB_WORKERS", "3")
    assert default_workers(10) == 3
    monkeypatch.delenv("LTHLIB_WORKERS")
    assert default_workers(10, on_cpu=False) == 1
    assert default_workers(1) == 1


def test_threads_env_sets_worker_threads_and_caps_workers(monkeypatch):
    monkeypatch.delenv("LTHLIB_WORKERS", raising=False)  # the default, not the test process's share
    monkeypatch.setenv("LTHLIB_THREADS", "2")
    out = parallel_map(_square_and_threads, [1, 2], workers=2)
    assert all(o[1] == 2 for o in out)
    from lthlib.core.threads import cpu_cores

    assert default_workers(64) == max(1, cpu_cores() // 2)  # processes x threads <= cores


def _pid_and_draw(x: int) -> tuple[int, float]:
    return os.getpid(), float(torch.rand(()))


def test_workers_are_kept_between_calls_and_renewed_when_the_environment_changes(monkeypatch):
    """A second call reuses the processes of the first (each start imports torch: seconds),
    each task starts from the worker's initial global random state (so a draw does not
    depend on what the worker ran before), and a changed LTHLIB_* variable, which a worker
    reads only when it starts, gets new processes."""
    from lthlib.engine import parallel

    monkeypatch.delenv("LTHLIB_THREADS", raising=False)
    first = parallel_map(_pid_and_draw, range(6), workers=2)
    second = parallel_map(_pid_and_draw, range(6), workers=2)
    pids = {p for p, _ in first}
    assert {p for p, _ in second} <= pids and os.getpid() not in pids
    by_pid = {}
    for pid, draw in first + second:
        by_pid.setdefault(pid, set()).add(draw)
    assert all(len(draws) == 1 for draws in by_pid.values())  # the same draw, however many tasks ran before
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "7")
    renewed = parallel_map(_pid_and_draw, range(2), workers=2)
    assert not {p for p, _ in renewed} & pids
    parallel.shutdown_workers()
    assert parallel._pool is None


def test_a_kernel_that_used_workers_exits_by_itself_when_shut_down(tmp_path):
    """Jupyter's shutdown of a kernel whose notebook used workers: the kernel exits on its own
    (status 0, its ``atexit`` handlers run) and leaves no worker or resource tracker behind.
    Before, the resource tracker ignored ipykernel's SIGTERM, jupyter_client killed the
    kernel after 2.5 s, and ``atexit`` never ran (status -15, no marker)."""
    import psutil
    from jupyter_client import KernelManager

    marker = tmp_path / "atexit-ran"
    km = KernelManager(kernel_name="python3")
    # jupyter_client waits half of this for a graceful exit (default 5 s: 2.5 s, which a kernel's
    # own exit, ~2 CPU-s, can outlast on a machine busy with other tests). A kernel that waits
    # for a child ignoring SIGTERM still fails: ipykernel's SIGTERM retries take ~14 s.
    km.shutdown_wait_time = 10.0
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        code = ("import atexit, os\n"
                "from lthlib.engine.parallel import parallel_map\n"
                "assert parallel_map(abs, [-1, -2, -3], workers=2) == [1, 2, 3]\n"
                f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
                "print(os.getpid())\n")
        printed = []
        reply = kc.execute_interactive(code, timeout=120, output_hook=lambda msg: printed.append(
            msg["content"].get("text", "")))
        assert reply["content"]["status"] == "ok", reply["content"]
        kernel = km.provisioner.process  # the kernel, or the process standing in for a forked one (warm_kernel)
        # the kernel's own processes, asked of the kernel: a forked kernel is not its launcher's child
        children = psutil.Process(int("".join(printed))).children(recursive=True)
        assert len(children) >= 3  # two workers and multiprocessing's resource tracker
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert kernel.returncode == 0
    assert marker.read_text() == "ran"
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_training_runs_on_the_fixed_thread_count(mnist1d_small, tiny_settings):
    from lthlib.engine.training import model_for, train

    torch.set_num_threads(2)
    seen = []
    model = model_for(tiny_settings, mnist1d_small)
    model.register_forward_hook(lambda *a: seen.append(torch.get_num_threads()))
    train(model, mnist1d_small, tiny_settings.replace(iterations=5, eval_every=5), progress=False)
    assert set(seen) == {1} and torch.get_num_threads() == 2  # the caller's count comes back


def test_interpolation_explorer_builds_a_slider_over_k():
    from lthlib.report.widgets import interpolation_explorer

    curve = {"alpha": [0.0, 0.5, 1.0], "test_error": [0.1, 0.3, 0.12]}
    box = interpolation_explorer({0: {"dense": curve}, 100: {"dense": curve}})
    slider = box.children[0]
    assert isinstance(slider, ipywidgets.SelectionSlider) and list(slider.options) == [0, 100]
    assert slider.continuous_update is False  # a slider never retrains while dragging


def test_overlap_explorer_builds_two_dropdowns():
    from lthlib.masks import Mask
    from lthlib.report.widgets import overlap_explorer

    g = torch.Generator().manual_seed(0)
    masks = {name: Mask({"w": torch.rand(20, 10, generator=g) < 0.3}) for name in ("a", "b", "c")}
    box = overlap_explorer(masks)
    dropdowns = [w for w in box.children if isinstance(w, ipywidgets.Dropdown)] or \
                [w for c in box.children for w in getattr(c, "children", ()) if isinstance(w, ipywidgets.Dropdown)]
    assert len(dropdowns) == 2 and set(dropdowns[0].options) == {"a", "b", "c"}


def test_dense_runs_reuse_the_store(mnist1d_small, tiny_settings, tmp_path, monkeypatch):
    from lthlib.core.store import Store
    from lthlib.engine import training

    calls = []
    real = training.train
    monkeypatch.setenv("LTHLIB_WORKERS", "1")  # in this process, where the count is seen
    monkeypatch.setattr(training, "train", lambda *a, **k: calls.append(1) or real(*a, **k))
    runs = training.dense_runs(tiny_settings, [0, 1], mnist1d_small, store=Store(tmp_path), save_weights_at=(0, 10))
    again = training.dense_runs(tiny_settings, [1, 0], mnist1d_small, store=Store(tmp_path), save_weights_at=(10,))
    assert len(calls) == 2
    assert again[1].curves() == runs[0].curves() and {0, 10} <= set(again[0].weights_at)
    assert runs[0].curves() != runs[1].curves()
    with pytest.raises(Exception, match="is a file"):
        Store(tmp_path / "dense" / next(p.name for p in (tmp_path / "dense").glob("*.pt")))


def test_dense_runs_in_two_workers_are_the_runs_trained_one_by_one(mnist1d_small, tiny_settings, tmp_path,
                                                                   monkeypatch):
    from lthlib.core.store import Store
    from lthlib.engine import training

    monkeypatch.setenv("LTHLIB_WORKERS", "1")
    alone = training.dense_runs(tiny_settings, [2, 0, 1], mnist1d_small, store=Store(tmp_path / "a"),
                                save_weights_at=(0, 20))
    monkeypatch.setenv("LTHLIB_WORKERS", "2")
    side_by_side = training.dense_runs(tiny_settings, [2, 0, 1], mnist1d_small, store=Store(tmp_path / "b"),
                                       save_weights_at=(0, 20))
    for a, b in zip(alone, side_by_side):
        assert a.settings == b.settings and a.curves() == b.curves()
        for k in (0, 20):
            assert all(torch.equal(a.weights_at[k][n], b.weights_at[k][n]) for n in a.weights_at[k])
        assert all(torch.equal(a.final_state[n], b.final_state[n]) for n in a.final_state)
    assert [r.settings["seed"] for r in side_by_side] == [2, 0, 1]
    assert len(list((tmp_path / "b" / "dense").glob("*.pt"))) == 3  # stored by the workers


def test_headless_explorers_are_built_but_not_rendered(monkeypatch, capsys):
    from lthlib.report import widgets

    monkeypatch.setenv("LTHLIB_HEADLESS", "1")
    curve = {"alpha": [0.0, 1.0], "test_error": [0.1, 0.12]}
    box = widgets.interpolation_explorer({0: {"dense": curve}, 5: {"dense": curve}})
    assert isinstance(box.children[0], ipywidgets.SelectionSlider)
    assert not box.children[1].outputs  # nothing rendered
    assert widgets.HEADLESS_NOTE in capsys.readouterr().out
