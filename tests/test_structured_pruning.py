"""Structured IMP: whole neurons removed, nested across levels, rewound to initialisation."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lthlib.core.store import Store
from lthlib.engine import passes
from lthlib.engine.training import model_for, train
from lthlib.masks import Mask
from lthlib.methods.structured_pruning import run_structured


@pytest.fixture(scope="module")
def dense_results(mnist1d_small):
    from lthlib.settings import TrainSettings

    out = []
    for seed in (0, 1):
        ts = TrainSettings(model="mlp_mnist1d", iterations=40, eval_every=10, batch_size=32, train_size=600,
                           validation_size=200, model_kwargs={"hidden": (32, 16)}, seed=seed)
        run = train(model_for(ts, mnist1d_small), mnist1d_small, ts, save_weights_at=[0])
        out.append(SimpleNamespace(dense=run))
    return out


def test_structured_levels_remove_whole_neurons_nested_and_rewound(mnist1d_small, dense_results, tmp_path, monkeypatch):
    store = Store(tmp_path)
    runs = run_structured(dense_results, mnist1d_small, [0.5, 0.2], store=store, workers=1)
    assert set(runs) == {(0.5, 0), (0.5, 1), (0.2, 0), (0.2, 1)}
    for seed in (0, 1):
        hi, lo = Mask(runs[0.5, seed].mask), Mask(runs[0.2, seed].mask)
        assert abs(hi.density() - 0.5) < 0.05 and abs(lo.density() - 0.2) < 0.05
        for m in (hi, lo):
            rows = m["hidden.0.weight"].all(1)  # a unit is kept whole or removed whole
            assert torch.equal(rows | ~m["hidden.0.weight"].any(1), torch.ones_like(rows))
            assert torch.equal(m["hidden.1.weight"].any(0), rows)  # the next layer reads only kept units
            assert torch.equal(m["output.weight"].all(0), m["hidden.1.weight"].any(1))  # reads the kept units
            assert m["output.weight"].any(1).all()  # output neurons are never removed
        assert torch.all(hi["hidden.0.weight"] | ~lo["hidden.0.weight"])  # nested: lower level inside higher
        for name, keep in lo.items():
            assert torch.all(runs[0.2, seed].final_state[name][~keep] == 0)
    # level 0.2 of seed 1 is train from the initial weights with that mask (rewound to 0)
    res = dense_results[1]
    alone = train(model_for(res.dense.train_settings, mnist1d_small), mnist1d_small, res.dense.train_settings,
                  Mask(runs[0.2, 1].mask))
    assert np.allclose(alone.test_loss, runs[0.2, 1].test_loss, atol=1e-5)  # float32 rounding (tests/test_population.py)

    def no_training(*a, **k):
        raise AssertionError("stored runs must be read, not retrained")
    monkeypatch.setattr(passes, "train_passes", lambda members, passes, *a, **k: no_training() if passes else {})
    again = run_structured(dense_results, mnist1d_small, [0.2, 0.5], store=store)
    assert again[0.2, 0].test_loss == runs[0.2, 0].test_loss


def test_bad_densities_are_refused(mnist1d_small, dense_results):
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        run_structured(dense_results, mnist1d_small, [1.0])
