import pytest
import torch

from lthlib.config import TrainSettings
from lthlib.store import Store, StoreError, atomic_save, load


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
