"""Dynamic sparse training (SET, RigL) through train's mask_update hook, and static sparse."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lthlib.data.datasets import load_dataset
from lthlib.engine import training
from lthlib.masks import Mask
from lthlib.settings import SettingsError, TrainSettings
from lthlib.methods.sparse_training import (SparseTrainingSettings, SparseUpdater, update_mask,
                                    drop_fraction_at, end_iteration, forward_flops,
                                    initial_sparse_mask, train_sparse, training_flops)
from lthlib.core.streams import generator
from lthlib.engine.training import epoch_order, model_for, train

SEED = 3


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist1d", train_size=600, validation_size=200)


@pytest.fixture(scope="module")
def ts():
    return TrainSettings(model="mlp_mnist1d", iterations=60, eval_every=20, train_size=600,
                         validation_size=200, model_kwargs={"hidden": (32, 16)})


def sparse(method="rigl", **kw):
    base = dict(method=method, density=0.3, distribution="uniform", update_every=10,
                end_fraction=0.75, drop_fraction=0.3)
    base.update(kw)
    return SparseTrainingSettings(**base)


def states_equal(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def runs_equal(a, b):
    return (a.curves() == b.curves() and states_equal(a.final_state, b.final_state)
            and (a.mask is None) == (b.mask is None) and (a.mask is None or states_equal(a.mask, b.mask))
            and a.mask_updates == b.mask_updates)


class Watch:
    """A hook due every step: checks masked weights are zero, then delegates to ``inner``."""

    def __init__(self, inner: SparseUpdater | None = None):
        self.inner, self.needs_gradients, self.steps, self.calls = inner, True, 0, []

    def due(self, t):
        return True

    def __call__(self, t, model, mask, grads):
        params = dict(model.named_parameters())
        for n, m in mask.items():
            assert torch.all(params[n].detach()[~m] == 0), f"masked weight of {n} not zero at step {t}"
            assert grads[n].shape == m.shape
        self.steps += 1
        if self.inner is None or not self.inner.due(t):
            return None
        new = self.inner(t, model, mask, grads)
        self.calls.append({"t": t, "mask": mask, "new": new,
                           "weights": {n: params[n].detach().clone() for n in mask},
                           "grads": {n: g.clone() for n, g in grads.items()}})
        return new


# ------------------------------------------------------------------------------- the hook
def test_without_mask_update_train_is_unchanged(data, ts):
    mask = initial_sparse_mask(model_for(ts, data), sparse(), SEED)
    plain = train(model_for(ts, data), data, ts, mask)
    explicit = train(model_for(ts, data), data, ts, mask, mask_update=None)
    observed = train(model_for(ts, data), data, ts, mask, mask_update=Watch())  # due, returns None
    assert runs_equal(plain, explicit) and runs_equal(plain, observed)
    assert plain.mask_updates == [] and states_equal(plain.mask, mask.state_dict())
    dense = train(model_for(ts, data), data, ts)
    assert dense.mask is None and dense.mask_updates == []


def test_mask_update_needs_a_mask_and_a_fitting_result(data, ts):
    with pytest.raises(ValueError, match="starting mask"):
        train(model_for(ts, data), data, ts, mask_update=lambda *a: None)
    mask = initial_sparse_mask(model_for(ts, data), sparse(), SEED)
    with pytest.raises(ValueError, match="must return a Mask"):
        train(model_for(ts, data), data, ts, mask, mask_update=lambda *a: {"x": 1})


def test_old_runs_without_mask_updates_still_load():
    d = training.Run(settings={}).to_dict()
    del d["mask_updates"]
    assert training.Run.from_dict(d).mask_updates == []


# -------------------------------------------------------------------- SET / RigL in train
@pytest.mark.parametrize("method", ["rigl", "set"])
def test_density_constant_and_masked_weights_zero_at_every_step(data, ts, method):
    s = sparse(method)
    model = model_for(ts, data)
    mask = initial_sparse_mask(model, s, SEED)
    watch = Watch(SparseUpdater(s, ts.iterations, SEED))
    run = train(model, data, ts, mask, mask_update=watch)
    assert watch.steps == ts.iterations
    assert [u["iteration"] for u in run.mask_updates] == [10, 20, 30, 40]  # T_end = 45
    counts = {n: int(t.sum()) for n, t in mask.items()}
    for call, record in zip(watch.calls, run.mask_updates):
        assert {n: int(t.sum()) for n, t in call["new"].items()} == counts
        for n in mask:
            old, new = call["mask"][n], call["new"][n]
            assert record["dropped"][n] == int((old & ~new).sum()) == record["grown"][n]
            # at most the number replaced: a connection dropped and regrown did not change
            assert record["grown"][n] <= int(drop_fraction_at(call["t"], s, ts.iterations) * counts[n] + 0.5)
    assert sum(sum(r["grown"].values()) for r in run.mask_updates) > 0
    final = Mask(run.mask)
    assert final == watch.calls[-1]["new"] and final != mask
    for n, m in final.items():
        assert torch.all(run.final_state[n][~m] == 0)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_grown_weights_start_at_zero_with_zero_optimizer_state(data, ts, monkeypatch, optimizer):
    s = sparse("rigl")
    if optimizer == "sgd":
        ts = ts.replace(optimizer="sgd", momentum=0.9, lr=0.05, weight_decay=1e-4)
    buffers = {"adam": ("exp_avg", "exp_avg_sq"), "sgd": ("momentum_buffer",)}[optimizer]
    real = training._change_mask
    seen = []

    def checked(masked, names, old, new, opt, iteration):
        record = real(masked, names, old, new, opt, iteration)
        for n, (p, m) in zip(names, masked):
            grown = new[n] & ~old[n]
            changed = new[n] ^ old[n]
            assert torch.equal(m.bool(), new[n])
            assert torch.all(p.detach()[changed] == 0)
            state = opt.state[p]
            for b in buffers:
                assert torch.all(state[b][changed] == 0) and torch.any(state[b][new[n] & old[n]] != 0)
            seen.append(int(grown.sum()))
        return record

    monkeypatch.setattr(training, "_change_mask", checked)
    mask = initial_sparse_mask(model_for(ts, data), s, SEED)
    run = train_sparse(model_for(ts, data), data, ts, s, seed=SEED)
    assert len(run.mask_updates) == 4
    assert len(seen) == 4 * len(mask) and sum(seen) > 0


def test_rigl_grows_exactly_the_top_dense_gradient_positions(data, ts):
    s = sparse("rigl")
    model = model_for(ts, data)
    mask = initial_sparse_mask(model, s, SEED)
    watch = Watch(SparseUpdater(s, ts.iterations, SEED))
    run = train(model, data, ts, mask, mask_update=watch, save_weights_at=[9])
    call = watch.calls[0]
    assert call["t"] == 10
    # the dense gradient of step 9 -> 10, by hand: the weights after 9 steps on that batch
    net = model_for(ts, data)
    net.load_state_dict(run.weights_at[9])
    epoch, offset = divmod(9, len(data.y_train) // ts.batch_size)
    idx = epoch_order(len(data.y_train), ts.order_seed, epoch, data.x_train.device)
    idx = idx[offset * ts.batch_size:(offset + 1) * ts.batch_size]
    F.cross_entropy(net(data.x_train[idx]), data.y_train[idx]).backward()
    params = dict(net.named_parameters())
    fraction = 0.3 / 2 * (1 + math.cos(math.pi * 10 / 45))
    for n, old in call["mask"].items():
        assert torch.allclose(call["grads"][n], params[n].grad, atol=1e-7, rtol=1e-5)
        assert torch.any(call["grads"][n][~old] != 0)  # dense: masked positions have gradients
        w, g = call["weights"][n].flatten(), call["grads"][n].abs().flatten()
        active, inactive = old.flatten().nonzero().flatten().tolist(), (~old).flatten().nonzero().flatten().tolist()
        k = int(fraction * len(active) + 0.5)
        drop = sorted(active, key=lambda i: (float(w[i].abs()), i))[:k]
        grow = sorted(inactive + drop, key=lambda i: (-float(g[i]), i))[:k]  # RigL: the dropped compete too
        expected = old.flatten().clone()
        expected[drop] = False
        expected[grow] = True
        assert torch.equal(call["new"][n].flatten(), expected)


def test_set_grows_random_positions_from_the_stream():
    torch.manual_seed(0)
    weights = {"a.weight": torch.randn(8, 10), "b.weight": torch.randn(4, 8)}
    mask = Mask({n: torch.rand(w.shape) < 0.4 for n, w in weights.items()})
    model = torch.nn.Module()
    model.a, model.b = torch.nn.Linear(10, 8, bias=False), torch.nn.Linear(8, 4, bias=False)
    with torch.no_grad():
        model.a.weight.copy_(weights["a.weight"] * mask["a.weight"])
        model.b.weight.copy_(weights["b.weight"] * mask["b.weight"])
    s = sparse("set", update_every=10)
    new = {seed: SparseUpdater(s, 100, seed)(20, model, mask, None) for seed in (0, 0, 1)}
    again = SparseUpdater(s, 100, 0)(20, model, mask, None)
    assert new[0] == again and new[0] != new[1]
    g = generator(0, "sparse_grow", 2)
    fraction = drop_fraction_at(20, s, 100)
    for n, old in mask.items():
        draws = torch.rand(old.shape, generator=g).flatten()
        k = int(fraction * int(old.sum()) + 0.5)
        w = weights[n].flatten().abs()
        drop = sorted(old.flatten().nonzero().flatten().tolist(), key=lambda i: (float(w[i]), i))[:k]
        candidates = (~old).flatten().nonzero().flatten().tolist() + drop  # not active after the drop
        grow = sorted(candidates, key=lambda i: (-float(draws[i]), i))[:k]
        assert k > 0 and all(bool(new[0][n].flatten()[i]) for i in grow)
        assert int(new[0][n].sum()) == int(old.sum())


def test_set_runs_are_deterministic_per_seed_and_differ_across_seeds(data, ts):
    s = sparse("set")
    a = train_sparse(model_for(ts, data), data, ts, s, seed=SEED)
    b = train_sparse(model_for(ts, data), data, ts, s, seed=SEED)
    c = train_sparse(model_for(ts, data), data, ts, s, seed=SEED + 1)
    assert runs_equal(a, b)
    assert not states_equal(a.mask, c.mask)


def test_cosine_drop_fraction_and_no_updates_after_t_end():
    s = sparse(drop_fraction=0.3, end_fraction=0.75)
    assert end_iteration(s, 1000) == 750
    assert drop_fraction_at(0, s, 1000) == pytest.approx(0.3)
    assert drop_fraction_at(375, s, 1000) == pytest.approx(0.15)
    assert drop_fraction_at(750, s, 1000) == 0.0 and drop_fraction_at(999, s, 1000) == 0.0
    values = [drop_fraction_at(t, s, 1000) for t in range(0, 751, 50)]
    assert values == sorted(values, reverse=True)
    up = SparseUpdater(s.replace(update_every=100), 1000, 0)
    assert up.update_iterations() == [100, 200, 300, 400, 500, 600, 700]
    assert not up.due(0) and not up.due(800) and not up.due(1000)


def test_static_equals_train_with_the_fixed_mask(data, ts):
    s = sparse("static", distribution="erk")
    run = train_sparse(model_for(ts, data), data, ts, s, seed=SEED)
    mask = initial_sparse_mask(model_for(ts, data), s, SEED)
    assert runs_equal(run, train(model_for(ts, data), data, ts, mask))
    assert run.mask_updates == [] and mask.density() == pytest.approx(0.3, abs=0.01)


def test_interrupted_rigl_run_resumes_bit_for_bit(data, ts, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "0")  # a checkpoint at every evaluation
    s = sparse("rigl")
    reference = train_sparse(model_for(ts, data), data, ts, s, seed=SEED)
    ckpt = tmp_path / "rigl.ckpt"
    real_evaluate, calls = training.evaluate, {"n": 0}

    def dying_evaluate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3 * 2:  # dies while evaluating iteration 40 (checkpoint at 20)
            raise KeyboardInterrupt("simulated kill")
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", dying_evaluate)
    with pytest.raises(KeyboardInterrupt):
        train_sparse(model_for(ts, data), data, ts, s, seed=SEED, checkpoint=ckpt)
    assert ckpt.exists()
    monkeypatch.setattr(training, "evaluate", real_evaluate)
    resumed = train_sparse(model_for(ts, data), data, ts, s, seed=SEED, checkpoint=ckpt)
    assert not ckpt.exists()
    assert runs_equal(resumed, reference) and len(resumed.mask_updates) == 4


def test_checkpoint_of_a_run_with_another_mask_update_is_refused(data, ts, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "0")  # a checkpoint at every evaluation
    from lthlib.core.store import StoreError

    s = sparse("rigl")
    ckpt = tmp_path / "rigl.ckpt"
    monkeypatch.setattr(training, "evaluate", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())
                        if ckpt.exists() else (1.0, 0.1))
    with pytest.raises(KeyboardInterrupt):
        train_sparse(model_for(ts, data), data, ts, s, seed=SEED, checkpoint=ckpt)
    mask = initial_sparse_mask(model_for(ts, data), s, SEED)
    with pytest.raises(StoreError, match="mask_update"):
        train(model_for(ts, data), data, ts, mask, checkpoint=ckpt)


# ---------------------------------------------------------------------------------- cost
def test_flops_of_linear_and_conv_layers_and_of_rigl_updates():
    net = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 8, 5))
    dense = forward_flops(net, (1, 10))
    assert dense == {"0.weight": 12 * 8, "2.weight": 32 * 5}
    mask = Mask({"0.weight": torch.arange(12).reshape(4, 1, 3) < 6, "2.weight": torch.ones(5, 32, dtype=torch.bool)})
    assert forward_flops(net, (1, 10), mask) == {"0.weight": 6 * 8, "2.weight": 32 * 5}
    f_s, f_d = 6 * 8 + 160, 96 + 160
    assert training_flops(net, (1, 10), 1000, 2) == 3 * f_d * 1000 * 2
    assert training_flops(net, (1, 10), 1000, 2, mask, sparse("set", update_every=100)) == 3 * f_s * 1000 * 2
    rigl = training_flops(net, (1, 10), 1000, 2, mask, sparse("rigl", update_every=100))
    assert rigl == (3 * f_s * 1000 + 7 * (f_d - f_s)) * 2  # updates at 100, ..., 700 (T_end 750)


# ------------------------------------------------------------------------------ settings
@pytest.mark.parametrize("change, match", [
    ({"method": "snip"}, "method"), ({"distribution": "normal"}, "distribution"),
    ({"density": 0.0}, "density"), ({"density": 1.5}, "density"), ({"density": "0.1"}, "density"),
    ({"update_every": 0}, "update_every"), ({"update_every": 2.5}, "update_every"),
    ({"end_fraction": 0.0}, "end_fraction"), ({"end_fraction": 1.2}, "end_fraction"),
    ({"drop_fraction": 1.0}, "drop_fraction"), ({"drop_fraction": -0.1}, "drop_fraction"),
    ({"drop_fraction": math.nan}, "drop_fraction"), ({"dense_first_layer": 1}, "dense_first_layer"),
])
def test_bad_settings_are_refused_clearly(change, match):
    with pytest.raises(SettingsError, match=match):
        sparse(**change)


def test_store_key_of_settings_without_a_dense_first_layer_is_unchanged():
    assert "dense_first_layer" not in sparse().to_dict()  # runs stored before the option stay valid
    assert sparse(dense_first_layer=True).to_dict()["dense_first_layer"] is True


def test_bad_updater_arguments():
    with pytest.raises(SettingsError, match="static"):
        SparseUpdater(sparse("static"), 100, 0)
    with pytest.raises(SettingsError, match="iterations"):
        SparseUpdater(sparse(), 0, 0)
    with pytest.raises(SettingsError, match="unknown"):
        sparse().replace(alpha=0.3)
    with pytest.raises(TypeError, match="SparseTrainingSettings"):
        initial_sparse_mask(torch.nn.Linear(2, 2), {"method": "rigl"}, 0)


def test_run_sparse_stores_each_run_and_reads_it_back(tmp_path, monkeypatch):
    """``run_sparse`` trains each (settings, seed) once, stores it under the sparse settings,
    and a second call reads every run back without training."""
    from lthlib.core.store import Store
    from lthlib.methods import sparse_training
    from lthlib.methods.sparse_training import run_sparse

    data = load_dataset("mnist1d", train_size=600, validation_size=200)
    ts = TrainSettings(model="mlp_mnist1d", iterations=30, eval_every=10, train_size=600,
                       validation_size=200, model_kwargs={"hidden": (32, 16)})
    methods = [SparseTrainingSettings(method=m, density=0.2, update_every=10) for m in ("static", "rigl")]
    store = Store(tmp_path)
    seeds = [0, 1, 2, 3]  # each setting: two batched passes of two seeds
    first = run_sparse(ts, data, methods, seeds, store=store)
    assert len(list((tmp_path / "sparse").glob("*.pt"))) == 8
    assert first[(methods[1], 0)].mask_updates and not first[(methods[0], 0)].mask_updates
    from lthlib.engine import members, population

    for module, name in ((sparse_training, "train_sparse"), (members, "train")):
        monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("retrained"))
    monkeypatch.setattr(population._Population, "run", lambda self: pytest.fail("retrained"))
    again = run_sparse(ts, data, methods, seeds, store=store)
    for key, run in first.items():
        assert again[key].curves() == run.curves() and Mask(again[key].mask) == Mask(run.mask)
    # one setting asked for alone is the same result as asked for with others (notebook 08
    # reads notebook 07's RigL runs): each setting's seeds form their own passes
    alone = run_sparse(ts, data, methods[1:], seeds, store=store)
    assert all(alone[(methods[1], s)].curves() == first[(methods[1], s)].curves() for s in seeds)


def test_run_sparse_in_populations_trains_what_train_sparse_trains(tmp_path):
    """The runs the store lacks train as populations in worker processes
    (``lthlib.engine.passes``): what ``train_sparse`` gives alone, to float rounding
    (``tests/test_population.py`` derives the tolerances), with the same mask updates and
    final masks, with or without a store."""
    from same_run import assert_same_run

    from lthlib.core.store import Store
    from lthlib.methods.sparse_training import run_sparse

    data = load_dataset("mnist1d", train_size=600, validation_size=200)
    ts = TrainSettings(model="mlp_mnist1d", iterations=30, eval_every=10, train_size=600,
                       validation_size=200, model_kwargs={"hidden": (32, 16)})
    methods = [SparseTrainingSettings(method=m, density=0.2, update_every=10) for m in ("static", "set", "rigl")]
    seeds = (0, 3)
    for store in (Store(tmp_path), None):
        runs = run_sparse(ts, data, methods, seeds, store=store, workers=2)
        assert list(runs) == [(m, s) for m in methods for s in seeds]
        for (ss, seed), run in runs.items():
            here = train_sparse(model_for(ts.replace(seed=seed), data), data, ts.replace(seed=seed), ss, seed=seed,
                                progress=False)
            assert run.mask_updates == here.mask_updates and len(here.mask_updates) == (0 if ss.method == "static" else 2)
            assert_same_run(run, here.without_weights())  # stored without weights


def test_a_rigl_update_can_regrow_a_connection_it_just_dropped():
    """RigL (Evci et al. 2020, Algorithm 1; google-research/rigl ``_get_update_op``) grows
    among every position not active after the drop: a weight dropped for its small
    magnitude but with the largest gradient comes straight back. It was never off, so, as
    in the authors' code (``reinit_when_same=False``), it keeps its weight and momentum."""
    mask = Mask({"w": torch.tensor([True, True, True, False, False])})
    weights = {"w": torch.tensor([0.01, 0.5, 0.9, 0.0, 0.0])}
    grads = {"w": torch.tensor([9.0, 0.0, 0.0, 1.0, 2.0])}  # the dropped one has the largest gradient
    new = update_mask(mask, weights, {n: g.abs() for n, g in grads.items()}, fraction=0.34)
    assert new["w"].tolist() == [True, True, True, False, False]  # position 0 dropped, then regrown
    two = update_mask(mask, weights, {n: g.abs() for n, g in grads.items()}, fraction=0.67)
    assert two["w"].tolist() == [True, False, True, False, True]  # drops 0 and 1, grows 0 and 4
    p = torch.nn.Parameter(weights["w"].clone())
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = torch.ones(5)
    opt.step()
    before = p.detach().clone()
    record = training._change_mask([(p, mask["w"].float())], ["w"], mask, two, opt, 10)
    assert p[0] == before[0] and opt.state[p]["momentum_buffer"][0] != 0.0  # regrown: as it was
    assert p[1] == 0.0 and p[4] == 0.0 and opt.state[p]["momentum_buffer"][4] == 0.0  # dropped, new
    assert record["dropped"] == {"w": 1} and record["grown"] == {"w": 1}
