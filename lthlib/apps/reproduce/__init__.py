"""Reproduce the papers' figures by name, with provenance: ``python -m lthlib reproduce ID``.

The package: ``figures`` (what a figure is: ``Figure``, ``Plan``, ``Published``; shared drawing
helpers), ``recipes`` (each paper figure's plan, runs and drawing), ``registry`` (``FIGURES`` and
the published values), ``estimate``, ``provenance``, ``running`` (local and Ray) and ``cli``.

``FIGURES`` maps a figure id (``fc2019-fig3``, ``frankle2020-instability``, ...) to a
``Figure``: a one-line description, the paper and figure it reproduces, a ``plan`` (the
settings of the experiment at a scale with N seeds, and how much training that is) and a
``draw`` that runs it through the library's own runners (``imp.run_imp_seeds``,
``rewinding.run_rewind_sweep``, ``lmc.measure_instability``, ``supermask_study``'s runners), reusing
every result the store already holds, and draws it with ``lthlib.report.plots``. Nothing here
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
run (``lthlib.engine.cluster``; docs/reproduce.md, "On a cluster").

**Published values.** A figure may carry values stated in its paper (``Published``): each
with its citation, ``approximate=True`` when read off a plot, drawn only on a run of the
paper's own model and dataset. Only values checked against the paper's text are entered,
or, where the text could not be read, values computed from the authors' released data behind
the paper's figures (the citation says which); a figure without any says so in its description (the project's rule: never type a number
that was not verified; papers' numbers are quoted as the paper's, with the citation).
"""
from __future__ import annotations

from lthlib.apps.reproduce.cli import list_figures, main
from lthlib.apps.reproduce.estimate import estimate, evaluated_examples, format_estimate, measure_step_seconds
from lthlib.settings import SettingsError
from lthlib.apps.reproduce.figures import (INTERPOLATION_POINTS, PAPER_WIDTH_MODEL, PAPER_WIDTH_MULTIPLIERS, Figure, Plan,
                                      Published, Work, check_data_files, draw_published, load_data)
from lthlib.apps.reproduce.provenance import dataset_checksum, git_info
from lthlib.apps.reproduce.registry import FIGURES, NO_PUBLISHED
from lthlib.apps.reproduce.running import (PREPARE, NotConfirmed, Reproduction, SeedJob, code_digest, reproduce,
                                      run_on_cluster, run_seed_job)
# notebook 04's values, cited by docs/fidelity.md as lthlib.apps.reproduce.*; owned by lthlib.experiments.supermask_study
from lthlib.experiments.supermask_study import WIDTH_STUDY_DENSITY, ZHOU_CRITERIA, ZHOU_DENSITIES, ZHOU_STARTS

__all__ = ["FIGURES", "NO_PUBLISHED", "Figure", "Plan", "Published", "Work", "SeedJob", "Reproduction",
           "NotConfirmed", "PREPARE", "SettingsError", "main", "list_figures", "reproduce", "run_on_cluster",
           "run_seed_job", "code_digest", "estimate", "format_estimate", "evaluated_examples", "measure_step_seconds",
           "load_data", "check_data_files", "draw_published", "dataset_checksum", "git_info",
           "INTERPOLATION_POINTS", "PAPER_WIDTH_MODEL", "PAPER_WIDTH_MULTIPLIERS",
           "WIDTH_STUDY_DENSITY", "ZHOU_CRITERIA", "ZHOU_DENSITIES", "ZHOU_STARTS"]
