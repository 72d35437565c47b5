"""One progress bar that suits notebooks and stays quiet where nobody watches.

``LTHLIB_PROGRESS=0`` turns bars off (the notebook runner and the tests set it, so that
executed notebooks do not fill up with bar widgets); ``=1`` forces them on. Unset: shown in
a notebook or a terminal, hidden when output goes to a file or pipe.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from tqdm.auto import tqdm


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_enabled(requested: bool | None = None) -> bool:
    """Whether to show a bar: ``requested`` if given, else the env switch, else auto."""
    if requested is not None:
        return requested
    env = os.environ.get("LTHLIB_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    return _in_notebook() or sys.stderr.isatty()


def progress_bar(total: int, desc: str, show: bool | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar (widget in notebooks, text in terminals), disabled when not wanted."""
    return tqdm(total=total, desc=desc, disable=not progress_enabled(show), leave=False,
                mininterval=0.5, **kwargs)
