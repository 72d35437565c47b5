"""Notebook 04's experiment: masks without weight training, its values, jobs and runners.

The methods (criteria, ``Supermask``) are ``lthlib.methods.supermask``. Experiments are frozen
dataclass jobs (``CriterionJob``, ``SupermaskJob``, ``DenseJob``), each stored under its
settings and reused; the runners return their runs keyed by meaning:

- ``dense_by_seed`` -> ``{seed: Run}``;
- ``train_criterion_masks`` -> ``{(criterion, reset, seed): Run}``;
- ``learn_supermasks`` -> ``{(method, density, seed): Run}``;
- ``strong_ticket_study`` -> ``{("trained" | "edge_popup", hidden layers, width, seed): Run}``.

Notebook 04's values (``ZHOU_CRITERIA``, ``ZHOU_DENSITIES``, ...) live here once, read by
the notebook and by ``lthlib.apps.reproduce``; its reads of the runs are the results objects of
``lthlib.experiments.supermask_results``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from lthlib.core.store import Store
from lthlib.engine.parallel import run_jobs
from lthlib.engine.passes import identities, plan_passes, stored_members
from lthlib.experiments.imp import imp_for_scale
from lthlib.masks import Mask
from lthlib.models.networks import MODEL_KWARGS, build_model, count_parameters, prunable_parameters
from lthlib.methods.supermask import (BERNOULLI_OPTIONS, BERNOULLI_VARIANTS, CRITERIA, METHODS, RESETS, WEIGHT_INITS,
                              StateDict, Supermask, mask_by_criterion, masked_start_state, random_weights,
                              supermask_settings)
from lthlib.engine.training import DenseJob, evaluate, model_for, train

if TYPE_CHECKING:
    from lthlib.data.datasets import Dataset
    from lthlib.engine.training import Run
    from lthlib.experiments.imp import IMPResult, IMPSettings
    from lthlib.settings import TrainSettings

# ----------------------------------------------------------------------------- experiments
# One frozen dataclass per kind of job; each knows where its result is stored and how to
# compute it, so that ``lthlib.engine.parallel`` can run it in a worker process. The runners below
# build the jobs, load what the store holds, train the rest in parallel (longest first)
# and return the runs keyed by what they mean, never by position.

def _criterion_start(settings: "TrainSettings", data: "Dataset", init_state: StateDict,
                     final_state: StateDict, criterion: str, reset: str,
                     density: float) -> tuple[nn.Module, Mask]:
    """The masked network before any training after masking, and its mask."""
    model = model_for(settings, data)
    layers = list(prunable_parameters(model))
    mask = mask_by_criterion(criterion, init_state, final_state, layers, density, seed=settings.seed)
    reinit = model_for(settings, data, stream="reinit").state_dict() if reset == "reinit" else None
    model.load_state_dict(masked_start_state(reset, init_state, mask, reinit))
    return model, mask


def untrained_accuracy(settings: "TrainSettings", data: "Dataset", init_state: StateDict,
                       final_state: StateDict, criterion: str, reset: str, density: float) -> float:
    """Test accuracy of the *untrained* masked network (Zhou et al.'s supermask accuracy):
    mask by ``criterion`` at ``density`` (fraction kept per layer), start the kept weights
    as ``reset`` says, evaluate."""
    model, _ = _criterion_start(settings, data, init_state, final_state, criterion, reset, density)
    return evaluate(model, data.x_test, data.y_test)[1]


def _store(root: "str | Path | None"):
    return Store(root)


def _weights_of(settings: "TrainSettings", data: "Dataset") -> int:
    model = build_model(settings.model, data.input_shape, data.num_classes, **settings.model_kwargs)
    return count_parameters(model, prunable_only=True)


@dataclass(frozen=True)
class CriterionJob:
    """Train the network of ``train_settings`` masked by ``criterion`` at ``density`` (the
    mask scored from ``dense``, the dense run of the same settings: its weights at
    iteration 0 and its final weights), its kept weights started as ``reset`` says."""

    train_settings: "TrainSettings"
    data: "Dataset"
    dense: "Run"
    criterion: str
    reset: str
    density: float
    store_root: "str | Path | None" = None
    computed_in: str = "alone"  # trained alone, or in the population pass of this identity

    kind = "criterion_mask"

    def _key(self) -> tuple:
        return (self.kind, self.train_settings,
                {"criterion": self.criterion, "reset": self.reset, "density": self.density,
                 "computed_in": self.computed_in})

    def stored(self) -> "Run | None":
        kind, settings, extra = self._key()
        return _store(self.store_root).get(kind, settings, extra)

    def cost(self) -> float:
        return float(_weights_of(self.train_settings, self.data) * self.train_settings.iterations)

    def run(self) -> "Run":
        def compute() -> "Run":
            model, mask = _criterion_start(self.train_settings, self.data, self.dense.weights_at[0],
                                           self.dense.final_state, self.criterion, self.reset,
                                           self.density)
            run = train(model.to(self.data.x_train.device), self.data, self.train_settings,
                        mask=mask, progress=False)
            run.final_state = {}  # not needed again; keeps the store small
            return run

        kind, settings, extra = self._key()
        if self.computed_in != "alone":  # trained by _train_as_populations, which stored it
            stored = _store(self.store_root).get(kind, settings, extra)
            if stored is None:
                raise RuntimeError(f"criterion run {extra} of population {self.computed_in} is not stored")
            return stored
        return _store(self.store_root).get_or_compute(kind, settings, compute, extra=extra)


@dataclass(frozen=True)
class SupermaskJob:
    """Learn a supermask (``method``, ``density``) on the frozen ``weights`` of the network
    of ``train_settings`` (its seed and architecture; the optimiser is the method's, see
    ``supermask_settings``). The Run's ``mask`` is the final hard mask."""

    train_settings: "TrainSettings"
    data: "Dataset"
    method: str
    density: float
    weights: str = "signed_constant"
    store_root: "str | Path | None" = None
    variant: str = "lthlib"  # of a Bernoulli mask (BERNOULLI_VARIANTS)
    computed_in: str = "alone"  # learned alone, or in the population pass of this identity

    kind = "supermask"

    def _key(self) -> tuple:
        extra = {"method": self.method, "density": self.density, "weights": self.weights}
        if self.method == "bernoulli" and self.variant != "lthlib":
            extra["variant"] = self.variant
        extra["computed_in"] = self.computed_in
        return (self.kind, supermask_settings(self.train_settings, self.method, self.variant), extra)

    def member(self) -> tuple:
        """This edge-popup job as a member of a batched pass (``lthlib.engine.passes``): the
        frozen weights, and the density its scores keep."""
        settings = self._key()[1]
        base = model_for(settings, self.data)
        random_weights(base, self.weights, seed=settings.seed)
        return (base.state_dict(), None, 0, [], settings, self.density)

    def stored(self) -> "Run | None":
        kind, settings, extra = self._key()
        return _store(self.store_root).get(kind, settings, extra)

    def cost(self) -> float:
        # edge-popup ranks every layer's scores at every step: about 2-3x a dense step
        factor = 3.0 if self.method == "edge_popup" else 2.0
        return factor * _weights_of(self.train_settings, self.data) * self.train_settings.iterations

    def run(self) -> "Run":
        kind, settings, extra = self._key()
        if self.computed_in != "alone":  # learned by _learn_as_populations, which stored it
            stored = _store(self.store_root).get(kind, settings, extra)
            if stored is None:
                raise RuntimeError(f"supermask run {extra} of population {self.computed_in} is not stored")
            return stored

        def compute() -> "Run":
            base = model_for(settings, self.data)
            random_weights(base, self.weights, seed=settings.seed)
            options = BERNOULLI_OPTIONS[self.variant] if self.method == "bernoulli" else {}
            net = Supermask(base, self.method, density=self.density, seed=settings.seed, **options)
            net = net.to(self.data.x_train.device)
            run = train(net, self.data, settings, progress=False)
            run.mask = net.mask().state_dict()
            run.final_state = {}  # frozen weights + scores: rebuilt from the seed when needed
            return run

        return _store(self.store_root).get_or_compute(kind, settings, compute, extra=extra)


Job = CriterionJob | SupermaskJob | DenseJob


def _root(store: "Store | None"):
    return store.root if store is not None else None


def _seed_of(run: "Run") -> int:
    return int(run.settings["seed"])


def dense_by_seed(train_settings: "TrainSettings", data: "Dataset", seeds: Iterable[int],
                  store: "Store | None" = None, workers: int | None = None) -> dict[int, "Run"]:
    """The dense run of ``train_settings`` for each seed (``lthlib.engine.training.dense_run``,
    shared through the store with every notebook), the missing ones trained in parallel.
    Returns ``{seed: Run}``."""
    return run_jobs({int(s): DenseJob(train_settings.replace(seed=int(s)), data, _root(store)) for s in seeds},
                    workers)


def train_criterion_masks(train_settings: "TrainSettings", data: "Dataset", dense_runs: "Sequence[Run]",
                          criteria: Sequence[str], resets: Sequence[str], density: float,
                          store: "Store | None" = None, workers: int | None = None
                          ) -> dict[tuple[str, str, int], "Run"]:
    """Zhou et al.'s masks, then training: for each dense run (one per seed), each
    criterion and each reset, train the network masked at ``density`` from that start.
    Returns ``{(criterion, reset, seed): Run}``."""
    for c in criteria:
        if c not in CRITERIA:
            raise ValueError(f"criterion={c!r}: choose from {list(CRITERIA)}")
    for r in resets:
        if r not in RESETS:
            raise ValueError(f"reset={r!r}: choose from {list(RESETS)}")
    jobs = {(c, r, _seed_of(d)): CriterionJob(train_settings.replace(seed=_seed_of(d)), data, d, c, r,
                                              float(density), _root(store))
            for c in criteria for r in resets for d in dense_runs}
    if store is not None and store.root is not None:
        jobs = dict(zip(jobs, _train_as_populations(list(jobs.values()), data, store, workers)))
    return run_jobs(jobs, workers)


def _train_as_populations(jobs: "Sequence[CriterionJob]", data: "Dataset", store: "Store",
                          workers: int | None) -> "list[CriterionJob]":
    """Train and store the criterion jobs the store lacks, together as populations
    (``lthlib.engine.passes.stored_members``); returns the jobs naming the passes that
    computed them, which then read their results."""
    members = []
    for job in jobs:
        model, mask = _criterion_start(job.train_settings, data, job.dense.weights_at[0],
                                       job.dense.final_state, job.criterion, job.reset, job.density)
        members.append((model.state_dict(), mask, 0, [], job.train_settings))
    passes = plan_passes(members, data)
    jobs = [dataclasses.replace(job, computed_in=where) for job, where in zip(jobs, identities(passes, len(jobs)))]

    def without_weights(i: int, run: "Run", _: "Run | None") -> "Run":
        run.final_state = {}  # not needed again; keeps the store small
        return run

    stored_members(store, [job._key() for job in jobs], members, data, progress=False, workers=workers,
                   keep=without_weights, passes=passes)
    return jobs


def learn_supermasks(train_settings: "TrainSettings", data: "Dataset", seeds: Iterable[int],
                     densities: Mapping[str, Sequence[float]], store: "Store | None" = None, *,
                     weights: str = "signed_constant", workers: int | None = None,
                     bernoulli: str = "lthlib") -> dict[tuple[str, float, int], "Run"]:
    """Learned supermasks on frozen ``weights`` of the network of ``train_settings``, for
    every seed and every ``{method: [density, ...]}`` (for Bernoulli masks the density is
    the expected density at the start). ``bernoulli``: how Bernoulli masks are learned
    (``BERNOULLI_VARIANTS``; "zhou" freezes the network's own initial weights, as Zhou et
    al.). Returns ``{(method, density, seed): Run}``."""
    for m in densities:
        if m not in METHODS:
            raise ValueError(f"method={m!r}: choose from {list(METHODS)}")
    if weights not in WEIGHT_INITS:
        raise ValueError(f"weights={weights!r}: choose one of {list(WEIGHT_INITS)}")
    if bernoulli not in BERNOULLI_VARIANTS:
        raise ValueError(f"bernoulli={bernoulli!r}: choose one of {list(BERNOULLI_VARIANTS)}")

    def frozen(method: str) -> str:
        return "init" if method == "bernoulli" and bernoulli == "zhou" else weights

    jobs = {(m, float(d), int(s)): SupermaskJob(train_settings.replace(seed=int(s)), data, m, float(d),
                                                frozen(m), _root(store), bernoulli)
            for m, ds in densities.items() for d in ds for s in seeds}
    if store is not None and store.root is not None:
        popup = {k: job for k, job in jobs.items() if job.method == "edge_popup"}
        jobs.update(_learn_as_populations(popup, {}, data, store, workers)[0])
    return run_jobs(jobs, workers)


def _learn_as_populations(popup: "Mapping[Any, SupermaskJob]", dense: "Mapping[Any, TrainSettings]",
                          data: "Dataset", store: "Store", workers: int | None
                          ) -> "tuple[dict[Any, SupermaskJob], dict[Any, Run]]":
    """Learn the edge-popup supermasks ``popup`` and train the dense runs of ``dense`` that
    the store lacks, together as populations (``lthlib.engine.passes.stored_members``; each
    kind and architecture in its own passes). Returns the supermask jobs naming the passes
    that computed them (which then read their results) and the dense runs."""
    members = [job.member() for job in popup.values()]
    members += [(model_for(ts, data).state_dict(), None, 0, [0], ts) for ts in dense.values()]
    passes = plan_passes(members, data)
    jobs = {key: dataclasses.replace(job, computed_in=where)
            for (key, job), where in zip(popup.items(), identities(passes, len(members)))}
    entries = [job._key() for job in jobs.values()] + [("dense", ts, None) for ts in dense.values()]

    def learned_mask(i: int, run: "Run", _: "Run | None") -> "Run":
        if i >= len(jobs):  # a dense run: kept as dense_run keeps it
            return run
        settings, density = members[i][4], members[i][5]
        net = Supermask(model_for(settings, data), "edge_popup", density=density, seed=settings.seed)
        net.load_state_dict(run.final_state)
        run.mask = net.mask().state_dict()
        return run.without_weights()  # frozen weights + scores: rebuilt from the seed when needed

    runs = stored_members(store, entries, members, data, progress=False, workers=workers, keep=learned_mask,
                          passes=passes)
    return jobs, dict(zip(dense, runs[len(jobs):]))


def strong_ticket_study(train_settings: "TrainSettings", data: "Dataset", widths: Sequence[int],
                        seeds: Iterable[int], store: "Store | None" = None, *,
                        trained_layers: Sequence[int] = (2,), random_layers: Sequence[int] = (2,),
                        density: float = 0.5, weights: str = "signed_constant",
                        workers: int | None = None) -> dict[tuple[str, int, int, int], "Run"]:
    """Strong tickets against trained networks, width by width: for each width ``w`` and
    seed, the network of that width trained normally (``h`` in ``trained_layers``) and an
    edge-popup supermask at ``density`` on its frozen random ``weights`` (``h`` in
    ``random_layers``). An MLP has ``h`` hidden layers of ``w`` units; a Conv-2/4/6 has
    every layer scaled by ``w`` (``width_mult``; its depth is the model's, so ``h`` must be
    0: ``width_kwargs``). Returns ``{("trained" | "edge_popup", h, width, seed): Run}``, all
    in one pool."""
    seeds = [int(s) for s in seeds]
    jobs: dict[tuple[str, int, Any, int], Job] = {}
    for w in widths:
        for method, layers in (("trained", trained_layers), ("edge_popup", random_layers)):
            for h in layers:
                kwargs = width_kwargs(train_settings.model, w, h)
                key_w = int(w) if "hidden" in kwargs else float(w)  # units, or a multiplier
                for s in seeds:
                    ts = train_settings.replace(seed=s, model_kwargs=kwargs)
                    jobs[(method, int(h), key_w, s)] = (
                        DenseJob(ts, data, _root(store)) if method == "trained" else
                        SupermaskJob(ts, data, "edge_popup", float(density), weights, _root(store)))
    if store is None or store.root is None:
        return run_jobs(jobs, workers)
    popup, trained = _learn_as_populations({k: j for k, j in jobs.items() if isinstance(j, SupermaskJob)},
                                           {k: j.settings for k, j in jobs.items() if isinstance(j, DenseJob)},
                                           data, store, workers)
    return {k: trained[k] if k in trained else popup[k].run() for k in jobs}


def width_kwargs(model: str, width: float, hidden_layers: int) -> dict[str, Any]:
    """``model_kwargs`` of ``model`` at a width: an MLP's ``hidden_layers`` layers of
    ``width`` units, or a Conv-2/4/6's ``width_mult`` (``hidden_layers`` must be 0: a conv
    net's depth is fixed by its name)."""
    accepted = MODEL_KWARGS.get(model, {})
    if "hidden" in accepted:
        if int(width) != width or width < 1:
            raise ValueError(f"width={width!r}: an MLP's width is a number of units (a positive integer)")
        return {"hidden": (int(width),) * int(hidden_layers)}
    if "width_mult" in accepted:
        if hidden_layers != 0:
            raise ValueError(f"hidden_layers={hidden_layers!r}: {model} has the depth its name says; its width "
                             "study scales every layer (width_mult), so pass trained_layers=(0,), random_layers=(0,)")
        return {"width_mult": float(width)}
    raise ValueError(f"model={model!r}: the width study varies an MLP's hidden layers ('mlp_mnist1d', "
                     "'lenet300_100': model_kwargs hidden=...) or a Conv-2/4/6's width ('conv2', 'conv4', "
                     "'conv6': model_kwargs width_mult=...)")



# --------------------------------------------------------------------- notebook 04's values
# Notebook 04 and ``lthlib.apps.reproduce`` read the experiment's values from here, once, and the
# runs through the results objects of ``lthlib.experiments.supermask_results``: their methods are the
# notebook's queries and the values its sentences state, so no notebook defines a function
# that reads runs or words a verdict, and the figure ``reproduce`` draws reads the same grid.

# Section 1 (untrained masked networks; also ``reproduce``'s zhou2019-supermask at smoke
# and quick scale): the criteria in the legends' order, the fractions kept in every layer
# and the starting values (no reinit: nothing is trained after masking).
ZHOU_CRITERIA = ("large_final", "large_final_same_sign", "magnitude_increase", "large_init_large_final",
                 "movement", "large_init", "small_final", "random")
ZHOU_DENSITIES = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
ZHOU_STARTS = ("init", "signed_constant")
# The density, fixed before the run, at which section 1's claims are judged and section 2's
# masks are trained (one of ZHOU_DENSITIES).
ZHOU_CLAIM_DENSITY = 0.2
# Section 4 and ``reproduce``'s ramanujan2020-width: edge-popup's fraction of weights kept
# (Ramanujan et al.'s ``--prune-rate 0.5``), and the hidden layers of an MLP of depth L
# (the MNIST-1D MLP's 3 layers) and of depth 2L (6 layers: Malach et al.'s construction).
WIDTH_STUDY_DENSITY = 0.5
DEPTH_L_HIDDEN, DEPTH_2L_HIDDEN = 2, 5
# The MLP widths (hidden units per layer) section 4 and ``reproduce``'s ramanujan2020-width
# (smoke and quick) study at each scale.
WIDTHS: dict[str, tuple[int, ...]] = {"smoke": (8, 16), "quick": (25, 100, 200), "paper": (25, 100, 200, 400)}
# Sections 3 and 5 compare with IMP tickets of notebook 02's algorithm, at most this many
# rounds and no controls (only the tickets' masks and accuracies are read).
TICKET_ROUNDS = 3


def ticket_settings(scale: str, train_settings: "TrainSettings") -> "IMPSettings":
    """The IMP settings of the tickets notebook 04 compares with: notebook 02's at
    ``scale``, at most ``TICKET_ROUNDS`` rounds, no controls (shared through the store)."""
    return imp_for_scale(scale, train_settings, rounds=min(TICKET_ROUNDS, imp_for_scale(scale, train_settings).rounds),
                         controls=())


def mean_round_density(imp: Mapping[int, "IMPResult"], rounds: Iterable[int]) -> dict[int, float]:
    """``{round: fraction of weights kept}``, the mean over the seeds of ``imp`` rounded to
    3 decimals: the density at which a supermask is learned to match a ticket of that round
    (every seed's ticket keeps about the same count, so one density serves them all)."""
    return {r: round(float(np.mean([res.densities()[r] for res in imp.values()])), 3) for r in rounds}

