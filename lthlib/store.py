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
from collections.abc import Mapping
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
    """``torch.load`` of tensors and plain containers only (``weights_only=True``: a file
    cannot run code when it is read), naming the file when it cannot be read."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise StoreError(f"{path} could not be read ({type(exc).__name__}: {exc}); "
                         "it is corrupt or from another version: delete it to recompute") from exc


# Bumped when stored results stop being comparable (2: named random streams replaced
# seeds with offsets, so every run of version 1 would now come out differently).
STORE_VERSION = 2


def canonical(value: Any) -> Any:
    """``value`` as plain JSON data: settings via ``to_dict()``, tensors and masks by the
    hash of their bytes, tuples as lists."""
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return canonical(value.to_dict())
    if isinstance(value, torch.Tensor):
        return digest_tensors({"": value})
    if isinstance(value, Mapping):
        if value and all(isinstance(v, torch.Tensor) for v in value.values()):
            return digest_tensors(value)  # a state dict or a mask
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise StoreError(f"cannot name a result by a {type(value).__name__}: use settings, "
                     "numbers, strings, tensors or dicts/lists of them")


def digest(value: Any) -> str:
    """The one identity of lthlib: a short SHA-256 of the canonical JSON of ``value``
    (settings, a dict of them, a mask or a state dict)."""
    text = json.dumps(canonical(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def digest_tensors(tensors: Mapping[str, torch.Tensor]) -> str:
    """A short hash of named tensors (names, shapes, dtypes and bytes)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


class Store:
    """Results on disk, one file per (kind, key): "load it if stored, else compute it".

    ``key`` is anything ``digest`` can name (settings, or a dict of settings and other
    inputs); a file is named ``<root>/<kind>/<digest>.pt`` and also holds its key, so a
    file that does not belong to the key asked for is reported, never used. Checkpoints of
    a result being computed live beside it (``checkpoint(kind, key)``). ``root=None``
    stores nothing (everything is computed).
    """

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None
        if self.root is not None and self.root.exists() and not self.root.is_dir():
            raise StoreError(f"the results folder {self.root} is a file; pass a folder "
                             "(RESULTS_DIR / --results)")

    @staticmethod
    def key(settings: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {"version": STORE_VERSION, "settings": canonical(settings),
                "extra": canonical(dict(extra or {}))}

    def path(self, kind: str, settings: Any, extra: Mapping[str, Any] | None = None,
             suffix: str = ".pt") -> Path:
        if self.root is None:
            raise StoreError("this Store has no folder (root=None)")
        return self.root / kind / f"{digest(self.key(settings, extra))}{suffix}"

    def checkpoint(self, kind: str, settings: Any, extra: Mapping[str, Any] | None = None,
                   name: str = "") -> Path | None:
        """Where the computation of this result checkpoints (None without a folder)."""
        if self.root is None:
            return None
        return self.path(kind, settings, extra, suffix=f"{'_' + name if name else ''}.ckpt")

    def get(self, kind: str, settings: Any, extra: Mapping[str, Any] | None = None) -> Any | None:
        """The stored result, or None when there is none."""
        if self.root is None:
            return None
        path = self.path(kind, settings, extra)
        if not path.exists():
            return None
        stored = load(path)
        if not isinstance(stored, dict) or stored.get("key") != self.key(settings, extra):
            raise StoreError(f"{path} holds a result for other settings than those asked for "
                             "(another lthlib version, or a copied file); delete it to recompute")
        result = stored["result"]
        if isinstance(result, dict) and set(result) == {"run"}:
            from lthlib.training import Run

            return Run.from_dict(result["run"])
        return result

    def put(self, kind: str, settings: Any, result: T, extra: Mapping[str, Any] | None = None) -> T:
        """Store ``result`` atomically (nothing without a folder); returns it. A result is
        tensors and plain containers (a ``Run`` is stored as its dict), so that reading it
        back never runs code."""
        if self.root is not None:
            from lthlib.training import Run

            plain = {"run": result.to_dict()} if isinstance(result, Run) else result
            atomic_save({"key": self.key(settings, extra), "result": plain},
                        self.path(kind, settings, extra))
        return result

    def get_or_compute(self, kind: str, settings: Any, compute: Callable[[], T],
                       extra: Mapping[str, Any] | None = None) -> T:
        """The stored result for these settings, or ``compute()`` (then stored atomically)."""
        stored = self.get(kind, settings, extra)
        if stored is not None:
            return stored
        return self.put(kind, settings, compute(), extra)
