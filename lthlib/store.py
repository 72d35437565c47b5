"""Files that are never half-written: every save goes to a temporary file, then is renamed.

An interrupted run (kernel killed, laptop closed) therefore leaves either the previous
file or the new one, never a truncated one that a later run would trust.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch

T = TypeVar("T")


class StoreError(RuntimeError):
    """A stored file is unreadable or belongs to other settings."""


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to ``path`` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load(path: str | Path) -> Any:
    """``torch.load`` that names the file when it cannot be read."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise StoreError(f"{path} could not be read ({type(exc).__name__}: {exc}); "
                         "it is corrupt or from another version: delete it to recompute") from exc


class Store:
    """Results on disk, one file per (kind, settings): "load it if stored, else compute it".

    A file is named by a hash of the settings (and any ``extra`` inputs), and also holds
    the settings themselves, so a file that does not belong to the settings asked for is
    reported, never used. ``root=None`` stores nothing (everything is computed).
    """

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None

    def key(self, settings: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"settings": settings.to_dict(), "extra": dict(extra or {})}

    def path(self, kind: str, settings: Any, extra: dict[str, Any] | None = None) -> Path:
        if self.root is None:
            raise StoreError("this Store has no folder (root=None)")
        text = json.dumps(self.key(settings, extra), sort_keys=True, default=str)
        return self.root / kind / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.pt"

    def get_or_compute(self, kind: str, settings: Any, compute: Callable[[], T],
                       extra: dict[str, Any] | None = None) -> T:
        """The stored result for these settings, or ``compute()`` (then stored atomically)."""
        if self.root is None:
            return compute()
        path = self.path(kind, settings, extra)
        if path.exists():
            stored = load(path)
            key = json.loads(json.dumps(self.key(settings, extra), default=str))
            if not isinstance(stored, dict) or stored.get("key") != key:
                raise StoreError(f"{path} holds a result for other settings than those asked for; "
                                 "delete it to recompute")
            return stored["result"]
        result = compute()
        atomic_save({"key": json.loads(json.dumps(self.key(settings, extra), default=str)),
                     "result": result}, path)
        return result
