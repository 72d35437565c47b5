"""Linear mode connectivity: interpolation, error barriers and instability to SGD noise.

Frankle, Dziugaite, Roy & Carbin, *Linear Mode Connectivity and the Lottery Ticket
Hypothesis* (ICML 2020): train a *parent* network to iteration k, copy it into two
*children* that differ only in SGD noise (the order of the minibatches, and the
augmentation draws where there is augmentation), train both to the end, and evaluate the
networks on the straight line between the two children's weights. The **error barrier**
(the paper's *instability*) is the largest error on that line minus the mean of the two
endpoints' errors. A network is *stable* at k when the barrier is about zero (the paper
uses 2 percentage points). IMP finds matching subnetworks exactly when the sparse network
is stable at the rewind iteration.

BatchNorm: the running statistics of an interpolated network are not the interpolation of
the endpoints' statistics, so ``interpolation_curve`` recomputes them from training data at
every point before evaluating (``reset_batchnorm``).
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lthlib.config import TrainSettings
from lthlib.data import Dataset
from lthlib.masks import Mask
from lthlib.population import ALONE, identities, plan_passes, stored_members
from lthlib.store import Store, StoreError, digest_tensors
from lthlib.streams import stream_seed
from lthlib.training import Run, evaluate, model_for, train

StateDict = Mapping[str, torch.Tensor]
STABLE_BARRIER = 0.02  # the paper calls a network stable when its error barrier is below 2%


def interpolate_states(a: StateDict, b: StateDict, alpha: float) -> dict[str, torch.Tensor]:
    """``(1 - alpha) a + alpha b`` for floating-point tensors; other tensors (counters) from ``a``."""
    if a.keys() != b.keys():
        raise ValueError(f"the two networks have different keys (not one architecture): "
                         f"{sorted(set(a) ^ set(b))[:6]}")
    for k in a:
        if a[k].shape != b[k].shape:
            raise ValueError(f"{k!r} has shape {tuple(a[k].shape)} in one network and "
                             f"{tuple(b[k].shape)} in the other: interpolate networks of one architecture")
    return {k: (1 - alpha) * a[k] + alpha * b[k] if a[k].is_floating_point() else a[k].clone() for k in a}


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def reset_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> None:
    """Recompute every BatchNorm's running mean and variance as the average over ``x``
    (``torch.optim.swa_utils.update_bn``), leaving the model in eval mode."""
    from torch.optim.swa_utils import update_bn

    update_bn([x[i:i + batch_size] for i in range(0, len(x), batch_size)], model)
    model.eval()


def interpolation_curve(model: nn.Module, state_a: StateDict, state_b: StateDict, data: Dataset,
                        points: int = 30, train_size: int = 5_000) -> dict[str, list[float]]:
    """Loss and error (1 - accuracy) on train (a fixed subset of ``train_size``) and test
    data at ``points`` evenly spaced points from ``state_a`` (alpha 0) to ``state_b`` (1).
    BatchNorm statistics are recomputed from the training subset at every point."""
    if points < 2:
        raise ValueError(f"points={points}: need at least the two endpoints")
    own = model.state_dict()
    for name, state in (("state_a", state_a), ("state_b", state_b)):
        bad = sorted(k for k in own if k not in state or tuple(state[k].shape) != tuple(own[k].shape))
        if bad or set(state) - set(own):
            raise ValueError(f"{name} is not a state of this model (mismatched keys or shapes: "
                             f"{(bad or sorted(set(state) - set(own)))[:4]}); pass states of the "
                             "model's architecture")
    x_train, y_train = data.x_train[:train_size], data.y_train[:train_size]
    out: dict[str, list[float]] = {k: [] for k in ("alpha", "train_loss", "train_error", "test_loss", "test_error")}
    bn = has_batchnorm(model)
    for alpha in np.linspace(0.0, 1.0, points):
        model.load_state_dict(interpolate_states(state_a, state_b, float(alpha)))
        if bn:
            reset_batchnorm(model, x_train)
        out["alpha"].append(float(alpha))
        for split, (x, y) in (("train", (x_train, y_train)), ("test", (data.x_test, data.y_test))):
            loss, acc = evaluate(model, x, y)
            out[f"{split}_loss"].append(loss)
            out[f"{split}_error"].append(1.0 - acc)
    return out


def error_barrier(errors: Sequence[float]) -> float:
    """Instability: the largest error on the path minus the mean of the endpoints' errors."""
    errors = [float(e) for e in errors]
    if len(errors) < 2:
        raise ValueError(f"error_barrier needs the errors along a path: at least 2 points "
                         f"(the endpoints), got {len(errors)}")
    if not all(np.isfinite(errors)):
        raise ValueError("error_barrier: every error must be finite (a NaN means a diverged or "
                         "unevaluated network)")
    return max(errors) - 0.5 * (errors[0] + errors[-1])


def child_specs(settings: TrainSettings, start_state: StateDict, k: int,
                mask: Mask | None) -> list[tuple[TrainSettings, dict[str, Any]]]:
    """The two children's settings (their own data orders, from the ``child`` stream) and
    the rest of their store keys."""
    extra = {"k": k, "mask": None if mask is None else mask.digest(), "start": digest_tensors(start_state)}
    return [(settings.replace(data_order_seed=stream_seed(settings.seed, "child", child)), extra)
            for child in (1, 2)]


def train_children(settings: TrainSettings, data: Dataset, start_state: StateDict, k: int,
                   mask: Mask | None = None, store: Store | None = None,
                   computed_in: tuple[str, str] = (ALONE, ALONE)) -> tuple[Run, Run]:
    """Two copies of the network at iteration ``k`` (``start_state``), trained from k to the
    end with different data orders and nothing else different. Stored and reused.
    ``computed_in``: the children's computations (``train_children_of`` trains them in
    populations first and says which); each trained here is trained alone."""
    store = store if store is not None else Store(None)
    children = []
    for (child_settings, extra), where in zip(child_specs(settings, start_state, k, mask), computed_in):
        extra = {**extra, "computed_in": where}

        def compute(child_settings: TrainSettings = child_settings) -> Run:
            model = model_for(child_settings, data)
            model.load_state_dict(start_state)
            return train(model, data, child_settings, mask=mask, start_iteration=k, progress=False)

        stored = store.get("children", child_settings, extra)
        if stored is None and where != ALONE:
            raise StoreError(f"the child of {child_settings.digest()} trained in population {where} is not "
                             "stored; train it with train_children_of")
        children.append(stored if stored is not None else
                        store.get_or_compute("children", child_settings, compute, extra=extra))
    return children[0], children[1]


@dataclass(frozen=True)
class InstabilityJob:
    """One instability measurement: two children of ``start_state`` (the parent at
    iteration ``k``, with ``mask`` for a sparse network) trained to the end, and the path
    between them."""

    settings: TrainSettings
    data: Dataset
    start_state: Mapping[str, torch.Tensor]
    k: int
    mask: Mask | None
    store_root: str | Path | None
    points: int = 30
    computed_in: tuple[str, str] = (ALONE, ALONE)


def instability(job: InstabilityJob) -> dict[str, Any]:
    """``{"k", "curve", "barrier", "children_test_error"}`` of one job (picklable for
    ``lthlib.parallel``)."""
    a, b = train_children(job.settings, job.data, job.start_state, job.k, job.mask, Store(job.store_root),
                          job.computed_in)
    model = model_for(job.settings, job.data)
    curve = interpolation_curve(model, a.final_state, b.final_state, job.data, job.points)
    return {"k": job.k, "curve": curve, "barrier": error_barrier(curve["test_error"]),
            "children_test_error": (1 - a.final("test_acc"), 1 - b.final("test_acc"))}


def instability_cases(sweep: Mapping[int, Sequence[Any]], seeds: Sequence[int], ks: Sequence[int],
                      rounds: Sequence[int], control_ks: Sequence[int], control_round: int,
                      data: Dataset) -> dict[tuple, tuple[TrainSettings, StateDict, int, Mask | None]]:
    """The cases ``measure_instability`` takes for a rewinding sweep (``imp.run_rewind_sweep``:
    ``{k: [IMPResult per seed]}``), keyed ``(kind, round, k, seed)``: the dense network
    (round 0) and the IMP ticket of every round spawned at k; at the ``control_ks``, the
    random-pruning control (its own mask, the dense weights at k) and the random-reinit
    control (the ticket's mask on fresh weights) of ``control_round``."""
    cases: dict[tuple, tuple[TrainSettings, StateDict, int, Mask | None]] = {}
    for k in ks:
        for seed, res in zip(seeds, sweep[k]):
            ts, parent = res.settings.train, res.dense.weights_at[k]
            cases[("dense", 0, k, seed)] = (ts, parent, k, None)
            for r in rounds:
                cases[("ticket", r, k, seed)] = (ts, parent, k, res.rounds[r - 1].mask)
            if k in control_ks:
                round_ = res.rounds[control_round - 1]
                cases[("random_mask", control_round, k, seed)] = (ts, parent, k,
                                                                  Mask(round_.controls["random_mask"].mask))
                cases[("reinit", control_round, k, seed)] = (ts, model_for(ts, data, stream="reinit").state_dict(),
                                                             k, round_.mask)
    return cases


def measure_instability(cases: Mapping[Hashable, tuple[TrainSettings, StateDict, int, Mask | None]],
                        data: Dataset, *, store: Store | None = None, points: int = 30,
                        workers: int | None = None) -> dict[Hashable, dict[str, Any]]:
    """Instability of every case ``{key: (settings, parent state at k, k, mask or None)}``;
    results keyed like ``cases``. The children not stored yet are trained first, all
    together as populations (``train_children_of``) when a store keeps them;
    the paths between them are then evaluated in worker processes where there are cores
    to spare."""
    from lthlib.parallel import parallel_map

    computed_in: dict[Hashable, tuple[str, str]] = {}
    if store is not None and store.root is not None:
        computed_in = train_children_of(cases, data, store, workers)
    root = store.root if store is not None else None
    keys = list(cases)
    jobs = [InstabilityJob(s, data, state, int(k), mask, root, points, computed_in.get(key, (ALONE, ALONE)))
            for key, (s, state, k, mask) in ((key, cases[key]) for key in keys)]
    return dict(zip(keys, parallel_map(instability, jobs, workers, data.x_train.device.type == "cpu")))


def train_children_of(cases: Mapping[Hashable, tuple[TrainSettings, StateDict, int, Mask | None]],
                      data: Dataset, store: Store, workers: int | None = None) -> dict[Hashable, tuple[str, str]]:
    """Train and store the children of every case (``measure_instability``'s cases) that
    the store lacks, as populations (``lthlib.population.stored_members``); returns each
    case's pair of computation identities, for ``train_children`` to read them back."""
    specs = [(key, cs, extra, state, int(k), mask) for key, (s, state, k, mask) in cases.items()
             for cs, extra in child_specs(s, state, int(k), mask)]
    members = [(state, mask, k, [], cs) for _, cs, _, state, k, mask in specs]
    entries = [("children", cs, extra) for _, cs, extra, *_ in specs]
    passes = plan_passes(members, data, [(cs.seed, k) for _, cs, _, _, k, _ in specs])
    stored_members(store, entries, members, data, progress=False, workers=workers, passes=passes)
    ident = identities(passes, len(members))
    out: dict[Hashable, list[str]] = {}
    for (key, *_), where in zip(specs, ident):
        out.setdefault(key, []).append(where)
    return {key: (pair[0], pair[1]) for key, pair in out.items()}


def loss_plane(model: nn.Module, states: Sequence[StateDict], data: Dataset, resolution: int = 15,
               margin: float = 0.2, split: str = "test") -> dict[str, Any]:
    """Loss and error on the plane through three weight vectors (e.g. parent and two
    children): ``w(u, v) = w0 + u (w1 - w0) + v (w2 - w0)`` on a grid, with the three
    points at (0,0), (1,0), (0,1). Returns the grid and the values."""
    if len(states) != 3:
        raise ValueError("loss_plane needs exactly three states")
    w0, w1, w2 = states
    us = np.linspace(-margin, 1 + margin, resolution)
    vs = np.linspace(-margin, 1 + margin, resolution)
    x, y = data.split(split)
    x, y = x[:5_000], y[:5_000]
    loss = np.zeros((resolution, resolution))
    err = np.zeros((resolution, resolution))
    bn = has_batchnorm(model)
    for i, v in enumerate(vs):
        for j, u in enumerate(us):
            model.load_state_dict({k: w0[k] + u * (w1[k] - w0[k]) + v * (w2[k] - w0[k])
                                   if w0[k].is_floating_point() else w0[k] for k in w0})
            if bn:
                reset_batchnorm(model, data.x_train[:5_000])
            loss[i, j], acc = evaluate(model, x, y)
            err[i, j] = 1 - acc
    return {"u": us, "v": vs, "loss": loss, "error": err}


def solution_relation(model: nn.Module, solution: StateDict, reference: StateDict, data: Dataset,
                      points: int = 30) -> dict[str, Any]:
    """How a trained network relates to a reference solution (e.g. a ticket's to the dense
    network IMP pruned; Evci, Ioannou, Keskin & Dauphin 2022, *Gradient Flow in Sparse Neural
    Networks and How Lottery Tickets Win*, abstract: lottery tickets' "success lies in
    re-learning the pruning solution they are derived from"):
    the Euclidean distance between their weights, relative to the reference's norm, and
    the error barrier on the straight line between them (``{"distance", "barrier",
    "curve"}``). The states are copied first: ``model``'s own live state may be passed."""
    solution = {k: v.detach().clone() for k, v in solution.items()}
    reference = {k: v.detach().clone() for k, v in reference.items()}
    keys = [k for k in reference if reference[k].is_floating_point()]
    diff = torch.sqrt(sum(((solution[k].float() - reference[k].float()) ** 2).sum() for k in keys))
    norm = torch.sqrt(sum((reference[k].float() ** 2).sum() for k in keys))
    curve = interpolation_curve(model, solution, reference, data, points)
    return {"distance": float(diff / norm), "barrier": error_barrier(curve["test_error"]), "curve": curve}
