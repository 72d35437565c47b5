"""Notebook 01's reads of its dense runs: what training past the early-stopping iteration
does, and how far the weights move between the stored snapshots.

The runs come from ``lthlib.training.dense_runs`` (one ``Run`` per seed); these functions
only read them, one value per seed, so that a claim can pair them seed by seed. Losses
after early stopping are read on the **test** set: the early-stopping iteration is where
the noisy validation curve happens to be lowest, so any later validation value is biased
high against it, while the test set played no part in choosing that iteration.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lthlib.run import Run, StateDict


def loss_gap(run: Run, i: int) -> float:
    """Test loss minus training loss at evaluation ``i`` (the test set, not the validation
    set: the validation loss at the early-stopping iteration is biased low)."""
    return run.test_loss[i] - run.train_loss[i]


def gap_widening(runs: Sequence[Run]) -> list[float]:
    """Per run, how much the test-minus-training loss gap grows from the early-stopping
    iteration to the end of training: overfitting, measured without the selection bias."""
    return [loss_gap(r, -1) - loss_gap(r, r.early_stop_index) for r in runs]


def rise_after_early_stop(runs: Sequence[Run], metric: str = "test_loss") -> np.ndarray:
    """Per run, ``metric`` at the end of training relative to its value at the
    early-stopping iteration ((end - there) / there): does it rise after the stop?"""
    there = np.array([r.at_early_stop(metric) for r in runs])
    end = np.array([r.final(metric) for r in runs])
    return (end - there) / there


def rise_above_minimum(runs: Sequence[Run], metric: str = "val_loss") -> np.ndarray:
    """Per run, ``metric`` at the end relative to its minimum over training: the same rise
    read from the minimum itself, inflated by picking it (shown beside the unbiased one)."""
    return np.array([(r.final(metric) - min(getattr(r, metric))) / min(getattr(r, metric)) for r in runs])


def best_test_bias(runs: Sequence[Run]) -> np.ndarray:
    """Per run, the best test accuracy over training minus the test accuracy at the
    early-stopping iteration: what choosing the stopping point with the test set would add."""
    return np.array([max(r.test_acc) - r.at_early_stop("test_acc") for r in runs])


def percent_spread(values: Sequence[float], fmt: str = ".1f") -> str:
    """"mean% (min% to max%)" of per-seed fractions, for prose: ``claims.spread`` with "to"
    in place of its dash, since these rises and shares can be negative ("-1.0%--0.5%"
    misreads)."""
    v = 100 * np.asarray(values)
    return f"{v.mean():{fmt}}% ({v.min():{fmt}}% to {v.max():{fmt}}%)"


def weight_distance(a: StateDict, b: StateDict, names: Sequence[str]) -> float:
    """Euclidean distance between the weights ``names`` of two state dicts, all layers as
    one vector (how far training moved the prunable weights)."""
    return float(torch.sqrt(sum(((a[n] - b[n]) ** 2).sum() for n in names)))


def weight_movement(runs: Sequence[Run], snapshots: Sequence[int],
                    names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Two measures of when the weights move, per run (rows) and snapshot interval:

    - the distance from the initial weights at ``snapshots[1:]``, as a share of the distance
      at the last snapshot (grows fastest early almost by construction: a random walk's
      distance grows like the square root of time);
    - the length of each step between consecutive snapshots per iteration, relative to the
      first interval's (compares the intervals directly).

    Each run must hold the weights of every snapshot (``dense_runs(save_weights_at=...)``)."""
    def moved(run: Run, t: int) -> float:
        return weight_distance(run.weights_at[t], run.weights_at[0], names)

    share = np.array([[moved(r, t) / moved(r, snapshots[-1]) for t in snapshots[1:]] for r in runs])
    per_it = np.array([[weight_distance(r.weights_at[b], r.weights_at[a], names) / (b - a)
                        for a, b in zip(snapshots[:-1], snapshots[1:])] for r in runs])
    return share, per_it / per_it[:, :1]


__all__ = ["loss_gap", "gap_widening", "rise_after_early_stop", "rise_above_minimum", "best_test_bias",
           "percent_spread", "weight_distance", "weight_movement"]
