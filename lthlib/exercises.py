"""Self-checking exercises: ``check(name, answer)`` says right, wrong (with a hint), or
"not answered yet" when the answer is still ``None`` (or a template function that
returns None), so notebooks run top to bottom
before a learner has done anything. Instructors can pass ``strict=True`` to fail loudly."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from lthlib.models import MLP, count_parameters


def _close(expected: float, rel: float = 1e-6) -> Callable[[Any], bool]:
    return lambda answer: math.isclose(float(answer), expected, rel_tol=rel)


def _early_stopping_function(fn: Any) -> bool:
    cases = [([0, 10, 20, 30], [2.0, 1.0, 0.5, 0.7], 20),
             ([0, 5, 10], [1.0, 1.0, 1.0], 0),  # ties: the earliest
             ([100, 200, 300, 400], [3.0, 2.0, 2.5, 1.5], 400)]
    return all(fn(its, losses) == want for its, losses, want in cases)


@dataclass(frozen=True)
class Exercise:
    """How to check one answer. ``probe``: arguments to call a function answer with; a
    template that still returns None on them counts as not answered."""

    test: Callable[[Any], bool]
    hint: str
    probe: tuple | None = None


def _magnitude_pruning_function(fn: Any) -> bool:
    from lthlib.masks import Mask
    from lthlib.pruning import magnitude_prune

    g = torch.Generator().manual_seed(0)
    cases = [(torch.randn(30, 20, generator=g), torch.rand(30, 20, generator=g) > 0.3, 0.2),
             (torch.randn(50, generator=g), torch.ones(50, dtype=torch.bool), 0.5),
             (torch.ones(8), torch.ones(8, dtype=torch.bool), 0.25)]  # ties
    for w, keep, rate in cases:
        want = magnitude_prune({"w": w}, Mask({"w": keep}), rate)["w"]
        got = torch.as_tensor(fn(w.clone(), keep.clone(), rate)).bool()
        if got.shape != want.shape or not torch.equal(got, want):
            return False
    return True


EXERCISES: dict[str, Exercise] = {
    "lenet_prunable_weights": Exercise(
        _close(count_parameters(MLP((784,), 10, (300, 100)), prunable_only=True)),
        "Count only the weight matrices: 784x300 + 300x100 + 100x10 (no biases)."),
    "hidden_fraction_after_5_rounds": Exercise(
        _close(0.8 ** 5),
        "Each round removes 20% of the weights still alive: multiply by 0.8 each round."),
    "output_fraction_after_5_rounds": Exercise(
        _close(0.9 ** 5),
        "The output layer is pruned at half the rate: 10% per round."),
    "early_stopping_iteration": Exercise(
        _early_stopping_function,
        "Return the iteration whose validation loss is smallest; on ties, the earliest.",
        probe=([0], [1.0])),
    "hidden_fraction_after_7_rounds_at_40": Exercise(
        _close(0.6 ** 7), "Each round keeps 60% of the surviving weights."),
    "rewind_fraction_100_of_3000": Exercise(
        _close(100 / 3000), "Divide the rewind iteration by the number of training iterations."),
    "chance_iou_two_20_percent_masks": Exercise(
        _close(0.2 ** 2 / (2 * 0.2 - 0.2 ** 2)), "IoU = p^2 / (2p - p^2) with p = 0.2."),
    "error_barrier_by_hand": Exercise(
        _close(0.25 - 0.5 * (0.10 + 0.12)), "Largest error on the path minus the mean of the two endpoints."),
    "layerwise_magnitude_pruning": Exercise(
        _magnitude_pruning_function,
        "Among the entries where mask is True, switch off the round(rate * count) with the "
        "smallest |w| (torch.sort(..., stable=True) keeps ties in index order); leave the "
        "rest of the mask as it is.",
        probe=(torch.ones(2), torch.ones(2, dtype=torch.bool), 0.5)),
}


def _unfinished_function(exercise: Exercise, answer: Any) -> bool:
    """A function still returning None (the template) counts as not answered."""
    if exercise.probe is None or not callable(answer):
        return False
    try:
        return answer(*exercise.probe) is None
    except Exception:
        return False


def check(name: str, answer: Any, strict: bool = False) -> bool | None:
    """Check ``answer`` to exercise ``name``; print the verdict and return it (None: not
    answered). ``strict=True`` raises AssertionError on a wrong answer."""
    if name not in EXERCISES:
        raise KeyError(f"unknown exercise {name!r}; known: {sorted(EXERCISES)}")
    exercise = EXERCISES[name]
    if answer is None or _unfinished_function(exercise, answer):
        print(f"[{name}] not answered yet: replace None with your answer and run the cell again.")
        return None
    hint = exercise.hint
    try:
        ok = bool(exercise.test(answer))
    except Exception as exc:  # a learner's function that crashes is a wrong answer
        ok, hint = False, f"{hint} (your answer raised {type(exc).__name__}: {exc})"
    print(f"[{name}] " + ("correct." if ok else f"not yet right. Hint: {hint}"))
    if strict and not ok:
        raise AssertionError(f"exercise {name!r}: wrong answer")
    return ok
