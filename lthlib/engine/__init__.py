"""Training: ``train`` (the reference), ``Run``, K networks in one batched pass
(``population``; what a stacked network computes: ``stacked``, a 1-D conv head by hand:
``stacked_conv``, its optimiser: ``stacked_optim``), many runs as batched passes
(``passes``), worker processes (``parallel``) and Ray clusters (``cluster``).

Modules: ``cluster``, ``parallel``, ``passes``, ``population``, ``run``, ``stacked``,
``stacked_conv``, ``stacked_optim``, ``training``."""
from __future__ import annotations

from lthlib.engine.run import Run
from lthlib.engine.training import evaluate, train
from lthlib.engine.population import train_population
from lthlib.engine.parallel import run_jobs

__all__ = ["Run", "evaluate", "train", "train_population", "run_jobs"]
