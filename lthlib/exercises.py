"""Self-checking exercises: ``check(name, answer)`` says right, wrong (with a hint), or
"not answered yet" when the answer is still ``None`` (or a template function that
returns None), so notebooks run top to bottom
before a learner has done anything. Instructors can pass ``strict=True`` to fail loudly."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

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
