"""Pruning at initialisation: scores against hand computations, densities, streams, checks."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lthlib.masks import Mask, overlap
from lthlib.models.networks import build_model, prunable_parameters
from lthlib.methods.pai import (GLOBAL_METHODS, METHODS, critical_density, erk_densities, grasp_scores,
                        hessian_gradient_product, layer_collapse, mask_agreement, pai_batch, pai_mask,
                        pai_scores, shuffle_within_layers, synflow_mask, synflow_scores)
from lthlib.methods.pruning import PruningError, random_mask_like


def mlp(seed=0, hidden=(32, 16)):
    return build_model("mlp_mnist1d", (40,), 10, seed=seed, hidden=hidden)


def cnn(seed=0):
    return build_model("cnn_mnist1d", (40,), 10, seed=seed, channels=8)


@pytest.fixture(scope="module")
def data():
    from lthlib.data.datasets import load_dataset

    return load_dataset("mnist1d", train_size=600, validation_size=200)


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------------------ batch
def test_batch_is_ten_per_class_from_its_own_stream(data):
    x, y = pai_batch(data, seed=0)
    assert torch.bincount(y, minlength=10).tolist() == [10] * 10
    x2, y2 = pai_batch(data, seed=0)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = pai_batch(data, seed=1)
    assert not torch.equal(x, x3)
    xb, yb = pai_batch(data, seed=0, batch_size=64)
    assert len(yb) == 64 and xb.shape[1:] == data.x_train.shape[1:]


# ------------------------------------------------------------------------------- SNIP
def test_snip_is_abs_gradient_times_weight_by_hand_on_a_linear_model(data):
    """A linear model's cross-entropy gradient in closed form: dL/dW = (softmax - onehot)^T x / B."""
    model = mlp(hidden=()).double()
    x, y = pai_batch(data, seed=3)
    x = x.double()
    w, b = model.output.weight.detach(), model.output.bias.detach()
    p = torch.softmax(x @ w.T + b, dim=1)
    grad = (p - F.one_hot(y, 10).double()).T @ x / len(y)
    scores = pai_scores("snip", model, data, seed=3)
    assert torch.allclose(scores["output.weight"], (grad * w).abs(), rtol=1e-10, atol=1e-14)


def test_snip_matches_autograd_on_the_same_batch_and_leaves_the_model_alone(data):
    model = mlp()
    before = _state(model)
    x, y = pai_batch(data, seed=0)
    scores = pai_scores("snip", model, data, seed=0)
    ref = mlp()
    loss = F.cross_entropy(ref(x), y)
    loss.backward()
    for name, w in prunable_parameters(ref).items():
        assert torch.allclose(scores[name], (w.grad * w).abs().detach(), rtol=1e-5, atol=1e-9)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------------------------ GraSP
@pytest.mark.parametrize("hidden", [(), (8,)])
def test_grasp_hessian_gradient_product_matches_finite_differences(data, hidden):
    model = mlp(hidden=hidden).double()
    x, y = pai_batch(data, seed=0)
    x = x.double()
    g, hg = hessian_gradient_product(model, x, y)
    params = prunable_parameters(model)
    names = list(params)

    def grad_at(shift: float) -> dict:
        net = mlp(hidden=hidden).double()
        with torch.no_grad():
            for n, p in prunable_parameters(net).items():
                p.add_(shift * g[n])
        loss = F.cross_entropy(net(x), y)
        return dict(zip(names, torch.autograd.grad(loss, list(prunable_parameters(net).values()))))

    eps = 1e-4
    plus, minus = grad_at(eps), grad_at(-eps)
    fd = torch.cat([((plus[n] - minus[n]) / (2 * eps)).flatten() for n in names])
    exact = torch.cat([hg[n].flatten() for n in names])
    assert torch.linalg.norm(fd - exact) <= 1e-3 * torch.linalg.norm(exact)
    assert torch.linalg.norm(exact) > 0


def test_grasp_keep_score_is_w_times_hg_and_the_largest_paper_scores_go(data):
    """Wang et al. remove the largest S = -w * Hg: the kept weights have the largest w * Hg."""
    model = mlp()
    x, y = pai_batch(data, seed=0)
    _, hg = hessian_gradient_product(model, x, y)
    scores = pai_scores("grasp", model, data, seed=0)
    for name, w in prunable_parameters(model).items():
        assert torch.allclose(scores[name], w.detach() * hg[name])
    assert torch.equal(torch.cat([s.flatten() for s in scores.values()]),
                       torch.cat([s.flatten() for s in grasp_scores(model, x, y).values()]))
    mask = pai_mask("grasp", model, data, 0.2, seed=0)
    paper_s = torch.cat([(-scores[n]).flatten() for n in mask])
    kept = torch.cat([mask[n].flatten() for n in mask])
    assert paper_s[kept].max() <= paper_s[~kept].min()  # removed: the largest S
    magnitude = pai_scores("grasp_magnitude", model, data, seed=0)
    assert all(torch.equal(magnitude[n], scores[n].abs()) for n in scores)


# ---------------------------------------------------------------------------- SynFlow
def test_synflow_matches_the_closed_form_of_a_two_layer_linear_net():
    """R = 1^T |W2| |W1| 1: score(W1_ij) = |W1_ij| sum_k |W2_ki|, score(W2_ki) = |W2_ki| sum_j |W1_ij|;
    the flow into each hidden neuron equals the flow out of it (conservation)."""
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4, bias=False), nn.Linear(4, 3, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.randn(4, 5, generator=g))
        net[1].weight.copy_(torch.randn(3, 4, generator=g))
    w1, w2 = net[0].weight.detach().double(), net[1].weight.detach().double()
    before = _state(net)
    scores = synflow_scores(net, (5,))
    col = w2.abs().sum(0)  # sum_k |W2_ki|, per hidden neuron i
    row = w1.abs().sum(1)  # sum_j |W1_ij|
    assert torch.allclose(scores["0.weight"], w1.abs() * col[:, None], rtol=1e-12)
    assert torch.allclose(scores["1.weight"], w2.abs() * row[None, :], rtol=1e-12)
    assert torch.allclose(scores["0.weight"].sum(1), scores["1.weight"].sum(0), rtol=1e-12)
    assert all(torch.equal(before[k], net.state_dict()[k]) for k in before)  # signs kept


def test_synflow_conserves_flow_layer_by_layer():
    """Tanaka et al.: without biases, each layer's scores sum to R = 1^T f(1) of the
    linearised network, through ReLUs and convolutions alike."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(1, 4, 5, bias=False), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 36, 16, bias=False), nn.ReLU(), nn.Linear(16, 10, bias=False))
    scores = synflow_scores(net, (1, 40))
    linear = nn.Sequential(*[m for m in net if not isinstance(m, nn.ReLU)]).double()
    with torch.no_grad():
        for p in linear.parameters():
            p.abs_()
        r = linear(torch.ones(1, 1, 40, dtype=torch.float64)).sum()
    for name, s in scores.items():
        assert math.isclose(float(s.sum()), float(r), rel_tol=1e-10), name
    mask = synflow_mask(net, 0.1, iterations=10, input_shape=(1, 40))
    assert layer_collapse(mask) == [] and mask.num_kept() == round(0.1 * mask.numel())


def test_synflow_is_data_free(data):
    model = mlp()
    a = pai_mask("synflow", model, data, 0.05, seed=0)
    noise = (torch.randn(50, 40), torch.randint(0, 10, (50,)))
    b = pai_mask("synflow", model, noise, 0.05, seed=7)
    c = synflow_mask(model, 0.05, input_shape=(40,))
    assert a == b == c


def test_iterative_synflow_avoids_the_layer_collapse_of_one_shot_methods(data):
    """A wide first layer (40 x 512) before a narrow one (512 x 16), 0.1% kept (29 of 28,832
    weights): magnitude at init empties the narrow layer (its |w| are below 1/sqrt(512)),
    SNIP empties the wide one, and SynFlow in one shot collapses too; 100 rounds do not."""
    model = mlp(hidden=(512, 16))
    density = 0.001
    for method in ("magnitude", "snip"):
        assert critical_density(pai_scores(method, model, data, seed=0)) > density
        assert layer_collapse(pai_mask(method, model, data, density, seed=0)), method
    assert "hidden.1.weight" in layer_collapse(pai_mask("magnitude", model, data, density, seed=0))
    # magnitude loses the narrow layer already at 10% density (critical density ~0.5)
    assert layer_collapse(pai_mask("magnitude", model, data, 0.1, seed=0)) == ["hidden.1.weight"]
    assert layer_collapse(synflow_mask(model, density, iterations=1, input_shape=(40,)))
    mask = pai_mask("synflow", model, data, density, seed=0)
    assert layer_collapse(mask) == []
    assert mask.num_kept() == round(density * mask.numel())


def test_critical_density_is_where_global_pruning_starts_to_collapse(data):
    model = mlp()
    scores = pai_scores("magnitude", model, data, seed=0)
    crit = critical_density(scores)
    n = sum(s.numel() for s in scores.values())
    assert layer_collapse(pai_mask("magnitude", model, data, crit, seed=0)) == []
    assert layer_collapse(pai_mask("magnitude", model, data, crit - 1.5 / n, seed=0)) != []


# -------------------------------------------------------------------- densities, seeds
@pytest.mark.parametrize("build", [mlp, cnn])
def test_every_method_keeps_the_requested_density_and_is_deterministic(data, build):
    model = build()
    for method in METHODS:
        for density in (0.5, 0.1, 0.02):
            mask = pai_mask(method, model, data, density, seed=0)
            assert set(mask) == set(prunable_parameters(model))
            target = density * mask.numel()
            if method in GLOBAL_METHODS:
                assert mask.num_kept() == round(target), (method, density)
            else:
                assert abs(mask.num_kept() - target) <= len(mask), (method, density)
            if method == "random":
                assert all(int(t.sum()) == max(1, round(density * t.numel())) for t in mask.values())
    for method in METHODS:
        assert pai_mask(method, model, data, 0.1, seed=0) == pai_mask(method, model, data, 0.1, seed=0)


def test_random_masks_differ_across_seeds_and_streams(data):
    model = mlp()
    a = pai_mask("random", model, data, 0.3, seed=0)
    assert a != pai_mask("random", model, data, 0.3, seed=1)
    assert a != random_mask_like(a, seed=0)  # the IMP control's stream draws other positions
    r0, e0 = pai_scores("random", model, data, seed=0), pai_scores("random_erk", model, data, seed=0)
    assert not any(torch.equal(r0[n], e0[n]) for n in r0)
    assert a != pai_mask("random_erk", model, data, 0.3, seed=0)
    # the data-dependent methods depend on the seed through their batch
    assert pai_mask("snip", model, data, 0.1, seed=0) != pai_mask("snip", model, data, 0.1, seed=1)
    # a random mask carries no sign bias: about half its kept weights are positive
    w = torch.cat([p.detach()[a[n]] for n, p in prunable_parameters(model).items()])
    assert abs(float((w > 0).float().mean()) - 0.5) < 0.05


def test_pai_streams_are_distinct_from_each_other_and_from_lthlibs():
    from lthlib.core.streams import STREAMS, generator
    from lthlib.methods.pai import PAI_STREAMS, _generator

    assert set(PAI_STREAMS) <= set(STREAMS)  # lthlib's named streams, listed in core/streams.py
    for seed in (0, 1, 7):
        draws = [torch.rand(200, generator=generator(seed, p)) for p in STREAMS]
        draws.append(torch.rand(200, generator=_generator(seed, "shuffle", 1)))
        for i in range(len(draws)):
            for j in range(i):
                assert not torch.equal(draws[i], draws[j])


def test_erk_densities_average_to_the_target_and_favour_small_layers(data):
    for model in (mlp(), cnn()):
        sizes = {n: p.numel() for n, p in prunable_parameters(model).items()}
        shapes = {n: p.shape for n, p in prunable_parameters(model).items()}
        for density in (0.05, 0.3, 0.8):
            dens = erk_densities(model, density)
            assert all(0 < d <= 1 for d in dens.values())
            total = sum(sizes.values())
            assert math.isclose(sum(dens[n] * sizes[n] for n in dens) / total, density, rel_tol=1e-9)
            mask = pai_mask("random_erk", model, data, density, seed=0)
            assert all(abs(int(mask[n].sum()) - dens[n] * sizes[n]) <= 1 for n in mask)
        dens = erk_densities(model, 0.05)  # low enough that no layer is dense
        raw = {n: sum(s) / sizes[n] for n, s in shapes.items()}
        for a in dens:
            for b in dens:
                assert math.isclose(dens[a] / dens[b], raw[a] / raw[b], rel_tol=1e-9)
                if sizes[a] < sizes[b] and raw[a] > raw[b]:
                    assert dens[a] > dens[b]
    dens = erk_densities(mlp(), 0.05)  # the 10 x 16 output layer is the densest
    assert dens["output.weight"] > dens["hidden.1.weight"] > dens["hidden.0.weight"]
    dens = erk_densities(mlp(), 0.8)  # high density: small layers are capped at 1
    assert dens["output.weight"] == 1.0 and dens["hidden.0.weight"] < 0.8
    assert erk_densities(mlp(), 1.0) == {n: 1.0 for n in dens}


def test_excluded_layers_stay_dense_and_the_rest_make_up_the_density(data):
    model = mlp()
    for method in ("magnitude", "random", "random_erk", "synflow"):
        mask = pai_mask(method, model, data, 0.2, seed=0, exclude=["output.weight"])
        assert bool(mask["output.weight"].all())
        assert abs(mask.num_kept() - 0.2 * mask.numel()) <= len(mask)
    with pytest.raises(PruningError, match="excluded"):
        pai_mask("magnitude", model, data, 0.01, seed=0, exclude=["hidden.0.weight"])


def test_layerwise_scope_keeps_the_density_in_every_layer(data):
    model = mlp()
    mask = pai_mask("snip", model, data, 0.25, seed=0, scope="layerwise")
    assert all(int(t.sum()) == round(0.25 * t.numel()) for t in mask.values())


# ------------------------------------------------------------------------ sanity checks
def test_shuffling_keeps_per_layer_counts_and_moves_weights(data):
    mask = pai_mask("snip", cnn(), data, 0.2, seed=0)
    shuffled = shuffle_within_layers(mask, seed=0)
    assert {n: int(t.sum()) for n, t in shuffled.items()} == {n: int(t.sum()) for n, t in mask.items()}
    assert all(not torch.equal(shuffled[n], mask[n]) for n in mask)
    assert shuffled == shuffle_within_layers(mask, seed=0)
    assert shuffled != shuffle_within_layers(mask, seed=1)
    assert shuffled != shuffle_within_layers(mask, seed=0, index=1)


def test_inversion_keeps_the_density_and_the_weights_the_method_would_prune(data):
    model = mlp()
    for method in ("snip", "grasp", "magnitude", "synflow"):
        mask = pai_mask(method, model, data, 0.2, seed=0)
        inverted = pai_mask(method, model, data, 0.2, seed=0, invert=True)
        assert inverted.num_kept() == mask.num_kept()
        if method != "synflow":  # one-shot: exactly the lowest scores, disjoint below 0.5
            assert overlap(mask, inverted)["overall"]["iou"] == 0.0
        else:  # inverted in every round: it keeps no more of SynFlow's weights than chance
            assert mask_agreement(mask, inverted)["overall"] < 0.02


def test_mask_agreement_is_iou_minus_chance(data):
    model = mlp()
    a = pai_mask("random", model, data, 0.3, seed=0)
    b = pai_mask("random", model, data, 0.3, seed=1)
    agreement = mask_agreement(a, b)
    assert set(agreement) == set(a) | {"overall"}
    assert abs(agreement["overall"]) < 0.03  # two random masks agree only by chance
    chance = 0.3 * 0.3 / (0.3 + 0.3 - 0.3 * 0.3)
    assert math.isclose(mask_agreement(a, a)["overall"], 1 - chance, rel_tol=1e-3)
    for name, v in overlap(a, b).items():
        assert math.isclose(agreement[name], v["iou"] - v["chance_iou"])


def test_layer_collapse_names_empty_layers():
    mask = Mask({"a": torch.tensor([True, False]), "b": torch.zeros(3, dtype=torch.bool)})
    assert layer_collapse(mask) == ["b"]


# --------------------------------------------------------------------------- bad inputs
def test_bad_inputs_are_refused_clearly(data):
    model = mlp()
    with pytest.raises(ValueError, match="snip.*synflow"):
        pai_mask("obd", model, data, 0.1, seed=0)
    with pytest.raises(ValueError, match="random_erk"):
        pai_scores("lamp", model, data, seed=0)
    for density in (0.0, -0.1, 1.5, True):
        with pytest.raises(ValueError, match="density"):
            pai_mask("magnitude", model, data, density, seed=0)
    with pytest.raises(ValueError, match="density"):
        erk_densities(model, 0)
    with pytest.raises(PruningError, match="fc9.weight"):
        pai_mask("magnitude", model, data, 0.1, seed=0, exclude=["fc9.weight"])
    with pytest.raises(PruningError, match="list"):
        pai_mask("magnitude", model, data, 0.1, seed=0, exclude="output.weight")
    with pytest.raises(PruningError, match="scope"):
        pai_mask("random_erk", model, data, 0.1, seed=0, scope="global")
    with pytest.raises(PruningError, match="scope"):
        pai_mask("snip", model, data, 0.1, seed=0, scope="per-layer")
    with pytest.raises(ValueError, match="iterations"):
        pai_mask("synflow", model, data, 0.1, seed=0, iterations=0)
    with pytest.raises(ValueError, match="batch_size"):
        pai_mask("snip", model, data, 0.1, seed=0, batch_size=10**6)
    with pytest.raises(ValueError, match="seed"):
        pai_mask("random", model, data, 0.1, seed="0")


def test_grasp_uses_the_authors_temperature_at_paper_scale(monkeypatch, tmp_path):
    """GraSP's code divides the logits by T=200 (alecwangcq/GraSP, pruner/GraSP.py); the paper
    preset does, and the temperature reaches the mask and the store key."""
    import lthlib.experiments.pai_study as ps
    from lthlib.data.datasets import load_dataset
    from lthlib.settings import TrainSettings

    assert ps.pai_for_scale("paper").grasp_temperature == 200.0
    assert ps.pai_for_scale("quick").grasp_temperature == 1.0
    seen = []
    real = ps.pai_mask
    monkeypatch.setattr(ps, "pai_mask", lambda *a, **k: seen.append(k.get("temperature")) or real(*a, **k))
    data = load_dataset("mnist1d", train_size=200, validation_size=100)
    settings = TrainSettings(model="mlp_mnist1d", iterations=4, eval_every=2, model_kwargs={"hidden": (16,)})
    ps.run_pai(settings, data, ("grasp", "snip"), [0.5], [0], grasp_temperature=200.0)
    assert seen == [200.0, None]  # GraSP gets it; SNIP has no temperature
    key = (("grasp", "none", 0.5, 0))
    assert ps._store_key(settings, key, 200.0) != ps._store_key(settings, key)
    assert ps._store_key(settings, ("snip", "none", 0.5, 0), 200.0) == ps._store_key(settings, ("snip", "none", 0.5, 0))


def test_a_stored_pai_mask_is_the_mask_computed_and_is_read_back_without_computing(monkeypatch, tmp_path):
    """Notebook 06 run again from a full store must not spend minutes re-scoring SynFlow's
    100 rounds to find its runs' keys: the masks are stored, exactly as computed, keyed by
    settings, method, density, inversion and GraSP's temperature."""
    import lthlib.experiments.pai_study as ps
    from lthlib.core.store import Store
    from lthlib.data.datasets import load_dataset
    from lthlib.engine.training import model_for
    from lthlib.settings import TrainSettings

    data = load_dataset("mnist1d", train_size=200, validation_size=100)
    settings = TrainSettings(model="mlp_mnist1d", seed=3, model_kwargs={"hidden": (16,)})
    store = Store(tmp_path)
    for method, invert in (("synflow", False), ("snip", True), ("random", False)):
        stored = ps.stored_pai_mask(store, settings, data, method, 0.2, invert=invert)
        direct = pai_mask(method, model_for(settings, data), data, 0.2, seed=3, invert=invert)
        assert stored.digest() == direct.digest()
        assert all(torch.equal(stored[n], direct[n]) for n in direct)
    monkeypatch.setattr(ps, "pai_mask", lambda *a, **k: pytest.fail("recomputed a stored mask"))
    again = ps.stored_pai_mask(store, settings, data, "synflow", 0.2)
    assert again.digest() == pai_mask("synflow", model_for(settings, data), data, 0.2, seed=3).digest()
    with pytest.raises(BaseException, match="recomputed"):  # another density is another mask
        ps.stored_pai_mask(store, settings, data, "synflow", 0.3)
    with pytest.raises(BaseException, match="recomputed"):  # another seed too
        ps.stored_pai_mask(store, settings.replace(seed=4), data, "synflow", 0.2)


@pytest.mark.parametrize("method", ["snip", "synflow"])
def test_a_mask_is_computed_on_the_training_threads_whatever_the_caller_uses(data, method, monkeypatch):
    """``pai_mask`` is stored, so it is computed on ``training_threads()`` torch threads (1
    unless LTHLIB_THREADS says otherwise), as training is, and gives the caller its own count
    back: a machine with more cores gets the same scores, not scores summed in another order."""
    import lthlib.methods.pai as pai
    from lthlib.core.threads import fixed_threads

    monkeypatch.delenv("LTHLIB_THREADS", raising=False)
    seen = []
    for name in ("pai_scores", "synflow_mask"):
        real = getattr(pai, name)
        monkeypatch.setattr(pai, name, lambda *a, _real=real, **k: seen.append(torch.get_num_threads()) or _real(*a, **k))
    with fixed_threads(2):
        two = pai_mask(method, mlp(), data, 0.2, seed=0)
        assert torch.get_num_threads() == 2
    with fixed_threads(1):
        one = pai_mask(method, mlp(), data, 0.2, seed=0)
    assert seen == [1, 1] and two == one
