"""Notebook 10: lottery tickets in a small transformer, and the one-shot pruning that large
models are pruned with instead.

The task is modular addition, ``a b = -> (a + b) mod 97`` (Power et al. 2022,
``lthlib.data.modular_addition``), learned by a one-block decoder-only transformer
(``lthlib.models.Transformer``) whose token and position embeddings, attention projections,
MLP and output layer are each a prunable layer. Everything runs through the existing
machinery:

- IMP with rewinding and its controls: ``lthlib.imp.run_imp_seeds`` (the transformer
  cannot be batched, so each run is ``train`` on its own, in worker processes);
- one-shot pruning of the dense trained network without retraining, as large models are
  pruned: magnitude per layer, Wanda per row (``lthlib.pruning.wanda_scores`` and
  ``prune_per_row``), and N:M patterns of either score (``lthlib.pruning.nm_prune``), at
  the IMP rounds' densities; each read as it is and after a short fine-tune (stored runs,
  ``run_one_shot``).

``TransformerExperiment`` is the chapter's spec: what runs at each scale and the claims'
comparisons (round, threshold, densities), fixed before the run in
``config.TRANSFORMER_PRESETS``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lthlib.config import TRANSFORMER_PRESETS, SettingsError, TrainSettings, for_scale
from lthlib.data import Dataset
from lthlib.imp import IMPResult, IMPSettings
from lthlib.masks import Mask
from lthlib.pruning import magnitude_prune, nm_prune, prune_per_row, wanda_scores
from lthlib.store import Store
from lthlib.training import Run, evaluate, model_for

SCORES = ("magnitude", "wanda")
SCORE_LABELS = {"magnitude": "magnitude", "wanda": "Wanda"}


@dataclass(frozen=True)
class OneShot:
    """One one-shot pruning of the dense trained network: a score (``"magnitude"``: |w|,
    compared across each layer; ``"wanda"``: |w| x input norm, compared within each row) and
    a pattern (``None``: unstructured at ``density``; ``(n, m)``: keep n of every m
    consecutive weights along each row, density n/m)."""

    score: str
    density: float
    pattern: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise SettingsError(f"score={self.score!r}: choose one of {list(SCORES)}")
        if self.pattern is not None:
            n, m = self.pattern
            if abs(n / m - self.density) > 1e-12:
                raise SettingsError(f"pattern {n}:{m} keeps {n / m:g} of the weights, not density={self.density:g}")

    @property
    def label(self) -> str:
        kind = "unstructured" if self.pattern is None else f"{self.pattern[0]}:{self.pattern[1]}"
        return f"{SCORE_LABELS[self.score]}, {kind}"

    def key(self) -> dict[str, Any]:
        return {"score": self.score, "density": round(self.density, 12),
                "pattern": None if self.pattern is None else list(self.pattern)}


@dataclass(frozen=True)
class TransformerExperiment:
    """What notebook 10 runs at a scale, and where its claims are read.

    ``imp``: IMP with rewinding and its controls (every layer pruned at one rate, so each
    round's density is exact in every layer). ``claim_round``: the round whose density the
    ticket-vs-control claims compare. ``threshold``: the validation accuracy a network
    "reaches" (the learning-speed claims). ``one_shot``: the one-shot prunings, at the
    densities of IMP rounds. ``calibration``: how many training examples Wanda's input
    norms are measured on. ``finetune``: the short fine-tune's training settings
    (iterations, learning rate) on top of the dense run's. ``first_seed``: the first seed
    reported (the claims were fixed on other seeds, see ``config.TRANSFORMER_PRESETS``).
    """

    imp: IMPSettings
    claim_round: int
    threshold: float
    one_shot: tuple[OneShot, ...]
    calibration: int
    finetune: dict[str, Any]
    first_seed: int = 0

    @property
    def train(self) -> TrainSettings:
        return self.imp.train

    def seeds(self, n: int) -> list[int]:
        return list(range(self.first_seed, self.first_seed + n))

    def finetune_settings(self, seed: int) -> TrainSettings:
        """The fine-tune of seed ``seed``'s pruned dense network: the dense run's settings
        with the fine-tune's iterations and learning rate (no warm-up)."""
        return self.train.replace(seed=int(seed), warmup_iterations=0, **self.finetune)

    def round_of(self, density: float) -> int:
        """The IMP round at ``density`` (every layer loses ``imp.rate`` per round)."""
        for r in range(1, self.imp.rounds + 1):
            if abs((1 - self.imp.rate) ** r - density) < 1e-9:
                return r
        raise SettingsError(f"density {density:g} is no IMP round's ({[(1 - self.imp.rate) ** r for r in range(1, self.imp.rounds + 1)]})")


def transformer_for_scale(scale: str) -> TransformerExperiment:
    """Notebook 10's experiment at ``scale`` (``config.TRANSFORMER_PRESETS``)."""
    if scale not in TRANSFORMER_PRESETS:
        raise SettingsError(f"scale={scale!r}: choose one of {sorted(TRANSFORMER_PRESETS)}")
    p = TRANSFORMER_PRESETS[scale]
    train = for_scale(scale, model="transformer", **p["train"])
    imp = IMPSettings(train=train, **p["pruning"])
    one_shot = tuple(OneShot(score, density, pattern) for score, density, pattern in p["one_shot"])
    experiment = TransformerExperiment(imp, p["claim_round"], p["threshold"], one_shot, p["calibration"],
                                       dict(p["finetune"]), p["first_seed"])
    for o in one_shot:
        experiment.round_of(o.density)  # every one-shot density is an IMP round's
    return experiment


# --------------------------------------------------------------------------- one-shot pruning
def one_shot_mask(how: OneShot, model: torch.nn.Module, calibration: torch.Tensor,
                  wanda: dict[str, torch.Tensor] | None = None) -> Mask:
    """The mask ``how`` gives the (trained, dense) ``model``: every prunable layer pruned to
    ``how.density``, by magnitude across the layer or Wanda's score within each row, or to
    the N:M pattern of either score. ``wanda``: the model's Wanda scores when already
    computed (they depend on the model and the calibration examples only)."""
    full = Mask.ones_like(model)
    weights = {n: p.detach() for n, p in model.named_parameters()}
    if how.score == "magnitude":
        scores = {n: weights[n].abs() for n in full}
    else:
        scores = wanda if wanda is not None else wanda_scores(model, calibration)
    if how.pattern is not None:
        return nm_prune(scores, full, *how.pattern)
    if how.score == "magnitude":
        return magnitude_prune(weights, full, 1 - how.density)
    return prune_per_row(scores, full, 1 - how.density)


@dataclass
class OneShotResult:
    """One seed's one-shot pruning: its mask, the accuracy of the pruned dense weights
    without retraining, and the short fine-tune's run."""

    mask: Mask
    val_acc: float
    test_acc: float
    finetuned: Run


def run_one_shot(experiment: TransformerExperiment, results: Sequence[IMPResult], data: Dataset, *,
                 store: Store | None = None, progress: bool | None = None,
                 workers: int | None = None) -> dict[tuple[OneShot, int], OneShotResult]:
    """Every one-shot pruning of every seed's dense trained network (``results[i].dense``,
    the IMP runs' round 0), keyed ``(how, seed)``: the mask, the pruned network's accuracy as
    it is, and a short fine-tune from there with the mask held (stored, kind
    ``"one_shot_finetune"``; trained with the other missing fine-tunes)."""
    from lthlib.population import stored_members

    store = store if store is not None else Store(None)
    calibration = data.x_train[: experiment.calibration]
    entries, members, found = [], [], {}
    for res in results:
        seed = res.settings.train.seed
        model = model_for(res.settings.train, data)
        model.load_state_dict(res.dense.final_state)
        wanda = (wanda_scores(model, calibration) if any(h.score == "wanda" for h in experiment.one_shot)
                 else None)
        for how in experiment.one_shot:
            mask = one_shot_mask(how, model, calibration, wanda)
            pruned = model_for(res.settings.train, data)
            pruned.load_state_dict(res.dense.final_state)
            mask.apply_(pruned)
            _, val_acc = evaluate(pruned, data.x_val, data.y_val)
            _, test_acc = evaluate(pruned, data.x_test, data.y_test)
            found[(how, seed)] = (mask, val_acc, test_acc)
            ft = experiment.finetune_settings(seed)
            entries.append(("one_shot_finetune", ft, {"dense": res.settings.train.digest(), **how.key(),
                                                      "calibration": experiment.calibration}))
            members.append(({k: v.clone() for k, v in pruned.state_dict().items()}, mask, 0, [], ft))
    runs = stored_members(store, entries, members, data, progress=progress, workers=workers,
                          keep=lambda i, run, _: Run.from_dict({**run.to_dict(), "final_state": {}}))
    keys = list(found)
    return {key: OneShotResult(*found[key], run) for key, run in zip(keys, runs)}


# ----------------------------------------------------------------------------- reading runs
def steps_to(run: Run | None, threshold: float, metric: str = "val_acc") -> int | None:
    """The first evaluated iteration at which ``metric`` >= ``threshold`` (None: never, or
    no run). Iterations count from the dense run's start, so a ticket rewound to k has had
    k dense iterations before its own."""
    if run is None:
        return None
    return next((it for it, v in zip(run.iterations, getattr(run, metric)) if v >= threshold), None)


def steps_table(results: Sequence[IMPResult], kind: str, threshold: float, end: int) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, never)``: seeds x rounds (round 0: dense) of the iterations to reach
    ``threshold`` validation accuracy, a run that never does counted as ``end`` (so its
    real time is longer), and whether it never did."""
    raw = [[steps_to(run, threshold) for run in res.runs(kind)] for res in results]
    return (np.array([[end if v is None else v for v in row] for row in raw], dtype=float),
            np.array([[v is None for v in row] for row in raw]))


LAYER_WORDS = {"embed": "token embedding", "position": "position embedding", "query": "query",
               "key": "key", "value": "value", "out": "attention output", "fc1": "MLP in",
               "fc2": "MLP out", "output": "output (unembedding)"}


def layer_words(names: Sequence[str]) -> list[str]:
    """Words for the transformer's prunable layers: ``blocks.0.query.weight`` -> "block 1
    query", ``embed.weight`` -> "token embedding"."""
    words = []
    for name in names:
        parts = name.split(".")
        base = LAYER_WORDS.get(parts[-2], parts[-2])
        words.append(f"block {int(parts[1]) + 1} {base}" if parts[0] == "blocks" else base)
    return words


def carry_over_markdown(rows: Sequence[tuple[str, str, str]]) -> str:
    """The "what carries over" table: (earlier notebook's finding, what this run shows,
    reading)."""
    lines = ["| finding of notebooks 02-06 | in this transformer | reading |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def per_seed(values: Mapping[tuple[OneShot, int], Any], how: OneShot, seeds: Sequence[int], read) -> np.ndarray:
    """``read(values[(how, seed)])`` for each seed, as an array."""
    return np.array([read(values[(how, int(s))]) for s in seeds], dtype=float)
