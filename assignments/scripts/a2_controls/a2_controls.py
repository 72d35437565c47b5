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

# %% [markdown] nbgrader={"grade": false, "grade_id": "a2_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # Assignment 2 · The controls: is it the mask or the initialisation?
#
# Builds on notebook **02**. A winning ticket is a mask *and* the initial weights it keeps.
# Frankle & Carbin test which of the two matters with two controls: **random
# reinitialisation** (the ticket's mask on fresh weights) and **random pruning** (a random
# mask with the ticket's per-layer densities on the original weights). You write both
# controls, then the 2 x 2 experiment that separates the effect of the mask from the effect
# of the initialisation.
#
# | part | what you write | points |
# |---|---|---|
# | A | `reinit_start`: the random-reinitialisation control's start weights | 2 |
# | B | `random_mask_like`: a random mask with exactly the ticket's per-layer counts | 3 |
# | C | `four_starts`: the four networks of the 2 x 2 experiment | 2 |
# | D | `effects`: the effect of the mask, of the initialisation, and their interaction | 3 |
# | E | a written answer (graded by hand) | 1 |
#
# **How to work.** Replace each `raise NotImplementedError()` with your code, then run the
# test cell below it. The visible tests catch common mistakes and say what is wrong; hidden
# tests, run when the assignment is graded, check exact results on cases you do not see.
# **Write each part yourself:** a part whose function calls lthlib's own implementation of it
# (`lthlib.methods.pruning.random_mask_like`, lthlib.experiments.imp's control starts) scores 0, and its test cell
# says so.
#
# **Paper:** Frankle & Carbin, *The Lottery Ticket Hypothesis* (ICLR 2019), Sections 2-3.
#
# **Time:** the tests take seconds. The experiment at the end runs at `SCALE="smoke"`
# (seconds, one seed, the numbers mean nothing) or `"quick"` (about 2 minutes, 3 seeds).

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": seconds (grading); "quick": about 2 minutes on a laptop CPU

# %% nbgrader={"grade": false, "grade_id": "a2_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import torch

import lthlib
from lthlib.core.streams import generator
from lthlib.engine.training import model_for
from lthlib.masks import Mask
from lthlib.report.grading import mask_difference, no_shortcut
from lthlib.settings import check_parameters

check_parameters(SCALE=SCALE)
MASKS = ("ticket", "random")  # which mask: the ticket's (IMP) or a random one with its densities
INITS = ("original", "fresh")  # which start weights: the ticket's own initialisation or fresh ones

# a small network for the tests
TINY = lthlib.TrainSettings(iterations=40, eval_every=20, batch_size=32, train_size=600, validation_size=200,
                            model_kwargs={"hidden": (32, 16)}, seed=0)
tiny_data = lthlib.load_dataset("mnist1d", train_size=600, validation_size=200)

# %% [markdown] nbgrader={"grade": false, "grade_id": "a2_part_a", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part A · Random reinitialisation (2 points)
#
# The control keeps the ticket's mask and trains it from **fresh** random weights. In lthlib
# every random draw comes from a named stream of the run's seed (`lthlib.core.streams.STREAMS`):
# `model_for(settings, data, stream=...)` builds the model of `settings` with its weights drawn
# from stream `stream` of `settings.seed`. The ticket's own weights come from the `"init"`
# stream. A control drawn from the same stream, or from "the seed plus one", is not fresh.
#
# Return the start state (a `{name: tensor}` state dict): every tensor of a freshly drawn
# model (biases included), with the weights the mask prunes set to zero.

# %% nbgrader={"grade": false, "grade_id": "reinit_start", "locked": false, "schema_version": 3, "solution": true, "task": false}
def reinit_start(settings, data, mask):
    """The random-reinitialisation control's start weights for ``mask``."""
    ### BEGIN SOLUTION
    fresh = model_for(settings, data, stream="reinit").state_dict()
    return {name: (w * mask[name] if name in mask else w.clone()) for name, w in fresh.items()}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_reinit_start", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
reinit_start = no_shortcut(reinit_start, "Part A", "lthlib.experiments.imp._round_starts", "lthlib.experiments.imp.run_imp")
_init = model_for(TINY, tiny_data).state_dict()
_mask = Mask({n: torch.rand(_init[n].shape, generator=torch.Generator().manual_seed(1)) < 0.3
              for n in lthlib.prunable_parameters(model_for(TINY, tiny_data))})
_start = reinit_start(TINY, tiny_data, _mask)
assert isinstance(_start, dict) and set(_start) == set(_init), \
    f"return a state dict with every tensor of the model: {sorted(_init)}"
for _n, _keep in _mask.items():
    assert not _start[_n][~_keep].any(), f"{_n}: the weights the mask prunes must be zero"
    assert (_start[_n][_keep] != 0).all(), f"{_n}: the weights the mask keeps must have their fresh (non-zero) values"
assert not torch.equal(_start["hidden.0.weight"], _init["hidden.0.weight"] * _mask["hidden.0.weight"]), (
    "your control starts from the ticket's own initial weights (the 'init' stream): it would test nothing. "
    "Draw fresh weights from the control's own stream")
_next_seed = model_for(TINY.replace(seed=TINY.seed + 1), tiny_data).state_dict()
assert not torch.equal(_start["hidden.0.weight"], _next_seed["hidden.0.weight"] * _mask["hidden.0.weight"]), (
    "these are the initial weights of seed + 1, i.e. another run's ticket, not an independent draw: use the "
    "control's own named stream of settings.seed (lthlib.core.streams.STREAMS)")
assert not torch.equal(_start["output.bias"], _init["output.bias"]), "the biases come from the fresh model too"
_again = reinit_start(TINY, tiny_data, _mask)
assert all(torch.equal(_start[n], _again[n]) for n in _start), \
    "the control must be reproducible: draw from a named stream of settings.seed, not the global random state"
print("Part A: visible tests passed")
### BEGIN HIDDEN TESTS
for _settings in (TINY.replace(seed=4), TINY.replace(seed=9, model_kwargs={"hidden": (20,)}),
                  TINY.replace(seed=2, model="cnn_mnist1d", model_kwargs={"channels": 4})):
    _fresh = model_for(_settings, tiny_data, stream="reinit").state_dict()
    _params = lthlib.prunable_parameters(model_for(_settings, tiny_data))
    _mask = Mask({n: torch.rand(p.shape, generator=torch.Generator().manual_seed(7)) < 0.5 for n, p in _params.items()})
    _start = reinit_start(_settings, tiny_data, _mask)
    _net = "the 1-D CNN" if _settings.model == "cnn_mnist1d" else f"an unseen MLP {_settings.model_kwargs['hidden']}"
    _own = model_for(_settings, tiny_data).state_dict()
    _next = model_for(_settings.replace(seed=_settings.seed + 1), tiny_data).state_dict()
    assert isinstance(_start, dict) and set(_start) == set(_fresh), f"{_net}: return every tensor of the model"
    for _n, _t in _fresh.items():
        _masked = {k: (v[_n] * _mask[_n] if _n in _mask else v[_n]) for k, v in (("own", _own), ("next", _next))}
        _what = (" (yours are the ticket's own initial weights, the 'init' stream)" if torch.equal(_start[_n], _masked["own"])
                 else " (yours are the initial weights of seed + 1, another run's ticket)"
                 if torch.equal(_start[_n], _masked["next"]) else "")
        assert torch.equal(_start[_n], _t * _mask[_n] if _n in _mask else _t), (
            f"{_net}: {_n} must be the fresh draw of the 'reinit' stream of settings.seed"
            + (", with the weights the mask prunes set to zero" if _n in _mask else "") + _what)
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a2_part_b", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part B · Random pruning (3 points)
#
# The random-mask control keeps **exactly** as many weights in every layer as the ticket's
# mask (`reference`), at random positions. Draw from the generator you are given (its own
# random stream), layer by layer in the mask's order: `torch.randperm(numel,
# generator=generator)` and keep the first $k$ positions of the permutation, $k$ being the
# number the reference keeps in that layer. (Drawing the same way as lthlib makes the result
# checkable exactly.)

# %% nbgrader={"grade": false, "grade_id": "random_mask_like", "locked": false, "schema_version": 3, "solution": true, "task": false}
def random_mask_like(reference, generator):
    """A random Mask with the per-layer kept counts of ``reference``."""
    ### BEGIN SOLUTION
    out = {}
    for name, keep in reference.items():
        chosen = torch.zeros(keep.numel(), dtype=torch.bool)
        chosen[torch.randperm(keep.numel(), generator=generator)[: int(keep.sum())]] = True
        out[name] = chosen.reshape(keep.shape)
    return Mask(out)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_random_mask_like", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
random_mask_like = no_shortcut(random_mask_like, "Part B", "lthlib.methods.pruning.random_mask_like")
_ref = Mask({"a": torch.arange(60).reshape(6, 10) % 7 == 0, "b": torch.arange(25) < 20, "c": torch.ones(3, 2, 2, dtype=torch.bool)})
_rand = random_mask_like(_ref, generator(0, "random_mask"))
assert isinstance(_rand, Mask) and list(_rand) == list(_ref), "return a Mask over the reference's layers, in its order"
for _n in _ref:
    assert _rand[_n].shape == _ref[_n].shape, f"{_n}: the mask must have the layer's shape {tuple(_ref[_n].shape)}"
    assert int(_rand[_n].sum()) == int(_ref[_n].sum()), (
        f"{_n}: keep exactly {int(_ref[_n].sum())} weights, as the reference does (you keep {int(_rand[_n].sum())}); "
        "a Bernoulli draw (rand < density) matches the density only on average")
assert _rand["a"].tolist() != _ref["a"].tolist(), "the positions must be random, not the reference's own"
assert _rand == random_mask_like(_ref, generator(0, "random_mask")), \
    "the same generator seed must give the same mask: draw from `generator`, not the global random state"
assert _rand != random_mask_like(_ref, generator(1, "random_mask")), \
    "another generator must give another mask: draw from `generator`"
print("Part B: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.methods.pruning import random_mask_like as _reference

_g = torch.Generator().manual_seed(99)
for _seed, _index in [(0, 1), (5, 2), (123, 0)]:
    _ref = Mask({"x.weight": torch.rand(13, 7, generator=_g) < 0.2, "y.weight": torch.rand(4, 3, 3, generator=_g) < 0.7,
                 "z.weight": torch.rand(10, generator=_g) < 0.5})
    _wrong = mask_difference(random_mask_like(_ref, generator(_seed, "random_mask", _index)),
                             _reference(_ref, _seed, _index))
    assert _wrong is None, (f"an unseen generator and three layers of other shapes: {_wrong} (draw "
                            "torch.randperm(numel, generator=generator) layer by layer, in the mask's order, and keep "
                            "the first k positions)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a2_part_c", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part C · The 2 x 2 experiment (2 points)
#
# Notebook 02's two controls each change one thing. Crossing them gives four networks, one
# per (mask, initialisation) pair: the ticket is `("ticket", "original")`, random
# reinitialisation `("ticket", "fresh")`, random pruning `("random", "original")`, and
# `("random", "fresh")` changes both. Return `{(mask, init): (start_state, mask)}` for all
# four (`MASKS` x `INITS`), each start state with its mask's pruned weights set to zero
# (tensors the mask does not cover are copied unmasked).

# %% nbgrader={"grade": false, "grade_id": "four_starts", "locked": false, "schema_version": 3, "solution": true, "task": false}
def four_starts(init_state, reinit_state, ticket_mask, random_mask):
    """{(mask kind, init kind): (start_state, mask)} for the 2 x 2 experiment."""
    ### BEGIN SOLUTION
    masks = {"ticket": ticket_mask, "random": random_mask}
    inits = {"original": init_state, "fresh": reinit_state}
    return {(m, i): ({n: (w * masks[m][n] if n in masks[m] else w.clone()) for n, w in inits[i].items()}, masks[m])
            for m in MASKS for i in INITS}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_four_starts", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
four_starts = no_shortcut(four_starts, "Part C", "lthlib.experiments.imp._round_starts", "lthlib.experiments.imp.run_imp")
_g = torch.Generator().manual_seed(3)
_a = {"w": torch.randn(4, 3, generator=_g), "b": torch.randn(4, generator=_g)}
_f = {"w": torch.randn(4, 3, generator=_g), "b": torch.randn(4, generator=_g)}
_tm = Mask({"w": torch.rand(4, 3, generator=_g) < 0.5})
_rm = Mask({"w": torch.rand(4, 3, generator=_g) < 0.5})
_four = four_starts(_a, _f, _tm, _rm)
assert set(_four) == {(m, i) for m in MASKS for i in INITS}, \
    f"return one entry per (mask, init) pair: {[(m, i) for m in MASKS for i in INITS]}; you gave {sorted(_four)}"
assert _four[("ticket", "original")][1] == _tm and torch.equal(_four[("ticket", "original")][0]["w"], _a["w"] * _tm["w"]), \
    "('ticket', 'original') is the ticket itself: its mask on the original weights"
assert _four[("ticket", "fresh")][1] == _tm and torch.equal(_four[("ticket", "fresh")][0]["w"], _f["w"] * _tm["w"]), \
    "('ticket', 'fresh') is random reinitialisation: the ticket's mask on the fresh weights"
assert _four[("random", "original")][1] == _rm and torch.equal(_four[("random", "original")][0]["w"], _a["w"] * _rm["w"]), \
    "('random', 'original') is random pruning: the random mask on the original weights"
assert torch.equal(_four[("random", "fresh")][0]["w"], _f["w"] * _rm["w"]), "('random', 'fresh') changes both"
assert torch.equal(_four[("random", "fresh")][0]["b"], _f["b"]), "tensors the mask does not cover (b) are copied, unmasked"
print("Part C: visible tests passed")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(1234)
_a = {"l1.weight": torch.randn(5, 4, generator=_g), "l1.bias": torch.randn(5, generator=_g),
      "l2.weight": torch.randn(2, 5, generator=_g)}
_f = {n: torch.randn(t.shape, generator=_g) for n, t in _a.items()}
_tm = Mask({n: torch.rand(_a[n].shape, generator=_g) < 0.4 for n in ("l1.weight", "l2.weight")})
_rm = Mask({n: torch.rand(_a[n].shape, generator=_g) < 0.4 for n in ("l1.weight", "l2.weight")})
_four = four_starts(_a, _f, _tm, _rm)
for (_mk, _ik), (_state, _m) in _four.items():
    _src, _want_mask = {"original": _a, "fresh": _f}[_ik], {"ticket": _tm, "random": _rm}[_mk]
    assert _m == _want_mask, f"{(_mk, _ik)} on unseen state dicts: the mask must be the {_mk} mask"
    for _n, _t in _src.items():
        assert torch.equal(_state[_n], _t * _want_mask[_n] if _n in _want_mask else _t), (
            f"{(_mk, _ik)} on unseen state dicts with biases: {_n} must be the {_ik} weights"
            + (f" times the {_mk} mask" if _n in _want_mask else ", copied unmasked (the mask does not cover it)"))
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a2_part_d", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part D · Effects (3 points)
#
# `acc[(mask, init)]` is a list of test accuracies, one per seed (the same seeds, in the same
# order, for all four networks). Write `effects(acc)` returning a dict of seed-averaged
# *paired* differences:
#
# - `"ticket_vs_reinit"`: ticket minus random reinitialisation, $T_o - T_f$;
# - `"ticket_vs_random"`: ticket minus random pruning, $T_o - R_o$;
# - `"mask"`: the effect of the mask, averaged over both initialisations:
#   $\tfrac12[(T_o - R_o) + (T_f - R_f)]$;
# - `"init"`: the effect of the original initialisation, averaged over both masks:
#   $\tfrac12[(T_o - T_f) + (R_o - R_f)]$;
# - `"interaction"`: how much more the original initialisation helps with the ticket's mask
#   than with a random one: $(T_o - T_f) - (R_o - R_f)$.
#
# ($T$/$R$: ticket/random mask; $o$/$f$: original/fresh initialisation; each a mean over seeds
# of the per-seed difference.)

# %% nbgrader={"grade": false, "grade_id": "effects", "locked": false, "schema_version": 3, "solution": true, "task": false}
def effects(acc):
    """Seed-averaged paired differences of the 2 x 2 experiment (see above)."""
    ### BEGIN SOLUTION
    def mean(xs):
        return sum(xs) / len(xs)

    to, tf = acc[("ticket", "original")], acc[("ticket", "fresh")]
    ro, rf = acc[("random", "original")], acc[("random", "fresh")]
    return {"ticket_vs_reinit": mean([a - b for a, b in zip(to, tf)]),
            "ticket_vs_random": mean([a - b for a, b in zip(to, ro)]),
            "mask": mean([0.5 * ((a - b) + (c - d)) for a, b, c, d in zip(to, ro, tf, rf)]),
            "init": mean([0.5 * ((a - b) + (c - d)) for a, b, c, d in zip(to, tf, ro, rf)]),
            "interaction": mean([(a - b) - (c - d) for a, b, c, d in zip(to, tf, ro, rf)])}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_effects", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
import math

_acc = {("ticket", "original"): [0.90], ("ticket", "fresh"): [0.80], ("random", "original"): [0.70],
        ("random", "fresh"): [0.68]}
_e = effects(_acc)
_keys = {"ticket_vs_reinit", "ticket_vs_random", "mask", "init", "interaction"}
assert isinstance(_e, dict) and set(_e) == _keys, f"return a dict with the keys {sorted(_keys)}"
assert math.isclose(_e["ticket_vs_reinit"], 0.10), f"ticket_vs_reinit = 0.90 - 0.80 = 0.10, not {_e['ticket_vs_reinit']}"
assert math.isclose(_e["ticket_vs_random"], 0.20), f"ticket_vs_random = 0.90 - 0.70 = 0.20, not {_e['ticket_vs_random']}"
assert math.isclose(_e["mask"], 0.16), ("the mask effect averages the ticket-minus-random difference over BOTH "
                                        f"initialisations: ((0.90 - 0.70) + (0.80 - 0.68)) / 2 = 0.16, not {_e['mask']}")
assert math.isclose(_e["init"], 0.06), ("the init effect averages original-minus-fresh over BOTH masks: "
                                        f"((0.90 - 0.80) + (0.70 - 0.68)) / 2 = 0.06, not {_e['init']}")
assert math.isclose(_e["interaction"], 0.08), ("interaction = (T_o - T_f) - (R_o - R_f) = 0.10 - 0.02 = 0.08 "
                                               f"(a difference of differences), not {_e['interaction']}")
_two = effects({k: [v[0], v[0] - 0.1] for k, v in _acc.items()} | {("ticket", "original"): [0.90, 0.75]})
assert math.isclose(_two["ticket_vs_reinit"], 0.5 * ((0.90 - 0.80) + (0.75 - 0.70))), \
    "average the per-seed differences over seeds (pair seed i of one network with seed i of the other)"
print("Part D: visible tests passed")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(2024)
for _n_seeds in (1, 3, 5):
    _acc = {(m, i): (0.5 + 0.5 * torch.rand(_n_seeds, generator=_g, dtype=torch.float64)).tolist()
            for m in MASKS for i in INITS}
    _e = effects(_acc)
    _T_o, _T_f, _R_o, _R_f = (torch.tensor(_acc[k], dtype=torch.float64) for k in
                              [("ticket", "original"), ("ticket", "fresh"), ("random", "original"), ("random", "fresh")])
    _want = {"ticket_vs_reinit": (_T_o - _T_f).mean(), "ticket_vs_random": (_T_o - _R_o).mean(),
             "mask": (0.5 * ((_T_o - _R_o) + (_T_f - _R_f))).mean(), "init": (0.5 * ((_T_o - _T_f) + (_R_o - _R_f))).mean(),
             "interaction": ((_T_o - _T_f) - (_R_o - _R_f)).mean()}
    for _k, _v in _want.items():
        assert math.isclose(_e[_k], float(_v), rel_tol=1e-9, abs_tol=1e-12), (
            f"random accuracies of {_n_seeds} seed(s): {_k} is {_e[_k]:.6f}, the formula gives {float(_v):.6f} (the "
            "mean over seeds of the per-seed differences)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a2_experiment_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## The experiment
#
# For each seed: IMP (`lthlib.experiments.imp.run_imp`, the scale's schedule, no rewinding) finds the
# ticket's mask; your functions build the two controls and the four starts; each is trained
# with the same settings; `effects` summarises. Nothing here is graded.

# %%
from lthlib.engine.training import data_for, train
from lthlib.experiments.imp import imp_for_scale, run_imp

settings = lthlib.for_scale(SCALE)
SEEDS = {"smoke": 1, "quick": 3}.get(SCALE, 5)
data = data_for(settings, device="cpu")
acc = {(m, i): [] for m in MASKS for i in INITS}
for seed in range(SEEDS):
    s = settings.replace(seed=seed)
    imp = run_imp(imp_for_scale(SCALE, s, controls=()), data, progress=False)
    ticket_mask = imp.rounds[-1].mask
    random_mask = random_mask_like(ticket_mask, generator(seed, "random_mask", len(imp.rounds)))
    starts = four_starts(imp.init_state, reinit_start(s, data, ticket_mask), ticket_mask, random_mask)
    for key, (start, mask) in starts.items():
        model = model_for(s, data)
        model.load_state_dict(start)
        acc[key].append(train(model, data, s, mask=mask, progress=False).at_early_stop("test_acc"))
print(f"{SEEDS} seed(s), {ticket_mask.density():.1%} of the weights left; test accuracy at early stopping:")
for key, values in acc.items():
    print(f"  {key[0]:>6} mask, {key[1]:>8} weights: {sum(values) / len(values):.3f}")
print({k: round(v, 4) for k, v in effects(acc).items()})

# %% [markdown] nbgrader={"grade": false, "grade_id": "a2_part_e", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part E · In words (1 point, graded by hand)
#
# Suppose, with many seeds, `"mask"` is large, `"init"` is about zero and so is
# `"interaction"`. What would that say about the lottery ticket hypothesis, and which line of
# work it supports (think of notebooks 04 and 06)? (Two or three sentences.)

# %% [markdown] nbgrader={"grade": true, "grade_id": "a2_answer_e", "locked": false, "schema_version": 3, "solution": true, "task": false, "points": 1}
# Then the mask alone explains the ticket's advantage: the same mask works as well from fresh
# weights, so the "winning" initialisation does not matter and the ticket is a good sparse
# *architecture*, not a lucky draw. That contradicts the hypothesis as stated (mask *and*
# initialisation) and supports the view behind pruning at initialisation and Zhou et al.'s
# supermasks: what matters is which connections (and how many per layer) are kept.
