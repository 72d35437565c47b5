"""Independent runs in parallel processes, never more busy threads than cores.

Small models train as fast on one thread as on two (per-operation overhead dominates), so
two runs in two single-threaded processes take about half the time of one after the
other. Every worker computes with ``lthlib.core.threads.training_threads()`` torch threads (1
unless ``LTHLIB_THREADS`` says otherwise), the same count as in the notebook's own
process, so a result does not depend on where it was computed; there are at most
``cores // threads`` workers.
Scripts (not notebooks) that use several workers need the ``if __name__ == "__main__":``
guard, as for any ``multiprocessing`` code.

The workers are started once and kept for later calls (a notebook makes dozens): a started
process imports torch and lthlib, seconds each, which for smoke-sized runs cost as much as
the training. A call under other settings of the environment (``LTHLIB_*``, the kernel set,
thread variables) or another ``sys.path`` gets new workers, and each task starts from the
global random state a new process has, so a result never depends on what a worker ran
before (lthlib draws from named streams; this covers user code that does not).
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import random
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Mapping
from typing import Any, Callable, Protocol, Sequence, TypeVar

import torch

from lthlib.core import profile
from lthlib.core.threads import cpu_cores, env_count, training_threads

T = TypeVar("T")
K = TypeVar("K")


class Job(Protocol):
    """A stored experiment: ``stored()`` reads its result (None if absent), ``run()``
    computes and stores it, ``cost()`` estimates its work (to start the longest first);
    ``data`` says where it runs."""

    data: Any

    def stored(self) -> Any: ...

    def run(self) -> Any: ...

    def cost(self) -> float: ...


def default_workers(n_jobs: int, on_cpu: bool = True) -> int:
    """``$LTHLIB_WORKERS`` if set, else one process per ``training_threads()`` cores (at
    most one per job) on the CPU, and 1 when the work runs on an accelerator."""
    value = env_count("LTHLIB_WORKERS", "worker processes; unset it for one per core")
    if value is not None:
        return value
    if not on_cpu:
        return 1
    return max(1, min(n_jobs, cpu_cores() // training_threads()))


# What a worker reads once, when it starts: a call under other values needs new workers.
_ENV_PREFIXES = ("LTHLIB_", "ATEN_", "OMP_", "MKL_", "CUDA_", "PYTORCH_", "RAY_")
_pool: ProcessPoolExecutor | None = None
_pool_key: tuple | None = None
_FRESH_SEED = torch.initial_seed()  # a new process's global torch seed (torch's default)


def _worker_key(workers: int) -> tuple:
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)))
    return workers, env, tuple(sys.path)


def _workers(workers: int) -> ProcessPoolExecutor:
    """The pool of ``workers`` processes for this environment: the one started before if the
    environment is unchanged, else a new one (the old one shut down)."""
    global _pool, _pool_key
    key = _worker_key(workers)
    if _pool is not None and _pool_key != key:
        shutdown_workers()
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_start_worker)
        _pool_key = key
        _stop_with_the_kernel()
    return _pool


def shutdown_workers() -> None:
    """Stop the kept worker processes (at exit, or before a change of environment)."""
    global _pool, _pool_key
    pool, _pool, _pool_key = _pool, None, None  # a kernel's shutdown (control thread) may race a failing call
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown_workers)


def _stop_with_the_kernel() -> None:
    """In a Jupyter kernel, stop the workers and multiprocessing's resource tracker as soon as
    the kernel is asked to shut down, before ipykernel stops its child processes.

    ipykernel sends its children SIGTERM and waits for them (sleeps of up to seconds); the
    resource tracker that the workers' queues start ignores SIGTERM and leaves only when the
    last process holding its pipe does. So jupyter_client gave up waiting after 2.5 s and
    killed the kernel: every kernel that had used workers took ~2.6 s to stop instead of
    ~1.5, and its ``atexit`` handlers (this module's, the profile's last counts) never ran.
    ipykernel offers no hook before that wait, so the kernel's ``do_shutdown`` is wrapped."""
    ipython = sys.modules.get("IPython")  # never imported here: only a kernel has a shell
    kernel = getattr(ipython.get_ipython(), "kernel", None) if ipython is not None else None
    if kernel is None or getattr(kernel.do_shutdown, "stops_lthlib_workers", False):
        return
    do_shutdown = kernel.do_shutdown

    def stop_workers_then_shut_down(restart: bool) -> Any:
        shutdown_workers()
        _stop_resource_tracker()
        return do_shutdown(restart)

    stop_workers_then_shut_down.stops_lthlib_workers = True  # type: ignore[attr-defined]
    kernel.do_shutdown = stop_workers_then_shut_down


def _stop_resource_tracker() -> None:
    """Stop multiprocessing's resource tracker (closing its pipe, as this process's exit
    would); a later pool starts a new one. A Python without ``_stop`` keeps it running."""
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        try:
            stop()
        except (OSError, RuntimeError):  # already gone, or in a call of its own
            pass


_busy = False  # in a worker: a task is running


def _on_interrupt(signum: int, frame: Any) -> None:
    """Ctrl-C (or a kernel shut down by Jupyter, which interrupts its process group) reaches
    the workers too: a running task stops as it would in the notebook; an idle worker just exits."""
    if _busy:
        raise KeyboardInterrupt
    raise SystemExit(0)


def _start_worker() -> None:
    signal.signal(signal.SIGINT, _on_interrupt)


def _call(args: tuple) -> Any:
    global _busy
    fn, item, threads = args
    torch.set_num_threads(threads)
    torch.manual_seed(_FRESH_SEED)  # the global state of a new process, whatever ran here before
    random.seed(_FRESH_SEED)
    _busy = True
    try:
        return fn(item)
    finally:
        _busy = False
        profile.flush()  # a kept worker does not exit: what it counted is written per task


def parallel_map(fn: Callable[[Any], T], items: Sequence[Any], workers: int | None = None,
                 on_cpu: bool = True) -> list[T]:
    """``[fn(item) for item in items]``, in worker processes when ``workers`` > 1.
    ``fn`` must be a module-level function (it is pickled to the workers). ``fn`` must not
    write into the tensors an item holds: torch sends CPU tensors to the workers through
    shared memory, so every task given the same tensor (and the caller) sees one storage;
    copy what a task changes (``lthlib.experiments.lmc.loss_plane`` copies its model)."""
    items = list(items)
    workers = default_workers(len(items), on_cpu) if workers is None else max(1, int(workers))
    if workers == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    threads = training_threads()
    pool = _workers(workers)
    try:
        return list(pool.map(_call, [(fn, item, threads) for item in items]))
    except BaseException:  # a failed task, a dead worker or Ctrl-C: the next call starts afresh
        shutdown_workers()
        raise


def _run_job(job: Job) -> Any:
    return job.run()


def run_jobs(jobs: Mapping[K, Job], workers: int | None = None) -> dict[K, Any]:
    """Run every job of ``jobs`` ({key: job}) and return ``{key: result}`` in the same
    order. Stored results are read in this process; the others are computed in parallel
    processes, the most expensive first so that the workers finish together."""
    done = {key: job.stored() for key, job in jobs.items()}
    todo = sorted((key for key, result in done.items() if result is None), key=lambda k: -jobs[k].cost())
    if todo:
        on_cpu = next(iter(jobs.values())).data.x_train.device.type == "cpu"
        for key, result in zip(todo, parallel_map(_run_job, [jobs[k] for k in todo], workers, on_cpu)):
            done[key] = result
    return done
