import numpy as np
import pytest
import torch
from torch import nn

from lthlib.data.datasets import Dataset
from lthlib.settings import TrainSettings
from lthlib.experiments.lmc import (InstabilityJob, error_barrier, instability, measure_instability, interpolate_states, interpolation_curve, loss_plane,
                        reset_batchnorm, train_children)
from lthlib.core.store import Store
from lthlib.engine.training import evaluate, model_for, train
from lthlib.masks import Mask


def test_barrier_of_a_network_with_itself_is_zero(mnist1d_small, tiny_settings):
    run = train(model_for(tiny_settings, mnist1d_small), mnist1d_small, tiny_settings)
    curve = interpolation_curve(model_for(tiny_settings, mnist1d_small), run.final_state, run.final_state,
                                mnist1d_small, points=5)
    assert len(set(curve["test_error"])) == 1 and error_barrier(curve["test_error"]) == 0


def test_a_path_of_the_test_split_alone_is_the_same_test_path(mnist1d_small, tiny_settings):
    """``splits=("test",)`` (what instability measures) leaves the training subset out and
    gives, bit for bit, the test curve of the path that evaluates both."""
    runs = [train(model_for(tiny_settings.replace(data_order_seed=s), mnist1d_small), mnist1d_small,
                  tiny_settings.replace(data_order_seed=s)) for s in (1, 2)]
    model = model_for(tiny_settings, mnist1d_small)
    both = interpolation_curve(model, runs[0].final_state, runs[1].final_state, mnist1d_small, points=6)
    test = interpolation_curve(model, runs[0].final_state, runs[1].final_state, mnist1d_small, points=6,
                               splits=("test",))
    assert set(both) == {"alpha", "train_loss", "train_error", "test_loss", "test_error"}
    assert set(test) == {"alpha", "test_loss", "test_error"}
    assert all(test[k] == both[k] for k in test)
    for bad in (("val",), (), ("test", "test"), "test"):
        with pytest.raises(ValueError, match="splits="):
            interpolation_curve(model, runs[0].final_state, runs[1].final_state, mnist1d_small, splits=bad)


def test_instability_evaluates_the_test_split_only(mnist1d_small, tiny_settings, tmp_path, monkeypatch):
    import lthlib.experiments.lmc as lmc

    seen = []
    real = lmc.evaluate
    monkeypatch.setattr(lmc, "evaluate", lambda model, x, y: seen.append(len(y)) or real(model, x, y))
    parent = train(model_for(tiny_settings, mnist1d_small), mnist1d_small, tiny_settings, save_weights_at=[10])
    out = instability(InstabilityJob(tiny_settings, mnist1d_small, parent.weights_at[10], 10, None, str(tmp_path),
                                     points=4))
    assert seen == [len(mnist1d_small.y_test)] * 4 and set(out["curve"]) == {"alpha", "test_loss", "test_error"}


def test_endpoints_are_the_childrens_own_errors_and_children_differ_only_in_order(
        mnist1d_small, tiny_settings, tmp_path):
    parent = train(model_for(tiny_settings, mnist1d_small), mnist1d_small, tiny_settings, save_weights_at=[10])
    a, b = train_children(tiny_settings, mnist1d_small, parent.weights_at[10], 10, store=Store(tmp_path))
    diff = {k for k in a.settings if a.settings[k] != b.settings[k]}
    assert diff == {"data_order_seed"}
    assert a.iterations[0] == b.iterations[0] == 10
    assert not torch.equal(a.final_state["output.weight"], b.final_state["output.weight"])
    model = model_for(tiny_settings, mnist1d_small)
    curve = interpolation_curve(model, a.final_state, b.final_state, mnist1d_small, points=7)
    for state, err in ((a.final_state, curve["test_error"][0]), (b.final_state, curve["test_error"][-1])):
        model.load_state_dict(state)
        assert abs((1 - evaluate(model, mnist1d_small.x_test, mnist1d_small.y_test)[1]) - err) < 1e-9
    # stored: asking again trains nothing and gives the same children
    again = train_children(tiny_settings, mnist1d_small, parent.weights_at[10], 10, store=Store(tmp_path))
    assert again[0].curves() == a.curves()


def test_convex_problem_has_no_barrier():
    """Logistic regression: the loss is convex in the weights, so the loss on the line
    between two solutions never rises above the endpoints (up to float error)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 20, generator=g)
    y = (x @ torch.randn(20, generator=g) > 0).long()
    data = Dataset("logistic", x[:400], y[:400], x[400:500], y[400:500], x[500:], y[500:], 2,
                   torch.zeros(1), torch.ones(1))
    settings = TrainSettings(model="mlp_mnist1d", dataset="mnist1d", iterations=200, eval_every=100,
                             batch_size=20, lr=0.05, model_kwargs={"hidden": ()})
    runs = [train(model_for(settings.replace(data_order_seed=s), data), data, settings.replace(data_order_seed=s))
            for s in (1, 2)]
    curve = interpolation_curve(model_for(settings, data), runs[0].final_state, runs[1].final_state, data, 11)
    losses = curve["train_loss"]
    assert max(losses) <= max(losses[0], losses[-1]) + 1e-6
    assert error_barrier(curve["test_error"]) <= 0.02


def test_batchnorm_statistics_are_recomputed_at_interpolated_points():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    x = torch.randn(256, 4) * 3 + 1
    reset_batchnorm(net, x, batch_size=len(x))  # one batch: the statistics are exactly those of x
    features = net[0](x).detach()
    assert torch.allclose(net[1].running_mean, features.mean(0), atol=1e-5)
    assert torch.allclose(net[1].running_var, features.var(0), rtol=1e-3)
    # an interpolated network gets statistics of its own features, not the average of the endpoints'
    other = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    reset_batchnorm(other, x)
    mid = interpolate_states(net.state_dict(), other.state_dict(), 0.5)
    probe = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    probe.load_state_dict(mid)
    reset_batchnorm(probe, x)
    assert torch.allclose(probe[1].running_mean, probe[0](x).detach().mean(0), atol=1e-5)


def test_instability_job_and_loss_plane(mnist1d_small, tiny_settings, tmp_path, monkeypatch):
    parent = train(model_for(tiny_settings, mnist1d_small), mnist1d_small, tiny_settings, save_weights_at=[0])
    mask = Mask({n: torch.rand(t.shape, generator=torch.Generator().manual_seed(0)) < 0.5
                 for n, t in Mask.ones_like(model_for(tiny_settings, mnist1d_small)).items()})
    out = instability(InstabilityJob(tiny_settings, mnist1d_small, parent.weights_at[0], 0, mask, tmp_path, 5))
    keyed = measure_instability({("sparse", 0): (tiny_settings, parent.weights_at[0], 0, mask),
                                 ("dense", 0): (tiny_settings, parent.weights_at[0], 0, None)},
                                mnist1d_small, store=Store(tmp_path), points=5, workers=1)
    assert set(keyed) == {("sparse", 0), ("dense", 0)}
    assert keyed[("sparse", 0)]["barrier"] == out["barrier"]  # the stored children are reused
    import lthlib.experiments.lmc

    def no_path(*args, **kwargs):
        raise AssertionError("a stored measurement was evaluated again")

    monkeypatch.setattr(lthlib.experiments.lmc, "interpolation_curve", no_path)
    again = measure_instability({("sparse", 0): (tiny_settings, parent.weights_at[0], 0, mask),
                                 ("dense", 0): (tiny_settings, parent.weights_at[0], 0, None)},
                                mnist1d_small, store=Store(tmp_path), points=5, workers=2)
    assert list(again) == list(keyed) and all(again[k]["barrier"] == keyed[k]["barrier"] for k in keyed)
    assert again[("dense", 0)]["curve"] == keyed[("dense", 0)]["curve"]
    monkeypatch.undo()
    assert error_barrier([0.1, 0.3, 0.2]) == pytest.approx(0.15)  # 0.3 - (0.1 + 0.2) / 2
    assert error_barrier([0.2, 0.1, 0.2]) == pytest.approx(0.0)  # never below an endpoint's error
    assert out["barrier"] >= 0 and len(out["curve"]["alpha"]) == 5
    assert out["children_test_error"][0] == pytest.approx(out["curve"]["test_error"][0])
    # the plane's corners (margin 0, 2 x 2 grid) are the three networks themselves
    states = [parent.weights_at[0], parent.final_state, parent.weights_at[0]]
    plane = loss_plane(model_for(tiny_settings, mnist1d_small), states, mnist1d_small, resolution=2, margin=0.0)
    model = model_for(tiny_settings, mnist1d_small)
    for (i, j), state in (((0, 0), states[0]), ((0, 1), states[1]), ((1, 0), states[2])):
        model.load_state_dict(state)
        loss, acc = evaluate(model, mnist1d_small.x_test, mnist1d_small.y_test)
        assert plane["loss"][i, j] == pytest.approx(loss, rel=1e-5) and plane["error"][i, j] == pytest.approx(1 - acc)
    # its rows in two worker processes: the same numbers, bit for bit
    split = loss_plane(model_for(tiny_settings, mnist1d_small), states, mnist1d_small, resolution=6, margin=0.1,
                       workers=2)
    alone = loss_plane(model_for(tiny_settings, mnist1d_small), states, mnist1d_small, resolution=6, margin=0.1,
                       workers=1)
    assert split["loss"].shape == (6, 6) and all(np.array_equal(split[k], alone[k]) for k in split)


def test_solution_relation_of_a_network_to_itself_and_to_another(mnist1d_small):
    from lthlib.experiments.lmc import solution_relation
    from lthlib.models.networks import build_model

    a = build_model("mlp_mnist1d", (40,), 10, seed=0, hidden=(16,))
    b = build_model("mlp_mnist1d", (40,), 10, seed=1, hidden=(16,))
    sa, sb = {k: v.clone() for k, v in a.state_dict().items()}, {k: v.clone() for k, v in b.state_dict().items()}
    same = solution_relation(a, a.state_dict(), a.state_dict(), mnist1d_small, points=3)  # live state: copied
    assert same["distance"] == 0.0 and abs(same["barrier"]) < 1e-12
    other = solution_relation(a, sb, sa, mnist1d_small, points=3)
    norm = sum((v.float() ** 2).sum() for v in sa.values()) ** 0.5
    diff = sum(((sb[k] - v).float() ** 2).sum() for k, v in sa.items()) ** 0.5
    assert abs(other["distance"] - float(diff / norm)) < 1e-6 and len(other["curve"]["alpha"]) == 3
