"""lthlib: the library behind the Lottery Ticket notebooks.

Notebooks tell the story; these modules do the work: ``config`` (settings and scales),
``data`` (datasets as tensors), ``models``, ``masks``, ``training``, ``plots``.
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


from lthlib.config import TrainSettings, for_scale  # noqa: E402
from lthlib.data import Dataset, load_dataset  # noqa: E402
from lthlib.masks import Mask  # noqa: E402
from lthlib.models import build_model, prunable_parameters  # noqa: E402
from lthlib.training import Run, evaluate, train  # noqa: E402

__all__ = ["set_seed", "TrainSettings", "for_scale", "Dataset", "load_dataset", "Mask",
           "build_model", "prunable_parameters", "Run", "evaluate", "train"]
