"""Keep freed memory in the process between training steps (glibc's ``mallopt``), so that
a step's tensors do not page-fault in afresh every step.

Why: a training step allocates and frees the same tensors every iteration. glibc serves
blocks above its mmap threshold with fresh ``mmap`` pages and returns the top of the heap
to the system past its trim threshold; both thresholds adapt, but for the MNIST-1D CNN
population (K=16, im2col columns of a few MB) the pages were still handed back and faulted
in again: 1,200 minor page faults per step and 16% of the step's time in the kernel
(``benchmarks/population_speed.py``, docs/population.md). Fixed thresholds -- blocks up
to ``MMAP_THRESHOLD`` from the heap, ``TRIM_THRESHOLD`` of free heap kept -- took that to
none, and the step ~25% faster. Memory use grows by at most the trim threshold per
process; larger tensors (datasets) are still mapped and unmapped on their own.

Only where the C library is glibc (Linux); elsewhere nothing changes. Numbers do not
depend on it: it moves where memory comes from, not what is computed.
"""
from __future__ import annotations

import ctypes
import platform

MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit machines
TRIM_THRESHOLD = 64 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (once per process). Returns whether they are set."""
    global _done
    if _done is None:
        _done = False
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            try:
                libc = ctypes.CDLL("libc.so.6")
                _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                    libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
            except (OSError, AttributeError):
                _done = False
    return _done
