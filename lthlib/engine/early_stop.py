"""The test set measured where it is read: at early stopping and at the end.

A run with ``test_curve=False`` measures the validation split at every evaluation and the
test set only at the last one and at the early-stopping evaluation (the earliest lowest
validation loss, ``Run.early_stop_index``). The weights of the lowest validation loss so
far are kept while training goes on; at the end the test set is measured on them, which
gives the numbers an evaluation of the test set at that iteration would have given.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from lthlib.data.datasets import Dataset
from lthlib.engine.run import Run
from lthlib.settings import TrainSettings


def test_every_time(settings: TrainSettings, data: Dataset | None = None) -> bool:
    """Whether every evaluation measures the test set: with ``test_curve``, or where the test
    set is the watched split (no validation split: ``validation="test"``, or ``data`` without
    one); otherwise twice per run, at early stopping and at the end."""
    return settings.test_curve or settings.validation == "test" or (data is not None and not len(data.y_val))


def new_minimum(val_loss: Sequence[float]) -> bool:
    """Whether the last validation loss is the earliest minimum so far: the evaluation
    ``Run.early_stop_index`` would pick if training ended here (non-finite counts as +inf)."""
    def finite(v: float) -> float:
        return v if math.isfinite(v) else math.inf

    return len(val_loss) == 1 or finite(val_loss[-1]) < min(finite(v) for v in val_loss[:-1])


def late_members(runs: Sequence[Run]) -> list[int]:
    """The runs whose early-stopping evaluation is not their last: their test set is still
    to be measured on the kept weights."""
    return [j for j, run in enumerate(runs) if run.early_stop_index != len(run.iterations) - 1]


class EarlyStopWeights:
    """Per member of a population, the stacked weights (``[members, ...]`` per name) of its
    lowest validation loss so far; None until a member first has one."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] | None = None

    @torch.no_grad()
    def keep(self, runs: Sequence[Run], members: range, trained: dict[str, torch.Tensor]) -> None:
        """After an evaluation of ``members``: copy each one's weights whose validation loss
        is a new minimum."""
        for j in members:
            if new_minimum(runs[j].val_loss):
                if self.tensors is None:
                    self.tensors = {name: w.clone() for name, w in trained.items()}
                for name, w in trained.items():
                    self.tensors[name][j].copy_(w[j])
