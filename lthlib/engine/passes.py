"""Many independent runs of one architecture grouped into batched passes: ``plan_passes``
groups them from the request alone (never the store or the core count), ``train_passes``
trains the passes over worker processes, ``stored_members`` reads or trains them keyed by
the pass that computes them (``Pass.identity``). The batched step itself is
``lthlib.engine.population``."""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from torch import nn

from lthlib.core.identity import digest, digest_tensors
from lthlib.data.datasets import Dataset
from lthlib.engine.parallel import default_workers, parallel_map
from lthlib.engine.population import train_population
from lthlib.engine.stacked import SHARED_SETTINGS, batch_problem, plan_of
from lthlib.engine.stacked_conv import COMPUTATION, hand_head
from lthlib.engine.stacked_transformer import COMPUTATION as TRANSFORMER_COMPUTATION
from lthlib.engine.training import ALONE_KEY, Run, model_for
from lthlib.methods.supermask import Supermask
from lthlib.settings import TrainSettings


MAX_MEMBERS = 32  # members per batched pass: past this the step time per member stops falling
# Members of one kind are cut into at least this many passes (two cores train two passes
# side by side). A constant, not the machine's core count: which members share a pass
# changes their last bits, and a result must not depend on the machine that computed it.
MIN_PASSES = 2
ALONE = ALONE_KEY["computed_in"]  # the computation of a member trained by ``train`` on its own

# (start_state, mask | None, start_iteration, save_weights_at, TrainSettings[, density[,
# mask_update]]): with a sixth entry (not None), the member is an edge-popup supermask
# keeping that density of the frozen weights ``start_state`` (its scores drawn from its
# seed, ``Supermask``); with a seventh, its mask changes during training by that
# ``train(mask_update=...)`` (SET, RigL), which names itself by ``identity()``
Member = tuple


def popup_density(member: Member) -> float | None:
    """The density of an edge-popup supermask member; None for a network whose weights train."""
    return float(member[5]) if len(member) > 5 and member[5] is not None else None


def mask_update_of(member: Member) -> Any:
    """The member's ``mask_update`` (None: its mask, if any, stays fixed)."""
    return member[6] if len(member) > 6 else None


def _member_digest(member: Member) -> list[Any]:
    state, mask, start, _, s = member[:5]
    out = [s.digest(), digest_tensors(dict(state)), mask.digest() if mask is not None else None, int(start)]
    if popup_density(member) is not None:
        out.append(["edge_popup", popup_density(member)])
    if mask_update_of(member) is not None:
        update = mask_update_of(member)
        if not callable(getattr(update, "identity", None)):
            raise ValueError(f"the mask_update {update!r} has no identity() naming what it does; a stored "
                             "result must say what computed it")
        out.append(["mask_update", update.identity()])
    return out


@dataclass(frozen=True)
class Pass:
    """Members trained together: their indices in the list planned, and the identity of
    the computation that gives their numbers -- ``ALONE`` when each is trained by
    ``train`` on its own (one member, or an architecture that cannot batch), else a digest
    of the pass's members in order (settings, start weights, mask, start iteration). A
    batched member's last bits depend on its companions, so its stored result is keyed by
    this identity: whichever notebook or process asks for the same pass gets the same
    numbers, and a different grouping is a different result, never a stored one reused."""
    members: tuple[int, ...]
    identity: str


def _pass_group(s: TrainSettings) -> tuple:
    return (s.model, repr(sorted(s.model_kwargs.items())), s.dataset,
            *(repr(getattr(s, n)) for n in SHARED_SETTINGS))


_UNITS: list[bool] = [False]  # whether passes are planned within units (``passes_within_units``)


@contextmanager
def passes_within_units() -> Iterator[None]:
    """Plan passes within each member's unit (its seed and rewind point), not across the
    whole request. ``reproduce`` runs a figure per seed (and part) on a cluster and draws
    it from all seeds at once; planned within units, both ask for the same passes."""
    before = _UNITS[0]
    _UNITS[0] = True
    try:
        yield
    finally:
        _UNITS[0] = before


def plan_passes(members: Sequence[Member], data: Dataset,
                units: Sequence[Any] | None = None) -> list[Pass]:
    """The passes that train ``members``: grouped by what a batched pass must share (the
    settings in ``SHARED_SETTINGS`` and the architecture), each group cut in order into
    ``pass_count(n)`` passes whose sizes differ by at most one. Depends only on
    the members, never on the store, the machine or the number of workers. Inside
    ``passes_within_units()``, members are first grouped by ``units[i]`` (default: the
    member's seed)."""
    groups: dict[tuple, list[int]] = {}
    for i, member in enumerate(members):
        unit = ((units[i] if units is not None else member[4].seed),) if _UNITS[0] else ()
        groups.setdefault((*unit, *_pass_group(member[4]), popup_density(member)), []).append(i)
    passes = []
    for idx in groups.values():
        for chunk in _cut(idx, pass_count(len(idx))):
            model = model_for(members[chunk[0]][4], data)
            alone = len(chunk) == 1 or batch_problem([model] * 2) is not None
            identity = ALONE if alone else "pass-" + digest([_member_digest(members[i]) for i in chunk]
                                                            + _head_computation(model))
            passes.append(Pass(tuple(chunk), identity))
    return passes


def _head_computation(model: nn.Module) -> list[Any]:
    """What a pass of such models computes beyond its members, where that changed: a 1-D
    conv head is im2col by hand (``stacked_conv.COMPUTATION``), whose last bits differ from
    the grouped convolution that trained such passes before, so their stored results are
    not reused; a transformer's body is ``stacked_transformer``'s. Nothing for other models
    (their passes keep their identities). Asked of a model that can batch, so it has a plan."""
    plan = plan_of(model)
    if plan.input_kind == "tokens":
        return [["transformer_body", TRANSFORMER_COMPUTATION]]
    return [["conv_head", COMPUTATION]] if hand_head(plan) else []


def pass_count(n: int) -> int:
    """How many passes train a group of ``n`` members: enough that none has more than
    ``MAX_MEMBERS``, at least ``MIN_PASSES``, and a multiple of ``MIN_PASSES`` -- 80 members
    as 3 passes of 27 would keep one of two cores idle for a third of the time, as 4 of 20
    they finish together (and a pass of 20 costs per member what one of 27 does)."""
    want = max(MIN_PASSES, math.ceil(n / MAX_MEMBERS))
    return min(n, math.ceil(want / MIN_PASSES) * MIN_PASSES)


def _cut(idx: list[int], n: int) -> list[list[int]]:
    """``idx`` in order, cut into ``n`` runs whose lengths differ by at most one."""
    size, extra = divmod(len(idx), n)
    bounds = [0]
    for j in range(n):
        bounds.append(bounds[-1] + size + (j < extra))
    return [idx[a:b] for a, b in zip(bounds, bounds[1:])]


def identities(passes: Sequence[Pass], n: int) -> list[str]:
    """Each of ``n`` members' computation identity, from the passes that train them."""
    out = [""] * n
    for p in passes:
        for i in p.members:
            out[i] = p.identity
    return out


def _train_chunk(args: tuple) -> list[Run]:
    members, data, progress, checkpoint = args

    models = []
    for member in members:
        state, s = member[0], member[4]
        model = model_for(s, data)
        model.load_state_dict(state)
        if popup_density(member) is not None:
            model = Supermask(model, "edge_popup", density=popup_density(member), seed=s.seed)
        models.append(model)
    return train_population(models, data, [m[4] for m in members], [m[1] for m in members],
                            save_weights_at=[list(m[3]) for m in members],
                            start_iterations=[m[2] for m in members], checkpoint=checkpoint,
                            progress=progress, mask_updates=[mask_update_of(m) for m in members])


def members_key(members: Sequence[Member]) -> dict[str, Any]:
    """What names a population of members (for its checkpoint): each member's settings,
    start weights, mask, start iteration, supermask density or mask update (where it has
    one) and saved iterations."""
    return {"members": [[*_member_digest(m), sorted(int(k) for k in m[3])] for m in members]}


def train_passes(members: Sequence[Member], passes: Sequence[Pass], data: Dataset,
                 progress: bool | None = None, workers: int | None = None,
                 store: Any = None) -> dict[int, Run]:
    """Train ``passes`` (planned by ``plan_passes`` over ``members``), spread over
    ``workers`` processes on a CPU (default one per ``training_threads()`` cores); the Run
    of every member of those passes, by index. With a ``store``, each pass checkpoints
    there and an interrupted one resumes bit for bit."""
    passes = [p for p in passes if p.members]
    if not passes:
        return {}
    on_cpu = data.x_train.device.type == "cpu"
    parts = workers if workers is not None else default_workers(len(passes), on_cpu)
    # The most work first (member-steps; scheduling only, a pass's numbers do not depend on
    # it), so that the workers finish together rather than one training the last pass alone.
    passes = sorted(passes, key=lambda p: -sum(members[i][4].iterations - members[i][2] for i in p.members))
    args = []
    for p in passes:
        chunk = [members[i] for i in p.members]
        ckpt = store.checkpoint("population", members_key(chunk)) if store is not None else None
        args.append((chunk, data, progress if len(passes) == 1 else False, ckpt))
    results = parallel_map(_train_chunk, args, workers=max(1, min(parts, len(passes))), on_cpu=on_cpu)
    return {i: run for p, chunk_runs in zip(passes, results) for i, run in zip(p.members, chunk_runs)}


def train_members(members: Sequence[Member], data: Dataset, progress: bool | None = None,
                  workers: int | None = None, store: Any = None) -> list[Run]:
    """Train independent runs, each given as ``(start weights, mask or None, start
    iteration, iterations whose weights to keep, settings)``, and return their Runs in
    order: members that can share a batched pass go together (``plan_passes``), the
    passes spread over ``workers`` processes. A batched member's numbers match ``train``
    alone to float32 rounding, not bit for bit, and depend on its pass, which depends only
    on ``members`` (so the same call gives the same numbers on every machine with the same
    kernels). To keep results in a store, use ``stored_members``."""
    members = list(members)
    runs = train_passes(members, plan_passes(members, data), data, progress, workers, store)
    return [runs[i] for i in range(len(members))]


Entry = tuple  # (kind, settings, extra | None): where one member's result is stored


def stored_members(store: Any, entries: Sequence[Entry], members: Sequence[Member], data: Dataset, *,
                   progress: bool | None = None, workers: int | None = None,
                   usable: Callable[[int, Run], bool] | None = None,
                   keep: Callable[[int, Run, Run | None], Run] | None = None,
                   passes: Sequence[Pass] | None = None, units: Sequence[Any] | None = None) -> list[Run]:
    """The Runs of ``members``, each read from the store at ``entries[i]`` (kind, settings,
    extra) or trained and stored there. Each entry's key also names the computation that
    gives its numbers (``Pass.identity`` as ``extra["computed_in"]``), so a result is the
    same whichever notebook, process or grouping asked for it first: a pass is read when
    every member of it is stored, else the whole pass is trained again (resuming its
    checkpoint) and stored. ``usable(i, run)``: whether a stored run serves (e.g. has the
    weights asked for); ``keep(i, new, stored)``: what to store (default ``new``);
    ``passes``: ``plan_passes(members, data, units)`` when the caller has it already."""
    members = list(members)
    if not members:
        return []
    passes = plan_passes(members, data, units) if passes is None else passes
    ident = identities(passes, len(members))
    keys = [(kind, settings, {**dict(extra or {}), "computed_in": ident[i]})
            for i, (kind, settings, extra) in enumerate(entries)]
    with store.locks_all(keys):
        runs: list[Run | None] = [store.get(*key) for key in keys]
        stale = [runs[i] is not None and usable is not None and not usable(i, runs[i]) for i in range(len(runs))]
        todo = [p for p in passes if any(runs[i] is None or stale[i] for i in p.members)]
        for i, run in train_passes(members, todo, data, progress, workers, store).items():
            stored = runs[i]
            runs[i] = store.put(*keys[i][:2], keep(i, run, stored) if keep else run, keys[i][2])
    return runs  # type: ignore[return-value]
