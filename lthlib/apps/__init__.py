"""The programs: the command line (``cli``, behind ``python -m lthlib``), ``reproduce``
(papers' figures by id), the course ``site`` and the graded ``assignments``.

Modules: ``assignment_sources``, ``assignments``, ``cli``, ``site``, ``site_pages``,
``reproduce``."""
from __future__ import annotations

__all__ = ["assignment_sources", "assignments", "cli", "site", "site_pages", "reproduce"]
