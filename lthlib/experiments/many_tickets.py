"""Buying many tickets instead of one (notebook 09).

The objection: "if you just generated a number of random networks of similar size to the
pruned ticket and trained them all in parallel, would you find a ticket?" This module
makes that experiment concrete:

- ``small_settings``: the dense network of the same depth, narrowed until it has the
  ticket's number of prunable weights;
- ``run_small_nets``: N of them, each a fresh draw (its own initial weights and data
  order, from the ``small_init`` / ``small_order`` streams), trained together as one
  population and stored;
- ``run_random_subnets``: N random subnetworks of *one* dense initialisation with the
  ticket's per-layer counts (``random_subnet`` / ``subnet_order`` streams);
- ``best_of_n``: the expected test accuracy of the member a practitioner would pick by
  validation accuracy from N of them, computed exactly over every N-subset of the pool;
- ``imp_cost`` / ``pool_cost``: what each route pays, in training multiply-adds
  (``lthlib.methods.sparse_training.training_flops``);
- ``structure_agreement`` / ``input_profile_correlation``: whether tickets of different
  seeds share structure beyond chance (the "one of many small nets wins" reading).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lthlib.core.streams import stream_seed
from lthlib.data.datasets import Dataset
from lthlib.engine.training import Run, cpu_state, model_for
from lthlib.masks import Mask
from lthlib.methods.pai import mask_agreement
from lthlib.methods.pruning import random_mask_like
from lthlib.methods.sparse_training import training_flops
from lthlib.models.networks import count_parameters, prunable_parameters
from lthlib.report.claims import Claim, verdict_word
from lthlib.settings import SettingsError, TrainSettings


# Notebook 09 (buying many tickets, ``many_tickets.many_for_scale``): the IMP rounds whose
# tickets are bought against; at most ``max_small`` small dense networks per seed and round
# (the pool is twice the N that IMP's compute buys, up to this cap); ``subnet_pool`` random
# subnetworks of the ticket's initialisation per seed and round.
MANY_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(rounds=(1, 2), max_small=4, subnet_pool=3),
    "quick": dict(rounds=(4, 6), max_small=96, subnet_pool=16),
    "paper": dict(rounds=(5, 10, 15), max_small=256, subnet_pool=32),
}

# The width argument each model narrows by, and its full-width value.
WIDTH_KWARGS: dict[str, tuple[str, Any]] = {
    "mlp_mnist1d": ("hidden", (300, 100)), "lenet300_100": ("hidden", (300, 100)),
    "cnn_mnist1d": ("channels", 32), "resnet20": ("width", 16), "wrn22_2": ("widen", 2),
}


@dataclass(frozen=True)
class ManyTicketsExperiment:
    """What notebook 09 runs at a scale: the IMP rounds whose tickets are compared, the
    most small networks trained per seed and round, and the random subnetworks per seed
    and round (``MANY_PRESETS``)."""

    rounds: tuple[int, ...]
    max_small: int
    subnet_pool: int

    def bought(self, imp_cost: float, small_cost: float) -> int:
        """N: how many small networks IMP's compute pays for, at most (at least 1)."""
        return max(1, math.floor(imp_cost / small_cost + 1e-9))

    def small_pool(self, n: int) -> int:
        """The pool trained to estimate "best of ``n``": twice ``n`` (so the expectation
        averages over many n-subsets, not one), capped at ``max_small``."""
        return max(1, min(self.max_small, 2 * n))


def many_for_scale(scale: str) -> ManyTicketsExperiment:
    """Notebook 09's experiment at ``scale``."""
    if scale not in MANY_PRESETS:
        raise SettingsError(f"scale={scale!r}: choose one of {list(MANY_PRESETS)}")
    return ManyTicketsExperiment(**MANY_PRESETS[scale])


def _width_kwargs(settings: TrainSettings, factor: float) -> dict[str, Any]:
    if settings.model not in WIDTH_KWARGS:
        raise SettingsError(f"model={settings.model!r}: no narrower version is defined; notebook 09 "
                            f"narrows {sorted(WIDTH_KWARGS)}")
    name, full = WIDTH_KWARGS[settings.model]
    full = settings.model_kwargs.get(name, full)
    if isinstance(full, (list, tuple)):
        return {**settings.model_kwargs, name: [max(1, round(h * factor)) for h in full]}
    return {**settings.model_kwargs, name: max(1, round(full * factor))}


def prunable_count(settings: TrainSettings, data: Dataset) -> int:
    """The number of prunable weights (Linear and Conv weights) of ``settings``' model."""
    model = model_for(settings, data)
    return sum(p.numel() for p in prunable_parameters(model).values())


def small_settings(settings: TrainSettings, data: Dataset, weights: int) -> TrainSettings:
    """``settings`` with the model narrowed (every hidden width or channel count scaled by
    one factor, depth unchanged) to the prunable-weight count closest to ``weights``
    (ties: the smaller network). Training settings are unchanged: same optimiser, steps
    and batch, so the small network costs ``weights / dense weights`` of a dense run."""
    _width_kwargs(settings, 1.0)  # a model with a width to narrow, or a clear error
    full = prunable_count(settings, data)
    if not 1 <= weights <= full:
        raise SettingsError(f"weights={weights}: a narrower network has between 1 and {full} "
                            f"prunable weights (the full {settings.model})")
    lo, hi = 0.0, 1.0
    for _ in range(40):  # bisection on the width factor; counts grow with it
        mid = (lo + hi) / 2
        if prunable_count(settings.replace(model_kwargs=_width_kwargs(settings, mid)), data) < weights:
            lo = mid
        else:
            hi = mid
    candidates = [settings.replace(model_kwargs=_width_kwargs(settings, f)) for f in (lo, hi)]
    return min(candidates, key=lambda s: (abs(prunable_count(s, data) - weights), prunable_count(s, data)))


def _member_key(kind: str, i: int, mask: Mask | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"family": kind, "member": int(i)}
    if mask is not None:
        extra["mask_of"] = mask.digest()
    return extra


def _train_and_store(kind: str, specs: list[tuple[TrainSettings, dict, dict, Mask | None]],
                     data: Dataset, store: Any, workers: int | None,
                     progress: bool | None) -> list[Run]:
    """Runs of ``specs`` ``(settings, store extra, start weights, mask)``: read from the store
    or trained together as populations (``lthlib.engine.passes.stored_members``) and stored."""
    from lthlib.core.store import Store
    from lthlib.engine.passes import stored_members

    store = store if store is not None else Store(None)
    members = [(state, mask, 0, [], settings) for settings, _, state, mask in specs]
    runs = stored_members(store, [(kind, s, e) for s, e, _, _ in specs], members, data, progress=progress,
                          workers=workers,
                          keep=lambda i, run, _: run.without_weights())
    return runs  # type: ignore[return-value]


def member_settings(settings: TrainSettings, order_stream: str, i: int) -> TrainSettings:
    """Member ``i``'s settings: ``settings`` (whose seed names the family) with the data order
    drawn from stream ``order_stream``, index ``i``."""
    return settings.replace(data_order_seed=stream_seed(settings.seed, order_stream, i))


def run_small_nets(small: TrainSettings, data: Dataset, n: int, *, store: Any = None,
                   workers: int | None = None, progress: bool | None = None) -> list[Run]:
    """``n`` small dense networks of ``small`` (``small_settings``), member i starting from
    the ``small_init`` stream of ``small.seed`` (index i) with the data order of the
    ``small_order`` stream (index i): independent draws, stored as kind ``"small_net"``."""
    specs = []
    for i in range(n):
        s = member_settings(small, "small_order", i)
        start = cpu_state(model_for(small, data, stream="small_init", index=i))
        specs.append((s, _member_key("small_net", i), start, None))
    return _train_and_store("small_net", specs, data, store, workers, progress)


def random_subnet_mask(reference: Mask, seed: int, i: int) -> Mask:
    """Random subnetwork ``i`` of seed ``seed``: the per-layer kept counts of ``reference``
    (e.g. the ticket's), positions from the ``random_subnet`` stream (index i)."""
    return random_mask_like(reference, seed, i, stream="random_subnet")


def run_random_subnets(settings: TrainSettings, data: Dataset, reference: Mask, n: int, *,
                       store: Any = None, workers: int | None = None,
                       progress: bool | None = None) -> list[Run]:
    """``n`` random subnetworks of the *one* initialisation of ``settings.seed`` (the IMP
    run's), each with ``random_subnet_mask(reference, seed, i)`` and the data order of the
    ``subnet_order`` stream (index i); stored as kind ``"random_subnet"``."""
    start = cpu_state(model_for(settings, data))
    specs = []
    for i in range(n):
        mask = random_subnet_mask(reference, settings.seed, i)
        specs.append((member_settings(settings, "subnet_order", i),
                      _member_key("random_subnet", i, reference), start, mask))
    return _train_and_store("random_subnet", specs, data, store, workers, progress)


# --------------------------------------------------------------------------- best of N
def selection_probabilities(val: Sequence[float], n: int) -> np.ndarray:
    """P(member j is picked) when n of the pool are drawn uniformly without replacement and
    the one of highest validation score is kept (ties: the lower index wins). Exact:
    the member ranked p-th (0 = best) is picked iff it is drawn and none of the p members
    above it are, ``C(M-1-p, n-1) / C(M, n)``."""
    m = len(val)
    if not 1 <= n <= m:
        raise ValueError(f"n={n}: pick from 1 to {m} (the pool's size)")
    order = sorted(range(m), key=lambda j: (-float(val[j]), j))
    probs = np.zeros(m)
    total = math.comb(m, n)
    for rank, j in enumerate(order):
        probs[j] = math.comb(m - 1 - rank, n - 1) / total
    return probs


def best_of_n(val: Sequence[float], test: Sequence[float], n: int) -> float:
    """Expected test accuracy of the validation-selected best of ``n`` members drawn from
    the pool (``selection_probabilities``): what "train n, keep the best" buys on average."""
    return float(np.dot(selection_probabilities(val, n), np.asarray(test, dtype=float)))


def reported(runs: Sequence[Run], metric: str = "test_acc") -> np.ndarray:
    """Each run's ``metric`` where the papers read it (``Run.reported``: at early stopping
    with a validation split), so every route is read at the same point."""
    return np.array([run.reported(metric) for run in runs])


def best_of(runs: Sequence[Run], n: int, select: str = "val_acc", metric: str = "test_acc") -> float:
    """``best_of_n`` of a pool of runs: the expected ``metric`` of the one picked by
    ``select`` from ``n`` drawn at random (``select="test_acc"`` picks on the test set:
    cheating, which is how much it flatters "best of N")."""
    return best_of_n(reported(runs, select), reported(runs, metric), n)


def best_curve(runs: Sequence[Run], ns: Sequence[int], select: str = "val_acc") -> list[float]:
    """``best_of`` the pool ``runs`` for every N in ``ns``: what training more networks buys."""
    return [best_of(runs, n, select) for n in ns]


def share_above(runs: Sequence[Run], value: float, metric: str = "test_acc") -> float:
    """The fraction of ``runs`` whose reported ``metric`` is above ``value`` (e.g. small
    networks more accurate than their seed's ticket: how often a draw beats it)."""
    return float(np.mean(reported(runs, metric) > value))


def share_below(runs: Sequence[Run], value: float, metric: str = "test_acc") -> float:
    """The fraction of ``runs`` whose reported ``metric`` is below ``value`` (the share of a
    pool that ``value``, e.g. the ticket's, beats: its rank in the pool)."""
    return float(np.mean(value > reported(runs, metric)))


def powers_of_two(m: int) -> list[int]:
    """1, 2, 4, ... up to and including ``m`` (``m`` added if it is not a power of two)."""
    ns = [1 << k for k in range(int(math.log2(m)) + 1)] if m >= 1 else []
    return ns + ([m] if ns and ns[-1] != m else [])


# --------------------------------------------------------------------------------- cost
def run_cost(settings: TrainSettings, data: Dataset, mask: Mask | None = None) -> float:
    """Training multiply-adds of one run of ``settings`` (all its iterations) at ``mask``'s
    density (``training_flops``: sparse kernels assumed to skip the zeros)."""
    model = model_for(settings, data)
    return training_flops(model, data.input_shape, settings.iterations, settings.batch_size, mask)


def imp_cost(result: Any, data: Dataset, round_index: int) -> float:
    """What IMP paid to reach round ``round_index``'s ticket: the dense run plus every round
    up to it, each at its own mask (``IMPResult``; round 0 is the dense run)."""
    settings = result.dense.train_settings
    cost = run_cost(settings, data)
    for r in result.rounds[:round_index]:
        cost += run_cost(settings, data, r.mask)
    return cost


# ---------------------------------------------------------------------- shared structure
def structure_agreement(masks: Sequence[Mask]) -> dict[str, list[float]]:
    """``mask_agreement`` (IoU above chance) of every pair of ``masks``, per layer and
    ``"overall"``: do tickets of different seeds keep the same weights?"""
    out: dict[str, list[float]] = {}
    for a, b in itertools.combinations(masks, 2):
        for name, v in mask_agreement(a, b).items():
            out.setdefault(name, []).append(v)
    return out


def input_profile(mask: Mask, layer: str | None = None) -> torch.Tensor:
    """How many weights of each input unit ``layer`` keeps (default: the first layer): the
    column sums of its mask, over every dimension but the input one. Hidden units of two
    networks are only defined up to permutation, but inputs are the same pixels or time
    steps in every network, so this is the structure that can be compared across seeds."""
    name = layer if layer is not None else next(iter(mask))
    m = mask[name].float()
    return m.transpose(0, 1).reshape(m.shape[1], -1).sum(dim=1)


def input_profile_correlation(a: Mask, b: Mask, layer: str | None = None) -> float:
    """Pearson correlation of two masks' ``input_profile`` (0 for independent random masks
    with uniform positions, up to sampling noise; nan if a profile is constant)."""
    pa, pb = input_profile(a, layer).double(), input_profile(b, layer).double()
    pa, pb = pa - pa.mean(), pb - pb.mean()
    denom = float(pa.norm() * pb.norm())
    return float((pa * pb).sum()) / denom if denom > 0 else math.nan


def profile_correlations(masks: Sequence[Mask], layer: str | None = None) -> list[float]:
    """``input_profile_correlation`` of every pair of ``masks``."""
    return [input_profile_correlation(a, b, layer) for a, b in itertools.combinations(masks, 2)]


def random_controls(masks: Mapping[int, Mask], round_index: int) -> list[Mask]:
    """For each seed's ticket mask, the IMP random-pruning control's mask of that round
    (``random_mask_like``: the same per-layer counts, positions from the seed's
    ``random_mask`` stream): the chance level of ``structure_agreement`` and
    ``profile_correlations``."""
    return [random_mask_like(m, seed, round_index) for seed, m in masks.items()]


def weights_of(settings: TrainSettings, data: Dataset) -> tuple[int, int]:
    """(prunable weights, all parameters) of ``settings``' model."""
    model = model_for(settings, data)
    return sum(p.numel() for p in prunable_parameters(model).values()), count_parameters(model)


# ------------------------------------------------------------------ notebook 09's words
def unresolved_words(items: Sequence[Claim], seeds: int) -> str:
    """What the reader should see in the claims table, worded from each verdict: every claim
    of ``items`` that does not hold, with its evidence (for *not shown*: why ``seeds`` seeds
    cannot decide it); or that every comparison holds."""
    rest = [c for c in items if c.verdict != "holds" or c.fragile]
    if not rest:
        return ("**What to see.** Every comparison above holds at this scale: with IMP's compute, neither route "
                "bought a network as accurate as the ticket.")
    words = []
    for c in rest:
        if c.verdict == "not shown":
            words.append(f"*{c.claim}*: **{c.stated}**; the mean {c.statistic} is {c.mean:+.3f}, {c.on_side} of "
                         f"{c.n} seeds lie on the claimed side, and the exact test's p = {c.p:.2g} is above its level "
                         f"{c.level:.2g}, so {seeds} seeds cannot tell which side of the threshold it lies on.")
        else:
            words.append(f"*{c.claim}*: **{c.stated}** (mean {c.statistic} {c.mean:+.3f}).")
    return "**What to see.** " + " ".join(words)


def _word(claim: Claim, yes: str, no: str, unclear: str = "not clearly") -> str:
    return f"{verdict_word(claim, yes, no, unclear)} (*{claim.stated}*)"


def answer(one_small: Sequence[Claim], best_small: Sequence[Claim], best_subnet: Sequence[Claim],
           above_median: Sequence[Claim], inputs: Claim, first_layer: Claim, percents: Sequence[float],
           n_small: Sequence[int], n_subnet: int, network: str) -> str:
    """Notebook 09's closing answer, worded from its claims' verdicts: per density of
    ``percents`` (in that order) the ticket against one small network, the best of
    ``n_small`` small networks, the best of ``n_subnet`` random subnetworks and its rank in
    its pool; the two structure diagnostics; ``network`` names the model and data."""
    def each(claims: Sequence[Claim], yes: str, no: str, n: Sequence[int] | None = None) -> str:
        return "; ".join(f"at {p:.1f}%" + (f" (N = {n[i]})" if n is not None else "") + f": {_word(c, yes, no)}"
                         for i, (p, c) in enumerate(zip(percents, claims)))

    lines = [
        "**The answer at this scale** (the verdict of each claim in *italics*).",
        "- **Is the ticket more accurate than an ordinary small network of its size?** "
        + each(one_small, "yes", "no, less accurate") + ".",
        "- **Does buying N small networks with IMP's compute, and keeping the best on validation, close the gap?** "
        + each(best_small, "no, the ticket is still more accurate", "yes, the best of N is more accurate",
               n_small) + ".",
        f"- **Do random subnetworks of the ticket's own initialisation close it** (the best of N = {n_subnet})? "
        + each(best_subnet, "no, the ticket is still more accurate", "yes, the best of them is more accurate")
        + ".",
        "- **Does the ticket rank above the median small network of its seed?** "
        + each(above_median, "yes", "no, below it") + ".",
        "- **Do tickets of different seeds look alike?** (diagnostics: seed pairs share seeds) The same inputs more "
        "than chance: " + _word(inputs, "yes", "no, less") + "; the same first-layer weights beyond chance: "
        + _word(first_layer, "yes", "no, less") + ". A shared input profile alone can lift the first-layer "
        "overlap (section 8), and neither shows, by itself, one particular small network winning in every seed.",
    ]
    bought = list(best_small) + list(best_subnet)
    if all(verdict_word(c) == "yes" for c in bought):
        closing = ("So, for this network at this scale, the objection does not hold up: the compute that found the "
                   "ticket, spent on small networks or on random subnetworks instead, bought none as accurate.")
    elif any(verdict_word(c) == "no" for c in bought):
        closing = ("So, for this network at this scale, buying many small networks did match or beat the ticket "
                   "at some density: read which above.")
    else:
        closing = "So the seeds do not settle the question at every density here: read each verdict above."
    return ("\n".join(lines) + "\n\n" + closing + f" These are measurements of {network}; Liu et al. 2022 "
            "(abstract) find that randomly pruned networks catch up with their dense equivalents as networks grow "
            "wider and deeper, so larger networks may answer differently.")


__all__ = ["ManyTicketsExperiment", "many_for_scale", "WIDTH_KWARGS", "prunable_count", "small_settings", "member_settings", "run_small_nets",
           "random_subnet_mask", "run_random_subnets", "selection_probabilities", "best_of_n",
           "reported", "best_of", "best_curve", "share_above", "share_below",
           "powers_of_two", "run_cost", "imp_cost", "structure_agreement", "input_profile",
           "input_profile_correlation", "profile_correlations", "random_controls", "weights_of",
           "unresolved_words", "answer"]
