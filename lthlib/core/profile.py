"""What a process trains and evaluates, counted for ``python -m lthlib run --profile``.

Off unless the environment variable ``LTHLIB_PROFILE_FILE`` names a file (read once, at
import; ``enable`` / ``disable`` switch it later). When off, each counted function costs one
module-level ``None`` check per call. When on, ``training.train``, ``training.evaluate``
and the population trainer (``population._Population.run`` and its evaluation) count:

- ``runs``: networks trained (a ``train`` call, a population member);
- ``steps``: training iterations, summed over networks (a population of K members
  trained for T iterations is K x T);
- ``evaluations``: points on a training curve (one network evaluated on the training
  subset, validation and test sets at one iteration);
- ``passes`` and ``examples``: evaluation passes (an ``evaluate()`` call, or one member on
  one split in a population) and the examples they run through a network, whether inside
  training or not (e.g. a linear-mode-connectivity grid);
- ``train_seconds``: seconds in training calls other than their evaluations (setup and
  checkpoints included); ``eval_seconds``: seconds in evaluation.

Each process appends JSON lines of what it counted (and its process id) to the file, under
a file lock, so worker processes (``lthlib.engine.parallel`` spawns them; they inherit the
variable) add theirs beside the notebook's own; ``read`` sums the lines. A line is written
after each outermost training call, after an evaluation outside training once
``FLUSH_SECONDS`` have passed since the last line (a grid of thousands of small
evaluations writes a few lines, not thousands), and at the process's exit. A run resumed
from a checkpoint counts its whole curve but only the steps it trains.
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import time
from multiprocessing import util as mp_util
from pathlib import Path
from typing import Any, Callable, TypeVar

try:
    import fcntl
except ImportError:  # Windows: one short O_APPEND write is not interleaved in practice
    fcntl = None  # type: ignore[assignment]

ENV = "LTHLIB_PROFILE_FILE"
FIELDS = ("runs", "steps", "evaluations", "passes", "examples", "train_seconds", "eval_seconds")

FLUSH_SECONDS = 1.0
F = TypeVar("F", bound=Callable[..., Any])

_file: Path | None = Path(os.environ[ENV]) if os.environ.get(ENV) else None
_pending: dict[str, float] = dict.fromkeys(FIELDS, 0)
_depth = 0  # counted calls in progress in this process (an evaluate inside a train: 2)
_eval_clock = 0.0  # seconds in evaluation so far in this process
_last_flush = time.monotonic()


def enable(path: str | Path) -> None:
    """Count from now on into ``path``; processes started later (workers) inherit it."""
    global _file
    flush()
    _file = Path(path)
    _file.parent.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(_file)


def disable() -> None:
    global _file
    flush()
    _file = None
    os.environ.pop(ENV, None)


def read(path: str | Path) -> dict[str, float]:
    """The sums of every line of a profile file (zeros if there is none), plus
    ``processes``: how many processes wrote to it."""
    totals: dict[str, float] = dict.fromkeys(FIELDS, 0)
    pids = set()
    path = Path(path)
    if path.exists():
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            pids.add(entry.get("pid"))
            for key in FIELDS:
                totals[key] += entry.get(key, 0)
    totals["processes"] = len(pids)
    return totals


def flush() -> None:
    """Append what this process counted since its last line (nothing if nothing)."""
    global _last_flush
    _last_flush = time.monotonic()
    if _file is None or not any(_pending.values()):
        return
    line = json.dumps({"pid": os.getpid(), **_pending}) + "\n"
    for key in FIELDS:
        _pending[key] = 0
    with open(_file, "a", encoding="utf-8") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        f.write(line)


# What is still pending at exit: atexit in a notebook's kernel or a script; multiprocessing's
# finalizers in a worker (which leaves by os._exit, skipping atexit).
atexit.register(flush)
mp_util.Finalize(None, flush, exitpriority=0)


def _forget_pending() -> None:
    """A forked child starts with nothing counted (its parent writes its own counts)."""
    for key in FIELDS:
        _pending[key] = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pending)


def _add_runs(result: Any) -> None:
    """Count the Run (``train``) or list of Runs (a population) a training call returned."""
    runs = result if isinstance(result, list) else [result]
    for run in runs:
        _pending["runs"] += 1
        _pending["steps"] += run.settings["iterations"] - run.start_iteration
        _pending["evaluations"] += len(run.iterations)


def _counted(fn: F, after: Callable[[tuple, dict, Any, float], None], evaluation: bool) -> F:
    """``fn`` wrapped: when profiling, time it and call ``after(args, kwargs, result, seconds)``;
    training time excludes the evaluation nested inside it."""

    @functools.wraps(fn)
    def counted(*args: Any, **kwargs: Any) -> Any:
        if _file is None:
            return fn(*args, **kwargs)
        global _depth, _eval_clock
        _depth += 1
        eval_before, start = _eval_clock, time.perf_counter()
        try:
            result = fn(*args, **kwargs)
            seconds = time.perf_counter() - start
            if evaluation:
                _eval_clock += seconds
            else:
                seconds -= _eval_clock - eval_before
            after(args, kwargs, result, seconds)
            return result
        finally:
            _depth -= 1
            if _depth == 0 and (not evaluation or time.monotonic() - _last_flush >= FLUSH_SECONDS):
                flush()

    return counted  # type: ignore[return-value]


def _after_training(args: tuple, kwargs: dict, result: Any, seconds: float) -> None:
    _add_runs(result)
    _pending["train_seconds"] += seconds


def _after_evaluate(args: tuple, kwargs: dict, result: Any, seconds: float) -> None:
    y = args[2] if len(args) > 2 else kwargs["y"]  # evaluate(model, x, y, ...)
    _pending["passes"] += 1
    _pending["examples"] += len(y)
    _pending["eval_seconds"] += seconds


def training(fn: F) -> F:
    """Count a training function that returns a ``Run`` or a list of them."""
    return _counted(fn, _after_training, evaluation=False)


def evaluation(fn: F) -> F:
    """Count ``evaluate(model, x, y, ...)``: one pass over ``len(y)`` examples."""
    return _counted(fn, _after_evaluate, evaluation=True)


def population_evaluation(fn: F) -> F:
    """Count a population's ``_evaluate(self, lo, hi)``: members ``lo..hi-1``, each on the
    splits whose sizes ``self.evaluation_sizes`` lists (the empty ones are not evaluated)."""

    def after(args: tuple, kwargs: dict, result: Any, seconds: float) -> None:
        pop, lo, hi = args[:3]
        sizes = [n for n in pop.evaluation_sizes if n]
        _pending["passes"] += (hi - lo) * len(sizes)
        _pending["examples"] += (hi - lo) * sum(sizes)
        _pending["eval_seconds"] += seconds

    return _counted(fn, after, evaluation=True)
