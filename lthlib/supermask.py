"""Masks without weight training: Zhou et al.'s mask criteria and learned supermasks.

*Deconstructing Lottery Tickets: Zeros, Signs, and the Supermask* (Zhou, Lan, Liu &
Yosinski 2019) asks which part of IMP matters. Two tools here:

- **Mask criteria**: score every weight from its initial value ``w_i`` and trained value
  ``w_f`` and keep the top fraction per layer (``mask_by_criterion``); then start the kept
  weights from their initial values, from a *signed constant* (the sign of ``w_i`` times
  the layer's initial standard deviation) or from a fresh initialisation
  (``masked_start_state``). Evaluating that network *untrained* gives the "supermask"
  accuracy: a mask alone can make a random network far better than chance.
- **Learned supermasks** (``Supermask``): the weights stay frozen at random values and only
  a score per weight is trained; the forward pass uses ``weight * mask(score)``, and the
  mask's gradient passes straight through to the score. Two ways to turn scores into a
  mask: Zhou's **Bernoulli** masks (``mask ~ Bernoulli(sigmoid(score))``) and Ramanujan et
  al.'s **edge-popup** (keep the top-k% scores of each layer; *What's Hidden in a Randomly
  Weighted Neural Network?*, 2020), which is what "pruning is all you need" (Malach et al.
  2020) is about: a wide enough random network contains a good subnetwork.

``Supermask`` is an ``nn.Module`` whose only trainable parameters are the scores, so
``lthlib.training.train`` trains it like any model.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.func import functional_call

from lthlib.masks import Mask
from lthlib.models import prunable_parameters
from lthlib.pruning import PruningError, prune_by_score
from lthlib.streams import generator

if TYPE_CHECKING:
    from lthlib.config import TrainSettings
    from lthlib.data import Dataset
    from lthlib.training import Run

CRITERIA = ("large_final", "small_final", "large_init", "large_init_large_final",
            "magnitude_increase", "movement", "large_final_same_sign", "random")
RESETS = ("init", "signed_constant", "reinit")
METHODS = ("edge_popup", "bernoulli")
WEIGHT_INITS = ("signed_constant", "kaiming_normal", "init")

StateDict = Mapping[str, torch.Tensor]


def criterion_scores(criterion: str, w_init: torch.Tensor, w_final: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Zhou et al.'s score of each weight (higher = kept). ``large_init_large_final`` is
    ``min(alpha |w_i|, |w_f|)`` with ``alpha = std(w_f) / std(w_i)``, so that neither
    magnitude dominates only because of its scale."""
    a_i, a_f = w_init.abs(), w_final.abs()
    if criterion == "large_final":
        return a_f
    if criterion == "small_final":
        return -a_f
    if criterion == "large_init":
        return a_i
    if criterion == "large_init_large_final":
        alpha = w_final.std() / w_init.std().clamp_min(1e-12)
        return torch.minimum(alpha * a_i, a_f)
    if criterion == "large_final_same_sign":
        # Zhou et al.'s supermask criterion: large final weights that kept their sign
        return torch.where(torch.sign(w_init) == torch.sign(w_final), a_f, -1.0 - a_f)
    if criterion == "magnitude_increase":
        return a_f - a_i
    if criterion == "movement":
        return (w_final - w_init).abs()
    if criterion == "random":
        return torch.rand(w_init.shape, generator=generator)
    raise ValueError(f"criterion={criterion!r}: choose one of {list(CRITERIA)}")


def _keep_rates(names: list[str], keep: float | Mapping[str, float]) -> dict[str, float]:
    """Fractions kept per layer -> pruning rates (fractions removed)."""
    keep_map = dict(keep) if isinstance(keep, Mapping) else {n: keep for n in names}
    for name, k in keep_map.items():
        if not isinstance(k, (int, float)) or not 0.0 < k <= 1.0:
            raise PruningError(f"keep fraction for {name!r} is {k!r}: it must be in (0, 1]")
    return {n: 1.0 - keep_map[n] for n in names if keep_map.get(n, 1.0) < 1.0}


def mask_by_criterion(criterion: str, init_state: StateDict, final_state: StateDict,
                      layers: list[str], keep: float | Mapping[str, float], seed: int = 0) -> Mask:
    """Keep the top ``keep`` fraction (per layer, or ``{layer: fraction}``) of the weights
    of ``layers`` by ``criterion``; ties are broken by index, as in ``lthlib.pruning``.
    ``random`` draws its scores from the ``criterion`` stream of ``seed``, never from the
    stream that drew the weights."""
    g = generator(seed, "criterion")
    scores = {n: criterion_scores(criterion, init_state[n].float(), final_state[n].float(), g) for n in layers}
    dense = Mask({n: torch.ones_like(scores[n], dtype=torch.bool) for n in layers})
    return prune_by_score(scores, dense, _keep_rates(layers, keep))


def signed_constant_like(w_init: torch.Tensor) -> torch.Tensor:
    """``sign(w_i) * std(layer's initial weights)``: Zhou et al.'s signed constant."""
    return torch.sign(w_init) * w_init.float().std()


def masked_start_state(reset: str, init_state: StateDict, mask: Mask,
                       reinit_state: StateDict | None = None) -> dict[str, torch.Tensor]:
    """The starting weights of a masked network: the kept weights at their initial values
    (``"init"``), at the signed constant (``"signed_constant"``) or at fresh random values
    (``"reinit"``, from ``reinit_state``); pruned weights are zero."""
    if reset not in RESETS:
        raise ValueError(f"reset={reset!r}: choose one of {list(RESETS)}")
    if reset == "reinit" and reinit_state is None:
        raise ValueError("reset='reinit' needs reinit_state (a freshly initialised model's state_dict)")
    state = {k: v.clone() for k, v in init_state.items()}
    for name, keep in mask.items():
        if reset == "init":
            values = init_state[name]
        elif reset == "signed_constant":
            values = signed_constant_like(init_state[name])
        else:
            values = reinit_state[name]
        state[name] = values * keep.to(values.dtype)
    return state


def random_weights(model: nn.Module, kind: str, seed: int) -> None:
    """Overwrite the prunable weights of ``model`` in place with the frozen random weights
    edge-popup uses: ``"kaiming_normal"`` (std sqrt(2 / fan_in)) or ``"signed_constant"``
    (+-sqrt(2 / fan_in) with random signs); biases are set to zero. ``"init"`` leaves the
    model's own initialisation (the same weights an IMP ticket starts from)."""
    if kind not in WEIGHT_INITS:
        raise ValueError(f"weights={kind!r}: choose one of {list(WEIGHT_INITS)}")
    if kind == "init":
        return
    g = generator(seed, "frozen_weights")
    with torch.no_grad():
        for name, w in prunable_parameters(model).items():
            fan_in = w[0].numel()
            std = math.sqrt(2.0 / fan_in)
            noise = torch.randn(w.shape, generator=g)
            w.copy_(noise * std if kind == "kaiming_normal" else torch.sign(noise) * std)
        for mod in model.modules():
            if isinstance(getattr(mod, "bias", None), torch.Tensor) and isinstance(
                    mod, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                mod.bias.zero_()


class Supermask(nn.Module):
    """A frozen network whose prunable weights are multiplied by a learned mask.

    ``method="edge_popup"``: the mask keeps the top ``density`` fraction of |score| in each
    layer. ``method="bernoulli"``: in training the mask is sampled from
    Bernoulli(sigmoid(score)); in evaluation it is ``sigmoid(score) > 0.5``. Either way the
    gradient reaches the score straight through the mask (d weight*mask / d|score| = weight
    for edge-popup, times sigmoid' for Bernoulli), and never the frozen weights.
    """

    def __init__(self, base: nn.Module, method: str = "edge_popup", density: float = 0.5,
                 seed: int = 0):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method={method!r}: choose one of {list(METHODS)}")
        if method == "edge_popup" and not 0.0 < density <= 1.0:
            raise ValueError(f"density={density!r}: the kept fraction must be in (0, 1]")
        self.base, self.method, self.density = base, method, density
        for p in base.parameters():
            p.requires_grad_(False)
        self._names = list(prunable_parameters(base))
        g = generator(seed, "supermask_scores")
        scores = {}
        for name in self._names:
            w = dict(base.named_parameters())[name]
            bound = 1.0 / math.sqrt(w[0].numel())
            init = (torch.rand(w.shape, generator=g) * 2 - 1) * bound  # kaiming-uniform-like
            if method == "bernoulli":
                init = init / bound  # scores in (-1, 1): keep probabilities around 0.27-0.73
            scores[name.replace(".", "__")] = nn.Parameter(init.to(w.device))
        self.scores = nn.ParameterDict(scores)
        self._sampler = generator(seed, "bernoulli")

    def _hard(self, name: str, score: torch.Tensor) -> torch.Tensor:
        if self.method == "edge_popup":
            k = max(1, int(self.density * score.numel() + 0.5))
            flat = score.detach().abs().flatten()
            keep = torch.zeros_like(flat, dtype=torch.bool)
            keep[torch.topk(flat, k, sorted=False).indices] = True
            return keep.reshape(score.shape)
        prob = torch.sigmoid(score.detach())
        if self.training:
            return torch.rand(prob.shape, generator=self._sampler).to(prob.device) < prob
        return prob > 0.5

    def mask(self) -> Mask:
        """The current hard mask, named like the base model's parameters."""
        return Mask({n: self._hard(n, self.scores[n.replace(".", "__")]) for n in self._names})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = dict(self.base.named_parameters())
        for name in self._names:
            score = self.scores[name.replace(".", "__")]
            hard = self._hard(name, score).to(score.dtype)
            # the mask's gradient goes straight through to what the mask is built from:
            # |score| (edge-popup ranks by it) or sigmoid(score) (the keep probability)
            soft = score.abs() if self.method == "edge_popup" else torch.sigmoid(score)
            straight_through = hard + soft - soft.detach()
            params[name] = params[name] * straight_through
        return functional_call(self.base, {**params, **dict(self.base.named_buffers())}, (x,))


# ----------------------------------------------------------------------------- experiments
# Module-level functions of one picklable job each, so that lthlib.parallel can run them in
# worker processes; each result is stored under its settings and reused.

def _template(settings: "TrainSettings", data: "Dataset", stream: str = "init") -> nn.Module:
    from lthlib.models import build_model

    return build_model(settings.model, data.input_shape, data.num_classes, seed=settings.seed,
                       stream=stream, **settings.model_kwargs)


def untrained_accuracy(settings: "TrainSettings", data: "Dataset", init_state: StateDict,
                       final_state: StateDict, criterion: str, reset: str, keep: float) -> float:
    """Test accuracy of the *untrained* masked network (Zhou et al.'s supermask accuracy):
    mask by ``criterion`` at ``keep``, start the kept weights as ``reset`` says, evaluate."""
    from lthlib.training import evaluate

    model = _template(settings, data)
    layers = list(prunable_parameters(model))
    mask = mask_by_criterion(criterion, init_state, final_state, layers, keep, seed=settings.seed)
    reinit = _template(settings, data, stream="reinit").state_dict() if reset == "reinit" else None
    model.load_state_dict(masked_start_state(reset, init_state, mask, reinit))
    return evaluate(model, data.x_test, data.y_test)[1]


def train_criterion_mask(job: tuple) -> "Run":
    """Train the network masked by a criterion from the reset start (one job:
    ``(settings, data, init_state, final_state, criterion, reset, keep, store_root)``)."""
    from lthlib.store import Store
    from lthlib.training import train

    settings, data, init_state, final_state, criterion, reset, keep, store_root = job

    def compute():
        model = _template(settings, data)
        layers = list(prunable_parameters(model))
        mask = mask_by_criterion(criterion, init_state, final_state, layers, keep, seed=settings.seed)
        reinit = _template(settings, data, stream="reinit").state_dict() if reset == "reinit" else None
        model.load_state_dict(masked_start_state(reset, init_state, mask, reinit))
        return train(model, data, settings, mask=mask, progress=False)

    extra = {"criterion": criterion, "reset": reset, "keep": keep}
    return Store(store_root).get_or_compute("criterion_mask", settings, compute, extra=extra)


def learn_supermask(job: tuple) -> "Run":
    """Learn a supermask on frozen random weights (one job:
    ``(settings, data, method, density, weights, store_root)``); the Run's ``mask`` is the
    final hard mask."""
    from lthlib.store import Store
    from lthlib.training import train

    settings, data, method, density, weights, store_root = job

    def compute():
        base = _template(settings, data)
        random_weights(base, weights, seed=settings.seed)
        net = Supermask(base, method, density=density, seed=settings.seed).to(data.x_train.device)
        run = train(net, data, settings, progress=False)
        run.mask = net.mask().state_dict()
        run.final_state = {}  # frozen weights + scores: rebuilt from the seed when needed
        return run

    extra = {"method": method, "density": density, "weights": weights}
    return Store(store_root).get_or_compute("supermask", settings, compute, extra=extra)


def supermask_settings(settings: "TrainSettings", method: str) -> "TrainSettings":
    """Optimiser settings for training scores: SGD lr 0.1 with momentum 0.9 for edge-popup
    (as Ramanujan et al., without their cosine schedule), Adam lr 0.05 for Bernoulli masks
    (scores live on the logit scale, so they need larger steps than weights)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose one of {list(METHODS)}")
    if method == "edge_popup":
        return settings.replace(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=0.0)
    return settings.replace(optimizer="adam", lr=0.05, momentum=0.0, weight_decay=0.0)
