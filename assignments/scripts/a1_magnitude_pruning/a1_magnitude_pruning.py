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

# %% [markdown] nbgrader={"grade": false, "grade_id": "a1_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # Assignment 1 · Magnitude pruning and IMP with rewinding
#
# Builds on notebooks **02** (iterative magnitude pruning) and **03** (rewinding). You write
# the pieces of iterative magnitude pruning (IMP) yourself and check them against the
# library's own `lthlib.methods.pruning.magnitude_prune` and `lthlib.experiments.imp.run_imp`:
#
# | part | what you write | points |
# |---|---|---|
# | A | `layerwise_prune`: remove a fraction of each layer's surviving weights by magnitude | 3 |
# | B | `global_prune`: one ranking across layers, some layers excluded | 3 |
# | C | `remaining_counts`: how many weights are left after n rounds | 2 |
# | D | `imp_with_rewinding`: the IMP loop, rewinding the survivors to iteration k | 4 |
# | E | a written answer (graded by hand) | 1 |
#
# **How to work.** Replace each `raise NotImplementedError()` with your code, then run the
# test cell below it. The visible tests catch common mistakes and say what is wrong; hidden
# tests, run when the assignment is graded, check exact results on cases you do not see
# (against the library's implementation). Keep the function names and arguments.
# **Write each part yourself:** a part whose function calls lthlib's own implementation of it
# (`lthlib.methods.pruning.magnitude_prune`, `prune_by_score`, `lthlib.experiments.imp.run_imp`) scores 0, and its
# test cell says so.
#
# **Papers:** Frankle & Carbin, *The Lottery Ticket Hypothesis* (ICLR 2019); Frankle,
# Dziugaite, Roy & Carbin, *Linear Mode Connectivity and the Lottery Ticket Hypothesis*
# (ICML 2020) for rewinding.
#
# **Time:** the tests take seconds. The experiment at the end runs at `SCALE="smoke"`
# (seconds, the numbers mean nothing) or `"quick"` (about a minute on a laptop CPU).

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": seconds (grading); "quick": about a minute on a laptop CPU

# %% nbgrader={"grade": false, "grade_id": "a1_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import torch

import lthlib
from lthlib.masks import Mask
from lthlib.report.grading import mask_difference, no_shortcut
from lthlib.settings import check_parameters

check_parameters(SCALE=SCALE)


def n_to_remove(rate, n_alive):
    """How many of ``n_alive`` surviving weights a pruning ``rate`` removes: rate x n_alive,
    rounded half up (the papers' layer sizes give exact counts; lthlib counts the same way)."""
    return int(rate * n_alive + 0.5 + 1e-9)

# %% [markdown] nbgrader={"grade": false, "grade_id": "a1_part_a", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part A · Layerwise magnitude pruning (3 points)
#
# A **mask** is data: `Mask({parameter name: bool tensor})`, `True` where a weight survives.
# One pruning step removes, **in every layer named in `rates`**, the fraction `rates[name]`
# of that layer's **surviving** weights: those of smallest magnitude $|w|$.
#
# - Count with `n_to_remove(rate, n_alive)` (`n_alive`: the layer's surviving weights).
# - Rank only the surviving weights. A pruned weight is never counted, never removed again,
#   never revived.
# - Ties: among equal $|w|$, the weight with the lower (flattened) index is removed first
#   (a stable sort does this).
# - Layers not named in `rates` keep their mask unchanged. Return a new `Mask`; do not change
#   the one you were given.

# %% nbgrader={"grade": false, "grade_id": "layerwise_prune", "locked": false, "schema_version": 3, "solution": true, "task": false}
def layerwise_prune(weights, mask, rates):
    """Remove the smallest-magnitude surviving weights of each layer in ``rates``.

    weights: {name: tensor} (e.g. a state_dict); mask: a Mask; rates: {name: fraction of the
    layer's surviving weights to remove}. Returns a new Mask over the same layers.
    """
    ### BEGIN SOLUTION
    new = {name: keep.clone() for name, keep in mask.items()}
    for name, rate in rates.items():
        keep = mask[name].flatten().clone()
        alive = keep.nonzero().flatten()
        n = n_to_remove(rate, len(alive))
        if n:
            magnitude = weights[name].detach().abs().flatten()[alive]
            order = torch.sort(magnitude, stable=True).indices
            keep[alive[order[:n]]] = False
        new[name] = keep.reshape(mask[name].shape)
    return Mask(new)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_layerwise_prune", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
layerwise_prune = no_shortcut(layerwise_prune, "Part A", "lthlib.methods.pruning.magnitude_prune",
                              "lthlib.methods.pruning.prune_by_score")
_w = {"a": torch.tensor([[0.5, -0.1, 0.3], [-0.9, 0.2, 0.05]]),
      "b": torch.tensor([1.0, -2.0, 3.0, -4.0]),
      "c": torch.tensor([0.4, 0.3, 0.2, 0.1, 0.5])}
_m = Mask({n: torch.ones_like(t, dtype=torch.bool) for n, t in _w.items()})
_new = layerwise_prune(_w, _m, {"a": 0.5, "b": 0.25})
assert isinstance(_new, Mask), "return a lthlib Mask: Mask({name: bool tensor})"
assert list(_new) == list(_m), f"the new mask must cover the same layers as the old one, {list(_m)}"
assert int(_new["a"].sum()) == 3, (f"layer 'a': 50% of its 6 surviving weights are removed, 3 are kept; "
                                   f"you kept {int(_new['a'].sum())}")
assert _new["a"].tolist() == [[True, False, True], [True, False, False]], \
    "layer 'a': remove the 3 weights of smallest |w| (0.05, -0.1 and 0.2) and keep the rest"
assert _new["b"].tolist() == [False, True, True, True], \
    "layer 'b': rank by magnitude |w|, not by signed value (-4.0 is the largest weight of this layer)"
assert torch.equal(_new["c"], _m["c"]), "layer 'c' is not in rates: its mask must stay as it was"
assert _m["a"].all(), "do not change the mask you were given; return a new one"

# a rate is a fraction of the SURVIVING weights; pruned weights (zero after masked training) are not ranked
_m2 = Mask({"a": torch.tensor([[True, True, True], [False, False, False]])})
_w2 = {"a": torch.tensor([[0.5, -0.1, 0.3], [0.0, 0.0, 0.0]])}
_new2 = layerwise_prune(_w2, _m2, {"a": 1 / 3})
assert not (_new2["a"] & ~_m2["a"]).any(), "a pruned weight came back to life: pruning only ever removes survivors"
assert _new2["a"].tolist() == [[True, False, True], [False, False, False]], (
    "with 3 survivors and rate 1/3, remove exactly 1 weight, the smallest *surviving* one (-0.1): count and "
    "rank the survivors only (an already pruned weight must not be counted or removed again)")

# counting: rate x survivors, rounded half up
_new3 = layerwise_prune(_w, _m, {"c": 0.5})
assert int(_new3["c"].sum()) == 2, ("layer 'c': 0.5 x 5 = 2.5 weights round up to 3 removed, 2 kept; count "
                                    f"with n_to_remove(rate, n_alive); you kept {int(_new3['c'].sum())}")

# ties: the lower index goes first
_new4 = layerwise_prune({"t": torch.tensor([0.2, -0.2, 0.2, 0.1])}, Mask({"t": torch.ones(4, dtype=torch.bool)}),
                        {"t": 0.5})
assert _new4["t"].tolist() == [False, True, True, False], \
    "ties: among equal |w| the weight with the lower index is removed first (sort with stable=True)"
print("Part A: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.methods.pruning import magnitude_prune as _reference

_g = torch.Generator().manual_seed(20240)
for _case in range(12):
    _shapes = {"l0.weight": (7, 5), "l1.weight": (3, 4, 2), "out.weight": (11,)}
    _wh = {n: torch.randn(s, generator=_g) for n, s in _shapes.items()}
    if _case % 3 == 0:  # many ties
        _wh = {n: torch.randint(-3, 4, s, generator=_g).float() for n, s in _shapes.items()}
    _mh = Mask({n: torch.rand(s, generator=_g) > (0.0 if _case < 4 else 0.4) for n, s in _shapes.items()})
    _rates = {"l0.weight": [0.2, 0.5, 0.1, 0.3][_case % 4], "out.weight": [0.5, 0.25, 0.1][_case % 3]}
    if _case % 2:
        _rates["l1.weight"] = 0.45
    _wrong = mask_difference(layerwise_prune(_wh, _mh, _rates), _reference(_wh, _mh, _rates, allow_empty_layers=True),
                             scores={n: t.abs() for n, t in _wh.items()}, before=_mh)
    assert _wrong is None, ("an unseen case (" + ("integer weights with many ties, " if _case % 3 == 0 else "")
                            + ("some weights already pruned, " if _case >= 4 else "every weight alive, ")
                            + f"rates {_rates}): {_wrong}")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a1_part_b", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part B · Global magnitude pruning (3 points)
#
# Global pruning ranks the surviving weights of **all** layers together (except the layers in
# `exclude`, which keep their masks) and removes `n_to_remove(rate, all survivors)` of the
# smallest $|w|$, wherever they are. Layers with small weights lose more. Ties: the lower
# index goes first, counting through the layers in the mask's order as one long vector.
# (Frankle et al. prune ResNet-20 and VGG-16 globally, 20% per round.)

# %% nbgrader={"grade": false, "grade_id": "global_prune", "locked": false, "schema_version": 3, "solution": true, "task": false}
def global_prune(weights, mask, rate, exclude=()):
    """Remove the ``rate`` fraction of all surviving weights of the layers not in ``exclude``,
    ranked together by |w|. Returns a new Mask over the same layers."""
    ### BEGIN SOLUTION
    names = [name for name in mask if name not in exclude]
    keep = torch.cat([mask[name].flatten() for name in names]).clone()
    magnitude = torch.cat([weights[name].detach().abs().flatten() for name in names])
    alive = keep.nonzero().flatten()
    n = n_to_remove(rate, len(alive))
    if n:
        order = torch.sort(magnitude[alive], stable=True).indices
        keep[alive[order[:n]]] = False
    new, start = {name: t.clone() for name, t in mask.items()}, 0
    for name in names:
        size = mask[name].numel()
        new[name] = keep[start:start + size].reshape(mask[name].shape)
        start += size
    return Mask(new)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_global_prune", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
global_prune = no_shortcut(global_prune, "Part B", "lthlib.methods.pruning.magnitude_prune", "lthlib.methods.pruning.prune_by_score")
_w = {"big": torch.tensor([1.0, -2.0, 1.5, 3.0]), "small": torch.tensor([0.01, -0.02, 0.03, 0.015, -0.05, 0.04])}
_m = Mask({n: torch.ones_like(t, dtype=torch.bool) for n, t in _w.items()})
_new = global_prune(_w, _m, 0.3)
assert isinstance(_new, Mask) and list(_new) == list(_m), "return a Mask over the same layers"
assert _new.num_kept() == 7, f"0.3 x 10 survivors = 3 removed, 7 kept; you kept {_new.num_kept()}"
assert _new["big"].all(), ("global pruning ranks all layers together: the 3 smallest |w| are all in layer 'small', "
                           "so 'big' keeps every weight (pruning each layer separately would cut 'big' too)")
assert _new["small"].tolist() == [False, False, True, False, True, True], \
    "layer 'small' should lose 0.01, -0.02 and 0.015"

_new = global_prune(_w, _m, 0.3, exclude=("small",))
assert _new["small"].all(), "layers in exclude keep their mask"
assert _new["big"].tolist() == [False, True, True, True], (
    "with 'small' excluded, count and rank the survivors of the pruned layers only: n_to_remove(0.3, 4) = 1 "
    "weight of 'big' (its smallest, 1.0) goes")

_m2 = Mask({"big": torch.tensor([True, True, True, True]), "small": torch.tensor([False] * 5 + [True])})
_new2 = global_prune(_w, _m2, 0.4)
assert not (_new2["small"] & ~_m2["small"]).any(), "a pruned weight came back to life"
assert _new2.num_kept() == 3, ("5 survivors, rate 0.4: remove 2 of the survivors only (pruned weights are not "
                               f"counted or removed again); you kept {_new2.num_kept()}")
print("Part B: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.methods.pruning import magnitude_prune as _reference

_g = torch.Generator().manual_seed(777)
for _case in range(12):
    _shapes = {"l0.weight": (6, 5), "l1.weight": (4, 3, 2), "out.weight": (9,)}
    _scale = {"l0.weight": 1.0, "l1.weight": 0.3, "out.weight": 2.0}
    _wh = {n: torch.randn(s, generator=_g) * _scale[n] for n, s in _shapes.items()}
    if _case % 4 == 1:  # ties across layers
        _wh = {n: torch.randint(-2, 3, s, generator=_g).float() for n, s in _shapes.items()}
    _mh = Mask({n: torch.rand(s, generator=_g) > (0.0 if _case < 3 else 0.5) for n, s in _shapes.items()})
    _rate = [0.2, 0.5, 0.35, 0.1][_case % 4]
    _ex = [(), ("out.weight",), ("l0.weight", "out.weight")][_case % 3]
    _wrong = mask_difference(global_prune(_wh, _mh, _rate, exclude=_ex),
                             _reference(_wh, _mh, _rate, scope="global", exclude=_ex, allow_empty_layers=True),
                             scores={n: t.abs() for n, t in _wh.items()}, before=_mh)
    assert _wrong is None, ("an unseen case (layers of different scales, " + ("ties across layers, " if _case % 4 == 1
                                                                             else "")
                            + f"rate {_rate}, exclude={_ex}): {_wrong} (rank the survivors of all layers not "
                            "excluded together; ties: lower index first, layers in the mask's order)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a1_part_c", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part C · How many weights are left after n rounds? (2 points)
#
# IMP prunes round after round, each round removing `n_to_remove(rate, survivors)` of a
# layer's survivors. Write `remaining_counts(sizes, rates, rounds)`: for layers of
# `sizes[name]` weights, pruned with `rates[name]` per round (layers not in `rates` are not
# pruned), how many weights each layer keeps after `rounds` rounds. Count round by round:
# the rounding compounds, so $\mathrm{round}(s (1 - r)^n)$ is not always right.
#
# LeNet-300-100 (Frankle & Carbin): 20% of the hidden layers and 10% of the output layer per
# round, so after $n$ rounds about $0.8^n$ of the hidden weights remain.

# %% nbgrader={"grade": false, "grade_id": "remaining_counts", "locked": false, "schema_version": 3, "solution": true, "task": false}
def remaining_counts(sizes, rates, rounds):
    """{name: weights kept after ``rounds`` rounds of layerwise pruning}."""
    ### BEGIN SOLUTION
    counts = dict(sizes)
    for _ in range(rounds):
        for name, rate in rates.items():
            counts[name] -= n_to_remove(rate, counts[name])
    return counts
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_remaining_counts", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
remaining_counts = no_shortcut(remaining_counts, "Part C", "lthlib.methods.pruning.magnitude_prune",
                               "lthlib.methods.pruning.prune_by_score")
_lenet = {"fc1": 784 * 300, "fc2": 300 * 100, "fc3": 100 * 10}
_rates = {"fc1": 0.2, "fc2": 0.2, "fc3": 0.1}
_one = remaining_counts(_lenet, _rates, 1)
assert isinstance(_one, dict) and set(_one) == set(_lenet), "return {layer name: count} for every layer in sizes"
assert _one == {"fc1": 188_160, "fc2": 24_000, "fc3": 900}, f"after one round: 80%, 80% and 90% remain; you gave {_one}"
_two = remaining_counts(_lenet, _rates, 2)
assert _two["fc1"] == 150_528, ("a rate is a fraction of the *surviving* weights: after two rounds fc1 keeps "
                                f"0.8 x 188,160 = 150,528 (not 235,200 x (1 - 2 x 0.2)); you gave {_two['fc1']}")
assert remaining_counts(_lenet, _rates, 0) == _lenet, "zero rounds prune nothing"
assert remaining_counts({"x": 7}, {"x": 0.5}, 2) == {"x": 1}, (
    "count round by round: 7 -> 7 - n_to_remove(0.5, 7) = 3 -> 3 - n_to_remove(0.5, 3) = 1 "
    "(round(7 x 0.25) = 2 rounds only once, at the end)")
assert remaining_counts({"x": 10, "y": 4}, {"x": 0.5}, 3)["y"] == 4, "a layer not in rates is not pruned"
print("Part C: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.methods.pruning import magnitude_prune as _reference

_g = torch.Generator().manual_seed(31)
for _sizes, _r, _n in [({"a": 97, "b": 13, "c": 5}, {"a": 0.2, "b": 0.1, "c": 0.5}, 5),
                       ({"a": 1000, "b": 333}, {"a": 0.4, "b": 0.2}, 6),
                       ({"a": 40 * 300, "b": 300 * 100, "c": 1000}, {"a": 0.5, "b": 0.5, "c": 0.25}, 2),
                       ({"a": 51}, {"a": 0.15}, 9)]:
    _wh = {n: torch.randn(s, generator=_g) for n, s in _sizes.items()}
    _mh = Mask({n: torch.ones(s, dtype=torch.bool) for n, s in _sizes.items()})
    for _ in range(_n):
        _mh = _reference(_wh, _mh, _r, allow_empty_layers=True)
    _want = {n: int(_mh[n].sum()) for n in _sizes}
    _mine = remaining_counts(_sizes, _r, _n)
    _once = {n: int(s * (1 - _r.get(n, 0)) ** _n + 0.5) for n, s in _sizes.items()}
    _even = dict(_sizes)
    for _ in range(_n):
        _even = {n: c - round(_r.get(n, 0) * c) for n, c in _even.items()}
    _what = ("you rounded once at the end; count round by round" if _mine == _once else
             "Python's round() rounds halves to even; count with n_to_remove (halves up)" if _mine == _even else
             "count round by round, removing n_to_remove(rate, survivors) each round")
    assert _mine == _want, f"sizes {_sizes}, rates {_r}, {_n} rounds: you gave {_mine}, the counts are {_want}: {_what}"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a1_part_d", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part D · The IMP loop with rewinding (4 points)
#
# IMP with rewinding to iteration $k$ (notebook 03), given the dense run:
#
# 1. prune the **trained** weights of the previous round (round 1: the dense network's
#    trained weights) with `prune(weights, mask)`;
# 2. **rewind**: start from the dense run's weights at iteration $k$ (`rewind_state`), with the
#    pruned weights set to zero (tensors the mask does not cover, such as biases, are
#    rewound too and not masked);
# 3. train with the mask: `train_from(start_state, mask)` returns the trained weights;
# 4. repeat for `rounds` rounds.
#
# Return one `(mask, start_state, trained_state)` per round. The functions `prune` and
# `train_from` are given to you (so Part D does not depend on Parts A-B): the tests pass a
# fake trainer; the experiment below passes real training.

# %% nbgrader={"grade": false, "grade_id": "imp_with_rewinding", "locked": false, "schema_version": 3, "solution": true, "task": false}
def imp_with_rewinding(dense_final, rewind_state, first_mask, prune, train_from, rounds):
    """IMP with rewinding: a list of ``(mask, start_state, trained_state)``, one per round.

    dense_final: the dense run's trained weights; rewind_state: its weights at iteration k;
    first_mask: the dense mask (every weight alive); prune(weights, mask) -> new Mask;
    train_from(start_state, mask) -> trained weights.
    """
    ### BEGIN SOLUTION
    out, mask, weights = [], first_mask, dense_final
    for _ in range(rounds):
        mask = prune(weights, mask)
        start = {name: (w * mask[name] if name in mask else w.clone()) for name, w in rewind_state.items()}
        trained = train_from(start, mask)
        out.append((mask, start, trained))
        weights = trained
    return out
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_imp_with_rewinding", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 4}
from lthlib.methods.pruning import magnitude_prune

_g = torch.Generator().manual_seed(5)
_shapes = {"w1": (6, 5), "b1": (6,), "w2": (3, 6)}
_rewind = {n: torch.randn(s, generator=_g) for n, s in _shapes.items()}
_rewind_copy = {n: t.clone() for n, t in _rewind.items()}
_dense_final = {n: torch.randn(s, generator=_g) for n, s in _shapes.items()}
_factor = {n: 3 * torch.rand(s, generator=_g) for n, s in _shapes.items()}
_calls = []


def _fake_train(start, mask):
    """A stand-in for training: scales every weight by a fixed random factor."""
    _calls.append(({n: t.clone() for n, t in start.items()}, mask))
    return {n: start[n] * _factor[n] for n in start}


def _prune(weights, mask):
    return magnitude_prune(weights, mask, {"w1": 0.3, "w2": 0.2})


_first = Mask({"w1": torch.ones(6, 5, dtype=torch.bool), "w2": torch.ones(3, 6, dtype=torch.bool)})
imp_with_rewinding = no_shortcut(imp_with_rewinding, "Part D", "lthlib.experiments.imp.run_imp", "lthlib.experiments.imp.imp_round",
                                 "lthlib.experiments.imp.run_imp_many", "lthlib.experiments.imp.run_imp_seeds", "lthlib.experiments.imp._round_starts")
_out = imp_with_rewinding(_dense_final, _rewind, _first, _prune, _fake_train, 3)
assert isinstance(_out, list) and len(_out) == 3 and all(len(r) == 3 for r in _out), \
    "return a list with one (mask, start_state, trained_state) per round"
assert len(_calls) == 3, f"train once per round (3 rounds); train_from was called {len(_calls)} times"
assert all(torch.equal(_rewind[n], _rewind_copy[n]) for n in _shapes), \
    "rewind_state was changed in place: every round rewinds to it, so build a new start state each round"
assert _out[0][0] == _prune(_dense_final, _first), \
    "round 1 prunes the dense network's trained weights (dense_final), starting from first_mask"
for _r, (_mask, _start, _trained) in enumerate(_out, 1):
    assert torch.equal(_start["w1"], _rewind["w1"] * _mask["w1"]) and \
        torch.equal(_start["w2"], _rewind["w2"] * _mask["w2"]), (
        f"round {_r}: start from the weights at iteration k (rewind_state) with the pruned weights set to zero "
        "(not the initial, dense-trained or previous round's weights)")
    assert torch.equal(_start["b1"], _rewind["b1"]), \
        f"round {_r}: tensors the mask does not cover (the bias b1) are rewound too, and not masked"
    assert torch.equal(_calls[_r - 1][0]["w1"], _start["w1"]) and _calls[_r - 1][1] == _mask, \
        f"round {_r}: train from the start state you return, with the round's mask"
    assert all(torch.equal(_trained[n], _start[n] * _factor[n]) for n in _shapes), \
        f"round {_r}: trained_state is what train_from returned"
for _r in (1, 2):
    assert _out[_r][0] == _prune(_out[_r - 1][2], _out[_r - 1][0]), (
        f"round {_r + 1} prunes the weights *trained* in round {_r}, starting from round {_r}'s mask "
        "(not the rewound weights, not the dense ones)")
print("Part D: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.engine.training import model_for, train
from lthlib.experiments.imp import IMPSettings, run_imp
from lthlib.methods.pruning import layerwise_rates

_data = lthlib.load_dataset("mnist1d", train_size=600, validation_size=200)
for _seed, _k, _rate, _out_rate in [(3, 10, 0.5, 0.25), (11, 0, 0.3, 0.1)]:
    _ts = lthlib.TrainSettings(iterations=40, eval_every=20, batch_size=32, train_size=600, validation_size=200,
                               model_kwargs={"hidden": (32, 16)}, seed=_seed)
    _ref = run_imp(IMPSettings(train=_ts, rounds=3, rewind_iteration=_k, rate=_rate, output_rate=_out_rate,
                               controls=()), _data, progress=False)
    _rates = layerwise_rates(model_for(_ts, _data), _rate, _out_rate)

    def _train_from(start, mask, _ts=_ts, _k=_k):
        model = model_for(_ts, _data)
        model.load_state_dict(start)
        return train(model, _data, _ts, mask=mask, start_iteration=_k, progress=False).final_state

    _mine = imp_with_rewinding(_ref.dense.final_state, _ref.dense.weights_at[_k], Mask.ones_like(model_for(_ts, _data)),
                               lambda w, m, _rates=_rates: magnitude_prune(w, m, _rates), _train_from, 3)
    _case = f"real training, rewinding to k = {_k}"
    assert len(_mine) == 3, f"{_case}: 3 rounds asked, you returned {len(_mine)}"
    for _r, (_mask, _start, _trained) in enumerate(_mine):
        _wrong = mask_difference(_mask, _ref.rounds[_r].mask)
        assert _wrong is None, (f"{_case}: round {_r + 1}'s mask is not IMP's: {_wrong}; each round prunes the weights "
                                "trained in the round before (round 1: dense_final), from that round's mask")
        assert all(torch.equal(_start[n], _ref.dense.weights_at[_k][n] * _mask[n] if n in _mask else
                               _ref.dense.weights_at[_k][n]) for n in _start), \
            f"{_case}: round {_r + 1} does not start from the weights at iteration k with the pruned ones set to zero"
        assert all(torch.equal(_trained[n], _ref.rounds[_r].ticket.final_state[n]) for n in _trained), \
            f"{_case}: round {_r + 1}'s trained weights are not what train_from returns for that round's start and mask"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a1_experiment_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Your IMP, end to end
#
# The cell below runs **your** `layerwise_prune` and `imp_with_rewinding` with real training
# (the scale's MNIST-1D MLP and pruning schedule, `lthlib.experiments.imp.imp_for_scale`), rewinding to
# iteration `REWIND`, and then `lthlib.experiments.imp.run_imp` with the same settings: the masks and
# accuracies should agree exactly. Nothing here is graded; change it as you like.

# %%
from lthlib.engine.training import data_for, model_for, train
from lthlib.experiments.imp import imp_for_scale, run_imp
from lthlib.methods.pruning import layerwise_rates

settings = lthlib.for_scale(SCALE)
imp_settings = imp_for_scale(SCALE, settings, controls=(), rewind_iteration={"smoke": 25, "quick": 100}.get(SCALE, 500))
REWIND = imp_settings.rewind_iteration
data = data_for(settings, device="cpu")
dense = train(model_for(settings, data), data, settings, save_weights_at=[0, REWIND], progress=False)
rates = layerwise_rates(model_for(settings, data), imp_settings.rate, imp_settings.output_rate)
tickets = []


def train_from(start, mask):
    model = model_for(settings, data)
    model.load_state_dict(start)
    run = train(model, data, settings, mask=mask, start_iteration=REWIND, progress=False)
    tickets.append(run)
    return run.final_state


mine = imp_with_rewinding(dense.final_state, dense.weights_at[REWIND], Mask.ones_like(model_for(settings, data)),
                          lambda w, m: layerwise_prune(w, m, rates), train_from, imp_settings.rounds)
reference = run_imp(imp_settings, data, progress=False)
print(f"{'round':>5}  {'weights left':>12}  {'test acc (yours)':>16}  {'test acc (lthlib)':>17}  same mask")
print(f"{0:>5}  {1.0:>12.1%}  {dense.at_early_stop('test_acc'):>16.3f}  {reference.dense.at_early_stop('test_acc'):>17.3f}")
for r, ((mask, _, _), run, ref) in enumerate(zip(mine, tickets, reference.rounds), 1):
    print(f"{r:>5}  {mask.density():>12.1%}  {run.at_early_stop('test_acc'):>16.3f}  "
          f"{ref.ticket.at_early_stop('test_acc'):>17.3f}  {mask == ref.mask}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "a1_part_e", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part E · In words (1 point, graded by hand)
#
# IMP resets the surviving weights to their values at iteration $k$ instead of drawing fresh
# ones. Which control of notebook 02 tests whether that matters, and what would it mean for
# the lottery ticket hypothesis if that control matched the ticket's accuracy? (Two or three
# sentences.)

# %% [markdown] nbgrader={"grade": true, "grade_id": "a1_answer_e", "locked": false, "schema_version": 3, "solution": true, "task": false, "points": 1}
# The **random reinitialisation** control keeps the ticket's mask but trains it from fresh
# random weights. If it matched the ticket, the mask alone (the architecture IMP found) would
# explain the ticket's accuracy and the particular initial weights would not matter, which is
# the opposite of the hypothesis: a winning ticket is the mask *together with* its
# initialisation (at $k=0$) or its early weights (rewinding).
