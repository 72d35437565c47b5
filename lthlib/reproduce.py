"""Reproduce the papers' figures by name, with provenance: ``python -m lthlib reproduce ID``.

``FIGURES`` maps a figure id (``fc2019-fig3``, ``frankle2020-instability``, ...) to a
``Figure``: a one-line description, the paper and figure it reproduces, a ``plan`` (the
settings of the experiment at a scale with N seeds, and how much training that is) and a
``draw`` that runs it through the library's own runners (``imp.run_imp_seeds``,
``imp.run_rewind_sweep``, ``lmc.measure_instability``, ``supermask``'s runners), reusing
every result the store already holds, and draws it with ``lthlib.plots``. Nothing here
trains a network itself.

- ``"smoke"`` and ``"quick"`` run the offline MNIST-1D stand-in of the figure: the model the
  notebooks use at that scale.
- ``"paper"`` runs the published model and dataset (``for_scale("paper", model=...)``).

Before anything is trained the command prints an **estimate** (training iterations the
plan contains x a step time measured on this device -> hours; stored runs x state-dict
size -> disk), loads the dataset (a missing dataset stops here, naming its files) and, at
``paper`` scale, asks for confirmation unless ``--yes``. It writes ``<id>.png``,
``<id>.pdf`` and ``<id>.provenance.json`` (what ran, on what, from which code and data).

**On a cluster** (``--ray ADDRESS``, ``run_on_cluster``): every seed's runs are one Ray task
(``run_seed_job``: the figure's ``runner`` on a one-seed plan, ``Figure.seed_plan``) writing to
a store on a shared filesystem; the figure is then drawn here from the store, as after a local
run (``lthlib.cluster``; docs/reproduce.md, "On a cluster").

**Published values.** A figure may carry values stated in its paper (``Published``): each
with its citation, ``approximate=True`` when read off a plot, drawn only on a run of the
paper's own model and dataset. Only values checked against the paper's text are entered,
or, where the text could not be read, values computed from the authors' released data behind
the paper's figures (the citation says which); a figure without any says so in its description (the project's rule: never type a number
that was not verified; papers' numbers are quoted as the paper's, with the citation).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from lthlib import data_files
from lthlib.config import SCALES, SettingsError, TrainSettings, for_scale, seeds_for, sweep_size
from lthlib.data import Dataset, DatasetUnavailableError
from lthlib.population import passes_within_units
# notebook 04's values, read from the module that owns them (the width study's fraction
# kept; Zhou et al.'s criteria, fractions kept per layer at smoke and quick, starts)
from lthlib.supermask import WIDTH_STUDY_DENSITY, ZHOU_CRITERIA, ZHOU_DENSITIES, ZHOU_STARTS  # noqa: F401

if TYPE_CHECKING:
    from lthlib.imp import RewindSweep

REPO_ROOT = Path(__file__).resolve().parents[1]

# Input shape and number of classes of each dataset as ``lthlib.data.load_dataset`` returns
# it, so that a step can be timed before (or without) the data: MNIST-1D signals of 40
# values; torchvision's MNIST images (N, 28, 28) get a channel axis; CIFAR-10's
# (N, 32, 32, 3) are moved to channels first.
DATASET_SHAPES: dict[str, tuple[tuple[int, ...], int]] = {
    "mnist1d": ((40,), 10),
    "mnist": ((1, 28, 28), 10),
    "fashion-mnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10),
}
TIMED_STEPS = 20  # training steps timed per model for the estimate (after 2 warm-up steps)
TIMING_BUDGET_S = 5.0  # stop timing a slow model earlier (at least 3 steps)
STORED_STATES_PER_RUN = 2  # a stored run keeps about two state dicts (its start and its end)
# The paper-scale width study: Ramanujan et al.'s Conv4Wide (allenai/hidden-networks) on
# CIFAR-10, every layer scaled by each multiplier. The multipliers are chosen here (the
# paper's own were not checked against its text); 1 is the published Conv-4.
PAPER_WIDTH_MODEL = "conv4"
PAPER_WIDTH_MULTIPLIERS = (0.25, 0.5, 1.0, 2.0)
INTERPOLATION_POINTS = {"smoke": 10, "quick": 30, "paper": 30}  # points on each path (notebook 05: 30)
MAX_REWIND_PANELS = 3


# ------------------------------------------------------------------------------ registry
PANELS = {"early_stop": "the iteration of early stopping against % of weights remaining",
          "accuracy": "test accuracy against the figure's x axis"}


@dataclass(frozen=True)
class Published:
    """A value a paper states, to overlay on its figure.

    ``x`` (a vertical line) or ``y`` (a horizontal line) in the figure's own units;
    ``quote``: what the paper says, in its words; ``citation``: where it says it;
    ``approximate``: True when the value was read off a plot rather than taken from the
    text or a table; ``applies_to``: the settings a run must have for the value to be
    drawn (e.g. ``{"model": "lenet300_100", "dataset": "mnist"}``), since a number about
    LeNet on MNIST says nothing about the MNIST-1D stand-in."""

    quote: str
    citation: str
    label: str  # the legend's words: short, the paper's number and where it is stated
    x: float | None = None
    y: float | None = None
    approximate: bool = False
    applies_to: Mapping[str, str] = field(default_factory=dict)
    panel: str | None = None  # the kind of panel it belongs on (PANELS); None: any panel of the figure

    def __post_init__(self) -> None:
        if (self.x is None) == (self.y is None):
            raise ValueError("a published value is either an x position or a y position")
        if self.panel is not None and self.panel not in PANELS:
            raise ValueError(f"panel={self.panel!r}: choose one of {sorted(PANELS)} or None")
        if not self.citation or not self.label:
            raise ValueError("a published value needs its citation and a label")

    def applies(self, settings: Sequence[TrainSettings]) -> bool:
        """Whether every network of the run has the settings this value is about."""
        return bool(settings) and all(getattr(s, k) == v for s in settings for k, v in self.applies_to.items())

    def to_dict(self) -> dict[str, Any]:
        return {"quote": self.quote, "citation": self.citation, "label": self.label, "x": self.x, "y": self.y,
                "approximate": self.approximate, "applies_to": dict(self.applies_to), "panel": self.panel}


@dataclass(frozen=True)
class Work:
    """Training the plan contains, for the estimate: ``iterations`` optimiser steps over
    ``runs`` stored runs of the network of ``settings``; ``method`` is ``"train"`` (the
    weights) or ``"edge_popup"`` (a supermask's scores on frozen weights)."""

    settings: TrainSettings
    iterations: int
    runs: int
    method: str = "train"
    evaluations: int | None = None  # points of the runs' curves (None: iterations / eval_every + runs)

    def evaluation_count(self) -> int:
        """How many times the runs evaluate on the train subset, validation and test sets."""
        if self.evaluations is not None:
            return self.evaluations
        return self.iterations // self.settings.eval_every + self.runs


@dataclass
class Plan:
    """One figure at one scale and number of seeds: what runs, before anything runs.

    ``data_settings``: the settings whose dataset is loaded (every network of the figure
    reads it); ``work``: the training it contains; ``settings``: everything that names the
    experiment, as plain JSON (provenance); ``context``: the settings objects ``draw``
    uses."""

    figure: str
    scale: str
    seeds: list[int]
    data_settings: TrainSettings
    networks: list[TrainSettings]
    work: list[Work]
    settings: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Figure:
    """A paper's figure that the library reproduces (see the module docstring)."""

    id: str
    description: str  # one line
    paper: str  # the full citation
    cite: str  # the short one ("Frankle & Carbin 2019")
    paper_figure: str  # which of its figures, in words
    default_seeds: int  # as the figure's notebook
    plan: Callable[[str, int], Plan]
    draw: Callable[["Figure", Plan, Dataset, Any], tuple[Any, list[Published]]]  # (figure, drawn)
    # Trains (or reads from the store) every run the plan's seeds need, and draws nothing;
    # ``draw`` calls it first. Runs of different seeds are independent, so ``runner`` of a
    # one-seed plan (``seed_plan``) is one job of a sweep spread over processes or machines.
    runner: Callable[[Plan, Dataset, Any], Any]
    published: tuple[Published, ...] = ()
    # A finer split for a cluster: a seed's runs as independent parts (the networks of
    # fc2019-conv, a rewinding sweep's rewind points), once ``prepare`` (if any) has stored
    # what they share (the dense run, with its weights at every k). ``parts(plan)`` names
    # them; ``part_plan(plan, name)`` is the plan of one. None, or a single part: a seed is
    # one job.
    parts: Callable[[Plan], list[str]] | None = None
    part_plan: Callable[[Plan, str], Plan] | None = None
    prepare: Callable[[Plan, Dataset, Any], Any] | None = None

    def make_plan(self, scale: str = "quick", seeds: int | None = None) -> Plan:
        if scale not in SCALES:
            raise SettingsError(f"scale={scale!r}: choose one of {list(SCALES)}")
        n = self.default_seeds if seeds is None else seeds
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SettingsError(f"seeds={n!r}: must be an integer >= 1")
        return self.plan(scale, seeds_for(scale, n))

    def run(self, scale: str = "quick", seeds: int | None = None, *, store: Any = None,
            device: str | torch.device = "auto", data: Dataset | None = None) -> Any:
        """Run the experiment at ``scale`` with ``seeds`` seeds (None: the figure's default),
        loading what ``store`` (a ``lthlib.store.Store``) holds, and return the matplotlib
        figure. (``reproduce`` adds the estimate, the files and the provenance.)"""
        from lthlib.store import Store

        plan = self.make_plan(scale, seeds)
        data = data if data is not None else load_data(plan, device)
        fig, _ = self.draw(self, plan, data, store if store is not None else Store(None))
        return fig

    def seed_plan(self, plan: Plan, seed: int) -> Plan:
        """``plan`` restricted to one of its seeds: the runs of that seed, which depend on no
        other seed's (a rewinding sweep's seed keeps every k: they share its dense run)."""
        if seed not in plan.seeds:
            raise SettingsError(f"seed {seed!r} is not one of the plan's seeds {plan.seeds}")
        return replace(plan, seeds=[seed], settings={**plan.settings, "seeds": [seed]})

    def train(self, scale: str = "quick", seeds: int | None = None, *, seed: int | None = None,
              store: Any = None, device: str | torch.device = "auto", data: Dataset | None = None) -> Any:
        """Train (or read from ``store``) every run the figure needs at ``scale`` with
        ``seeds`` seeds -- only those of seed ``seed`` (one of the plan's seeds) when given --
        without drawing anything; returns what the figure's runner returns. One seed of a
        figure is one job of ``reproduce(..., ray=...)``."""
        from lthlib.store import Store

        plan = self.make_plan(scale, seeds)
        if seed is not None:
            plan = self.seed_plan(plan, seed)
        data = data if data is not None else load_data(plan, device)
        return self.runner(plan, data, store if store is not None else Store(None))


# ------------------------------------------------------------------------------ helpers
def _records(T: int, start: int, every: int) -> int:
    """Points on the curve of a run trained from ``start`` to ``T`` evaluating every
    ``every`` iterations: at the start, at each multiple of ``every`` after it, and at T
    (``training.train``)."""
    return 1 + T // every - start // every + (1 if T % every else 0)


def _imp_iterations(imp, dense: bool = True) -> tuple[int, int, int]:
    """(training iterations, stored runs, evaluations) of one IMP run of ``imp`` (one seed):
    the dense run (when ``dense``), then per round the ticket and each control, from the
    rewind iteration k to T (``reinit_full`` from 0); at k = 0 ``reinit_full`` starts
    exactly like ``reinit`` and the library trains it once."""
    T, k, e = imp.train.iterations, imp.rewind_iteration, imp.train.eval_every
    iterations, runs, evals = (T, 1, _records(T, 0, e)) if dense else (0, 0, 0)
    for r in range(1, imp.rounds + 1):
        iterations, runs, evals = iterations + T - k, runs + 1, evals + _records(T, k, e)
        controls = imp.controls_at(r)
        for c in controls:
            if c == "reinit_full" and k == 0 and "reinit" in controls:
                continue
            start = 0 if c == "reinit_full" else k
            iterations, runs, evals = iterations + T - start, runs + 1, evals + _records(T, start, e)
    return iterations, runs, evals


def _sweep_iterations(imp, ks: Sequence[int], control_ks: Sequence[int]) -> tuple[int, int, int]:
    """(iterations, runs, evaluations) of ``run_rewind_sweep`` for one seed: one dense run
    shared by every k."""
    T = imp.train.iterations
    iterations, runs, evals = T, 1, _records(T, 0, imp.train.eval_every)
    for k in ks:
        its, n, ev = _imp_iterations(imp.replace(rewind_iteration=k, controls=imp.controls if k in control_ks
                                                 else ()), dense=False)
        iterations, runs, evals = iterations + its, runs + n, evals + ev
    return iterations, runs, evals


def _panel_title(ts: TrainSettings) -> str:
    return f"{ts.model} on {ts.dataset}"


def _describe_networks(plan: Plan) -> str:
    return ", ".join(dict.fromkeys(_panel_title(ts) for ts in plan.networks))


def _draw_published(ax, published: Sequence[Published], plan: Plan, index: int = 0, *,
                    networks: Sequence[TrainSettings] | None = None, panel: str | None = None) -> list[Published]:
    """Draw the values that apply to this run on ``ax`` (before its legend is made); return them.
    ``networks``: the panel's networks (default: every network of the plan); ``panel``: the
    kind of panel ``ax`` is (values meant for another kind are left off)."""
    drawn = []
    for j, p in enumerate(published):
        if not p.applies(plan.networks if networks is None else networks):
            continue
        if p.panel is not None and panel is not None and p.panel != panel:
            continue
        label = p.label + (" (read off a plot)" if p.approximate else "")
        style = dict(color="k", lw=1.0, ls=(0, (6, 2, 1, 2 + j)), label=label if index == 0 else None)
        if p.x is not None:
            ax.axvline(p.x, **style)
        else:
            ax.axhline(p.y, **style)
        drawn.append(p)
    return drawn


def _union(drawn: list[Published], more: Sequence[Published]) -> list[Published]:
    """The values drawn so far and ``more``, each once, in order."""
    return drawn + [p for p in more if p not in drawn]


def _overlay_each_axis(axes: Sequence[Any], figure: "Figure", plan: Plan) -> list[Published]:
    """``_draw_published`` on every panel of a figure whose panels carry their own legends
    (made before the overlay): a panel that gets a line gets its legend again, with it."""
    drawn: list[Published] = []
    for ax in axes:
        got = _draw_published(ax, figure.published, plan, 0)
        old = ax.get_legend()
        if got and old is not None:
            title = old.get_title().get_text() or None
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, title=title,
                      title_fontsize=8)
        drawn = _union(drawn, got)
    return drawn


# ------------------------------------------------------------------ IMP: Frankle & Carbin
def _imp_plan(figure: str, models: Sequence[str | None], scale: str, n: int) -> Plan:
    from lthlib.imp import imp_for_scale

    seeds = list(range(n))
    imps = []
    for model in models:
        ts = for_scale(scale, model=model)
        imps.append(imp_for_scale(scale, ts, controls=("reinit",)))
    work = []
    for imp in imps:
        its, runs, evals = _imp_iterations(imp)
        work.append(Work(imp.train, its * n, runs * n, evaluations=evals * n))
    return Plan(figure, scale, seeds, imps[0].train, [imp.train for imp in imps], work,
                {"imp": [imp.to_dict() for imp in imps], "seeds": seeds, "metric": "test_acc at early stopping",
                 "kinds": ["ticket", "reinit"]},
                {"imps": imps})


def _imp_runs(plan: Plan, data: Dataset, store) -> list[list[Any]]:
    """Per network of the plan, its IMP run of each seed (``[[IMPResult per seed] per network]``)."""
    from lthlib.imp import run_imp_seeds

    return [run_imp_seeds(imp, plan.seeds, data, store=store) for imp in plan.context["imps"]]


def _imp_parts(plan: Plan) -> list[str]:
    """An IMP figure's parts: one per network (Conv-2, Conv-4 and Conv-6 are independent)."""
    return [imp.train.model for imp in plan.context["imps"]]


def _imp_part_plan(plan: Plan, part: str) -> Plan:
    """``plan`` restricted to one network (``_imp_parts``)."""
    imps = [imp for imp in plan.context["imps"] if imp.train.model == part]
    if not imps:
        raise SettingsError(f"{plan.figure}: no part {part!r}; its parts are {_imp_parts(plan)}")
    return replace(plan, networks=[imps[0].train], context={**plan.context, "imps": imps},
                   settings={**plan.settings, "part": part})


def _imp_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    """The paper's layout (Frankle & Carbin 2019, Figures 4a and 5): per network, the
    iteration of early stopping (top) and test accuracy at that iteration (bottom) against
    % of weights remaining, winning tickets beside random reinitialisation."""
    import matplotlib.pyplot as plt

    from lthlib import plots
    from lthlib.imp import kind_color, kind_label

    imps = plan.context["imps"]
    runs = _imp_runs(plan, data, store)
    fig, axes = plt.subplots(2, len(imps), figsize=(8.6 * len(imps), 7.8), squeeze=False)
    drawn: list[Published] = []
    kinds = ("ticket", "reinit")
    styles = {kind_label(k): {"color": kind_color(k)} for k in kinds}
    for i, (imp, results) in enumerate(zip(imps, runs)):
        percents = 100 * np.mean([r.densities() for r in results], axis=0)
        title = _panel_title(imp.train)
        stops = {kind_label(k): np.array([[np.nan if v is None else v for v in r.early_stop_iterations(k)]
                                          for r in results], dtype=float) for k in kinds}
        accuracy = {kind_label(k): np.array([r.metric(k, "test_acc") for r in results]) for k in kinds}
        dense_stop = float(np.mean([r.early_stop_iterations("ticket")[0] for r in results]))
        dense_acc = float(np.mean([r.metric("ticket", "test_acc")[0] for r in results]))
        dense_label = "dense network (100%), mean over seeds"
        # early stopping can come no later than the last iteration: a line there shows runs whose
        # validation loss still fell at the end (a short run's early stopping says little)
        panels = ((axes[0][i], "early_stop", stops, "iteration of early stopping\n(minimum validation loss)",
                   {dense_label: dense_stop, f"end of training (iteration {imp.train.iterations:,})":
                    imp.train.iterations}),
                  (axes[1][i], "accuracy", accuracy, "test accuracy at early stopping", {dense_label: dense_acc}))
        for ax, panel, series, ylabel, references in panels:
            got = _draw_published(ax, figure.published, plan, 0, networks=[imp.train], panel=panel)
            drawn = _union(drawn, got)
            plots.seed_bands(percents, series, "percent of weights remaining", ylabel, title, ax=ax, percent_x=True,
                             references=references, styles=styles)
            # a published Pm beyond the run's last round stays in view
            plots.percent_axis(ax, [*percents, *(p.x for p in got if p.x is not None)])
    fig.tight_layout()
    return fig, drawn


# ------------------------------------------------------------ rewinding: Frankle et al. 2020
def _rewinding_models(scale: str, models: Sequence[str]) -> list[str | None]:
    return list(models) if scale == "paper" else [None]


def _rewinding_plan(figure: str, paper_models: Sequence[str], scale: str, n: int,
                    instability: bool = False) -> Plan:
    from lthlib.imp import rewinding_for_scale

    experiments = [rewinding_for_scale(scale, model=m) for m in _rewinding_models(scale, paper_models)]
    seeds = experiments[0].seeds(n)
    work, described = [], []
    for exp in experiments:
        imp, T = exp.imp, exp.imp.train.iterations
        its, runs, evals = _sweep_iterations(imp, exp.ks, exp.control_ks)
        if instability:  # two children per case, each trained from k to T
            for k in exp.ks:
                cases = 1 + imp.rounds + (2 if k in exp.control_ks else 0)
                its, runs = its + cases * 2 * (T - k), runs + cases * 2
                evals += cases * 2 * _records(T, k, imp.train.eval_every)
        work.append(Work(imp.train, its * n, runs * n, evaluations=evals * n))
        described.append({"imp": imp.to_dict(), "ks": list(exp.ks), "control_ks": list(exp.control_ks),
                          "claim_k": exp.claim_k, "claim_round": exp.claim_round, "first_seed": exp.first_seed})
    settings: dict[str, Any] = {"experiments": described, "seeds": seeds}
    if instability:
        settings.update(interpolation_points=INTERPOLATION_POINTS[scale], metric="test error barrier",
                        children="two copies of the parent at k, differing only in data order (stream 'child')")
    else:
        settings.update(metric="test_acc at the end of training")
    return Plan(figure, scale, seeds, experiments[0].imp.train, [e.imp.train for e in experiments], work,
                settings, {"experiments": experiments})


CONTROL_NAMES = {"reinit": "random reinit, trained from k", "reinit_full": "random reinit, trained all T",
                 "random_mask": "random pruning, trained from k"}  # notebook 03's words


def _rewind_rounds(rounds: int, claim_round: int) -> list[int]:
    """The pruning rounds drawn as panels: the middle one, the claim's and the last (at most 3)."""
    return sorted({max(1, rounds // 2), claim_round, rounds})[-MAX_REWIND_PANELS:]


def _rewinding_runs(plan: Plan, data: Dataset, store) -> list[RewindSweep]:
    """Per experiment of the plan, its rewinding sweep (``imp.RewindSweep``: ``{k: [IMPResult per seed]}``)."""
    from lthlib.imp import run_rewind_sweep

    return [run_rewind_sweep(exp.imp, exp.ks, plan.seeds, data, store=store, control_ks=exp.control_ks)
            for exp in plan.context["experiments"]]


def _rewinding_parts(plan: Plan) -> list[str]:
    """A rewinding sweep's parts: one per network and rewind point k ("resnet20 k=500"). Given
    the seed's dense run, IMP rewound to one k is independent of IMP rewound to another."""
    return [f"{exp.imp.train.model} k={k}" for exp in plan.context["experiments"] for k in exp.ks]


def _rewinding_part_plan(plan: Plan, part: str) -> Plan:
    """``plan`` restricted to one part (``_rewinding_parts``): one network, one k, the
    controls only if that k trains them."""
    for exp in plan.context["experiments"]:
        for k in exp.ks:
            if part == f"{exp.imp.train.model} k={k}":
                one = replace(exp, ks=(k,), control_ks=tuple(c for c in exp.control_ks if c == k))
                return replace(plan, context={**plan.context, "experiments": [one]},
                               settings={**plan.settings, "part": part})
    raise SettingsError(f"{plan.figure}: no part {part!r}; its parts are {_rewinding_parts(plan)}")


def _rewinding_prepare(plan: Plan, data: Dataset, store) -> None:
    """What every part of a seed shares: each network's dense run, with its weights at every
    rewind point (``training.dense_run``), stored before the parts start (a part that found
    it missing, or lacking its k, would train it again)."""
    from lthlib.training import dense_run

    for exp in plan.context["experiments"]:
        for seed in plan.seeds:
            dense_run(exp.imp.with_seed(seed).train, data, store=store, save_weights_at=exp.ks)


def _rewinding_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    import matplotlib.pyplot as plt

    from lthlib import plots

    experiments = plan.context["experiments"]
    panels = [(exp, r) for exp in experiments for r in _rewind_rounds(exp.imp.rounds, exp.claim_round)]
    fig, axes = plt.subplots(1, len(panels), figsize=(7.4 * len(panels), 4.2), squeeze=False)
    sweeps = {id(exp): sweep for exp, sweep in zip(experiments, _rewinding_runs(plan, data, store))}
    for ax, (exp, r) in zip(axes[0], panels):
        sweep, imp = sweeps[id(exp)], exp.imp
        plots.rewinding_vs_k(exp.ks, np.array([sweep.final_acc("ticket", k, r) for k in exp.ks]).T,
                             {CONTROL_NAMES.get(c, c): (exp.control_ks,
                                                        np.array([sweep.final_acc(c, k, r) for k in exp.control_ks]).T)
                              for c in imp.controls_at(r)},
                             sweep.dense_final_acc(), "test accuracy (end of training)",
                             f"{_panel_title(imp.train)}, {sweep.densities()[r]:.1f}% of weights remaining", ax=ax)
    drawn = _overlay_each_axis(list(axes[0]), figure, plan)
    fig.tight_layout()
    return fig, drawn


def _instability_cases(plan: Plan, data: Dataset, store) -> list[tuple[Any, dict[int, list[Any]], dict]]:
    """Per experiment of the plan: (experiment, its rewinding sweep, the instability cases
    ``{(kind, round, k, seed): (settings, parent at k, k, mask)}``, ``lmc.instability_cases``)."""
    from lthlib.imp import run_rewind_sweep
    from lthlib.lmc import instability_cases

    out = []
    for exp in plan.context["experiments"]:
        imp, r_claim, ks = exp.imp, exp.claim_round, tuple(exp.ks)
        control_ks = tuple(k for k in exp.control_ks if k in ks)
        sweep = run_rewind_sweep(imp, ks, plan.seeds, data, store=store, control_ks=control_ks)
        rounds = list(range(1, imp.rounds + 1))
        cases = instability_cases(sweep, plan.seeds, ks, rounds, control_ks, r_claim, data)
        out.append((exp, sweep, cases))
    return out


def _instability_runs(plan: Plan, data: Dataset, store) -> None:
    """Every run the instability figure needs: the rewinding sweeps, then the two children
    of every case (stored; the paths between them are evaluated when the figure is drawn)."""
    from lthlib.lmc import measure_instability

    for _, _, cases in _instability_cases(plan, data, store):
        if store.root is not None:  # train and store the children; the curves are drawn later
            from lthlib.lmc import train_children_of

            train_children_of(cases, data, store)
        else:  # nothing would be kept: measuring is the only way to train them
            measure_instability(cases, data, store=store, points=INTERPOLATION_POINTS[plan.scale])


def _instability_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    import matplotlib.pyplot as plt

    from lthlib import plots
    from lthlib.imp import kind_label
    from lthlib.lmc import STABLE_BARRIER, measure_instability

    experiments = _instability_cases(plan, data, store)
    fig, axes = plt.subplots(1, len(experiments), figsize=(8.4 * len(experiments), 4.2), squeeze=False)
    for ax, (exp, sweep, cases) in zip(axes[0], experiments):
        imp, r_claim, ks = exp.imp, exp.claim_round, tuple(exp.ks)
        control_ks = tuple(k for k in exp.control_ks if k in ks)
        rounds = list(range(1, imp.rounds + 1))
        density = {r: 100 * np.mean([res.densities()[r] for res in sweep[ks[0]]]) for r in rounds}
        measured = measure_instability(cases, data, store=store, points=INTERPOLATION_POINTS[plan.scale])

        def barriers(kind: str, r: int, at: Sequence[int]) -> np.ndarray:
            return np.array([[measured[(kind, r, k, s)]["barrier"] for k in at] for s in plan.seeds])

        series = {"dense network": (ks, barriers("dense", 0, ks))}
        series.update({f"{kind_label('ticket')}, {density[r]:.1f}%": (ks, barriers("ticket", r, ks)) for r in rounds})
        if control_ks:
            series.update({f"{kind_label(c)}, {density[r_claim]:.1f}%": (control_ks, barriers(c, r_claim, control_ks))
                           for c in ("random_mask", "reinit")})
        plots.barrier_vs_k(series, STABLE_BARRIER, ax=ax)
        ax.set_title(f"instability to SGD noise: {_panel_title(imp.train)}", fontsize=10)
    drawn = _overlay_each_axis(fig.axes, figure, plan)
    fig.tight_layout()
    return fig, drawn


# --------------------------------------------------------------- supermasks: Zhou, Ramanujan
def _zhou_plan(figure: str, scale: str, n: int) -> Plan:
    ts = for_scale(scale, model="lenet300_100" if scale == "paper" else None)
    seeds = list(range(n))
    return Plan(figure, scale, seeds, ts, [ts], [Work(ts, ts.iterations * n, n)],
                {"train": ts.to_dict(), "seeds": seeds, "criteria": list(ZHOU_CRITERIA),
                 "densities": list(ZHOU_DENSITIES) if scale != "paper" else
                 "per layer: 0.8^p hidden, 0.9^p output, p = 0..24 (Zhou et al.'s README command)",
                 "starts": list(ZHOU_STARTS),
                 "metric": "test accuracy of the masked network, untrained",
                 "mask_from": "the dense run of each seed: its weights at iteration 0 and at the end"},
                {"train": ts})


def _zhou_densities(scale: str, ts: TrainSettings, data: Dataset) -> tuple[list[Any], list[float], str]:
    """The masks' fractions kept, the fraction of all prunable weights each keeps (the x
    axis) and its label. Paper: Zhou et al.'s per-layer rule (``supermask.ZHOU_POWERS``,
    hidden 0.8^p, output 0.9^p); smoke and quick: one fraction in every layer."""
    if scale != "paper":
        return list(ZHOU_DENSITIES), list(ZHOU_DENSITIES), "percent of weights kept per layer (log scale)"
    from lthlib.models import prunable_parameters
    from lthlib.supermask import ZHOU_POWERS, zhou_layer_densities
    from lthlib.training import model_for

    sizes = {n: p.numel() for n, p in prunable_parameters(model_for(ts, data)).items()}
    maps = [zhou_layer_densities(list(sizes), p) for p in ZHOU_POWERS]
    kept = [sum(m[n] * sizes[n] for n in sizes) / sum(sizes.values()) for m in maps]
    return maps, kept, "percent of all weights kept: 0.8^p per hidden layer, 0.9^p output (log scale)"


def _zhou_runs(plan: Plan, data: Dataset, store) -> dict[int, Any]:
    """The dense run of each seed (``{seed: Run}``): the masks are scored from them, untrained."""
    from lthlib.supermask import dense_by_seed

    return dense_by_seed(plan.context["train"], data, plan.seeds, store)


def _zhou_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    from lthlib import plots
    from lthlib.supermask import untrained_study

    ts = plan.context["train"]
    dense = _zhou_runs(plan, data, store)
    densities, kept, xlabel = _zhou_densities(plan.scale, ts, data)
    untrained = untrained_study(ts, data, dense, plan.seeds, ZHOU_CRITERIA, ZHOU_STARTS, densities)
    fig = plots.criteria_panels(kept, untrained.panels(), "test accuracy, untrained", chance=1 / data.num_classes,
                                xlabel=xlabel)
    drawn: list[Published] = []
    for i, ax in enumerate(fig.axes):
        drawn = _union(drawn, _draw_published(ax, figure.published, plan, i))
    if drawn:  # the shared legend again, now with the published lines
        old = fig.legends[0]
        title = old.get_title().get_text()
        old.remove()
        handles, labels = fig.axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False,
                   title=title, title_fontsize=8, alignment="left")
    for ax in fig.axes:
        ax.set_title(f"{_panel_title(ts)}: {ax.get_title()}", fontsize=9)
    return fig, drawn


def _width_plan(figure: str, scale: str, n: int) -> Plan:
    """Smoke and quick: notebook 04's MLPs on MNIST-1D, 2 hidden layers of each width. Paper:
    Conv-4 on CIFAR-10 with every layer scaled by each multiplier (the authors' Conv4Wide)."""
    from lthlib.supermask import supermask_settings, width_kwargs

    if scale == "paper":
        ts, widths, layers = for_scale(scale, model=PAPER_WIDTH_MODEL), list(PAPER_WIDTH_MULTIPLIERS), 0
    else:
        ts, widths, layers = for_scale(scale), [int(w) for w in sweep_size(scale, "widths")], 2
    seeds = list(range(n))
    work = []
    for w in widths:
        wide = ts.replace(model_kwargs=width_kwargs(ts.model, w, layers))
        work += [Work(wide, wide.iterations * n, n), Work(wide, wide.iterations * n, n, method="edge_popup")]
    return Plan(figure, scale, seeds, ts, [ts], work,
                {"train": ts.to_dict(), "seeds": seeds, "widths": widths,
                 "width_means": "hidden units of each of 2 layers" if layers else "width_mult of every layer",
                 "hidden_layers": layers, "density": WIDTH_STUDY_DENSITY, "frozen_weights": "signed_constant",
                 "edge_popup_train": supermask_settings(ts, "edge_popup").to_dict(),
                 "metric": "test_acc at early stopping"},
                {"train": ts, "widths": widths, "layers": layers})


def _width_runs(plan: Plan, data: Dataset, store) -> dict[tuple[str, int, Any, int], Any]:
    """Per width and seed, the network trained and its edge-popup supermask (``strong_ticket_study``)."""
    from lthlib.supermask import strong_ticket_study

    layers = (plan.context["layers"],)
    return strong_ticket_study(plan.context["train"], data, plan.context["widths"], plan.seeds, store,
                               trained_layers=layers, random_layers=layers, density=WIDTH_STUDY_DENSITY)


def _width_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    from lthlib import plots

    ts, widths, layers = plan.context["train"], plan.context["widths"], plan.context["layers"]
    strong = _width_runs(plan, data, store)
    key_w = [int(w) if layers else float(w) for w in widths]

    def acc(method: str) -> np.ndarray:
        return np.array([[strong[(method, layers, w, s)].at_early_stop("test_acc") for w in key_w]
                         for s in plan.seeds])

    if layers:
        trained, xlabel = f"trained normally ({layers} hidden layers of this width)", \
            "width of every hidden layer (log scale)"
    else:
        trained, xlabel = "trained normally (every layer this wide)", \
            "width multiplier of every layer, 1 = the published network (log scale)"
    popup = f"edge-popup on frozen random weights, {WIDTH_STUDY_DENSITY:.0%} kept"
    fig = plots.seed_bands(widths, {trained: acc("trained"), popup: acc("edge_popup")},
                           xlabel, "test accuracy at early stopping",
                           f"{_panel_title(ts)}: strong tickets against trained networks, width by width",
                           references={"chance": 1 / data.num_classes}, logx=True, styles={trained: {"color": "k"}})
    drawn = _overlay_each_axis(fig.axes, figure, plan)
    fig.tight_layout()
    return fig, drawn


# ------------------------------------------------------- retraining: Renda et al. 2020
def _retraining_plan(figure: str, scale: str, n: int) -> Plan:
    from lthlib.retraining import retraining_for_scale

    exp = retraining_for_scale(scale)
    imp, T, t = exp.imp, exp.imp.train.iterations, exp.retrain_iterations
    seeds = exp.seeds(n)
    e, k = imp.train.eval_every, imp.rewind_iteration
    # per seed: one dense run shared by the methods, then each method's ticket per round (t iterations)
    its = T + len(exp.methods) * imp.rounds * t
    runs = 1 + len(exp.methods) * imp.rounds
    evals = _records(T, 0, e) + len(exp.methods) * imp.rounds * _records(T, k, e)
    settings = {"experiment": {"imp": imp.to_dict(), "retrain_iterations": t, "methods": list(exp.methods),
                               "claims": [{"statement": c.statement, "better": c.better, "worse": c.worse,
                                           "round": c.round, "margin": c.margin, "role": c.role}
                                          for c in exp.claims], "first_seed": exp.first_seed},
                "seeds": seeds, "metric": "test_acc at the end of retraining"}
    return Plan(figure, scale, seeds, imp.train, [imp.train], [Work(imp.train, its * n, runs * n, evaluations=evals * n)],
                settings, {"experiment": exp})


def _retraining_runs(plan: Plan, data: Dataset, store) -> Any:
    """Every method's IMP run for each seed of the plan (``retraining.run_retraining``)."""
    from lthlib.retraining import run_retraining

    return run_retraining(plan.context["experiment"], plan.seeds, data, store=store)


def _retraining_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    """Test accuracy at the end of retraining against % of weights remaining, one line per
    way of retraining (the same budget t for each), beside the dense network."""
    from lthlib import plots

    res = _retraining_runs(plan, data, store)
    exp = res.experiment
    ts = exp.imp.train
    fig = plots.retraining_curves(res, f"{_panel_title(ts)}: iterative pruning, every method retrained "
                                       f"t = {exp.retrain_iterations:,} of T = {ts.iterations:,} iterations")
    drawn = _overlay_each_axis(fig.axes, figure, plan)
    fig.tight_layout()
    return fig, drawn


# -------------------------------------------------------------------------------- FIGURES
NO_PUBLISHED = "no published values entered yet"
FC2019 = ("Frankle & Carbin 2019, The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks "
          "(ICLR 2019; arXiv:1803.03635)")
FRANKLE2020 = ("Frankle, Dziugaite, Roy & Carbin 2020, Linear Mode Connectivity and the Lottery Ticket "
               "Hypothesis (ICML 2020; arXiv:1912.05671)")
ZHOU2019 = ("Zhou, Lan, Liu & Yosinski 2019, Deconstructing Lottery Tickets: Zeros, Signs, and the Supermask "
            "(NeurIPS 2019; arXiv:1905.01067)")
RAMANUJAN2020 = ("Ramanujan, Wortsman, Kembhavi, Farhadi & Rastegari 2020, What's Hidden in a Randomly "
                 "Weighted Neural Network? (CVPR 2020)")
RENDA2020 = ("Renda, Frankle & Carbin 2020, Comparing Rewinding and Fine-tuning in Neural Network Pruning "
             "(ICLR 2020; arXiv:2003.02389)")

# Values checked against the papers' text (docs/reproduce.md says how); none read off a plot.
_LENET = {"model": "lenet300_100", "dataset": "mnist"}
_FC_S2 = "Frankle & Carbin 2019, Section 2 (LeNet-300-100, iterative pruning; Figure 4a; arXiv:1803.03635v5)"
_FC_S3 = "Frankle & Carbin 2019, Section 3 (Conv-2/4/6 on CIFAR-10, iterative pruning; Figure 5; arXiv:1803.03635v5)"
FC2019_LENET = (
    Published(quote="\"The winning tickets learn faster as Pm decreases from 100% to 21%, at which point "
                    "early-stopping occurs 38% earlier than for the original network.\"",
              citation=_FC_S2, label="Frankle & Carbin 2019: fastest at Pm = 21%, early stopping 38% earlier",
              x=21.0, applies_to=_LENET, panel="early_stop"),
    Published(quote="\"Further pruning causes learning to slow, returning to the early-stopping performance of the "
                    "original network when Pm = 3.6%.\"",
              citation=_FC_S2, label="Frankle & Carbin 2019: back to the original's early stopping at Pm = 3.6%",
              x=3.6, applies_to=_LENET, panel="early_stop"),
    Published(quote="test accuracy increases with pruning, \"improving by more than 0.3 percentage points when "
                    "Pm = 13.5%\"",
              citation=_FC_S2, label="Frankle & Carbin 2019: more than 0.3 points above the original at Pm = 13.5%",
              x=13.5, applies_to=_LENET, panel="accuracy"),
    Published(quote="\"after this point, accuracy decreases, returning to the level of the original network when "
                    "Pm = 3.6%\"",
              citation=_FC_S2, label="Frankle & Carbin 2019: back to the original's accuracy at Pm = 3.6%",
              x=3.6, applies_to=_LENET, panel="accuracy"),
    Published(quote="\"The average reinitialized iterative winning ticket's test accuracy drops off from the original "
                    "accuracy when Pm = 21.1%, compared to 2.9% for the winning ticket.\"",
              citation=_FC_S2, label="Frankle & Carbin 2019: random reinit falls below the original at Pm = 21.1%",
              x=21.1, applies_to=_LENET, panel="accuracy"),
)
_CONV_SPEED = ("\"Winning tickets reach minimum validation loss at best 3.5x faster for Conv-2 (Pm = 8.8%), 3.5x for "
               "Conv-4 (Pm = 9.2%), and 2.5x for Conv-6 (Pm = 15.1%).\"")
_CONV_ACCURACY = ("\"Test accuracy improves at best 3.4 percentage points for Conv-2 (Pm = 4.6%), 3.5 for Conv-4 "
                  "(Pm = 11.1%), and 3.3 for Conv-6 (Pm = 26.4%).\"")
_CONV_ABOVE = "\"All three networks remain above their original average test accuracy when Pm > 2%.\""
FC2019_CONV = tuple(
    value
    for model, speed, speed_at, gain, gain_at in (("conv2", "3.5x", 8.8, "3.4", 4.6),
                                                  ("conv4", "3.5x", 9.2, "3.5", 11.1),
                                                  ("conv6", "2.5x", 15.1, "3.3", 26.4))
    for value in (
        Published(quote=_CONV_SPEED, citation=_FC_S3, x=speed_at, panel="early_stop",
                  label=f"Frankle & Carbin 2019: early stopping at best {speed} sooner, at Pm = {speed_at}%",
                  applies_to={"model": model, "dataset": "cifar10"}),
        Published(quote=_CONV_ACCURACY, citation=_FC_S3, x=gain_at, panel="accuracy",
                  label=f"Frankle & Carbin 2019: best accuracy, {gain} points above the original, at Pm = {gain_at}%",
                  applies_to={"model": model, "dataset": "cifar10"}),
        Published(quote=_CONV_ABOVE, citation=_FC_S3, x=2.0, panel="accuracy",
                  label="Frankle & Carbin 2019: above the original's accuracy while Pm > 2%",
                  applies_to={"model": model, "dataset": "cifar10"}),
    ))
ZHOU2019_MNIST = (
    Published(quote="Supermasks, \"masks that can be applied to an untrained, randomly initialized network to "
                    "produce a model with performance far better than chance (86% on MNIST, 41% on CIFAR-10)\"",
              citation="Zhou et al. 2019, abstract",
              label="Zhou et al. 2019: a supermask, untrained, 86% on MNIST",
              y=0.86, applies_to={"dataset": "mnist"}),
)

# Renda et al.'s paper text could not be read here (stored copies stop after the abstract), so
# these values come from the authors' released data behind the paper's figures
# (lottery-ticket/rewinding-iclr20-public, vision/plot/: "The code in this repo was used to
# generate all of the data and plots in the paper"), computed from it as the citation says.
_RENDA_DATA = ("Renda et al. 2020, the authors' released data behind the paper's figures "
               "(lottery-ticket/rewinding-iclr20-public, vision/plot/pruned_dataframe.pkl: network resnet20, "
               "Unstructured, is_iterative, retrain_time 170 epochs, density 0.1074; median of the 3 trials)")
_RENDA_RESNET20 = {"model": "resnet20", "dataset": "cifar10"}
RENDA2020_RESNET20 = (
    Published(quote="ResNet-20 on CIFAR-10, pruned iteratively to 10.7% of the weights, retrained 170 epochs after "
                    "each step with weight rewinding ('lottery'): test accuracy 91.00% (trials 90.85%, 91.00%, 91.04%)",
              citation=_RENDA_DATA, label="Renda et al. 2020 data: weight rewinding at 10.7%, 91.0%",
              y=0.9100, applies_to=_RENDA_RESNET20),
    Published(quote="the same with learning-rate rewinding ('lr_finetune'): 91.08% (trials 90.84%, 91.08%, 91.15%)",
              citation=_RENDA_DATA, label="Renda et al. 2020 data: learning-rate rewinding at 10.7%, 91.1%",
              y=0.91075, applies_to=_RENDA_RESNET20),
    Published(quote="the same with fine-tuning ('finetune', learning rate 0.001): 89.26% (trials 88.62%, 89.26%, "
                    "89.58%)",
              citation=_RENDA_DATA, label="Renda et al. 2020 data: fine-tuning at 10.7%, 89.3%",
              y=0.8926, applies_to=_RENDA_RESNET20),
    Published(quote="the dense ResNet-20: mean test accuracy 91.71% over the 246 dense runs in the data",
              citation="Renda et al. 2020, the authors' released data (lottery-ticket/rewinding-iclr20-public, "
                       "vision/plot/bases_dataframe.pkl, network resnet20)",
              label="Renda et al. 2020 data: dense ResNet-20, 91.7%", y=0.9171, applies_to=_RENDA_RESNET20),
)

FIGURES: dict[str, Figure] = {}


def _register(figure: Figure) -> Figure:
    FIGURES[figure.id] = figure
    return figure


_register(Figure(
    id="fc2019-fig3",
    description="LeNet-300-100 IMP winning tickets vs random reinitialisation: early-stopping iteration and test "
                "accuracy at early stopping against % of weights remaining (5 published values, from the text)",
    paper=FC2019, cite="Frankle & Carbin 2019",
    paper_figure="Figure 4 (LeNet, iterative pruning, with random reinitialisation; the paper's Figure 3 "
                 "shows the training curves, so the id's number is not the paper's)",
    default_seeds=4,  # notebook 02's SEEDS
    plan=lambda scale, n: _imp_plan("fc2019-fig3", ["lenet300_100" if scale == "paper" else None], scale, n),
    draw=_imp_draw, runner=_imp_runs, published=FC2019_LENET))
_register(Figure(
    id="fc2019-conv",
    description="Conv-2/4/6 IMP winning tickets vs random reinitialisation on CIFAR-10: early-stopping iteration "
                "and test accuracy against % of weights remaining (9 published values, from the text)",
    paper=FC2019, cite="Frankle & Carbin 2019",
    paper_figure="Figure 5 (Conv-2/4/6, iterative pruning, with random reinitialisation)",
    default_seeds=4,
    plan=lambda scale, n: _imp_plan("fc2019-conv", ["conv2", "conv4", "conv6"] if scale == "paper"
                                    else ["cnn_mnist1d"], scale, n),
    draw=_imp_draw, runner=_imp_runs, published=FC2019_CONV, parts=_imp_parts, part_plan=_imp_part_plan))
_register(Figure(
    id="frankle2020-instability",
    description="instability (test error barrier between two children) against the spawn iteration k, dense "
                f"network and IMP subnetworks, ResNet-20 and VGG-16 ({NO_PUBLISHED})",
    paper=FRANKLE2020, cite="Frankle et al. 2020",
    paper_figure="instability against k of the dense networks and of IMP subnetworks (figure numbers not "
                 "checked here)",
    default_seeds=3,  # notebook 05's SEEDS
    plan=lambda scale, n: _rewinding_plan("frankle2020-instability", ["resnet20", "vgg16"], scale, n,
                                          instability=True),
    draw=_instability_draw, runner=_instability_runs, parts=_rewinding_parts, part_plan=_rewinding_part_plan,
    prepare=_rewinding_prepare))
_register(Figure(
    id="frankle2020-rewinding",
    description="IMP with rewinding to iteration k against k = 0 (beside random reinit and random pruning), "
                f"ResNet-20: test accuracy at the end of training against k ({NO_PUBLISHED})",
    paper=FRANKLE2020, cite="Frankle et al. 2020",
    paper_figure="IMP subnetworks rewound to iteration k, ResNet-20 (figure number not checked here)",
    default_seeds=6,  # notebook 03's SEEDS
    plan=lambda scale, n: _rewinding_plan("frankle2020-rewinding", ["resnet20"], scale, n),
    draw=_rewinding_draw, runner=_rewinding_runs, parts=_rewinding_parts, part_plan=_rewinding_part_plan,
    prepare=_rewinding_prepare))
_register(Figure(
    id="zhou2019-supermask",
    description="supermasks: test accuracy of untrained networks masked by each criterion (large final, same "
                "sign = the supermask) against % of weights kept (1 published value, from the abstract)",
    paper=ZHOU2019, cite="Zhou et al. 2019",
    paper_figure="untrained accuracy of masks by criterion, kept weights at their initial values or a signed "
                 "constant (figure number not checked here)",
    default_seeds=5,  # notebook 04's UNTRAINED_SEEDS
    plan=lambda scale, n: _zhou_plan("zhou2019-supermask", scale, n),
    draw=_zhou_draw, runner=_zhou_runs, published=ZHOU2019_MNIST))
_register(Figure(
    id="ramanujan2020-width",
    description="edge-popup (a supermask learned on frozen random weights, 50% kept) against the same network "
                f"trained, width by width; paper scale: Conv-4 on CIFAR-10 ({NO_PUBLISHED})",
    paper=RAMANUJAN2020, cite="Ramanujan et al. 2020",
    paper_figure="accuracy against network width (figure number not checked here); at paper scale Conv-4 on "
                 "CIFAR-10 with every layer scaled (the authors' Conv4Wide), at smoke and quick notebook 04's "
                 "MLPs on MNIST-1D",
    default_seeds=3,  # notebook 04's SEEDS
    plan=lambda scale, n: _width_plan("ramanujan2020-width", scale, n), draw=_width_draw, runner=_width_runs))

_register(Figure(
    id="renda2020-retraining",
    description="three ways to retrain after each IMP pruning step, the same budget for each (weight rewinding, "
                "learning-rate rewinding, fine-tuning): test accuracy against % of weights remaining, ResNet-20 "
                "(4 published values, from the authors' released data)",
    paper=RENDA2020, cite="Renda et al. 2020",
    paper_figure="iterative unstructured pruning, accuracy against compression ratio by retraining method; here "
                 "ResNet-20 (in the authors' data and code) rather than the main text's networks, every method at "
                 "one retraining budget (figure numbers not checked here)",
    default_seeds=8,  # notebook 03's RETRAINING_SEEDS
    plan=lambda scale, n: _retraining_plan("renda2020-retraining", scale, n),
    draw=_retraining_draw, runner=_retraining_runs, published=RENDA2020_RESNET20))

SCALE_WORDS = {
    "smoke": "seconds, for tests: the MNIST-1D stand-in, numbers mean nothing",
    "quick": "minutes on a laptop CPU: the offline MNIST-1D stand-in the notebooks use",
    "paper": "the published model and dataset (hours on a CPU; GPU advised)",
}


# ------------------------------------------------------------------------------ estimate
_step_cache: dict[tuple, float] = {}


def measure_step_seconds(settings: TrainSettings, device: str | torch.device = "cpu", method: str = "train",
                         steps: int = TIMED_STEPS, budget_s: float = TIMING_BUDGET_S) -> float:
    """Seconds per training step of the network of ``settings`` at its batch size, on
    random data of the dataset's shape, with its optimiser (a supermask's for
    ``method="edge_popup"``), on ``device`` with lthlib's fixed thread count: 2 warm-up
    steps, then ``steps`` timed (fewer when they pass ``budget_s``, at least 3)."""
    import torch.nn.functional as F

    from lthlib.data import augment_batch
    from lthlib.devices import resolve_device
    from lthlib.models import build_model
    from lthlib.streams import generator
    from lthlib.threads import fixed_threads
    from lthlib.training import make_optimizer

    device = resolve_device(device)
    key = (settings.model, repr(sorted(settings.model_kwargs.items())), settings.dataset, settings.batch_size,
           settings.optimizer, settings.augment, method, str(device))
    if key in _step_cache:
        return _step_cache[key]
    shape, classes = DATASET_SHAPES[settings.dataset]
    g = generator(0, "timing_inputs")
    with fixed_threads():
        model = build_model(settings.model, shape, classes, seed=0, **settings.model_kwargs)
        opt_settings = settings
        if method == "edge_popup":
            from lthlib.supermask import Supermask, supermask_settings

            model = Supermask(model, "edge_popup", density=WIDTH_STUDY_DENSITY, seed=0)
            opt_settings = supermask_settings(settings, "edge_popup")
        model = model.to(device).train()
        opt = make_optimizer(model, opt_settings)
        x = torch.randn((settings.batch_size, *shape), generator=g).to(device)
        y = torch.randint(0, classes, (settings.batch_size,), generator=g).to(device)

        def sync() -> None:  # GPU work is asynchronous: time it finished
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elif device.type == "mps":
                torch.mps.synchronize()

        def step() -> None:
            xb = augment_batch(x, g) if settings.augment else x
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb), y).backward()
            opt.step()
            sync()

        for _ in range(2):
            step()
        start, done = time.perf_counter(), 0
        while done < steps:
            step()
            done += 1
            if done >= 3 and time.perf_counter() - start > budget_s:
                break
        seconds = (time.perf_counter() - start) / done
    _step_cache[key] = seconds
    return seconds


# Test-set sizes (the loaders' test splits); the validation split comes out of the training set.
TEST_SIZES = {"mnist1d": 2_000, "mnist": 10_000, "fashion-mnist": 10_000, "cifar10": 10_000}
TRAIN_SIZES = {"mnist1d": 8_000, "mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000}  # before the split


def evaluated_examples(settings: TrainSettings) -> int:
    """Examples one evaluation of a run reads: the fixed train subset
    (``training.TRAIN_EVAL_SIZE``), the validation and the test set."""
    from lthlib.data import DATASETS
    from lthlib.training import TRAIN_EVAL_SIZE

    val = settings.validation_size if settings.validation_size is not None else DATASETS[settings.dataset][1]
    train = TRAIN_SIZES[settings.dataset] - val
    if settings.train_size is not None:
        train = min(train, settings.train_size)
    return min(TRAIN_EVAL_SIZE, train) + val + TEST_SIZES[settings.dataset]


def measure_eval_seconds(settings: TrainSettings, device: str | torch.device = "cpu", method: str = "train",
                         budget_s: float = TIMING_BUDGET_S) -> float:
    """Seconds per example of evaluation (``training.evaluate``: no gradients, batches of
    2,000) of the network of ``settings`` on ``device``, timed on random data."""
    from lthlib.devices import resolve_device
    from lthlib.models import build_model
    from lthlib.streams import generator
    from lthlib.threads import fixed_threads
    from lthlib.training import evaluate

    device = resolve_device(device)
    key = ("eval", settings.model, repr(sorted(settings.model_kwargs.items())), settings.dataset, method,
           str(device))
    if key in _step_cache:
        return _step_cache[key]
    shape, classes = DATASET_SHAPES[settings.dataset]
    g = generator(0, "timing_inputs")
    with fixed_threads():
        model = build_model(settings.model, shape, classes, seed=0, **settings.model_kwargs)
        if method == "edge_popup":
            from lthlib.supermask import Supermask

            model = Supermask(model, "edge_popup", density=WIDTH_STUDY_DENSITY, seed=0)
        model = model.to(device)
        x = torch.randn((2_000, *shape), generator=g).to(device)
        y = torch.randint(0, classes, (2_000,), generator=g).to(device)
        evaluate(model, x, y)  # warm-up (evaluate reads the result back: it has finished when it returns)
        start, done = time.perf_counter(), 0
        while done < 3 or (done < 10 and time.perf_counter() - start < budget_s / 5):
            evaluate(model, x, y)
            done += 1
        seconds = (time.perf_counter() - start) / (done * len(y))
    _step_cache[key] = seconds
    return seconds


def state_dict_bytes(settings: TrainSettings) -> int:
    """Bytes of one state dict of the network of ``settings``."""
    from lthlib.models import build_model

    shape, classes = DATASET_SHAPES[settings.dataset]
    model = build_model(settings.model, shape, classes, **settings.model_kwargs)
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def estimate(plan: Plan, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The training the plan contains and what it costs here: per network, iterations x a
    measured step time; the disk its stored runs take (runs x about two state dicts).
    An upper bound where runs are already stored (they are reused, not retrained)."""
    from lthlib.devices import resolve_device

    device = resolve_device(device)
    items, train_s, eval_s, disk, iterations, runs = [], 0.0, 0.0, 0, 0, 0
    for w in plan.work:
        step = measure_step_seconds(w.settings, device, w.method)
        per_example = measure_eval_seconds(w.settings, device, w.method)
        evaluations, examples = w.evaluation_count(), evaluated_examples(w.settings)
        size = state_dict_bytes(w.settings)
        items.append({"model": w.settings.model, "model_kwargs": dict(w.settings.model_kwargs),
                      "method": w.method, "batch_size": w.settings.batch_size, "iterations": w.iterations,
                      "runs": w.runs, "step_seconds": step, "seconds": w.iterations * step,
                      "evaluations": evaluations, "examples_per_evaluation": examples,
                      "eval_seconds_per_example": per_example,
                      "eval_seconds": evaluations * examples * per_example, "state_dict_bytes": size})
        train_s += w.iterations * step
        eval_s += evaluations * examples * per_example
        disk += w.runs * STORED_STATES_PER_RUN * size
        iterations += w.iterations
        runs += w.runs
    seconds = train_s + eval_s
    return {"iterations": iterations, "runs": runs, "seconds": seconds, "hours": seconds / 3600,
            "training_seconds": train_s, "evaluation_seconds": eval_s,
            "disk_bytes": disk, "device": str(device), "items": items,
            "counts": "training steps and the runs' evaluations (train subset, validation, test); not counted: "
                      "checkpoint writes, interpolation paths, untrained-mask evaluations; runs already in the "
                      "store are reused, so this is an upper bound"}


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def format_estimate(figure: Figure, plan: Plan, est: Mapping[str, Any]) -> str:
    from lthlib.threads import training_threads

    lines = [f"Estimate for {figure.id} at scale {plan.scale!r} ({len(plan.seeds)} seed(s): "
             f"{', '.join(map(str, plan.seeds))}), {_describe_networks(plan)}:"]
    for item in est["items"]:
        what = item["model"] + (f" {item['model_kwargs']}" if item["model_kwargs"] else "") + \
            (" (edge-popup scores)" if item["method"] != "train" else "")
        lines.append(f"  {what}, batch {item['batch_size']}: {item['iterations']:,} iterations x "
                     f"{1000 * item['step_seconds']:.2f} ms/step = {_duration(item['seconds'])}")
    lines.append(f"  training iterations: {est['iterations']:,} in {est['runs']:,} runs; step times measured "
                 f"here ({TIMED_STEPS} steps on random data, {est['device']}, {training_threads()} thread(s))")
    lines.append(f"  evaluation: {sum(i['evaluations'] for i in est['items']):,} evaluations of the train subset, "
                 f"validation and test sets = {_duration(est['evaluation_seconds'])}")
    lines.append(f"  time: about {est['hours']:.4g} hours ({_duration(est['seconds'])}): training steps and "
                 "evaluations (checkpoints and interpolation not counted); runs already stored are reused")
    lines.append(f"  disk: about {_size(est['disk_bytes'])} in the results folder "
                 f"({est['runs']:,} runs x {STORED_STATES_PER_RUN} state dicts)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- provenance
def dataset_checksum(data: Dataset) -> dict[str, Any]:
    """SHA-256 of the tensors actually used (train, validation and test inputs and labels,
    after the split and normalisation; each with its name, shape and dtype), and their shapes."""
    h = hashlib.sha256()
    tensors = {}
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        t = getattr(data, name).detach().cpu().contiguous()
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.numpy().tobytes())
        tensors[name] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
    return {"name": data.name, "sha256": h.hexdigest(), "tensors": tensors,
            "sha256_of": "for x_train, y_train, x_val, y_val, x_test, y_test in this order: the name, shape and "
                         "dtype, then the bytes (after the validation split and normalisation)"}


def git_info(root: Path = REPO_ROOT) -> dict[str, Any]:
    """``git rev-parse HEAD`` of the repository lthlib is imported from (None outside one)
    and whether tracked files differ from it."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


def _device_words(data: Dataset) -> str:
    device = data.x_train.device
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def _published_note(figure: Figure, drawn: Sequence[Published]) -> str:
    """The line under a figure that says which published values it shows, and why not."""
    if drawn:
        return ("black dash-dot lines: published values, as stated in "
                + "; ".join(dict.fromkeys(p.citation for p in drawn)))
    if figure.published:
        about = sorted({f"{k}={v}" for p in figure.published for k, v in p.applies_to.items()})
        return (f"published values ({'; '.join(dict.fromkeys(p.citation for p in figure.published))}) not drawn: "
                f"they are about {', '.join(about)}, not this run's networks")
    return f"{NO_PUBLISHED} for this figure"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------ running
def load_data(plan: Plan, device: str | torch.device = "auto", download: bool = True) -> Dataset:
    """The dataset every network of the plan reads, as ``training.data_for`` loads it;
    raises ``DatasetUnavailableError`` (naming the files) before anything is trained."""
    from lthlib.data import load_dataset
    from lthlib.devices import resolve_device

    ts = plan.data_settings
    keys = {(s.dataset, s.validation, s.validation_size, s.train_size) for s in plan.networks}
    if len(keys) != 1:
        raise SettingsError(f"{plan.figure}: its networks read different data {sorted(keys, key=str)}")
    return load_dataset(ts.dataset, validation=ts.validation, validation_size=ts.validation_size,
                        train_size=ts.train_size,
                        download=download, device=resolve_device(device))


def check_data_files(plan: Plan) -> list[data_files.FileCheck]:
    """The plan's dataset files against their published checksums (``lthlib.data_files``);
    raises ``DataChecksumError`` (nothing trained) when one is not the published file."""
    return data_files.check_files(plan.data_settings.dataset)


class NotConfirmed(RuntimeError):
    """The run was not confirmed (paper scale without ``--yes``)."""


# ------------------------------------------------------------------------------ cluster
# Modules that never compute a stored number (command line, course site, assignments):
# left out of ``code_digest`` so that editing them does not stop a sweep.
NOT_COMPUTING = ("__main__.py", "site.py", "assignments.py")


def code_digest() -> str:
    """A short SHA-256 of lthlib's source files (``NOT_COMPUTING`` left out): every node
    of a sweep must compute with the same code, since a store key names the settings, not
    the code."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        if path.name not in NOT_COMPUTING:
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


PREPARE = "shared runs"  # the part of a seed its other parts need first (``Figure.prepare``)


@dataclass(frozen=True)
class SeedJob:
    """One seed of a figure as a task (``run_seed_job``): the worker makes the same plan
    (``figure``, ``scale``, ``seeds`` as given), loads the data on ``device`` and runs the
    figure's runner for ``seed`` into the store at ``results``, a folder every node sees.
    ``expect`` holds what the process that started the sweep computes with (``code``,
    ``numerics``, ``data_sha256``) and a ``marker`` file it wrote in ``results``; the
    worker checks them all before training, so that nothing is stored where, or under
    keys that, the figure would not read."""

    figure: str
    scale: str
    seeds: int | None
    seed: int
    results: str
    device: str = "auto"
    download: bool = True
    expect: Mapping[str, Any] = field(default_factory=dict)
    # None: every run of the seed; PREPARE: what its parts share (``Figure.prepare``); else
    # one of ``Figure.parts``
    part: str | None = None

    def describe(self) -> str:
        return f"{self.figure} seed {self.seed}" + (f", {self.part}" if self.part else "")


def run_seed_job(job: SeedJob) -> dict[str, Any]:
    with passes_within_units():
        return _run_seed_job(job)


def _run_seed_job(job: SeedJob) -> dict[str, Any]:
    """Run one seed of a figure into the store (no drawing); returns where and how it ran:
    ``{"seed", "host", "device", "numerics", "seconds"}``. Module-level, so that a Ray
    worker (or a local process) can import it."""
    from lthlib.cluster import ClusterError
    from lthlib.store import Store
    from lthlib.threads import numerics

    t0 = time.perf_counter()
    host = platform.node()
    figure = FIGURES[job.figure]
    plan = figure.seed_plan(figure.make_plan(job.scale, job.seeds), job.seed)
    expect = dict(job.expect)
    if expect.get("code") not in (None, code_digest()):
        raise ClusterError(f"{host} runs other lthlib code (from {Path(__file__).resolve().parent}) than the "
                           "machine that started the sweep: install the same checkout of the repository on every "
                           "node (or share it), then run the command again; nothing was trained")
    if expect.get("marker") and not Path(expect["marker"]).exists():
        raise ClusterError(f"the results folder {job.results} on {host} is not the folder the sweep was started "
                           f"with (its check file {Path(expect['marker']).name} is not there): --results must be on "
                           "a filesystem every node mounts at the same path; nothing was trained")
    try:
        data = load_data(plan, job.device, job.download)
    except DatasetUnavailableError as err:
        raise DatasetUnavailableError(f"on {host}: {err}\nEvery node needs the dataset: see data/README.md "
                                      "(or set LTHLIB_DATA_DIR to a folder on the shared filesystem)") from None
    here = numerics()
    if expect.get("numerics") not in (None, here):
        raise ClusterError(f"{host} would store its runs under {here} but the machine that started the sweep "
                           f"reads them under {expect['numerics']} (torch version, thread count, device type, CPU "
                           "kernel set): use the same environment (requirements.txt) and --device on every node, "
                           "and on CPUs of different kinds the same ATEN_CPU_CAPABILITY (e.g. avx2) on every node "
                           "and here; nothing was trained")
    sha = dataset_checksum(data)["sha256"]
    if expect.get("data_sha256") not in (None, sha):
        raise ClusterError(f"the {plan.data_settings.dataset} data on {host} differs from the data of the machine "
                           f"that started the sweep (sha256 {sha[:12]} against {expect['data_sha256'][:12]}): use "
                           "the same data files on every node; nothing was trained")
    store = Store(job.results)
    if job.part is None:
        figure.runner(plan, data, store)
    elif figure.parts is None or figure.part_plan is None:
        raise SettingsError(f"{figure.id} is not split into parts (asked for part {job.part!r})")
    elif job.part == PREPARE:
        if figure.prepare is None:
            raise SettingsError(f"{figure.id}'s parts share no runs (asked for part {job.part!r})")
        figure.prepare(plan, data, store)
    else:
        figure.runner(figure.part_plan(plan, job.part), data, store)
    return {"seed": job.seed, "part": job.part, "host": host, "device": _device_words(data), "numerics": here,
            "seconds": round(time.perf_counter() - t0, 3)}


def _task_gpus(device: str, cluster_gpus: float) -> bool:
    """Whether each task asks for a GPU: ``--device cuda``: yes; ``cpu``/``mps``: no;
    ``auto``: when the cluster has GPUs."""
    name = str(device).strip().lower()
    if name.startswith("cuda"):
        return True
    if name == "auto":
        return cluster_gpus > 0
    return False


def run_on_cluster(figure: Figure, plan: Plan, address: str, *, seeds: int | None, results: str | Path | None,
                   device: str, download: bool, data: Dataset,
                   echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train every seed of ``plan`` as one Ray task (``run_seed_job``) on the cluster at
    ``address``, into the store ``results`` (a folder every node sees); returns what the
    provenance records (``address``, the cluster's size, ``gpus_per_task``, and each
    task's ``seed``, ``host``, ``device``, ``seconds``). ``data`` is this process's copy:
    the tasks must compute on the same device type, with the same code and data, so that
    drawing the figure here finds every run (checked before anything is trained)."""
    import uuid

    from lthlib.cluster import ClusterError, connect, map_connected, task_env
    from lthlib.threads import numerics

    if results is None:
        raise ClusterError("--ray needs a results folder that every node of the cluster sees (--results on a "
                           "shared filesystem): the tasks store their runs there and this process reads them")
    root = Path(results).resolve()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / f".cluster-check-{uuid.uuid4().hex[:12]}"
    marker.write_text(f"written by {platform.node()} to check that the Ray tasks see this folder; removed after\n")
    here = data.x_train.device.type
    expect = {"code": code_digest(), "numerics": numerics(), "data_sha256": dataset_checksum(data)["sha256"],
              "marker": str(marker)}
    env = task_env()
    try:
        with connect(address, env) as info:
            gpus = _task_gpus(device, info.gpus)
            # a task that asks Ray for no GPU still sees the node's GPUs (Ray leaves CUDA_VISIBLE_DEVICES
            # unset): "auto" would train there on a GPU it was not given, so it is told "cpu"
            task_device = "cuda" if gpus else ("cpu" if str(device).strip().lower() == "auto" else str(device))
            if torch.device(task_device).type != here:
                raise ClusterError(
                    f"the Ray tasks would train on {torch.device(task_device).type!r} ({info.describe()}) and store "
                    f"their runs under that device type, but this machine computes on {here!r} and would not find "
                    "them when it draws the figure (it would train them all again). Run this command on a node like "
                    "the workers (e.g. `ray job submit --entrypoint-num-gpus 1 -- python -m lthlib.reproduce ...` "
                    "for a GPU node), or choose the tasks' device with --device "
                    f"{'cpu' if here == 'cpu' else torch.device(task_device).type}. Nothing was trained.")
            def job(seed: int, part: str | None = None) -> SeedJob:
                return SeedJob(figure.id, plan.scale, seeds, int(seed), str(root), task_device, download, expect,
                               part)

            parts = figure.parts(plan) if figure.parts is not None else []
            if len(parts) <= 1:
                jobs = [job(s) for s in plan.seeds]
                split = "one task per seed (Figure.seed_plan, run_seed_job)"
                echo(f"Training {figure.id} on the Ray cluster at {address} ({info.describe()}): one task per "
                     f"seed, {len(jobs)} task(s); store: {root}")
                tasks = map_connected(info, run_seed_job, jobs, gpus=gpus, env=env, describe=SeedJob.describe,
                                      echo=echo)
            else:
                shared = figure.prepare is not None
                split = ((f"per seed, first what its parts share ({PREPARE}: Figure.prepare), then " if shared
                          else "") + f"one task per seed and part ({', '.join(parts)})")
                echo(f"Training {figure.id} on the Ray cluster at {address} ({info.describe()}): "
                     + (f"{len(plan.seeds)} task(s) for the runs each seed's parts share, then " if shared else "")
                     + f"{len(plan.seeds) * len(parts)} task(s), one per seed and part; store: {root}")
                tasks = []
                if shared:
                    tasks += map_connected(info, run_seed_job, [job(s, PREPARE) for s in plan.seeds], gpus=gpus,
                                           env=env, describe=SeedJob.describe, echo=echo)
                tasks += map_connected(info, run_seed_job, [job(s, part) for s in plan.seeds for part in parts],
                                       gpus=gpus, env=env, describe=SeedJob.describe, echo=echo)
    finally:
        marker.unlink(missing_ok=True)
    return {**info.to_dict(), "gpus_per_task": 1 if gpus else 0, "task_device": task_device,
            "split": split, "tasks": tasks}


@dataclass
class Reproduction:
    """What ``reproduce`` did: the estimate, and (unless only estimating) the files written
    and the provenance."""

    figure: Figure
    plan: Plan
    estimate: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None


def reproduce(figure_id: str, scale: str = "quick", seeds: int | None = None, *, out: str | Path,
              results: str | Path | None, device: str = "auto", download: bool = True,
              confirm: Callable[[Figure, Plan, dict], bool] | None = None, estimate_only: bool = False,
              argv: Sequence[str] | None = None, echo: Callable[[str], None] = print,
              ray: str | None = None) -> Reproduction:
    """See ``_reproduce``. Populations are planned within each seed and rewind point
    (``population.passes_within_units``), so the runs a cluster's tasks compute seed by
    seed and part by part are the runs this process then reads to draw the figure."""
    with passes_within_units():
        return _reproduce(figure_id, scale, seeds, out=out, results=results, device=device, download=download,
                          confirm=confirm, estimate_only=estimate_only, argv=argv, echo=echo, ray=ray)


def _reproduce(figure_id: str, scale: str = "quick", seeds: int | None = None, *, out: str | Path,
               results: str | Path | None, device: str = "auto", download: bool = True,
               confirm: Callable[[Figure, Plan, dict], bool] | None = None, estimate_only: bool = False,
               argv: Sequence[str] | None = None, echo: Callable[[str], None] = print,
               ray: str | None = None) -> Reproduction:
    """Run figure ``figure_id`` at ``scale`` with ``seeds`` seeds (None: its default), reusing
    the store in ``results``, and write ``<out>/<id>.png``, ``.pdf`` and
    ``.provenance.json``. The estimate is printed first, then the dataset is loaded (a
    missing one raises ``DatasetUnavailableError`` before any training), then ``confirm``
    (if given) is asked and ``NotConfirmed`` raised when it says no.

    ``ray``: a Ray cluster's address (``auto``, ``HOST:PORT``, ``ray://HOST:10001``,
    ``local``): every seed is then trained as one Ray task into ``results`` (a folder every
    node sees; ``run_on_cluster``), and the figure is drawn here from the store.
    ``lthlib.cluster.ClusterError`` says what to do when Ray is missing, the cluster cannot
    be reached or a task failed (finished seeds stay stored: running again resumes)."""
    import matplotlib.pyplot as plt

    from lthlib import __version__
    from lthlib.parallel import default_workers
    from lthlib.store import Store
    from lthlib.threads import training_threads

    if figure_id not in FIGURES:
        raise SettingsError(f"unknown figure {figure_id!r}; known: {sorted(FIGURES)}")
    figure = FIGURES[figure_id]
    if ray is not None and not estimate_only:
        from lthlib.cluster import import_ray

        import_ray()  # Ray missing: say so before anything else
    started_at, t0 = _now(), time.perf_counter()
    plan = figure.make_plan(scale, seeds)
    est = estimate(plan, device)
    echo(format_estimate(figure, plan, est))
    done = Reproduction(figure, plan, est)
    if estimate_only:
        return done
    try:
        data = load_data(plan, device, download)
    except DatasetUnavailableError as err:
        raise DatasetUnavailableError(f"{figure.id} at scale {scale!r} needs the dataset "
                                      f"{plan.data_settings.dataset!r}, which is not available; nothing was "
                                      f"trained.\n{err}\nSee data/README.md for where the files go.") from None
    file_checks = check_data_files(plan)
    echo(data_files.summary(file_checks))
    if confirm is not None and not confirm(figure, plan, est):
        raise NotConfirmed(f"{figure.id} at scale {scale!r} not run (not confirmed; pass --yes to skip the question)")
    store = Store(results)
    cluster = None
    if ray is not None:
        cluster = run_on_cluster(figure, plan, ray, seeds=seeds, results=results, device=device, download=download,
                                 data=data, echo=echo)
        echo(f"Drawing {figure.id} from the store (its runs were trained by the cluster's tasks) ...")
    else:
        echo(f"Running {figure.id} ({_describe_networks(plan)}; store: {results}) ...")
    fig, drawn = figure.draw(figure, plan, data, store)
    fig.suptitle(f"{figure.id} ({scale} scale): {_describe_networks(plan)}, {len(plan.seeds)} seed(s)\n"
                 f"reproduces {figure.cite}: {figure.paper_figure.split(' (')[0]}", fontsize=9, y=1.0, va="bottom")
    note = _published_note(figure, drawn)
    unverified = [c for c in file_checks if c.status != "ok"]
    if unverified:  # e.g. stand-in files in MNIST's format: the figure says so, not only the provenance
        note += (f"\ndata: {len(unverified)} of {len(file_checks)} dataset files not verified against published "
                 "checksums (data_files in the provenance)")
    fig.text(0.01, -0.03, note, fontsize=7, ha="left", va="top")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"png": out / f"{figure.id}.png", "pdf": out / f"{figure.id}.pdf",
             "provenance": out / f"{figure.id}.provenance.json"}
    fig.savefig(files["png"], dpi=150, bbox_inches="tight")
    fig.savefig(files["pdf"], bbox_inches="tight")
    plt.close(fig)
    wall = time.perf_counter() - t0
    git = git_info()
    provenance = {
        "figure": figure.id,
        "description": figure.description,
        "paper": figure.paper,
        "paper_figure": figure.paper_figure,
        "cite": figure.cite,
        "published_values": [{**p.to_dict(), "drawn": p in drawn} for p in figure.published],
        "scale": scale,
        "scale_means": SCALE_WORDS[scale],
        "networks": [ts.model for ts in plan.networks],
        "seeds": list(plan.seeds),
        "seeds_count": len(plan.seeds),
        "settings": plan.settings,
        "lthlib_version": __version__,
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device": _device_words(data),
        "threads": training_threads(),
        "workers": default_workers(1 << 16, data.x_train.device.type == "cpu"),
        "cluster": cluster,
        "wall_time_s": round(wall, 3),
        "dataset": dataset_checksum(data),
        "data_files": [c.to_dict() for c in file_checks],
        "estimate": est,
        "results_dir": None if results is None else str(Path(results).resolve()),
        "files": {k: str(v.resolve()) for k, v in files.items() if k != "provenance"},
        "command_line": shlex.join(["python", "-m", "lthlib", "reproduce", *map(str, argv)]) if argv is not None
        else None,
        "argv": None if argv is None else [str(a) for a in argv],
        "process_command_line": shlex.join(getattr(sys, "orig_argv", sys.argv)),
        "started_at": started_at,
        "finished_at": _now(),
    }
    tmp = files["provenance"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(provenance, indent=2, default=str) + "\n")
    os.replace(tmp, files["provenance"])
    echo(f"Wrote {files['png']}, {files['pdf']} and {files['provenance']} in {_duration(wall)}")
    done.files, done.provenance = files, provenance
    return done


# ---------------------------------------------------------------------------------- CLI
def list_figures() -> str:
    width = max(len(i) for i in FIGURES)
    return "\n".join(f"{fid.ljust(width)}  {f.description}" for fid, f in FIGURES.items())


def _ask(figure: Figure, plan: Plan, est: Mapping[str, Any]) -> bool:
    try:
        answer = input(f"Run {figure.id} at paper scale (about {est['hours']:.3g} hours here)? [y/N] ")
    except (EOFError, OSError):  # stdin closed, or not readable (captured)
        print("\n(no answer: standard input cannot be read; pass --yes to run without asking)")
        return False
    return answer.strip().lower() in ("y", "yes")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lthlib reproduce``: ``--list``, or ``ID [--scale ...] [--seeds N] [--out DIR]
    [--results DIR] [--yes] [--ray ADDRESS]``. Returns the exit status (0 done; 1 not
    confirmed; 2 cannot start or finish: missing dataset, bad arguments, Ray missing or the
    cluster unreachable, a task failed)."""
    from lthlib.store import folder_problem

    parser = argparse.ArgumentParser(
        prog="python -m lthlib reproduce",
        description="Reproduce a paper's figure by name (see --list), with provenance: writes <id>.png, "
                    "<id>.pdf and <id>.provenance.json.")
    parser.add_argument("figure", nargs="?", metavar="ID", help="the figure id (see --list)")
    parser.add_argument("--list", action="store_true", help="list the figure ids, one line each")
    parser.add_argument("--scale", choices=SCALES, default="quick",
                        help="smoke: seconds (tests); quick: minutes on a CPU, offline MNIST-1D stand-in "
                             "(default); paper: the published model and dataset")
    parser.add_argument("--seeds", type=int, default=None, metavar="N",
                        help="independent seeds (default: the figure's, as its notebook; smoke runs at most 2)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for the figure and its provenance (default: build/reproduce/<scale>)")
    parser.add_argument("--results", default=str(REPO_ROOT / "results"), metavar="DIR",
                        help="experiment store, shared with the notebooks and reused (default: results/)")
    parser.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, mps")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation at paper scale")
    parser.add_argument("--no-download", action="store_true",
                        help="never download a dataset; stop when its files are not in the data folder")
    parser.add_argument("--estimate-only", action="store_true", help="print the estimate and stop")
    parser.add_argument("--ray", default=None, metavar="ADDRESS",
                        help="train the seeds as Ray tasks on a cluster (one task per seed, one GPU each where the "
                             "cluster has GPUs), then draw the figure here from the store: auto (the cluster "
                             "`ray start` started), HOST:PORT, ray://HOST:10001, or local; --results must be a "
                             "folder every node sees (default: worker processes on this machine)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.list:
        print(list_figures())
        return 0
    if args.figure is None:
        parser.error("name a figure ID (python -m lthlib reproduce --list shows them)")
    if args.figure not in FIGURES:
        parser.error(f"unknown figure {args.figure!r}; known: {', '.join(FIGURES)}")
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds {args.seeds}: must be an integer >= 1")
    out = Path(args.out) if args.out is not None else REPO_ROOT / "build" / "reproduce" / args.scale
    for flag, path in (("out", out), ("results", args.results)):
        problem = folder_problem(path)
        if problem:
            parser.error(f"--{flag} {path}: {problem}")
    try:
        from lthlib.devices import resolve_device

        resolve_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    from lthlib.cluster import ClusterError, import_ray

    if args.ray is not None and not args.estimate_only:
        try:
            import_ray()
        except ClusterError as err:
            parser.error(str(err))
    confirm = _ask if args.scale == "paper" and not args.yes and not args.estimate_only else None
    try:
        reproduce(args.figure, args.scale, args.seeds, out=out, results=args.results, device=args.device,
                  download=not args.no_download, confirm=confirm, estimate_only=args.estimate_only,
                  argv=list(argv) if argv is not None else sys.argv[1:], ray=args.ray)
    except (DatasetUnavailableError, ClusterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NotConfirmed as err:
        print(str(err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
