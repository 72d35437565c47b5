"""Which notebooks may run side by side (``python -m lthlib run --jobs N``).

Notebooks share one experiment store, and several read results that an earlier one
computes (notebook 06 reads notebook 02's IMP runs, 07 reads 06's pruning-at-initialisation
masks, ...). ``READS`` lists them, found by logging the store's reads and writes over a
whole smoke-scale run. A notebook starts only once those it reads have finished, so that it
reads their results instead of waiting for them. A wrong or missing entry costs time,
never a number: a result another notebook is computing is waited for (the store's lock,
``Store.lock``), and one not yet started is computed by the notebook that asks first, the
same numbers either way (a result is keyed by the computation that gives it,
``lthlib.engine.passes``; ``tests/test_notebooks.py`` checks claims do not depend on what
ran before).

``ALONE`` notebooks time code (notebook 08 measures inference and training speed):
nothing runs beside them, and they get every core, as in a run one notebook at a time.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence

# notebook -> the notebooks whose stored results it reads
READS: dict[str, tuple[str, ...]] = {
    "04": ("02",),
    "05": ("03",),
    "06": ("02",),
    "07": ("02", "06"),
    "08": ("02", "06", "07"),
    "09": ("02",),
}
ALONE: frozenset[str] = frozenset({"08"})


def number(stem: str) -> str:
    """A notebook's number: ``"06"`` for ``06_pruning_at_initialization``."""
    return stem[:2]


def startable(pending: Sequence[str], running: Collection[str], jobs: int) -> list[str]:
    """The notebooks (stems) of ``pending`` to start now, in ``pending``'s order, when
    ``running`` are running and at most ``jobs`` may run at once: those whose ``READS`` are
    neither pending nor running (a notebook not chosen for this run counts as done), up to
    the free slots; an ``ALONE`` notebook only when nothing else runs or starts, and nothing
    beside it. With ``jobs=1`` this is ``pending``'s order, one at a time."""
    if jobs < 1:
        raise ValueError(f"jobs={jobs}: must be an integer >= 1")
    busy = {number(s) for s in running}
    if busy & ALONE:
        return []
    waiting = busy | {number(s) for s in pending}
    out: list[str] = []
    for stem in pending:
        if any(n in waiting for n in READS.get(number(stem), ())):
            continue
        if number(stem) in ALONE:
            if not busy and not out:
                return [stem]
            continue
        if len(busy) + len(out) >= jobs:
            break
        out.append(stem)
    return out
