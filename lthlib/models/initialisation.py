"""The papers' initialisations, by name, applied to a freshly built model.

PyTorch's default (uniform +-1/sqrt(fan_in) for Linear and Conv weights and biases) is not
what the papers used:

| name             | weights of Linear / Conv layers          | biases | BatchNorm weight | used by |
|------------------|------------------------------------------|--------|------------------|---------|
| ``default``      | PyTorch's default                        | default| 1                | quick and smoke scales |
| ``glorot_normal``| N(0, 2 / (fan_in + fan_out))             | 0      | 1                | Frankle & Carbin 2019 (Figure 2: "Initializations are Gaussian Glorot"; their TF code's biases start at 0), Zhou et al. 2019 |
| ``kaiming_normal``| N(0, 2 / fan_in) (ReLU gain)            | default| U(0, 1)          | open_lth's ResNet-20 / VGG-16 (``initializers.kaiming_normal``, ``bn_initializers.uniform``), which Frankle et al. 2020 build on |

``build_model(..., init=name)`` applies one inside the model's random stream (``init`` or
``reinit``), so its draws depend on the seed and the stream only, as the default's do.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)


@torch.no_grad()
def glorot_normal(model: nn.Module) -> None:
    """Glorot (Xavier) normal weights, zero biases, in every Linear and Conv layer."""
    for m in model.modules():
        if isinstance(m, _WEIGHTED):
            nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@torch.no_grad()
def kaiming_normal(model: nn.Module) -> None:
    """open_lth's: Kaiming normal weights (fan_in, ReLU) in Linear and Conv layers, their
    biases left at PyTorch's default, BatchNorm weights uniform on [0, 1)."""
    for m in model.modules():
        if isinstance(m, _WEIGHTED):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.uniform_(m.weight)


INITS: dict[str, Callable[[nn.Module], None] | None] = {
    "default": None,
    "glorot_normal": glorot_normal,
    "kaiming_normal": kaiming_normal,
}


def initialise(model: nn.Module, name: str) -> nn.Module:
    """Apply the initialisation ``name`` (``INITS``) to ``model`` in place; returns it."""
    if name not in INITS:
        raise ValueError(f"init={name!r}: choose one of {sorted(INITS)}")
    fn = INITS[name]
    if fn is not None:
        fn(model)
    return model
