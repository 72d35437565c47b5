"""Notebook 01's reads of its dense runs: what training past the early-stopping iteration
does, and how far the weights move between the stored snapshots.

The runs come from ``lthlib.engine.training.dense_runs`` (one ``Run`` per seed); these functions
only read them, one value per seed, so that a claim can pair them seed by seed. Losses
after early stopping are read on the **test** set: the early-stopping iteration is where
the noisy validation curve happens to be lowest, so any later validation value is biased
high against it, while the test set played no part in choosing that iteration.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lthlib.engine.run import Run, StateDict
from lthlib.report.claims import spread

# The initialisations of ``lthlib.models.initialisation``, as prose says them (LaTeX for a notebook).
INIT_WORDS = {
    "default": r"PyTorch's default, uniform on $\pm 1/\sqrt{\text{fan-in}}$",
    "glorot_normal": r"Gaussian Glorot, $\mathcal{N}(0,\,2/(\text{fan-in}+\text{fan-out}))$, as Frankle & "
                     "Carbin 2019 (Figure 2)",
    "kaiming_normal": r"Kaiming normal, $\mathcal{N}(0,\,2/\text{fan-in})$, as open_lth",
}


def loss_gap(run: Run, i: int) -> float:
    """Test loss minus training loss at evaluation ``i`` (the test set, not the validation
    set: the validation loss at the early-stopping iteration is biased low)."""
    return run.curve("test_loss")[i] - run.curve("train_loss")[i]


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
    return np.array([(r.final(metric) - min(r.curve(metric))) / min(r.curve(metric)) for r in runs])


def best_test_bias(runs: Sequence[Run]) -> np.ndarray:
    """Per run, the best test accuracy over training minus the test accuracy at the
    early-stopping iteration: what choosing the stopping point with the test set would add."""
    return np.array([max(r.curve("test_acc")) - r.at_early_stop("test_acc") for r in runs])


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


def init_words(name: str) -> str:
    """How the initialisation ``name`` draws the weights, for prose (``INIT_WORDS``)."""
    return INIT_WORDS.get(name, f"`init={name!r}`")


def weight_scale_table(runs: Sequence[Run], names: Sequence[str], labels: Sequence[str],
                       near: float = 0.1) -> str:
    """A Markdown table, a row per layer: the weights' standard deviation at initialisation
    and after training, and the share *near zero* at both: a magnitude below ``near`` times
    the layer's largest initial magnitude (the half-width of a uniform initial band, which
    then holds a share ``near`` of the initial weights by construction). Mean (min-max)
    over ``runs``; each needs its weights at iteration 0 (``weights_at[0]``)."""
    rows = ["| layer | weights | std at init | std trained | share near zero at init | share near zero trained |",
            "|---|---|---|---|---|---|"]
    for name, label in zip(names, labels):
        w0 = [r.weights_at[0][name].flatten() for r in runs]
        w1 = [r.final_state[name].flatten() for r in runs]
        edge = [float(w.abs().max()) for w in w0]
        near0 = [float((w.abs() < near * h).float().mean()) for w, h in zip(w0, edge)]
        near1 = [float((w.abs() < near * h).float().mean()) for w, h in zip(w1, edge)]
        rows.append(f"| {label} | {w0[0].numel():,} | {spread([float(w.std()) for w in w0], '.4f')} "
                    f"| {spread([float(w.std()) for w in w1], '.4f')} | {spread(near0, '.3f')} | {spread(near1, '.3f')} |")
    return "\n".join(rows) + (f"\n\n*Mean (min-max) over {len(runs)} seeds. \"Near zero\": magnitude below "
                              f"{near:.0%} of the layer's largest initial magnitude.*")


def magnitude_rank_table(runs: Sequence[Run], names: Sequence[str], labels: Sequence[str],
                         fraction: float = 0.2) -> str:
    """A Markdown table, a row per layer: the correlation of initial and trained weight
    magnitudes, and the share of the smallest ``fraction`` of trained magnitudes (what
    magnitude pruning at that rate removes first) that were also in the smallest
    ``fraction`` at initialisation. Mean (min-max) over ``runs``, with the values each
    column would take if the rankings were unrelated or the same."""
    rows = [f"| layer | correlation of \\|initial\\| and \\|trained\\| | pruned first (smallest {fraction:.0%} "
            f"trained) that were also in the smallest {fraction:.0%} at init |", "|---|---|---|"]
    for name, label in zip(names, labels):
        corr, both = [], []
        for r in runs:
            a0, a1 = r.weights_at[0][name].flatten().abs(), r.final_state[name].flatten().abs()
            corr.append(float(torch.corrcoef(torch.stack([a0, a1]))[0, 1]))
            low0, low1 = a0 <= a0.quantile(fraction), a1 <= a1.quantile(fraction)
            both.append(float((low0 & low1).sum() / low1.sum()))
        rows.append(f"| {label} | {spread(corr)} | {spread(both)} |")
    return "\n".join(rows) + (f"\n\n*Mean (min-max) over {len(runs)} seeds. If trained magnitudes were "
                              f"unrelated to initial ones, the correlation would be 0 and the last column "
                              f"{fraction:.3f}; if they were the same ranking, 1 and 1.000.*")


def fastest_intervals(share: np.ndarray, per_it: np.ndarray) -> tuple[int, int]:
    """From ``weight_movement``'s two arrays (runs x snapshot intervals): the interval in
    which the distance from the initial weights grows most, and the one whose steps are
    longest per iteration (means over runs; interval i runs from snapshot i to i + 1)."""
    growth = np.diff(np.concatenate([np.zeros((share.shape[0], 1)), share], axis=1), axis=1)
    return int(np.argmax(growth.mean(axis=0))), int(np.argmax(per_it.mean(axis=0)))


__all__ = ["INIT_WORDS", "init_words", "weight_scale_table", "magnitude_rank_table", "fastest_intervals",
           "loss_gap", "gap_widening", "rise_after_early_stop", "rise_above_minimum", "best_test_bias",
           "percent_spread", "weight_distance", "weight_movement"]
