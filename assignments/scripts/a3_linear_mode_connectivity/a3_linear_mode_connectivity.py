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
# that line minus the mean of the endpoints' errors. You write each step; the hidden tests
# compare with `lthlib.experiments.lmc`.
#
# | part | what you write | points |
# |---|---|---|
# | A | `interpolate`: the weights at a point of the line | 2 |
# | B | `error_barrier`: the barrier from the errors along the path | 2 |
# | C | `interpolation_errors`: the test error at evenly spaced points of the line | 3 |
# | D | `instability`: two children of a parent at iteration k, and their barrier | 3 |
# | E | your own numbers, in words (graded by hand) | 2 |
#
# **How to work.** Replace each `raise NotImplementedError()` with your code, then run the
# test cell below it. The visible tests catch common mistakes and say what is wrong; hidden
# tests, run when the assignment is graded, check exact results on cases you do not see.
# Parts C and D are handed the functions they build on (so a mistake in A or B costs only
# A or B). **Write each part yourself:** a part whose function calls lthlib's own
# implementation of it (`lthlib.experiments.lmc.interpolate_states`, `error_barrier`,
# `interpolation_curve`, `train_children`...) scores 0, and its test cell says so.
#
# **Paper:** Frankle, Dziugaite, Roy & Carbin, *Linear Mode Connectivity and the Lottery
# Ticket Hypothesis* (ICML 2020).
#
# **Time:** the tests take seconds. The experiment at the end runs at `SCALE="smoke"`
# (seconds, the numbers mean nothing) or `"quick"` (about a minute on a laptop CPU), which
# Part E asks about.

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": seconds (grading); "quick": about a minute on a laptop CPU

# %% nbgrader={"grade": false, "grade_id": "a3_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# %matplotlib inline
import math

import numpy as np
import torch

import lthlib
from lthlib import evaluate
from lthlib.core.streams import stream_seed
from lthlib.engine.training import model_for, train
from lthlib.masks import Mask
from lthlib.report.grading import no_shortcut
from lthlib.settings import check_parameters

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
interpolate = no_shortcut(interpolate, "Part A", "lthlib.experiments.lmc.interpolate_states")
_a = {"w": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "n": torch.tensor(7)}
_b = {"w": torch.tensor([[3.0, 2.0], [-1.0, 0.0]]), "n": torch.tensor(9)}
_mid = interpolate(_a, _b, 0.25)
assert isinstance(_mid, dict) and set(_mid) == set(_a), "return a state dict with the same keys"
assert not torch.allclose(_mid["w"], 0.25 * _a["w"] + 0.75 * _b["w"]), (
    "alpha is reversed: you computed alpha w_a + (1 - alpha) w_b. w(alpha) = (1 - alpha) w_a + alpha w_b, "
    "so alpha = 0 is state_a and alpha = 1 is state_b")
assert torch.allclose(_mid["w"], torch.tensor([[1.5, 2.0], [2.0, 3.0]])), \
    f"w(0.25) = 0.75 w_a + 0.25 w_b = [[1.5, 2.0], [2.0, 3.0]]; you gave {_mid['w'].tolist()}"
assert torch.equal(interpolate(_a, _b, 0.0)["w"], _a["w"]) and torch.equal(interpolate(_a, _b, 1.0)["w"], _b["w"]), \
    "the endpoints: alpha = 0 gives state_a, alpha = 1 gives state_b"
assert int(_mid["n"]) == 7 and _mid["n"].dtype == torch.int64, \
    "a tensor that is not floating point (a counter such as num_batches_tracked) is copied from state_a"
assert _a["w"][0, 0] == 1.0 and _b["w"][0, 0] == 3.0, "do not change the inputs in place"
print("Part A: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.experiments.lmc import interpolate_states as _reference

_g = torch.Generator().manual_seed(55)
_sa = {"x": torch.randn(5, 4, generator=_g), "y": torch.randn(3, generator=_g, dtype=torch.float64),
       "c": torch.tensor(3)}
_sb = {"x": torch.randn(5, 4, generator=_g), "y": torch.randn(3, generator=_g, dtype=torch.float64),
       "c": torch.tensor(8)}
for _alpha in (0.0, 0.1, 1 / 3, 0.5, 0.9, 1.0, 1.5, -0.25):
    _mine, _ref = interpolate(_sa, _sb, _alpha), _reference(_sa, _sb, _alpha)
    for _k in _ref:
        assert _mine[_k].dtype == _ref[_k].dtype, \
            f"alpha={_alpha:.3g}: a {_ref[_k].dtype} tensor came back as {_mine[_k].dtype}: keep each tensor's dtype"
        assert torch.allclose(_mine[_k], _ref[_k], rtol=1e-6, atol=1e-7), (
            f"alpha={_alpha:.3g}" + (" (outside [0, 1]: the line continues beyond the endpoints)" if not 0 <= _alpha <= 1
                                     else "") + f": tensor {_k!r} is not (1 - alpha) w_a + alpha w_b"
            + (" (a counter is copied from state_a)" if not _ref[_k].is_floating_point() else ""))
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
error_barrier = no_shortcut(error_barrier, "Part B", "lthlib.experiments.lmc.error_barrier")
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
from lthlib.experiments.lmc import error_barrier as _reference

_g = torch.Generator().manual_seed(8)
for _n in (2, 3, 7, 30):
    for _ in range(5):
        _errs = torch.rand(_n, generator=_g, dtype=torch.float64).tolist()
        _mine, _want = error_barrier(_errs), _reference(_errs)
        _what = ("you subtracted the smallest error" if math.isclose(_mine, max(_errs) - min(_errs)) else
                 "you subtracted the mean of all points" if math.isclose(_mine, max(_errs) - sum(_errs) / _n) else
                 "the barrier is max(errors) - (errors[0] + errors[-1]) / 2")
        assert math.isclose(_mine, _want, rel_tol=1e-12, abs_tol=1e-12), \
            f"a path of {_n} random errors: you gave {_mine:.6f}, the barrier is {_want:.6f}: {_what}"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_part_c", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part C · Errors along the line (3 points)
#
# Evaluate `points` networks at $\alpha$ = `np.linspace(0, 1, points)` (so the first is
# `state_a` and the last `state_b`): build each network's weights with the function
# `interpolate(state_a, state_b, alpha)` you are **given** (the tests pass lthlib's, the
# experiment passes your Part A), load them into `model`, and measure the error on `x, y`:
# 1 minus the accuracy `lthlib.evaluate(model, x, y)` returns (it returns `(loss, accuracy)`).
# Return the list of errors. (A network with BatchNorm would also need its statistics
# recomputed at each point, as `lthlib.experiments.lmc` does; this MLP has none.)

# %% nbgrader={"grade": false, "grade_id": "interpolation_errors", "locked": false, "schema_version": 3, "solution": true, "task": false}
def interpolation_errors(model, state_a, state_b, x, y, points, interpolate):
    """Errors (1 - accuracy on x, y) at ``points`` evenly spaced alphas from 0 to 1."""
    ### BEGIN SOLUTION
    errors = []
    for alpha in np.linspace(0.0, 1.0, points):
        model.load_state_dict(interpolate(state_a, state_b, float(alpha)))
        errors.append(1.0 - evaluate(model, x, y)[1])
    return errors
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_interpolation_errors", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
from lthlib.experiments.lmc import interpolate_states

interpolation_errors = no_shortcut(interpolation_errors, "Part C", "lthlib.experiments.lmc.interpolation_curve",
                                   "lthlib.experiments.lmc.loss_plane")
_model = model_for(TINY, tiny_data)
_trained_settings = TINY.replace(seed=1, iterations=200, lr=0.003)
_trained = train(model_for(_trained_settings, tiny_data), tiny_data, _trained_settings, progress=False).final_state
_untrained = model_for(TINY.replace(seed=2), tiny_data).state_dict()
_x, _y = tiny_data.x_test[:500], tiny_data.y_test[:500]


def _loss_acc(state, x=_x, y=_y):
    _m = model_for(TINY, tiny_data)
    _m.load_state_dict(state)
    return evaluate(_m, x, y)


def _what_is_wrong(errs, state_a, state_b, x, y):
    """Which known mistake gives these errors (a sentence), or None."""
    (_la, _aa), (_lb, _ab) = _loss_acc(state_a, x, y), _loss_acc(state_b, x, y)
    if math.isclose(errs[0], _aa) and math.isclose(errs[-1], _ab):
        return "these are accuracies: the error is 1 - accuracy (evaluate returns (loss, accuracy))"
    if math.isclose(errs[0], _la, rel_tol=1e-5) and math.isclose(errs[-1], _lb, rel_tol=1e-5):
        return "these are losses: the error is 1 - accuracy (evaluate returns (loss, accuracy))"
    if math.isclose(errs[0], 1 - _ab) and math.isclose(errs[-1], 1 - _aa):
        return ("your errors run from state_b to state_a: the first point is state_a (alpha = 0), the last "
                "state_b (alpha = 1)")
    return None


_alphas = []


def _spy(state_a, state_b, alpha):
    _alphas.append(float(alpha))
    return interpolate_states(state_a, state_b, alpha)


_errs = interpolation_errors(_model, _trained, _untrained, _x, _y, 5, _spy)
assert len(_errs) == 5, f"return one error per point: 5 points, you gave {len(_errs)}"
assert _alphas == [0.0, 0.25, 0.5, 0.75, 1.0], (
    "call the interpolate you are given once per point, at alpha = np.linspace(0, 1, points) "
    f"(5 points: 0, 0.25, 0.5, 0.75, 1); you called it at {[round(a, 3) for a in _alphas]}")
_wrong = _what_is_wrong(_errs, _trained, _untrained, _x, _y)
assert _wrong is None, _wrong
assert math.isclose(_errs[0], 1 - _loss_acc(_trained)[1]) and math.isclose(_errs[-1], 1 - _loss_acc(_untrained)[1]), (
    f"the first point is state_a (error {1 - _loss_acc(_trained)[1]:.3f} on x, y) and the last state_b "
    f"({1 - _loss_acc(_untrained)[1]:.3f}); you gave {_errs[0]:.3f} and {_errs[-1]:.3f}"
    + (": measure on the x, y you are given" if math.isclose(_errs[0], 1 - _loss_acc(_trained, tiny_data.x_test,
                                                                                      tiny_data.y_test)[1]) else ""))
assert math.isclose(_errs[2], 1 - _loss_acc(interpolate_states(_trained, _untrained, 0.5))[1]), \
    "the middle of 5 points is the network at alpha = 0.5, loaded into model"
print("Part C: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.experiments.lmc import interpolation_curve as _curve

for _seeds, _points in [((3, 4), 7), ((5, 6), 12)]:
    _ends = []
    for _s in _seeds:
        _ts = TINY.replace(seed=_s, iterations=120, lr=0.003)
        _ends.append(train(model_for(_ts, tiny_data), tiny_data, _ts, progress=False).final_state)
    _mine = interpolation_errors(model_for(TINY, tiny_data), _ends[0], _ends[1], tiny_data.x_test, tiny_data.y_test,
                                 _points, interpolate_states)
    _ref = _curve(model_for(TINY, tiny_data), _ends[0], _ends[1], tiny_data, _points)["test_error"]
    assert len(_mine) == len(_ref), f"two unseen trained networks, {_points} points: return {_points} errors"
    _wrong = _what_is_wrong(_mine, _ends[0], _ends[1], tiny_data.x_test, tiny_data.y_test)
    assert _wrong is None, f"two unseen trained networks, {_points} points: {_wrong}"
    # at most one test example may flip where the interpolation's float rounding differs
    _bad = [i for i, (a, b) in enumerate(zip(_mine, _ref)) if abs(a - b) > 1.5 / len(tiny_data.y_test)]
    assert not _bad, (f"two unseen trained networks, {_points} points: at alpha = {_bad[0] / (_points - 1):.3f} your "
                      f"error is {_mine[_bad[0]]:.4f}, the interpolated network's test error is {_ref[_bad[0]]:.4f}")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_part_d", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part D · Instability at iteration k (3 points)
#
# `parent_state` holds the parent's weights at iteration `k`. Make two children that differ
# only in the order of their minibatches: child $i$ ($i = 1, 2$) uses the settings
# `settings.replace(data_order_seed=stream_seed(settings.seed, "child", i))`, starts from
# `parent_state` (a fresh `model_for(child_settings, data)` with that state loaded) and is
# trained with `train` (and the `mask`, if one is given) **from iteration `k` to the end**,
# on the learning-rate schedule and data order of iteration `k`, as the parent would have
# continued: read `train`'s docstring for how. Then measure the errors on the line between
# the children's trained weights (`run.final_state`) with the function
# `path_errors(state_1, state_2, points)` you are given, and their barrier with the given
# `barrier(errors)`. Return `{"barrier": ..., "errors": [...], "children": (state_1, state_2)}`.

# %% nbgrader={"grade": false, "grade_id": "instability", "locked": false, "schema_version": 3, "solution": true, "task": false}
def instability(settings, data, parent_state, k, path_errors, barrier, mask=None, points=11):
    """Train two children of ``parent_state`` from iteration k; the errors between them and their barrier."""
    ### BEGIN SOLUTION
    children = []
    for child in (1, 2):
        child_settings = settings.replace(data_order_seed=stream_seed(settings.seed, "child", child))
        model = model_for(child_settings, data)
        model.load_state_dict(parent_state)
        children.append(train(model, data, child_settings, mask=mask, start_iteration=k, progress=False).final_state)
    errors = path_errors(children[0], children[1], points)
    return {"barrier": barrier(errors), "errors": errors, "children": tuple(children)}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_instability", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
from lthlib.experiments.lmc import train_children

instability = no_shortcut(instability, "Part D", "lthlib.experiments.lmc.train_children", "lthlib.experiments.lmc.child_specs",
                          "lthlib.experiments.lmc.instability", "lthlib.experiments.lmc.measure_instability", "lthlib.experiments.lmc.train_children_of")


def _same(a, b):
    return all(torch.equal(a[n], b[n]) for n in b)


def _children_wrong(settings, data, parent_state, k, mask, mine):
    """What is wrong with a student's children (a sentence), or None if they are right."""
    _want = [r.final_state for r in train_children(settings, data, parent_state, k, mask=mask)]
    if _same(mine[0], _want[0]) and _same(mine[1], _want[1]):
        return None
    if _same(mine[0], _want[1]) and _same(mine[1], _want[0]):
        return "your children are swapped: child 1 (data_order_seed from stream 'child', 1) comes first"
    if _same(mine[0], mine[1]):
        return ("your two children are identical: they must differ in the order of their minibatches (each its own "
                "data_order_seed=stream_seed(settings.seed, 'child', i)), and in nothing else")
    if _same(mine[0], parent_state):
        return "child 1 is the parent's state, untrained: train each child from iteration k to the end"
    _m = model_for(settings, data)
    _m.load_state_dict(parent_state)
    if _same(mine[0], train(_m, data, settings, mask=mask, start_iteration=k, progress=False).final_state):
        return ("child 1 continues with the parent's own data order: give each child its own, "
                "data_order_seed=stream_seed(settings.seed, 'child', i)")
    _child1 = settings.replace(data_order_seed=stream_seed(settings.seed, "child", 1))
    _m = model_for(_child1, data)
    _m.load_state_dict(parent_state)
    if k > 0 and _same(mine[0], train(_m, data, _child1, mask=mask, progress=False).final_state):
        return (f"child 1 was trained from iteration 0 again ({settings.iterations} more iterations on the schedule "
                f"and data order of the start), not from iteration k = {k} to the end: tell train where the "
                "schedule starts (its start_iteration argument)")
    if mask is not None and any(mine[0][n][~mask[n]].any() for n in mask):
        return "child 1 has weights the mask prunes: train the children with the mask"
    return ("child 1 is not parent_state trained from iteration k to the end with child 1's data order "
            "(settings.replace(data_order_seed=stream_seed(settings.seed, 'child', 1)))")


_parent = train(model_for(TINY, tiny_data), tiny_data, TINY, save_weights_at=[10], progress=False)
_calls = []


def _path_errors(state_1, state_2, points):
    _calls.append((state_1, state_2, points))
    return [0.5 + 0.01 * i for i in range(points)]


_res = instability(TINY, tiny_data, _parent.weights_at[10], 10, _path_errors, lambda errors: ("barrier of", errors),
                   points=5)
assert isinstance(_res, dict) and {"barrier", "errors", "children"} <= set(_res), \
    "return {'barrier': ..., 'errors': [...], 'children': (state_1, state_2)}"
_wrong = _children_wrong(TINY, tiny_data, _parent.weights_at[10], 10, None, _res["children"])
assert _wrong is None, _wrong
assert len(_calls) == 1 and _calls[0][2] == 5 and _same(_calls[0][0], _res["children"][0]) and \
    _same(_calls[0][1], _res["children"][1]), \
    "measure the errors once, with path_errors(child 1's trained state, child 2's, points)"
assert _res["errors"] == _path_errors(None, None, 5) and _res["barrier"] == ("barrier of", _res["errors"]), \
    "errors: what path_errors returned; barrier: barrier(errors)"
_mask = Mask({n: torch.rand(p.shape, generator=torch.Generator().manual_seed(3)) < 0.4
              for n, p in lthlib.prunable_parameters(model_for(TINY, tiny_data)).items()})
_res = instability(TINY, tiny_data, _parent.weights_at[10], 10, _path_errors, max, mask=_mask, points=3)
_wrong = _children_wrong(TINY, tiny_data, _parent.weights_at[10], 10, _mask, _res["children"])
assert _wrong is None, f"with a mask: {_wrong}"
print("Part D: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.experiments.lmc import error_barrier as _barrier
from lthlib.experiments.lmc import interpolation_curve as _curve

for _seed, _k, _sparse in [(7, 0, False), (8, 20, True)]:
    _ts = TINY.replace(seed=_seed)
    _parent = train(model_for(_ts, tiny_data), tiny_data, _ts, save_weights_at=[_k], progress=False)
    _mask = None
    if _sparse:
        _mask = Mask({n: torch.rand(p.shape, generator=torch.Generator().manual_seed(_seed)) < 0.5
                      for n, p in lthlib.prunable_parameters(model_for(_ts, tiny_data)).items()})

    def _ref_path(state_1, state_2, points, _ts=_ts):
        return _curve(model_for(_ts, tiny_data), state_1, state_2, tiny_data, points)["test_error"]

    _res = instability(_ts, tiny_data, _parent.weights_at[_k], _k, _ref_path, _barrier, mask=_mask, points=9)
    _case = f"an unseen parent at k = {_k}" + (" with a mask" if _sparse else "")
    _wrong = _children_wrong(_ts, tiny_data, _parent.weights_at[_k], _k, _mask, _res["children"])
    assert _wrong is None, f"{_case}: {_wrong}"
    _want = _ref_path(*_res["children"], 9)
    assert list(_res["errors"]) == _want and _res["barrier"] == _barrier(_want), \
        f"{_case}: errors must be path_errors(child 1, child 2, points) and barrier barrier(errors)"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_experiment_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## The experiment: instability against the spawn iteration k
#
# The dense MLP is trained once; children are spawned at several iterations $k$ and their
# barrier measured with **your** functions (Parts A to D). Nothing here is graded, but Part E
# asks about what it prints at `SCALE = "quick"`.

# %%
import matplotlib.pyplot as plt

from lthlib.engine.training import data_for

settings = lthlib.for_scale(SCALE)
KS = {"smoke": (0, 50), "quick": (0, 50, 200, 1000)}.get(SCALE, (0, 100, 500, 2000))
data = data_for(settings, device="cpu")
parent = train(model_for(settings, data), data, settings, save_weights_at=KS, progress=False)


def test_path(state_1, state_2, points):
    return interpolation_errors(model_for(settings, data), state_1, state_2, data.x_test, data.y_test, points,
                                interpolate)


results = {k: instability(settings, data, parent.weights_at[k], k, test_path, error_barrier, points=11) for k in KS}
print(f"scale {SCALE!r}: dense test error at the end {1 - parent.final('test_acc'):.3f}")
for k, res in results.items():
    print(f"k = {k:>5}: barrier {res['barrier']:+.4f}  (children's errors {res['errors'][0]:.3f} and "
          f"{res['errors'][-1]:.3f}, worst on the line {max(res['errors']):.3f})")
fig, ax = plt.subplots(figsize=(5, 3))
for k, res in results.items():
    ax.plot(np.linspace(0, 1, len(res["errors"])), res["errors"], marker="o", label=f"k = {k}: barrier {res['barrier']:.3f}")
ax.set_xlabel("alpha (child 1 to child 2)")
ax.set_ylabel("test error")
ax.legend()
plt.show()

# %% [markdown] nbgrader={"grade": false, "grade_id": "a3_part_e", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part E · Your numbers, in words (2 points, graded by hand)
#
# Run the notebook at `SCALE = "quick"` (about a minute) and answer from **your** printed
# barriers (quote them):
#
# 1. At which of your $k$ are the children *stable* (barrier below 0.02), and at which not?
#    If your numbers do not show instability at $k = 0$, say so and give one reason why this
#    dense MLP at this scale might not.
# 2. Frankle et al. find that IMP finds matching sparse networks exactly when the sparse
#    network is stable at the rewind iteration. What does a barrier near zero at $k$ say about
#    training after $k$, and why does that make rewinding to $k$ work where resetting to
#    iteration 0 can fail? (Two or three sentences.)

# %% [markdown] nbgrader={"grade": true, "grade_id": "a3_answer_e", "locked": false, "schema_version": 3, "solution": true, "task": false, "points": 2}
# **Rubric (2 points).** 1 point: quotes the barriers the student's quick-scale run printed
# and reads them against the 0.02 threshold correctly (numbers that do not match the run's
# printout, or the smoke scale's, get 0 here; an honest "no instability at k = 0 here" with a
# reason, e.g. a small dense MLP on an easy task is already linearly connected from
# initialisation, is full credit). 1 point: the mechanism below, in the student's words.
#
# *Model answer.* (Numbers vary by machine; e.g. barriers of about +0.01 at every k on a
# laptop: this dense MLP is stable from k = 0, unlike the paper's larger networks and its
# sparse ones.) A barrier near zero at $k$ means that from iteration $k$ on, SGD noise no
# longer decides which basin (linearly connected region) training ends in: every data order
# leads to the same region. At $k = 0$ the noise can still send copies to different regions.
# A mask found by pruning the end of training suits that region; rewinding to a $k$ at which
# the outcome is already determined lands the sparse network back in it, while from
# iteration 0 the sparse network may end up elsewhere, where the mask does not fit.
