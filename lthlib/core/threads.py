"""How many torch threads lthlib computes with, and why that number is fixed.

Two facts decide it. (1) The last bits of a float32 sum depend on how torch splits it
between threads, so a run's numbers depend on the thread count; a store that reused a
result computed under another count would mix two slightly different experiments.
(2) Torch's OpenMP threads spin while they wait: two processes with 2 threads each on 2
cores slowed a small training step about 100x, and lthlib cannot see what other processes
(another notebook, a second course user) are doing with the cores.

So every computation lthlib stores runs with ``training_threads()`` threads: 1 unless
``LTHLIB_THREADS`` says otherwise, whatever the machine. The small networks here run
about as fast on one thread as on two (per-operation overhead dominates), parallelism
comes from processes (``lthlib.engine.parallel``: at most one per core) and from batching
(``lthlib.engine.population``), and any number of lthlib processes side by side never
oversubscribes the cores into spinning. The count is part of every store key
(``numerics()``), so a store never hands back a result computed under another count.
"""
from __future__ import annotations

import functools
import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import torch

from lthlib.core.devices import compute_device_type
from lthlib.core.errors import SettingsError
from lthlib.core.memory import keep_freed_memory

F = TypeVar("F", bound=Callable[..., Any])


def env_count(name: str, meaning: str) -> int | None:
    """The integer >= 1 in environment variable ``name`` (None when unset or empty); a clear
    error saying what it means otherwise."""
    env = os.environ.get(name)
    if env is None or env == "":
        return None
    try:
        value = int(env)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(f"{name}={env!r}: must be an integer >= 1 ({meaning})")
    return value


def training_threads() -> int:
    """``$LTHLIB_THREADS`` if set (an integer >= 1), else 1."""
    value = env_count("LTHLIB_THREADS", "torch threads per training process; unset it for 1")
    return 1 if value is None else value


def cpu_cores() -> int:
    """Cores this process may use (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@contextmanager
def fixed_threads(n: int | None = None) -> Iterator[int]:
    """Run the block with ``n`` (default ``training_threads()``) torch threads, then give
    the caller its own count back. (Every computation enters here, so this is also where
    the process keeps its freed memory: ``lthlib.core.memory``.)"""
    keep_freed_memory()
    n = training_threads() if n is None else int(n)
    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def with_fixed_threads(fn: F) -> F:
    """Decorate a function whose numbers are stored: it always runs on ``training_threads()``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with fixed_threads():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def numerics() -> dict[str, Any]:
    """What a stored number depends on beyond its settings: the thread count, the torch
    version (kernels change between versions), the device type and, on a CPU, the kernel
    set torch chose for it (``torch.backends.cpu.get_cpu_capability()``: AVX512, AVX2,
    DEFAULT, ...; ``ATEN_CPU_CAPABILITY`` picks another). Kernel sets round differently,
    so a results folder copied from another machine (or computed under another
    ``ATEN_CPU_CAPABILITY``) is not reused: its runs are computed again here rather than
    mixed with this machine's."""
    device = compute_device_type()
    found = {"threads": training_threads(), "torch": torch.__version__.split("+")[0], "device": device}
    if device == "cpu":
        found["cpu_kernels"] = torch.backends.cpu.get_cpu_capability()
    return found
