"""What a figure was drawn from: the data's checksums, the code's commit, the device."""
from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from lthlib.apps.reproduce.figures import Figure, Published, REPO_ROOT
from lthlib.apps.reproduce.registry import NO_PUBLISHED
from lthlib.data.datasets import Dataset
# notebook 04's values, read from the module that owns them (the width study's fraction
# kept; Zhou et al.'s criteria, fractions kept per layer at smoke and quick, starts)


# ---------------------------------------------------------------------------- provenance
def dataset_checksum(data: Dataset) -> dict[str, Any]:
    """SHA-256 of the tensors actually used (train, validation and test inputs and labels,
    after the split and normalisation; each with its name, shape and dtype), and their shapes."""
    h = hashlib.sha256()
    tensors = {}
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        t = getattr(data, name).detach().cpu().contiguous()
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.numpy().tobytes())
        tensors[name] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
    return {"name": data.name, "sha256": h.hexdigest(), "tensors": tensors,
            "sha256_of": "for x_train, y_train, x_val, y_val, x_test, y_test in this order: the name, shape and "
                         "dtype, then the bytes (after the validation split and normalisation)"}


def git_info(root: Path = REPO_ROOT) -> dict[str, Any]:
    """``git rev-parse HEAD`` of the repository lthlib is imported from (None outside one)
    and whether tracked files differ from it."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


def device_words(data: Dataset) -> str:
    device = data.x_train.device
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def published_note(figure: Figure, drawn: Sequence[Published]) -> str:
    """The line under a figure that says which published values it shows, and why not."""
    if drawn:
        return ("black dash-dot lines: published values, as stated in "
                + "; ".join(dict.fromkeys(p.citation for p in drawn)))
    if figure.published:
        about = sorted({f"{k}={v}" for p in figure.published for k, v in p.applies_to.items()})
        return (f"published values ({'; '.join(dict.fromkeys(p.citation for p in figure.published))}) not drawn: "
                f"they are about {', '.join(about)}, not this run's networks")
    return f"{NO_PUBLISHED} for this figure"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
