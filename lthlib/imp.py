"""Iterative magnitude pruning (IMP) with rewinding, and the controls that test it.

One IMP run (Frankle & Carbin 2019; Frankle et al. 2020):

1. train the dense network, keeping its weights at iteration 0 and at the rewind
   iteration k;
2. prune a fraction of the surviving weights with the smallest trained magnitude;
3. reset the survivors to their values at iteration k (k = 0: the original lottery
   ticket; k > 0: rewinding) and train from iteration k to the end with the mask;
4. repeat 2-3 for ``rounds`` rounds, each time pruning the last round's trained weights.

At every round the same mask is also tested against controls, each trained exactly like
the ticket (from iteration k, same schedule):
- ``"reinit"``: the ticket's mask on freshly initialised weights (another seed);
- ``"random_mask"``: a random mask with the ticket's per-layer densities on the
  ticket's own starting weights;
- ``"one_shot"``: magnitude pruning of the dense trained network straight to the round's
  per-layer densities, then rewound and trained.

Every round is stored as soon as it is finished (atomically), under a hash of the
settings; a run that is interrupted resumes at the first unfinished round, and within a
round the ticket's training resumes from its checkpoint.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import torch

from lthlib.config import SettingsError, TrainSettings, for_scale
from lthlib.data import Dataset
from lthlib.masks import Mask
from lthlib.models import build_model
from lthlib.parallel import default_workers, parallel_map
from lthlib.pruning import SCOPES, layerwise_rates, magnitude_prune, random_mask_like
from lthlib.store import Store, StoreError, atomic_save, load
from lthlib.training import Run, data_for, model_for, train

CONTROLS = ("reinit", "random_mask", "one_shot")
REINIT_SEED_OFFSET = 1_000_003  # the reinit control's weights come from seed + this
RANDOM_MASK_SEED_OFFSET = 2_000_003


@dataclass(frozen=True)
class IMPSettings:
    """What one IMP run does. ``rate`` is the fraction of surviving weights removed per
    round (hidden layers, or all layers under ``scope="global"``); ``output_rate`` /
    ``conv_rate`` override it for the output / conv layers (layerwise only; None = same).
    ``rewind_iteration`` is k. ``exclude``: layers never pruned."""

    train: TrainSettings
    rounds: int = 5
    rewind_iteration: int = 0
    rate: float = 0.2
    output_rate: float | None = 0.1
    conv_rate: float | None = None
    scope: str = "layerwise"
    exclude: tuple[str, ...] = ()
    controls: tuple[str, ...] = ("reinit", "random_mask")

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude", tuple(self.exclude))
        object.__setattr__(self, "controls", tuple(self.controls))
        if not isinstance(self.train, TrainSettings):
            raise SettingsError("train must be a TrainSettings (e.g. lthlib.for_scale('quick'))")
        if not isinstance(self.rounds, int) or isinstance(self.rounds, bool) or self.rounds < 1:
            raise SettingsError(f"rounds={self.rounds!r}: must be an integer >= 1")
        if not isinstance(self.rewind_iteration, int) or not 0 <= self.rewind_iteration < self.train.iterations:
            raise SettingsError(f"rewind_iteration={self.rewind_iteration!r}: must be an integer in "
                                f"[0, iterations={self.train.iterations})")
        if self.scope not in SCOPES:
            raise SettingsError(f"scope={self.scope!r}: choose one of {list(SCOPES)}")
        unknown = sorted(set(self.controls) - set(CONTROLS))
        if unknown:
            raise SettingsError(f"controls {unknown} unknown; choose from {list(CONTROLS)}")
        for name in ("rate", "output_rate", "conv_rate"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and 0 <= value < 1):
                raise SettingsError(f"{name}={value!r}: a pruning rate is the fraction of surviving "
                                    "weights removed per round, in [0, 1) (0.2 removes 20%)")

    def replace(self, **changes: Any) -> "IMPSettings":
        return dataclasses.replace(self, **changes)

    def with_seed(self, seed: int) -> "IMPSettings":
        return self.replace(train=self.train.replace(seed=int(seed)))

    def to_dict(self) -> dict[str, Any]:
        return {"train": self.train.to_dict(), "rounds": self.rounds,
                "rewind_iteration": self.rewind_iteration, "rate": self.rate,
                "output_rate": self.output_rate, "conv_rate": self.conv_rate, "scope": self.scope,
                "exclude": list(self.exclude), "controls": list(self.controls)}

    def store_key(self) -> dict[str, Any]:
        """What names a stored run. ``rounds`` and ``controls`` are left out: asking for more
        rounds or another control later extends the stored run instead of starting again
        (and another notebook asking for the same tickets reuses them)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("rounds", "controls")}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.store_key(), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class IMPRound:
    """One pruning round: its mask, the ticket's run and the controls' runs."""

    index: int
    mask: Mask
    ticket: Run
    controls: dict[str, Run] = field(default_factory=dict)

    @property
    def density(self) -> float:
        return self.mask.density()


@dataclass
class IMPResult:
    """A dense run (round 0) and the pruning rounds that followed."""

    settings: IMPSettings
    dense: Run
    rounds: list[IMPRound]

    @property
    def init_state(self) -> dict[str, torch.Tensor]:
        return self.dense.weights_at[0]

    @property
    def rewind_state(self) -> dict[str, torch.Tensor]:
        return self.dense.weights_at[self.settings.rewind_iteration]

    def densities(self) -> list[float]:
        """Fraction of prunable weights remaining, round 0 (dense, 1.0) first."""
        return [1.0] + [r.density for r in self.rounds]

    def runs(self, kind: str = "ticket") -> list[Run]:
        """The runs of ``kind`` per round, round 0 being the dense run (shared by all kinds)."""
        return [self.dense] + [self.run(r, kind) for r in self.rounds]

    def metric(self, kind: str = "ticket", metric: str = "test_acc", at: str = "early_stop") -> list[float]:
        """``metric`` per round, read at the early-stopping iteration (``at="early_stop"``,
        the paper's convention) or at the end (``"final"``)."""
        if at not in ("early_stop", "final"):
            raise ValueError(f"at={at!r}: choose 'early_stop' or 'final'")
        return [run.at_early_stop(metric) if at == "early_stop" else run.final(metric)
                for run in self.runs(kind)]

    def early_stop_iterations(self, kind: str = "ticket") -> list[int]:
        return [run.early_stop_iteration for run in self.runs(kind)]

    @staticmethod
    def run(round_: IMPRound, kind: str) -> Run:
        if kind == "ticket":
            return round_.ticket
        if kind not in round_.controls:
            raise KeyError(f"no {kind!r} runs; this IMP run has {['ticket', *round_.controls]}")
        return round_.controls[kind]


def _rates(settings: IMPSettings, model: torch.nn.Module) -> float | dict[str, float]:
    if settings.scope == "global":
        return settings.rate
    return layerwise_rates(model, settings.rate, settings.output_rate, settings.conv_rate)


def _one_shot_mask(dense_final: dict[str, torch.Tensor], target: Mask, scope: str,
                   exclude: tuple[str, ...]) -> Mask:
    """Magnitude-prune the dense trained weights in one step to ``target``'s densities
    (per layer under layerwise pruning, overall under global pruning)."""
    full = Mask({n: torch.ones_like(t) for n, t in target.items()})
    if scope == "global":
        kept_layers = [n for n in target if n not in exclude]
        alive = sum(int(target[n].sum()) for n in kept_layers)
        total = sum(target[n].numel() for n in kept_layers)
        return magnitude_prune(dense_final, full, 1 - alive / total, scope="global", exclude=exclude,
                               allow_empty_layers=True)
    rates = {n: 1 - int(t.sum()) / t.numel() for n, t in target.items()}
    return magnitude_prune(dense_final, full, rates, allow_empty_layers=True)


class _RoundFiles:
    """Where an IMP run keeps its rounds: ``<store>/imp/<digest>/round_<r>.pt``."""

    def __init__(self, store: Store, settings: IMPSettings):
        self.settings = settings
        self.key = json.loads(json.dumps(settings.store_key()))
        self.folder = None if store.root is None else store.root / "imp" / settings.digest()

    def path(self, r: int, suffix: str = ".pt") -> Path | None:
        return None if self.folder is None else self.folder / f"round_{r}{suffix}"

    def read(self, r: int) -> dict[str, Any] | None:
        path = self.path(r)
        if path is None or not path.exists():
            return None
        stored = load(path)
        if not isinstance(stored, dict) or stored.get("key") != self.key or stored.get("round") != r:
            raise StoreError(f"{path} is not round {r} of these IMP settings (another version or "
                             "a copied file); delete the folder to recompute")
        return stored

    def write(self, r: int, payload: dict[str, Any]) -> None:
        path = self.path(r)
        if path is not None:
            atomic_save({"key": self.key, "round": r, **payload}, path)


def _without_final_weights(run: Run) -> Run:
    """A control's run as stored: curves, mask and starting weights, not its trained
    weights (nothing is pruned from them; this keeps the store small)."""
    return Run.from_dict({**run.to_dict(), "final_state": {}})


def run_imp(settings: IMPSettings, data: Dataset | None = None, *, store: Store | None = None,
            progress: bool | None = None) -> IMPResult:
    """Run (or load, or resume) IMP as ``settings`` say; see the module docstring."""
    store = store if store is not None else Store(None)
    files = _RoundFiles(store, settings)
    ts, k = settings.train, settings.rewind_iteration
    data_cache: list[Dataset] = [data] if data is not None else []

    def get_data() -> Dataset:
        if not data_cache:
            data_cache.append(data_for(ts))
        return data_cache[0]

    def fresh_model(seed: int) -> torch.nn.Module:
        d = get_data()
        return build_model(ts.model, d.input_shape, d.num_classes, seed=seed, **ts.model_kwargs).to(
            d.x_train.device)

    stored0 = files.read(0)
    if stored0 is None:
        model = model_for(ts, get_data())
        dense = train(model, get_data(), ts, save_weights_at=sorted({0, k}), progress=progress,
                      checkpoint=files.path(0, ".ckpt"))
        files.write(0, {"dense": dense.to_dict()})
    else:
        dense = Run.from_dict(stored0["dense"])
    rewind_state = dense.weights_at[k]
    template = fresh_model(ts.seed)
    rates = _rates(settings, template)

    def train_masked(start_state: dict[str, torch.Tensor], mask: Mask, name: str, r: int) -> Run:
        model = fresh_model(ts.seed)
        model.load_state_dict(start_state)
        ckpt = files.path(r, f"_{name}.ckpt")
        return train(model, get_data(), ts, mask=mask, start_iteration=k, progress=progress,
                     checkpoint=ckpt, save_weights_at=[k])

    mask = Mask.ones_like(template)
    previous_final = dense.final_state
    rounds: list[IMPRound] = []
    for r in range(1, settings.rounds + 1):
        mask = magnitude_prune(previous_final, mask, rates, scope=settings.scope,
                               exclude=settings.exclude)
        stored = files.read(r) or {}
        if stored and Mask(stored["mask"]) != mask:
            raise StoreError(f"{files.path(r)} holds a mask that does not follow from the "
                             "previous round; the store is inconsistent: delete the folder")
        # A round is written after each of its runs, so an interruption loses at most the
        # run in progress (and that one resumes from its checkpoint).
        done = {"ticket": stored.get("ticket"), **stored.get("controls", {})}
        for name in ("ticket", *settings.controls):
            if done.get(name) is not None:
                continue
            if name == "ticket":
                run = train_masked(rewind_state, mask, name, r)
            elif name == "reinit":
                run = train_masked(fresh_model(ts.seed + REINIT_SEED_OFFSET).state_dict(), mask, name, r)
            elif name == "random_mask":
                run = train_masked(rewind_state, random_mask_like(mask, ts.seed + RANDOM_MASK_SEED_OFFSET + r),
                                   name, r)
            else:
                run = train_masked(rewind_state,
                                   _one_shot_mask(dense.final_state, mask, settings.scope, settings.exclude),
                                   name, r)
            done[name] = (run if name == "ticket" else _without_final_weights(run)).to_dict()
            files.write(r, {"mask": mask.state_dict(), "ticket": done["ticket"],
                            "controls": {n: d for n, d in done.items() if n != "ticket" and d is not None}})
        ticket = Run.from_dict(done["ticket"])
        controls = {name: Run.from_dict(done[name]) for name in settings.controls}
        rounds.append(IMPRound(r, mask, ticket, controls))
        previous_final = ticket.final_state
    return IMPResult(settings, dense, rounds)


def _run_imp_job(job: tuple) -> IMPResult:
    """One IMP run in a worker process (module level, so that it can be pickled)."""
    settings, data, store_root = job
    return run_imp(settings, data, store=Store(store_root), progress=False)


def run_imp_many(jobs: list[IMPSettings], data: Dataset, *, store: Store | None = None,
                 progress: bool | None = None, workers: int | None = None) -> list[IMPResult]:
    """``run_imp`` for each settings in ``jobs`` (independent runs), in order, in parallel
    processes where there are cores to spare (``lthlib.parallel``)."""
    store = store if store is not None else Store(None)
    on_cpu = data.x_train.device.type == "cpu"
    if (workers or default_workers(len(jobs), on_cpu)) == 1:
        return [run_imp(job, data, store=store, progress=progress) for job in jobs]
    return parallel_map(_run_imp_job, [(job, data, store.root) for job in jobs], workers, on_cpu)


def run_imp_seeds(settings: IMPSettings, seeds: Iterable[int], data: Dataset | None = None, *,
                  store: Store | None = None, progress: bool | None = None,
                  workers: int | None = None) -> list[IMPResult]:
    """``run_imp`` once per seed (the seed sets the initial weights and the data order),
    in parallel processes where there are cores to spare (see ``run_imp_many``)."""
    data = data if data is not None else data_for(settings.train)
    return run_imp_many([settings.with_seed(int(s)) for s in seeds], data, store=store,
                        progress=progress, workers=workers)


# Pruning schedules per scale. Paper: Frankle & Carbin 2019 (layerwise: 20% of hidden /
# fully connected weights per round, 10% of the output layer, conv layers 10% for
# Conv-2/4 and 15% for Conv-6) and Frankle et al. 2020 (ResNet-20, VGG-16: 20% global).
# Quick/smoke prune faster (fewer rounds to the same sparsity) to fit a laptop CPU.
_PAPER_PRUNING = {
    "lenet300_100": dict(rounds=20, rate=0.2, output_rate=0.1),
    "mlp_mnist1d": dict(rounds=20, rate=0.2, output_rate=0.1),
    "conv2": dict(rounds=20, rate=0.2, output_rate=0.1, conv_rate=0.1),
    "conv4": dict(rounds=20, rate=0.2, output_rate=0.1, conv_rate=0.1),
    "conv6": dict(rounds=20, rate=0.2, output_rate=0.1, conv_rate=0.15),
    "resnet20": dict(rounds=20, rate=0.2, output_rate=None, scope="global"),
    "vgg16": dict(rounds=20, rate=0.2, output_rate=None, scope="global"),
}
_FAST_PRUNING = {"smoke": dict(rounds=2, rate=0.5, output_rate=0.25),
                 "quick": dict(rounds=7, rate=0.4, output_rate=0.2)}


def imp_for_scale(scale: str, train: TrainSettings, **overrides: Any) -> IMPSettings:
    """IMP settings for ``train`` at a scale: the paper's per-model pruning rates at
    ``"paper"``, a faster schedule (40% per round, output 20%, 7 rounds: about 3% of the
    weights left) at ``"quick"``, two rounds at ``"smoke"``. ``overrides`` win."""
    if scale not in ("smoke", "quick", "paper"):
        raise SettingsError(f"scale={scale!r}: choose 'smoke', 'quick' or 'paper'")
    values = dict(_PAPER_PRUNING.get(train.model, _PAPER_PRUNING["lenet300_100"]))
    if scale != "paper":
        values.update(_FAST_PRUNING[scale])
    values.update(overrides)
    return IMPSettings(train=train, **values)


def run_rewind_sweep(settings: IMPSettings, rewind_iterations: Iterable[int], seeds: Iterable[int],
                     data: Dataset | None = None, *, store: Store | None = None,
                     progress: bool | None = None, workers: int | None = None) -> dict[int, list[IMPResult]]:
    """IMP once per rewind iteration k and seed: ``{k: [result per seed]}``. Each (k, seed)
    is its own stored run, so a sweep that is interrupted resumes where it stopped."""
    data = data if data is not None else data_for(settings.train)
    ks, seeds = [int(k) for k in rewind_iterations], [int(s) for s in seeds]
    jobs = [settings.replace(rewind_iteration=k).with_seed(s) for k in ks for s in seeds]
    results = run_imp_many(jobs, data, store=store, progress=progress, workers=workers)
    return {k: results[i * len(seeds):(i + 1) * len(seeds)] for i, k in enumerate(ks)}


def rewinding_for_scale(scale: str, model: str | None = None, dataset: str | None = None,
                        **overrides: Any) -> tuple[IMPSettings, tuple[int, ...]]:
    """The rewinding experiment of notebook 03: IMP settings and the rewind iterations k.

    - ``"paper"``: ResNet-20 on CIFAR-10 (or ``model="vgg16"``), SGD lr 0.1 as published,
      20% global pruning for 10 rounds (about 11% of the weights left), k in
      {0, 100, 500, 2000} (Frankle et al. 2020).
    - ``"quick"``: the MNIST-1D MLP trained with SGD at a *large* learning rate (0.1,
      momentum 0.9): the offline setting in which we measured that resetting to iteration 0
      finds no better subnetwork than random reinitialisation, while rewinding to
      iteration 100 does (see notebook 03). Pruned 50% per round (output 25%), 3 rounds.
    - ``"smoke"``: the same shape, a few iterations.
    """
    if scale == "paper":
        train = for_scale("paper", model=model or "resnet20", dataset=dataset)
        values: dict[str, Any] = dict(rounds=10, rate=0.2, output_rate=None, scope="global")
        ks: tuple[int, ...] = (0, 100, 500, 2000)
    else:
        train = for_scale(scale, model=model, dataset=dataset, optimizer="sgd", lr=0.1, momentum=0.9)
        values = dict(rounds=3 if scale == "quick" else 1, rate=0.5, output_rate=0.25)
        ks = (0, 100, 500) if scale == "quick" else (0, 20)
    values["controls"] = ("reinit", "random_mask")
    values.update(overrides)
    return IMPSettings(train=train, **values), ks
