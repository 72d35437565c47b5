"""Notebook 06's experiment: masks chosen at initialisation, trained from there, against
IMP tickets at the same densities (Frankle, Dziugaite, Roy & Carbin 2021, *Pruning Neural
Networks at Initialization: Why are We Missing the Mark?*).

Every run is one network of ``train`` settings and seed, masked at initialisation by a
``lthlib.pai`` method at one of the IMP run's round densities, and trained from its
initial weights for the full schedule. Variants are the paper's sanity checks:

- ``"none"``: the method's mask on the initial weights;
- ``"shuffle"``: each layer's kept positions shuffled (``pai.shuffle_within_layers``):
  only the method's per-layer densities survive;
- ``"reinit"``: the method's mask on fresh weights (the ``reinit`` stream);
- ``"invert"``: the weights the method would prune kept instead, at the same density.

The IMP side needs nothing new: the ticket's ``random_mask`` control *is* its mask
shuffled within layers (same per-layer densities, same initial weights) and its
``reinit`` control is the reinitialisation check, so the IMP runs of notebook 02 (reused
from the store) answer the same questions for IMP.

Runs are stored (kind ``"pai"``) and trained as populations (``lthlib.population``).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lthlib.config import PAI_PRESETS, SettingsError, TrainSettings
from lthlib.data import Dataset
from lthlib.masks import Mask
from lthlib.pai import METHODS, pai_mask, shuffle_within_layers
from lthlib.store import Store
from lthlib.training import Run, model_for

VARIANTS = ("none", "shuffle", "reinit", "invert")
VARIANT_LABELS = {"none": "as chosen", "shuffle": "shuffled within layers",
                  "reinit": "reinitialised", "invert": "inverted scores"}

RunKey = tuple[str, str, float, int]  # (method, variant, density, seed)


@dataclass(frozen=True)
class PaIExperiment:
    """What notebook 06 runs at a scale: the methods, the IMP rounds whose densities they
    are compared at, the round of the sanity checks, the methods checked, and the rewind
    iteration of the "IMP with rewinding" comparison, and the model the scale runs when
    the notebook names none (``lthlib.for_scale(..., default_model=)``)."""

    methods: tuple[str, ...]
    rounds: tuple[int, ...]
    sanity_round: int
    sanity_methods: tuple[str, ...]
    rewind_iteration: int
    collapse_densities: tuple[float, ...]
    model: str | None = None  # the published network when the notebook names none
    # GraSP's logit temperature: 200 at paper scale, as the authors' code (alecwangcq/GraSP,
    # pruner/GraSP.py, ``T=200``); 1 (plain logits) at the small scales
    grasp_temperature: float = 1.0


def pai_for_scale(scale: str) -> PaIExperiment:
    """Notebook 06's experiment at ``scale`` (``config.PAI_PRESETS``)."""
    if scale not in PAI_PRESETS:
        raise SettingsError(f"scale={scale!r}: choose one of {list(PAI_PRESETS)}")
    return PaIExperiment(**PAI_PRESETS[scale])


def pai_start(settings: TrainSettings, data: Dataset, method: str, variant: str,
              density: float, grasp_temperature: float = 1.0) -> tuple[dict, Mask]:
    """The starting weights and mask of one run (deterministic in its settings and seed)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: choose one of {list(VARIANTS)}")
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose one of {list(METHODS)}")
    model = model_for(settings, data)
    mask = pai_mask(method, model, data, density, seed=settings.seed, invert=variant == "invert",
                    **({"temperature": grasp_temperature} if method.startswith("grasp") else {}))
    if variant == "shuffle":
        mask = shuffle_within_layers(mask, settings.seed)
    start = model_for(settings, data, stream="reinit") if variant == "reinit" else model
    return start.state_dict(), mask


def run_pai(settings: TrainSettings, data: Dataset, methods: Iterable[str], densities: Iterable[float],
            seeds: Iterable[int], *, variants: Iterable[str] = ("none",), store: Store | None = None,
            workers: int | None = None, progress: bool | None = None,
            grasp_temperature: float = 1.0) -> dict[RunKey, Run]:
    """Every (method, variant, density, seed) run, keyed so: read from the store where it
    is, else masked at initialisation and trained, all missing runs together as
    populations, and stored. ``grasp_temperature``: GraSP's logit temperature
    (``PaIExperiment.grasp_temperature``)."""
    from lthlib.population import stored_members

    store = store if store is not None else Store(None)
    keys = [(m, v, float(d), int(s)) for m in methods for v in variants for d in densities for s in seeds]
    members = []
    for method, variant, density, seed in keys:  # the masks are cheap next to training
        s = settings.replace(seed=seed)
        state, mask = pai_start(s, data, method, variant, density, grasp_temperature)
        members.append((state, mask, 0, [], s))
    trained = stored_members(store, [("pai", _store_key(settings, key, grasp_temperature), None) for key in keys],
                             members, data,
                             progress=progress, workers=workers, keep=lambda i, run, _: _without_weights(run))
    runs = dict(zip(keys, trained))
    return {key: runs[key] for key in keys}


def _store_key(settings: TrainSettings, key: RunKey, grasp_temperature: float = 1.0) -> dict[str, Any]:
    method, variant, density, seed = key
    out = {"train": settings.replace(seed=seed), "method": method, "variant": variant,
           "density": round(density, 12)}
    if method.startswith("grasp") and grasp_temperature != 1.0:
        out["temperature"] = float(grasp_temperature)
    return out


def _without_weights(run: Run) -> Run:
    """Curves and mask only: nothing is pruned from these runs' trained weights."""
    return Run.from_dict({**run.to_dict(), "final_state": {}, "weights_at": {}})


def accuracy_table(runs: dict[RunKey, Run], method: str, variant: str, densities: Sequence[float],
                   seeds: Sequence[int], metric: str = "test_acc") -> list[list[float]]:
    """``[density][seed]`` of ``metric`` where the papers read it (``Run.reported``: at
    early stopping, or at the end for open_lth's CIFAR-10 settings), as for the IMP tickets."""
    return [[runs[(method, variant, float(d), int(s))].reported(metric) for s in seeds]
            for d in densities]
