"""Three ways to retrain after pruning (Renda, Frankle & Carbin 2020): the experiment of
notebook 03's last section and of the ``renda2020-retraining`` figure.

IMP prunes alike under every method (the smallest-magnitude survivors of the last round's
trained network); what differs is how the survivors are retrained, each for the same
budget of t iterations (T - t = k, the rewind iteration):

- *weight rewinding*: the survivors go back to their values at iteration T - t of the dense
  run and train from there on the original schedule (Frankle et al. 2019, 2020);
- *learning-rate rewinding*: the survivors keep their trained values and train for t
  iterations on the schedule's last t iterations (the learning rate is rewound, not the
  weights);
- *fine-tuning*: the survivors keep their trained values and train for t iterations at the
  schedule's final learning rate.

``IMPSettings.retrain`` runs each (``lthlib.experiments.imp.RETRAINING``). ``RetrainingExperiment`` is
the spec: the settings at a scale (``RETRAINING_PRESETS``), the seeds, and the
claims (``CLAIMS``: statement, comparison, round, margin, role), fixed before any run.
``run_retraining`` runs every method for every seed in lock-step populations; one dense run
per seed serves all three (its store key is the training settings, which the methods share).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lthlib.core.store import Store
from lthlib.data.datasets import Dataset
from lthlib.engine.training import data_for
from lthlib.experiments.imp import RETRAINING, RETRAINING_LABELS, IMPResult, IMPSettings, run_imp_many
from lthlib.report.claims import Claim, Claims
from lthlib.settings import SettingsError, for_scale


# Notebook 03's second experiment and the ``renda2020-retraining`` figure: three ways to
# retrain after each IMP pruning step (Renda, Frankle & Carbin 2020), read by
# ``retraining.retraining_for_scale``. ``retrain_iterations`` is the retraining budget t,
# the same for every method (weight rewinding rewinds to iteration T - t). The schedule must
# decay, or learning-rate rewinding and fine-tuning would be the same run.
# paper: ResNet-20 on CIFAR-10 as the authors' code trains it (lottery-ticket/
# rewinding-iclr20-public, vision/gpu-src: 182 epochs of batch 128 = 71,108 iterations,
# lr 0.1 x0.1 at epochs 91 and 136 = iterations 35,546 and 53,125, weight decay 2e-4,
# momentum 0.9; its README's example rewinds to iteration 4,701, i.e. t = 170 epochs),
# 20% global pruning per round for 10 rounds (10.7% of the weights, the authors' data).
# quick: the MNIST-1D MLP with SGD at lr 0.1 (momentum 0.9) dropped 10x at 50% and 75% of
# 2,000 iterations, pruned 60% per round (output layer 30%) for 3 rounds (7.0% left); t = 93%
# of training, as in the authors' example (t = 170 of 182 epochs). The claims' round was fixed on pilot seeds
# 1000-1007 (benchmarks/retraining_pilot.py, docs/retraining_pilot.md); the notebook
# reports ``seeds`` seeds from ``first_seed`` (headline claims need at least 8).
RETRAINING_PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(model="resnet20",
                  train=dict(iterations=71_108, lr_milestones=(35_546, 53_125), weight_decay=2e-4,
                             validation="test"),
                  pruning=dict(rounds=10, rate=0.2, output_rate=None, scope="global"),
                  retrain_iterations=66_407, claim_round=10, seeds=8, first_seed=0),
    "quick": dict(model="mlp_mnist1d",
                  train=dict(optimizer="sgd", lr=0.1, momentum=0.9, iterations=2_000, lr_milestones=(1_000, 1_500),
                             eval_every=100),
                  pruning=dict(rounds=3, rate=0.6, output_rate=0.3),
                  retrain_iterations=1_860, claim_round=3, seeds=8, first_seed=0),
    "smoke": dict(model="mlp_mnist1d",
                  train=dict(optimizer="sgd", lr=0.1, momentum=0.9, iterations=150, lr_milestones=(75, 112)),
                  pruning=dict(rounds=2, rate=0.5, output_rate=0.25),
                  retrain_iterations=140, claim_round=2, seeds=2, first_seed=0),
}

# The colours of the methods in every figure (weight rewinding keeps the IMP ticket's blue).
RETRAINING_COLORS = {"weight_rewinding": "C0", "lr_rewinding": "C1", "fine_tuning": "C2"}
_ABSTRACT = "Renda et al. 2020 (abstract): \"Both rewinding techniques outperform fine-tuning\""


@dataclass(frozen=True)
class ClaimSpec:
    """One claim of the experiment, fixed before the run: "``better`` beats ``worse`` by more
    than ``margin`` at round ``round``" (a negative margin: "is not worse by more than
    |margin|"), test accuracy at the end of retraining, paired by seed. ``statement`` names
    the density with ``{density}``, filled in from the run (the rounds' densities are exact)."""

    statement: str
    better: str
    worse: str
    round: int
    margin: float = 0.0
    role: str = "headline"
    paper: str = ""

    def text(self, density: float) -> str:
        return self.statement.format(density=f"{100 * density:.1f}%")


def claim_specs(claim_round: int) -> tuple[ClaimSpec, ...]:
    """The claims, read at ``claim_round`` (the scale's, ``RETRAINING_PRESETS``)."""
    return (
        ClaimSpec("at {density} of weights, learning-rate rewinding beats fine-tuning (same budget t)",
                  "lr_rewinding", "fine_tuning", claim_round, paper=_ABSTRACT),
        ClaimSpec("at {density} of weights, weight rewinding beats fine-tuning (same budget t)",
                  "weight_rewinding", "fine_tuning", claim_round, paper=_ABSTRACT),
        ClaimSpec("at {density} of weights, learning-rate rewinding is at most 1 point below weight rewinding",
                  "lr_rewinding", "weight_rewinding", claim_round, margin=-0.01, role="paper",
                  paper="not in the abstract, and the paper's text could not be checked here; in the authors' "
                        "released data (ResNet-20, iterative, retrained 170 epochs, 10.7% of weights) learning-rate "
                        "rewinding reaches 91.08% and weight rewinding 91.00% (medians of 3 trials)"),
    )


@dataclass(frozen=True)
class RetrainingExperiment:
    """What runs at a scale and which comparisons the claims make (see the module
    docstring). ``imp``: the IMP settings shared by the methods (``retrain`` set per method
    by ``settings_for``); ``retrain_iterations``: the budget t; ``claims``: the claims'
    specification; ``n_seeds``: how many seeds the scale reports (headline claims need 8);
    ``first_seed``: the first of them (the claims' round was chosen on pilot seeds
    1000-1007 at the quick scale, which are not reported)."""

    imp: IMPSettings
    retrain_iterations: int
    claims: tuple[ClaimSpec, ...]
    n_seeds: int = 8
    first_seed: int = 0
    methods: tuple[str, ...] = RETRAINING

    def __post_init__(self) -> None:
        T = self.imp.train.iterations
        if self.imp.rewind_iteration != T - self.retrain_iterations:
            raise SettingsError(f"rewind_iteration={self.imp.rewind_iteration} must be T - t = "
                                f"{T} - {self.retrain_iterations}: every method retrains for the same t")
        unknown = sorted(set(self.methods) - set(RETRAINING))
        if unknown:
            raise SettingsError(f"methods {unknown} unknown; choose from {list(RETRAINING)}")
        for c in self.claims:
            if not {c.better, c.worse} <= set(self.methods) or not 1 <= c.round <= self.imp.rounds:
                raise SettingsError(f"claim {c.statement!r} compares {c.better} with {c.worse} at round {c.round}; "
                                    f"this experiment runs {list(self.methods)} for {self.imp.rounds} rounds")

    def settings_for(self, method: str) -> IMPSettings:
        return self.imp.replace(retrain=method)

    def seeds(self, n: int) -> list[int]:
        return list(range(self.first_seed, self.first_seed + n))


def retraining_for_scale(scale: str, model: str | None = None, dataset: str | None = None,
                         **overrides: Any) -> RetrainingExperiment:
    """The retraining experiment at a scale (``RETRAINING_PRESETS``):

    - ``"paper"``: ResNet-20 on CIFAR-10 with the authors' schedule (71,108 iterations of
      batch 128, lr 0.1 dropped 10x at 35,546 and 53,125, weight decay 2e-4), 20% global
      pruning for 10 rounds (10.7% of the weights), t = 66,407 iterations (170 of 182 epochs;
      rewind to iteration 4,701, the authors' README example);
    - ``"quick"``: the MNIST-1D MLP, SGD lr 0.1 (momentum 0.9) dropped 10x at 1,000 and 1,500
      of 2,000 iterations, 60% per round (output layer 30%) for 3 rounds, t = 1,860 (93%, as
      the authors' example); about a minute on two CPU cores for 8 seeds;
    - ``"smoke"``: the same shape, a few iterations.

    ``overrides`` change the IMP settings (e.g. ``rounds=...``); ``retrain_iterations=t``
    changes the budget (and the rewind iteration with it)."""
    if scale not in RETRAINING_PRESETS:
        raise SettingsError(f"scale={scale!r}: choose one of {sorted(RETRAINING_PRESETS)}")
    preset = RETRAINING_PRESETS[scale]
    train = for_scale(scale, model=model or preset["model"], dataset=dataset, **preset["train"])
    t = int(overrides.pop("retrain_iterations", preset["retrain_iterations"]))
    if not 0 < t <= train.iterations:
        raise SettingsError(f"retrain_iterations={t}: must be in [1, iterations={train.iterations}]")
    values: dict[str, Any] = {**preset["pruning"], "controls": (), "rewind_iteration": train.iterations - t,
                              **overrides}
    imp = IMPSettings(train=train, **values)
    return RetrainingExperiment(imp, t, claim_specs(min(preset["claim_round"], imp.rounds)), preset["seeds"],
                                preset["first_seed"])


@dataclass
class RetrainingResults:
    """Every method's IMP run per seed (``runs[method]``: one ``IMPResult`` per seed, same
    seed order for every method), and the queries the notebook and the figure read."""

    experiment: RetrainingExperiment
    seeds: list[int]
    runs: dict[str, list[IMPResult]]

    def densities(self) -> list[float]:
        """The fraction of weights remaining per round (round 0: the dense network, 1.0).
        The same for every method and seed: the pruning rates fix each layer's count."""
        return list(np.mean([r.densities() for r in self.runs[self.experiment.methods[0]]], axis=0))

    def final_acc(self, method: str, round_: int) -> np.ndarray:
        """Test accuracy at the end of (re)training, one value per seed, at round ``round_``."""
        return np.array([res.metric("ticket", at="final")[round_] for res in self.runs[method]])

    def accuracy(self, method: str) -> np.ndarray:
        """Test accuracy at the end of retraining, seeds x pruning rounds (round 0 left out)."""
        return np.array([res.metric("ticket", at="final")[1:] for res in self.runs[method]])

    def dense(self) -> np.ndarray:
        """The dense network's test accuracy at the end of training, one value per seed (the
        one dense run every method starts from)."""
        return self.final_acc(self.experiment.methods[0], 0)

    def check(self, claims: Claims) -> list[Claim]:
        """Judge the experiment's claims on this run (``claims.paired``, by seed)."""
        density = self.densities()
        return [claims.paired(c.text(density[c.round]), self.final_acc(c.better, c.round),
                              self.final_acc(c.worse, c.round), margin=c.margin, role=c.role, paper=c.paper)
                for c in self.experiment.claims]


def run_retraining(experiment: RetrainingExperiment, seeds: Sequence[int], data: Dataset | None = None, *,
                   store: Store | None = None, progress: bool | None = None, workers: int | None = None,
                   batched: bool | None = None) -> RetrainingResults:
    """Every method of ``experiment`` for every seed (``imp.run_imp_many``: round by round, all
    methods and seeds in lock-step populations where the model allows; one dense run per
    seed, shared by the methods), stored and reused."""
    data = data if data is not None else data_for(experiment.imp.train)
    seeds = [int(s) for s in seeds]
    jobs = [experiment.settings_for(m).with_seed(s) for m in experiment.methods for s in seeds]
    results = run_imp_many(jobs, data, store=store, progress=progress, workers=workers, batched=batched)
    runs = {m: results[i * len(seeds):(i + 1) * len(seeds)] for i, m in enumerate(experiment.methods)}
    return RetrainingResults(experiment, seeds, runs)


def method_label(method: str) -> str:
    return RETRAINING_LABELS[method]
