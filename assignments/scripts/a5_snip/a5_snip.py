# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "a5_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # Assignment 5 · SNIP: pruning before training
#
# Builds on notebook **06** (pruning at initialisation). IMP needs the dense network trained
# first. SNIP (Lee et al. 2019) chooses the mask from the **initial** weights and one batch
# of data: the *connection sensitivity* of weight $w$ is $|g \cdot w|$, $g = \partial L /
# \partial w$, the first-order change of the loss when the connection is removed; SNIP keeps
# the most sensitive weights across the whole network. You write the score, the global
# selection, the SNIP mask and Frankle et al.'s *inverted* sanity check, and check them
# against `lthlib.methods.pai`.
#
# | part | what you write | points |
# |---|---|---|
# | A | `snip_scores`: $\lvert g \cdot w \rvert$ for every prunable weight | 3 |
# | B | `keep_top_global`: keep the highest scores across all layers | 3 |
# | C | `snip_mask`: SNIP's mask at a density, on lthlib's batch | 2 |
# | D | `inverted_snip_mask`: keep what SNIP would prune | 2 |
# | E | a written answer (graded by hand) | 1 |
#
# **How to work.** Replace each `raise NotImplementedError()` with your code, then run the
# test cell below it. The visible tests catch common mistakes and say what is wrong; hidden
# tests, run when the assignment is graded, check exact results on cases you do not see.
# The tests of Parts C and D run your functions with lthlib's score and selection in place
# of your `snip_scores` and `keep_top_global`, so a mistake in A or B costs only A or B.
# **Write each part yourself:** a part whose function calls lthlib's own implementation of it
# (`lthlib.methods.pai.snip_scores`, `pai_scores`, `pai_mask`, `lthlib.methods.pruning.prune_by_score`)
# scores 0, and its test cell says so.
#
# **Papers:** Lee, Ajanthan & Torr, *SNIP: Single-shot Network Pruning based on Connection
# Sensitivity* (ICLR 2019); Frankle, Dziugaite, Roy & Carbin, *Pruning Neural Networks at
# Initialization: Why are We Missing the Mark?* (ICLR 2021).
#
# **Time:** the tests take seconds. The experiment at the end runs at `SCALE="smoke"`
# (seconds, the numbers mean nothing) or `"quick"` (under a minute on a laptop CPU).

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": seconds (grading); "quick": under a minute on a laptop CPU

# %% nbgrader={"grade": false, "grade_id": "a5_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import torch
import torch.nn.functional as F

import lthlib
from lthlib.engine.training import model_for
from lthlib.masks import Mask
from lthlib.methods.pai import pai_batch
from lthlib.report.grading import mask_difference, no_shortcut, substituted
from lthlib.settings import check_parameters

check_parameters(SCALE=SCALE)

# a small network for the tests
TINY = lthlib.TrainSettings(iterations=40, eval_every=20, batch_size=32, train_size=600, validation_size=200,
                            model_kwargs={"hidden": (32, 16)}, seed=0)
tiny_data = lthlib.load_dataset("mnist1d", train_size=600, validation_size=200)

# %% [markdown] nbgrader={"grade": false, "grade_id": "a5_part_a", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part A · Connection sensitivity (3 points)
#
# For every prunable weight of `model` (`lthlib.prunable_parameters(model)`: the weights of
# linear and convolutional layers, not the biases), return $|g \odot w|$, where $g$ is the
# gradient of the mean cross-entropy `F.cross_entropy(model(x), y)` with respect to that
# weight tensor. Return `{name: score tensor}` (detached). Leave the model as it was: no
# gradients left behind in `.grad` (`torch.autograd.grad` returns gradients without storing
# them). (The paper divides by the sum of all scores; that does not change the ranking, so
# we leave it out.)

# %% nbgrader={"grade": false, "grade_id": "snip_scores", "locked": false, "schema_version": 3, "solution": true, "task": false}
def snip_scores(model, x, y):
    """{prunable weight name: |dL/dw * w|} on the batch (x, y)."""
    ### BEGIN SOLUTION
    params = lthlib.prunable_parameters(model)
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, list(params.values()))
    return {name: (g * w).abs().detach() for (name, w), g in zip(params.items(), grads)}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_snip_scores", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
snip_scores = no_shortcut(snip_scores, "Part A", "lthlib.methods.pai.snip_scores", "lthlib.methods.pai.pai_scores", "lthlib.methods.pai.pai_mask")
_model = model_for(TINY, tiny_data)
_x, _y = pai_batch(tiny_data, seed=0)
_scores = snip_scores(_model, _x, _y)
_names = list(lthlib.prunable_parameters(_model))
assert isinstance(_scores, dict) and list(_scores) == _names, (
    f"return scores for the prunable weights only, in order: {_names} (biases are not pruned; "
    "use lthlib.prunable_parameters(model))")
assert all(_scores[n].shape == _model.state_dict()[n].shape for n in _names), "each score tensor has its weight's shape"
assert all((_scores[n] >= 0).all() for n in _names), "a sensitivity is |g * w|: never negative"
assert all(p.grad is None for p in _model.parameters()), \
    "gradients were left in the model's .grad: use torch.autograd.grad(loss, weights) instead of loss.backward()"
_zeroed = model_for(TINY, tiny_data)
with torch.no_grad():
    _zeroed.hidden[0].weight[0, :5] = 0.0
assert (snip_scores(_zeroed, _x, _y)["hidden.0.weight"][0, :5] == 0).all(), \
    "a weight that is zero has sensitivity 0: multiply the gradient by the weight (|g * w|, not |g|)"
assert not _scores["hidden.0.weight"].requires_grad, "return detached scores (.detach())"
print("Part A: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.methods.pai import snip_scores as _reference

for _settings, _seed in [(TINY.replace(seed=5), 3), (TINY.replace(seed=2, model="cnn_mnist1d", model_kwargs={"channels": 4}), 8)]:
    _model = model_for(_settings, tiny_data)
    _x, _y = pai_batch(tiny_data, seed=_seed)
    _mine, _ref = snip_scores(_model, _x, _y), _reference(_model, _x, _y)
    _net = "the 1-D CNN" if _settings.model == "cnn_mnist1d" else "an unseen MLP"
    assert list(_mine) == list(_ref), f"{_net}: score the prunable weights {list(_ref)}, in that order"
    _total = sum(float(t.sum()) for t in _ref.values())
    for _n in _ref:
        _what = ("your scores are normalised (divided by their sum); leave that out"
                 if torch.allclose(_mine[_n], _ref[_n] / _total, rtol=1e-4) else
                 f"{_n}'s scores are not |dL/dw * w| for the mean cross-entropy on the batch you are given")
        assert torch.allclose(_mine[_n], _ref[_n], rtol=1e-5, atol=1e-10), f"{_net}: {_what}"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a5_part_b", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part B · Global selection (3 points)
#
# SNIP ranks all weights of the network together. Keep the
# `int(density * N + 0.5 + 1e-9)` highest scores of all $N$ scored weights (that is, remove
# the others, lowest first), wherever they are; among equal scores the lower index is
# removed first, counting through the layers in the dict's order as one long vector (a
# stable sort). Return a `Mask` over the scored layers.

# %% nbgrader={"grade": false, "grade_id": "keep_top_global", "locked": false, "schema_version": 3, "solution": true, "task": false}
def keep_top_global(scores, density):
    """Mask keeping the ``density`` fraction of the highest scores across all layers."""
    ### BEGIN SOLUTION
    names = list(scores)
    flat = torch.cat([scores[n].flatten() for n in names])
    n_keep = int(density * flat.numel() + 0.5 + 1e-9)
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[torch.sort(flat, stable=True).indices[: flat.numel() - n_keep]] = False
    out, start = {}, 0
    for n in names:
        out[n] = keep[start:start + scores[n].numel()].reshape(scores[n].shape)
        start += scores[n].numel()
    return Mask(out)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_keep_top_global", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
keep_top_global = no_shortcut(keep_top_global, "Part B", "lthlib.methods.pruning.prune_by_score",
                              "lthlib.methods.pruning.magnitude_prune", "lthlib.methods.pai.pai_mask", "lthlib.methods.pai._keep_top")
_s = {"a": torch.tensor([[5.0, 4.5], [3.0, 0.5]]), "b": torch.tensor([0.1, 0.2, 4.0, 0.3, 2.0, 0.05])}
_m = keep_top_global(_s, 0.4)
assert isinstance(_m, Mask) and list(_m) == ["a", "b"], "return a Mask over the scored layers, in their order"
assert _m.num_kept() == 4, f"0.4 x 10 weights: keep 4; you kept {_m.num_kept()}"
assert _m["a"].tolist() == [[True, True], [True, False]] and _m["b"].tolist() == [False, False, True, False, False, False], \
    "keep the 4 highest scores of the whole network (5, 4.5, 4 and 3), not the top 40% of each layer"
assert keep_top_global(_s, 0.25).num_kept() == 3, "0.25 x 10 = 2.5 rounds half up: keep 3"
_t = keep_top_global({"t": torch.tensor([1.0, 0.0, 0.0, 2.0, 0.0])}, 0.6)
assert _t["t"].tolist() == [True, False, False, True, True], \
    "ties: among equal scores the lower index is removed first (a stable sort of the scores, ascending)"
print("Part B: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.methods.pruning import prune_by_score as _prune_by_score

_g = torch.Generator().manual_seed(606)
for _density in (0.05, 0.2, 0.5, 0.73):
    for _ties in (False, True):
        _s = {"x.weight": torch.rand(12, 7, generator=_g), "y.weight": 0.3 * torch.rand(9, 12, generator=_g),
              "z.weight": 2 * torch.rand(15, generator=_g)}
        if _ties:
            _s = {n: torch.randint(0, 4, t.shape, generator=_g).float() for n, t in _s.items()}
        _total = sum(t.numel() for t in _s.values())
        _keep = int(_density * _total + 0.5 + 1e-9)
        _ones = Mask({n: torch.ones(t.shape, dtype=torch.bool) for n, t in _s.items()})
        _want = _prune_by_score(_s, _ones, (_total - _keep) / _total, scope="global", allow_empty_layers=True)
        _mine = keep_top_global(_s, _density)
        _wrong = mask_difference(_mine, _want, scores=_s, ranking="score")
        if _wrong and hasattr(_mine, "keys") and all(int(_mine[n].sum()) == int(_density * t.numel() + 0.5 + 1e-9)
                                                     for n, t in _s.items() if n in _mine.keys()):
            _wrong = ("you kept the top density of each layer separately; rank the scores of all layers together "
                      "(layers with larger scores keep more)")
        assert _wrong is None, (f"density {_density}, three layers of different scales"
                                + (", many tied scores" if _ties else "") + f": {_wrong}")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a5_part_c", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part C · SNIP's mask (2 points)
#
# SNIP's mask of `model` at `density`: score with your `snip_scores` on the one batch
# lthlib uses for SNIP, `pai_batch(data, seed)` (10 training examples of every class, drawn
# from the run's own random stream), then select globally with your `keep_top_global`. The
# result should equal `lthlib.methods.pai.pai_mask("snip", model, data, density, seed=seed)` (which
# you may not call).

# %% nbgrader={"grade": false, "grade_id": "snip_mask", "locked": false, "schema_version": 3, "solution": true, "task": false}
def snip_mask(model, data, density, seed):
    """SNIP's mask at ``density`` on the batch pai_batch(data, seed)."""
    ### BEGIN SOLUTION
    x, y = pai_batch(data, seed)
    return keep_top_global(snip_scores(model, x, y), density)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_snip_mask", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
from lthlib.methods.pai import snip_scores as _lthlib_snip_scores
from lthlib.methods.pruning import prune_by_score


def _lthlib_keep_top_global(scores, density):
    """Part B done by lthlib: the tests of C and D use it (and lthlib's scores) in place of yours."""
    _total = sum(t.numel() for t in scores.values())
    _ones = Mask({n: torch.ones(t.shape, dtype=torch.bool) for n, t in scores.items()})
    return prune_by_score(scores, _ones, (_total - int(density * _total + 0.5 + 1e-9)) / _total, scope="global",
                          allow_empty_layers=True)


snip_mask = no_shortcut(snip_mask, "Part C", "lthlib.methods.pai.pai_mask", "lthlib.methods.pai.pai_scores")
_given = substituted(globals(), snip_scores=_lthlib_snip_scores, keep_top_global=_lthlib_keep_top_global)
_model = model_for(TINY, tiny_data)
with _given:
    _m = snip_mask(_model, tiny_data, 0.1, seed=0)
assert isinstance(_m, Mask) and list(_m) == list(lthlib.prunable_parameters(_model)), \
    "return a Mask over the model's prunable weights"
_n = sum(p.numel() for p in lthlib.prunable_parameters(_model).values())
assert _m.num_kept() == int(0.1 * _n + 0.5), f"density 0.1 of {_n} weights keeps {int(0.1 * _n + 0.5)}"
with _given:
    assert _m == snip_mask(_model, tiny_data, 0.1, seed=0), "the same seed must give the same mask"
    assert _m != snip_mask(_model, tiny_data, 0.1, seed=1), \
        "another seed draws another batch (pai_batch(data, seed)), which gives another mask"
print("Part C: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.methods.pai import pai_mask as _pai_mask

for _settings, _seed, _density in [(TINY.replace(seed=3), 4, 0.2),
                                   (TINY.replace(seed=6, model="cnn_mnist1d", model_kwargs={"channels": 4}), 1, 0.05)]:
    _model = model_for(_settings, tiny_data)
    with _given:
        _mine = snip_mask(_model, tiny_data, _density, _seed)
    _wrong = mask_difference(_mine, _pai_mask("snip", _model, tiny_data, _density, seed=_seed))
    _net = "the 1-D CNN" if _settings.model == "cnn_mnist1d" else "an unseen MLP"
    assert _wrong is None, (f"{_net} at density {_density}: {_wrong} (score on pai_batch(data, seed) with the "
                            "model as given, then select globally)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a5_part_d", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part D · The inverted sanity check (2 points)
#
# Frankle et al. (2021) invert a pruning-at-initialisation method: keep the weights it would
# prune, at the same density and with the same selection. If the method's ranking carried
# information, the inverted mask should do much worse. Rank by the **negated** SNIP scores
# with your global selection. It should equal `pai_mask("snip", ..., invert=True)`.

# %% nbgrader={"grade": false, "grade_id": "inverted_snip_mask", "locked": false, "schema_version": 3, "solution": true, "task": false}
def inverted_snip_mask(model, data, density, seed):
    """The mask keeping the lowest SNIP scores, at ``density``."""
    ### BEGIN SOLUTION
    x, y = pai_batch(data, seed)
    return keep_top_global({n: -s for n, s in snip_scores(model, x, y).items()}, density)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_inverted_snip_mask", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
from lthlib.methods.pai import pai_mask as _pai_mask

inverted_snip_mask = no_shortcut(inverted_snip_mask, "Part D", "lthlib.methods.pai.pai_mask", "lthlib.methods.pai.pai_scores")
_model = model_for(TINY, tiny_data)
_snip = _pai_mask("snip", _model, tiny_data, 0.3, seed=0)
with substituted(globals(), snip_scores=_lthlib_snip_scores, keep_top_global=_lthlib_keep_top_global):
    _inv = inverted_snip_mask(_model, tiny_data, 0.3, seed=0)
assert _inv.num_kept() == _snip.num_kept(), "the inverted mask keeps as many weights as SNIP's, at the same density"
assert not any((_inv[n] & _snip[n]).any() for n in _snip), \
    "at density 0.3 the inverted mask keeps the lowest-scoring 30%: it shares no weight with SNIP's top 30%"
_x, _y = pai_batch(tiny_data, 0)
_sc = _lthlib_snip_scores(_model, _x, _y)
_lowest_kept = min(float(_sc[n][_snip[n]].min()) for n in _snip)
_highest_inv = max(float(_sc[n][_inv[n]].max()) for n in _inv)
assert _highest_inv <= _lowest_kept, "the inverted mask keeps the weights with the LOWEST scores, across all layers"
print("Part D: visible tests passed")
### BEGIN HIDDEN TESTS
for _settings, _seed, _density in [(TINY.replace(seed=9), 2, 0.15), (TINY.replace(seed=1), 5, 0.6)]:
    _model = model_for(_settings, tiny_data)
    with substituted(globals(), snip_scores=_lthlib_snip_scores, keep_top_global=_lthlib_keep_top_global):
        _mine = inverted_snip_mask(_model, tiny_data, _density, _seed)
    _want = _pai_mask("snip", _model, tiny_data, _density, seed=_seed, invert=True)
    _wrong = mask_difference(_mine, _want)
    _snip = _pai_mask("snip", _model, tiny_data, _density, seed=_seed)
    if _wrong is not None and all(torch.equal(_mine[n], ~_snip[n]) for n in _snip):
        _wrong = f"this is the complement of SNIP's mask, which keeps 1 - {_density} of the weights, not {_density}"
    assert _wrong is None, (f"an unseen MLP at density {_density}: {_wrong} (keep the lowest SNIP scores at the same "
                            "density, by your global selection of the negated scores)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a5_experiment_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## The experiment
#
# SNIP's mask, the inverted mask and a random mask with the same density in every layer, each
# trained from the same initial weights, for a few seeds. Also: how much of each layer SNIP
# keeps. Nothing here is graded.

# %%
from lthlib.engine.training import data_for, train
from lthlib.methods.pai import pai_mask

settings = lthlib.for_scale(SCALE)
SEEDS = {"smoke": 1, "quick": 3}.get(SCALE, 5)
DENSITY = 0.05
data = data_for(settings, device="cpu")
acc = {"SNIP": [], "inverted SNIP": [], "random (per layer)": []}
for seed in range(SEEDS):
    s = settings.replace(seed=seed)
    model = model_for(s, data)
    masks = {"SNIP": snip_mask(model, data, DENSITY, seed), "inverted SNIP": inverted_snip_mask(model, data, DENSITY, seed),
             "random (per layer)": pai_mask("random", model, data, DENSITY, seed=seed)}
    for label, mask in masks.items():
        acc[label].append(train(model_for(s, data), data, s, mask=mask, progress=False).at_early_stop("test_acc"))
print(f"{DENSITY:.0%} of the weights, {SEEDS} seed(s); test accuracy at early stopping:")
for label, values in acc.items():
    print(f"  {label:>18}: {sum(values) / len(values):.3f}")
print("SNIP keeps, per layer:", {n: f"{d:.1%}" for n, d in masks["SNIP"].layer_density().items()})

# %% [markdown] nbgrader={"grade": false, "grade_id": "a5_part_e", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part E · In words (1 point, graded by hand)
#
# Frankle et al. (2021) also *shuffle* SNIP's mask within each layer (random positions, the
# same count per layer) and find that accuracy hardly changes. What does that say about what
# SNIP's mask contributes, and how does that differ from an IMP ticket? (Two or three
# sentences.)

# %% [markdown] nbgrader={"grade": true, "grade_id": "a5_answer_e", "locked": false, "schema_version": 3, "solution": true, "task": false, "points": 1}
# If shuffling within layers does not hurt, the information in SNIP's mask is only how many
# weights it keeps in each layer (the layerwise densities), not which weights: SNIP is, in
# effect, choosing a sparse architecture. An IMP ticket (with rewinding) loses accuracy when
# its mask is shuffled or its weights reinitialised, so its particular weights and their
# values matter, which is what makes it a lottery ticket.
