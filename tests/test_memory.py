"""lthlib.core.memory: on glibc, freed step-sized blocks stay in the process, so a loop
that allocates and frees them does not fault their pages in again each time."""
from __future__ import annotations

import platform
import resource

import pytest
import torch

from lthlib.core.memory import keep_freed_memory
from lthlib.core.threads import fixed_threads


@pytest.mark.skipif(not (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"),
                    reason="glibc's mallopt only")
def test_freed_blocks_are_reused_without_page_faults():
    with fixed_threads():  # every computation's entry point sets the thresholds
        assert keep_freed_memory() and keep_freed_memory()  # set, and once is enough
    mb = (1 << 20) // 4  # float32 numbers in a MB

    def step():  # blocks of a few MB, freed out of order, as a training step's are
        a = torch.empty(4 * mb).fill_(1.0)  # written, so every page is touched
        b = torch.empty(2 * mb).fill_(1.0)
        del a
        c = torch.empty(6 * mb).fill_(1.0)
        del b, c

    for _ in range(3):
        step()  # the heap grows to what a step needs
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    pages = 50 * (12 << 20) // resource.getpagesize()  # what fresh pages every step would fault
    # (glibc's adaptive thresholds alone: 4,096 faults here, 1,200 per step of the CNN population)
    assert faults < pages // 100, f"{faults} minor page faults for {pages} pages written"
