"""``Run``: what one training run leaves behind (curves, weights, mask), as plain data
that the store keeps as a dict and reads back without running code."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from lthlib.core.store import register_stored_type
from lthlib.settings import TrainSettings

METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")

StateDict = dict[str, torch.Tensor]


@dataclass
class Run:
    """What one training run leaves behind.

    Curves are sampled every ``eval_every`` iterations (and at the start and end).
    ``train_*`` are measured on a fixed subset of up to 5,000 training examples (NaN where
    the settings say ``eval_train=False``: reading them is then an error). With
    ``test_curve=False`` the test set is measured only at the early-stopping evaluation and
    the last one, NaN between: ``at_early_stop``, ``final`` and ``reported`` read it, ``curve``
    refuses it.
    ``weights_at`` holds the weights after the requested numbers of iterations (iteration 0
    is the initialisation), which is what rewinding needs.
    """

    settings: dict[str, Any]
    iterations: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    final_state: StateDict = field(default_factory=dict)
    weights_at: dict[int, StateDict] = field(default_factory=dict)
    mask: dict[str, torch.Tensor] | None = None
    start_iteration: int = 0
    seconds: float = 0.0
    # one entry per change of the mask during training (``train(mask_update=...)``):
    # {"iteration", "dropped": {layer: n}, "grown": {layer: n}}; ``mask`` is then the final mask
    mask_updates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def early_stop_index(self) -> int:
        """Index of the evaluation with the lowest validation loss (the earliest on ties)."""
        if not self.val_loss:
            raise ValueError("this run has no evaluations")
        finite = [v if math.isfinite(v) else math.inf for v in self.val_loss]
        return min(range(len(finite)), key=lambda i: (finite[i], i))

    @property
    def early_stop_iteration(self) -> int:
        """The iteration of minimum validation loss (Frankle & Carbin's early-stopping point)."""
        return self.iterations[self.early_stop_index]

    def at_early_stop(self, metric: str = "test_acc") -> float:
        """``metric`` at the early-stopping iteration (the paper's reported accuracy).
        Refused for a run evaluated on the test set in place of a validation split
        (``validation="test"``): its early stopping would select on the test set."""
        if self.settings.get("validation") == "test":
            raise ValueError("this run's validation curves are the test set's (validation='test', as open_lth): "
                             "early stopping would select on the test set; read the end of training (final())")
        return getattr(self, self._check_metric(metric))[self.early_stop_index]

    def final(self, metric: str = "test_acc") -> float:
        """``metric`` at the last iteration."""
        return getattr(self, self._check_metric(metric))[-1]

    def reported(self, metric: str = "test_acc") -> float:
        """``metric`` where the paper behind the run's settings reads it: at early stopping
        for a run with a held-out validation split (Frankle & Carbin), at the end of training
        for one trained on every example and evaluated on the test set (``validation="test"``:
        open_lth's ResNet-20 and VGG-16, RigL's WRN-22-2)."""
        return self.final(metric) if self.settings.get("validation") == "test" else self.at_early_stop(metric)

    def curve(self, metric: str) -> list[float]:
        """``metric`` at every evaluation (``iterations``): what a curve figure plots. A test
        curve of a run that measured the test set only where it is read (``test_curve=False``)
        is refused."""
        metric = self._check_metric(metric)
        if not self.has_curve(metric):
            raise ValueError(f"metric={metric!r}: this run measured the test set only at early stopping "
                             "and at the end (test_curve=False); plot the validation curve, or train "
                             "with for_scale(..., test_curve=True)")
        return getattr(self, metric)

    def has_curve(self, metric: str) -> bool:
        """Whether ``metric`` was measured at every evaluation (not a split the settings leave
        out, ``eval_train``, or measure only where read, ``test_curve``; without a validation
        split the test set is watched, so measured every time)."""
        if metric.startswith("train_"):
            return bool(self.settings.get("eval_train", True))
        return not metric.startswith("test_") or bool(self.settings.get("test_curve", True)) \
            or self.settings.get("validation") == "test"

    def _check_metric(self, metric: str) -> str:
        if metric not in METRICS:
            raise ValueError(f"metric={metric!r}: choose one of {list(METRICS)}")
        if metric.startswith("train_") and not self.settings.get("eval_train", True):
            raise ValueError(f"metric={metric!r}: this run did not evaluate the training split "
                             "(eval_train=False); train with for_scale(..., eval_train=True) to read it")
        return metric

    @property
    def train_settings(self) -> TrainSettings:
        """``settings`` (stored as a plain dict) as the TrainSettings object it came from."""
        return TrainSettings(**self.settings)

    def without_weights(self) -> "Run":
        """This run with its curves and mask but no weights (``final_state``, ``weights_at``):
        what is stored of a run nothing is pruned or rewound from."""
        return dataclasses.replace(self, final_state={}, weights_at={})

    def curves(self) -> dict[str, list[float]]:
        return {"iteration": list(self.iterations), **{m: list(getattr(self, m)) for m in METRICS}}

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Run":
        """The Run ``to_dict`` gave (ValueError naming what is wrong for anything else)."""
        if not isinstance(d, dict):
            raise ValueError(f"a stored Run must be a dict, not a {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        if set(d) - known or "settings" not in d:
            raise ValueError(f"not a stored Run: keys {sorted(d)}; a Run has {sorted(known)}")
        return cls(**d)


register_stored_type("run", Run)
