"""Structured IMP: iterative pruning of whole neurons (channels), rewound to initialisation.

Notebook 08 asks what accuracy a network keeps when it is pruned in the one shape every
dense kernel runs fast: fewer neurons. This is IMP with a different unit of pruning, in
the spirit of Frankle & Carbin 2019's question and Liu et al. 2019 (*Rethinking the Value
of Network Pruning*): train dense; remove the hidden neurons with the smallest L1 norm of
incoming weights (``lthlib.experiments.sparse_exec.neuron_mask``), so that about the target fraction
of weights remains; rewind the survivors to their initial values; train; repeat at the
next, lower density from the network just trained.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lthlib.data.datasets import Dataset
from lthlib.engine.training import Run, model_for
from lthlib.masks import Mask


def structured_masks_key(densities: Sequence[float]) -> dict[str, Any]:
    """The store key part of a structured run: every density of the path that led to it."""
    return {"structured_path": [round(float(d), 12) for d in densities]}


def run_structured(results: Sequence[Any], data: Dataset, densities: Sequence[float], *,
                   store: Any = None, workers: int | None = None,
                   progress: bool | None = None) -> dict[tuple[float, int], Run]:
    """Structured IMP from each IMP run's dense network (``IMPResult``: its trained weights
    and its initialisation), at ``densities`` from high to low, every seed of a level
    trained together as one population. Returns ``{(density, seed): Run}``; each Run keeps
    its final weights (the next level is pruned from them) and its mask (``Run.mask``).
    Stored as kind ``"structured"``, keyed by the training settings and the densities of
    the path so far."""
    from lthlib.core.store import Store
    from lthlib.engine.passes import stored_members
    from lthlib.experiments.sparse_exec import neuron_keep_for, neuron_mask

    store = store if store is not None else Store(None)
    levels = sorted({float(d) for d in densities}, reverse=True)
    if not levels or not all(0.0 < d < 1.0 for d in levels):
        raise ValueError(f"densities={list(densities)}: give fractions of weights kept in (0, 1)")
    trained = {res.dense.train_settings.seed: res.dense.final_state for res in results}
    out: dict[tuple[float, int], Run] = {}
    for i, density in enumerate(levels):
        extra = structured_masks_key(levels[: i + 1])
        specs = []
        for res in results:
            settings = res.dense.train_settings
            model = model_for(settings, data)
            model.load_state_dict(trained[settings.seed])
            mask = neuron_mask(model, neuron_keep_for(model, density))
            specs.append((settings, res.dense.weights_at[0], mask))
        members = [(state, mask, 0, [], settings) for settings, state, mask in specs]
        runs = stored_members(store, [("structured", settings, extra) for settings, _, _ in specs], members, data,
                              progress=progress, workers=workers,
                              keep=lambda j, run, _: Run.from_dict({**run.to_dict(), "weights_at": {}}))
        for (settings, _, mask), run in zip(specs, runs):
            out[(density, settings.seed)] = run
            trained[settings.seed] = run.final_state
    return out


def structured_mask(run: Run) -> Mask:
    """The neuron mask a structured run trained under."""
    return Mask(run.mask)


__all__ = ["run_structured", "structured_masks_key", "structured_mask"]
