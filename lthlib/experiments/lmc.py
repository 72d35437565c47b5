"""Linear mode connectivity: interpolation, error barriers and instability to SGD noise.

Frankle, Dziugaite, Roy & Carbin, *Linear Mode Connectivity and the Lottery Ticket
Hypothesis* (ICML 2020): train a *parent* network to iteration k, copy it into two
*children* that differ only in SGD noise (the order of the minibatches, and the
augmentation draws where there is augmentation), train both to the end, and evaluate the
networks on the straight line between the two children's weights. The **error barrier**
(the paper's *instability*) is the largest error on that line minus the mean of the two
endpoints' errors. A network is *stable* at k when the barrier is about zero (the paper
uses 2 percentage points). "IMP subnetworks are only matching when they are stable to SGD
noise" (the paper's Section 4): stability at the rewind iteration is necessary for matching,
not sufficient (at the most extreme sparsities they become stable without matching, 4.4).

BatchNorm: the running statistics of an interpolated network are not the interpolation of
the endpoints' statistics, so ``interpolation_curve`` recomputes them from training data at
every point before evaluating (``reset_batchnorm``).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lthlib.core.store import Store, StoreError, digest_tensors
from lthlib.core.streams import stream_seed
from lthlib.data.datasets import Dataset
from lthlib.engine.parallel import parallel_map
from lthlib.engine.passes import ALONE, identities, plan_passes, stored_members
from lthlib.engine.training import Run, evaluate, model_for, train
from lthlib.experiments.imp import kind_label
from lthlib.experiments.matching import is_matching, matching_tolerance
from lthlib.experiments.rewinding import RewindSweep
from lthlib.masks import Mask
from lthlib.report.claims import spread
from lthlib.settings import TrainSettings

StateDict = Mapping[str, torch.Tensor]
STABLE_BARRIER = 0.02  # the paper calls a network stable when its error barrier is below 2%
SWEEP_CONTROLS = ("random_mask", "reinit")  # the controls whose instability a rewinding sweep measures
# Points per side of the loss plane through three networks (``loss_plane``) that notebook 05 draws at each scale.
PLANE_RESOLUTION: dict[str, int] = {"smoke": 5, "quick": 15, "paper": 25}


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


INTERPOLATION_SPLITS = ("train", "test")


def interpolation_curve(model: nn.Module, state_a: StateDict, state_b: StateDict, data: Dataset,
                        points: int = 30, train_size: int = 5_000,
                        splits: Sequence[str] = INTERPOLATION_SPLITS) -> dict[str, list[float]]:
    """Loss and error (1 - accuracy) on train (a fixed subset of ``train_size``) and test
    data at ``points`` evenly spaced points from ``state_a`` (alpha 0) to ``state_b`` (1).
    BatchNorm statistics are recomputed from the training subset at every point.
    ``splits``: which of ``"train"``, ``"test"`` to evaluate (keys ``<split>_loss``,
    ``<split>_error``); instability reads the test error only, and the training subset
    (5,000 of MNIST-1D's examples) costs more than the test set at every point."""
    if points < 2:
        raise ValueError(f"points={points}: need at least the two endpoints")
    splits = tuple(splits)
    if not splits or any(s not in INTERPOLATION_SPLITS for s in splits) or len(set(splits)) != len(splits):
        raise ValueError(f"splits={splits!r}: choose one or both of {list(INTERPOLATION_SPLITS)}, each once")
    own = model.state_dict()
    for name, state in (("state_a", state_a), ("state_b", state_b)):
        bad = sorted(k for k in own if k not in state or tuple(state[k].shape) != tuple(own[k].shape))
        if bad or set(state) - set(own):
            raise ValueError(f"{name} is not a state of this model (mismatched keys or shapes: "
                             f"{(bad or sorted(set(state) - set(own)))[:4]}); pass states of the "
                             "model's architecture")
    x_train, y_train = data.x_train[:train_size], data.y_train[:train_size]
    out: dict[str, list[float]] = {"alpha": [], **{f"{s}_{m}": [] for s in splits for m in ("loss", "error")}}
    bn = has_batchnorm(model)
    measured = {"train": (x_train, y_train), "test": (data.x_test, data.y_test)}
    for alpha in np.linspace(0.0, 1.0, points):
        model.load_state_dict(interpolate_states(state_a, state_b, float(alpha)))
        if bn:
            reset_batchnorm(model, x_train)
        out["alpha"].append(float(alpha))
        for split in splits:
            x, y = measured[split]
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


def _instability_key(job: InstabilityJob) -> dict[str, Any]:
    """What an instability measurement depends on beyond the settings: the children's
    identity (start, k, mask, the computation that trained them) and the path's points."""
    return {"k": job.k, "mask": None if job.mask is None else job.mask.digest(),
            "start": digest_tensors(job.start_state), "computed_in": list(job.computed_in), "points": job.points}


def stored_instability(job: InstabilityJob) -> dict[str, Any] | None:
    """The stored measurement of ``job`` (None if not stored, or no store)."""
    return Store(job.store_root).get("instability", job.settings, _instability_key(job))


def instability(job: InstabilityJob) -> dict[str, Any]:
    """``{"k", "curve", "barrier", "children_test_error"}`` of one job (picklable for
    ``lthlib.engine.parallel``), stored: evaluating the path costs as much as a re-run of a
    notebook from its stored children otherwise would."""
    def compute() -> dict[str, Any]:
        a, b = train_children(job.settings, job.data, job.start_state, job.k, job.mask, Store(job.store_root),
                              job.computed_in)
        model = model_for(job.settings, job.data)
        curve = interpolation_curve(model, a.final_state, b.final_state, job.data, job.points, splits=("test",))
        return {"k": job.k, "curve": curve, "barrier": error_barrier(curve["test_error"]),
                "children_test_error": (1 - a.final("test_acc"), 1 - b.final("test_acc"))}

    return Store(job.store_root).get_or_compute("instability", job.settings, compute, extra=_instability_key(job))


def instability_cases(sweep: Mapping[int, Sequence[Any]], seeds: Sequence[int], ks: Sequence[int],
                      rounds: Sequence[int], control_ks: Sequence[int], control_round: int,
                      data: Dataset) -> dict[tuple, tuple[TrainSettings, StateDict, int, Mask | None]]:
    """The cases ``measure_instability`` takes for a rewinding sweep (``rewinding.run_rewind_sweep``:
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
    to spare. Each result also says where its children were computed (``"computed_in"``,
    the pair ``train_children`` reads them back with)."""
    computed_in: dict[Hashable, tuple[str, str]] = {}
    if store is not None and store.root is not None:
        computed_in = train_children_of(cases, data, store, workers)
    root = store.root if store is not None else None
    keys = list(cases)
    jobs = [InstabilityJob(s, data, state, int(k), mask, root, points, computed_in.get(key, (ALONE, ALONE)))
            for key, (s, state, k, mask) in ((key, cases[key]) for key in keys)]
    measured = {key: stored_instability(job) for key, job in zip(keys, jobs)}
    todo = [key for key in keys if measured[key] is None]
    todo_jobs = [jobs[keys.index(key)] for key in todo]
    measured.update(zip(todo, parallel_map(instability, todo_jobs, workers, data.x_train.device.type == "cpu")))
    return {key: {**measured[key], "computed_in": job.computed_in} for key, job in zip(keys, jobs)}


@dataclass(frozen=True)
class StabilityRow:
    """One sparse network at one spawn iteration ``k``, in the table that sets stability
    beside matching: its barriers and accuracy gaps (seeds in the sweep's order) and what
    they make of it."""

    kind: str
    round: int
    k: int
    label: str
    barriers: np.ndarray  # the error barrier between the two children, per seed
    gap: np.ndarray  # test accuracy at the end of training minus the dense network's, per seed
    stable: bool  # mean barrier under STABLE_BARRIER
    matching: bool  # mean accuracy within one standard deviation of the dense runs (matching.is_matching)


@dataclass(frozen=True)
class StabilityTable:
    """Stability beside matching, network by network. The paper's link goes one way ("IMP
    subnetworks are only matching when they are stable to SGD noise", Frankle et al. 2020,
    Section 4), so the count that tests it is the rows matching but not stable. *Matching*
    is the paper's: mean accuracy within one standard deviation of the dense runs
    (``matching.is_matching``; ``tolerance`` is that standard deviation)."""

    rows: list[StabilityRow]
    dense_acc: np.ndarray  # the dense network's test accuracy at the end of training, per seed
    tolerance: float  # one standard deviation of the dense runs (0 with one seed)

    def _count(self, test: Callable[[bool, bool], bool]) -> int:
        """Rows where ``test(stable, matching)``."""
        return sum(bool(test(row.stable, row.matching)) for row in self.rows)

    @property
    def against(self) -> int:
        """Rows matching but not stable: what the paper's link rules out."""
        return self._count(lambda stable, matching: matching and not stable)

    @property
    def stable_only(self) -> int:
        """Rows stable but not matching: what the link allows."""
        return self._count(lambda stable, matching: stable and not matching)

    @property
    def matched(self) -> int:
        """Rows matching."""
        return self._count(lambda stable, matching: matching)

    def markdown(self) -> str:
        """The table in Markdown: barrier mean (min-max) in points, accuracy gap in points."""
        yes = {True: "yes", False: "no"}
        lines = ["| network | k | barrier (points) | stable | accuracy - dense (points) | matching |",
                 "|---|---|---|---|---|---|"]
        lines += [f"| {row.label} | {row.k} | {spread(100 * row.barriers, '.1f')} | {yes[row.stable]} | "
                  f"{100 * row.gap.mean():+.1f} | {yes[row.matching]} |" for row in self.rows]
        return "\n".join(lines)

    def link_words(self) -> str:
        """What the table says of the paper's link, as a clause for prose."""
        cells, against, matched = len(self.rows), self.against, self.matched
        if matched == 0:
            return "no row of the table is matching, so it cannot test the paper's link here"
        if against == 0:
            return (f"{matched} of {cells} rows are matching and none of them is unstable: this run does not "
                    "go against the paper's link")
        return (f"{against} of {cells} rows are matching without being stable: in those rows this scale does "
                "not reproduce the paper's link")


@dataclass(frozen=True)
class SweepInstability:
    """The instability of a rewinding sweep's networks (``measure_sweep_instability``) and
    the reads notebook 05 makes of it, in one place. ``measured`` is keyed
    ``(kind, round, k, seed)`` as ``instability_cases`` keys it; every read returns seeds
    in the sweep's order, so a network's barriers pair seed by seed with its accuracies
    (``RewindSweep.final_acc``). Arguments in one order: network (``kind``), round, k."""

    sweep: RewindSweep
    measured: Mapping[tuple, dict[str, Any]]
    ks: tuple[int, ...]  # the spawn iterations of the dense network and the tickets
    control_ks: tuple[int, ...]  # the spawn iterations of the controls
    control_round: int  # the pruning round of the controls

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.sweep.seeds

    def density(self, round_: int) -> float:
        """Percent of the weights remaining at pruning round ``round_``."""
        return float(self.sweep.densities()[round_])

    def label(self, kind: str, round_: int) -> str:
        """The network's name in figures and tables: "dense network", or the kind and its density."""
        return "dense network" if kind == "dense" else f"{kind_label(kind)}, {self.density(round_):.0f}%"

    def spawn_ks(self, kind: str) -> tuple[int, ...]:
        """The k at which ``kind`` was measured: the controls at ``control_ks`` only."""
        return self.control_ks if kind in SWEEP_CONTROLS else self.ks

    def barriers(self, kind: str, round_: int, ks: Sequence[int] | None = None) -> np.ndarray:
        """Error barriers, seeds x ``ks`` (None: every k where ``kind`` was measured)."""
        ks = self.spawn_ks(kind) if ks is None else ks
        return np.array([[self.measured[(kind, round_, k, s)]["barrier"] for k in ks] for s in self.seeds])

    def curve(self, kind: str, round_: int, k: int, seed: int | None = None) -> dict[str, list[float]]:
        """The interpolation path between one seed's two children (None: the first seed):
        alpha, test loss and error at every point (``instability`` evaluates the test set only)."""
        return self.measured[(kind, round_, k, self.seeds[0] if seed is None else seed)]["curve"]

    def children(self, kind: str, round_: int, k: int, data: Dataset, store: Store | None,
                 seed: int | None = None) -> tuple[Run, Run]:
        """The two children whose path ``curve`` is (None: the first seed), read back from
        ``store`` where the measurement kept them (``train_children``): the dense network
        or the ticket of ``round_``."""
        if kind not in ("dense", "ticket"):
            raise ValueError(f"kind={kind!r}: children are read for 'dense' or 'ticket'")
        seed = self.seeds[0] if seed is None else seed
        res = self.sweep[k][self.seeds.index(seed)]
        mask = None if kind == "dense" else res.rounds[round_ - 1].mask
        return train_children(res.settings.train, data, res.dense.weights_at[k], k, mask, store,
                              self.measured[(kind, round_, k, seed)]["computed_in"])

    def test_errors(self, kind: str, round_: int, k: int) -> np.ndarray:
        """Test error along the path, seeds x points (fractions)."""
        return np.array([self.curve(kind, round_, k, s)["test_error"] for s in self.seeds])

    def networks(self) -> list[tuple[str, int]]:
        """The sparse networks measured, ``(kind, round)``: the ticket of every round, then
        the controls at their round."""
        return ([("ticket", r) for r in self.sweep.rounds]
                + [(c, self.control_round) for c in SWEEP_CONTROLS])

    def barrier_series(self) -> dict[str, tuple[tuple[int, ...], np.ndarray]]:
        """``{label: (ks, barriers seeds x ks)}`` for ``plots.barrier_vs_k``: the dense network,
        then the ticket of every round, then the controls (where any k measured them)."""
        series = {self.label("dense", 0): (self.ks, self.barriers("dense", 0))}
        for kind, r in self.networks():
            if self.spawn_ks(kind):
                series[self.label(kind, r)] = (self.spawn_ks(kind), self.barriers(kind, r))
        return series

    def colors(self) -> dict[str, str]:
        """``{label: matplotlib colour}``: the colour ``plots.barrier_vs_k`` gives each network
        of ``barrier_series`` (in its order), so other figures can draw a network alike."""
        return {label: f"C{i}" for i, label in enumerate(self.barrier_series())}

    def stable_matching(self) -> StabilityTable:
        """Every sparse network at every k it was measured: stable (mean barrier under
        ``STABLE_BARRIER``) and matching (``matching.is_matching``: mean accuracy within one
        standard deviation of the dense runs, the paper's definition)."""
        dense_acc = self.sweep.dense_final_acc()
        rows = []
        for kind, r in self.networks():
            for k in self.spawn_ks(kind):
                b = np.array([self.measured[(kind, r, k, s)]["barrier"] for s in self.seeds])
                acc = self.sweep.final_acc(kind, k, r)
                rows.append(StabilityRow(kind, r, k, self.label(kind, r), b, acc - dense_acc,
                                         bool(b.mean() < STABLE_BARRIER), is_matching(acc, dense_acc)))
        return StabilityTable(rows, dense_acc, matching_tolerance(dense_acc))


def measure_sweep_instability(sweep: RewindSweep, ks: Sequence[int], control_ks: Sequence[int],
                              control_round: int, data: Dataset, *, store: Store | None = None,
                              points: int = 30, workers: int | None = None) -> SweepInstability:
    """Instability of a rewinding sweep's networks (``instability_cases``, then
    ``measure_instability``): the dense network and the ticket of every round spawned at
    each of ``ks``, the controls of ``control_round`` at ``control_ks``."""
    ks, control_ks = tuple(int(k) for k in ks), tuple(int(k) for k in control_ks)
    cases = instability_cases(sweep, sweep.seeds, ks, sweep.rounds, control_ks, control_round, data)
    measured = measure_instability(cases, data, store=store, points=points, workers=workers)
    return SweepInstability(sweep, measured, ks, control_ks, control_round)


def train_children_of(cases: Mapping[Hashable, tuple[TrainSettings, StateDict, int, Mask | None]],
                      data: Dataset, store: Store, workers: int | None = None) -> dict[Hashable, tuple[str, str]]:
    """Train and store the children of every case (``measure_instability``'s cases) that
    the store lacks, as populations (``lthlib.engine.passes.stored_members``); returns each
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
               margin: float = 0.2, split: str = "test", workers: int | None = None) -> dict[str, Any]:
    """Loss and error on the plane through three weight vectors (e.g. parent and two
    children): ``w(u, v) = w0 + u (w1 - w0) + v (w2 - w0)`` on a grid, with the three
    points at (0,0), (1,0), (0,1). Returns the grid and the values. The grid's rows are
    evaluated in ``workers`` processes (``lthlib.engine.parallel``; the same numbers in any)."""
    if len(states) != 3:
        raise ValueError("loss_plane needs exactly three states")
    us = np.linspace(-margin, 1 + margin, resolution)
    vs = np.linspace(-margin, 1 + margin, resolution)
    x, y = data.split(split)
    x, y = x[:5_000], y[:5_000]
    x_bn = data.x_train[:5_000] if has_batchnorm(model) else None
    rows = parallel_map(_plane_row, [(model, tuple(states), us, v, x, y, x_bn) for v in vs], workers,
                        on_cpu=x.device.type == "cpu")
    return {"u": us, "v": vs, "loss": np.array([r[0] for r in rows]), "error": np.array([r[1] for r in rows])}


def _plane_row(job: tuple) -> tuple[list[float], list[float]]:
    """One row (fixed ``v``) of ``loss_plane``: the loss and error at every ``u``. The model
    is copied first: the jobs sent to workers share its tensors (torch passes them through
    shared memory), so two rows loading weights into it at once would race."""
    model, (w0, w1, w2), us, v, x, y, x_bn = job
    model = copy.deepcopy(model)
    loss, err = [], []
    for u in us:
        model.load_state_dict({k: w0[k] + u * (w1[k] - w0[k]) + v * (w2[k] - w0[k])
                               if w0[k].is_floating_point() else w0[k] for k in w0})
        if x_bn is not None:
            reset_batchnorm(model, x_bn)
        point_loss, acc = evaluate(model, x, y)
        loss.append(point_loss)
        err.append(1 - acc)
    return loss, err


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
    curve = interpolation_curve(model, solution, reference, data, points, splits=("test",))
    return {"distance": float(diff / norm), "barrier": error_barrier(curve["test_error"]), "curve": curve}
