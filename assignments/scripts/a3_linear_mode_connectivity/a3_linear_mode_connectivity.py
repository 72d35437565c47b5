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

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # Assignment 3 · Linear interpolation and the error barrier
#
# Builds on notebook **05** (linear mode connectivity). Train a *parent* network to iteration
# $k$, copy it into two *children* that differ only in SGD noise (the order of the
# minibatches), train both to the end, and evaluate the networks on the straight line
# between them. The **error barrier** (the paper's *instability*) is the largest error on
# that line minus the mean of the endpoints' errors. You write each step and check it against
# `lthlib.lmc`.
#
# | part | what you write | points |
# |---|---|---|
# | A | `interpolate`: the weights at a point of the line | 2 |
# | B | `error_barrier`: the barrier from the errors along the path | 2 |
# | C | `interpolation_errors`: the test error at evenly spaced points of the line | 3 |
# | D | `instability`: two children of a parent at iteration k, and their barrier | 3 |
# | E | a written answer (graded by hand) | 1 |
#
# **How to work.** Replace each `raise NotImplementedError()` with your code, then run the
# test cell below it. The visible tests catch common mistakes and say what is wrong; hidden
# tests, run when the assignment is graded, check exact results on cases you do not see.
#
# **Paper:** Frankle, Dziugaite, Roy & Carbin, *Linear Mode Connectivity and the Lottery
# Ticket Hypothesis* (ICML 2020).
#
# **Time:** the tests take seconds. The experiment at the end runs at `SCALE="smoke"`
# (seconds, the numbers mean nothing) or `"quick"` (about a minute on a laptop CPU).

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": seconds (grading); "quick": about a minute on a laptop CPU

# %% nbgrader={"grade": false, "grade_id": "a3_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# %matplotlib inline
import numpy as np
import torch

import lthlib
from lthlib import evaluate
from lthlib.config import check_parameters
from lthlib.masks import Mask
from lthlib.streams import stream_seed
from lthlib.training import model_for, train

check_parameters(SCALE=SCALE)

# a small network for the tests
TINY = lthlib.TrainSettings(iterations=40, eval_every=20, batch_size=32, train_size=600, validation_size=200,
                            model_kwargs={"hidden": (32, 16)}, seed=0)
tiny_data = lthlib.load_dataset("mnist1d", train_size=600, validation_size=200)

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_part_a", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part A · A point on the line (2 points)
#
# $w(\alpha) = (1 - \alpha)\, w_a + \alpha\, w_b$ for every floating-point tensor of the two
# state dicts. Tensors that are not floating point (BatchNorm's `num_batches_tracked`
# counter) are not interpolated: copy them from `state_a`. Do not change the inputs.

# %% nbgrader={"grade": false, "grade_id": "interpolate", "locked": false, "schema_version": 3, "solution": true, "task": false}
def interpolate(state_a, state_b, alpha):
    """The state dict at ``alpha`` on the line from ``state_a`` (0) to ``state_b`` (1)."""
    ### BEGIN SOLUTION
    return {name: (1 - alpha) * a + alpha * state_b[name] if a.is_floating_point() else a.clone()
            for name, a in state_a.items()}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_interpolate", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
_a = {"w": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "n": torch.tensor(7)}
_b = {"w": torch.tensor([[3.0, 2.0], [-1.0, 0.0]]), "n": torch.tensor(9)}
_mid = interpolate(_a, _b, 0.25)
assert isinstance(_mid, dict) and set(_mid) == set(_a), "return a state dict with the same keys"
assert torch.allclose(_mid["w"], torch.tensor([[1.5, 2.0], [2.0, 3.0]])), \
    "w(0.25) = 0.75 w_a + 0.25 w_b: alpha = 0 is state_a, alpha = 1 is state_b"
assert torch.equal(interpolate(_a, _b, 0.0)["w"], _a["w"]) and torch.equal(interpolate(_a, _b, 1.0)["w"], _b["w"]), \
    "the endpoints: alpha = 0 gives state_a, alpha = 1 gives state_b"
assert int(_mid["n"]) == 7 and _mid["n"].dtype == torch.int64, \
    "a tensor that is not floating point (a counter such as num_batches_tracked) is copied from state_a"
assert _a["w"][0, 0] == 1.0 and _b["w"][0, 0] == 3.0, "do not change the inputs in place"
print("Part A: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.lmc import interpolate_states as _reference

_g = torch.Generator().manual_seed(55)
_sa = {"x": torch.randn(5, 4, generator=_g), "y": torch.randn(3, generator=_g, dtype=torch.float64),
       "c": torch.tensor(3)}
_sb = {"x": torch.randn(5, 4, generator=_g), "y": torch.randn(3, generator=_g, dtype=torch.float64),
       "c": torch.tensor(8)}
for _alpha in (0.0, 0.1, 1 / 3, 0.5, 0.9, 1.0, 1.5, -0.25):
    _mine, _ref = interpolate(_sa, _sb, _alpha), _reference(_sa, _sb, _alpha)
    for _k in _ref:
        assert _mine[_k].dtype == _ref[_k].dtype and torch.allclose(_mine[_k], _ref[_k], rtol=1e-6, atol=1e-7), \
            f"alpha={_alpha}: {_k} differs from lthlib.lmc.interpolate_states"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_part_b", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part B · The error barrier (2 points)
#
# Given the errors $e_0, \dots, e_{n-1}$ at evenly spaced points from $\alpha=0$ to
# $\alpha=1$: the barrier is $\max_i e_i - \tfrac12 (e_0 + e_{n-1})$. It is about zero when
# the path is no worse than its ends (the children are *linearly connected*); the paper calls
# a network *stable* when it is below 2 percentage points.

# %% nbgrader={"grade": false, "grade_id": "error_barrier", "locked": false, "schema_version": 3, "solution": true, "task": false}
def error_barrier(errors):
    """max(errors) minus the mean of the first and last error."""
    ### BEGIN SOLUTION
    errors = [float(e) for e in errors]
    return max(errors) - 0.5 * (errors[0] + errors[-1])
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_error_barrier", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
import math

assert math.isclose(error_barrier([0.1, 0.3, 0.2]), 0.15), (
    "[0.1, 0.3, 0.2]: the largest error 0.3 minus the mean of the endpoints (0.1 + 0.2) / 2 = 0.15; "
    f"you gave {error_barrier([0.1, 0.3, 0.2])}")
assert math.isclose(error_barrier([0.2, 0.25, 0.9, 0.4]), 0.6), \
    "subtract the mean of the two ENDPOINTS (first and last), not of all points, and not the smallest error"
assert math.isclose(error_barrier([0.1, 0.15, 0.2]), 0.05), \
    "a path rising from 0.1 to 0.2 has barrier 0.2 - 0.15 = 0.05 (the largest error may be an endpoint)"
assert math.isclose(error_barrier(np.array([0.3, 0.3])), 0.0), "accept any sequence of errors (list, numpy array)"
print("Part B: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.lmc import error_barrier as _reference

_g = torch.Generator().manual_seed(8)
for _n in (2, 3, 7, 30):
    for _ in range(5):
        _errs = torch.rand(_n, generator=_g, dtype=torch.float64).tolist()
        assert math.isclose(error_barrier(_errs), _reference(_errs), rel_tol=1e-12, abs_tol=1e-12), \
            f"{_n} points: your barrier differs from lthlib.lmc.error_barrier"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_part_c", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part C · Errors along the line (3 points)
#
# Evaluate `points` networks at $\alpha$ = `np.linspace(0, 1, points)` (so the first is
# `state_a` and the last `state_b`): load each interpolated state into `model` and measure its
# error, 1 minus the accuracy `lthlib.evaluate(model, x, y)` returns (it returns `(loss,
# accuracy)`). Return the list of errors. (A network with BatchNorm would also need its
# statistics recomputed at each point, as `lthlib.lmc` does; this MLP has none.)

# %% nbgrader={"grade": false, "grade_id": "interpolation_errors", "locked": false, "schema_version": 3, "solution": true, "task": false}
def interpolation_errors(model, state_a, state_b, x, y, points):
    """Errors (1 - accuracy on x, y) at ``points`` evenly spaced alphas from 0 to 1."""
    ### BEGIN SOLUTION
    errors = []
    for alpha in np.linspace(0.0, 1.0, points):
        model.load_state_dict(interpolate(state_a, state_b, float(alpha)))
        errors.append(1.0 - evaluate(model, x, y)[1])
    return errors
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_interpolation_errors", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
_model = model_for(TINY, tiny_data)
_sa = model_for(TINY.replace(seed=1), tiny_data).state_dict()
_sb = model_for(TINY.replace(seed=2), tiny_data).state_dict()
_x, _y = tiny_data.x_test[:500], tiny_data.y_test[:500]
_errs = interpolation_errors(_model, _sa, _sb, _x, _y, 5)
assert len(_errs) == 5, f"return one error per point: 5 points, you gave {len(_errs)}"


def _error_of(state):
    _model.load_state_dict(state)
    return 1 - evaluate(_model, _x, _y)[1]


assert math.isclose(_errs[0], _error_of(_sa)) and math.isclose(_errs[-1], _error_of(_sb)), \
    "the first point is state_a (alpha = 0) and the last is state_b (alpha = 1): use np.linspace(0, 1, points)"
assert all(0.0 <= e <= 1.0 for e in _errs), "errors are 1 - accuracy, between 0 and 1 (not accuracies, not losses)"
assert math.isclose(_errs[2], _error_of(interpolate(_sa, _sb, 0.5))), "the middle of 5 points is alpha = 0.5"
print("Part C: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.lmc import interpolation_curve as _curve

for _seeds, _points in [((3, 4), 7), ((5, 6), 12)]:
    _sa = model_for(TINY.replace(seed=_seeds[0]), tiny_data).state_dict()
    _sb = model_for(TINY.replace(seed=_seeds[1]), tiny_data).state_dict()
    _mine = interpolation_errors(model_for(TINY, tiny_data), _sa, _sb, tiny_data.x_test, tiny_data.y_test, _points)
    _ref = _curve(model_for(TINY, tiny_data), _sa, _sb, tiny_data, _points)["test_error"]
    assert len(_mine) == len(_ref), f"{_points} points expected"
    # at most one test example may flip where the interpolation's float rounding differs
    assert max(abs(a - b) for a, b in zip(_mine, _ref)) <= 1.5 / len(tiny_data.y_test), \
        "your errors along the path differ from lthlib.lmc.interpolation_curve's test_error"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_part_d", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part D · Instability at iteration k (3 points)
#
# `parent_state` holds the parent's weights at iteration `k`. Make two children that differ
# only in the order of their minibatches: child $i$ ($i = 1, 2$) trains with
# `settings.replace(data_order_seed=stream_seed(settings.seed, "child", i))`, each from
# `parent_state` (a fresh `model_for(child_settings, data)` with that state loaded), with
# `train(model, data, child_settings, mask=mask, start_iteration=k, progress=False)`: from
# iteration `k` to the end, on the schedule and data order of iteration `k`. Then measure
# the test error (`data.x_test`, `data.y_test`) at `points` points between the children's
# trained weights (`run.final_state`) and return
# `{"barrier": ..., "errors": [...], "children": (state_1, state_2)}`.

# %% nbgrader={"grade": false, "grade_id": "instability", "locked": false, "schema_version": 3, "solution": true, "task": false}
def instability(settings, data, parent_state, k, mask=None, points=11):
    """Train two children of ``parent_state`` from iteration k; their error barrier."""
    ### BEGIN SOLUTION
    children = []
    for child in (1, 2):
        child_settings = settings.replace(data_order_seed=stream_seed(settings.seed, "child", child))
        model = model_for(child_settings, data)
        model.load_state_dict(parent_state)
        children.append(train(model, data, child_settings, mask=mask, start_iteration=k, progress=False).final_state)
    errors = interpolation_errors(model_for(settings, data), children[0], children[1], data.x_test, data.y_test, points)
    return {"barrier": error_barrier(errors), "errors": errors, "children": tuple(children)}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_instability", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
_parent = train(model_for(TINY, tiny_data), tiny_data, TINY, save_weights_at=[10], progress=False)
_res = instability(TINY, tiny_data, _parent.weights_at[10], 10, points=5)
assert isinstance(_res, dict) and {"barrier", "errors", "children"} <= set(_res), \
    "return {'barrier': ..., 'errors': [...], 'children': (state_1, state_2)}"
_c1, _c2 = _res["children"]
assert not torch.equal(_c1["hidden.0.weight"], _parent.weights_at[10]["hidden.0.weight"]), \
    "the children must be trained, from iteration k to the end"
assert not torch.equal(_c1["hidden.0.weight"], _c2["hidden.0.weight"]), (
    "your two children are identical: they must differ in the order of their minibatches (each its own "
    "data_order_seed from the 'child' stream), and in nothing else")
_same = model_for(TINY, tiny_data)
_same.load_state_dict(_parent.weights_at[10])
_same = train(_same, tiny_data, TINY, start_iteration=10, progress=False).final_state
assert not any(torch.equal(_c["hidden.0.weight"], _same["hidden.0.weight"]) for _c in (_c1, _c2)), (
    "a child continues with the parent's own data order: give each child its own data order, "
    "data_order_seed=stream_seed(settings.seed, 'child', i)")
assert len(_res["errors"]) == 5 and math.isclose(_res["barrier"], error_barrier(_res["errors"])), \
    "errors: the test errors at `points` points between the children; barrier: error_barrier of them"
_model = model_for(TINY, tiny_data)
_model.load_state_dict(_c1)
assert math.isclose(_res["errors"][0], 1 - evaluate(_model, tiny_data.x_test, tiny_data.y_test)[1]), \
    "the errors are measured on the test split (data.x_test, data.y_test), from child 1 (alpha 0) to child 2"
print("Part D: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.lmc import train_children as _train_children

for _seed, _k, _sparse in [(7, 0, False), (8, 20, True)]:
    _ts = TINY.replace(seed=_seed)
    _parent = train(model_for(_ts, tiny_data), tiny_data, _ts, save_weights_at=[_k], progress=False)
    _mask = None
    if _sparse:
        _mask = Mask({n: torch.rand(p.shape, generator=torch.Generator().manual_seed(_seed)) < 0.5
                      for n, p in lthlib.prunable_parameters(model_for(_ts, tiny_data)).items()})
    _res = instability(_ts, tiny_data, _parent.weights_at[_k], _k, mask=_mask, points=9)
    _a, _b = _train_children(_ts, tiny_data, _parent.weights_at[_k], _k, mask=_mask)
    for _mine, _ref in zip(_res["children"], (_a, _b)):
        assert all(torch.equal(_mine[n], _ref.final_state[n]) for n in _ref.final_state), \
            f"seed {_seed}, k={_k}: your children differ from lthlib.lmc.train_children's"
    _ref_errors = _curve(model_for(_ts, tiny_data), _a.final_state, _b.final_state, tiny_data, 9)["test_error"]
    assert abs(_res["barrier"] - error_barrier(_ref_errors)) <= 1.5 / len(tiny_data.y_test), \
        f"seed {_seed}, k={_k}: your barrier differs from lthlib.lmc's"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_experiment_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## The experiment: instability against the spawn iteration k
#
# The dense MLP is trained once; children are spawned at several iterations $k$ and their
# barrier measured with your functions. Nothing here is graded.

# %%
import matplotlib.pyplot as plt

from lthlib.training import data_for

settings = lthlib.for_scale(SCALE)
KS = {"smoke": (0, 50), "quick": (0, 50, 200, 1000)}.get(SCALE, (0, 100, 500, 2000))
data = data_for(settings, device="cpu")
parent = train(model_for(settings, data), data, settings, save_weights_at=KS, progress=False)
results = {k: instability(settings, data, parent.weights_at[k], k, points=11) for k in KS}
fig, ax = plt.subplots(figsize=(5, 3))
for k, res in results.items():
    ax.plot(np.linspace(0, 1, len(res["errors"])), res["errors"], marker="o", label=f"k = {k}: barrier {res['barrier']:.3f}")
ax.set_xlabel("alpha (child 1 to child 2)")
ax.set_ylabel("test error")
ax.legend()
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_part_e", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part E · In words (1 point, graded by hand)
#
# Frankle et al. find that IMP finds matching sparse networks exactly when the sparse network
# is *stable* at the rewind iteration. Explain in two or three sentences what a barrier near
# zero at iteration $k$ (but not at $k = 0$) says about training after $k$, and why that makes
# rewinding to $k$ work where resetting to iteration 0 fails.

# %% [markdown] nbgrader={"grade": true, "grade_id": "a3_answer_e", "locked": false, "schema_version": 3, "solution": true, "task": false, "points": 1}
# A barrier near zero at $k$ means that from iteration $k$ on, SGD noise no longer decides
# which basin (linearly connected region) training ends in: every data order leads to the
# same region. At $k = 0$ the noise still sends copies to different regions. A mask found by
# pruning the end of training suits that region; rewinding to a $k$ at which the outcome is
# already determined lands the sparse network back in it, while from iteration 0 the sparse
# network may end up elsewhere, where the mask does not fit.
