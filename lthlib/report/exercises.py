"""Self-checking exercises: ``check(name, answer)`` says right, wrong (with a hint), or
"not answered yet" when the answer is still ``None`` (or a template function that
returns None), so notebooks run top to bottom
before a learner has done anything. Instructors can pass ``strict=True`` to fail loudly.

No answer is kept here in plain text: a number is checked against a salted hash of its
6-significant-digit form (``answer_digest``), a function against properties and against
the library's own implementation on cases the learner does not see. Hints point at the
reasoning, not at the result. Graded assignments live in ``assignments/`` (nbgrader).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import torch

SIGNIFICANT_DIGITS = 6


def answer_digest(value: float, digits: int = SIGNIFICANT_DIGITS) -> str:
    """The digest a numeric answer is checked against: sha256 of its ``digits``-significant
    form (so 0.125 and 0.1250000000001 agree). Instructors: ``answer_digest(value)``."""
    return hashlib.sha256(f"lthlib-exercise:{float(value):.{digits}g}".encode()).hexdigest()[:16]


def _hashed(digest: str) -> Callable[[Any], bool]:
    """Right when the answer, to 6 significant digits, has ``digest`` (also one part in 1e9
    either side, so float noise at a rounding boundary is not a wrong answer)."""
    def test(answer: Any) -> bool:
        x = float(answer)
        return any(answer_digest(x * (1 + e)) == digest for e in (0.0, 1e-9, -1e-9))
    return test


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
    from lthlib.methods.pruning import magnitude_prune

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
        _hashed("874453b26d7abc49"),
        "Which tensors does pruning act on? Only the weight matrices of the three Linear "
        "layers, not their biases. What is the shape of each (inputs x outputs)?"),
    "hidden_fraction_after_5_rounds": Exercise(
        _hashed("ff91efd26940484a"),
        "After one round, what fraction of a hidden layer is left? The second round removes "
        "20% of what is left, not of the original: the fractions compound."),
    "output_fraction_after_5_rounds": Exercise(
        _hashed("a5310d4c48abaa88"),
        "The same compounding as the hidden layers, at the output layer's own rate."),
    "early_stopping_iteration": Exercise(
        _early_stopping_function,
        "Which evaluation does Frankle & Carbin's early stopping read (notebook 01, section "
        "on early stopping)? Return its iteration, not its index; two equal losses: which "
        "would a run that stops early have seen first?",
        probe=([0], [1.0])),
    "hidden_fraction_after_7_rounds_at_40": Exercise(
        _hashed("04518ba836bf604e"),
        "What fraction does one round at this rate keep? Each later round acts on the survivors."),
    "rewind_fraction_100_of_3000": Exercise(
        _hashed("9dc82b5bd36ba13c"),
        "A fraction of training: how far into the run is iteration k, measured in whole runs?"),
    "chance_iou_two_20_percent_masks": Exercise(
        _hashed("ef3cbc20815ba6bc"),
        "Follow one weight. Independently, each mask keeps it with probability p: how likely "
        "is it in both (the intersection)? In at least one (the union)? IoU is their ratio."),
    "error_barrier_by_hand": Exercise(
        _hashed("a58de11fd054cedc"),
        "The barrier compares the worst point on the path with what the two ends would "
        "predict if error changed linearly between them (notebook 05, section 2)."),
    "layerwise_magnitude_pruning": Exercise(
        _magnitude_pruning_function,
        "Only weights still alive compete: how many of them does one round remove (rounded "
        "half up)? Which ones, by |w|, and what happens on ties (try all-equal weights)? "
        "Weights already pruned must stay pruned.",
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
