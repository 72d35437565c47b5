"""Notebook 03's experiment: IMP with rewinding to iteration k, swept over k (Frankle et
al. 2020), the parents of notebook 05's instability analysis and of ``lthlib.apps.reproduce``'s
rewinding figures.

``rewinding_for_scale`` gives the chapter's spec (``RewindingExperiment``: the rewind
iterations, where the controls are trained, the k and round the claims compare, the first
reported seed; presets per scale in ``REWINDING_PRESETS``); ``run_rewind_sweep`` runs IMP
(``lthlib.experiments.imp``) once per k and seed and returns a ``RewindSweep``, whose methods are the
reads notebooks 03 and 05 and ``lthlib.apps.reproduce`` make of it.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lthlib.core.store import Store
from lthlib.data.datasets import Dataset
from lthlib.engine.training import data_for
from lthlib.experiments.imp import IMPResult, IMPSettings, run_imp_many
from lthlib.experiments.matching import matching_tolerance
from lthlib.settings import SettingsError, for_scale


# Notebook 03's rewinding experiment per scale (read by ``rewinding_for_scale``).
# quick: chosen by benchmarks/rewinding_search.py on seeds 0-5 (docs/rewinding_search.md);
# the notebook reports seeds from ``first_seed`` on. paper: Frankle et al. 2020 (ResNet-20).
REWINDING_PRESETS: dict[str, dict[str, Any]] = {
    # Frankle et al. 2020 read ResNet-20 at 16.8% of weights (8 rounds of 20%) and VGG-16 at
    # 1.5% (19 rounds, its fc layer never pruned, as open_lth: 1.48%); k past the dense
    # networks' stability point (about 2,000 for ResNet-20) to show the plateau.
    # Trained on all 50,000 CIFAR-10 examples and evaluated on the test set, as open_lth
    # (``validation="test"``): the figures read accuracy at the end of training.
    "paper": dict(model="resnet20", train=dict(validation="test"), pruning=dict(rounds=8, rate=0.2, output_rate=None, scope="global"),
                  per_model={"resnet20": dict(rounds=8, claim_round=8),
                             "vgg16": dict(rounds=19, exclude=("fc.weight",), claim_round=19)},
                  ks=(0, 100, 250, 500, 1000, 2000, 4000, 8000), claim_k=500, claim_round=8, first_seed=0),
    "quick": dict(model="cnn_mnist1d", train=dict(optimizer="sgd", lr=0.1, momentum=0.9),
                  pruning=dict(rounds=2, rate=0.6, output_rate=0.3, control_rounds=(2,)),
                  ks=(0, 100, 250, 500, 1000), claim_k=500, claim_round=2, first_seed=100),
    "smoke": dict(model="cnn_mnist1d", train=dict(optimizer="sgd", lr=0.1, momentum=0.9),
                  pruning=dict(rounds=1, rate=0.6, output_rate=0.3),
                  ks=(0, 10, 20), claim_k=20, claim_round=1, first_seed=100),
}


@dataclass(frozen=True, eq=False)
class RewindSweep(Mapping[int, list[IMPResult]]):
    """A rewinding sweep (``run_rewind_sweep``): ``sweep[k]`` is the list of IMP results
    rewound to ``k``, one per seed in the order of ``seeds``, the same order at every k,
    so two reads of the sweep pair seed by seed. The reads notebooks 03 and 05 and
    ``lthlib.apps.reproduce`` make of a sweep live here, once, so that they cannot drift apart
    (a round read at the wrong index, arguments swapped). Every read takes its arguments
    in one order: the network (``kind``), the rewind iteration ``k``, the pruning round."""

    runs: Mapping[int, list[IMPResult]]
    seeds: tuple[int, ...]

    def __getitem__(self, k: int) -> list[IMPResult]:
        return self.runs[k]

    def __iter__(self) -> Iterator[int]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    @property
    def ks(self) -> tuple[int, ...]:
        """The rewind iterations, in the order the sweep ran them."""
        return tuple(self.runs)

    @property
    def rounds(self) -> list[int]:
        """The pruning rounds, 1 to the last (round 0 is the dense network)."""
        return list(range(1, len(self.runs[self.ks[0]][0].rounds) + 1))

    def final_acc(self, kind: str, k: int, round_: int) -> np.ndarray:
        """Test accuracy at the end of training (where Frankle et al. 2020 read it) of
        ``kind`` (``"ticket"`` or a control's name) rewound to ``k``, at pruning round
        ``round_``: one value per seed, NaN where that control was not trained."""
        return np.array([res.metric(kind, at="final")[round_] for res in self.runs[k]])

    def dense_final_acc(self) -> np.ndarray:
        """The dense network's test accuracy at the end of training, one value per seed.
        One dense run per seed serves every k, so any k gives it: the first is read."""
        return self.final_acc("ticket", self.ks[0], 0)

    def matching_tolerance(self) -> float:
        """One standard deviation of the dense runs' final test accuracy: how far below the
        dense network's mean a matching subnetwork may be (``matching_tolerance``)."""
        return matching_tolerance(self.dense_final_acc())

    def densities(self) -> np.ndarray:
        """Percent of the prunable weights remaining per round, round 0 (dense, 100) first:
        the mean over seeds, though the pruning rates fix every seed's counts alike."""
        return 100 * np.mean([res.densities() for res in self.runs[self.ks[0]]], axis=0)


def run_rewind_sweep(settings: IMPSettings, rewind_iterations: Iterable[int], seeds: Iterable[int],
                     data: Dataset | None = None, *, store: Store | None = None,
                     progress: bool | None = None, workers: int | None = None,
                     control_ks: Iterable[int] | None = None,
                     batched: bool | None = None) -> RewindSweep:
    """IMP once per rewind iteration k and seed: a ``RewindSweep``, ``{k: [result per seed]}``.
    Each (k, seed) is its own stored run, so a sweep that is interrupted resumes where it
    stopped; one dense run per seed serves every k. ``control_ks``: train the controls only
    at these k (None: at every k); the tickets are trained at every k."""
    data = data if data is not None else data_for(settings.train)
    ks, seeds = [int(k) for k in rewind_iterations], [int(s) for s in seeds]
    with_controls = set(ks) if control_ks is None else {int(k) for k in control_ks}
    unknown = sorted(with_controls - set(ks))
    if unknown:
        raise ValueError(f"control_ks {unknown} are not among the rewind iterations {ks}")
    jobs = [settings.replace(rewind_iteration=k, controls=settings.controls if k in with_controls else ())
            .with_seed(s) for k in ks for s in seeds]
    results = run_imp_many(jobs, data, store=store, progress=progress, workers=workers, batched=batched)
    by_job = dict(zip(((j.rewind_iteration, j.train.seed) for j in jobs), results))
    return RewindSweep({k: [by_job[(k, s)] for s in seeds] for k in ks}, tuple(seeds))


@dataclass(frozen=True)
class RewindingExperiment:
    """Notebook 03's experiment (and notebook 05's parents): what to run and which
    comparisons the claims make, fixed *before* the run.

    ``ks``: rewind iterations of the ticket sweep; ``control_ks``: the k at which the
    controls are trained too (0 and ``claim_k``); ``claim_k`` and ``claim_round``: the
    rewind iteration and pruning round (density) the headline claims compare, chosen on
    selection seeds (``benchmarks/rewinding_search.py``); ``first_seed``: the first of the
    seeds the notebook reports, fresh seeds that played no part in that choice.
    """

    imp: IMPSettings
    ks: tuple[int, ...]
    control_ks: tuple[int, ...]
    claim_k: int
    claim_round: int
    first_seed: int = 0

    def seeds(self, n: int) -> list[int]:
        return list(range(self.first_seed, self.first_seed + n))


def rewinding_for_scale(scale: str, model: str | None = None, dataset: str | None = None,
                        **overrides: Any) -> RewindingExperiment:
    """The rewinding experiment of notebook 03 at a scale.

    - ``"paper"``: ResNet-20 on CIFAR-10 (or ``model="vgg16"``), SGD lr 0.1 as published,
      20% global pruning for 10 rounds (about 11% of the weights left), k in
      {0, 100, 250, 500, 1000, 2000} (Frankle et al. 2020).
    - ``"quick"``: the MNIST-1D 1-D CNN trained with SGD at a *large* learning rate (0.1,
      momentum 0.9), pruned 60% per round (output layer 30%) for 2 rounds (about 23% of
      the weights left), controls in the second round: the setting chosen by
      ``benchmarks/rewinding_search.py`` on seeds 0-5 (report: ``docs/rewinding_search.md``:
      the largest lower confidence bound of "k=500 beats k=0" at the sparser density among
      the candidates run); the notebook reports seeds from 100 on. k on a log-like grid
      from 0 to 1,000 of 3,000 iterations.
    - ``"smoke"``: the same shape, a few iterations.

    ``overrides`` change the IMP settings (e.g. ``controls=...``, ``rounds=...``).
    """
    if scale not in REWINDING_PRESETS:
        raise SettingsError(f"scale={scale!r}: choose one of {sorted(REWINDING_PRESETS)}")
    preset = REWINDING_PRESETS[scale]
    train_settings = for_scale(scale, model=model or preset.get("model"), dataset=dataset, **preset["train"])
    values: dict[str, Any] = dict(preset["pruning"])
    ks, claim_k, claim_round, first_seed = preset["ks"], preset["claim_k"], preset["claim_round"], preset["first_seed"]
    network = dict(preset.get("per_model", {}).get(train_settings.model, {}))  # the density the paper reads
    claim_round = network.pop("claim_round", claim_round)
    values.update(network)
    controls = ("reinit", "reinit_full", "random_mask")
    values["controls"] = controls
    values.update(overrides)
    return RewindingExperiment(IMPSettings(train=train_settings, **values), ks, (0, claim_k), claim_k,
                               min(claim_round, values["rounds"]), first_seed)
