"""The papers' networks as plain ``nn.Module``s built by name (``networks``) and their
initialisations (``initialisation``).

Modules: ``initialisation``, ``networks``."""
from __future__ import annotations

from lthlib.models.networks import (MLP, ConvNet1d, ConvNet, ResNetCifar, WideResNet, VGGCifar, Transformer,
                                    build_model, count_parameters, prunable_parameters)
from lthlib.models.initialisation import initialise

__all__ = ["MLP", "ConvNet1d", "ConvNet", "ResNetCifar", "WideResNet", "VGGCifar", "Transformer", "build_model",
           "count_parameters", "prunable_parameters", "initialise"]
