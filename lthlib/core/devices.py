"""Which torch device lthlib computes on: ``resolve_device("auto")`` and friends.

One setting, ``device`` (``DEVICE`` in a notebook's parameters cell), names it. ``"auto"``
picks the fastest device this machine has -- CUDA, else Apple's MPS, else the CPU -- so
that a notebook written on a laptop runs unchanged on a GPU box. A device that is named
but missing is an error, never a silent fall back to the CPU: a run meant for a GPU that
quietly trains on the CPU for hours is worse than a clear message.
"""
from __future__ import annotations

import torch

AUTO_ORDER = ("cuda", "mps", "cpu")  # what "auto" tries, fastest first


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """The device names this machine can compute on, e.g. ``["cuda:0", "cuda", "cpu"]``."""
    names: list[str] = []
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    names.append("cpu")
    return names


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The ``torch.device`` that ``device`` names on this machine.

    ``"auto"``: CUDA if available, else MPS if available, else the CPU. Anything else
    (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, a ``torch.device``) must exist here;
    otherwise ``ValueError`` names the setting and what this machine has.
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")

    def refuse(why: str) -> ValueError:
        return ValueError(f"device={device!r} (the DEVICE / device setting): {why}; this machine "
                          f"has {available_devices()}; use \"auto\" for the best of them")

    if not isinstance(device, (str, torch.device)):
        raise refuse(f"expected a string or torch.device, not {type(device).__name__}")
    try:
        resolved = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, ValueError):
        raise refuse("unknown device name") from None
    if resolved.type == "cpu":
        return resolved
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise refuse("CUDA is not available (no NVIDIA GPU, or torch was built without CUDA)")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise refuse(f"there are only {torch.cuda.device_count()} CUDA device(s)")
        return resolved
    if resolved.type == "mps":
        if not _mps_available():
            raise refuse("Apple's MPS is not available on this machine")
        return resolved
    raise refuse(f"lthlib runs on {list(AUTO_ORDER)} devices only")


# The device type this process computes on, as far as lthlib knows (set when a dataset is
# placed on a device, which is where every model follows it). Stored results record it
# (``lthlib.core.threads.numerics``): a GPU's kernels give other last bits than the CPU's.
_compute_device_type = "cpu"


def note_compute_device(device: torch.device) -> None:
    global _compute_device_type
    _compute_device_type = torch.device(device).type


def compute_device_type() -> str:
    return _compute_device_type
