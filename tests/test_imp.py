import pytest
import torch

import lthlib.experiments.imp as imp
from lthlib.core.store import Store, StoreError
from lthlib.experiments.imp import IMPSettings, imp_for_scale, run_imp
from lthlib.masks import Mask
from lthlib.settings import SettingsError


@pytest.fixture
def imp_settings(tiny_settings):
    return IMPSettings(tiny_settings, rounds=2, rewind_iteration=0, rate=0.5, output_rate=0.25,
                       controls=("reinit", "random_mask", "one_shot"))


def survivors_equal(state, reference, mask):
    return all(torch.equal(state[n][m], reference[n][m]) for n, m in mask.items())


@pytest.mark.parametrize("k", [0, 15])
def test_tickets_start_from_the_stored_iteration_k_weights(mnist1d_small, imp_settings, k):
    result = run_imp(imp_settings.replace(rewind_iteration=k), mnist1d_small)
    rewind = result.dense.weights_at[k]
    if k == 0:
        assert all(torch.equal(rewind[n], result.init_state[n]) for n in rewind)
    for rnd in result.rounds:
        start = rnd.ticket.weights_at[k]
        assert survivors_equal(start, rewind, rnd.mask)
        for name, keep in rnd.mask.items():
            assert torch.all(start[name][~keep] == 0) and torch.all(rnd.ticket.final_state[name][~keep] == 0)
        assert rnd.ticket.iterations[0] == k  # trained from k, not from 0


def test_layerwise_rates_per_round(mnist1d_small, imp_settings):
    result = run_imp(imp_settings, mnist1d_small)
    counts = [{n: int(t.sum()) for n, t in r.mask.items()} for r in result.rounds]
    assert counts[0] == {"hidden.0.weight": 640, "hidden.1.weight": 256, "output.weight": 120}
    assert counts[1] == {"hidden.0.weight": 320, "hidden.1.weight": 128, "output.weight": 90}
    previous = result.rounds[0].mask
    assert not any(torch.any(result.rounds[1].mask[n] & ~previous[n]) for n in previous)


def test_controls_are_what_they_claim(mnist1d_small, imp_settings):
    result = run_imp(imp_settings, mnist1d_small)
    init = result.init_state
    for rnd in result.rounds:
        ticket_mask = rnd.mask
        reinit, rand, one_shot = (rnd.controls[k] for k in ("reinit", "random_mask", "one_shot"))
        # random reinit: the same mask, other initial weights
        assert Mask(reinit.mask) == ticket_mask
        assert all(not torch.equal(reinit.weights_at[0][n][m], init[n][m]) for n, m in ticket_mask.items())
        # random pruning: the same per-layer counts, another mask, the original initial weights
        rand_mask = Mask(rand.mask)
        assert {n: int(t.sum()) for n, t in rand_mask.items()} == {n: int(t.sum()) for n, t in ticket_mask.items()}
        assert rand_mask != ticket_mask
        assert survivors_equal(rand.weights_at[0], init, rand_mask)
        # one-shot: the same per-layer counts, pruned from the dense trained weights in one step
        os_mask = Mask(one_shot.mask)
        assert {n: int(t.sum()) for n, t in os_mask.items()} == {n: int(t.sum()) for n, t in ticket_mask.items()}
        dense = result.dense.final_state
        for n, m in os_mask.items():
            assert dense[n][m].abs().min() >= dense[n][~m].abs().max()


def test_interrupted_imp_resumes_to_the_same_result(mnist1d_small, imp_settings, tmp_path, monkeypatch):
    settings = imp_settings.replace(controls=("random_mask",))
    reference = run_imp(settings, mnist1d_small, store=Store(tmp_path / "a"))

    calls = {"n": 0}
    real_train = imp.train

    def dying_train(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # round-1 ticket and control, round-2 ticket; dies in the control
            raise KeyboardInterrupt("kernel killed")
        return real_train(*args, **kwargs)

    monkeypatch.setattr(imp, "train", dying_train)
    with pytest.raises(KeyboardInterrupt):
        run_imp(settings, mnist1d_small, store=Store(tmp_path / "b"))
    calls["n"] = -100  # no more deaths; count what the resumed run trains
    resumed = run_imp(settings, mnist1d_small, store=Store(tmp_path / "b"))
    assert calls["n"] == -100 + 1  # only the unfinished run (round-2 control) was trained again
    for a, b in zip(reference.rounds, resumed.rounds):
        assert a.mask == b.mask
        assert a.ticket.curves() == b.ticket.curves()
        assert a.controls["random_mask"].curves() == b.controls["random_mask"].curves()
    # a finished run loads without training at all
    calls["n"] = 0
    run_imp(settings, mnist1d_small, store=Store(tmp_path / "b"))
    assert calls["n"] == 0


def test_more_rounds_extend_a_stored_run(mnist1d_small, imp_settings, tmp_path, monkeypatch):
    settings = imp_settings.replace(controls=())
    store = Store(tmp_path)
    run_imp(settings, mnist1d_small, store=store)
    calls = []
    real_train = imp.train
    monkeypatch.setattr(imp, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    longer = run_imp(settings.replace(rounds=3), mnist1d_small, store=store)
    assert len(longer.rounds) == 3 and len(calls) == 1


def test_corrupt_or_foreign_round_files_are_reported(mnist1d_small, imp_settings, tmp_path):
    settings = imp_settings.replace(controls=())
    store = Store(tmp_path)
    run_imp(settings, mnist1d_small, store=store)
    alone = "alone"  # trained by run_imp one run at a time
    round_2 = store.path("imp_round", {"imp": settings.store_key(), "round": 2, "computed_in": alone})
    round_1 = store.path("imp_round", {"imp": settings.store_key(), "round": 1, "computed_in": alone})
    saved = round_2.read_bytes()
    round_2.write_bytes(b"garbage")
    with pytest.raises(StoreError, match=round_2.name):
        run_imp(settings, mnist1d_small, store=store)
    round_2.write_bytes(round_1.read_bytes())  # a copied file: another round's key
    with pytest.raises(StoreError, match="other settings"):
        run_imp(settings, mnist1d_small, store=store)
    round_2.write_bytes(saved)
    run_imp(settings, mnist1d_small, store=store)


@pytest.mark.parametrize("changes, fragment", [
    (dict(rounds=0), "rounds"), (dict(rate=1.0), "rate"), (dict(rewind_iteration=40), "rewind_iteration"),
    (dict(controls=("shuffle",)), "controls"), (dict(scope="local"), "scope"),
])
def test_bad_imp_settings(imp_settings, changes, fragment):
    with pytest.raises(SettingsError, match=fragment):
        imp_settings.replace(**changes)


def test_scale_presets(tiny_settings):
    paper = imp_for_scale("paper", tiny_settings.replace(model="lenet300_100", dataset="mnist", model_kwargs={}))
    assert (paper.rate, paper.output_rate, paper.scope) == (0.2, 0.1, "layerwise")
    conv6 = imp_for_scale("paper", tiny_settings.replace(model="conv6", dataset="cifar10", model_kwargs={}))
    assert conv6.conv_rate == 0.15
    resnet = imp_for_scale("paper", tiny_settings.replace(model="resnet20", dataset="cifar10", model_kwargs={}))
    assert resnet.scope == "global"
    assert imp_for_scale("quick", tiny_settings).rounds == 6


def test_parallel_seeds_match_single_threaded_runs(mnist1d_small, imp_settings, tmp_path):
    """Workers and the process itself compute with the same thread count (lthlib.core.threads),
    so results do not depend on where they were computed."""
    from lthlib.experiments.imp import run_imp_seeds

    settings = imp_settings.replace(rounds=1, controls=("random_mask",))
    parallel = run_imp_seeds(settings, [0, 1], mnist1d_small, store=Store(tmp_path), workers=2, batched=False)
    torch.set_num_threads(2)  # the caller's own count does not matter
    for seed, result in zip([0, 1], parallel):
        alone = run_imp(settings.with_seed(seed), mnist1d_small)
        assert result.settings.train.seed == seed
        assert alone.rounds[0].mask == result.rounds[0].mask
        assert alone.rounds[0].ticket.curves() == result.rounds[0].ticket.curves()
    assert parallel[0].rounds[0].mask != parallel[1].rounds[0].mask
    # both seeds' dense runs and rounds were stored by the workers
    assert len(list((tmp_path / "dense").glob("*.pt"))) == 2
    assert len(list((tmp_path / "imp_round").glob("*.pt"))) == 2


def test_rewinding_presets():
    from lthlib.experiments.rewinding import rewinding_for_scale

    quick = rewinding_for_scale("quick")
    ks, train = quick.ks, quick.imp.train
    assert ks[0] == 0 and len(ks) >= 5 and all(k < train.iterations for k in ks)
    assert (train.optimizer, train.lr, train.momentum) == ("sgd", 0.1, 0.9)
    assert set(quick.imp.controls) == {"reinit", "reinit_full", "random_mask"}
    assert quick.claim_k in ks and quick.control_ks == (0, quick.claim_k)
    assert quick.seeds(6)[0] >= 6  # reported seeds are not the selection seeds 0-5
    paper = rewinding_for_scale("paper")
    assert (paper.imp.train.model, paper.imp.train.dataset, paper.imp.scope) == ("resnet20", "cifar10", "global")
    assert paper.imp.train.lr_milestones == (32_000, 48_000) and 0 in paper.ks


def test_rewind_sweep_runs_each_k(mnist1d_small, imp_settings):
    from lthlib.experiments.rewinding import run_rewind_sweep

    sweep = run_rewind_sweep(imp_settings.replace(rounds=1, controls=()), [0, 10], [0], mnist1d_small,
                             workers=1)
    assert sorted(sweep) == [0, 10]
    assert sweep[10][0].settings.rewind_iteration == 10
    assert sweep[10][0].rounds[0].ticket.iterations[0] == 10
    # one dense run serves every k: the same object, with the weights at both k
    assert sweep[0][0].dense is sweep[10][0].dense
    assert {0, 10} <= set(sweep[0][0].dense.weights_at)


def test_the_dense_run_is_trained_once_for_every_k_and_notebook(mnist1d_small, imp_settings, tmp_path,
                                                                 monkeypatch):
    from lthlib.engine import training
    from lthlib.experiments.rewinding import run_rewind_sweep

    calls = []
    real_train = training.train
    monkeypatch.setattr(training, "train", lambda *a, **k: calls.append(a[2].seed) or real_train(*a, **k))
    store = Store(tmp_path)
    settings = imp_settings.replace(rounds=1, controls=())
    run_rewind_sweep(settings, [0, 10, 20], [0, 1], mnist1d_small, store=store, workers=1, batched=False)
    assert sorted(calls) == [0, 1]  # one dense run per seed, not per (k, seed)
    dense = training.dense_runs(settings.train, [0, 1], mnist1d_small, store=store)
    assert sorted(calls) == [0, 1]  # dense_runs reuses what IMP stored
    # a new k the stored run lacks retrains it once, and it comes out the same
    again = run_imp(settings.replace(rewind_iteration=5), mnist1d_small, store=store)
    assert sorted(calls) == [0, 0, 1]
    assert again.dense.curves() == dense[0].curves() and 5 in again.dense.weights_at


def test_other_controls_reuse_the_stored_tickets(mnist1d_small, imp_settings, tmp_path, monkeypatch):
    store = Store(tmp_path)
    first = run_imp(imp_settings.replace(controls=()), mnist1d_small, store=store)
    calls = []
    real_train = imp.train
    monkeypatch.setattr(imp, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    more = run_imp(imp_settings.replace(controls=("reinit",)), mnist1d_small, store=store)
    assert len(calls) == 2  # one reinit control per round; dense and tickets were stored
    assert first.rounds[1].ticket.curves() == more.rounds[1].ticket.curves()
    assert set(more.rounds[0].controls) == {"reinit"}


def test_controls_that_start_identically_are_trained_once(mnist1d_small, imp_settings, monkeypatch):
    """At k = 0 the reinit control trained from k and the one trained all T iterations are
    the same run; at k > 0 they differ in start iteration and length."""
    calls = []
    real_train = imp.train
    monkeypatch.setattr(imp, "train", lambda *a, **k: calls.append(k["start_iteration"]) or real_train(*a, **k))
    settings = imp_settings.replace(rounds=1, controls=("reinit", "reinit_full"))
    at_0 = run_imp(settings, mnist1d_small)
    assert len(calls) == 2  # ticket + one reinit run
    assert at_0.rounds[0].controls["reinit"].curves() == at_0.rounds[0].controls["reinit_full"].curves()
    calls.clear()
    at_10 = run_imp(settings.replace(rewind_iteration=10), mnist1d_small)
    assert sorted(calls) == [0, 10, 10]
    full, from_k = at_10.rounds[0].controls["reinit_full"], at_10.rounds[0].controls["reinit"]
    assert full.iterations[0] == 0 and from_k.iterations[0] == 10
    assert torch.equal(full.weights_at[0]["hidden.0.weight"], from_k.weights_at[10]["hidden.0.weight"])  # same weights


def test_control_rounds_limit_where_controls_train_and_share_the_tickets(mnist1d_small, imp_settings, tmp_path,
                                                                         monkeypatch):
    calls = []
    real_train = imp.train
    monkeypatch.setattr(imp, "train", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    store = Store(tmp_path)
    only_2 = run_imp(imp_settings.replace(controls=("random_mask",), control_rounds=(2,)), mnist1d_small, store=store)
    assert len(calls) == 3  # two tickets, one control
    assert only_2.rounds[0].controls == {} and set(only_2.rounds[1].controls) == {"random_mask"}
    calls.clear()
    every = run_imp(imp_settings.replace(controls=("random_mask",)), mnist1d_small, store=store)
    assert len(calls) == 1  # only round 1's control was missing
    assert every.rounds[1].controls["random_mask"].curves() == only_2.rounds[1].controls["random_mask"].curves()


def test_metrics_of_a_control_trained_in_some_rounds_only(mnist1d_small, imp_settings):
    import math

    result = run_imp(imp_settings.replace(controls=("reinit",), control_rounds=(2,)), mnist1d_small)
    acc = result.metric("reinit", at="final")
    assert math.isnan(acc[1]) and acc[2] == result.rounds[1].controls["reinit"].final("test_acc")
    with pytest.raises(KeyError, match="random_mask"):
        result.metric("random_mask")


def test_lockstep_population_matches_runs_alone(mnist1d_small, imp_settings, tmp_path):
    """Seeds x rewind iterations in lock-step (one population per round, split over two
    processes): the same masks and, to float32 rounding, the same curves as each run alone;
    every round stored, and a second call trains nothing."""
    from lthlib.experiments.imp import IMPResult
    from lthlib.experiments.rewinding import run_rewind_sweep

    settings = imp_settings.replace(rounds=2, controls=("reinit", "random_mask"))
    sweep = run_rewind_sweep(settings, [0, 5], [0, 1], mnist1d_small, store=Store(tmp_path), workers=2)
    for k, results in sweep.items():
        for seed, result in zip([0, 1], results):
            alone = run_imp(settings.replace(rewind_iteration=k).with_seed(seed), mnist1d_small)
            for a, b in zip(alone.rounds, result.rounds):
                assert a.mask == b.mask
                for kind in ("ticket", "reinit", "random_mask"):
                    ra, rb = IMPResult.run(a, kind), IMPResult.run(b, kind)
                    assert ra.iterations == rb.iterations and ra.start_iteration == rb.start_iteration
                    assert max(abs(x - y) for x, y in zip(ra.val_loss, rb.val_loss)) < 1e-4
    assert len(list((tmp_path / "imp_round").glob("*.pt"))) == 8
    calls = []
    import lthlib.engine.passes as passes

    original = passes.train_members
    passes.train_members = lambda members, *a, **k: calls.append(len(members)) or original(members, *a, **k)
    try:
        again = run_rewind_sweep(settings, [0, 5], [0, 1], mnist1d_small, store=Store(tmp_path), workers=2)
    finally:
        passes.train_members = original
    assert sum(calls) == 0 and again[5][1].rounds[1].mask == sweep[5][1].rounds[1].mask


def test_lockstep_extends_a_stored_dense_run_without_changing_it(mnist1d_small, imp_settings, tmp_path):
    """A later sweep of the same seeds asking for a new rewind iteration adds its weights to
    the stored dense runs (the same passes: the same numbers) and keeps their final
    weights, so the rounds stored from them stay consistent."""
    from lthlib.experiments.imp import run_imp_seeds

    store = Store(tmp_path)
    settings = imp_settings.replace(rounds=2, controls=())
    first = run_imp_seeds(settings, [0, 1, 2], mnist1d_small, store=store)
    run_imp_seeds(settings.replace(rewind_iteration=5), [0, 1, 2], mnist1d_small, store=store)
    again = run_imp_seeds(settings, [0, 1, 2], mnist1d_small, store=store)  # would raise StoreError
    for a, b in zip(first, again):
        assert a.dense.curves() == b.dense.curves() and a.rounds[1].mask == b.rounds[1].mask
    assert 5 in again[0].dense.weights_at


def _same_numbers(a, b) -> bool:
    return a.curves() == b.curves() and all(torch.equal(a.final_state[k], b.final_state[k]) for k in b.final_state)


def test_results_do_not_depend_on_what_the_store_held(mnist1d_small, tiny_settings, tmp_path):
    """IMP seeds on an empty store, and the same after the dense runs were stored one by one
    (as notebook 01 stores them): bit for bit the same dense runs and tickets. (A batched
    member's last bits depend on its companions, so the store keys each result by the
    computation that gave it, and never hands a run trained alone to a population.)"""
    from lthlib.engine.training import dense_runs
    from lthlib.experiments.imp import run_imp_seeds

    settings = IMPSettings(tiny_settings, rounds=2, controls=("reinit",))
    seeds = [0, 1, 2, 3]
    empty = run_imp_seeds(settings, seeds, mnist1d_small, store=Store(tmp_path / "empty"))
    filled = Store(tmp_path / "filled")
    alone = dense_runs(tiny_settings, range(5), mnist1d_small, store=filled)
    after = run_imp_seeds(settings, seeds, mnist1d_small, store=filled)
    for a, b in zip(after, empty):
        assert _same_numbers(a.dense, b.dense)
        for ra, rb in zip(a.rounds, b.rounds):
            assert ra.mask == rb.mask and _same_numbers(ra.ticket, rb.ticket)
            assert ra.controls["reinit"].curves() == rb.controls["reinit"].curves()
    assert not all(_same_numbers(a.dense, d) for a, d in zip(after, alone))  # populations: other last bits


@pytest.mark.parametrize("lockstep", [False, True])
def test_learning_rate_rewinding_and_fine_tuning_retrain_from_the_final_weights(mnist1d_small, tiny_settings,
                                                                                 tmp_path, lockstep):
    """Renda et al. 2020: after pruning, learning-rate rewinding trains the surviving
    weights from their final values on the schedule from iteration k; fine-tuning from the
    same final values at the schedule's final learning rate; weight rewinding (the default)
    from their values at k. Stored and read back."""
    from lthlib.engine.training import lr_at
    from lthlib.experiments.imp import run_imp_seeds, run_settings

    ts = tiny_settings.replace(optimizer="sgd", lr=0.05, momentum=0.9, lr_milestones=(20,), lr_gamma=0.1)
    base = IMPSettings(ts, rounds=2, rewind_iteration=10, controls=())
    results = {}
    for retrain in ("weight_rewinding", "lr_rewinding", "fine_tuning"):
        settings = base.replace(retrain=retrain)
        store = Store(tmp_path / retrain)
        runs = (run_imp_seeds(settings, [0], mnist1d_small, store=store) if lockstep else
                [run_imp(settings, mnist1d_small, store=store)])
        results[retrain] = res = runs[0]
        again = (run_imp_seeds(settings, [0], mnist1d_small, store=store) if lockstep else
                 [run_imp(settings, mnist1d_small, store=store)])[0]
        assert again.rounds[1].ticket.curves() == res.rounds[1].ticket.curves()  # stored, read back
        for r, rnd in enumerate(res.rounds):
            ticket = rnd.ticket
            assert ticket.start_iteration == 10 and ticket.iterations[-1] == ts.iterations
            previous = res.dense.final_state if r == 0 else res.rounds[r - 1].ticket.final_state
            start = ticket.weights_at[10]
            for name, keep in rnd.mask.items():
                want = res.dense.weights_at[10][name] if retrain == "weight_rewinding" else previous[name]
                assert torch.equal(start[name][keep], want[keep]), (retrain, name)
                assert torch.all(start[name][~keep] == 0) and torch.all(ticket.final_state[name][~keep] == 0)
        if retrain == "fine_tuning":
            assert res.rounds[0].ticket.train_settings.lr == pytest.approx(lr_at(ts, ts.iterations - 1)) == 0.005
            assert res.rounds[0].ticket.train_settings.lr_milestones == ()
        else:
            assert res.rounds[0].ticket.train_settings == ts
        assert run_settings(settings, "reinit") == ts
    assert results["lr_rewinding"].rounds[0].mask == results["weight_rewinding"].rounds[0].mask  # pruned alike
    assert results["lr_rewinding"].rounds[0].ticket.curves() != results["fine_tuning"].rounds[0].ticket.curves()
    with pytest.raises(SettingsError, match="retrain='rewind'.*lr_rewinding"):
        base.replace(retrain="rewind")
    assert "retrain" not in base.to_dict() and base.replace(retrain="lr_rewinding").to_dict()["retrain"] == "lr_rewinding"


def test_one_shot_finetune_trains_the_seeds_through_planned_passes_and_reads_them_back(
        mnist1d_small, imp_settings, tmp_path, monkeypatch):
    """``speed_routes.run_one_shot_finetune``: each seed's trained dense network pruned once to
    the round's per-layer densities (``magnitude_prune_like``) and fine-tuned from its trained
    weights; the seeds go through ``stored_members`` (the passes ``plan_passes`` plans), each
    run keeps the pruned mask and is stored without weights, and a second call reads the
    stored runs without training."""
    import lthlib.engine.passes as passes
    from lthlib.experiments import speed_routes as sr
    from lthlib.methods.pruning import magnitude_prune_like

    settings = imp_settings.replace(controls=())
    results = [run_imp(settings.replace(train=settings.train.replace(seed=s)), mnist1d_small) for s in (0, 1)]
    store = Store(tmp_path)
    runs = sr.run_one_shot_finetune(settings, results, 2, mnist1d_small, 20, store)
    assert len(runs) == 2
    for res, run in zip(results, runs):
        want = magnitude_prune_like(res.dense.final_state, res.rounds[1].mask, settings.scope, settings.exclude)
        assert Mask(run.mask) == want and run.iterations[-1] == 20 and not run.final_state
    stored = sorted((tmp_path / "route_finetune").glob("*.pt"))
    assert len(stored) == 2
    monkeypatch.setattr(passes, "train_population", lambda *a, **k: pytest.fail("retrained a stored run"))
    again = sr.run_one_shot_finetune(settings, results, 2, mnist1d_small, 20, store)
    assert [r.curves() for r in again] == [r.curves() for r in runs]
