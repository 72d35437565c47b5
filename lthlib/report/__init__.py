"""What a reader sees: claims and verdict wording (``claims``), the glossary, the figures
(``plots``), ipywidgets explorers (``widgets``), self-checking ``exercises`` and the
assignments' ``grading``. Import a module: ``from lthlib.report import plots``.

Modules: ``claims``, ``exercises``, ``glossary``, ``grading``, ``widgets``, ``plots``."""
from __future__ import annotations

__all__ = ["claims", "exercises", "glossary", "grading", "widgets", "plots"]
