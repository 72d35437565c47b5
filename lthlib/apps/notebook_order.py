"""Which notebooks ``python -m lthlib run --jobs N`` runs side by side, and when each starts.

Why its own module: run one after another, each notebook leaves a core idle whenever its
own work is serial (the kernel starting, imports, figures, the last pass of a sweep with
nothing beside it): about 220 of the quick suite's 1,310 s on two cores. Two notebooks at
once, each with half the worker processes, fill those gaps with each other's work. What a
notebook computes does not depend on how many workers trained it (``lthlib.engine.parallel``),
so the results, and every claim, are the same; only the order of work changes, and that
order is this module's job (``cli`` executes it).

A notebook says in its metadata (the ``lthlib`` key, in the jupytext header of its ``.py``):

- ``reads``: notebooks whose stored runs it reuses. It starts after those of them that are
  in the same run have finished; started beside them it would wait on their store locks
  with its core idle (or train what they were about to). Only the order depends on it:
  a wrong list costs time, never a result (the store computes each result once).
- ``alone``: it times code (notebook 08). It runs with no other notebook beside it and with
  all the workers, so its timings are of a quiet machine; it starts once nothing else is
  ready to run.
- ``minutes``: about how long it computes at quick scale on one core (CPU-minutes), used
  only to order; the duration of the notebook's last run in the same ``--out`` folder at
  the same scale replaces it (``cli``).

Among the notebooks ready to start, the one at the head of the longest chain of work still
to do (its own minutes plus those of the longest chain of notebooks that read it; one that
runs alone waits for all the others anyway and adds none) goes first, then the lower number: the longest notebooks and long chains of readers must not
start last, with one core idle beside them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from lthlib.core.errors import SettingsError

METADATA_KEY = "lthlib"


@dataclass(frozen=True)
class Entry:
    """One notebook of a run: its file, its number (``"08"``), what it reads, whether it
    must run alone."""

    path: Path
    number: str
    reads: tuple[str, ...] = ()
    alone: bool = False
    minutes: float = 0.0


def number_of(path: Path) -> str:
    """A notebook's number: the two digits its file name starts with."""
    return path.stem[:2]


def read_entry(path: Path) -> Entry:
    """The notebook at ``path`` as an ``Entry``, from its ``lthlib`` metadata; a clear error
    for a value that is not what the metadata allows."""
    try:
        metadata = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError) as err:
        raise SettingsError(f"notebook {path}: cannot read its metadata ({err})") from None
    meta = metadata.get(METADATA_KEY, {}) or {}
    where = f"notebook {Path(path).name}: metadata {METADATA_KEY}"
    if not isinstance(meta, dict):
        raise SettingsError(f"{where} must be a mapping with keys 'reads' and 'alone', not {meta!r}")
    unknown = sorted(set(meta) - {"reads", "alone", "minutes"})
    if unknown:
        raise SettingsError(f"{where} has unknown keys {unknown}; allowed: 'reads' (a list of notebook "
                            "numbers such as ['02', '06']), 'alone' (true or false) and 'minutes' (a number >= 0)")
    reads = meta.get("reads", [])
    if not isinstance(reads, list) or not all(isinstance(r, str) and len(r) == 2 and r.isdigit() for r in reads):
        raise SettingsError(f"{where}.reads must be a list of two-digit notebook numbers such as "
                            f"['02', '06'], not {reads!r}")
    alone = meta.get("alone", False)
    if not isinstance(alone, bool):
        raise SettingsError(f"{where}.alone must be true or false, not {alone!r}")
    minutes = meta.get("minutes", 0.0)
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes >= 0:
        raise SettingsError(f"{where}.minutes must be a number >= 0 (CPU-minutes at quick scale), not {minutes!r}")
    number = number_of(Path(path))
    if number in reads:
        raise SettingsError(f"{where}.reads names the notebook itself ({number})")
    return Entry(Path(path), number, tuple(reads), alone, float(minutes))


@dataclass
class Schedule:
    """Start and finish notebooks in an order that respects ``reads`` and ``alone``, at most
    ``jobs`` at once. ``start()`` says which notebooks to start now; ``finish(entry)`` records
    that one ended (whatever its outcome: a failed notebook's readers still run, and find
    what it stored). ``minutes``: estimates that replace the entries' own, by number."""

    entries: Sequence[Entry]
    jobs: int
    minutes: Mapping[str, float] = field(default_factory=dict)
    running: list[Entry] = field(default_factory=list)
    finished: list[Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        if int(self.jobs) < 1:
            raise SettingsError(f"jobs={self.jobs!r}: must be an integer >= 1 (notebooks run at once)")
        numbers = [e.number for e in self.entries]
        if len(set(numbers)) != len(numbers):
            raise SettingsError(f"two notebooks share a number: {sorted(numbers)}")
        present = set(numbers)
        # reads of notebooks not in this run (``--only``) are already in the store, or are not
        self.waits = {e.number: tuple(r for r in e.reads if r in present) for e in self.entries}
        self._check_no_cycle()
        self.pending = list(self.entries)
        own = {e.number: float(self.minutes.get(e.number, e.minutes)) for e in self.entries}
        self.chain: dict[str, float] = {}
        for e in sorted(self.entries, key=lambda e: -self._depth(e.number)):  # readers first
            # a reader that runs alone waits for every other notebook anyway: it adds no chain
            readers = [m.number for m in self.entries if e.number in self.waits[m.number] and not m.alone]
            self.chain[e.number] = own[e.number] + max((self.chain[m] for m in readers), default=0.0)

    def _check_no_cycle(self) -> None:
        state: dict[str, int] = {}  # 1: on the path being followed, 2: done

        def visit(n: str, path: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                cycle = path[path.index(n):] + [n]
                raise SettingsError("notebooks' metadata lthlib.reads make a cycle: " + " -> ".join(cycle)
                                    + " (each reads the one after it); one of them must not read the other")
            state[n] = 1
            for m in self.waits[n]:
                visit(m, path + [n])
            state[n] = 2

        for n in self.waits:
            visit(n, [])

    def _depth(self, number: str) -> int:
        """The length of the longest chain of notebooks ``number`` waits for."""
        return 1 + max((self._depth(r) for r in self.waits[number]), default=0)

    @property
    def done(self) -> bool:
        return not self.pending and not self.running

    def _ready(self) -> list[Entry]:
        finished = {e.number for e in self.finished}
        ready = [e for e in self.pending if all(r in finished for r in self.waits[e.number])]
        return sorted(ready, key=lambda e: (-self.chain[e.number], e.number))

    def start(self) -> list[Entry]:
        """The notebooks to start now (marked running), possibly none."""
        if any(e.alone for e in self.running):
            return []
        ready = self._ready()
        started: list[Entry] = []
        for e in (e for e in ready if not e.alone):
            if len(self.running) >= self.jobs:
                break
            started.append(e)
            self.running.append(e)
        if not self.running:  # nothing else is ready: a notebook that must run alone goes now
            alone = [e for e in ready if e.alone]
            if alone:
                started.append(alone[0])
                self.running.append(alone[0])
        for e in started:
            self.pending.remove(e)
        return started

    def finish(self, entry: Entry) -> None:
        self.running.remove(entry)
        self.finished.append(entry)


def schedule_for(notebooks: Iterable[Path], jobs: int, minutes: Mapping[str, float] | None = None) -> Schedule:
    """The ``Schedule`` of these notebook files, from their metadata (``minutes``: better
    estimates, by notebook number)."""
    return Schedule([read_entry(Path(p)) for p in notebooks], jobs, dict(minutes or {}))


def last_minutes(executed: Path, scale: str) -> float | None:
    """How long the executed notebook ``executed`` (papermill's output) took, in minutes, if
    it ran at ``scale`` and finished; else None."""
    try:
        meta = json.loads(Path(executed).read_text(encoding="utf-8")).get("metadata", {}).get("papermill", {})
    except (OSError, ValueError):
        return None
    duration = meta.get("duration")
    if meta.get("parameters", {}).get("SCALE") != scale or meta.get("exception") or not isinstance(duration, (int, float)):
        return None
    return float(duration) / 60
