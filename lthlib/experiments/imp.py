"""Iterative magnitude pruning (IMP) with rewinding, and the controls that test it.

One IMP run (Frankle & Carbin 2019; Frankle et al. 2020):

1. train the dense network, keeping its weights at iteration 0 and at the rewind
   iteration k;
2. prune a fraction of the surviving weights with the smallest trained magnitude;
3. reset the survivors to their values at iteration k (k = 0: the original lottery
   ticket; k > 0: rewinding) and train from iteration k to the end with the mask;
4. repeat 2-3 for ``rounds`` rounds, each time pruning the last round's trained weights.

At every round the same mask is also tested against controls (the ``CONTROLS``
registry: name -> how it gets its start weights, mask and start iteration, and its label):
- ``"reinit"``: the ticket's mask on fresh weights (the ``reinit`` random stream),
  trained like the ticket from iteration k to T;
- ``"reinit_full"``: the same, but trained from iteration 0 for all T iterations: the
  ticket's budget is k dense + (T - k) sparse iterations, so training the reinit control
  only T - k iterations gives it less. open_lth's random-reinitialisation branch trains
  from k, or from 0 with ``start_at_step_zero``; both conventions are offered;
- ``"random_mask"``: a random mask (the ``random_mask`` stream) with the ticket's
  per-layer densities on the ticket's own starting weights;
- ``"one_shot"``: magnitude pruning of the dense trained network straight to the round's
  per-layer densities, then rewound and trained.
To add a control, add a ``Control`` to ``CONTROLS``.

The dense run (round 0) is stored under its training settings alone (``dense_run``), so
every rewind iteration k and every notebook that trains the same network share it. Every
round is stored as soon as each of its runs finishes (atomically); a run that is
interrupted resumes at the first unfinished run, which resumes from its checkpoint.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lthlib.core.store import Store, StoreError, digest, digest_tensors
from lthlib.data.datasets import Dataset
from lthlib.engine.parallel import default_workers, parallel_map, run_jobs
from lthlib.engine.passes import ALONE, identities, plan_passes, stored_members, train_passes
from lthlib.engine.stacked import SHARED_SETTINGS, can_batch
from lthlib.engine.training import DenseJob, Run, data_for, dense_run, lr_at, model_for, train
from lthlib.masks import Mask
from lthlib.methods.pruning import (SCOPES, PruningError, check_rate, layerwise_rates, magnitude_prune,
                                   magnitude_prune_like, random_mask_like)
from lthlib.models.networks import prunable_parameters
from lthlib.settings import SettingsError, TrainSettings


# Pruning schedules per scale. Paper: Frankle & Carbin 2019 (layerwise: 20% of hidden /
# fully connected weights per round, 10% of the output layer, conv layers 10% for
# Conv-2/4 and 15% for Conv-6) and Frankle et al. 2020 (ResNet-20, VGG-16: 20% global).
# Quick/smoke prune faster (fewer rounds to the same sparsity) to fit a laptop CPU.
PRUNING_PRESETS = {
    "lenet300_100": dict(rounds=20, rate=0.2, output_rate=0.1),
    "mlp_mnist1d": dict(rounds=20, rate=0.2, output_rate=0.1),
    "conv2": dict(rounds=20, rate=0.2, output_rate=0.1, conv_rate=0.1),
    "conv4": dict(rounds=20, rate=0.2, output_rate=0.1, conv_rate=0.1),
    "conv6": dict(rounds=20, rate=0.2, output_rate=0.1, conv_rate=0.15),
    "resnet20": dict(rounds=20, rate=0.2, output_rate=None, scope="global"),
    "vgg16": dict(rounds=20, rate=0.2, output_rate=None, scope="global", exclude=("fc.weight",)),  # open_lth
    "wrn22_2": dict(rounds=20, rate=0.2, output_rate=None, scope="global"),
    # Chen et al. 2020 (BERT tickets; their LT_glue.py) prune 10% of the original weights per
    # round, globally over the blocks' Linear layers; lthlib's IMP removes a fixed fraction
    # of the survivors, so here every weight matrix (embeddings too) loses 20% per round
    "transformer": dict(rounds=10, rate=0.2, output_rate=None),
}
FAST_PRUNING = {"smoke": dict(rounds=2, rate=0.5, output_rate=0.25),
                 "quick": dict(rounds=6, rate=0.4, output_rate=0.2)}


StateDict = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class IMPSettings:
    """What one IMP run does. ``rate`` is the fraction of surviving weights removed per
    round (hidden layers, or all layers under ``scope="global"``); ``output_rate`` /
    ``conv_rate`` override it for the output / conv layers (layerwise only; None = same).
    ``rewind_iteration`` is k. ``exclude``: layers never pruned. ``round_curves``: whether
    the rounds' runs (ticket and controls) record training and test curves (``eval_train``,
    ``test_curve``); None: as ``train`` says, like the dense run. False evaluates only the
    validation split during training (and the test set at early stopping): for a study that
    reads the dense run's training curve but no round's, it trains the same networks with
    a fraction of the evaluations."""

    train: TrainSettings
    rounds: int = 5
    rewind_iteration: int = 0
    rate: float = 0.2
    output_rate: float | None = 0.1
    conv_rate: float | None = None
    scope: str = "layerwise"
    exclude: tuple[str, ...] = ()
    controls: tuple[str, ...] = ("reinit", "random_mask")
    control_rounds: tuple[int, ...] | None = None  # rounds that train the controls (None: all)
    retrain: str = "weight_rewinding"  # how the ticket is retrained after pruning (RETRAINING)
    round_curves: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude", tuple(self.exclude))
        object.__setattr__(self, "controls", tuple(self.controls))
        if self.control_rounds is not None:
            object.__setattr__(self, "control_rounds", tuple(int(r) for r in self.control_rounds))
        if not isinstance(self.train, TrainSettings):
            raise SettingsError("train must be a TrainSettings (e.g. lthlib.for_scale('quick'))")
        if not isinstance(self.rounds, int) or isinstance(self.rounds, bool) or self.rounds < 1:
            raise SettingsError(f"rounds={self.rounds!r}: must be an integer >= 1")
        if not isinstance(self.rewind_iteration, int) or isinstance(self.rewind_iteration, bool) \
                or not 0 <= self.rewind_iteration < self.train.iterations:
            raise SettingsError(f"rewind_iteration={self.rewind_iteration!r}: must be an integer in "
                                f"[0, iterations={self.train.iterations})")
        if self.scope not in SCOPES:
            raise SettingsError(f"scope={self.scope!r}: choose one of {list(SCOPES)}")
        if self.scope == "global":
            for name in ("output_rate", "conv_rate"):
                if getattr(self, name) is not None:
                    raise SettingsError(f"{name}={getattr(self, name)!r} with scope='global': global "
                                        f"pruning ranks all layers together and would ignore it; "
                                        f"set {name}=None or scope='layerwise'")
        if self.control_rounds is not None and any(not 1 <= r <= self.rounds for r in self.control_rounds):
            raise SettingsError(f"control_rounds={self.control_rounds!r}: each must be a round in "
                                f"[1, rounds={self.rounds}] (None: every round)")
        if self.retrain not in RETRAINING:
            raise SettingsError(f"retrain={self.retrain!r}: choose one of {list(RETRAINING)} "
                                "(Renda et al. 2020's three ways to retrain after pruning)")
        if self.round_curves is not None and not isinstance(self.round_curves, bool):
            raise SettingsError(f"round_curves={self.round_curves!r}: must be None (as train says), True or False")
        unknown = sorted(set(self.controls) - set(CONTROLS))
        if unknown:
            raise SettingsError(f"controls {unknown} unknown; choose from {list(CONTROLS)}")
        for name in ("rate", "output_rate", "conv_rate"):
            if getattr(self, name) is not None:
                try:
                    check_rate(name, getattr(self, name))
                except PruningError as err:
                    raise SettingsError(str(err)) from None

    def replace(self, **changes: Any) -> "IMPSettings":
        return dataclasses.replace(self, **changes)

    def check_layers(self, model: torch.nn.Module) -> None:
        """Raise SettingsError when ``exclude`` names a layer ``model`` does not have: checked
        before any training, not after the dense run."""
        names = sorted(prunable_parameters(model))
        unknown = [n for n in self.exclude if n not in names]
        if unknown:
            raise SettingsError(f"exclude={list(self.exclude)}: {unknown} not among the model's "
                                f"prunable weights {names}")

    def with_seed(self, seed: int) -> "IMPSettings":
        return self.replace(train=self.train.replace(seed=int(seed)))

    def to_dict(self) -> dict[str, Any]:
        return {"train": self.train.to_dict(), "rounds": self.rounds,
                "rewind_iteration": self.rewind_iteration, "rate": self.rate,
                "output_rate": self.output_rate, "conv_rate": self.conv_rate, "scope": self.scope,
                "exclude": list(self.exclude), "controls": list(self.controls),
                "control_rounds": None if self.control_rounds is None else list(self.control_rounds),
                **({} if self.retrain == "weight_rewinding" else {"retrain": self.retrain}),
                **({} if self.round_curves is None else {"round_curves": self.round_curves})}

    def store_key(self) -> dict[str, Any]:
        """What names a stored run. ``rounds`` and which controls are trained are left out:
        asking for more rounds or another control later extends the stored run instead of
        starting again (and another notebook asking for the same tickets reuses them)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("rounds", "controls", "control_rounds")}

    def controls_at(self, r: int) -> tuple[str, ...]:
        """The controls trained in round ``r``."""
        return self.controls if self.control_rounds is None or r in self.control_rounds else ()

    def digest(self) -> str:
        return digest(self.store_key())


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

    def densities(self) -> list[float]:
        """Fraction of prunable weights remaining, round 0 (dense, 1.0) first."""
        return [1.0] + [r.density for r in self.rounds]

    def runs(self, kind: str = "ticket") -> list[Run | None]:
        """The runs of ``kind`` per round, round 0 being the dense run (shared by all kinds);
        None in a round where that control was not trained (``IMPSettings.control_rounds``)."""
        if kind != "ticket" and not any(kind in r.controls for r in self.rounds):
            raise KeyError(f"no {kind!r} runs; this IMP run has "
                           f"{['ticket', *sorted({c for r in self.rounds for c in r.controls})]}")
        return [self.dense] + [self.run(r, kind) if kind == "ticket" or kind in r.controls else None
                               for r in self.rounds]

    def metric(self, kind: str = "ticket", metric: str = "test_acc", at: str = "reported") -> list[float]:
        """``metric`` per round, read where the settings' paper reads it (``at="reported"``:
        ``Run.reported``), at the early-stopping iteration (``"early_stop"``) or at the end
        (``"final"``); NaN where ``kind`` was not trained."""
        readers = {"reported": Run.reported, "early_stop": Run.at_early_stop, "final": Run.final}
        if at not in readers:
            raise ValueError(f"at={at!r}: choose one of {list(readers)}")
        return [math.nan if run is None else readers[at](run, metric) for run in self.runs(kind)]

    def early_stop_iterations(self, kind: str = "ticket") -> list[int | None]:
        return [None if run is None else run.early_stop_iteration for run in self.runs(kind)]

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


# ------------------------------------------------------------------------------ controls
@dataclass(frozen=True)
class RoundContext:
    """What a control may start from in round ``round`` of one IMP run."""

    settings: IMPSettings
    round: int
    mask: Mask  # the ticket's mask this round
    rewind_state: StateDict  # the dense run's weights at iteration k
    dense: Run
    reinit_state: Callable[[], StateDict]  # fresh weights from the "reinit" stream
    previous_final: StateDict | None = None  # the weights this round was pruned from


@dataclass(frozen=True)
class Control:
    """A control of the ticket: how it gets its start (weights, mask, start iteration)
    from the round, and how figures label it."""

    name: str
    label: str
    start: Callable[[RoundContext], tuple[StateDict, Mask, int]]
    color: str = "C7"


# How the ticket is retrained after each pruning step (Renda, Frankle & Carbin 2020,
# "Comparing rewinding and fine-tuning in neural network pruning", ICLR 2020):
# - weight_rewinding: the surviving weights go back to their values at iteration k and
#   train from k to T on the original schedule (Frankle et al. 2020; the default);
# - lr_rewinding: the surviving weights keep their final values and train from k to T on
#   the original schedule from iteration k (the learning rate is rewound, not the weights);
# - fine_tuning: the surviving weights keep their final values and train the same T - k
#   iterations at the schedule's final (smallest) learning rate.
RETRAINING = ("weight_rewinding", "lr_rewinding", "fine_tuning")
RETRAINING_LABELS = {"weight_rewinding": "weight rewinding", "lr_rewinding": "learning-rate rewinding",
                     "fine_tuning": "fine-tuning"}


def _ticket_start(c: RoundContext) -> tuple[StateDict, Mask, int]:
    if c.settings.retrain == "weight_rewinding" or c.previous_final is None:
        return c.rewind_state, c.mask, c.settings.rewind_iteration
    final = {n: (w * c.mask[n].to(w.dtype) if n in c.mask else w).clone() for n, w in c.previous_final.items()}
    return final, c.mask, c.settings.rewind_iteration


def run_settings(settings: IMPSettings, name: str) -> TrainSettings:
    """The training settings of one run of a round: the job's, except the fine-tuned
    ticket's, which trains at the schedule's final learning rate throughout, and what is
    evaluated where ``round_curves`` says."""
    ts = settings.train
    if settings.round_curves is not None:
        ts = ts.replace(eval_train=settings.round_curves, test_curve=settings.round_curves)
    if name != "ticket" or settings.retrain != "fine_tuning":
        return ts
    return ts.replace(lr=lr_at(ts, ts.iterations - 1), lr_milestones=(), warmup_iterations=0)


CONTROLS: dict[str, Control] = {c.name: c for c in (
    Control("reinit", "random reinit (same mask)", color="C3",
            start=lambda c: (c.reinit_state(), c.mask, c.settings.rewind_iteration)),
    Control("reinit_full", "random reinit, trained all T iterations", color="C4",
            start=lambda c: (c.reinit_state(), c.mask, 0)),
    Control("random_mask", "random pruning (same densities)", color="C2",
            start=lambda c: (c.rewind_state, random_mask_like(c.mask, c.settings.train.seed, c.round),
                             c.settings.rewind_iteration)),
    Control("one_shot", "one-shot pruning", color="C1",
            start=lambda c: (c.rewind_state, magnitude_prune_like(c.dense.final_state, c.mask, c.settings.scope,
                                                                  c.settings.exclude), c.settings.rewind_iteration)),
)}
TICKET_LABEL = "IMP ticket"


def kind_label(kind: str) -> str:
    """The words figures and tables use for ``"ticket"`` or a control's name."""
    if kind == "ticket":
        return TICKET_LABEL
    return CONTROLS[kind].label if kind in CONTROLS else kind


def kind_color(kind: str) -> str:
    return "C0" if kind == "ticket" else (CONTROLS[kind].color if kind in CONTROLS else "C7")


# ------------------------------------------------------------------------------ the run
def _without_final_weights(run: Run) -> Run:
    """A control's run as stored: curves, mask and starting weights, not its trained
    weights (nothing is pruned from them; this keeps the store small)."""
    return Run.from_dict({**run.to_dict(), "final_state": {}})


@dataclass
class _RoundWork:
    """One IMP run's round as planned: what is stored already and what is left to train
    (``todo``: name -> (start weights, mask, start iteration); ``twins``: runs that start
    exactly like another and take its result)."""

    settings: IMPSettings
    r: int
    mask: Mask
    key: dict[str, Any]
    done: dict[str, Any]
    todo: dict[str, tuple[StateDict, Mask, int]]
    twins: dict[str, str]


def _round_starts(settings: IMPSettings, r: int, mask: Mask, dense: Run, data: Dataset,
                  previous_final: StateDict | None = None
                  ) -> tuple[dict[str, tuple[StateDict, Mask, int]], dict[str, str]]:
    """Round ``r``'s runs: name -> (start weights, mask, start iteration) of the ticket and
    each control to train, and the twins (runs that start exactly like another and take
    its result, e.g. at k = 0 both reinit controls start at iteration 0).
    ``previous_final``: the weights round ``r`` was pruned from (learning-rate rewinding
    and fine-tuning retrain from them)."""
    ts, k = settings.train, settings.rewind_iteration
    context = RoundContext(settings, r, mask, dense.weights_at[k], dense,
                           lambda: model_for(ts, data, stream="reinit").state_dict(),
                           dense.final_state if previous_final is None else previous_final)
    same_start: dict[tuple[str, str, int], str] = {}
    starts: dict[str, tuple[StateDict, Mask, int]] = {}
    twins: dict[str, str] = {}
    for name in ("ticket", *settings.controls_at(r)):
        start_state, start_mask, start = (_ticket_start if name == "ticket" else CONTROLS[name].start)(context)
        twin = same_start.setdefault((digest_tensors(dict(start_state)), start_mask.digest(), start,
                                      run_settings(settings, name).digest()), name)
        if twin != name:
            twins[name] = twin
        else:
            starts[name] = (start_state, start_mask, start)
    return starts, twins


def _round_key(settings: IMPSettings, r: int, computed_in: dict[str, str]) -> dict[str, Any]:
    """Round ``r``'s store key: the IMP run's, the round, and how its runs were computed
    (``ALONE`` when each was trained on its own, so that rounds with other controls share
    the stored ticket; else each run's population pass)."""
    where: Any = ALONE if all(v == ALONE for v in computed_in.values()) else dict(computed_in)
    return {"imp": settings.store_key(), "round": r, "computed_in": where}


def _plan_round(settings: IMPSettings, r: int, mask: Mask, starts: dict[str, tuple[StateDict, Mask, int]],
                twins: dict[str, str], computed_in: dict[str, str], store: Store) -> _RoundWork:
    """Read round ``r`` from the store (checking it) and list the runs it still needs.
    The round's key names the computation of each run (``computed_in``: ``ALONE`` or the
    population pass that trains it), so a round is read back only as it would be computed."""
    key = _round_key(settings, r, computed_in)
    stored = store.get("imp_round", key) or {}
    if stored:
        _check_round_layout(stored, store.path("imp_round", key))
    if stored and Mask(stored["mask"]) != mask:
        raise StoreError(f"{store.path('imp_round', key)} holds a mask that does not follow from "
                         "the previous round; the store is inconsistent: delete the imp_round folder")
    done: dict[str, Any] = {"ticket": stored.get("ticket"), **stored.get("controls", {})}
    todo = {name: start for name, start in starts.items() if done.get(name) is None}
    return _RoundWork(settings, r, mask, key, done, todo, dict(twins))


def _record(work: _RoundWork, name: str, run: Run, store: Store) -> None:
    """Keep a trained run of the round (controls without their trained weights) and store
    the round as it stands (atomically)."""
    work.done[name] = (run if name == "ticket" else _without_final_weights(run)).to_dict()
    for twin_name, twin in work.twins.items():
        if twin == name and work.done.get(twin_name) is None:
            work.done[twin_name] = _without_final_weights(run).to_dict()
    store.put("imp_round", work.key, {"mask": work.mask.state_dict(), "ticket": work.done["ticket"],
                                      "controls": {n: d for n, d in work.done.items()
                                                   if n != "ticket" and d is not None}})


def _finish_round(work: _RoundWork) -> IMPRound:
    for twin_name, twin in work.twins.items():  # a twin stored earlier than this call
        if work.done.get(twin_name) is None:
            work.done[twin_name] = work.done[twin]
    return IMPRound(work.r, work.mask, Run.from_dict(work.done["ticket"]),
                    {name: Run.from_dict(work.done[name]) for name in work.settings.controls_at(work.r)})


def imp_round(settings: IMPSettings, r: int, mask: Mask, dense: Run, data: Dataset, store: Store,
              progress: bool | None = None, previous_final: StateDict | None = None) -> IMPRound:
    """Round ``r`` of IMP with ``mask``: the ticket (survivors rewound to iteration k) and
    every control in ``settings.controls``, each stored as soon as it is trained (an
    interruption loses at most the run in progress, which resumes from its checkpoint)."""
    ts = settings.train
    starts, twins = _round_starts(settings, r, mask, dense, data, previous_final)
    computed_in = {name: ALONE for name in starts}
    key = _round_key(settings, r, computed_in)
    with store.lock("imp_round", key):  # one process trains a round; others wait, then read it
        work = _plan_round(settings, r, mask, starts, twins, computed_in, store)
        for name, (start_state, start_mask, start) in work.todo.items():
            model = model_for(ts, data)
            model.load_state_dict(start_state)
            run = train(model, data, run_settings(settings, name), mask=start_mask, start_iteration=start,
                        progress=progress, checkpoint=store.checkpoint("imp_round", key, name=name),
                        save_weights_at=[start])
            _record(work, name, run, store)
        return _finish_round(work)


def _check_round_layout(stored: Any, path: Any) -> None:
    """Raise StoreError naming ``path`` unless it holds a round as ``imp_round`` writes it."""
    try:
        Mask(stored["mask"])
        for d in [stored["ticket"], *stored.get("controls", {}).values()]:
            if d is not None:
                Run.from_dict(d)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreError(f"{path} is not an IMP round as this lthlib version writes it "
                         f"({type(exc).__name__}: {exc}); delete it to recompute") from None


def run_imp(settings: IMPSettings, data: Dataset | None = None, *, store: Store | None = None,
            progress: bool | None = None, dense: Run | None = None) -> IMPResult:
    """Run (or load, or resume) IMP as ``settings`` say; see the module docstring.

    Round 0 is the dense run of ``settings.train`` (``dense_run``), shared with every
    other rewind iteration and notebook that trains the same network; pass ``dense`` when
    it is at hand (it must hold the weights at iteration k)."""
    store = store if store is not None else Store(None)
    data = data if data is not None else data_for(settings.train)
    k = settings.rewind_iteration
    settings.check_layers(model_for(settings.train, data))
    if dense is None:
        dense = dense_run(settings.train, data, store=store, save_weights_at=(0, k), progress=progress)
    if k not in dense.weights_at:
        raise ValueError(f"the dense run given has no weights at the rewind iteration {k} "
                         f"(it has {sorted(dense.weights_at)}); train it with save_weights_at")
    template = model_for(settings.train, data)
    rates = _rates(settings, template)
    mask = Mask.ones_like(template)
    previous_final = dense.final_state
    rounds: list[IMPRound] = []
    for r in range(1, settings.rounds + 1):
        mask = magnitude_prune(previous_final, mask, rates, scope=settings.scope, exclude=settings.exclude)
        rounds.append(imp_round(settings, r, mask, dense, data, store, progress, previous_final))
        previous_final = rounds[-1].ticket.final_state
    return IMPResult(settings, dense, rounds)


@dataclass(frozen=True)
class IMPJob:
    """One IMP run for a worker process: its settings, the data, the store folder and,
    optionally, its dense run."""

    settings: IMPSettings
    data: Dataset
    store_root: str | Path | None
    dense: Run | None = None


def _run_imp_job(job: IMPJob) -> IMPResult:
    return run_imp(job.settings, job.data, store=Store(job.store_root), progress=False, dense=job.dense)


def run_imp_many(jobs: list[IMPSettings], data: Dataset, *, store: Store | None = None,
                 progress: bool | None = None, workers: int | None = None,
                 batched: bool | None = None) -> list[IMPResult]:
    """``run_imp`` for each settings in ``jobs`` (independent runs), in order.

    Where the architecture allows (``lthlib.engine.stacked.can_batch``) and ``batched`` is not
    False, the runs go in lock-step: the dense runs of all jobs as one population, then
    round by round every job's ticket and controls as one population
    (``lthlib.engine.population``), split over ``workers`` processes on a CPU. Otherwise each job
    is its own run, in parallel processes where there are cores to spare. Either way the
    dense runs come first, one per distinct training settings (with the weights at every
    k asked for), so that jobs differing only in k share one."""
    store = store if store is not None else Store(None)
    on_cpu = data.x_train.device.type == "cpu"
    need: dict[str, tuple[TrainSettings, set[int]]] = {}
    for job in jobs:
        job.check_layers(model_for(job.train, data))
        need.setdefault(job.train.digest(), (job.train, {0}))[1].add(job.rewind_iteration)
    if batched is not False and _lockstep_possible(jobs, data):  # one job too: the same passes as in many
        return _run_imp_lockstep(jobs, need, data, store, progress, workers)
    serial = (workers or default_workers(len(jobs), on_cpu)) == 1
    by_digest = run_jobs({digest_: DenseJob(ts, data, store.root, tuple(sorted(ks)))
                          for digest_, (ts, ks) in need.items()}, 1 if serial else workers)
    imp_jobs = [IMPJob(job, data, store.root, by_digest[job.train.digest()]) for job in jobs]
    if serial:
        return [run_imp(j.settings, data, store=store, progress=progress, dense=j.dense) for j in imp_jobs]
    return parallel_map(_run_imp_job, imp_jobs, workers, on_cpu)


def _lockstep_possible(jobs: list[IMPSettings], data: Dataset) -> bool:
    first = jobs[0].train
    same = all(getattr(j.train, n) == getattr(first, n) for j in jobs for n in SHARED_SETTINGS)
    same = same and all((j.train.model, j.train.model_kwargs) == (first.model, first.model_kwargs) for j in jobs)
    return same and can_batch([model_for(first, data), model_for(first, data)])


def _run_imp_lockstep(jobs: list[IMPSettings], need: dict[str, tuple[TrainSettings, set[int]]],
                      data: Dataset, store: Store, progress: bool | None,
                      workers: int | None) -> list[IMPResult]:
    """Every job's IMP, round by round, each round's runs of all jobs in populations
    (``lthlib.engine.passes.plan_passes``), every result keyed by the pass that computes it."""
    # round 0: the dense runs, in populations
    dense_specs = list(need.items())
    members = [(model_for(ts, data).state_dict(), None, 0, sorted(ks), ts) for _, (ts, ks) in dense_specs]

    def keep_stored_weights(i: int, run: Run, stored: Run | None) -> Run:
        # a stored run (IMP rounds were pruned from its final weights) gains only the
        # weights at the new iterations; retrained in the same pass, it is the same run
        if stored is None:
            return run
        stored.weights_at.update({k: w for k, w in run.weights_at.items() if k not in stored.weights_at})
        return stored

    runs = stored_members(store, [("dense", ts, None) for _, (ts, _) in dense_specs], members, data,
                          progress=progress, workers=workers, units=_units(members),
                          usable=lambda i, run: set(members[i][3]) <= set(run.weights_at), keep=keep_stored_weights)
    dense = {digest_: run for (digest_, _), run in zip(dense_specs, runs)}

    templates = {d: model_for(ts, data) for d, (ts, _) in need.items()}
    masks = {i: Mask.ones_like(templates[j.train.digest()]) for i, j in enumerate(jobs)}
    previous = {i: dense[j.train.digest()].final_state for i, j in enumerate(jobs)}
    rounds: dict[int, list[IMPRound]] = {i: [] for i in range(len(jobs))}
    for r in range(1, max(j.rounds for j in jobs) + 1):
        active = [i for i, j in enumerate(jobs) if r <= j.rounds]
        planned = {}
        for i in active:
            j = jobs[i]
            masks[i] = magnitude_prune(previous[i], masks[i], _rates(j, templates[j.train.digest()]),
                                       scope=j.scope, exclude=j.exclude)
            planned[i] = _round_starts(j, r, masks[i], dense[j.train.digest()], data, previous[i])
        runs_of = [(i, name) for i in active for name in planned[i][0]]
        members = [(*planned[i][0][name], [planned[i][0][name][2]], run_settings(jobs[i], name))
                   for i, name in runs_of]
        passes = plan_passes(members, data, [(jobs[i].train.seed, jobs[i].rewind_iteration) for i, _ in runs_of])
        where = dict(zip(runs_of, identities(passes, len(members))))
        computed_in = {i: {name: where[(i, name)] for name in planned[i][0]} for i in active}
        keys = [_round_key(jobs[i], r, computed_in[i]) for i in active]
        with store.locks("imp_round", keys):
            work = {i: _plan_round(jobs[i], r, masks[i], *planned[i], computed_in[i], store) for i in active}
            todo = [p for p in passes if any(runs_of[m][1] in work[runs_of[m][0]].todo for m in p.members)]
            for m, run in sorted(train_passes(members, todo, data, progress, workers, store).items()):
                i, name = runs_of[m]
                if name in work[i].todo:
                    _record(work[i], name, run, store)
            for i in active:
                rounds[i].append(_finish_round(work[i]))
                previous[i] = rounds[i][-1].ticket.final_state
    return [IMPResult(j, dense[j.train.digest()], rounds[i]) for i, j in enumerate(jobs)]


def _units(members: list) -> list[tuple[int, None]]:
    """Dense runs' units for ``plan_passes``: their seed (shared by every rewind point)."""
    return [(m[4].seed, None) for m in members]


def run_imp_seeds(settings: IMPSettings, seeds: Iterable[int], data: Dataset | None = None, *,
                  store: Store | None = None, progress: bool | None = None,
                  workers: int | None = None, batched: bool | None = None) -> list[IMPResult]:
    """``run_imp`` once per seed (the seed sets the initial weights and the data order),
    in lock-step populations or parallel processes (see ``run_imp_many``)."""
    data = data if data is not None else data_for(settings.train)
    return run_imp_many([settings.with_seed(int(s)) for s in seeds], data, store=store,
                        progress=progress, workers=workers, batched=batched)


def imp_for_scale(scale: str, train_settings: TrainSettings, **overrides: Any) -> IMPSettings:
    """IMP settings for ``train_settings`` at a scale: the paper's per-model pruning rates at
    ``"paper"``, a faster schedule (40% per round, output 20%, 6 rounds: about 5% of the
    weights left) at ``"quick"``, two rounds at ``"smoke"``. ``overrides`` win."""
    if scale not in ("smoke", "quick", "paper"):
        raise SettingsError(f"scale={scale!r}: choose 'smoke', 'quick' or 'paper'")
    values = dict(PRUNING_PRESETS.get(train_settings.model, PRUNING_PRESETS["lenet300_100"]))
    if scale != "paper":
        values.update(FAST_PRUNING[scale])
    values.update(overrides)
    return IMPSettings(train=train_settings, **values)
