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

# %% [markdown] nbgrader={"grade": false, "grade_id": "a4_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # Assignment 4 · Supermasks: edge-popup's straight-through step and Zhou et al.'s mask
#
# Builds on notebook **04** (supermasks and strong tickets). A *supermask* is a mask that
# makes a network good **without training its weights**. Ramanujan et al.'s **edge-popup**
# keeps the weights frozen at random values and learns a score per weight: the forward pass
# uses the top-$k$% scores of each layer, and the backward pass sends the gradient "straight
# through" the hard top-$k$ choice to every score. Zhou et al. find supermasks without
# learning anything: keep the weights that grew large in training *and kept their sign*. You
# write both and check them against `lthlib.methods.supermask`.
#
# | part | what you write | points |
# |---|---|---|
# | A | `top_k_mask`: the top-k% of \|score\| of one layer | 3 |
# | B | `straight_through`: the hard mask forward, the score's gradient backward | 3 |
# | C | `supermask_forward`: a frozen network under learned scores | 2 |
# | D | `zhou_supermask`: Zhou et al.'s "large final, same sign" mask | 2 |
# | E | a written answer (graded by hand) | 1 |
#
# **How to work.** Replace each `raise NotImplementedError()` with your code, then run the
# test cell below it. The visible tests catch common mistakes and say what is wrong; hidden
# tests, run when the assignment is graded, check exact results on cases you do not see.
# The tests of Parts B and C run your function with a correct version of the part before it
# (`top_k_mask`, `straight_through`) in place of yours, so a mistake costs one part only.
# **Write each part yourself:** a part whose function calls lthlib's own implementation of it
# (`lthlib.methods.supermask.edge_popup_mask`, `Supermask`, `mask_by_criterion`, `criterion_scores`)
# scores 0, and its test cell says so.
#
# **Papers:** Ramanujan et al., *What's Hidden in a Randomly Weighted Neural Network?* (CVPR
# 2020); Zhou, Lan, Liu & Yosinski, *Deconstructing Lottery Tickets: Zeros, Signs, and the
# Supermask* (NeurIPS 2019).
#
# **Time:** the tests take seconds. The experiment at the end runs at `SCALE="smoke"`
# (seconds, the numbers mean nothing) or `"quick"` (under a minute on a laptop CPU).

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": seconds (grading); "quick": under a minute on a laptop CPU

# %% nbgrader={"grade": false, "grade_id": "a4_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import torch
import torch.nn.functional as F
from torch.func import functional_call

import lthlib
from lthlib.engine.training import model_for
from lthlib.masks import Mask
from lthlib.report.grading import mask_difference, no_shortcut, substituted
from lthlib.settings import check_parameters

check_parameters(SCALE=SCALE)

# a small network for the tests
TINY = lthlib.TrainSettings(iterations=40, eval_every=20, batch_size=32, train_size=600, validation_size=200,
                            model_kwargs={"hidden": (32, 16)}, seed=0)
tiny_data = lthlib.load_dataset("mnist1d", train_size=600, validation_size=200)

# %% [markdown] nbgrader={"grade": false, "grade_id": "a4_part_a", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part A · The top-k% of one layer (3 points)
#
# Edge-popup keeps, in every layer, the fraction `density` of the weights whose scores are
# largest **in absolute value**: $k = \max(1, \lfloor \text{density} \cdot n + 0.5 \rfloor)$
# of the layer's $n$ scores. Return a bool tensor of the scores' shape, `True` for the $k$
# kept entries. (`torch.topk` finds them.)

# %% nbgrader={"grade": false, "grade_id": "top_k_mask", "locked": false, "schema_version": 3, "solution": true, "task": false}
def top_k_mask(scores, density):
    """Bool tensor: True for the top ``density`` fraction of |scores| (at least one)."""
    ### BEGIN SOLUTION
    k = max(1, int(density * scores.numel() + 0.5))
    flat = scores.detach().abs().flatten()
    keep = torch.zeros_like(flat, dtype=torch.bool)
    keep[torch.topk(flat, k).indices] = True
    return keep.reshape(scores.shape)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_top_k_mask", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
top_k_mask = no_shortcut(top_k_mask, "Part A", "lthlib.methods.supermask.edge_popup_mask", "lthlib.methods.supermask.Supermask")
_s = torch.tensor([[0.3, -0.9, 0.1], [0.5, -0.2, 0.05]])
_m = top_k_mask(_s, 0.5)
assert isinstance(_m, torch.Tensor) and _m.dtype == torch.bool and _m.shape == _s.shape, \
    "return a bool tensor of the scores' shape"
assert int(_m.sum()) == 3, f"density 0.5 of 6 scores keeps 3; you kept {int(_m.sum())}"
assert _m.tolist() == [[True, True, False], [True, False, False]], \
    "keep the largest |score| (edge-popup ranks scores by absolute value: -0.9 is kept)"
assert int(top_k_mask(_s, 0.01).sum()) == 1, "keep at least one weight per layer, however small the density"
assert int(top_k_mask(torch.randn(5, generator=torch.Generator().manual_seed(0)), 0.5).sum()) == 3, \
    "k = density x n rounded half up: 0.5 x 5 = 2.5 keeps 3"
print("Part A: visible tests passed")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(404)
for _shape, _density in [((17, 9), 0.3), ((10, 40), 0.05), ((8, 3, 5), 0.5), ((100, 300), 0.1), ((7,), 0.99)]:
    _scores = torch.randn(_shape, generator=_g)
    _k = max(1, int(_density * _scores.numel() + 0.5))
    _want = torch.zeros(_scores.numel(), dtype=torch.bool)
    _want[torch.argsort(_scores.abs().flatten(), descending=True)[:_k]] = True
    _mine = top_k_mask(_scores, _density)
    _wrong = mask_difference({"scores": _mine}, {"scores": _want.reshape(_shape)}, scores={"scores": _scores.abs()},
                             ranking="|score|")
    assert _wrong is None, f"scores of shape {_shape}, density {_density}: {_wrong.replace('layer ' + repr('scores') + ': ', '')}"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a4_part_b", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part B · The straight-through step (3 points)
#
# The top-$k$ choice has zero gradient almost everywhere, so edge-popup passes the gradient
# *straight through* it: in the forward pass the mask is the hard 0/1 `top_k_mask`; in the
# backward pass it behaves as if it were $|s|$ itself, so a score receives
# $\partial L / \partial m \cdot \mathrm{sign}(s)$, **whether its weight is kept or not**
# (this is how a pruned weight's score can grow back into the top $k$). The usual trick:
# `hard + (soft - soft.detach())` has the value of `hard` and the gradient of `soft`.
# Return a float tensor.

# %% nbgrader={"grade": false, "grade_id": "straight_through", "locked": false, "schema_version": 3, "solution": true, "task": false}
def straight_through(scores, density):
    """The hard top-k mask (float) in the forward pass; the gradient of |scores| backward."""
    ### BEGIN SOLUTION
    hard = top_k_mask(scores, density).to(scores.dtype)
    soft = scores.abs()
    return hard + (soft - soft.detach())  # (soft - soft.detach()) is exactly 0: the value is exactly hard
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_straight_through", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
from lthlib.methods.supermask import edge_popup_mask

straight_through = no_shortcut(straight_through, "Part B", "lthlib.methods.supermask.Supermask")
_given = substituted(globals(), top_k_mask=edge_popup_mask)  # Part A done right, for Part B's tests
with _given:
    _s = torch.tensor([[0.3, -0.9, 0.1], [0.5, -0.2, 0.05]], requires_grad=True)
    _w = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    _m = straight_through(_s, 0.5)
    assert torch.is_floating_point(_m), "return a float tensor (the mask multiplies the weights)"
    assert torch.allclose(_m.detach(), top_k_mask(_s, 0.5).float(), atol=1e-6), "the forward value is the hard 0/1 top-k mask"
    assert _m.requires_grad, ("the scores get no gradient: the hard mask alone is a constant for autograd; pass the "
                              "gradient straight through (hard + (soft - soft.detach()))")
    (_m * _w).sum().backward()
    assert _s.grad is not None and _s.grad[0, 2] != 0 and _s.grad[1, 2] != 0, \
        "every score gets a gradient, also those of weights the mask prunes (not only the kept ones)"
    assert torch.allclose(_s.grad, _w * torch.sign(_s.detach())), (
        "the gradient of a score s is dL/dmask x sign(s) (edge-popup ranks |s|): check the sign for negative "
        "scores, e.g. soft = |s|, not s")
print("Part B: visible tests passed")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(77)
for _shape, _density in [((12, 7), 0.2), ((5, 4, 3), 0.6), ((50,), 0.02)]:
    _s = torch.randn(_shape, generator=_g).requires_grad_()
    _up = torch.randn(_shape, generator=_g)
    with substituted(globals(), top_k_mask=edge_popup_mask):
        _m = straight_through(_s, _density)
    (_m * _up).sum().backward()
    _k = max(1, int(_density * _s.numel() + 0.5))
    _want = torch.zeros(_s.numel())
    _want[torch.argsort(_s.detach().abs().flatten(), descending=True)[:_k]] = 1.0
    assert torch.allclose(_m.detach(), _want.reshape(_shape), atol=1e-6), \
        f"scores of shape {_shape}, density {_density}: the forward value is not the hard top-k mask (0/1)"
    _g_kept = torch.allclose(_s.grad[_want.reshape(_shape).bool()], (_up * torch.sign(_s.detach()))[_want.reshape(_shape).bool()])
    assert torch.allclose(_s.grad, _up * torch.sign(_s.detach())), (
        f"scores of shape {_shape}, density {_density}: the scores' gradient must be upstream x sign(score) for "
        + ("every score, also those of pruned weights (yours is right for the kept ones only)" if _g_kept else
           "every score (check its sign for negative scores and that nothing else scales it)"))
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a4_part_c", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part C · A frozen network under learned scores (2 points)
#
# `scores` maps each prunable weight's name (`lthlib.prunable_parameters(model)`) to a
# score tensor of its shape. Compute the output of `model` on `x` with every prunable weight
# $w$ replaced by $w \cdot$ `straight_through(scores[name], density)`, all other parameters
# and buffers as they are, **without changing the model** (`torch.func.functional_call`
# runs a module with the tensors you give it). The gradient must reach the scores.

# %% nbgrader={"grade": false, "grade_id": "supermask_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def supermask_forward(model, scores, density, x):
    """model(x) with each prunable weight multiplied by its straight-through mask."""
    ### BEGIN SOLUTION
    params = dict(model.named_parameters())
    for name in lthlib.prunable_parameters(model):
        params[name] = params[name].detach() * straight_through(scores[name], density)
    return functional_call(model, {**params, **dict(model.named_buffers())}, (x,))
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_supermask_forward", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
def _straight_through_done_right(scores, density):
    """Part B done right (the value of the hard mask, the gradient of |scores|): the tests of
    Part C use it in place of yours."""
    return edge_popup_mask(scores, density).to(scores.dtype) + scores.abs() - scores.abs().detach()


supermask_forward = no_shortcut(supermask_forward, "Part C", "lthlib.methods.supermask.Supermask")
_given = substituted(globals(), straight_through=_straight_through_done_right, top_k_mask=edge_popup_mask)
with _given:
    _model = model_for(TINY, tiny_data)
    _before = {n: t.clone() for n, t in _model.state_dict().items()}
    _g = torch.Generator().manual_seed(1)
    _scores = {n: torch.randn(p.shape, generator=_g).requires_grad_() for n, p in lthlib.prunable_parameters(_model).items()}
    _x, _y = tiny_data.x_train[:16], tiny_data.y_train[:16]
    _out = supermask_forward(_model, _scores, 0.5, _x)
    assert _out.shape == (16, 10), f"return the network's output for x: shape (16, 10), not {tuple(_out.shape)}"
    assert all(torch.equal(_model.state_dict()[n], _before[n]) for n in _before), \
        "the model's weights changed: compute with functional_call, do not overwrite the weights"
    _masked = model_for(TINY, tiny_data)
    with torch.no_grad():
        for _n, _p in lthlib.prunable_parameters(_masked).items():
            _p.mul_(top_k_mask(_scores[_n], 0.5))
    assert torch.allclose(_out.detach(), _masked(_x), atol=1e-6), \
        "the output must be that of the network with every prunable weight multiplied by its top-k mask"
    F.cross_entropy(_out, _y).backward()
    assert all(_scores[n].grad is not None and _scores[n].grad.abs().sum() > 0 for n in _scores), \
        "every layer's scores must get a gradient (use straight_through)"
print("Part C: visible tests passed")
### BEGIN HIDDEN TESTS
import copy

from lthlib.methods.supermask import Supermask as _Supermask

for _seed, _density in [(3, 0.3), (6, 0.7)]:
    _base = model_for(TINY.replace(seed=_seed), tiny_data)
    _sm = _Supermask(copy.deepcopy(_base), "edge_popup", _density, seed=_seed)
    _scores = {n: _sm.scores[n.replace(".", "__")].detach().clone().requires_grad_()
               for n in lthlib.prunable_parameters(_base)}
    _x, _y = tiny_data.x_train[:64], tiny_data.y_train[:64]
    with _given:
        _mine = supermask_forward(_base, _scores, _density, _x)
    _ref = _sm(_x)
    _case = f"an unseen MLP at density {_density}"
    assert torch.allclose(_mine, _ref, atol=1e-5), \
        f"{_case}: the output is not that of the network with each prunable weight times straight_through(score)"
    F.cross_entropy(_mine, _y).backward()
    F.cross_entropy(_ref, _y).backward()
    for _n, _s in _scores.items():
        assert torch.allclose(_s.grad, _sm.scores[_n.replace(".", "__")].grad, atol=1e-6), \
            f"{_case}: the gradient of {_n}'s scores is not the one through weight x straight_through(score)"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a4_part_d", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part D · Zhou et al.'s supermask (2 points)
#
# Zhou et al.'s *large final, same sign* criterion scores each weight from its initial value
# $w_i$ and trained value $w_f$:
# $$\text{score} = \begin{cases} |w_f| & \text{if } \mathrm{sign}(w_i) = \mathrm{sign}(w_f) \\
# -1 - |w_f| & \text{otherwise,} \end{cases}$$
# so weights that flipped sign rank below all others. In each layer of `layers`, keep the
# highest scores: remove the `int((1 - density) * n + 0.5 + 1e-9)` lowest of the layer's $n$,
# the lower index first among equal scores. Return a `Mask` over `layers`.

# %% nbgrader={"grade": false, "grade_id": "zhou_supermask", "locked": false, "schema_version": 3, "solution": true, "task": false}
def zhou_supermask(init_state, final_state, layers, density):
    """Mask keeping the top ``density`` of each layer by 'large final, same sign'."""
    ### BEGIN SOLUTION
    out = {}
    for name in layers:
        w_i, w_f = init_state[name], final_state[name]
        score = torch.where(torch.sign(w_i) == torch.sign(w_f), w_f.abs(), -1.0 - w_f.abs()).flatten()
        n_remove = int((1 - density) * score.numel() + 0.5 + 1e-9)
        keep = torch.ones(score.numel(), dtype=torch.bool)
        keep[torch.sort(score, stable=True).indices[:n_remove]] = False
        out[name] = keep.reshape(w_i.shape)
    return Mask(out)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_zhou_supermask", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
zhou_supermask = no_shortcut(zhou_supermask, "Part D", "lthlib.methods.supermask.mask_by_criterion",
                             "lthlib.methods.supermask.criterion_scores")
_wi = {"a": torch.tensor([0.5, -0.5, 0.5, -0.5, 0.1, 0.2]), "b": torch.tensor([1.0, 1.0])}
_wf = {"a": torch.tensor([0.9, 0.8, 0.05, -0.3, -2.0, 0.4]), "b": torch.tensor([1.0, 2.0])}
_m = zhou_supermask(_wi, _wf, ["a"], 0.5)
assert isinstance(_m, Mask) and list(_m) == ["a"], "return a Mask over `layers` only"
assert int(_m["a"].sum()) == 3, f"density 0.5 of 6 weights keeps 3; you kept {int(_m['a'].sum())}"
assert not _m["a"][4], ("-2.0 is the largest final weight but its sign flipped (0.1 -> -2.0): "
                        "the criterion ranks it below every weight that kept its sign")
assert not _m["a"][1], "0.8 flipped sign (-0.5 -> 0.8): it ranks below the weights that kept theirs"
assert _m["a"].tolist() == [True, False, False, True, False, True], \
    "keep the weights that kept their sign with the largest |w_f|: 0.9, -0.3 and 0.4"
print("Part D: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.methods.supermask import mask_by_criterion as _reference

_g = torch.Generator().manual_seed(12)
_names = ["l1.weight", "l2.weight"]
for _density in (0.1, 0.45, 0.5, 0.8):
    _i = {"l1.weight": torch.randn(20, 9, generator=_g), "l2.weight": torch.randn(7, 20, generator=_g)}
    _f = {n: t + 0.8 * torch.randn(t.shape, generator=_g) for n, t in _i.items()}
    _want = _reference("large_final_same_sign", _i, _f, _names, _density)
    _score = {n: torch.where(torch.sign(_i[n]) == torch.sign(_f[n]), _f[n].abs(), -1.0 - _f[n].abs()) for n in _names}
    _wrong = mask_difference(zhou_supermask(_i, _f, _names, _density), _want, scores=_score,
                             ranking="score (|w_f| if the sign was kept, -1 - |w_f| if it flipped)")
    assert _wrong is None, f"two unseen layers at density {_density}: {_wrong}"
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a4_experiment_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## The experiment
#
# 1. Zhou et al.: train the dense MLP, build your supermask at 30% density from its initial and
#    trained weights, and evaluate the **untrained** initial network under it, beside a random
#    mask of the same density.
# 2. Edge-popup: freeze random signed-constant weights and train only the scores with your
#    `supermask_forward` (SGD, momentum 0.9, lr 0.1, Ramanujan et al.'s optimiser), keeping
#    50% of each layer.
#
# Nothing here is graded; chance is 10%.

# %%
from lthlib import evaluate
from lthlib.engine.training import data_for, train
from lthlib.methods.supermask import random_weights

settings = lthlib.for_scale(SCALE)
STEPS = {"smoke": 150, "quick": 3000}.get(SCALE, 10_000)
data = data_for(settings, device="cpu")
layers = list(lthlib.prunable_parameters(model_for(settings, data)))
dense = train(model_for(settings, data), data, settings, save_weights_at=[0], progress=False)
zhou = zhou_supermask(dense.weights_at[0], dense.final_state, layers, 0.3)
random_mask = Mask({n: torch.rand(t.shape, generator=torch.Generator().manual_seed(0)) < 0.3 for n, t in zhou.items()})
for label, mask in (("Zhou supermask", zhou), ("random mask", random_mask)):
    model = model_for(settings, data)
    mask.apply_(model)
    print(f"{label:>15}, untrained weights: test accuracy {evaluate(model, data.x_test, data.y_test)[1]:.3f}")

frozen = model_for(settings, data)
random_weights(frozen, "signed_constant", seed=0)
g = torch.Generator().manual_seed(0)
scores = {n: ((torch.rand(p.shape, generator=g) * 2 - 1) / math.sqrt(p[0].numel())).requires_grad_()
          for n, p in lthlib.prunable_parameters(frozen).items()}
opt = torch.optim.SGD(scores.values(), lr=0.1, momentum=0.9)
for step in range(STEPS):
    idx = torch.randint(len(data.y_train), (settings.batch_size,), generator=g)
    opt.zero_grad()
    F.cross_entropy(supermask_forward(frozen, scores, 0.5, data.x_train[idx]), data.y_train[idx]).backward()
    opt.step()
with torch.no_grad():
    acc = (supermask_forward(frozen, scores, 0.5, data.x_test).argmax(1) == data.y_test).float().mean()
print(f"edge-popup, {STEPS} steps, 50% of frozen signed-constant weights: test accuracy {float(acc):.3f}")

# %% [markdown] nbgrader={"grade": false, "grade_id": "a4_part_e", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part E · In words (1 point, graded by hand)
#
# Zhou et al.'s supermask makes an *untrained* network much better than chance. Why does
# keeping only weights that kept their sign help, and what does that suggest about what
# training changes in the weights that matter? (Two or three sentences.)

# %% [markdown] nbgrader={"grade": true, "grade_id": "a4_answer_e", "locked": false, "schema_version": 3, "solution": true, "task": false, "points": 1}
# A weight that kept its sign and grew large is one whose initial value already pushed the
# output in the direction training wanted; keeping only those (and zeroing the rest) leaves a
# network whose surviving initial weights have the right signs, so it computes a crude
# version of the trained function without any training. It suggests that for the weights
# that matter, training mostly sets the sign (and which weights are kept), more than the
# precise magnitudes, which is why Zhou et al.'s signed-constant resets work too.
