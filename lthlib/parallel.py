"""Independent runs in parallel processes, never more busy threads than cores.

Small models train as fast on one thread as on two (per-operation overhead dominates), so
two runs in two single-threaded processes take about half the time of one after the
other. Every worker computes with ``lthlib.threads.training_threads()`` torch threads (1
unless ``LTHLIB_THREADS`` says otherwise), the same count as in the notebook's own
process, so a result does not depend on where it was computed; there are at most
``cores // threads`` workers.
Scripts (not notebooks) that use several workers need the ``if __name__ == "__main__":``
guard, as for any ``multiprocessing`` code.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Mapping
from typing import Any, Callable, Protocol, Sequence, TypeVar

import torch

from lthlib.threads import cpu_cores, env_count, training_threads

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


def _call(args: tuple) -> Any:
    fn, item, threads = args
    torch.set_num_threads(threads)
    return fn(item)


def parallel_map(fn: Callable[[Any], T], items: Sequence[Any], workers: int | None = None,
                 on_cpu: bool = True) -> list[T]:
    """``[fn(item) for item in items]``, in worker processes when ``workers`` > 1.
    ``fn`` must be a module-level function (it is pickled to the workers)."""
    items = list(items)
    workers = default_workers(len(items), on_cpu) if workers is None else max(1, int(workers))
    if workers == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    threads = training_threads()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_call, [(fn, item, threads) for item in items]))


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
