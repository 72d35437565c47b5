"""The one identity of lthlib: a short hash of the canonical JSON of settings, masks and
state dicts, which names every stored result (``digest``). It imports nothing of lthlib's
but its errors, so settings and the store can both name things by it."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import torch

from lthlib.core.errors import StoreError


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
