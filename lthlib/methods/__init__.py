"""The methods the chapters compare: pruning scores and selection (``pruning``,
``structured_pruning``), pruning at initialisation (``pai``), supermask criteria and
learners (``supermask``), sparse-training updaters (``sparse_training``). Import a module:
``from lthlib.methods import pruning``.

Modules: ``pai``, ``pruning``, ``sparse_training``, ``structured_pruning``, ``supermask``."""
from __future__ import annotations

__all__ = ["pai", "pruning", "sparse_training", "structured_pruning", "supermask"]
