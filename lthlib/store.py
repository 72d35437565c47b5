"""Files that are never half-written: every save goes to a temporary file, then is renamed.

An interrupted run (kernel killed, laptop closed) therefore leaves either the previous
file or the new one, never a truncated one that a later run would trust.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch


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
