"""A pruning mask as data: ``{parameter name -> bool tensor}``, True where a weight survives.

Keeping the mask apart from the model (instead of rewriting the module, as
``torch.nn.utils.prune`` does) keeps parameter names, ``deepcopy`` and ``state_dict``
unchanged, so any model can be pruned, rewound and saved.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torch import nn

from lthlib.core.store import atomic_save, digest_tensors, load
from lthlib.models.networks import prunable_parameters


class MaskError(ValueError):
    """A mask does not fit the model it is used with."""


class Mask(Mapping[str, torch.Tensor]):
    """Parameter name -> bool tensor (True = kept). Immutable; pruning returns a new Mask."""

    def __init__(self, tensors: Mapping[str, torch.Tensor]):
        self._tensors: dict[str, torch.Tensor] = {}
        if not isinstance(tensors, Mapping):
            raise MaskError(f"a Mask is built from {{parameter name: bool tensor}}, not a "
                            f"{type(tensors).__name__}")
        for name, t in tensors.items():
            if not isinstance(name, str):
                raise MaskError(f"mask key {name!r}: keys are parameter names (strings)")
            try:
                t = torch.as_tensor(t)
            except (TypeError, ValueError, RuntimeError):
                raise MaskError(f"mask for {name!r} is a {type(t).__name__}, not a tensor of "
                                "0/1 or bool values") from None
            if t.dtype != torch.bool:
                if not torch.all((t == 0) | (t == 1)):
                    raise MaskError(f"mask for {name!r} has values other than 0/1")
                t = t.bool()
            self._tensors[name] = t.detach().clone()

    # Mapping protocol
    def __getitem__(self, name: str) -> torch.Tensor:
        return self._tensors[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def __repr__(self) -> str:
        return f"Mask({len(self)} tensors, density={self.density():.4f})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mask) or set(self) != set(other):
            return False
        return all(torch.equal(self[k], other[k].to(self[k].device)) for k in self)

    @classmethod
    def ones_like(cls, model: nn.Module) -> "Mask":
        """The dense mask: every prunable weight of ``model`` kept."""
        return cls({n: torch.ones_like(p, dtype=torch.bool) for n, p in prunable_parameters(model).items()})

    def num_kept(self) -> int:
        return int(sum(int(t.sum()) for t in self._tensors.values()))

    def numel(self) -> int:
        return int(sum(t.numel() for t in self._tensors.values()))

    def density(self) -> float:
        """Fraction of the masked weights that are kept (1.0 = dense)."""
        total = self.numel()
        return self.num_kept() / total if total else 1.0

    def layer_density(self) -> dict[str, float]:
        """Per-tensor fraction kept."""
        return {n: float(t.float().mean()) for n, t in self._tensors.items()}

    def check_fits(self, model: nn.Module) -> None:
        """Raise MaskError unless every masked name is a parameter of ``model`` of the same shape."""
        params = dict(model.named_parameters())
        for name, t in self._tensors.items():
            if name not in params:
                raise MaskError(f"mask has {name!r}, which the model does not have; "
                                f"the model's prunable weights are {sorted(prunable_parameters(model))}")
            if tuple(params[name].shape) != tuple(t.shape):
                raise MaskError(f"mask for {name!r} has shape {tuple(t.shape)} but the model's "
                                f"parameter has shape {tuple(params[name].shape)}")

    @torch.no_grad()
    def apply_(self, model: nn.Module) -> nn.Module:
        """Zero the pruned weights of ``model`` in place (returns the model)."""
        self.check_fits(model)
        params = dict(model.named_parameters())
        for name, t in self._tensors.items():
            params[name].mul_(t.to(params[name].device))
        return model

    def digest(self) -> str:
        """A short hash of the mask (names, shapes and bits), to key stored results by it."""
        return digest_tensors(self._tensors)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {n: t.cpu() for n, t in self._tensors.items()}

    def save(self, path: str | Path) -> None:
        atomic_save(self.state_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> "Mask":
        """A mask saved by ``save`` (tensors only: reading it cannot run code)."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"no such file: {path} (a mask saved with Mask.save)")
        stored = load(path)
        try:
            return cls(stored)
        except MaskError as exc:
            raise MaskError(f"{path} is not a mask saved by Mask.save: {exc}") from None


def overlap(a: Mask, b: Mask) -> dict[str, dict[str, float]]:
    """How much two masks keep the same weights, per layer and ``"overall"``.

    For each layer: ``iou`` = |a and b| / |a or b| (1: the same mask, 0: disjoint);
    ``chance_iou``: the expected IoU of two independent random masks with the same kept
    counts (intersection k_a k_b / n), so that an overlap can be read against chance;
    ``density_a``, ``density_b``.
    """
    if set(a) != set(b):
        raise MaskError(f"the masks cover different layers: {sorted(set(a) ^ set(b))}")
    out: dict[str, dict[str, float]] = {}
    totals = {"inter": 0.0, "union": 0.0, "chance_inter": 0.0, "ka": 0.0, "kb": 0.0, "n": 0.0}
    for name in a:
        ta, tb = a[name], b[name].to(a[name].device)
        if ta.shape != tb.shape:
            raise MaskError(f"{name!r}: shapes {tuple(ta.shape)} and {tuple(tb.shape)} differ")
        n, ka, kb = ta.numel(), int(ta.sum()), int(tb.sum())
        inter, union = int((ta & tb).sum()), int((ta | tb).sum())
        chance_inter = ka * kb / n
        out[name] = {"iou": inter / union if union else 1.0,
                     "chance_iou": _iou_from(chance_inter, ka, kb),
                     "density_a": ka / n, "density_b": kb / n}
        for key, value in zip(("inter", "union", "chance_inter", "ka", "kb", "n"),
                              (inter, union, chance_inter, ka, kb, n)):
            totals[key] += value
    out["overall"] = {"iou": totals["inter"] / totals["union"] if totals["union"] else 1.0,
                      "chance_iou": _iou_from(totals["chance_inter"], totals["ka"], totals["kb"]),
                      "density_a": totals["ka"] / totals["n"], "density_b": totals["kb"] / totals["n"]}
    return out


def _iou_from(intersection: float, ka: float, kb: float) -> float:
    union = ka + kb - intersection
    return intersection / union if union else 1.0
