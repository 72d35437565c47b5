"""The one definition of a *matching* subnetwork (Frankle et al. 2020, "Linear Mode
Connectivity and the Lottery Ticket Hypothesis"), which the glossary, notebook 03's claim,
notebook 05's stability table (``lmc``) and the rewinding sweep (``rewinding``) all read.

Why its own module: a definition the chapters share must have one home that none of them
owns; it imports nothing of lthlib.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Frankle et al. 2020 (LMC) call a subnetwork *matching* when, trained in isolation, it
# reaches "full accuracy" (arXiv v1 abstract), which the paper takes as test accuracy within
# one standard deviation of the unpruned network's (Section 4; read in a reading note of
# arXiv v4, see docs/fidelity.md). lthlib uses this one definition everywhere (the glossary,
# notebook 03's claim, notebook 05's table): the subnetwork's mean accuracy is at most one
# standard deviation of the dense runs below the dense network's mean; above it is matching too.
MATCHING_SDS = 1.0  # how many standard deviations of the dense runs a matching subnetwork may lose


def matching_tolerance(dense_acc: Iterable[float]) -> float:
    """How far below the dense network's mean accuracy a subnetwork may be and still be
    matching: ``MATCHING_SDS`` standard deviations of the dense runs (ddof=1; 0 with one run)."""
    v = np.asarray(list(dense_acc), dtype=float)
    return float(MATCHING_SDS * v.std(ddof=1)) if len(v) > 1 else 0.0


def is_matching(acc: Iterable[float], dense_acc: Iterable[float]) -> bool:
    """Whether a subnetwork with test accuracies ``acc`` (one per seed) is matching against
    the dense network's ``dense_acc``: its mean not more than ``matching_tolerance`` below
    the dense mean (the paper's reading of means over runs, not a test; notebook 03 tests
    the same threshold seed by seed as a claim)."""
    dense = np.asarray(list(dense_acc), dtype=float)
    return bool(np.mean(list(acc)) >= dense.mean() - matching_tolerance(dense))
