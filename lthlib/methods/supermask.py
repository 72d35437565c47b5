"""Masks without weight training, the methods: Zhou et al.'s mask criteria and learned supermasks.

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
``lthlib.engine.training.train`` trains it like any model; ``supermask_settings`` gives the
optimiser its scores are trained with (``SUPERMASK_OPTIMIZERS``).

Notebook 04's experiment (its values, jobs and runners) is ``lthlib.experiments.supermask_study``; its
reads of the runs are ``lthlib.experiments.supermask_results``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.func import functional_call

from lthlib.core.streams import generator
from lthlib.masks import Mask
from lthlib.methods.pruning import PruningError, check_density, prune_by_score
from lthlib.models.networks import prunable_parameters

if TYPE_CHECKING:
    from lthlib.settings import TrainSettings

RESETS = ("init", "signed_constant", "reinit")
METHODS = ("edge_popup", "bernoulli")
# How a Bernoulli supermask is learned (``bernoulli_for_scale``):
# - "lthlib" (smoke, quick): Adam 0.05 on scores uniform around logit(density), the mask's
#   mode (sigmoid(score) > 0.5) at evaluation, frozen signed-constant weights;
# - "zhou" (paper): Zhou et al.'s code -- SGD lr 100 with momentum 0.9, every score starting
#   at the constant logit(density) (``--sigmoid_bias``), a fresh Bernoulli sample of the mask
#   at every evaluation forward pass, the network's own (Glorot-normal) initial weights
#   frozen; their optional dynamic weight rescaling is ``Supermask(rescale=True)``.
BERNOULLI_VARIANTS = ("lthlib", "zhou")
BERNOULLI_OPTIONS = {"lthlib": dict(score_init="uniform", eval_mask="mode"),
                     "zhou": dict(score_init="constant", eval_mask="sample")}


def bernoulli_for_scale(scale: str) -> str:
    """The Bernoulli supermask's variant at a scale: Zhou et al.'s at paper scale."""
    return "zhou" if scale == "paper" else "lthlib"

WEIGHT_INITS = ("signed_constant", "kaiming_normal", "init")
# the words figures and tables use
RESET_LABELS = {"init": "initial values", "signed_constant": "signed constant",
                "reinit": "fresh random values"}
METHOD_LABELS = {"edge_popup": "edge-popup", "bernoulli": "Bernoulli"}

StateDict = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class Criterion:
    """One of Zhou et al.'s mask criteria: its name, the words figures and tables use, and its
    score of each weight from its initial and final values (higher = kept; ``generator``:
    the ``criterion`` stream, for the random criterion). Figures colour the criteria in the
    order they are drawn."""

    name: str
    label: str
    score: Callable[[torch.Tensor, torch.Tensor, "torch.Generator | None"], torch.Tensor]


def _large_init_large_final(w_init: torch.Tensor, w_final: torch.Tensor, _: "torch.Generator | None") -> torch.Tensor:
    return torch.minimum(_ranks(w_init.abs()), _ranks(w_final.abs())).to(w_final.abs().dtype)


def _large_final_same_sign(w_init: torch.Tensor, w_final: torch.Tensor, _: "torch.Generator | None") -> torch.Tensor:
    # Zhou et al.'s supermask criterion: large final weights that kept their sign
    a_f = w_final.abs()
    return torch.where(torch.sign(w_init) == torch.sign(w_final), a_f, -1.0 - a_f)


# To add a criterion: a ``Criterion`` here (notebook 04 draws those its spec names).
MASK_CRITERIA: dict[str, Criterion] = {c.name: c for c in (
    Criterion("large_final", "large final", lambda w_i, w_f, g: w_f.abs()),
    Criterion("small_final", "small final", lambda w_i, w_f, g: -w_f.abs()),
    Criterion("large_init", "large init", lambda w_i, w_f, g: w_i.abs()),
    Criterion("large_init_large_final", "large init, large final", _large_init_large_final),
    Criterion("magnitude_increase", "magnitude increase", lambda w_i, w_f, g: w_f.abs() - w_i.abs()),
    Criterion("movement", "movement", lambda w_i, w_f, g: (w_f - w_i).abs()),
    Criterion("large_final_same_sign", "large final, same sign", _large_final_same_sign),
    Criterion("random", "random", lambda w_i, w_f, g: torch.rand(w_i.shape, generator=g)),
)}
# Views of the registry, by name
CRITERIA = tuple(MASK_CRITERIA)
CRITERION_LABELS = {n: c.label for n, c in MASK_CRITERIA.items()}


def criterion_scores(criterion: str, w_init: torch.Tensor, w_final: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Zhou et al.'s score of each weight (higher = kept; ``MASK_CRITERIA``).
    ``large_init_large_final`` keeps the weights in the top of *both* |w_i| and |w_f|, as the
    authors' code does (``get_weight_init.py``: one percentile threshold applied to each
    magnitude, searched so that their intersection has the size asked for): the score is the
    lower of the weight's two ranks (its percentile in |w_i| and in |w_f|), so keeping the
    top k scores keeps the largest quadrant of k weights (ties by index, as everywhere)."""
    if criterion not in MASK_CRITERIA:
        raise ValueError(f"criterion={criterion!r}: choose one of {list(CRITERIA)}")
    return MASK_CRITERIA[criterion].score(w_init, w_final, generator)


# Zhou et al.'s per-layer fractions kept (their README command: ``--prune_base 0.8,0.9
# --layer_cutoff 4,6 --prune_power p``, as Frankle & Carbin's LeNet rates): 0.8^p of each
# hidden layer, 0.9^p of the output layer, for p = 0, 1, ..., 24.
ZHOU_PRUNE_BASES = (0.8, 0.9)  # (hidden layers, output layer)
ZHOU_POWERS = tuple(range(25))


def zhou_layer_densities(layers: Sequence[str], power: int) -> dict[str, float]:
    """Zhou et al.'s fractions kept at ``power`` p: 0.8^p in every layer of ``layers`` but
    the last (the output layer), 0.9^p there."""
    hidden, output = ZHOU_PRUNE_BASES
    return {n: (output if i == len(layers) - 1 else hidden) ** power for i, n in enumerate(layers)}


def _ranks(values: torch.Tensor) -> torch.Tensor:
    """Each element's rank (0 = smallest; ties by index), shaped like ``values``."""
    flat = values.flatten()
    order = torch.sort(flat, stable=True).indices
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(flat.numel(), device=flat.device)
    return ranks.reshape(values.shape)


def _rates_for_density(names: list[str], density: float | Mapping[str, float]) -> dict[str, float]:
    """Densities (fractions kept) per layer -> pruning rates (fractions removed)."""
    density_map = dict(density) if isinstance(density, Mapping) else {n: density for n in names}
    for name, d in density_map.items():
        check_density(name, d)
    return {n: 1.0 - density_map[n] for n in names if density_map.get(n, 1.0) < 1.0}


def mask_by_criterion(criterion: str, init_state: StateDict, final_state: StateDict,
                      layers: list[str], density: float | Mapping[str, float], seed: int = 0) -> Mask:
    """Keep the top ``density`` fraction (per layer, or ``{layer: fraction}``) of the weights
    of ``layers`` by ``criterion``; ties are broken by index, as in ``lthlib.methods.pruning``.
    ``random`` draws its scores from the ``criterion`` stream of ``seed``, never from the
    stream that drew the weights."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion={criterion!r}: choose one of {list(CRITERIA)}")
    missing = [n for n in layers if n not in init_state or n not in final_state]
    if missing:
        raise PruningError(f"layers {missing} are not in the network's weights; its weights are "
                           f"{sorted(n for n in init_state if init_state[n].dim() > 1)}")
    g = generator(seed, "criterion")
    scores = {n: criterion_scores(criterion, init_state[n].float(), final_state[n].float(), g) for n in layers}
    dense = Mask({n: torch.ones_like(scores[n], dtype=torch.bool) for n in layers})
    return prune_by_score(scores, dense, _rates_for_density(layers, density))


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


def edge_popup_mask(score: torch.Tensor, density: float) -> torch.Tensor:
    """Edge-popup's hard mask (Ramanujan et al. 2020): keep the ``round(density * n)``
    weights (at least one) with the largest ``|score|``; a bool tensor shaped like ``score``."""
    k = max(1, int(density * score.numel() + 0.5))
    flat = score.detach().abs().flatten()
    keep = torch.zeros_like(flat, dtype=torch.bool)
    keep[torch.topk(flat, k, sorted=False).indices] = True
    return keep.reshape(score.shape)


class Supermask(nn.Module):
    """A frozen network whose prunable weights are multiplied by a learned mask.

    ``method="edge_popup"``: the mask keeps the top ``density`` fraction of |score| in each
    layer. ``method="bernoulli"``: in training the mask is sampled from
    Bernoulli(sigmoid(score)); in evaluation it is ``sigmoid(score) > 0.5``; ``density`` is
    the expected keep probability at the start (scores uniform in (-1, 1) shifted by
    logit(density): 0.5 gives no shift) and training moves it freely. Either way the
    gradient reaches the score straight through the mask (d weight*mask / d|score| = weight
    for edge-popup, times sigmoid' for Bernoulli), and never the frozen weights.
    """

    def __init__(self, base: nn.Module, method: str = "edge_popup", density: float = 0.5,
                 seed: int = 0, *, score_init: str = "uniform", eval_mask: str = "mode",
                 rescale: bool = False):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method={method!r}: choose one of {list(METHODS)}")
        if score_init not in ("uniform", "constant") or eval_mask not in ("mode", "sample"):
            raise ValueError(f"score_init={score_init!r}, eval_mask={eval_mask!r}: choose score_init 'uniform' "
                             "or 'constant' and eval_mask 'mode' or 'sample'")
        self.score_init, self.eval_mask, self.rescale = score_init, eval_mask, bool(rescale)
        if method == "edge_popup":
            check_density("edge-popup", density)
        if method == "bernoulli" and not 0.0 < density < 1.0:
            raise ValueError(f"density={density!r}: the starting keep probability must be in (0, 1)")
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
                # scores in (-1, 1) + logit(density): at 0.5, keep probabilities 0.27-0.73;
                # "constant": every score at logit(density) (Zhou et al.)
                init = (torch.zeros_like(init) if score_init == "constant" else init / bound) \
                    + math.log(density / (1.0 - density))
            scores[name.replace(".", "__")] = nn.Parameter(init.to(w.device))
        self.scores = nn.ParameterDict(scores)
        self._sampler = generator(seed, "bernoulli")
        self._eval_sampler = generator(seed, "bernoulli_eval")

    def _hard(self, name: str, score: torch.Tensor) -> torch.Tensor:
        if self.method == "edge_popup":
            return edge_popup_mask(score, self.density)
        prob = torch.sigmoid(score.detach())
        if self.training or self.eval_mask == "sample":
            g = self._sampler if self.training else self._eval_sampler
            return torch.rand(prob.shape, generator=g).to(prob.device) < prob
        return prob > 0.5

    def mask(self) -> Mask:
        """The current hard mask, named like the base model's parameters (a Bernoulli mask:
        its mode, sigmoid(score) > 0.5, whichever ``eval_mask``)."""
        if self.method == "bernoulli":
            return Mask({n: torch.sigmoid(self.scores[n.replace(".", "__")].detach()) > 0.5 for n in self._names})
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
            if self.rescale:  # Zhou et al.'s dynamic weight rescaling: weights x (n / n kept)
                straight_through = straight_through * (hard.numel() / hard.sum().clamp_min(1.0))
            params[name] = params[name] * straight_through
        return functional_call(self.base, {**params, **dict(self.base.named_buffers())}, (x,))

# Optimisers for training supermask scores (``supermask_settings``): Ramanujan et al.'s SGD
# for edge-popup (without their cosine schedule); Adam with a large step for Bernoulli
# scores, which live on the logit scale.
SUPERMASK_OPTIMIZERS: dict[str, dict[str, Any]] = {
    "edge_popup": dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=0.0),
    "bernoulli": dict(optimizer="adam", lr=0.05, momentum=0.0, weight_decay=0.0),
    # Zhou et al.'s (uber-research/deconstructing-lottery-tickets: README command, --mom
    # default): SGD at lr 100 with momentum 0.9 on the mask logits; the paper scale uses it
    "bernoulli_zhou": dict(optimizer="sgd", lr=100.0, momentum=0.9, weight_decay=0.0),
}


def supermask_settings(settings: "TrainSettings", method: str, variant: str = "lthlib") -> "TrainSettings":
    """Optimiser settings for training scores: SGD lr 0.1 with momentum 0.9 for edge-popup
    (as Ramanujan et al., without their cosine schedule); for Bernoulli masks Adam lr 0.05
    (scores live on the logit scale, so they need larger steps than weights), or Zhou et
    al.'s SGD lr 100 with momentum 0.9 (``variant="zhou"``)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose one of {list(METHODS)}")
    key = "bernoulli_zhou" if method == "bernoulli" and variant == "zhou" else method
    return settings.replace(**SUPERMASK_OPTIMIZERS[key])
