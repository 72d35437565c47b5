import pytest
import torch

from lthlib.masks import Mask, overlap
from lthlib.models.networks import build_model
from lthlib.methods.supermask import (CRITERIA, Supermask, criterion_scores, mask_by_criterion,
                              masked_start_state, random_weights, signed_constant_like)
from lthlib.engine.training import train


def mlp(seed=0):
    return build_model("mlp_mnist1d", (40,), 10, seed=seed, hidden=(32, 16))


def test_criteria_rank_as_defined():
    wi = torch.tensor([0.1, -0.5, 0.3, -0.2])
    wf = torch.tensor([0.4, -0.1, 0.3, 0.6])
    assert torch.equal(criterion_scores("large_final", wi, wf), wf.abs())
    assert torch.equal(criterion_scores("small_final", wi, wf), -wf.abs())
    assert torch.equal(criterion_scores("large_init", wi, wf), wi.abs())
    assert torch.allclose(criterion_scores("magnitude_increase", wi, wf), wf.abs() - wi.abs())
    assert torch.allclose(criterion_scores("movement", wi, wf), (wf - wi).abs())
    keep = mask_by_criterion("large_final", {"w": wi}, {"w": wf}, ["w"], density=0.5)
    assert keep["w"].tolist() == [True, False, False, True]
    for criterion in CRITERIA:
        m = mask_by_criterion(criterion, {"w": wi}, {"w": wf}, ["w"], density=0.5)
        assert int(m["w"].sum()) == 2


def test_signed_constant_values():
    w = torch.tensor([[0.2, -0.4], [0.0, 0.6]])
    sc = signed_constant_like(w)
    assert torch.allclose(sc.abs()[w != 0], torch.full((3,), float(w.std())))
    assert torch.equal(torch.sign(sc), torch.sign(w))
    mask = Mask({"w": torch.tensor([[True, False], [True, True]])})
    state = masked_start_state("signed_constant", {"w": w, "b": torch.ones(2)}, mask)
    assert state["w"][0, 1] == 0 and torch.equal(state["b"], torch.ones(2))
    assert torch.equal(masked_start_state("init", {"w": w}, mask)["w"], w * mask["w"])
    with pytest.raises(ValueError, match="reinit_state"):
        masked_start_state("reinit", {"w": w}, mask)


def test_edge_popup_keeps_exactly_k_per_layer_and_only_scores_learn(mnist1d_small):
    base = mlp()
    random_weights(base, "signed_constant", seed=0)
    frozen = {k: v.clone() for k, v in base.state_dict().items()}
    net = Supermask(base, "edge_popup", density=0.3, seed=0)
    for name, m in net.mask().items():
        assert int(m.sum()) == int(0.3 * m.numel() + 0.5)
    x, y = mnist1d_small.x_train[:64], mnist1d_small.y_train[:64]
    torch.nn.functional.cross_entropy(net(x), y).backward()
    assert all(p.grad is None for p in base.parameters())  # frozen weights get nothing
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in net.scores.values())
    assert [n for n, p in net.named_parameters() if p.requires_grad] == [f"scores.{k}" for k in net.scores]
    torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9).step()
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in frozen.items())  # a step moves scores only


def test_straight_through_gradient_is_weight_times_upstream():
    lin = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0, 3.0]]))
    net = Supermask(torch.nn.Sequential(lin), "edge_popup", density=1.0)
    with torch.no_grad():
        net.scores["0__weight"].copy_(torch.tensor([[0.5, -0.5, 0.5]]))
    x = torch.tensor([[1.0, 1.0, 1.0]])
    net(x).sum().backward()
    # d(w * |s|)/ds = w * sign(s): raising |s| of a helpful weight raises its rank
    assert torch.allclose(net.scores["0__weight"].grad, torch.tensor([[1.0, 2.0, 3.0]]))


def test_learned_supermask_beats_chance_without_training_weights(mnist1d_small, tiny_settings):
    base = mlp()
    random_weights(base, "signed_constant", seed=1)
    w_before = {k: v.clone() for k, v in base.state_dict().items()}
    for method in ("edge_popup", "bernoulli"):
        net = Supermask(base, method, density=0.5, seed=0)
        settings = tiny_settings.replace(iterations=1500, eval_every=1500, lr=0.05 if method == "bernoulli" else 0.01)
        run = train(net, mnist1d_small, settings)
        assert run.final("val_acc") > 0.25, method  # chance is 0.1
        assert all(torch.equal(v, base.state_dict()[k]) for k, v in w_before.items())


def test_overlap_identity_complement_and_chance():
    g = torch.Generator().manual_seed(0)
    a = Mask({"x": torch.rand(200, 50, generator=g) < 0.3, "y": torch.rand(100, generator=g) < 0.6})
    assert overlap(a, a)["overall"]["iou"] == 1.0
    complement = Mask({n: ~t for n, t in a.items()})
    assert overlap(a, complement)["overall"]["iou"] == 0.0
    # chance IoU matches the IoU of independent random masks with the same counts
    sims = []
    for seed in range(20):
        gs = torch.Generator().manual_seed(100 + seed)
        b = Mask({n: t.flatten()[torch.randperm(t.numel(), generator=gs)].reshape(t.shape) for n, t in a.items()})
        c = Mask({n: t.flatten()[torch.randperm(t.numel(), generator=gs)].reshape(t.shape) for n, t in a.items()})
        sims.append(overlap(b, c)["x"]["iou"])
    expected = overlap(a, a)["x"]["chance_iou"]
    assert abs(sum(sims) / len(sims) - expected) < 0.01


# ----------------------------------------------------------------------------- runners
def _no_training(*args, **kwargs):
    raise AssertionError("a stored result was trained again")


def _forbid_training(monkeypatch) -> None:
    """Any training from here on fails: ``train`` wherever it is called from, and the
    batched population pass."""
    from lthlib.engine import members, population, training
    from lthlib.experiments import supermask_study
    for module in (training, supermask_study, members):
        monkeypatch.setattr(module, "train", _no_training)
    monkeypatch.setattr(population._Population, "run", _no_training)


def test_train_criterion_masks_keys_masks_and_reuse(mnist1d_small, tiny_settings, tmp_path, monkeypatch):
    from lthlib.core.store import Store
    from lthlib.engine import training
    from lthlib.engine.training import dense_runs
    from lthlib.experiments import supermask_study
    from lthlib.experiments.supermask_study import train_criterion_masks

    store = Store(tmp_path)
    dense = dense_runs(tiny_settings, [0, 1], mnist1d_small, store=store)
    runs = train_criterion_masks(tiny_settings, mnist1d_small, dense, ["large_final", "random"],
                                 ["init", "reinit"], 0.3, store, workers=1)
    assert set(runs) == {(c, r, s) for c in ("large_final", "random") for r in ("init", "reinit") for s in (0, 1)}
    for (c, r, s), run in runs.items():
        assert run.settings["seed"] == s
        for name, m in Mask(run.mask).items():
            assert abs(float(m.float().mean()) - 0.3) < 0.02, name
    # same mask for both starts of a criterion; the random mask differs from large-final
    assert Mask(runs[("large_final", "init", 0)].mask) == Mask(runs[("large_final", "reinit", 0)].mask)
    assert Mask(runs[("random", "init", 0)].mask) != Mask(runs[("large_final", "init", 0)].mask)
    monkeypatch.setattr(training, "train", _no_training)
    monkeypatch.setattr(supermask_study, "train", _no_training)
    again = train_criterion_masks(tiny_settings, mnist1d_small, dense, ["large_final", "random"],
                                  ["init", "reinit"], 0.3, store, workers=1)
    assert list(again) == list(runs)
    assert all(again[k].test_acc == runs[k].test_acc for k in runs)
    with pytest.raises(ValueError, match="criterion"):
        train_criterion_masks(tiny_settings, mnist1d_small, dense, ["largest"], ["init"], 0.3, store)


def test_learn_supermasks_keys_and_reuse(mnist1d_small, tiny_settings, tmp_path, monkeypatch):
    from lthlib.core.store import Store
    from lthlib.engine import training
    from lthlib.experiments import supermask_study
    from lthlib.experiments.supermask_study import learn_supermasks

    store = Store(tmp_path)
    plan = {"edge_popup": [0.3, 0.6], "bernoulli": [0.5]}
    seeds = [0, 1, 2, 3]  # edge-popup: two passes of two members per density; Bernoulli: alone
    runs = learn_supermasks(tiny_settings, mnist1d_small, seeds, plan, store, workers=1)
    assert set(runs) == {(m, d, s) for m, ds in plan.items() for d in ds for s in seeds}
    for (method, density, seed), run in runs.items():
        assert run.settings["seed"] == seed
        assert (run.final_state, run.weights_at) == ({}, {})  # rebuilt from the seed when needed
        if method == "edge_popup":
            assert abs(Mask(run.mask).density() - density) < 0.01
    import torch
    where = {}  # each stored supermask: the computation its key names
    for path in (tmp_path / "supermask").glob("*.pt"):
        extra = torch.load(path, weights_only=True)["key"]["extra"]
        where.setdefault(extra["method"], set()).add(extra["computed_in"])
    assert where["bernoulli"] == {"alone"} and len(where["edge_popup"]) == 4
    assert all(w.startswith("pass-") for w in where["edge_popup"])
    _forbid_training(monkeypatch)
    again = learn_supermasks(tiny_settings, mnist1d_small, seeds, plan, store, workers=1)
    assert all(Mask(again[k].mask) == Mask(runs[k].mask) for k in runs)
    # frozen weights of the ticket's own initialisation are another result, not a stored one
    with pytest.raises(AssertionError, match="trained again"):
        learn_supermasks(tiny_settings, mnist1d_small, [0], {"edge_popup": [0.3]}, store,
                         weights="init", workers=1)


def test_strong_ticket_study_keys_architectures_and_reuse(mnist1d_small, tiny_settings, tmp_path, monkeypatch):
    from lthlib.core.store import Store
    from lthlib.engine import training
    from lthlib.experiments import supermask_study
    from lthlib.experiments.supermask_study import strong_ticket_study

    store = Store(tmp_path)
    runs = strong_ticket_study(tiny_settings, mnist1d_small, [8, 16], [0], store,
                               trained_layers=(2,), random_layers=(2, 5), workers=1)
    assert set(runs) == {("trained", 2, 8, 0), ("trained", 2, 16, 0), ("edge_popup", 2, 8, 0),
                         ("edge_popup", 2, 16, 0), ("edge_popup", 5, 8, 0), ("edge_popup", 5, 16, 0)}
    for (method, layers, width, seed), run in runs.items():
        assert tuple(run.settings["model_kwargs"]["hidden"]) == (width,) * layers
        assert run.mask is None if method == "trained" else len(run.mask) == layers + 1
    _forbid_training(monkeypatch)
    again = strong_ticket_study(tiny_settings, mnist1d_small, [8, 16], [0], store,
                                trained_layers=(2,), random_layers=(2, 5), workers=1)
    assert all(again[k].test_acc == runs[k].test_acc for k in runs)
    with pytest.raises(ValueError, match="MLP"):
        strong_ticket_study(tiny_settings.replace(model="cnn_mnist1d", model_kwargs={}), mnist1d_small,
                            [8], [0], store)


def test_the_width_study_scales_every_layer_of_a_conv_net(tmp_path):
    """Conv-4 (the authors' Conv4Wide): every layer scaled by width_mult, trained and as an
    edge-popup supermask on CIFAR-shaped data; an MLP's layer count has no meaning there."""
    from lthlib.core.store import Store
    from lthlib.data.datasets import Dataset
    from lthlib.experiments.supermask_study import strong_ticket_study, width_kwargs
    from lthlib.models.networks import build_model
    from lthlib.settings import TrainSettings

    half = build_model("conv4", (3, 32, 32), 10, seed=0, width_mult=0.5)
    assert [m.out_channels for m in half.features if hasattr(m, "out_channels")] == [32, 32, 64, 64]
    assert [m.out_features for m in half.classifier if hasattr(m, "out_features")] == [128, 128, 10]
    assert width_kwargs("conv4", 0.25, 0) == {"width_mult": 0.25}
    assert width_kwargs("lenet300_100", 100, 2) == {"hidden": (100, 100)}
    with pytest.raises(ValueError, match="trained_layers=\\(0,\\)"):
        width_kwargs("conv4", 0.5, 2)
    with pytest.raises(ValueError, match="positive integer"):
        width_kwargs("mlp_mnist1d", 0.5, 2)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 3, 32, 32, generator=g), torch.randint(0, 10, (96,), generator=g)
    data = Dataset("cifar10", x[:64], y[:64], x[64:80], y[64:80], x[80:], y[80:], 10,
                   torch.zeros(3), torch.ones(3))
    ts = TrainSettings(model="conv4", dataset="cifar10", iterations=4, eval_every=2, batch_size=8, seed=0)
    runs = strong_ticket_study(ts, data, [0.25, 0.5], [0], Store(tmp_path), trained_layers=(0,),
                               random_layers=(0,), workers=1)
    assert set(runs) == {(m, 0, w, 0) for m in ("trained", "edge_popup") for w in (0.25, 0.5)}
    for (method, _, width, _), run in runs.items():
        assert run.settings["model_kwargs"] == {"width_mult": width} and run.iterations[-1] == 4
        if method == "edge_popup":  # half of every layer's weights kept
            kept = [float(m.float().mean()) for name, m in run.mask.items() if name.endswith("weight")]
            assert kept and all(abs(k - 0.5) < 0.01 for k in kept)


def test_bernoulli_density_is_the_starting_keep_probability():
    for density in (0.2, 0.5, 0.8):
        net = Supermask(mlp(), "bernoulli", density=density, seed=0)
        p = torch.cat([torch.sigmoid(s.detach()).flatten() for s in net.scores.values()])
        assert abs(float(p.mean()) - density) < 0.05
    with pytest.raises(ValueError, match="keep probability"):
        Supermask(mlp(), "bernoulli", density=1.0)


def test_large_init_large_final_is_zhou_et_als_percentile_quadrant():
    """Zhou et al.'s code (get_weight_init.py) keeps the weights above one percentile
    threshold in both |w_i| and |w_f|: the largest 'top-right quadrant' of the size asked
    for. By hand on 6 weights: keeping 2, the two weights in the top 2 of both rankings."""
    from lthlib.methods.supermask import criterion_scores, mask_by_criterion

    w_i = torch.tensor([[0.9, 0.1, 0.8, 0.7, 0.2, 0.05]])
    w_f = torch.tensor([[5.0, 9.0, 4.0, 0.1, 3.0, 2.0]])  # large final: 1, 0, 2, 4, 5, 3
    scores = criterion_scores("large_init_large_final", w_i, w_f)
    # ranks of |w_i|: [5, 1, 4, 3, 2, 0]; of |w_f|: [4, 5, 3, 0, 2, 1]; the lower of the two:
    assert scores.tolist() == [[4.0, 1.0, 3.0, 0.0, 2.0, 0.0]]
    mask = mask_by_criterion("large_init_large_final", {"w": w_i}, {"w": w_f}, ["w"], 2 / 6)
    assert mask["w"].tolist() == [[True, False, True, False, False, False]]
    # scale-free: multiplying the final weights by 1000 changes nothing
    assert torch.equal(criterion_scores("large_init_large_final", w_i, 1000 * w_f), scores)


def test_zhou_et_als_per_layer_fractions_at_paper_scale():
    """Zhou et al. keep 0.8^p of each hidden layer and 0.9^p of the output layer (README
    command --prune_base 0.8,0.9 --prune_power p): at 5% of the hidden weights (p = 13.4)
    the output layer keeps about 24%."""
    from lthlib.methods.supermask import ZHOU_POWERS, mask_by_criterion, zhou_layer_densities

    layers = ["hidden.0.weight", "hidden.1.weight", "output.weight"]
    d = zhou_layer_densities(layers, 3)
    assert d == {"hidden.0.weight": 0.8 ** 3, "hidden.1.weight": 0.8 ** 3, "output.weight": 0.9 ** 3}
    assert ZHOU_POWERS == tuple(range(25))
    g = torch.Generator().manual_seed(0)
    init = {n: torch.randn(s, generator=g) for n, s in zip(layers, [(300, 784), (100, 300), (10, 100)])}
    final = {n: torch.randn(w.shape, generator=g) for n, w in init.items()}
    mask = mask_by_criterion("large_final", init, final, layers, d)
    for n in layers:
        assert int(mask[n].sum()) == round(d[n] * init[n].numel())  # the exact count per layer


def test_bernoulli_supermask_as_zhou_et_al_train_it(mnist1d_small, tmp_path):
    """At paper scale the Bernoulli supermask follows Zhou et al.'s code: SGD lr 100 with
    momentum 0.9, every score starting at logit(density), a fresh sample of the mask at
    every evaluation forward pass, the network's own initial weights frozen."""
    from lthlib.core.store import Store
    from lthlib.engine.training import model_for
    from lthlib.experiments.supermask_study import SupermaskJob, learn_supermasks
    from lthlib.methods.supermask import Supermask, bernoulli_for_scale, supermask_settings
    from lthlib.settings import TrainSettings

    assert bernoulli_for_scale("paper") == "zhou" and bernoulli_for_scale("quick") == "lthlib"
    ts = TrainSettings(model="mlp_mnist1d", iterations=6, eval_every=3, model_kwargs={"hidden": (16,)},
                       train_size=600, validation_size=200)
    zhou = supermask_settings(ts, "bernoulli", "zhou")
    assert (zhou.optimizer, zhou.lr, zhou.momentum) == ("sgd", 100.0, 0.9)
    assert supermask_settings(ts, "bernoulli").optimizer == "adam"
    net = Supermask(model_for(ts, mnist1d_small), "bernoulli", 0.5, seed=0, score_init="constant", eval_mask="sample")
    assert all(torch.all(s == 0.0) for s in net.scores.values())  # logit(0.5)
    net.eval()
    x = mnist1d_small.x_test[:50]
    assert not torch.equal(net(x), net(x))  # a fresh sample each evaluation pass
    mode = Supermask(model_for(ts, mnist1d_small), "bernoulli", 0.5, seed=0).eval()
    assert torch.equal(mode(x), mode(x))  # lthlib's default: the mode, deterministic
    scaled = Supermask(model_for(ts, mnist1d_small), "bernoulli", 0.5, seed=0, score_init="constant", rescale=True)
    assert scaled.rescale
    runs = learn_supermasks(ts, mnist1d_small, [0], {"bernoulli": [0.5]}, Store(tmp_path), bernoulli="zhou")
    run = runs[("bernoulli", 0.5, 0)]
    assert run.train_settings.lr == 100.0
    job = SupermaskJob(ts, mnist1d_small, "bernoulli", 0.5, "init", str(tmp_path), "zhou")
    assert job._key()[2]["variant"] == "zhou" and job._key()[2]["weights"] == "init"
    assert "variant" not in SupermaskJob(ts, mnist1d_small, "bernoulli", 0.5)._key()[2]
    with pytest.raises(ValueError, match="bernoulli='ramanujan'"):
        learn_supermasks(ts, mnist1d_small, [0], {"bernoulli": [0.5]}, bernoulli="ramanujan")
