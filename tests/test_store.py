import pytest
import torch

from lthlib.core.store import Store, StoreError, atomic_save, load
from lthlib.settings import TrainSettings


def test_atomic_save_leaves_only_the_file(tmp_path):
    path = atomic_save({"a": torch.arange(3)}, tmp_path / "sub" / "x.pt")
    assert [p.name for p in path.parent.iterdir()] == ["x.pt"]
    assert torch.equal(load(path)["a"], torch.arange(3))


def test_corrupt_file_is_reported(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(StoreError, match="bad.pt"):
        load(bad)


def test_get_or_compute_computes_once(tmp_path):
    store, calls = Store(tmp_path), []
    s = TrainSettings()
    compute = lambda: calls.append(1) or {"value": 42}  # noqa: E731
    assert store.get_or_compute("dense", s, compute) == {"value": 42}
    assert store.get_or_compute("dense", s, compute) == {"value": 42}
    assert len(calls) == 1
    store.get_or_compute("dense", s.replace(seed=1), compute)
    store.get_or_compute("dense", s, compute, extra={"save_weights_at": [0, 5]})
    assert len(calls) == 3


def test_a_file_for_other_settings_is_never_used(tmp_path):
    store, s = Store(tmp_path), TrainSettings()
    path = store.path("dense", s)
    atomic_save({"key": store.key(s.replace(seed=3)), "result": "wrong"}, path)
    with pytest.raises(StoreError, match="other settings"):
        store.get_or_compute("dense", s, lambda: "right")


def test_no_root_stores_nothing(tmp_path):
    assert Store(None).get_or_compute("dense", TrainSettings(), lambda: 7) == 7


def _stored_run(tmp_path):
    """A dense run stored the way every notebook stores one."""
    from lthlib.data.datasets import load_dataset
    from lthlib.engine.training import dense_run

    data = load_dataset("mnist1d", train_size=200, validation_size=100)
    settings = TrainSettings(model="mlp_mnist1d", iterations=10, eval_every=5, train_size=200,
                             validation_size=100)
    store = Store(tmp_path / "results")
    return data, settings, store, dense_run(settings, data, store=store)


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_a_damaged_entry_is_set_aside_and_recomputed(tmp_path, damage):
    """A partial copy of a results folder, or a disk that filled: the entry is moved aside
    (kept, named in a warning) and the run is computed again, to the same numbers."""
    from lthlib.core.store import DamagedCacheWarning
    from lthlib.engine.training import dense_run

    from lthlib.engine.training import ALONE_KEY

    data, settings, store, first = _stored_run(tmp_path)
    path = store.path("dense", settings, ALONE_KEY)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 3] if damage == "truncated" else b"")
    with pytest.warns(DamagedCacheWarning, match=rf"{path.name}.*moved to {path.name}\.damaged-"):
        again = dense_run(settings, data, store=store)
    assert again.curves() == first.curves()
    assert torch.equal(again.final_state["output.weight"], first.final_state["output.weight"])
    kept = list(path.parent.glob(f"{path.name}.damaged-*"))
    assert len(kept) == 1 and kept[0].stat().st_size == (len(whole) // 3 if damage == "truncated" else 0)
    assert load(path)["key"] == store.key(settings, ALONE_KEY)  # stored again, whole


def test_a_damaged_checkpoint_restarts_the_run(tmp_path):
    from lthlib.core.store import DamagedCacheWarning
    from lthlib.data.datasets import load_dataset
    from lthlib.engine.training import model_for, train

    data = load_dataset("mnist1d", train_size=200, validation_size=100)
    settings = TrainSettings(model="mlp_mnist1d", iterations=10, eval_every=5)
    ref = train(model_for(settings, data), data, settings, progress=False)
    ckpt = tmp_path / "run.ckpt"
    ckpt.write_bytes(b"PK\x03\x04 cut short")
    with pytest.warns(DamagedCacheWarning, match="run.ckpt"):
        run = train(model_for(settings, data), data, settings, checkpoint=ckpt, progress=False)
    assert run.curves() == ref.curves()


def test_a_file_that_is_not_a_torch_archive_is_still_refused(tmp_path):
    """Not set aside: a file that is not lthlib's is refused and left where it is."""
    s = TrainSettings()
    store = Store(tmp_path)
    path = store.path("dense", s)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x80\x04not lthlib's")
    with pytest.raises(StoreError, match="delete it to recompute"):
        store.get("dense", s)
    assert path.exists()


def test_results_of_another_cpu_kernel_set_are_not_reused(tmp_path, monkeypatch):
    """Kernel sets (AVX-512, AVX2, default; another CPU) round differently: a store copied
    from such a machine is computed again here, never mixed with this machine's runs."""
    store, s = Store(tmp_path), TrainSettings()
    here = torch.backends.cpu.get_cpu_capability()
    assert store.key(s)["numerics"]["cpu_kernels"] == here
    store.put("dense", s, {"value": 1})
    other = "DEFAULT" if here != "DEFAULT" else "AVX2"
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: other)
    assert store.get("dense", s) is None and store.path("dense", s).name not in {p.name for p in store.root.rglob("*.pt")}
    monkeypatch.undo()
    assert store.get("dense", s) == {"value": 1}
