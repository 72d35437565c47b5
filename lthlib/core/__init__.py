"""The base every other part builds on, importing nothing of lthlib above it: the errors a user
can fix, the one identity (``digest``), the store, named random streams, the fixed thread
count (and the memory thresholds set with it), devices, progress bars and the profile counts.

Modules: ``devices``, ``errors``, ``identity``, ``memory``, ``profile``, ``progress``,
``store``, ``streams``, ``threads``."""
from __future__ import annotations

from lthlib.core.errors import SettingsError, StoreError
from lthlib.core.identity import canonical, digest
from lthlib.core.store import Store, atomic_save, load, register_stored_type
from lthlib.core.streams import generator
from lthlib.core.threads import training_threads, fixed_threads
from lthlib.core.devices import resolve_device
from lthlib.core.progress import progress_bar

__all__ = ["SettingsError", "StoreError", "canonical", "digest", "Store", "atomic_save", "load",
           "register_stored_type", "generator", "training_threads", "fixed_threads", "resolve_device", "progress_bar"]
