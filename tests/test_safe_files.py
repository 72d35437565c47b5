"""Files the library reads cannot run code; files it writes are durable, shareable, and
safe with several writers.

Each crafted file below would run a shell command when unpickled the ordinary way (the
first test shows it does); lthlib must refuse every one, name the file, and the command
must not have run.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from lthlib.core.store import Store, StoreError, atomic_save, folder_problem
from lthlib.data.datasets import MNIST1D_SAMPLES, MNIST1D_SEED, load_dataset
from lthlib.engine.training import ALONE_KEY, dense_run, model_for, train
from lthlib.experiments.imp import IMPSettings, run_imp
from lthlib.masks import Mask
from lthlib.models.networks import build_model

REPO = Path(__file__).resolve().parents[1]


class _Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def craft(path: Path, marker: Path, wrap=lambda p: p) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(wrap(_Payload(marker)), path)
    return path


def test_the_crafted_file_really_runs_code_when_unpickled(tmp_path):
    marker = tmp_path / "ran"
    path = craft(tmp_path / "evil.pt", marker)
    torch.load(path, weights_only=False)  # what lthlib never does
    assert marker.exists()


def _refused(call, path: Path, marker: Path) -> None:
    with pytest.raises(StoreError) as info:
        call()
    assert str(path) in str(info.value) and "delete it" in str(info.value)
    assert not marker.exists(), "the crafted file ran code"


def test_store_entry_cannot_run_code(tmp_path, tiny_settings, mnist1d_small):
    store, marker = Store(tmp_path / "results"), tmp_path / "ran"
    path = craft(store.path("dense", tiny_settings, ALONE_KEY), marker,
                 lambda p: {"key": Store.key(tiny_settings, ALONE_KEY), "result": p})
    _refused(lambda: dense_run(tiny_settings, mnist1d_small, store=store), path, marker)


def test_imp_round_cannot_run_code(tmp_path, tiny_settings, mnist1d_small):
    store, marker = Store(tmp_path / "results"), tmp_path / "ran"
    settings = IMPSettings(tiny_settings, rounds=1, controls=())
    key = {"imp": settings.store_key(), "round": 1, "computed_in": "alone"}
    path = craft(store.path("imp_round", key), marker)
    _refused(lambda: run_imp(settings, mnist1d_small, store=store), path, marker)


def test_checkpoint_cannot_run_code(tmp_path, tiny_settings, mnist1d_small):
    marker = tmp_path / "ran"
    path = craft(tmp_path / "run.ckpt", marker)
    model = model_for(tiny_settings, mnist1d_small)
    _refused(lambda: train(model, mnist1d_small, tiny_settings, checkpoint=path, progress=False), path, marker)


def test_dataset_cache_cannot_run_code(tmp_path):
    marker = tmp_path / "ran"
    path = craft(tmp_path / "data" / "mnist1d" / f"mnist1d_n{MNIST1D_SAMPLES}_seed{MNIST1D_SEED}.pt", marker)
    _refused(lambda: load_dataset("mnist1d", root=tmp_path / "data"), path, marker)


def test_mask_file_cannot_run_code(tmp_path):
    marker = tmp_path / "ran"
    path = craft(tmp_path / "mask.pt", marker, lambda p: {"hidden.0.weight": p})
    _refused(lambda: Mask.load(path), path, marker)


def test_a_real_mask_still_loads(tmp_path):
    mask = Mask.ones_like(build_model("mlp_mnist1d", (40,), 10, hidden=(8,)))
    mask.save(tmp_path / "m.pt")
    assert Mask.load(tmp_path / "m.pt") == mask


def test_a_file_of_an_old_pickled_store_is_refused_with_advice(tmp_path, tiny_settings):
    """Version-1 stores pickled Run objects; reading one must say to delete it (a cache)."""
    from lthlib.engine.training import Run

    store = Store(tmp_path)
    path = store.path("dense", tiny_settings, ALONE_KEY)
    path.parent.mkdir(parents=True)
    torch.save({"key": Store.key(tiny_settings, ALONE_KEY), "result": Run(settings={})}, path)
    with pytest.raises(StoreError, match="delete it to recompute"):
        store.get("dense", tiny_settings, ALONE_KEY)


# ------------------------------------------------------------------------- what is written
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_save({"a": torch.ones(2)}, tmp_path / "x.pt")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_saves_are_synced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    atomic_save({"a": torch.ones(2)}, tmp_path / "x.pt")
    assert events[:2] == ["fsync", "replace"]
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]


def test_unwritable_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert folder_problem(tmp_path) == f"{tmp_path} is not writable"
    assert folder_problem(tmp_path / "new") == f"{tmp_path / 'new'} cannot be created: {tmp_path} is not writable"
    with pytest.raises(StoreError, match="not writable"):
        Store(tmp_path)


# ------------------------------------------------------------------------- several writers
WRITER = textwrap.dedent("""
    import json, sys
    import lthlib.engine.training as training
    import lthlib.experiments.imp as imp
    from lthlib.core.store import Store, digest_tensors
    from lthlib.data.datasets import load_dataset
    from lthlib.settings import TrainSettings

    calls = []
    real = training.train
    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    training.train = imp.train = counted

    settings = TrainSettings(model="mlp_mnist1d", iterations=300, eval_every=50, batch_size=32,
                             train_size=600, validation_size=200, model_kwargs={"hidden": (64, 32)})
    data = load_dataset("mnist1d", train_size=600, validation_size=200)
    result = imp.run_imp(imp.IMPSettings(settings, rounds=2, controls=("reinit",)), data,
                         store=Store(sys.argv[1]), progress=False)
    print(json.dumps({"trained": len(calls),
                      "masks": [r.mask.digest() for r in result.rounds],
                      "curves": [r.ticket.curves() for r in result.rounds],
                      "weights": digest_tensors(result.rounds[-1].ticket.final_state)}))
""")


def test_two_processes_sharing_a_store_compute_each_result_once(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    store = tmp_path / "results"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LTHLIB_THREADS": "1", "LTHLIB_WORKERS": "1",
           "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, str(script), str(store)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    results = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    # identical results, and every run trained once in all: dense 1 + 2 rounds x (ticket + reinit)
    assert results[0]["masks"] == results[1]["masks"] and results[0]["curves"] == results[1]["curves"]
    assert results[0]["weights"] == results[1]["weights"]
    assert results[0]["trained"] + results[1]["trained"] == 5
    # no corrupt or temporary file left (empty lock files stay: removing one while another
    # process waits on it would let a third take a second lock), and every file reads back
    leftovers = [p.name for p in store.rglob("*") if p.is_file() and p.suffix not in (".pt", ".lock")]
    assert leftovers == [] and all(p.stat().st_size == 0 for p in store.rglob("*.lock"))
    for path in store.rglob("*.pt"):
        torch.load(path, weights_only=True)
