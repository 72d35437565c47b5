"""One owner per chapter: its values, presets per scale, runners and the results objects
notebooks and figures read. Import a module: ``from lthlib.experiments import imp``.

Modules: ``dense_study``, ``imp``, ``imp_study``, ``lmc``, ``many_tickets``, ``matching``, ``pai_study``,
``retraining``, ``rewinding``, ``sparse_bounds``, ``sparse_exec``, ``sparse_study``,
``speed_routes``, ``speed_study``, ``supermask_results``, ``supermask_study``, ``transformer_results``,
``transformer_study``, ``transformer_summary``."""
from __future__ import annotations

__all__ = ["dense_study", "imp", "imp_study", "lmc", "many_tickets", "matching", "pai_study", "retraining", "rewinding",
           "sparse_bounds", "sparse_exec", "sparse_study", "speed_routes", "speed_study", "supermask_results", "supermask_study",
           "transformer_results", "transformer_study", "transformer_summary"]
