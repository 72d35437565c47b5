"""Shared fixtures: small, fast versions of the real data and settings."""
from __future__ import annotations

import os
import sys

import pytest
import torch

os.environ.setdefault("LTHLIB_PROGRESS", "0")
# `.venv/bin/pytest` without the environment activated: the tools the tests start find its
# commands too (nbgrader runs `alembic` from PATH)
_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

# pytest runs the tests in one process per core (pytest-xdist, ``-n auto`` in pyproject.toml;
# ``-n 0`` runs them in this process). Which process runs what: ``pytest_xdist_make_scheduler``.
# Each test computes on one torch thread (below), so a test that would start a process per
# core (lthlib.engine.parallel, assignments.check; notebooks' kernels inherit it) starts its share
# only: processes x threads stays <= cores.
# A test that sets LTHLIB_WORKERS itself (monkeypatch) still gets what it asks for.
_TEST_PROCESSES = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))  # set by xdist in each worker
if _TEST_PROCESSES > 1:
    from lthlib.core.threads import cpu_cores, training_threads

    os.environ.setdefault("LTHLIB_WORKERS", str(max(1, cpu_cores() // (_TEST_PROCESSES * training_threads()))))

# The notebooks the tests execute (smoke notebooks, nbgrader's autogrades, papermill and
# nbclient alike) run in kernels forked from a process that has imported ipykernel and torch
# (lthlib.core.warm_kernel): ~3 CPU-s less per kernel, about 70 kernels per run. The
# kernelspec "python3" under a folder first on JUPYTER_PATH is what Jupyter then finds.
# LTHLIB_FRESH_KERNELS=1 runs the tests with the usual fresh kernels instead.
# The run's servers keep their sockets in a folder of the run's own (LTHLIB_WARM_KERNEL_DIR),
# which the test processes xdist starts inherit with JUPYTER_PATH: one server for all of them,
# and stopping it at the end stops no other program's (a `python -m lthlib run` beside the tests).
if os.environ.get("LTHLIB_FRESH_KERNELS") != "1" and not os.environ.get("LTHLIB_WARM_KERNEL_DIR"):
    import atexit
    import shutil
    import tempfile

    from lthlib.core import warm_kernel

    _KERNELSPECS = tempfile.mkdtemp(prefix="lthlib-warm-tests-")
    atexit.register(shutil.rmtree, _KERNELSPECS, True)
    warm_kernel.put_first(_KERNELSPECS)
    os.environ["LTHLIB_WARM_KERNEL_DIR"] = _KERNELSPECS


def pytest_unconfigure(config):
    """The run's last step (the controller's, under xdist): stop the warm-kernel servers
    (one per environment the tests' kernels ran in) rather than leave them to their idle timeout."""
    if os.environ.get("LTHLIB_WARM_KERNEL_DIR") and not os.environ.get("PYTEST_XDIST_WORKER"):
        from lthlib.core import warm_kernel

        warm_kernel.stop_servers(every=True)


# Files whose tests share a module- or session-scoped fixture (a full assignments check, a
# figure's seeds, a built site): one test process runs each of them whole, in order, so the
# fixture is built once.
WHOLE_FILES = {"test_assignments_grading", "test_bad_inputs", "test_cluster",
               "test_notebooks", "test_pai", "test_population", "test_reproduce", "test_site",
               "test_sparse_training", "test_structured_pruning"}
# Files whose tests share work per parameter (test_assignments checks each assignment once
# per process and names it in every test's id): the tests of one parameter run in one process.
PER_PARAMETER_FILES = {"test_assignments"}
# The longest units of work first (`pytest --durations` on the idle 2-core machine: the Ray
# tests ~200 s, the smoke notebooks ~200 s, each assignment's check ~40 s, nbgrader's
# workflow ~60 s, the site and the claims CLI ~20 s), so that no process starts a long file
# while the other has nothing left to take; every other file keeps its place after them.
SLOW_FIRST = ("test_cluster", "test_notebooks", "test_assignments", "test_assignments_workflow", "test_site",
              "test_claims", "test_reproduce", "test_paper_models")


def _stem(nodeid: str) -> str:
    return os.path.splitext(os.path.basename(nodeid.split("::", 1)[0]))[0]


def pytest_collection_modifyitems(config, items):
    """``SLOW_FIRST`` files' tests first, in that order (a stable sort: the order within a file
    and of the other files is kept)."""
    rank = {stem: i for i, stem in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(_stem(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config, log):
    """``WHOLE_FILES`` go to one process each, ``PER_PARAMETER_FILES`` one parameter's tests
    to one process; every other test is handed out on its own, so the processes finish
    together instead of one waiting while the other works through a long file. Units are
    handed out in collection order (``SLOW_FIRST``), not xdist's most-tests-first. (xdist's
    ``--dist loadgroup`` would group with marks, but it renames test ids in a way pytest 9
    no longer supports: its groups were silently ignored.)"""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False

    class WholeFilesScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file, stem = nodeid.split("::", 1)[0], _stem(nodeid)
            if stem in WHOLE_FILES:
                return file
            if stem in PER_PARAMETER_FILES:
                return file + ("::[" + nodeid.rsplit("[", 1)[1] if nodeid.endswith("]") else "")
            return nodeid

    return WholeFilesScheduling(config, log)


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one test process per core this process may use (its affinity mask: a
    container may have fewer than the host's count; not psutil's physical cores)."""
    from lthlib.core.threads import cpu_cores

    return cpu_cores()


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """One results store for the notebooks' and the course site's runs at smoke scale in this pytest
    session, shared by all test processes (the store locks each result: one process computes
    it, the others read it). What a notebook trains is then trained once per session, as a
    course user's second run of the notebooks would find it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # each process's basetemp is a folder (gw0, gw1, ...) of one run's folder
    store = root / "smoke-results"
    store.mkdir(exist_ok=True)
    return store


@pytest.fixture(scope="session")
def mnist1d_small():
    """MNIST-1D with 600 training examples (the real generator, cached under data/)."""
    from lthlib.data.datasets import load_dataset

    return load_dataset("mnist1d", train_size=600, validation_size=200)


@pytest.fixture
def tiny_settings():
    """A few dozen Adam steps of the MNIST-1D MLP, evaluated often."""
    from lthlib.settings import TrainSettings

    return TrainSettings(model="mlp_mnist1d", dataset="mnist1d", iterations=40, eval_every=10,
                         batch_size=32, train_size=600, validation_size=200,
                         model_kwargs={"hidden": (32, 16)})


@pytest.fixture(autouse=True)
def _fixed_threads():
    torch.set_num_threads(1)  # tests may run beside each other; keep processes x threads <= cores
    yield


def write_notebook(path, body: str) -> None:
    """A minimal notebook with a parameters cell (as the CLI fills it) and one code cell."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('SCALE = "quick"\nRESULTS_DIR = None\nFIGURES_DIR = None\nCLAIMS_FILE = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def write_toy_assignment(source, name: str, hidden_tests: str) -> str:
    """A tiny nbgrader assignment (no torch) under ``source/name``: write ``double``, one
    graded test cell (2 points) whose hidden part is ``hidden_tests``. Returns ``name``."""
    import nbformat

    def cell(kind, cid, text, **meta):
        c = nbformat.v4.new_code_cell(text) if kind == "code" else nbformat.v4.new_markdown_cell(text)
        c.metadata["nbgrader"] = {"grade": False, "grade_id": cid, "locked": False, "schema_version": 3,
                                  "solution": False, "task": False, **meta}
        return c

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [cell("markdown", "intro", "# Toy: write `double`", locked=True),
                cell("code", "double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                     solution=True),
                cell("code", "test_double", 'assert double(1) == 2, "double(1) is 2"\n### BEGIN HIDDEN TESTS\n'
                     f"{hidden_tests}\n### END HIDDEN TESTS", grade=True, locked=True, points=2)]
    (source / name).mkdir(parents=True)
    nbformat.write(nb, str(source / name / f"{name}.ipynb"))
    return name


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test drew (pyplot keeps every open figure: a test process that ran
    many plotting tests warned of more than 20 and held their memory)."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
