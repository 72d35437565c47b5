"""The errors lthlib raises for what a user can fix, in one module that imports nothing of
lthlib's, so that every module (the store, data, models, settings) can raise them."""
from __future__ import annotations


class SettingsError(ValueError):
    """A setting is out of range or unknown; the message says which and what is allowed."""


class StoreError(RuntimeError):
    """A stored file is unreadable or belongs to other settings."""
