"""Notebook 02's reads of its IMP runs: how fast tickets and their controls learn.

Frankle & Carbin measure learning speed by the early-stopping iteration (minimum
validation loss). That iteration mixes how fast a network improves with how long it keeps
improving: a run still improving when training ends has its minimum at the last
evaluation, whatever its speed. So notebook 02 also counts the iterations to reach a fixed
validation accuracy, and says where runs are still improving. The runs come from
``lthlib.experiments.imp.run_imp_seeds`` (one ``IMPResult`` per seed; arrays here are seeds x rounds,
round 0 being the dense run).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lthlib.engine.run import Run
from lthlib.experiments.imp import IMPResult, kind_label
from lthlib.masks import Mask
from lthlib.report.claims import Claim, verdict_word


def iterations_to_reach(run: Run, target: float, metric: str = "val_acc") -> int | None:
    """The first evaluated iteration at which ``metric`` >= ``target`` (None: never): a
    learning speed that, unlike the early-stopping iteration, a run still improving at the
    end does not cap."""
    return next((it for it, v in zip(run.iterations, run.curve(metric)) if v >= target), None)


def iterations_to_target(results: Sequence[IMPResult], kind: str, targets: Sequence[float],
                         end: int, metric: str = "val_acc") -> tuple[np.ndarray, np.ndarray]:
    """(iterations to reach, never reached), seeds x rounds, for the runs of ``kind``: seed
    i's runs against ``targets[i]``. A run that never reaches its target counts as ``end``
    iterations (the whole run, so its real time is longer); the second array says which."""
    raw = [[iterations_to_reach(run, t, metric) for run in res.runs(kind)] for res, t in zip(results, targets)]
    reach = np.array([[end if v is None else v for v in row] for row in raw])
    never = np.array([[v is None for v in row] for row in raw])
    return reach, never


def still_improving(early_stop: np.ndarray, iterations: int) -> np.ndarray:
    """Which runs have their minimum validation loss in the last tenth of ``iterations``:
    still improving at the end, so their early-stopping iteration says nothing of speed."""
    return np.asarray(early_stop) >= iterations - iterations // 10


def first_mostly_improving(late: np.ndarray) -> int | None:
    """The first round (column of seeds x rounds ``late``) where at least half the runs are
    still improving at the end of training; None if there is none."""
    return next((i for i in range(late.shape[1]) if late[:, i].mean() >= 0.5), None)


def earlier_than_dense(early_stop: np.ndarray) -> list[int]:
    """The pruned rounds whose mean early-stopping iteration (over seeds, column of
    ``early_stop``) is below the dense network's (round 0): means only, no statistics."""
    return [i for i in range(1, early_stop.shape[1]) if early_stop[:, i].mean() < early_stop[:, 0].mean()]


def late_caveat(late: Sequence[bool], kind: str = "reinit") -> str:
    """A sentence for prose, empty unless more than half of ``late`` (the runs of ``kind``
    at one density) are still improving: then comparing their early-stopping iteration
    measures how long they keep improving, not how fast they learn."""
    n_late, n = int(np.sum(late)), len(late)
    if n_late * 2 <= n:
        return ""
    words = "reinitialised" if kind == "reinit" else kind_label(kind)
    return (f"But {n_late} of {n} {words} runs at this density are still improving in the last tenth of "
            "training: their early-stopping iteration is capped by the end of training, so this comparison "
            "measures how long they keep improving, not how fast they learn. ")


def still_improving_words(late: Mapping[str, np.ndarray], densities: Sequence[float],
                          controls: Sequence[str]) -> str:
    """Where runs are still improving at the end of training (``late`` per kind, seeds x
    rounds; ``densities`` in percent per round): the first density where at least half the
    ticket runs are, and how many runs of each kind are over all pruned rounds."""
    first = first_mostly_improving(late["ticket"])
    if first is None:
        return "At no density are half of the ticket runs still improving at the end of training."
    return (f"From round {first} ({densities[first]:.1f}% of the weights) at least half of "
            f"the ticket runs are still improving at the end of training; "
            f"over all pruned rounds, {int(late['ticket'][:, 1:].sum())} of {late['ticket'][:, 1:].size} "
            "ticket runs are, and "
            + " and ".join(f"{int(late[c][:, 1:].sum())} of {late[c][:, 1:].size} {kind_label(c)} runs"
                           for c in controls)
            + " (tables above).")


def all_verdicts_word(items: Sequence[Claim], yes: str = "yes", no: str = "no",
                      unclear: str = "not everywhere; see the verdicts",
                      not_judged: str = "not judged at smoke scale") -> str:
    """One word for prose that follows several claims together (the ticket against each
    control at each density): ``yes`` if every one holds (none fragile), ``no`` if every one
    is contradicted, ``not_judged`` if none was judged, else ``unclear``; each claim is read
    through ``claims.verdict_word``."""
    if items and all(c.verdict == "not judged" for c in items):
        return not_judged
    words = {verdict_word(c, "yes", "no", "unclear") for c in items}
    return {frozenset({"yes"}): yes, frozenset({"no"}): no}.get(frozenset(words), unclear)


@dataclass(frozen=True)
class InputSpread:
    """How unevenly a mask keeps the connections of a layer's inputs: per input, the share
    of the layer's units still connected to it, against the spread a random mask of the
    same density would give (binomial: sqrt(d(1 - d) / units))."""

    per_input: np.ndarray  # share of units connected, one value per input
    density: float  # the layer's density
    units: int  # the layer's output units

    @property
    def sd(self) -> float:
        return float(self.per_input.std())

    @property
    def random_sd(self) -> float:
        return float(np.sqrt(self.density * (1 - self.density) / self.units))

    @property
    def ratio(self) -> float:
        """The mask's spread over a random mask's: well above 1, some inputs keep far more
        connections than others."""
        return self.sd / self.random_sd


def input_spread(mask: Mask, layer: str) -> InputSpread:
    """``InputSpread`` of ``mask[layer]`` (units x inputs, any trailing input shape flattened)."""
    keep = mask[layer].float().reshape(mask[layer].shape[0], -1)
    return InputSpread(keep.mean(dim=0).cpu().numpy(), float(keep.mean()), keep.shape[0])


__all__ = ["all_verdicts_word", "InputSpread", "input_spread", "iterations_to_reach", "iterations_to_target", "still_improving", "first_mostly_improving",
           "earlier_than_dense", "late_caveat", "still_improving_words"]
