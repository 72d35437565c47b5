"""Kernels forked from a warm process (lthlib.core.warm_kernel), which the tests' notebooks
run in (tests/conftest.py): the same notebook gives what a fresh kernel gives, its own random
states, Jupyter's interrupt, shutdown and kill work, and nothing is left behind."""
import json
import os
import signal
import time
from pathlib import Path

import nbformat
import papermill as pm
import psutil
import pytest
from jupyter_client import KernelManager

from lthlib.core import warm_kernel

PROBE = """\
import json, os, random, sys
before = sorted(m for m in ("torch", "ipykernel.kernelapp", "lthlib", "matplotlib") if m in sys.modules)
import numpy, torch
print(json.dumps({"cwd": os.getcwd(), "var": os.environ.get("WARM_KERNEL_PROBE"), "path": sys.path,
                  "argv0": sys.argv[0], "threads": torch.get_num_threads(), "main": __name__,
                  "ppid_is_init": os.getppid() == 1, "own_group": os.getpgid(0) == os.getpid(),
                  "draws": [random.random(), float(numpy.random.random()), torch.initial_seed()],
                  "before": before}))
"""


def _probe(folder, monkeypatch, warm: bool) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(PROBE)]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "probe.ipynb")
    if not warm:  # the usual python3 kernelspec: no folder of ours on JUPYTER_PATH
        monkeypatch.delenv("JUPYTER_PATH", raising=False)
    pm.execute_notebook(str(folder / "probe.ipynb"), str(folder / "out.ipynb"), cwd=str(folder),
                        progress_bar=False, execution_timeout=120)
    out = nbformat.read(folder / "out.ipynb", as_version=4)
    return json.loads(out.cells[0].outputs[0]["text"])


@pytest.fixture
def warm_spec(tmp_path, monkeypatch):
    """A kernelspec of forked kernels first on JUPYTER_PATH (as conftest sets for every test)."""
    warm_kernel.kernelspec(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("WARM_KERNEL_PROBE", "here")
    return tmp_path


def test_a_forked_kernel_runs_a_notebook_as_a_fresh_kernel_does(warm_spec, monkeypatch):
    a, b = _probe(warm_spec / "a", monkeypatch, True), _probe(warm_spec / "b", monkeypatch, True)
    fresh = _probe(warm_spec / "fresh", monkeypatch, False)
    # forked: torch imported already; lthlib and matplotlib by the notebook itself, as in a fresh kernel
    assert a["before"] == ["ipykernel.kernelapp", "torch"] and fresh["before"] == ["ipykernel.kernelapp"]
    for got, folder in ((a, "a"), (b, "b"), (fresh, "fresh")):
        assert got["cwd"] == str(warm_spec / folder) and got["var"] == "here"
    for key in ("path", "argv0", "threads", "main", "ppid_is_init", "own_group"):
        assert a[key] == b[key] == fresh[key], key
    assert a["own_group"]  # its own process group, as Jupyter's launcher starts a kernel
    # each kernel's random states are its own, as each new interpreter's are
    assert all(x != y for x, y in zip(a["draws"], b["draws"]))


def _start(cwd) -> tuple[KernelManager, object, int]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    printed = []
    kc.execute_interactive("import os; print(os.getpid())", timeout=60,
                           output_hook=lambda msg: printed.append(msg["content"].get("text", "")))
    return km, kc, int("".join(printed))


def _gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_interrupt_shutdown_and_exit_status_reach_a_forked_kernel(warm_spec):
    km, kc, pid = _start(warm_spec)
    try:
        assert pid != km.provisioner.process.pid  # forked: not the process Jupyter launched
        # stop_on_error=False: else ipykernel aborts the requests that reach it before it has
        # finished with the interrupted one's error -- on a busy machine, the next line's
        msg_id = kc.execute("import time; time.sleep(60)", stop_on_error=False)
        time.sleep(1.0)
        started = time.monotonic()
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - started < 10
        assert kc.execute_interactive("x = 41 + 1", timeout=30)["content"]["status"] == "ok"  # still alive
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert km.provisioner is None or km.provisioner.process is None or km.provisioner.process.returncode == 0
    assert _gone(pid)


def test_the_launcher_exits_as_its_kernel_did(warm_spec):
    """The process Jupyter launched exits with the kernel's status, or dies of its signal."""
    for code, want in (("os._exit(3)", 3), ("os.kill(os.getpid(), signal.SIGTERM)", -signal.SIGTERM)):
        km, kc, pid = _start(warm_spec)
        launcher = km.provisioner.process
        try:
            kc.execute(f"import os, signal; {code}")
            launcher.wait(timeout=30)
            assert launcher.returncode == want, code
            assert _gone(pid)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def test_a_killed_launcher_takes_its_kernel_and_workers_with_it(warm_spec):
    """Jupyter's last resort (SIGKILL to the process it launched) stops a forked kernel and
    the processes it started, as it stops a kernel it launched itself."""
    km, kc, pid = _start(warm_spec)
    try:
        kc.execute_interactive("import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', "
                               "'import time; time.sleep(60)'])", timeout=60)
        children = psutil.Process(pid).children(recursive=True)
        assert children
        os.killpg(km.provisioner.process.pid, signal.SIGKILL)
        assert _gone(pid) and all(_gone(c.pid) for c in children)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_stop_servers_stops_the_server_once_its_kernels_are_done(warm_spec, monkeypatch):
    # a server of its own: a variable torch would read at import names another environment
    monkeypatch.setenv("TORCH_LTHLIB_WARM_KERNEL_TEST", str(warm_spec))
    km, kc, pid = _start(warm_spec)
    server = psutil.Process(pid).parent()
    kc.stop_channels()
    km.shutdown_kernel(now=False)
    warm_kernel.stop_servers()
    assert _gone(server.pid)
    assert not warm_kernel.server_path().exists()


def test_a_server_that_cannot_start_leaves_the_usual_kernel(warm_spec, monkeypatch):
    """The server's imports fail (a broken torch first on PYTHONPATH, so also another
    environment's server): the kernel starts as a fresh one, at once, not after a timeout."""
    broken = warm_spec / "broken"
    (broken / "torch").mkdir(parents=True)
    (broken / "torch" / "__init__.py").write_text("raise ImportError('a broken torch')\n")
    monkeypatch.setenv("PYTHONPATH", str(broken))
    started = time.monotonic()
    km, kc, pid = _start(warm_spec)
    try:
        assert time.monotonic() - started < 60
        assert pid == km.provisioner.process.pid  # the launched process became the kernel
        reply = kc.execute_interactive("x = 6 * 7", timeout=60)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert "a broken torch" in Path(f"{warm_kernel.server_path()}.log").read_text()


def test_warm_kernels_is_the_kernelspec_while_inside_and_leaves_no_trace(monkeypatch, tmp_path):
    """``python -m lthlib run`` and ``assignments check`` execute their notebooks inside ``warm_kernels()``."""
    from jupyter_client.kernelspec import KernelSpecManager

    monkeypatch.setenv("LTHLIB_WARM_KERNEL_DIR", str(tmp_path))  # its servers apart from the tests' own
    monkeypatch.setenv("JUPYTER_PATH", "/somewhere/else")
    with warm_kernel.warm_kernels():
        spec = KernelSpecManager().get_kernel_spec("python3")
        assert spec.argv[1] == str(Path(warm_kernel.__file__).resolve())
        folder = Path(spec.resource_dir).parents[1]
        assert os.environ["JUPYTER_PATH"] == f"{folder}{os.pathsep}/somewhere/else"
    assert os.environ["JUPYTER_PATH"] == "/somewhere/else" and not folder.exists()
    monkeypatch.setenv("LTHLIB_FRESH_KERNELS", "1")
    with warm_kernel.warm_kernels():
        assert os.environ["JUPYTER_PATH"] == "/somewhere/else"
    monkeypatch.delenv("LTHLIB_FRESH_KERNELS")
    with warm_kernel.warm_kernels():  # nested: the outer kernelspec (and its server) stays
        outer = os.environ["JUPYTER_PATH"]
        with warm_kernel.warm_kernels():
            assert os.environ["JUPYTER_PATH"] == outer
