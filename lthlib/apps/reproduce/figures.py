"""What a reproducible figure is (``Figure``: a plan of the experiment at a scale, a runner,
a drawing, the paper's published values) and the drawing helpers every recipe shares."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from lthlib.data import files as data_files
from lthlib.data.datasets import Dataset
from lthlib.settings import SCALES, SettingsError, TrainSettings, seeds_for
# notebook 04's values, read from the module that owns them (the width study's fraction
# kept; Zhou et al.'s criteria, fractions kept per layer at smoke and quick, starts)



LTHLIB_DIR = Path(__file__).resolve().parents[2]  # the lthlib package
REPO_ROOT = LTHLIB_DIR.parent

# Input shape and number of classes of each dataset as ``lthlib.data.datasets.load_dataset`` returns
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
    default_seeds: int  # settings.HEADLINE_SEEDS, as the figure's notebook
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
        loading what ``store`` (a ``lthlib.core.store.Store``) holds, and return the matplotlib
        figure. (``reproduce`` adds the estimate, the files and the provenance.)"""
        from lthlib.core.store import Store

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
        from lthlib.core.store import Store

        plan = self.make_plan(scale, seeds)
        if seed is not None:
            plan = self.seed_plan(plan, seed)
        data = data if data is not None else load_data(plan, device)
        return self.runner(plan, data, store if store is not None else Store(None))


# ------------------------------------------------------------------------------ helpers
def records(T: int, start: int, every: int) -> int:
    """Points on the curve of a run trained from ``start`` to ``T`` evaluating every
    ``every`` iterations: at the start, at each multiple of ``every`` after it, and at T
    (``training.train``)."""
    return 1 + T // every - start // every + (1 if T % every else 0)


def imp_iterations(imp, dense: bool = True) -> tuple[int, int, int]:
    """(training iterations, stored runs, evaluations) of one IMP run of ``imp`` (one seed):
    the dense run (when ``dense``), then per round the ticket and each control, from the
    rewind iteration k to T (``reinit_full`` from 0); at k = 0 ``reinit_full`` starts
    exactly like ``reinit`` and the library trains it once."""
    T, k, e = imp.train.iterations, imp.rewind_iteration, imp.train.eval_every
    iterations, runs, evals = (T, 1, records(T, 0, e)) if dense else (0, 0, 0)
    for r in range(1, imp.rounds + 1):
        iterations, runs, evals = iterations + T - k, runs + 1, evals + records(T, k, e)
        controls = imp.controls_at(r)
        for c in controls:
            if c == "reinit_full" and k == 0 and "reinit" in controls:
                continue
            start = 0 if c == "reinit_full" else k
            iterations, runs, evals = iterations + T - start, runs + 1, evals + records(T, start, e)
    return iterations, runs, evals


def sweep_iterations(imp, ks: Sequence[int], control_ks: Sequence[int]) -> tuple[int, int, int]:
    """(iterations, runs, evaluations) of ``run_rewind_sweep`` for one seed: one dense run
    shared by every k."""
    T = imp.train.iterations
    iterations, runs, evals = T, 1, records(T, 0, imp.train.eval_every)
    for k in ks:
        its, n, ev = imp_iterations(imp.replace(rewind_iteration=k, controls=imp.controls if k in control_ks
                                                 else ()), dense=False)
        iterations, runs, evals = iterations + its, runs + n, evals + ev
    return iterations, runs, evals


def panel_title(ts: TrainSettings) -> str:
    return f"{ts.model} on {ts.dataset}"


def describe_networks(plan: Plan) -> str:
    return ", ".join(dict.fromkeys(panel_title(ts) for ts in plan.networks))


def draw_published(ax, published: Sequence[Published], plan: Plan, index: int = 0, *,
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


def union(drawn: list[Published], more: Sequence[Published]) -> list[Published]:
    """The values drawn so far and ``more``, each once, in order."""
    return drawn + [p for p in more if p not in drawn]


def overlay_each_axis(axes: Sequence[Any], figure: "Figure", plan: Plan) -> list[Published]:
    """``draw_published`` on every panel of a figure whose panels carry their own legends
    (made before the overlay): a panel that gets a line gets its legend again, with it."""
    drawn: list[Published] = []
    for ax in axes:
        got = draw_published(ax, figure.published, plan, 0)
        old = ax.get_legend()
        if got and old is not None:
            title = old.get_title().get_text() or None
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, title=title,
                      title_fontsize=8)
        drawn = union(drawn, got)
    return drawn


def load_data(plan: Plan, device: str | torch.device = "auto", download: bool = True) -> Dataset:
    """The dataset every network of the plan reads, as ``training.data_for`` loads it;
    raises ``DatasetUnavailableError`` (naming the files) before anything is trained."""
    from lthlib.core.devices import resolve_device
    from lthlib.data.datasets import load_dataset

    ts = plan.data_settings
    keys = {(s.dataset, s.validation, s.validation_size, s.train_size) for s in plan.networks}
    if len(keys) != 1:
        raise SettingsError(f"{plan.figure}: its networks read different data {sorted(keys, key=str)}")
    return load_dataset(ts.dataset, validation=ts.validation, validation_size=ts.validation_size,
                        train_size=ts.train_size,
                        download=download, device=resolve_device(device))


def check_data_files(plan: Plan) -> list[data_files.FileCheck]:
    """The plan's dataset files against their published checksums (``lthlib.data.files``);
    raises ``DataChecksumError`` (nothing trained) when one is not the published file."""
    return data_files.check_files(plan.data_settings.dataset)
