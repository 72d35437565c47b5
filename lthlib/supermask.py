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

Experiments are frozen dataclass jobs (``CriterionJob``, ``SupermaskJob``, ``DenseJob``),
each stored under its settings and reused; the runners return their runs keyed by meaning:

- ``dense_by_seed`` -> ``{seed: Run}``;
- ``train_criterion_masks`` -> ``{(criterion, reset, seed): Run}``;
- ``learn_supermasks`` -> ``{(method, density, seed): Run}``;
- ``strong_ticket_study`` -> ``{("trained" | "edge_popup", hidden layers, width, seed): Run}``.

Notebook 04's values (``ZHOU_CRITERIA``, ``ZHOU_DENSITIES``, ...) live here once, read by
the notebook and by ``lthlib.reproduce``; its reads of the runs are the methods of the
results objects at the end (``UntrainedResults``, ``CriterionResults``,
``SupermaskResults``, ``WidthResults``, ``OverlapResults``), built by ``untrained_study``,
``criterion_study``, ``overlap_study`` or from a runner's keyed runs.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from lthlib.claims import ALPHA, bold_verdict, direction_word, spread, verdict_word
from lthlib.masks import Mask
from lthlib.models import prunable_parameters
from lthlib.pruning import PruningError, check_density, prune_by_score
from lthlib.streams import generator
from lthlib.parallel import run_jobs
from lthlib.training import DenseJob, model_for

if TYPE_CHECKING:
    from lthlib.claims import Claim
    from lthlib.config import TrainSettings
    from lthlib.data import Dataset
    from lthlib.imp import IMPResult, IMPSettings
    from lthlib.store import Store
    from lthlib.training import Run

CRITERIA = ("large_final", "small_final", "large_init", "large_init_large_final",
            "magnitude_increase", "movement", "large_final_same_sign", "random")
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
_BERNOULLI_OPTIONS = {"lthlib": dict(score_init="uniform", eval_mask="mode"),
                      "zhou": dict(score_init="constant", eval_mask="sample")}


def bernoulli_for_scale(scale: str) -> str:
    """The Bernoulli supermask's variant at a scale: Zhou et al.'s at paper scale."""
    return "zhou" if scale == "paper" else "lthlib"

WEIGHT_INITS = ("signed_constant", "kaiming_normal", "init")
# the words figures and tables use
CRITERION_LABELS = {"large_final": "large final", "small_final": "small final", "large_init": "large init",
                    "large_init_large_final": "large init, large final",
                    "magnitude_increase": "magnitude increase", "movement": "movement",
                    "large_final_same_sign": "large final, same sign", "random": "random"}
RESET_LABELS = {"init": "initial values", "signed_constant": "signed constant",
                "reinit": "fresh random values"}
METHOD_LABELS = {"edge_popup": "edge-popup", "bernoulli": "Bernoulli"}

StateDict = Mapping[str, torch.Tensor]


def criterion_scores(criterion: str, w_init: torch.Tensor, w_final: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Zhou et al.'s score of each weight (higher = kept). ``large_init_large_final`` keeps
    the weights in the top of *both* |w_i| and |w_f|, as the authors' code does
    (``get_weight_init.py``: one percentile threshold applied to each magnitude, searched
    so that their intersection has the size asked for): the score is the lower of the
    weight's two ranks (its percentile in |w_i| and in |w_f|), so keeping the top k scores
    keeps the largest quadrant of k weights (ties by index, as everywhere)."""
    a_i, a_f = w_init.abs(), w_final.abs()
    if criterion == "large_final":
        return a_f
    if criterion == "small_final":
        return -a_f
    if criterion == "large_init":
        return a_i
    if criterion == "large_init_large_final":
        return torch.minimum(_ranks(a_i), _ranks(a_f)).to(a_f.dtype)
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
    of ``layers`` by ``criterion``; ties are broken by index, as in ``lthlib.pruning``.
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


# ----------------------------------------------------------------------------- experiments
# One frozen dataclass per kind of job; each knows where its result is stored and how to
# compute it, so that ``lthlib.parallel`` can run it in a worker process. The runners below
# build the jobs, load what the store holds, train the rest in parallel (longest first)
# and return the runs keyed by what they mean, never by position.

def _criterion_start(settings: "TrainSettings", data: "Dataset", init_state: StateDict,
                     final_state: StateDict, criterion: str, reset: str,
                     density: float) -> tuple[nn.Module, Mask]:
    """The masked network before any training after masking, and its mask."""
    model = model_for(settings, data)
    layers = list(prunable_parameters(model))
    mask = mask_by_criterion(criterion, init_state, final_state, layers, density, seed=settings.seed)
    reinit = model_for(settings, data, stream="reinit").state_dict() if reset == "reinit" else None
    model.load_state_dict(masked_start_state(reset, init_state, mask, reinit))
    return model, mask


def untrained_accuracy(settings: "TrainSettings", data: "Dataset", init_state: StateDict,
                       final_state: StateDict, criterion: str, reset: str, density: float) -> float:
    """Test accuracy of the *untrained* masked network (Zhou et al.'s supermask accuracy):
    mask by ``criterion`` at ``density`` (fraction kept per layer), start the kept weights
    as ``reset`` says, evaluate."""
    from lthlib.training import evaluate

    model, _ = _criterion_start(settings, data, init_state, final_state, criterion, reset, density)
    return evaluate(model, data.x_test, data.y_test)[1]


def _store(root: "str | Path | None"):
    from lthlib.store import Store

    return Store(root)


def _weights_of(settings: "TrainSettings", data: "Dataset") -> int:
    from lthlib.models import build_model, count_parameters

    model = build_model(settings.model, data.input_shape, data.num_classes, **settings.model_kwargs)
    return count_parameters(model, prunable_only=True)


@dataclass(frozen=True)
class CriterionJob:
    """Train the network of ``train_settings`` masked by ``criterion`` at ``density`` (the
    mask scored from ``dense``, the dense run of the same settings: its weights at
    iteration 0 and its final weights), its kept weights started as ``reset`` says."""

    train_settings: "TrainSettings"
    data: "Dataset"
    dense: "Run"
    criterion: str
    reset: str
    density: float
    store_root: "str | Path | None" = None
    computed_in: str = "alone"  # trained alone, or in the population pass of this identity

    kind = "criterion_mask"

    def _key(self) -> tuple:
        return (self.kind, self.train_settings,
                {"criterion": self.criterion, "reset": self.reset, "density": self.density,
                 "computed_in": self.computed_in})

    def stored(self) -> "Run | None":
        kind, settings, extra = self._key()
        return _store(self.store_root).get(kind, settings, extra)

    def cost(self) -> float:
        return float(_weights_of(self.train_settings, self.data) * self.train_settings.iterations)

    def run(self) -> "Run":
        from lthlib.training import train

        def compute() -> "Run":
            model, mask = _criterion_start(self.train_settings, self.data, self.dense.weights_at[0],
                                           self.dense.final_state, self.criterion, self.reset,
                                           self.density)
            run = train(model.to(self.data.x_train.device), self.data, self.train_settings,
                        mask=mask, progress=False)
            run.final_state = {}  # not needed again; keeps the store small
            return run

        kind, settings, extra = self._key()
        if self.computed_in != "alone":  # trained by _train_as_populations, which stored it
            stored = _store(self.store_root).get(kind, settings, extra)
            if stored is None:
                raise RuntimeError(f"criterion run {extra} of population {self.computed_in} is not stored")
            return stored
        return _store(self.store_root).get_or_compute(kind, settings, compute, extra=extra)


@dataclass(frozen=True)
class SupermaskJob:
    """Learn a supermask (``method``, ``density``) on the frozen ``weights`` of the network
    of ``train_settings`` (its seed and architecture; the optimiser is the method's, see
    ``supermask_settings``). The Run's ``mask`` is the final hard mask."""

    train_settings: "TrainSettings"
    data: "Dataset"
    method: str
    density: float
    weights: str = "signed_constant"
    store_root: "str | Path | None" = None
    variant: str = "lthlib"  # of a Bernoulli mask (BERNOULLI_VARIANTS)

    kind = "supermask"

    def _key(self) -> tuple:
        extra = {"method": self.method, "density": self.density, "weights": self.weights}
        if self.method == "bernoulli" and self.variant != "lthlib":
            extra["variant"] = self.variant
        return (self.kind, supermask_settings(self.train_settings, self.method, self.variant), extra)

    def stored(self) -> "Run | None":
        kind, settings, extra = self._key()
        return _store(self.store_root).get(kind, settings, extra)

    def cost(self) -> float:
        # edge-popup ranks every layer's scores at every step: about 2-3x a dense step
        factor = 3.0 if self.method == "edge_popup" else 2.0
        return factor * _weights_of(self.train_settings, self.data) * self.train_settings.iterations

    def run(self) -> "Run":
        from lthlib.training import train

        kind, settings, extra = self._key()

        def compute() -> "Run":
            base = model_for(settings, self.data)
            random_weights(base, self.weights, seed=settings.seed)
            options = _BERNOULLI_OPTIONS[self.variant] if self.method == "bernoulli" else {}
            net = Supermask(base, self.method, density=self.density, seed=settings.seed, **options)
            net = net.to(self.data.x_train.device)
            run = train(net, self.data, settings, progress=False)
            run.mask = net.mask().state_dict()
            run.final_state = {}  # frozen weights + scores: rebuilt from the seed when needed
            return run

        return _store(self.store_root).get_or_compute(kind, settings, compute, extra=extra)


Job = CriterionJob | SupermaskJob | DenseJob


def _root(store: "Store | None"):
    return store.root if store is not None else None


def _seed_of(run: "Run") -> int:
    return int(run.settings["seed"])


def dense_by_seed(train_settings: "TrainSettings", data: "Dataset", seeds: Iterable[int],
                  store: "Store | None" = None, workers: int | None = None) -> dict[int, "Run"]:
    """The dense run of ``train_settings`` for each seed (``lthlib.training.dense_run``,
    shared through the store with every notebook), the missing ones trained in parallel.
    Returns ``{seed: Run}``."""
    return run_jobs({int(s): DenseJob(train_settings.replace(seed=int(s)), data, _root(store)) for s in seeds},
                    workers)


def train_criterion_masks(train_settings: "TrainSettings", data: "Dataset", dense_runs: "Sequence[Run]",
                          criteria: Sequence[str], resets: Sequence[str], density: float,
                          store: "Store | None" = None, workers: int | None = None
                          ) -> dict[tuple[str, str, int], "Run"]:
    """Zhou et al.'s masks, then training: for each dense run (one per seed), each
    criterion and each reset, train the network masked at ``density`` from that start.
    Returns ``{(criterion, reset, seed): Run}``."""
    for c in criteria:
        if c not in CRITERIA:
            raise ValueError(f"criterion={c!r}: choose from {list(CRITERIA)}")
    for r in resets:
        if r not in RESETS:
            raise ValueError(f"reset={r!r}: choose from {list(RESETS)}")
    jobs = {(c, r, _seed_of(d)): CriterionJob(train_settings.replace(seed=_seed_of(d)), data, d, c, r,
                                              float(density), _root(store))
            for c in criteria for r in resets for d in dense_runs}
    if store is not None and store.root is not None:
        jobs = dict(zip(jobs, _train_as_populations(list(jobs.values()), data, store, workers)))
    return run_jobs(jobs, workers)


def _train_as_populations(jobs: "Sequence[CriterionJob]", data: "Dataset", store: "Store",
                          workers: int | None) -> "list[CriterionJob]":
    """Train and store the criterion jobs the store lacks, together as populations
    (``lthlib.passes.stored_members``); returns the jobs naming the passes that
    computed them, which then read their results."""
    from lthlib.passes import identities, plan_passes, stored_members

    members = []
    for job in jobs:
        model, mask = _criterion_start(job.train_settings, data, job.dense.weights_at[0],
                                       job.dense.final_state, job.criterion, job.reset, job.density)
        members.append((model.state_dict(), mask, 0, [], job.train_settings))
    passes = plan_passes(members, data)
    jobs = [dataclasses.replace(job, computed_in=where) for job, where in zip(jobs, identities(passes, len(jobs)))]

    def without_weights(i: int, run: "Run", _: "Run | None") -> "Run":
        run.final_state = {}  # not needed again; keeps the store small
        return run

    stored_members(store, [job._key() for job in jobs], members, data, progress=False, workers=workers,
                   keep=without_weights, passes=passes)
    return jobs


def learn_supermasks(train_settings: "TrainSettings", data: "Dataset", seeds: Iterable[int],
                     densities: Mapping[str, Sequence[float]], store: "Store | None" = None, *,
                     weights: str = "signed_constant", workers: int | None = None,
                     bernoulli: str = "lthlib") -> dict[tuple[str, float, int], "Run"]:
    """Learned supermasks on frozen ``weights`` of the network of ``train_settings``, for
    every seed and every ``{method: [density, ...]}`` (for Bernoulli masks the density is
    the expected density at the start). ``bernoulli``: how Bernoulli masks are learned
    (``BERNOULLI_VARIANTS``; "zhou" freezes the network's own initial weights, as Zhou et
    al.). Returns ``{(method, density, seed): Run}``."""
    for m in densities:
        if m not in METHODS:
            raise ValueError(f"method={m!r}: choose from {list(METHODS)}")
    if weights not in WEIGHT_INITS:
        raise ValueError(f"weights={weights!r}: choose one of {list(WEIGHT_INITS)}")
    if bernoulli not in BERNOULLI_VARIANTS:
        raise ValueError(f"bernoulli={bernoulli!r}: choose one of {list(BERNOULLI_VARIANTS)}")

    def frozen(method: str) -> str:
        return "init" if method == "bernoulli" and bernoulli == "zhou" else weights

    jobs = {(m, float(d), int(s)): SupermaskJob(train_settings.replace(seed=int(s)), data, m, float(d),
                                                frozen(m), _root(store), bernoulli)
            for m, ds in densities.items() for d in ds for s in seeds}
    return run_jobs(jobs, workers)


def strong_ticket_study(train_settings: "TrainSettings", data: "Dataset", widths: Sequence[int],
                        seeds: Iterable[int], store: "Store | None" = None, *,
                        trained_layers: Sequence[int] = (2,), random_layers: Sequence[int] = (2,),
                        density: float = 0.5, weights: str = "signed_constant",
                        workers: int | None = None) -> dict[tuple[str, int, int, int], "Run"]:
    """Strong tickets against trained networks, width by width: for each width ``w`` and
    seed, the network of that width trained normally (``h`` in ``trained_layers``) and an
    edge-popup supermask at ``density`` on its frozen random ``weights`` (``h`` in
    ``random_layers``). An MLP has ``h`` hidden layers of ``w`` units; a Conv-2/4/6 has
    every layer scaled by ``w`` (``width_mult``; its depth is the model's, so ``h`` must be
    0: ``width_kwargs``). Returns ``{("trained" | "edge_popup", h, width, seed): Run}``, all
    in one pool."""
    seeds = [int(s) for s in seeds]
    jobs: dict[tuple[str, int, Any, int], Job] = {}
    for w in widths:
        for method, layers in (("trained", trained_layers), ("edge_popup", random_layers)):
            for h in layers:
                kwargs = width_kwargs(train_settings.model, w, h)
                key_w = int(w) if "hidden" in kwargs else float(w)  # units, or a multiplier
                for s in seeds:
                    ts = train_settings.replace(seed=s, model_kwargs=kwargs)
                    jobs[(method, int(h), key_w, s)] = (
                        DenseJob(ts, data, _root(store)) if method == "trained" else
                        SupermaskJob(ts, data, "edge_popup", float(density), weights, _root(store)))
    return run_jobs(jobs, workers)


def width_kwargs(model: str, width: float, hidden_layers: int) -> dict[str, Any]:
    """``model_kwargs`` of ``model`` at a width: an MLP's ``hidden_layers`` layers of
    ``width`` units, or a Conv-2/4/6's ``width_mult`` (``hidden_layers`` must be 0: a conv
    net's depth is fixed by its name)."""
    from lthlib.models import MODEL_KWARGS

    accepted = MODEL_KWARGS.get(model, {})
    if "hidden" in accepted:
        if int(width) != width or width < 1:
            raise ValueError(f"width={width!r}: an MLP's width is a number of units (a positive integer)")
        return {"hidden": (int(width),) * int(hidden_layers)}
    if "width_mult" in accepted:
        if hidden_layers != 0:
            raise ValueError(f"hidden_layers={hidden_layers!r}: {model} has the depth its name says; its width "
                             "study scales every layer (width_mult), so pass trained_layers=(0,), random_layers=(0,)")
        return {"width_mult": float(width)}
    raise ValueError(f"model={model!r}: the width study varies an MLP's hidden layers ('mlp_mnist1d', "
                     "'lenet300_100': model_kwargs hidden=...) or a Conv-2/4/6's width ('conv2', 'conv4', "
                     "'conv6': model_kwargs width_mult=...)")


def supermask_settings(settings: "TrainSettings", method: str, variant: str = "lthlib") -> "TrainSettings":
    """Optimiser settings for training scores: SGD lr 0.1 with momentum 0.9 for edge-popup
    (as Ramanujan et al., without their cosine schedule); for Bernoulli masks Adam lr 0.05
    (scores live on the logit scale, so they need larger steps than weights), or Zhou et
    al.'s SGD lr 100 with momentum 0.9 (``variant="zhou"``)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose one of {list(METHODS)}")
    from lthlib.config import SUPERMASK_OPTIMIZERS

    key = "bernoulli_zhou" if method == "bernoulli" and variant == "zhou" else method
    return settings.replace(**SUPERMASK_OPTIMIZERS[key])


# --------------------------------------------------------------------- notebook 04's results
# Notebook 04 and ``lthlib.reproduce`` read the experiment's values from here, once, and the
# runs through the results objects below: their methods are the notebook's queries and
# the values its sentences state, so no notebook defines a function that reads runs or
# words a verdict, and the figure ``reproduce`` draws reads the same grid.

# Section 1 (untrained masked networks; also ``reproduce``'s zhou2019-supermask at smoke
# and quick scale): the criteria in the legends' order, the fractions kept in every layer
# and the starting values (no reinit: nothing is trained after masking).
ZHOU_CRITERIA = ("large_final", "large_final_same_sign", "magnitude_increase", "large_init_large_final",
                 "movement", "large_init", "small_final", "random")
ZHOU_DENSITIES = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
ZHOU_STARTS = ("init", "signed_constant")
# The density, fixed before the run, at which section 1's claims are judged and section 2's
# masks are trained (one of ZHOU_DENSITIES).
ZHOU_CLAIM_DENSITY = 0.2
# Section 4 and ``reproduce``'s ramanujan2020-width: edge-popup's fraction of weights kept
# (Ramanujan et al.'s ``--prune-rate 0.5``), and the hidden layers of an MLP of depth L
# (the MNIST-1D MLP's 3 layers) and of depth 2L (6 layers: Malach et al.'s construction).
WIDTH_STUDY_DENSITY = 0.5
DEPTH_L_HIDDEN, DEPTH_2L_HIDDEN = 2, 5
# Sections 3 and 5 compare with IMP tickets of notebook 02's algorithm, at most this many
# rounds and no controls (only the tickets' masks and accuracies are read).
TICKET_ROUNDS = 3
# Section 5's comparisons with an IMP ticket, in the order of the figure's legend.
OVERLAP_LABELS = {"large_init": "largest initial weights (large init)",
                  "edge_popup": "edge-popup on the ticket's initial weights",
                  "random": "random mask (control)",
                  "other_seed": "IMP ticket of another seed"}


def _early_stop_acc(runs: Mapping[Any, "Run"], keys: Iterable[Any]) -> np.ndarray:
    """Test accuracy at early stopping of ``runs[key]`` for each key, as an array."""
    return np.array([runs[k].at_early_stop("test_acc") for k in keys])


def ticket_settings(scale: str, train_settings: "TrainSettings") -> "IMPSettings":
    """The IMP settings of the tickets notebook 04 compares with: notebook 02's at
    ``scale``, at most ``TICKET_ROUNDS`` rounds, no controls (shared through the store)."""
    from lthlib.imp import imp_for_scale

    return imp_for_scale(scale, train_settings, rounds=min(TICKET_ROUNDS, imp_for_scale(scale, train_settings).rounds),
                         controls=())


def mean_round_density(imp: Mapping[int, "IMPResult"], rounds: Iterable[int]) -> dict[int, float]:
    """``{round: fraction of weights kept}``, the mean over the seeds of ``imp`` rounded to
    3 decimals: the density at which a supermask is learned to match a ticket of that round
    (every seed's ticket keeps about the same count, so one density serves them all)."""
    return {r: round(float(np.mean([res.densities()[r] for res in imp.values()])), 3) for r in rounds}


@dataclass
class UntrainedResults:
    """Test accuracy of *untrained* masked networks (section 1): ``acc[(criterion, start)]``
    is seeds x densities, in the order of ``seeds`` and ``densities``."""

    criteria: list[str]
    starts: list[str]
    densities: list[Any]  # fractions kept per layer, or per-layer maps (paper scale)
    seeds: list[int]
    acc: dict[tuple[str, str], np.ndarray]

    def at(self, criterion: str, start: str, density: Any) -> np.ndarray:
        """One value per seed at ``density`` (which must be one of ``densities``)."""
        return self.acc[(criterion, start)][:, self.densities.index(density)]

    def best(self, start: str, density: Any) -> str:
        """The criterion with the highest mean over seeds (the first in ``criteria`` on a tie)."""
        return max(self.criteria, key=lambda c: self.at(c, start, density).mean())

    def panels(self) -> dict[str, dict[str, np.ndarray]]:
        """``plots.criteria_panels``' input: a panel per start, a curve per criterion."""
        return {(f"kept weights at their {RESET_LABELS[r]}" if r == "init" else
                 f"kept weights at a {RESET_LABELS[r]}"): {CRITERION_LABELS[c]: self.acc[(c, r)] for c in self.criteria}
                for r in self.starts}

    def sign_effect(self, criterion: str, density: Any) -> np.ndarray:
        """Per seed: accuracy with the signed constant minus with the initial values."""
        return self.at(criterion, "signed_constant", density) - self.at(criterion, "init", density)

    def sign_effects(self, densities: Sequence[float]) -> dict[str, dict[str, np.ndarray]]:
        """``plots.paired_differences``' input: ``sign_effect`` per criterion and density."""
        return {CRITERION_LABELS[c]: {f"{d:.0%} kept": self.sign_effect(c, d) for d in densities}
                for c in self.criteria}

    def sign_verdicts(self, densities: Sequence[float], judged: bool = True) -> dict[str, Any]:
        """What the signed-constant sentence states: the criterion-density pairs the signed
        constant helped and hurt (each pair's exact sign-flip test at ``ALPHA``, uncorrected),
        how many it cannot tell, and the conclusion those groups support."""
        groups: dict[str, list[str]] = {"helped": [], "hurt": [], "cannot tell": []}
        for c in self.criteria:
            for d in densities:
                word = direction_word(self.sign_effect(c, d), "helped", "hurt", "cannot tell", judged=judged)
                groups[word].append(f"{CRITERION_LABELS[c]} at {d:.0%}")
        if groups["helped"] and groups["hurt"]:
            conclusion = ("So the initial magnitudes are not neutral before training; dropping them helps some masks "
                          "and hurts others, and the sign alone does not tell how an untrained masked network will do.")
        elif groups["hurt"]:
            conclusion = ("So the signed constant never helped here, and for some masks it lost accuracy; before "
                          "training, the initial magnitudes carry something the sign does not.")
        elif groups["helped"]:
            conclusion = "So the signed constant never hurt here, and for some masks it helped."
        else:
            conclusion = "This run cannot tell the signed constant from the initial values for any mask."
        tested = len(self.criteria) * len(densities)
        if tested > 1 and (groups["helped"] or groups["hurt"]):
            conclusion += (f" (Each of the {tested} pairs is tested alone at {ALPHA:.0%} on each side, so a pair or "
                           "two can come out either way by chance; a single pair is weak evidence.)")
        return {"helped": "; ".join(groups["helped"]) or "none", "hurt": "; ".join(groups["hurt"]) or "none",
                "n_unclear": len(groups["cannot tell"]), "n": len(self.criteria) * len(densities),
                "conclusion": conclusion}

    def peak(self, start: str) -> str:
        """The criterion and density (below 100%) with the highest mean over seeds, and its
        mean (min-max): what the figure's highest point is, read off the run."""
        grid = [(c, d) for c in self.criteria for d in self.densities if isinstance(d, float) and d < 1.0]
        if not grid:
            return "none (no density below 100%)"
        c, d = max(grid, key=lambda cd: self.at(cd[0], start, cd[1]).mean())
        return f"*{CRITERION_LABELS[c]}* at {d:.0%} ({spread(self.at(c, start, d))})"

    def claim_values(self, density: float, chance: float, beats_random: "Claim", above_chance: "Claim",
                     dense_acc: Sequence[float], judged: bool = True) -> dict[str, Any]:
        """What section 1's sentence states at the claims' ``density``: the criterion with
        the highest mean per start, large-final-same-sign against the random mask, the two
        verdicts, and the highest point of each panel over all densities."""
        random_init = self.at("random", "init", density)
        best = {r: self.best(r, density) for r in ("init", "signed_constant")}
        return dict(chance=chance, d=density, n=len(self.seeds),
                    peak0=self.peak("init"), peak1=self.peak("signed_constant"),
                    b0=CRITERION_LABELS[best["init"]], a0=spread(self.at(best["init"], "init", density)),
                    b1=CRITERION_LABELS[best["signed_constant"]],
                    a1=spread(self.at(best["signed_constant"], "signed_constant", density)),
                    lfss=spread(self.at("large_final_same_sign", "init", density)), rnd=spread(random_init),
                    v1=bold_verdict(beats_random), v2=bold_verdict(above_chance),
                    rnd_word=direction_word(random_init - chance, "above", "below", "indistinguishable from",
                                            judged=judged),
                    dense=spread(dense_acc))


def untrained_study(settings: "TrainSettings", data: "Dataset", dense: Mapping[int, "Run"], seeds: Sequence[int],
                    criteria: Sequence[str] = ZHOU_CRITERIA, starts: Sequence[str] = ZHOU_STARTS,
                    densities: Sequence[Any] = ZHOU_DENSITIES) -> UntrainedResults:
    """``untrained_accuracy`` of every criterion, start, seed and density, each mask scored
    from ``dense[seed]`` (its weights at iteration 0 and at the end). Nothing is trained."""
    seeds, densities = [int(s) for s in seeds], list(densities)
    acc = {(c, r): np.array([[untrained_accuracy(settings.replace(seed=s), data, dense[s].weights_at[0],
                                                 dense[s].final_state, c, r, d) for d in densities]
                             for s in seeds])
           for r in starts for c in criteria}
    return UntrainedResults(list(criteria), list(starts), densities, seeds, acc)


@dataclass
class CriterionResults:
    """Masks by a criterion, then training (section 2): ``runs[(criterion, reset, seed)]``."""

    runs: dict[tuple[str, str, int], "Run"]
    seeds: list[int]

    def acc(self, criterion: str, reset: str) -> np.ndarray:
        """Test accuracy at early stopping, one value per seed."""
        return _early_stop_acc(self.runs, [(criterion, reset, s) for s in self.seeds])

    def claim_values(self, reinit: "Claim", signs: "Claim", judged: bool = True) -> dict[str, Any]:
        """What section 2's sentence states: the large-final mask from each start, the two
        verdicts (and why "signs suffice" is not confirmed when it is not), the random mask."""
        random_gain = self.acc("random", "init") - self.acc("random", "reinit")
        disagree = ("" if signs.verdict in ("holds", "not judged") else
                    f" (mean difference {signs.mean:+.3f}; with {len(self.seeds)} seeds the test cannot show that "
                    "the signed constant loses less than one point, so this run does not confirm the paper here)"
                    if signs.verdict == "not shown" else " (this run disagrees with the paper here)")
        return dict(init=spread(self.acc("large_final", "init")), sc=spread(self.acc("large_final", "signed_constant")),
                    reinit=spread(self.acc("large_final", "reinit")), n=len(self.seeds),
                    v_reinit=bold_verdict(reinit), v_signs=bold_verdict(signs), disagree=disagree,
                    r_init=spread(self.acc("random", "init")), r_reinit=spread(self.acc("random", "reinit")),
                    r_word=direction_word(random_gain, "did better", "did worse",
                                          "made no difference this run can detect", judged=judged))


def criterion_study(settings: "TrainSettings", data: "Dataset", dense_runs: "Sequence[Run]",
                    resets_by_criterion: Mapping[str, Sequence[str]], density: float,
                    store: "Store | None" = None) -> CriterionResults:
    """``train_criterion_masks`` for each ``{criterion: [reset, ...]}``, one call (and so one
    set of population passes) per criterion, as the store holds them."""
    runs: dict[tuple[str, str, int], Run] = {}
    for c, resets in resets_by_criterion.items():
        runs |= train_criterion_masks(settings, data, dense_runs, [c], resets, density, store)
    return CriterionResults(runs, [_seed_of(d) for d in dense_runs])


@dataclass
class SupermaskResults:
    """Learned supermasks (``learn_supermasks``): ``runs[(method, density, seed)]``."""

    runs: dict[tuple[str, float, int], "Run"]
    seeds: list[int]

    def acc(self, method: str, density: float) -> np.ndarray:
        """Test accuracy at early stopping, one value per seed."""
        return _early_stop_acc(self.runs, [(method, density, s) for s in self.seeds])

    def final_density(self, method: str, density: float) -> np.ndarray:
        """The fraction of weights the learned mask keeps, one value per seed (a Bernoulli
        mask's ``density`` is where it started)."""
        return np.array([Mask(self.runs[(method, density, s)].mask).density() for s in self.seeds])

    def bars(self, ticket_acc: Mapping[int, np.ndarray], densities: Mapping[int, float],
             bernoulli_start: float = 0.5) -> dict[str, dict[str, np.ndarray]]:
        """``plots.grouped_bars``' input for section 3: at each IMP round's density the
        ticket (``ticket_acc[round]``) beside edge-popup, then the Bernoulli masks, labelled
        with where they started and the mean density they ended at."""
        bars = {f"{d:.0%} of weights kept": {"IMP ticket (weights trained)": ticket_acc[r],
                                             "edge-popup (weights frozen at random)": self.acc("edge_popup", d)}
                for r, d in densities.items()}
        end = self.final_density("bernoulli", bernoulli_start).mean()
        bars[f"Bernoulli mask\n(started at {bernoulli_start:.0%},\nended at {end:.0%})"] = {
            "Bernoulli (weights frozen at random)": self.acc("bernoulli", bernoulli_start)}
        return bars

    def claim_values(self, above_chance: "Claim", ticket_beats: "Claim", ticket_acc: np.ndarray, density: float,
                     chance: float, bernoulli_start: float = 0.5, judged: bool = True) -> dict[str, Any]:
        """What section 3's sentence states: edge-popup at ``density`` against chance, the
        IMP ticket of the same density (``ticket_acc``, one value per seed), the two verdicts,
        and where the Bernoulli masks started and ended."""
        popup, end = self.acc("edge_popup", density), self.final_density("bernoulli", bernoulli_start)
        return dict(ep=spread(popup), d=density, chance=chance, v_popup=bold_verdict(above_chance),
                    training=verdict_word(above_chance, " Choosing which weights to keep is itself a kind of "
                                                        "training (Zhou et al.'s abstract: \"masking behaves like "
                                                        "training\").", "", ""),
                    tk=spread(ticket_acc), v_ticket=bold_verdict(ticket_beats), b0=bernoulli_start,
                    bd=spread(end, ".0%"), ba=spread(self.acc("bernoulli", bernoulli_start)),
                    b_word=direction_word(end - bernoulli_start, "rose", "fell",
                                          "did not move in a way this run can detect", judged=judged))


def dense_accuracy(dense: Mapping[int, "Run"], seeds: Iterable[int]) -> np.ndarray:
    """Test accuracy at early stopping of the dense run of each of ``seeds`` (``dense_by_seed``)."""
    return _early_stop_acc(dense, seeds)


def ticket_accuracy(imp: Mapping[int, "IMPResult"], rounds: Iterable[int]) -> dict[int, np.ndarray]:
    """``{round: test accuracy of each seed's IMP ticket}`` (seeds in the order of ``imp``)."""
    return {r: np.array([res.metric("ticket")[r] for res in imp.values()]) for r in rounds}


@dataclass
class WidthResults:
    """The width study (``strong_ticket_study``): ``runs[("trained" | "edge_popup", hidden
    layers, width, seed)]``."""

    runs: dict[tuple[str, int, Any, int], "Run"]
    widths: list[Any]
    seeds: list[int]

    def acc(self, method: str, hidden: int) -> np.ndarray:
        """Test accuracy at early stopping, seeds x widths."""
        return np.array([_early_stop_acc(self.runs, [(method, hidden, w, s) for w in self.widths])
                         for s in self.seeds])

    def claim_values(self, grows: "Claim", narrows: "Claim", matches: "Claim", malach: "Claim",
                     depth_l_control: "Claim", judged: bool = True) -> dict[str, Any]:
        """What section 4's sentence states: the table of mean accuracies per width, the gap
        at the narrowest and widest, the verdicts, and the notes that depend on them."""
        widths = self.widths
        trained, popup, popup_2l = (self.acc("trained", DEPTH_L_HIDDEN), self.acc("edge_popup", DEPTH_L_HIDDEN),
                                    self.acc("edge_popup", DEPTH_2L_HIDDEN))
        gap = trained - popup

        def row(values: np.ndarray) -> str:
            return " | ".join(f"{v:.3f}" for v in values.mean(0))

        return dict(
            widths=", ".join(map(str, widths)), n=len(self.seeds),
            header=" | ".join(f"width {w}" for w in widths), rule="---|" * len(widths),
            t=row(trained), p=row(popup), p2=row(popup_2l),
            v_width=bold_verdict(grows), ratio=widths[-1] // widths[0],
            g0=gap[:, 0].mean(), g1=gap[:, -1].mean(), w0=widths[0], w1=widths[-1],
            v_gap=bold_verdict(narrows), v_match=bold_verdict(matches),
            disagree="" if matches.verdict in ("holds", "not judged") else
            " Here this run does not reproduce the paper's large-scale result: at these widths edge-popup does not "
            "find a subnetwork of random weights as good as training the same network."
            if matches.verdict == "contradicted" and not matches.fragile else
            " Whether edge-popup comes within one point of training at these widths, this run cannot tell.",
            p2w=spread(popup_2l[:, -1]), t0=spread(trained[:, 0]), p1w=spread(popup[:, -1]),
            v_malach=bold_verdict(malach),
            depth_note=(" The depth-L network of the same width passes the same test (the diagnostic row): here "
                        "width alone was enough for this test, so this run cannot show what the doubled depth of "
                        "Malach et al.'s construction adds."
                        if depth_l_control.verdict == "holds" and malach.verdict == "holds" else ""),
            deep_word=direction_word(popup_2l[:, -1] - popup[:, -1], "better", "worse",
                                     "neither clearly better nor worse", judged=judged))


def excess_iou(a: Mask, b: Mask, layer: str = "overall") -> float:
    """IoU of two masks minus the IoU two random masks of the same kept counts share by
    chance (``masks.overlap``), in ``layer`` or over all layers: 0 is "no more alike than
    random masks"."""
    from lthlib.masks import overlap

    o = overlap(a, b)[layer]
    return o["iou"] - o["chance_iou"]


@dataclass
class OverlapResults:
    """Section 5: IMP tickets (``tickets[(seed, round)]``) against the masks other methods
    pick at the same densities. ``popup`` holds the edge-popup supermasks learned on each
    ticket's own initial weights (``learn_supermasks(weights="init")``) at
    ``round_density[round]``; ``dense[seed]`` the dense runs the criteria score from."""

    seeds: list[int]
    rounds: list[int]
    round_density: dict[int, float]
    tickets: dict[tuple[int, int], Mask]
    dense: Mapping[int, "Run"]
    layers: list[str]
    popup: dict[tuple[str, float, int], "Run"]

    def kinds(self) -> list[str]:
        """The comparisons made (``OVERLAP_LABELS``' keys): another seed's ticket only when
        there is another seed."""
        return [k for k in OVERLAP_LABELS if k != "other_seed" or len(self.seeds) > 1]

    def by_criterion(self, criterion: str, seed: int, round_: int) -> Mask:
        """A mask by ``criterion`` at the per-layer densities of the ticket of (seed, round)."""
        dense = self.dense[seed]
        return mask_by_criterion(criterion, dense.weights_at[0], dense.final_state, self.layers,
                                 self.tickets[(seed, round_)].layer_density(), seed=seed)

    def mask(self, kind: str, seed: int, round_: int) -> Mask:
        """The mask of comparison ``kind`` (an ``OVERLAP_LABELS`` key) for the ticket of
        (seed, round); ``"other_seed"`` is the next seed's ticket (cyclically)."""
        if kind in ("large_init", "random"):
            return self.by_criterion(kind, seed, round_)
        if kind == "edge_popup":
            return Mask(self.popup[("edge_popup", self.round_density[round_], seed)].mask)
        if kind == "other_seed":
            return self.tickets[(self.seeds[(self.seeds.index(seed) + 1) % len(self.seeds)], round_)]
        raise ValueError(f"kind={kind!r}: choose one of {self.kinds()}")

    def excess(self) -> dict[str, np.ndarray]:
        """``{label: seeds x rounds}`` of ``excess_iou`` (overall) of each ticket against
        each comparison, labelled by ``OVERLAP_LABELS``."""
        return {OVERLAP_LABELS[k]: np.array([[excess_iou(self.tickets[(s, r)], self.mask(k, s, r)) for r in self.rounds]
                                             for s in self.seeds])
                for k in self.kinds()}

    def excess_at(self, kind: str, round_: int, layer: str = "overall") -> np.ndarray:
        """``excess_iou`` of each seed's ticket at ``round_`` against ``kind``, in ``layer``."""
        return np.array([excess_iou(self.tickets[(s, round_)], self.mask(kind, s, round_), layer=layer)
                         for s in self.seeds])

    def claim_values(self, excess: Mapping[str, np.ndarray], large_init: "Claim", popup_overlap: "Claim",
                     judged: bool = True) -> dict[str, Any]:
        """What section 5's sentence states at the sparsest round: a line per comparison of
        ``excess`` (``self.excess()``) with the word its own test gives (each at ``ALPHA`` on
        each side, uncorrected), the two verdicts, and what the random control says about
        the measure (it is independent of the ticket, so a control off zero is chance)."""
        rows, words = [], {}
        for name, v in excess.items():
            words[name] = direction_word(v[:, -1], "above", "below", "", judged=judged)
            rows.append(f"- {name}: {spread(v[:, -1])}, "
                        + (f"{words[name]} chance" if words[name] else "not distinguishable from chance"))
        control = words.get(OVERLAP_LABELS["random"], "")
        note = ("The random mask, independent of the ticket by construction, is not distinguishable from chance: "
                "the measure reads zero where it should." if not control else
                f"The random mask is independent of the ticket by construction, yet its own test puts it {control} "
                f"chance: each line is tested alone at {ALPHA:.0%} on each side, uncorrected, so with {len(rows)} "
                "lines one such result can come by chance. Read the other lines against the control's size, not "
                "only against zero.")
        return dict(d=self.round_density[self.rounds[-1]], n=len(self.seeds), rows="\n".join(rows),
                    v1=bold_verdict(large_init), v2=bold_verdict(popup_overlap), control=note,
                    predictable=verdict_word(large_init, " (part of an IMP ticket is predictable from the magnitudes "
                                                         "at initialisation)", "", ""))

    def first_layer_values(self, judged: bool = True) -> dict[str, Any]:
        """What the per-layer sentence states: the first layer's IoU minus chance between
        each seed's ticket at the sparsest round and the next seed's (cyclically), and the
        word its test gives. Each ticket is in two of these pairs, so they are not
        independent and the test is only a guide."""
        first = self.excess_at("other_seed", self.rounds[-1], layer=self.layers[0])
        return dict(x=spread(first), n=len(self.seeds),
                    word=direction_word(first, "more than chance, so part of what IMP keeps there is set by the data",
                                        "less than chance", "not distinguishable from chance", judged=judged))


def overlap_study(settings: "TrainSettings", data: "Dataset", imp: Mapping[int, "IMPResult"],
                  dense: Mapping[int, "Run"], store: "Store | None" = None) -> OverlapResults:
    """Every round of the IMP tickets ``imp`` (``{seed: IMPResult}``), and an edge-popup
    supermask learned on each seed's own initial weights at each round's mean density."""
    seeds = [int(s) for s in imp]
    rounds = list(range(1, len(imp[seeds[0]].rounds) + 1))
    round_density = mean_round_density(imp, rounds)
    popup = learn_supermasks(settings, data, seeds, {"edge_popup": list(round_density.values())}, store,
                             weights="init")
    tickets = {(s, r): imp[s].rounds[r - 1].mask for s in seeds for r in rounds}
    layers = list(prunable_parameters(model_for(settings, data)))
    return OverlapResults(seeds, rounds, round_density, tickets, dense, layers, popup)


def summary_values(conclusion: str, *, same_sign: "Claim", reinit: "Claim", signs: "Claim", popup: "Claim",
                   ticket: "Claim", width: "Claim", gap: "Claim", match: "Claim", malach: "Claim",
                   large_init: "Claim", popup_overlap: "Claim") -> dict[str, Any]:
    """What notebook 04's summary states: a word per claim that follows its verdict
    (``s1``...``s11``, no ``s9``), each verdict in bold (``v1``...``v11``) and the
    signed-constant conclusion without its leading "So "."""
    words = dict(
        s1=verdict_word(same_sign, "beat", "did worse than", "was not shown to beat"),
        s2=verdict_word(reinit, "trained better", "trained worse", "was not shown to train better"),
        s3=verdict_word(signs, "matched", "did not match", "was not shown to match"),
        s4=verdict_word(popup, "were", "were not", "were not shown to be"),
        s5=verdict_word(ticket, "beat", "lost to", "was not shown to beat"),
        s6=verdict_word(width, "improved", "got worse", "was not shown to improve"),
        s7=verdict_word(gap, "narrowed", "widened", "was not shown to narrow"),
        s8=verdict_word(match, "closed", "stayed open", "was not shown to close"),
        s10=verdict_word(large_init, "overlapped more than chance with", "overlapped less than chance with",
                         "were not shown to overlap more than chance with"),
        s11=verdict_word(popup_overlap, "more than chance with", "less than chance with",
                         "not shown to be above chance with"))
    ordered = [same_sign, reinit, signs, popup, ticket, width, gap, match, malach, large_init, popup_overlap]
    return {"conclusion": conclusion[3:] if conclusion.startswith("So ") else conclusion, **words,
            **{f"v{k}": bold_verdict(c) for k, c in enumerate(ordered, start=1)}}


def plain_answer(*, popup: "Claim", same_sign: "Claim", ticket: "Claim", match: "Claim", malach: "Claim") -> str:
    """Notebook 04's closing answer to its question, "can a mask alone do the work?",
    rendered from the verdicts of the claims that answer it: masks on untrained weights far
    above chance (``popup``: edge-popup more than 20 points above chance; ``same_sign``: a
    large-final same-sign mask beats a random one, untrained), and whether a mask on random
    weights did as well as trained weights (``ticket``: an IMP ticket beats edge-popup at
    the dense network's width; ``match``: edge-popup within one point of the same network
    trained at the widest; ``malach``: a wide random network hides a subnetwork as accurate
    as a narrow trained one)."""
    works = verdict_word(popup, "yes", "no", "unclear")
    as_good = verdict_word(match, "yes", "no", "unclear")
    opening = {("yes", "yes"): "Yes, for the widest networks here.", ("yes", "no"): "Partly.",
               ("yes", "unclear"): "Partly, as far as this run can tell."}.get(
        (works, as_good), "Not shown at this scale.")
    return " ".join([
        f"**Can a mask alone do the work?** {opening}",
        "A mask learned on weights that are never trained "
        + verdict_word(popup, "made the network more than 20 points better than chance",
                       "did not make the network 20 points better than chance",
                       "was not shown to make the network 20 points better than chance")
        + f" (claim: {bold_verdict(popup)}), and a mask chosen from a trained network's weights "
        + verdict_word(same_sign, "beat a random mask on the untrained weights",
                       "did worse than a random mask on the untrained weights",
                       "was not shown to beat a random mask on the untrained weights")
        + f" (claim: {bold_verdict(same_sign)}).",
        "Whether it does all the work: at the dense network's width the IMP ticket, whose weights are trained, "
        + verdict_word(ticket, "beat edge-popup", "did not beat edge-popup", "was not shown to beat edge-popup")
        + f" (claim: {bold_verdict(ticket)}); at the widest network, edge-popup "
        + verdict_word(match, "came within one point of training the same network",
                       "stayed more than one point below training the same network",
                       "was not shown to come within one point of training the same network")
        + f" (Ramanujan et al.'s claim that it comes within one point: {bold_verdict(match)}); and a random "
        "network wider than a small trained one "
        + verdict_word(malach, "hid a subnetwork as accurate as it", "did not yield a subnetwork as accurate as it",
                       "was not shown to hide a subnetwork as accurate as it")
        + f" (claim: {bold_verdict(malach)}); Malach et al.'s theorem says a wide enough one does.",
    ])
