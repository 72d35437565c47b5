"""Notebook 06's experiment: masks chosen at initialisation, trained from there, against
IMP tickets at the same densities (Frankle, Dziugaite, Roy & Carbin 2021, *Pruning Neural
Networks at Initialization: Why are We Missing the Mark?*).

Every run is one network of ``train`` settings and seed, masked at initialisation by a
``lthlib.methods.pai`` method at one of the IMP run's round densities, and trained from its
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

Runs are stored (kind ``"pai"``) and trained as populations (``lthlib.engine.population``).

The notebook reads them through results objects: ``PaIResults`` (section 3: accuracy per
method and density against IMP and IMP with rewinding, the masks' agreement with IMP's),
``SanityResults`` (section 4) and ``CollapseResults`` (section 5, no training); ``answer``
words the notebook's closing answer from its claims' verdicts.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from lthlib.data.datasets import Dataset
from lthlib.experiments.imp import IMPResult, IMPSettings, kind_color, kind_label, run_imp_seeds
from lthlib.masks import Mask
from lthlib.models.networks import prunable_parameters
from lthlib.report.claims import Claim, direction_word, spread, spread_table, verdict_word
from lthlib.settings import SettingsError, TrainSettings
from lthlib.methods.pai import (METHOD_COLORS, METHOD_LABELS, METHODS, critical_density, layer_collapse, mask_agreement,
                        pai_mask, pai_scores, shuffle_within_layers)
from lthlib.core.store import Store
from lthlib.engine.training import Run, model_for


# Notebook 06 (pruning at initialisation, ``pai_study.pai_for_scale``): the IMP rounds of
# notebook 02 whose densities the methods are compared at, the sanity-check round and
# methods (Frankle et al. 2021, Section 5), the rewind iteration of "IMP with rewinding",
# the densities of the layer-collapse table (Tanaka et al. 2020), and the model when the
# notebook names none (paper: ResNet-20 on CIFAR-10, one of Frankle et al. 2021's networks;
# None: the scale's default model).
PAI_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(methods=("snip", "grasp", "synflow", "magnitude", "random", "random_erk"),
                  rounds=(1, 2), sanity_round=2, sanity_methods=("snip", "synflow"),
                  rewind_iteration=25, collapse_densities=(0.01, 0.001), model=None),
    "quick": dict(methods=("snip", "grasp", "synflow", "magnitude", "random", "random_erk"),
                  rounds=(2, 4, 6), sanity_round=6, sanity_methods=("snip", "grasp", "synflow"),
                  rewind_iteration=100, collapse_densities=(0.01, 0.003, 0.001, 0.0003), model=None),
    "paper": dict(methods=("snip", "grasp", "synflow", "magnitude", "random", "random_erk"),
                  rounds=(4, 8, 12, 16, 20), sanity_round=16,
                  sanity_methods=("snip", "grasp", "synflow", "magnitude"),
                  rewind_iteration=500, collapse_densities=(0.01, 0.001, 0.0001), model="resnet20",
                  grasp_temperature=200.0),
}

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
    """Notebook 06's experiment at ``scale`` (``PAI_PRESETS``)."""
    if scale not in PAI_PRESETS:
        raise SettingsError(f"scale={scale!r}: choose one of {list(PAI_PRESETS)}")
    return PaIExperiment(**PAI_PRESETS[scale])


def stored_pai_mask(store: Store, settings: TrainSettings, data: Dataset, method: str, density: float, *,
                    invert: bool = False, grasp_temperature: float = 1.0) -> Mask:
    """``pai_mask`` of the initial weights of ``settings`` (its seed), read from ``store``
    (kind ``"pai_mask"``) where it was computed before: iterative SynFlow's 100 scoring
    rounds per mask cost more than reading all of notebook 06's stored runs, and a run's
    store key names its mask, so a re-run from a full store would otherwise spend minutes
    recomputing masks only to look the runs up."""
    kwargs = {"temperature": grasp_temperature} if method.startswith("grasp") else {}
    extra: dict[str, Any] = {"method": method, "density": round(float(density), 12), "invert": bool(invert)}
    if kwargs and grasp_temperature != 1.0:
        extra["temperature"] = float(grasp_temperature)

    def compute() -> dict:
        model = model_for(settings, data)
        mask = pai_mask(method, model, data, density, seed=settings.seed, invert=invert, **kwargs)
        return {n: t.cpu() for n, t in mask.items()}  # plain tensors: read back without code

    device = data.x_train.device
    return Mask({n: t.to(device) for n, t in store.get_or_compute("pai_mask", settings, compute, extra).items()})


def pai_start(settings: TrainSettings, data: Dataset, method: str, variant: str,
              density: float, grasp_temperature: float = 1.0, store: Store | None = None) -> tuple[dict, Mask]:
    """The starting weights and mask of one run (deterministic in its settings and seed);
    the mask from ``store`` when given (``stored_pai_mask``)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}: choose one of {list(VARIANTS)}")
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose one of {list(METHODS)}")
    model = model_for(settings, data)
    mask = stored_pai_mask(store if store is not None else Store(None), settings, data, method, density,
                           invert=variant == "invert", grasp_temperature=grasp_temperature)
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
    from lthlib.engine.passes import stored_members

    store = store if store is not None else Store(None)
    keys = [(m, v, float(d), int(s)) for m in methods for v in variants for d in densities for s in seeds]
    members = []
    for method, variant, density, seed in keys:  # masks stored too: SynFlow's are not cheap
        s = settings.replace(seed=seed)
        state, mask = pai_start(s, data, method, variant, density, grasp_temperature, store)
        members.append((state, mask, 0, [], s))
    trained = stored_members(store, [("pai", _store_key(settings, key, grasp_temperature), None) for key in keys],
                             members, data,
                             progress=progress, workers=workers, keep=lambda i, run, _: run.without_weights())
    runs = dict(zip(keys, trained))
    return {key: runs[key] for key in keys}


def _store_key(settings: TrainSettings, key: RunKey, grasp_temperature: float = 1.0) -> dict[str, Any]:
    method, variant, density, seed = key
    out = {"train": settings.replace(seed=seed), "method": method, "variant": variant,
           "density": round(density, 12)}
    if method.startswith("grasp") and grasp_temperature != 1.0:
        out["temperature"] = float(grasp_temperature)
    return out



def accuracy_table(runs: dict[RunKey, Run], method: str, variant: str, densities: Sequence[float],
                   seeds: Sequence[int], metric: str = "test_acc") -> list[list[float]]:
    """``[density][seed]`` of ``metric`` where the papers read it (``Run.reported``: at
    early stopping, or at the end for open_lth's CIFAR-10 settings), as for the IMP tickets."""
    return [[runs[(method, variant, float(d), int(s))].reported(metric) for s in seeds]
            for d in densities]


# ------------------------------------------------------------------ what notebook 06 reads
REWOUND_COLOR = "C1"  # IMP with rewinding; the IMP ticket is ``imp.kind_color("ticket")``
PAI_SCORED = ("snip", "grasp", "synflow")  # the three methods the paper assesses with magnitude


def imp_runs(imp_settings: IMPSettings, experiment: PaIExperiment, seeds: Iterable[int], data: Dataset,
             store: Store | None = None) -> tuple[list[IMPResult], list[IMPResult]]:
    """Notebook 02's IMP runs of ``seeds`` (from the store where notebook 02 ran) and IMP with
    rewinding to ``experiment.rewind_iteration`` (no controls): what notebook 06 compares with."""
    seeds = list(seeds)
    imp = run_imp_seeds(imp_settings, seeds, data, store=store)
    rewound = run_imp_seeds(imp_settings.replace(rewind_iteration=experiment.rewind_iteration, controls=()),
                            seeds, data, store=store)
    return imp, rewound


def round_densities(imp: Sequence[IMPResult], rounds: Iterable[int]) -> list[float]:
    """The density of IMP's round r for each of ``rounds`` (the first seed's: IMP's layerwise
    rates give every seed the same counts)."""
    return [imp[0].rounds[r - 1].density for r in rounds]


def _and(words: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    words = list(words)
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def _collapsed(masks: Iterable[Mask | Mapping]) -> int:
    """How many of ``masks`` empty at least one layer."""
    return sum(bool(layer_collapse(m if isinstance(m, Mask) else Mask(m))) for m in masks)


@dataclass(frozen=True)
class PaIResults:
    """Notebook 06's section 3 and 6: every method's run at each IMP round density (``runs``
    of ``run_pai``, variant ``"none"``), beside the IMP runs of the same seeds (``imp``:
    notebook 02's, the ticket rewound to iteration 0; ``rewound``: IMP with rewinding).
    Arrays are seeds x densities, read where the papers read (``Run.reported``)."""

    experiment: PaIExperiment
    seeds: tuple[int, ...]
    imp: tuple[IMPResult, ...]
    rewound: tuple[IMPResult, ...]
    runs: Mapping[RunKey, Run]

    @property
    def densities(self) -> list[float]:
        return round_densities(self.imp, self.experiment.rounds)

    @property
    def percents(self) -> list[float]:
        return [100 * d for d in self.densities]

    @property
    def rewound_label(self) -> str:
        return f"IMP, rewound to k={self.experiment.rewind_iteration}"

    @property
    def ticket_label(self) -> str:
        return kind_label("ticket") + " (k=0)"

    def acc(self, method: str) -> np.ndarray:
        return np.array(accuracy_table(self.runs, method, "none", self.densities, self.seeds)).T

    def _imp_acc(self, results: Sequence[IMPResult]) -> np.ndarray:
        return np.array([[res.rounds[r - 1].ticket.reported() for r in self.experiment.rounds] for res in results])

    def ticket(self) -> np.ndarray:
        return self._imp_acc(self.imp)

    def rewind(self) -> np.ndarray:
        return self._imp_acc(self.rewound)

    def dense(self) -> np.ndarray:
        return np.array([res.dense.reported() for res in self.imp])

    def series(self) -> dict[str, np.ndarray]:
        """IMP with rewinding, the IMP ticket, then every method, by label."""
        return {self.rewound_label: self.rewind(), self.ticket_label: self.ticket(),
                **{METHOD_LABELS[m]: self.acc(m) for m in self.experiment.methods}}

    def styles(self) -> dict[str, dict[str, Any]]:
        """Line styles for ``series``: IMP thick, the methods in ``pai.METHOD_COLORS``, the
        random baselines dashed."""
        out = {self.rewound_label: {"lw": 2.4, "color": REWOUND_COLOR},
               self.ticket_label: {"lw": 2.4, "color": kind_color("ticket")}}
        for m in self.experiment.methods:
            out[METHOD_LABELS[m]] = {"color": METHOD_COLORS.get(m, "C7"), **({"ls": "--"} if m.startswith("random") else {})}
        return out

    def table(self) -> str:
        """Markdown: a row per series, mean (min-max) over seeds per density."""
        return spread_table(self.percents, self.series())

    def mask(self, method: str, j: int, seed: int) -> Mask:
        """The stored mask of ``method`` at density index ``j`` for ``seed``."""
        return Mask(self.runs[(method, "none", float(self.densities[j]), int(seed))].mask)

    def collapsed(self, method: str, j: int) -> int:
        """How many seeds' masks of ``method`` at density index ``j`` empty a layer."""
        return _collapsed(self.mask(method, j, s) for s in self.seeds)

    def near_chance(self, chance: float, margin: float = 0.05) -> list[tuple[str, float, int]]:
        """(method label, percent, seeds whose mask empties a layer) wherever a method's mean
        accuracy is within ``margin`` of ``chance``."""
        return [(METHOD_LABELS[m], p, self.collapsed(m, j)) for m in self.experiment.methods
                for j, p in enumerate(self.percents) if self.acc(m)[:, j].mean() < chance + margin]

    def reading(self, chance: float, methods: Sequence[str] = PAI_SCORED, j: int = -1) -> str:
        """Markdown "what to see" under the claims at density index ``j``: the method of
        highest mean accuracy and whether the seeds tell it from the next, the gaps to IMP
        with rewinding, and where a method sits near chance with the seeds whose masks empty a
        layer (section 5)."""
        j = j % len(self.percents)
        ranked = sorted(methods, key=lambda m: -self.acc(m)[:, j].mean())
        best, second = ranked[0], ranked[1] if len(ranked) > 1 else None
        gaps = ", ".join(f"{METHOD_LABELS[m]} {float(np.mean(self.rewind()[:, j] - self.acc(m)[:, j])):+.3f}"
                         for m in methods)
        text = (f"**What to see.** At {self.percents[j]:.1f}% of the weights, the highest mean accuracy of "
                f"{_and([METHOD_LABELS[m] for m in methods])} is {METHOD_LABELS[best]}'s ({spread(self.acc(best)[:, j])}); IMP with rewinding reaches "
                f"{spread(self.rewind()[:, j])}.")
        if second is not None:
            text += (" Seed by seed, " + METHOD_LABELS[best] + " is "
                     + direction_word(self.acc(best)[:, j] - self.acc(second)[:, j], "more accurate than",
                                      "less accurate than", "not clearly more accurate than")
                     + f" {METHOD_LABELS[second]}, the next (exact sign-flip test at 0.05, no claim made).")
        text += f" The mean paired gap from IMP with rewinding to each method: {gaps}."
        low = self.near_chance(chance)
        if low:
            n = len(self.seeds)
            text += (f" Within 5 points of chance ({chance:.0%}): "
                     + "; ".join(f"{name} at {p:.1f}% (its mask empties a layer in {k} of {n} seeds)"
                                 for name, p, k in low)
                     + ". A network with an empty layer computes a constant (section 5), so it cannot beat chance"
                     + ("." if all(k == n for _, _, k in low) else
                        "; where some seeds' masks keep every layer, this does not explain their networks."))
        return text

    def agreement(self) -> dict[str, np.ndarray]:
        """Each method's mask's IoU with the same seed's IMP mask at each density, minus the
        IoU of chance (``pai.mask_agreement``): label -> seeds x densities."""
        return {METHOD_LABELS[m]: np.array([[mask_agreement(self.mask(m, j, s), res.rounds[r - 1].mask)["overall"]
                                             for j, r in enumerate(self.experiment.rounds)]
                                            for s, res in zip(self.seeds, self.imp)])
                for m in self.experiment.methods}

    def agreement_reading(self, j: int = -1) -> str:
        """Markdown "what to see" under the agreement figure at density index ``j``."""
        j = j % len(self.percents)
        agree = self.agreement()
        top = max(agree, key=lambda k: agree[k][:, j].mean())
        scored = [METHOD_LABELS[m] for m in PAI_SCORED if m in self.experiment.methods]
        highest = max(float(agree[k][:, j].mean()) for k in scored) if scored else float("nan")
        return (f"**What to see.** At {self.percents[j]:.1f}% of the weights, the mask that agrees most with the "
                f"IMP ticket's is {top}'s ({spread(agree[top][:, j])}, IoU above chance, mean (min-max) over "
                f"seeds); random pruning sits at {spread(agree[METHOD_LABELS['random']][:, j])}. The highest mean of "
                f"SNIP, GraSP and SynFlow is {highest:.3f}, where identical masks would score 1 minus chance's IoU: "
                "the methods chosen at initialisation keep "
                + ("mostly other weights than IMP does." if highest < 0.1 else
                   "a share of IMP's weights well above chance.") )


@dataclass(frozen=True)
class SanityResults:
    """Notebook 06's section 4: the methods' sanity-check runs (``run_pai`` with variants,
    at IMP round ``experiment.sanity_round``'s density) beside the IMP ticket's own
    controls of the same seeds (``random_mask``: its mask shuffled within layers;
    ``reinit``: its mask on fresh weights)."""

    experiment: PaIExperiment
    seeds: tuple[int, ...]
    imp: tuple[IMPResult, ...]
    runs: Mapping[RunKey, Run]

    IMP_CONTROLS = {"none": None, "shuffle": "random_mask", "reinit": "reinit"}

    @property
    def density(self) -> float:
        return self.imp[0].rounds[self.experiment.sanity_round - 1].density

    @property
    def percent(self) -> float:
        return 100 * self.density

    def imp_acc(self, variant: str) -> np.ndarray:
        """The IMP ticket (``"none"``) or its control standing for ``variant`` per seed."""
        i = self.experiment.sanity_round - 1
        control = self.IMP_CONTROLS[variant]
        return np.array([(res.rounds[i].ticket if control is None else res.rounds[i].controls[control]).reported()
                         for res in self.imp])

    def acc(self, method: str, variant: str) -> np.ndarray:
        return np.array(accuracy_table(self.runs, method, variant, [self.density], self.seeds)[0])

    def drop(self, method: str, variant: str) -> np.ndarray:
        """Accuracy as chosen minus with ``variant``, per seed (``method="imp"``: the ticket)."""
        if method == "imp":
            return self.imp_acc("none") - self.imp_acc(variant)
        return self.acc(method, "none") - self.acc(method, variant)

    def bars(self) -> dict[str, dict[str, np.ndarray]]:
        """{group: {variant label: per-seed accuracies}}: the IMP ticket, then each method."""
        out = {"IMP ticket": {VARIANT_LABELS[v]: self.imp_acc(v) for v in self.IMP_CONTROLS}}
        for m in self.experiment.sanity_methods:
            out[METHOD_LABELS[m]] = {VARIANT_LABELS[v]: self.acc(m, v) for v in VARIANTS}
        return out

    def collapsed(self, method: str, variant: str) -> int:
        """How many seeds' masks of ``method`` under ``variant`` empty a layer."""
        return _collapsed(self.runs[(method, variant, float(self.density), int(s))].mask for s in self.seeds)

    def reading(self) -> str:
        """Markdown "what to see" under the sanity-check figure."""
        n = len(self.seeds)
        methods = self.experiment.sanity_methods
        drops = ", ".join(f"{METHOD_LABELS[m]} {self.drop(m, 'shuffle').mean():+.3f}" for m in methods)
        inverted = "; ".join(f"{METHOD_LABELS[m]} {spread(self.acc(m, 'invert'))} against {spread(self.acc(m, 'none'))} "
                             f"as chosen (a layer emptied in {self.collapsed(m, 'invert')} of {n} seeds' masks)"
                             for m in methods)
        return (f"**What to see.** Shuffling within layers costs the IMP ticket {self.drop('imp', 'shuffle').mean():+.3f} "
                f"in mean accuracy, and the methods chosen at initialisation {drops}. Inverting the scores (keeping "
                f"what each method would prune) leaves {inverted}.")


def collapse_layers(words: Mapping[str, str], layers: Iterable[str]) -> str:
    return ", ".join(words[n] for n in layers)


@dataclass(frozen=True)
class CollapseResults:
    """Notebook 06's section 5 (no training): which layers each method's mask of one seed's
    initial weights empties at each of ``densities`` (mildest first), the one-shot methods'
    critical densities (``pai.critical_density``; None for SynFlow, which is iterative),
    and the layers' sizes and mean initial |w|. ``words``: layer name -> the word prose uses."""

    methods: tuple[str, ...]
    densities: tuple[float, ...]
    emptied: Mapping[str, tuple[tuple[str, ...], ...]]
    critical: Mapping[str, float | None]
    sizes: Mapping[str, int]
    mean_abs_init: Mapping[str, float]
    words: Mapping[str, str]

    def markdown(self) -> str:
        rows = ["| method | critical density | " + " | ".join(f"{100 * d:g}%" for d in self.densities) + " |",
                "|---|---|" + "---|" * len(self.densities)]
        for m in self.methods:
            crit = "- (iterative)" if self.critical[m] is None else f"{100 * self.critical[m]:.3g}%"
            cells = [collapse_layers(self.words, gone) if gone else "none" for gone in self.emptied[m]]
            rows.append(f"| {METHOD_LABELS[m]} | {crit} | " + " | ".join(cells) + " |")
        return "\n".join(rows)

    def first(self, method: str) -> tuple[float, tuple[str, ...]] | None:
        """The mildest density at which ``method``'s mask empties a layer, and which layers."""
        return next(((d, gone) for d, gone in zip(self.densities, self.emptied[method]) if gone), None)

    def reading(self) -> str:
        """Markdown "what to see": which methods empty a layer, which first, and how that
        compares with Tanaka et al. 2020's account (the largest layer first for one-shot
        gradient-based scores; the layers of smallest initial weights for magnitude)."""
        one_shot = [m for m in self.methods if self.critical[m] is not None]
        collapsing = [m for m in one_shot if self.first(m)]
        iterative = [m for m in self.methods if self.critical[m] is None]
        names = [METHOD_LABELS[m] for m in collapsing]
        listed = _and(names) or "no one-shot method"
        text = f"**What to see.** At the densities tried, {listed} {'empty' if len(names) > 1 else 'empties'} a layer"
        text += "".join(f"; {METHOD_LABELS[m]} " + ("empties one too" if self.first(m) else "keeps every layer")
                        for m in iterative) + "."
        if collapsing:
            text += " The first layers each one empties: " + "; ".join(
                f"{METHOD_LABELS[m]}, {collapse_layers(self.words, self.first(m)[1])} (at {100 * self.first(m)[0]:g}% "
                "and below)" for m in collapsing) + "."
        largest = max(self.sizes, key=self.sizes.get)
        text += (f" The largest layer is {self.words[largest]} ({self.sizes[largest]:,} of "
                 f"{sum(self.sizes.values()):,} weights).")
        gradient = [m for m in collapsing if m in ("snip", "grasp")]
        takes = [METHOD_LABELS[m] for m in gradient if largest in self.first(m)[1]]
        spares = [METHOD_LABELS[m] for m in gradient if largest not in self.first(m)[1]]
        if takes:
            text += (f" {' and '.join(takes)} {'empty' if len(takes) > 1 else 'empties'} it as soon as "
                     f"{'they empty' if len(takes) > 1 else 'it empties'} any layer, as Tanaka et al. find for "
                     "one-shot gradient-based scores.")
        if spares:
            text += (f" {' and '.join(spares)} {'empty' if len(spares) > 1 else 'empties'} other layers before it, "
                     "unlike Tanaka et al.'s finding for one-shot gradient-based scores.")
        if "magnitude" in collapsing:
            low = min(self.mean_abs_init, key=self.mean_abs_init.get)
            gone = self.first("magnitude")[1]
            text += (f" Magnitude pruning first empties {collapse_layers(self.words, gone)}"
                     + (f": {self.words[low]} has the smallest initial weights" if low in gone
                        else f", not {self.words[low]}, which has the smallest initial weights")
                     + " (mean |w|: " + ", ".join(f"{self.words[n]} {v:.3f}" for n, v in self.mean_abs_init.items())
                     + ").")
        return text


def collapse_study(model: nn.Module, data: Dataset, methods: Sequence[str], densities: Iterable[float],
                   seed: int, words: Mapping[str, str]) -> CollapseResults:
    """Each method's mask of ``model``'s (initial) weights at each density (mildest first)
    and the layers it empties, with the one-shot methods' critical densities."""
    densities = tuple(sorted(densities, reverse=True))
    params = prunable_parameters(model)
    emptied = {m: tuple(tuple(layer_collapse(pai_mask(m, model, data, d, seed=seed))) for d in densities)
               for m in methods}
    critical = {m: None if m == "synflow" else critical_density(pai_scores(m, model, data, seed=seed))
                for m in methods}
    return CollapseResults(tuple(methods), densities, emptied, critical,
                           {n: p.numel() for n, p in params.items()},
                           {n: float(p.detach().abs().mean()) for n, p in params.items()}, dict(words))


def _word(claim: Claim, yes: str, no: str, unclear: str) -> str:
    return f"{verdict_word(claim, yes, no, unclear)} (*{claim.stated}*)"


def answer(rewind_beats: Sequence[Claim], beats_random: Sequence[Claim], beats_erk: Sequence[Claim],
           shuffle_hurts_ticket: Claim, ticket_hurt_more: Sequence[Claim], survives: Mapping[str, Sequence[Claim]],
           methods: Sequence[str], percent: float, sanity_percent: float) -> str:
    """Notebook 06's closing answer, worded from its claims' verdicts: the claims about
    ``methods`` (in that order) at ``percent`` (the sanity checks at ``sanity_percent``);
    ``survives``: method -> its "shuffled / reinitialised does not hurt" claims."""
    names = [METHOD_LABELS[m] for m in methods]

    def each(claims: Sequence[Claim], yes: str, no: str, unclear: str) -> str:
        return "; ".join(f"{n}: {_word(c, yes, no, unclear)}" for n, c in zip(names, claims))

    lines = [
        "**The answer at this scale** (the verdict of each claim in *italics*).",
        f"- At {percent:.1f}% of the weights, is IMP with rewinding, which pays for dense training, more accurate "
        "than a mask chosen before training? " + each(rewind_beats, "yes", "no, less accurate", "not clearly") + ".",
        "- Do the methods beat random pruning at the same density in every layer? "
        + each(beats_random, "yes", "no, less accurate", "not clearly") + ".",
        "- And random pruning at ERK's layer densities, a stronger random baseline? "
        + each(beats_erk, "yes", "no, less accurate", "not clearly") + ".",
        f"- At {sanity_percent:.1f}%: shuffling the IMP ticket's mask within layers hurts it? "
        + _word(shuffle_hurts_ticket, "yes", "no, it helps", "not clearly")
        + "; more than it hurts each method? " + each(ticket_hurt_more, "yes", "no, less", "not clearly") + ".",
        "- Frankle et al. 2021's \"same or higher\" after shuffling and reinitialising, read as a drop under 1 "
        "point: " + "; ".join(f"{METHOD_LABELS[m]}: shuffled {_word(cs[0], 'under 1 point', '1 point or more', 'not clearly under 1 point')}, "
                              f"reinitialised {_word(cs[1], 'under 1 point', '1 point or more', 'not clearly under 1 point')}"
                              for m, cs in survives.items()) + ".",
    ]
    closing = []
    ticket_more = all(verdict_word(c) == "yes" for c in ticket_hurt_more) and verdict_word(shuffle_hurts_ticket) == "yes"
    rewind_more = all(verdict_word(c) == "yes" for c in rewind_beats)
    if rewind_more and ticket_more:
        closing.append("So, on this network, a mask chosen before training does not replace IMP: IMP with rewinding "
                       "is more accurate than each method, and shuffling within layers costs the IMP ticket more "
                       "than it costs each method: what IMP's mask carries beyond its per-layer densities, theirs "
                       "carry less of.")
    elif rewind_more:
        closing.append("So, on this network, a mask chosen before training does not replace IMP: IMP with rewinding "
                       "is more accurate than each method; whether shuffling within layers costs the IMP ticket "
                       "more than each method, the seeds do not all say.")
    else:
        closing.append("So the seeds do not settle whether IMP with rewinding beats every method here: read each "
                       "verdict above.")
    hurt = [METHOD_LABELS[m] for m, cs in survives.items() if verdict_word(cs[0]) == "no"]
    if hurt:
        closing.append(f"Unlike the paper's \"same or higher\", shuffling within layers costs {_and(hurt)} 1 point or "
                       "more here: at this scale their choice of weights within a layer carries something too.")
    closing.append("These verdicts are this network's and this scale's: the paper trains image classifiers far "
                   "larger than a small MLP (its code's models include ResNet-20 on CIFAR-10, the paper scale's "
                   "network here).")
    return "\n".join(lines) + "\n\n" + " ".join(closing)
