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

# %% [markdown] nbgrader={"grade": false, "grade_id": "a6_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # Assignment 6 · Sensitivity scan and a per-layer budget
#
# Builds on notebooks **02** (layerwise pruning rates) and **08** (what sparsity buys), in the
# spirit of MIT 6.5940's pruning lab. Every layer of a trained network does not tolerate
# pruning equally: a small first layer that reads the 40 input features, or the output
# layer, may collapse where a large hidden layer hardly notices. Here you **measure** that
# (a sensitivity scan) and then **decide**: choose one pruning rate per layer so that the
# network keeps at most 10% of its weights and, after a short fine-tuning, stays above an
# accuracy floor. Uniform pruning (90% of every layer) does not reach the floor; a choice
# read from your scan can.
#
# | part | what you do | kind | points |
# |---|---|---|---|
# | A | `sensitivity_scan`: accuracy with one layer pruned at a time | implementation | 3 |
# | B | `RATES`: your per-layer rates, graded on the outcome: within the budget | judgement | 1 |
# | C | the same `RATES`: above the accuracy floor after fine-tuning (validation, and held-out test) | judgement | 3 |
# | D | your numbers, in words (graded by hand) | explanation | 3 |
#
# **How to work.** Part A as in the other assignments: replace `raise NotImplementedError()`
# and run the test cell. Parts B and C are graded on what your choice *achieves*, not on
# matching any code: the visible tests tell you whether your rates meet the budget and the
# floor on the validation split; the hidden test checks the same choice on the test split
# with another fine-tuning data order (2 points of slack), so a choice tuned to the last
# decimal of the validation accuracy may not hold.
#
# **Time:** the setup trains the network (about 5 s); a scan takes about a second, one
# fine-tuned evaluation of a choice about a second. At `SCALE = "quick"` the experiment at the
# end also scans with fine-tuning after each point (about 30 s), which Part D asks about.

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": seconds (grading); "quick": adds the fine-tuned scan (about 30 s)

# %% nbgrader={"grade": false, "grade_id": "a6_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# %matplotlib inline
import torch

import lthlib
from lthlib import evaluate
from lthlib.engine.training import model_for, train
from lthlib.masks import Mask
from lthlib.methods.pruning import magnitude_prune
from lthlib.settings import check_parameters

check_parameters(SCALE=SCALE)

# The network of this assignment: the same on every machine (up to the CPU's rounding), at any SCALE.
NET = lthlib.TrainSettings(model="mlp_mnist1d", dataset="mnist1d", optimizer="adam", lr=0.002, batch_size=64,
                           iterations=1500, eval_every=1500, validation_size=1000, model_kwargs={"hidden": (64, 256, 64)},
                           seed=0)
data = lthlib.load_dataset("mnist1d", validation_size=1000)
dense = train(model_for(NET, data), data, NET, progress=False)
WEIGHTS = dense.final_state
LAYERS = list(lthlib.prunable_parameters(model_for(NET, data)))
SIZES = {name: WEIGHTS[name].numel() for name in LAYERS}
BUDGET = 0.10  # keep at most 10% of the prunable weights
FLOOR = 0.50  # accuracy after fine-tuning (dense: about 0.70, chance: 0.10)
FINE_TUNE = NET.replace(iterations=300, eval_every=300, lr=0.001)  # masked fine-tuning from the pruned weights


def prune_layers(weights, rates):
    """Magnitude pruning, each layer in ``rates`` by its own rate (the fraction of its weights
    removed); layers not named keep every weight. (lthlib.methods.pruning.magnitude_prune, one shot.)"""
    full = Mask({name: torch.ones_like(weights[name], dtype=torch.bool) for name in LAYERS})
    return magnitude_prune(weights, full, {n: r for n, r in rates.items() if r > 0}, allow_empty_layers=True)


def kept_fraction(rates):
    """The fraction of the prunable weights ``rates`` keeps (what the budget limits)."""
    mask = prune_layers(WEIGHTS, rates)
    return sum(int(mask[name].sum()) for name in LAYERS) / sum(SIZES.values())


def fine_tuned_accuracy(rates, split="val", data_order_seed=None):
    """Prune WEIGHTS with ``rates``, fine-tune with the mask (FINE_TUNE), and return the accuracy
    on ``split`` ("val" or "test"). What Parts B and C grade."""
    model = model_for(NET, data)
    model.load_state_dict(WEIGHTS)
    run = train(model, data, FINE_TUNE.replace(data_order_seed=data_order_seed), mask=prune_layers(WEIGHTS, rates),
                progress=False)
    return run.final(f"{split}_acc")


print(f"dense network: {sum(SIZES.values()):,} prunable weights {SIZES}; "
      f"validation accuracy {dense.final('val_acc'):.3f}, test {dense.final('test_acc'):.3f}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "a6_part_a", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part A · The sensitivity scan (3 points)
#
# For every layer in `LAYERS` and every rate in `rates`: prune **that layer only** by the
# rate (one shot, by magnitude: `prune_layers(weights, {layer: rate})`), put the pruned
# weights into `model` (the other tensors as in `weights`) and measure the accuracy on `x, y`
# with `lthlib.evaluate(model, x, y)` (it returns `(loss, accuracy)`). No fine-tuning: the
# scan shows how much each layer's weights matter as they are. Return
# `{layer: [accuracy at each rate, in the order of rates]}`. Do not change `weights`.
#
# The scan reads the **validation** split (`data.x_val`, `data.y_val`): the test split is kept
# for judging your final choice.

# %% nbgrader={"grade": false, "grade_id": "sensitivity_scan", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sensitivity_scan(model, weights, x, y, rates):
    """{layer: [accuracy on (x, y) with only that layer pruned by each rate]}."""
    ### BEGIN SOLUTION
    scan = {}
    for layer in LAYERS:
        scan[layer] = []
        for rate in rates:
            mask = prune_layers(weights, {layer: rate})
            model.load_state_dict({name: (w * mask[name] if name in mask else w) for name, w in weights.items()})
            scan[layer].append(evaluate(model, x, y)[1])
    return scan
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_sensitivity_scan", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
import math

_x, _y = data.x_val[:500], data.y_val[:500]
_copy = {n: t.clone() for n, t in WEIGHTS.items()}


def _accuracy_with(rates, x=_x, y=_y, weights=WEIGHTS):
    _m = model_for(NET, data)
    _mask = prune_layers(weights, rates)
    _m.load_state_dict({n: (w * _mask[n] if n in _mask else w) for n, w in weights.items()})
    return evaluate(_m, x, y)[1]


_scan = sensitivity_scan(model_for(NET, data), WEIGHTS, _x, _y, [0.0, 0.5, 0.9])
assert isinstance(_scan, dict) and list(_scan) == LAYERS, f"return {{layer: [accuracies]}} for every layer, {LAYERS}"
assert all(len(_scan[n]) == 3 for n in LAYERS), "one accuracy per rate, in the order of rates (3 rates here)"
assert all(torch.equal(WEIGHTS[n], _copy[n]) for n in WEIGHTS), "weights was changed in place: prune a copy"
_dense_acc = _accuracy_with({})
assert not (math.isclose(_scan[LAYERS[0]][0], _dense_acc) and not all(math.isclose(_scan[n][0], _dense_acc)
                                                                      for n in LAYERS)), (
    "the first layer's scan starts at the dense accuracy, the later ones do not: the pruning of one layer carried over "
    "to the next. Prune ONE layer at a time, each time from the weights you are given")
assert all(math.isclose(_scan[n][0], _dense_acc) for n in LAYERS), (
    f"rate 0 prunes nothing: every layer's first accuracy is the dense network's, {_dense_acc:.3f} on x, y; "
    f"you gave {[round(_scan[n][0], 3) for n in LAYERS]}")
_first, _second = LAYERS[0], LAYERS[1]
_alone = _accuracy_with({_second: 0.9})
_with_first = _accuracy_with({_first: 0.9, _second: 0.9})
assert not (math.isclose(_scan[_second][2], _with_first) and not math.isclose(_with_first, _alone)), (
    f"{_second} at 0.9 gave the accuracy with {_first} pruned too: prune ONE layer at a time, from the dense weights "
    "(the pruning of one layer must not carry over to the next)")
assert math.isclose(_scan[_second][2], _alone), \
    f"{_second} pruned by 0.9 alone (magnitude, one shot) has accuracy {_alone:.3f} on x, y; you gave {_scan[_second][2]:.3f}"
assert not math.isclose(_scan[_second][2], 1 - _alone), "these are errors: the scan reports accuracies"
print("Part A: visible tests passed")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(61)
_other = {n: t + 0.01 * torch.randn(t.shape, generator=_g) for n, t in WEIGHTS.items()}
_rates = [0.2, 0.7, 0.8, 0.95]
_mine = sensitivity_scan(model_for(NET, data), _other, data.x_val, data.y_val, _rates)
for _n in LAYERS:
    for _i, _r in enumerate(_rates):
        _want = _accuracy_with({_n: _r}, data.x_val, data.y_val, _other)
        assert math.isclose(_mine[_n][_i], _want), (
            f"unseen weights, the full validation split: {_n} pruned by {_r} alone has accuracy {_want:.4f}, you "
            f"gave {_mine[_n][_i]:.4f} (prune the weights you are given, one layer at a time, and measure on x, y)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a6_scan_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Your scan
#
# Read it before Part B: which layers hold up at high rates, which fall first, and how large
# is each layer (`SIZES`)? A rate spent on a large, tolerant layer buys many weights; the same
# rate on a small, sensitive one buys few and costs accuracy.

# %%
import matplotlib.pyplot as plt

SCAN_RATES = [0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
scan = sensitivity_scan(model_for(NET, data), WEIGHTS, data.x_val, data.y_val, SCAN_RATES)
fig, ax = plt.subplots(figsize=(6, 3.5))
for layer, accs in scan.items():
    ax.plot(SCAN_RATES, accs, marker="o", label=f"{layer} ({SIZES[layer]:,} weights)")
ax.axhline(FLOOR, color="grey", linestyle=":", label=f"floor {FLOOR}")
ax.set_xlabel("fraction of the layer pruned (that layer only, no fine-tuning)")
ax.set_ylabel("validation accuracy")
ax.legend(fontsize=8)
plt.show()
print("rate:   " + "  ".join(f"{r:>5}" for r in SCAN_RATES))
for layer, accs in scan.items():
    print(f"{layer:>16}: " + "  ".join(f"{a:.3f}" for a in accs))

# %% [markdown] nbgrader={"grade": false, "grade_id": "a6_part_bc", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Parts B and C · Your per-layer rates (1 + 3 points)
#
# Set `RATES = {layer: fraction of that layer's weights to prune}` for the layers of
# `LAYERS` (a layer left out keeps all its weights) so that
#
# - **B** (1 point): at most `BUDGET` = 10% of the prunable weights are kept
#   (`kept_fraction(RATES) <= BUDGET`);
# - **C** (3 points): after pruning with your rates and fine-tuning with the mask
#   (`fine_tuned_accuracy(RATES)`: `FINE_TUNE`, 300 iterations), the validation accuracy is
#   at least `FLOOR` = 0.50, and the held-out test accuracy (another fine-tuning data order)
#   at least 0.48. Part C requires Part B's budget too.
#
# Use the cell below to try choices (each `fine_tuned_accuracy` call takes about a second);
# then write your final choice in the graded cell. The scan has no fine-tuning, so it ranks
# the layers rather than predicting the final accuracy. Uniform pruning, 90% of every layer,
# keeps exactly 10% and is the baseline to beat: compare it with your choice.

# %%
uniform = {layer: 0.9 for layer in LAYERS}
print(f"uniform 90%: keeps {kept_fraction(uniform):.1%}, fine-tuned validation accuracy "
      f"{fine_tuned_accuracy(uniform):.3f}")
# try your own here, e.g. print(kept_fraction(my_try), fine_tuned_accuracy(my_try))

# %% nbgrader={"grade": false, "grade_id": "rates", "locked": false, "schema_version": 3, "solution": true, "task": false}
RATES = {}  # {layer: rate}
### BEGIN SOLUTION
# 10% of 35,968 weights is 3,597: only the two large hidden layers (16,384 each) can give that
# many. The third holds up to 0.8 in the scan; the second falls from 0.7 one-shot, but it must
# give most of what remains, and fine-tuning is there to repair it. The first layer (2,560
# weights reading the 40 features) and the output layer (640) fall early and buy little: keep
# most of them.
RATES = {"hidden.0.weight": 0.45, "hidden.1.weight": 0.93, "hidden.2.weight": 0.97, "output.weight": 0.2}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_budget", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 1}
assert isinstance(RATES, dict) and set(RATES) <= set(LAYERS), \
    f"RATES maps layer names to rates; the layers are {LAYERS}, you named {sorted(RATES) if isinstance(RATES, dict) else RATES}"
assert all(isinstance(r, (int, float)) and 0.0 <= r < 1.0 for r in RATES.values()), \
    "each rate is the fraction of the layer's weights removed, in [0, 1) (1 would remove the whole layer)"
_kept = kept_fraction(RATES)
assert _kept <= BUDGET + 1e-12, (f"your rates keep {_kept:.2%} of the prunable weights; the budget is {BUDGET:.0%}: "
                                 f"remove {(_kept - BUDGET) * sum(SIZES.values()):,.0f} more weights")
print(f"Part B: your rates keep {_kept:.2%} of the weights (budget {BUDGET:.0%})")
# outcome test: graded on what the choice achieves; there is nothing to hide

# %% nbgrader={"grade": true, "grade_id": "test_floor", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
assert kept_fraction(RATES) <= BUDGET + 1e-12, f"first meet the budget (Part B): your rates keep {kept_fraction(RATES):.2%}"
_val = fine_tuned_accuracy(RATES)
assert _val >= FLOOR, (f"after fine-tuning, your choice reaches {_val:.3f} on the validation split; the floor is "
                       f"{FLOOR}: move pruning from the layers your scan shows sensitive to those it shows tolerant")
print(f"Part C: validation accuracy after fine-tuning {_val:.3f} (floor {FLOOR})")
### BEGIN HIDDEN TESTS
_test = fine_tuned_accuracy(RATES, split="test", data_order_seed=101)
assert _test >= FLOOR - 0.02, (f"held out: with another fine-tuning data order your choice reaches {_test:.3f} on the "
                               f"test split, below {FLOOR - 0.02:.2f}: it held on the validation split only by a narrow "
                               "margin; a choice with more slack holds on both")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a6_experiment_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## What your choice bought
#
# Your rates beside uniform pruning at the same budget, and (at `SCALE = "quick"`) the scan
# repeated with fine-tuning after each pruning. Nothing here is graded; Part D asks about it.

# %%
rows = {"uniform 90%": uniform, "your RATES": RATES}
for label, rates in rows.items():
    print(f"{label:>12}: keeps {kept_fraction(rates):.2%}, accuracy after fine-tuning: validation "
          f"{fine_tuned_accuracy(rates):.3f}, test {fine_tuned_accuracy(rates, split='test'):.3f}")
if SCALE != "smoke":
    tuned_rates = [0.5, 0.8, 0.9, 0.95]
    print("fine-tuned scan (one layer pruned, then fine-tuned), validation accuracy:")
    print("rate:   " + "  ".join(f"{r:>5}" for r in tuned_rates))
    for layer in LAYERS:
        print(f"{layer:>16}: " + "  ".join(f"{fine_tuned_accuracy({layer: r}):.3f}" for r in tuned_rates))

# %% [markdown] nbgrader={"grade": false, "grade_id": "a6_part_d", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part D · Your numbers, in words (3 points, graded by hand)
#
# Answer from **your** scan and printouts (quote the numbers; run at `SCALE = "quick"` for the
# fine-tuned scan):
#
# 1. Which layer is the most sensitive and which the least, at which rate does each fall below
#    the floor, and why might that be, given what each layer computes and its size?
# 2. How did you turn the scan into `RATES`, and what did your choice gain over uniform pruning
#    at the same budget (both numbers)?
# 3. Does the fine-tuned scan rank the layers as the one-shot scan does? What does that say
#    about using a one-shot scan to choose rates for a network that will be fine-tuned?

# %% [markdown] nbgrader={"grade": true, "grade_id": "a6_answer_d", "locked": false, "schema_version": 3, "solution": true, "task": false, "points": 3}
# **Rubric (3 points, 1 per question).** (1) Names the most and least sensitive layers with
# rates read from the student's own scan (they must match its printout), and a reason tied to
# the layer: the first layer has few weights per unit reading only 40 features, so each
# weight carries much of the input; the output layer is small and every class reads it
# directly; the large hidden layers are redundant. (2) Explains the allocation as spending
# the budget where the scan is flat and where the weights are (large tolerant layers), and
# quotes both accuracies (theirs and uniform's, from the printout). (3) Compares the two
# scans with numbers and draws a conclusion: fine-tuning recovers much of the one-shot loss
# and flattens the curves, so the one-shot scan ranks layers but overstates the damage; an
# answer that observes the ranking changes and says the scan is then a weaker guide earns
# the point too. No point for a correct statement not backed by the student's numbers.
#
# *Model answer (numbers from one run; dense 0.709 on validation).* (1) The first hidden layer
# is the most sensitive: 0.455 at rate 0.7, below the floor from 0.7 (the second falls there
# too, 0.520 then 0.310 at 0.8); the third is the least: 0.685 at 0.8, below the floor only
# from 0.9 (0.491). The first layer reads the 40 features through 2,560 weights, so each
# weight carries much of the input; the third is one of two large layers with many
# redundant weights. (2) The budget (3,597 weights) can only come from the two large
# layers, so prune them hardest (0.93 and 0.97) and the small ones lightly (first 0.45,
# output 0.2): 9.89% kept, 0.547 on validation and 0.539 on test after fine-tuning, against
# 0.411 and 0.410 for uniform 90%. (3) Fine-tuned, every layer holds up far better (the
# first 0.690 at 0.8, 0.612 at 0.9) and the second layer, which the one-shot scan ranked as
# fragile as the first, recovers almost fully (0.694 at 0.9): the one-shot scan finds the
# truly sensitive layers (first, then output at 0.95: 0.548) but overstates the damage in
# large layers that fine-tuning repairs, so read as final accuracies it gives too cautious
# a choice.
