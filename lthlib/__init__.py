"""lthlib: the library behind the Lottery Ticket notebooks.

Notebooks tell the story; these packages do the work:

- ``core``: errors, identity (``digest``), store, streams, threads, devices, progress, profile
  -- it imports nothing above it;
- ``settings``: ``TrainSettings``, ``for_scale`` and the presets per scale;
- ``data``, ``models``, ``masks``: datasets as tensors, the papers' networks, ``Mask``;
- ``engine``: ``train`` (the reference), ``Run``, populations, passes, parallel and Ray runs;
- ``methods``: pruning scores, pruning at initialisation, supermask criteria, sparse-training
  updaters;
- ``experiments``: one module per chapter, owning its values, runners and results;
- ``report``: claims, glossary, plots, widgets, exercises, grading;
- ``apps``: the command line (``python -m lthlib``), reproduce, site, assignments.

The names below are what a notebook or a script needs first.
"""
from __future__ import annotations

import random

import numpy as np
import torch

__version__ = "0.1.0"


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch, so the same settings give the same numbers on CPU.

    lthlib's own functions take explicit seeds (model initialisation, data order); this is
    for the reader's own experiments in a notebook.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


from lthlib.data.datasets import Dataset, load_dataset  # noqa: E402
from lthlib.engine.training import Run, evaluate, train  # noqa: E402
from lthlib.core.store import Store  # noqa: E402
from lthlib.masks import Mask  # noqa: E402
from lthlib.models.networks import build_model, prunable_parameters  # noqa: E402
from lthlib.settings import TrainSettings, for_scale  # noqa: E402

__all__ = ["Store", "set_seed", "TrainSettings", "for_scale", "Dataset", "load_dataset", "Mask",
           "build_model", "prunable_parameters", "Run", "evaluate", "train"]
