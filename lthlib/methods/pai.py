"""Pruning at initialisation (PaI): masks chosen before any training.

The lottery ticket is found by training the dense network first. Pruning at initialisation
asks whether a mask can be chosen from the initial weights alone (and at most one batch of
data), so that only the sparse network is ever trained. Every method here is a score per
prunable weight (higher = kept), turned into a mask by ``lthlib.methods.pruning.prune_by_score``:

| method            | score (higher = keep)                          | data      | selection |
|-------------------|------------------------------------------------|-----------|-----------|
| ``snip``          | ``|g * w|`` (Lee et al. 2019)                   | one batch | global    |
| ``grasp``         | ``w * (H g)`` (Wang et al. 2020, sign below)   | one batch | global    |
| ``grasp_magnitude`` | ``|w * (H g)|`` (Frankle et al. 2021's variant) | one batch | global |
| ``synflow``       | ``|w * dR/dw|``, 100 rounds (Tanaka et al. 2020) | none    | global    |
| ``magnitude``     | ``|w|`` at initialisation                      | none      | global    |
| ``random``        | uniform draws                                  | none      | per layer |
| ``random_erk``    | uniform draws, Erdos-Renyi-Kernel densities    | none      | per layer |

Global selection (one threshold across layers) is what the papers do for SNIP, GraSP,
SynFlow and magnitude; ``scope="layerwise"`` keeps ``density`` in every layer instead.

``density`` always means the fraction of *all* prunable weights kept: layers in
``exclude`` stay dense and the other layers are pruned further to make up for them, as
RigL (Evci et al. 2020) does for its dense layers. The returned mask's density equals the
request to within one weight per layer (exactly, to rounding, for global selection); a
layerwise or ERK layer keeps at least one weight.

**Sanity checks** of Frankle, Dziugaite, Roy & Carbin 2021 (*Pruning Neural Networks at
Initialization: Why are We Missing the Mark?*, Section 5): ``shuffle_within_layers``
(random positions, the same per-layer counts), ``pai_mask(..., invert=True)`` (keep the
weights the method would prune, at the same overall density, ranked globally as the
method ranks) and reinitialisation, which is left to the caller: train the masked network
from ``build_model(..., stream="reinit")`` instead of the initial weights. The paper's
abstract: "unlike pruning after training, accuracy is the same or higher when randomly
shuffling which weights these methods prune within each layer or sampling new initial
values", so "the per-weight pruning decisions made by these methods can be replaced by a
per-layer choice of the fraction of weights to prune". What the paper reports for
inversion was not checked against its text (only its abstract and its code were read
here: docs/fidelity.md).

**Random streams.** Every draw comes from a named stream of the run's seed
(``lthlib.core.streams``):

| purpose          | what it draws                                          | index |
|------------------|--------------------------------------------------------|-------|
| ``pai_batch``    | the SNIP / GraSP minibatch (which training examples)   | -     |
| ``pai_random``   | the ``random`` method's scores                          | -     |
| ``pai_random_erk`` | the ``random_erk`` method's scores                   | -     |
| ``shuffle``      | ``shuffle_within_layers``' permutations                | index |
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from lthlib.core.streams import generator
from lthlib.core.threads import with_fixed_threads
from lthlib.masks import Mask, overlap
from lthlib.methods.pruning import SCOPES, PruningError, check_density, prune_by_score
from lthlib.models.networks import prunable_parameters

if TYPE_CHECKING:
    from lthlib.data.datasets import Dataset

SAMPLES_PER_CLASS = 10  # the default SNIP / GraSP batch: 10 examples of every class
SYNFLOW_ITERATIONS = 100  # Tanaka et al.'s rounds

PAI_STREAMS: dict[str, str] = {
    "pai_batch": "the SNIP / GraSP minibatch",
    "pai_random": "the scores of the random PaI mask",
    "pai_random_erk": "the scores of the random ERK PaI mask",
    "shuffle": "the permutations of shuffle_within_layers (index: e.g. a repeat)",
}

Scores = dict[str, torch.Tensor]


# ------------------------------------------------------------------------------ streams
def _generator(seed: int, purpose: str, *index: int) -> torch.Generator:
    """The CPU generator of lthlib stream ``purpose`` of ``seed`` (``lthlib.core.streams``)."""
    if purpose not in PAI_STREAMS:
        raise ValueError(f"purpose={purpose!r}: unknown random stream; lthlib.methods.pai's streams are "
                         f"{sorted(PAI_STREAMS)}")
    return generator(seed, purpose, *index)


# -------------------------------------------------------------------------------- checks
def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method={method!r}: unknown pruning-at-initialisation method; choose one "
                         f"of {list(METHODS)}")


def _check_exclude(names: Sequence[str], exclude: Sequence[str]) -> None:
    if isinstance(exclude, str):
        raise PruningError(f"exclude={exclude!r}: give a list of layer names, e.g. [{exclude!r}]")
    unknown = sorted(set(exclude) - set(names))
    if unknown:
        raise PruningError(f"exclude names {unknown}, which are not prunable weights of the model; "
                           f"its prunable weights are {list(names)}")


def _round(x: float) -> int:
    """Round half up (as ``lthlib.methods.pruning`` counts), robust to float noise at .5."""
    return int(x + 0.5 + 1e-9)


# ---------------------------------------------------------------------------------- data
def pai_batch(data: "Dataset | tuple[torch.Tensor, torch.Tensor]", seed: int,
              batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The one minibatch of training data SNIP and GraSP score with, from the ``pai_batch``
    stream of ``seed`` (the same batch for both, so they differ only in the score).

    ``batch_size=None``: ``SAMPLES_PER_CLASS`` (10) examples of every class, 100 for 10
    classes: class-balanced, as GraSP's code draws its batch, and the size of one MNIST
    training minibatch, which is what SNIP (Lee et al. 2019) scores with. An integer
    draws that many training examples uniformly without replacement. ``data``: a
    ``Dataset`` (its training split) or ``(x, y)``.
    """
    x, y = (data.x_train, data.y_train) if hasattr(data, "x_train") else data
    g = _generator(seed, "pai_batch")
    y_cpu = y.detach().cpu()
    if batch_size is None:
        picks = []
        for c in torch.unique(y_cpu).tolist():
            idx = (y_cpu == c).nonzero().flatten()
            picks.append(idx[torch.randperm(len(idx), generator=g)[:SAMPLES_PER_CLASS]])
        chosen = torch.cat(picks)
    else:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= len(y_cpu):
            raise ValueError(f"batch_size={batch_size!r}: a number of training examples from 1 to "
                             f"{len(y_cpu)}, or None for {SAMPLES_PER_CLASS} per class")
        chosen = torch.randperm(len(y_cpu), generator=g)[:batch_size]
    chosen = chosen.to(x.device)
    return x[chosen], y[chosen]


def _input_shape(data: object) -> tuple[int, ...]:
    """The input shape from a Dataset, ``(x, y)``, or a shape tuple (SynFlow needs only it)."""
    if hasattr(data, "input_shape"):
        return tuple(data.input_shape)
    if isinstance(data, (tuple, list)) and data and all(isinstance(d, int) for d in data):
        return tuple(data)
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], torch.Tensor):
        return tuple(data[0].shape[1:])
    raise ValueError(f"cannot read an input shape from {type(data).__name__}: give a Dataset, "
                     "(x, y) tensors or a shape tuple such as (40,)")


def _working_copy(model: nn.Module) -> tuple[nn.Module, dict[str, nn.Parameter]]:
    """A copy of ``model`` whose prunable weights take gradients (the caller's model, its
    gradients and its BatchNorm statistics are left untouched)."""
    net = copy.deepcopy(model)
    params = prunable_parameters(net)
    for p in net.parameters():
        p.grad = None
    for p in params.values():
        p.requires_grad_(True)
    return net, params


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    p = next(iter(prunable_parameters(model).values()))
    return p.device, p.dtype


# -------------------------------------------------------------------------------- scores
def snip_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Scores:
    """SNIP's connection sensitivity |dL/dc| = |g * w| on the batch ``(x, y)`` (Lee et al.
    2019, *SNIP: Single-shot Network Pruning based on Connection Sensitivity*): how much
    the loss changes when a connection is removed, to first order. The paper normalises by
    the sum over weights, which does not change the ranking, so it is left out."""
    net, params = _working_copy(model)
    net.train()
    device, dtype = _model_device_dtype(net)
    loss = F.cross_entropy(net(x.to(device=device, dtype=dtype)), y.to(device))
    grads = torch.autograd.grad(loss, list(params.values()))
    return {n: (g * w).abs().detach() for (n, w), g in zip(params.items(), grads)}


def hessian_gradient_product(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                             temperature: float = 1.0) -> tuple[Scores, Scores]:
    """``(g, Hg)`` of the cross-entropy on ``(x, y)`` with respect to the prunable weights:
    g detached, and Hg = d(g(w) . g_detached)/dw by double backpropagation (the Hessian
    never formed). ``temperature`` divides the logits (GraSP's code uses 200; the paper's
    formula has none: 1)."""
    net, params = _working_copy(model)
    net.train()
    device, dtype = _model_device_dtype(net)
    weights = list(params.values())
    loss = F.cross_entropy(net(x.to(device=device, dtype=dtype)) / temperature, y.to(device))
    g_graph = torch.autograd.grad(loss, weights, create_graph=True)
    g = [t.detach() for t in g_graph]
    z = sum((a * b).sum() for a, b in zip(g_graph, g))
    hg = torch.autograd.grad(z, weights)
    names = list(params)
    return dict(zip(names, g)), {n: t.detach() for n, t in zip(names, hg)}


def grasp_scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                 temperature: float = 1.0) -> Scores:
    """GraSP's keep-score ``w * (H g)`` (Wang, Zhang & Grosse 2020, *Picking Winning Tickets
    Before Training by Preserving Gradient Flow*).

    The paper scores S(w) = -w * (H g), the change of the gradient norm when w is removed,
    and removes the weights with the LARGEST S (they reduce gradient flow the least, or
    increase it); so the keep-score, higher = kept, is -S = w * (H g). Frankle et al. 2021's
    code also ranks by the magnitude |w * Hg| (its ``graspabsN`` strategy; here
    ``grasp_magnitude``); what the paper reports of it, and of GraSP with its scores
    inverted, was not checked against the paper's text (docs/fidelity.md).
    """
    _, hg = hessian_gradient_product(model, x, y, temperature=temperature)
    params = prunable_parameters(model)
    return {n: params[n].detach() * hg[n] for n in hg}


def synflow_scores(model: nn.Module, input_shape: tuple[int, ...], mask: Mask | None = None) -> Scores:
    """One round of SynFlow (Tanaka, Kunin, Yamins & Ganguli 2020, *Pruning neural networks
    without any data by iteratively conserving synaptic flow*): |w * dR/dw| with R the sum
    of the outputs of the linearised network (every parameter and buffer replaced by its
    absolute value, in float64, BatchNorm in eval mode) on an all-ones input; weights
    pruned by ``mask`` are zero. Data-free. Scores are float64 (on the CPU for an MPS
    model). For a bias-free network every layer's scores sum to R (conservation)."""
    net, params = _linearised(model)
    return _synflow_round(net, params, {n: p.detach().clone() for n, p in params.items()}, mask,
                          _ones(net, tuple(input_shape)))


def _linearised(model: nn.Module) -> tuple[nn.Module, dict[str, nn.Parameter]]:
    """A float64 copy with every parameter and buffer replaced by its absolute value (on
    the CPU for an MPS model: MPS has no float64)."""
    net, params = _working_copy(model)
    if _model_device_dtype(net)[0].type == "mps":
        net = net.cpu()
    net = net.double().eval()
    params = prunable_parameters(net)
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    for p in params.values():
        p.requires_grad_(True)
    return net, params


def _ones(net: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    device = next(iter(prunable_parameters(net).values())).device
    return torch.ones((1, *input_shape), dtype=torch.float64, device=device)


def _synflow_round(net: nn.Module, params: Mapping[str, nn.Parameter], abs_weights: Mapping[str, torch.Tensor],
                   mask: Mask | None, ones: torch.Tensor) -> Scores:
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(abs_weights[n] if mask is None else abs_weights[n] * mask[n].to(p.device))
    r = net(ones).sum()
    grads = torch.autograd.grad(r, list(params.values()))
    return {n: (g * p).detach().abs() for (n, p), g in zip(params.items(), grads)}


def pai_scores(method: str, model: nn.Module, data: "Dataset | tuple | None", *, seed: int,
               batch_size: int | None = None, temperature: float = 1.0) -> Scores:
    """Score every prunable weight of ``model`` at initialisation (higher = keep).

    ``"snip"`` |g * w| and ``"grasp"`` w * (H g) on one batch of ``data``'s training split
    (``pai_batch``: 10 examples per class unless ``batch_size``); ``"grasp_magnitude"``
    |w * (H g)|; ``"synflow"`` one round of SynFlow (the mask is iterative: use
    ``pai_mask`` or ``synflow_mask``; ``data`` only gives the input shape);
    ``"magnitude"`` |w|; ``"random"`` / ``"random_erk"`` uniform draws from their own
    streams of ``seed``. ``temperature``: GraSP's logit temperature (see
    ``hessian_gradient_product``).
    """
    _check_method(method)
    return PAI_METHODS[method].scores(model, data, seed=seed, batch_size=batch_size, temperature=temperature)


# ----------------------------------------------------------------------------- registry
# Each method's score of a model at initialisation, with the arguments ``pai_scores`` passes.
def _magnitude(model: nn.Module, data: object, **_: object) -> Scores:
    return {n: p.detach().abs().clone() for n, p in prunable_parameters(model).items()}


def _random(stream: str) -> Callable[..., Scores]:
    def scores(model: nn.Module, data: object, *, seed: int, **_: object) -> Scores:
        g = _generator(seed, stream)
        return {n: torch.rand(p.shape, generator=g).to(p.device) for n, p in prunable_parameters(model).items()}
    return scores


def _synflow(model: nn.Module, data: object, **_: object) -> Scores:
    return synflow_scores(model, _input_shape(data))


def _snip(model: nn.Module, data: object, *, seed: int, batch_size: int | None, **_: object) -> Scores:
    return snip_scores(model, *pai_batch(data, seed, batch_size))


def _grasp(absolute: bool) -> Callable[..., Scores]:
    def scores(model: nn.Module, data: object, *, seed: int, batch_size: int | None, temperature: float) -> Scores:
        s = grasp_scores(model, *pai_batch(data, seed, batch_size), temperature=temperature)
        return {n: v.abs() for n, v in s.items()} if absolute else s
    return scores


@dataclass(frozen=True)
class PaIMethod:
    """One pruning-at-initialisation method: its name, the words and colour figures give it
    (the same in every figure of notebooks 06 and 07), its score (higher = keep) and its own
    selection (``"global"``: one threshold across layers, as the papers; ``"layerwise"``: the
    same density in every layer; ``"erk"``: Erdos-Renyi-Kernel densities)."""

    name: str
    label: str
    color: str
    scores: Callable[..., Scores]
    selection: str


# To add a method: a ``PaIMethod`` here (its score takes ``model, data, seed=, batch_size=,
# temperature=``). IMP takes colours C0 and C1; ``random_erk`` is the mask static sparse
# training trains (``sparse_training.METHOD_COLORS``).
PAI_METHODS: dict[str, PaIMethod] = {m.name: m for m in (
    PaIMethod("snip", "SNIP", "C2", _snip, "global"),
    PaIMethod("grasp", "GraSP", "C3", _grasp(absolute=False), "global"),
    PaIMethod("grasp_magnitude", "GraSP |score|", "C8", _grasp(absolute=True), "global"),
    PaIMethod("synflow", "SynFlow", "C4", _synflow, "global"),
    PaIMethod("magnitude", "magnitude at init", "C5", _magnitude, "global"),
    PaIMethod("random", "random (uniform)", "C6", _random("pai_random"), "layerwise"),
    PaIMethod("random_erk", "random (ERK)", "C7", _random("pai_random_erk"), "erk"),
)}
# Views of the registry, by name
METHODS = tuple(PAI_METHODS)
GLOBAL_METHODS = tuple(n for n, m in PAI_METHODS.items() if m.selection == "global")
METHOD_LABELS = {n: m.label for n, m in PAI_METHODS.items()}
METHOD_COLORS = {n: m.color for n, m in PAI_METHODS.items()}


# --------------------------------------------------------------------------------- masks
def _budget(mask: Mask, density: float, exclude: Sequence[str]) -> int:
    """How many weights of the non-excluded layers are kept so that the whole mask keeps
    ``density`` (excluded layers stay dense)."""
    total = mask.numel()
    excluded = sum(mask[n].numel() for n in exclude)
    keep = _round(density * total) - excluded
    if keep < 1:
        raise PruningError(f"density={density!r} keeps {_round(density * total)} of {total} weights, "
                           f"but the excluded layers {list(exclude)} alone hold {excluded}: raise the "
                           "density or exclude fewer layers")
    return keep


def _keep_counts(mask: Mask, density: float, exclude: Sequence[str], scope: str) -> int | dict[str, int]:
    """The number of weights kept: one global count, or one per layer (at least 1)."""
    keep = _budget(mask, density, exclude)
    if scope == "global":
        return keep
    pruned = [n for n in mask if n not in exclude]
    layer_density = keep / sum(mask[n].numel() for n in pruned)
    return {n: max(1, _round(layer_density * mask[n].numel())) for n in pruned}


def _keep_top(scores: Mapping[str, torch.Tensor], alive: Mask, counts: int | Mapping[str, int],
              exclude: Sequence[str] = ()) -> Mask:
    """Keep the ``counts`` highest-scoring alive weights (globally across the non-excluded
    layers, or per layer), via ``prune_by_score``; never revives a pruned weight."""
    names = [n for n in alive if n not in exclude]
    sub = Mask({n: alive[n] for n in names})
    if isinstance(counts, int):
        n_alive = sub.num_kept()
        if n_alive <= counts:
            return alive
        pruned = prune_by_score({n: scores[n] for n in names}, sub, (n_alive - counts) / n_alive,
                                scope="global", allow_empty_layers=True)
    else:
        rates = {}
        for n in names:
            a = int(alive[n].sum())
            if a > counts[n]:
                rates[n] = (a - counts[n]) / a
        pruned = prune_by_score({n: scores[n] for n in rates}, sub, rates, allow_empty_layers=True)
    return Mask({n: pruned[n] if n in pruned else t for n, t in alive.items()})


def synflow_mask(model: nn.Module, density: float, iterations: int = SYNFLOW_ITERATIONS, *,
                 input_shape: tuple[int, ...], scope: str = "global", exclude: Sequence[str] = (),
                 invert: bool = False) -> Mask:
    """Iterative SynFlow (Tanaka et al. 2020): ``iterations`` rounds of scoring the masked
    linearised network (``synflow_scores``) and pruning globally to density
    ``density ** (r / iterations)`` after round r (their exponential schedule); pruned
    weights stay pruned. Re-scoring after each small step is what avoids layer collapse:
    a layer that loses weights gains synaptic flow per surviving weight (conservation).
    Data-free: only ``input_shape`` is needed. ``invert``: keep the lowest scores in every
    round (Frankle et al. 2021's inversion); pruning the highest flow first soon empties a
    layer, after which every score is zero and ties go by index."""
    check_density("synflow", density)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations={iterations!r}: SynFlow's number of rounds must be a positive "
                         "integer (the paper: 100)")
    if scope not in SCOPES:
        raise PruningError(f"scope={scope!r}: choose one of {list(SCOPES)}")
    _check_exclude(list(prunable_parameters(model)), exclude)
    mask = Mask.ones_like(model)
    net, params = _linearised(model)
    abs_weights = {n: p.detach().clone() for n, p in params.items()}
    ones = _ones(net, tuple(input_shape))
    for r in range(1, iterations + 1):
        scores = _synflow_round(net, params, abs_weights, mask, ones)
        if invert:
            scores = {n: -s for n, s in scores.items()}
        mask = _keep_top(scores, mask, _keep_counts(mask, density ** (r / iterations), exclude, scope),
                         exclude)
    return mask


def erk_densities(model: nn.Module | Mapping[str, torch.Tensor], density: float, *,
                  exclude: Sequence[str] = ()) -> dict[str, float]:
    """Erdos-Renyi-Kernel per-layer densities (Evci et al. 2020, *Rigging the Lottery*):
    density_l = eps * (sum of the layer's dims) / (product of its dims), e.g.
    (n_out + n_in) / (n_out n_in) for a linear layer and (c_out + c_in + k) / (c_out c_in k)
    for a 1-D convolution with kernel k, with eps chosen so that the overall density is
    ``density``. Small layers get high densities. A layer whose density would exceed 1 is
    made dense and eps recomputed for the rest (the largest such layer first, as RigL's
    code); layers in ``exclude`` are dense from the start. ``model``: a model (its
    prunable weights) or ``{name: tensor}`` (only shapes are read)."""
    check_density("ERK", density)
    if isinstance(model, nn.Module):
        shapes = {n: tuple(p.shape) for n, p in prunable_parameters(model).items()}
    else:
        shapes = {n: tuple(t.shape) for n, t in model.items()}
    _check_exclude(list(shapes), exclude)
    sizes = {n: math.prod(s) for n, s in shapes.items()}
    raw = {n: sum(s) / sizes[n] for n, s in shapes.items()}
    total = sum(sizes.values())
    dense = set(exclude)
    while True:
        sparse = [n for n in shapes if n not in dense]
        budget = density * total - sum(sizes[n] for n in dense)
        if not sparse:
            eps = 0.0
            break
        if budget <= 0:
            raise PruningError(f"density={density!r}: the excluded layers {sorted(exclude)} alone hold more "
                               f"than {density:.2%} of the weights")
        eps = budget / sum(raw[n] * sizes[n] for n in sparse)
        top = max(raw[n] for n in sparse)
        if eps * top <= 1.0 + 1e-12:
            break
        dense |= {n for n in sparse if raw[n] == top}
    return {n: 1.0 if n in dense else min(1.0, eps * raw[n]) for n in shapes}


@with_fixed_threads
def pai_mask(method: str, model: nn.Module, data: "Dataset | tuple | None", density: float, *,
             seed: int, scope: str | None = None, exclude: Sequence[str] = (), invert: bool = False,
             batch_size: int | None = None, iterations: int = SYNFLOW_ITERATIONS,
             temperature: float = 1.0) -> Mask:
    """The pruning-at-initialisation mask of ``method`` keeping ``density`` of the prunable
    weights of ``model`` (its initial weights: call before training).

    ``scope=None``: the method's own selection (global for SNIP, GraSP, SynFlow and
    magnitude, as the papers; the same density in every layer for ``random``; ERK
    densities for ``random_erk``); ``"layerwise"`` or ``"global"`` overrides it (not for
    ``random_erk``). ``exclude``: layers kept dense (the rest make up the density).
    ``invert``: keep the weights the method would prune (Frankle et al. 2021), at the same
    density and with the same selection. ``batch_size``, ``temperature``: see
    ``pai_scores``; ``iterations``: SynFlow's rounds. Random draws come from the streams of
    ``seed`` (module docstring). Computed on ``training_threads()`` torch threads, as training
    is, whatever the caller's count: the mask is stored, and a score summed over more threads
    can differ in its last bits and tip a weight across the cut.
    """
    _check_method(method)
    check_density(method, density)
    names = list(prunable_parameters(model))
    _check_exclude(names, exclude)
    if method == "random_erk" and scope is not None:
        raise PruningError("random_erk sets its own per-layer densities (ERK); leave scope=None, or "
                           "use method='random' with scope='layerwise' for uniform densities")
    if scope is None:
        scope = "global" if PAI_METHODS[method].selection == "global" else "layerwise"
    if scope not in SCOPES:
        raise PruningError(f"scope={scope!r}: choose one of {list(SCOPES)} or None (the method's own)")
    if method == "synflow":
        return synflow_mask(model, density, iterations, input_shape=_input_shape(data), scope=scope,
                            exclude=exclude, invert=invert)
    scores = pai_scores(method, model, data, seed=seed, batch_size=batch_size, temperature=temperature)
    if invert:
        scores = {n: -s for n, s in scores.items()}
    dense = Mask.ones_like(model)
    if PAI_METHODS[method].selection == "erk":
        layer = erk_densities(model, density, exclude=exclude)
        counts = {n: max(1, _round(d * dense[n].numel())) for n, d in layer.items() if n not in exclude}
    else:
        counts = _keep_counts(dense, density, exclude, scope)
    return _keep_top(scores, dense, counts, exclude)


# ----------------------------------------------------------------------- sanity checks
def shuffle_within_layers(mask: Mask, seed: int, index: int = 0) -> Mask:
    """Frankle et al. 2021's shuffling check: each layer's kept positions permuted at random
    (the ``shuffle`` stream of ``seed``; ``index`` e.g. a repeat), so per-layer counts are
    exactly those of ``mask`` and only the per-layer densities of the method survive."""
    g = _generator(seed, "shuffle", index)
    out = {}
    for name, t in mask.items():
        flat = t.flatten().cpu()
        out[name] = flat[torch.randperm(flat.numel(), generator=g)].reshape(t.shape).to(t.device)
    return Mask(out)


def layer_collapse(mask: Mask) -> list[str]:
    """Layers with no weight left (Tanaka et al. 2020's layer collapse: the network then
    computes a constant, whatever the other layers keep)."""
    return [name for name, t in mask.items() if not bool(t.any())]


def critical_density(scores: Mapping[str, torch.Tensor]) -> float:
    """The lowest density at which one-shot global pruning by ``scores`` leaves every layer
    at least one weight (Tanaka et al.'s critical compression, as a density): a layer
    survives while its best weight is among the kept, so this is
    max over layers of (1 + #weights scoring above the layer's best) / #weights.
    Ties at a layer's best score are counted as lost (an upper bound)."""
    flat = torch.cat([s.detach().flatten().double().cpu() for s in scores.values()])
    ordered = torch.sort(flat).values
    worst = 0
    for s in scores.values():
        best = s.detach().double().max().cpu()
        above = len(ordered) - int(torch.searchsorted(ordered, best, right=False))
        worst = max(worst, above)  # ``above`` counts the layer's best and its ties too
    return worst / len(flat)


def mask_agreement(a: Mask, b: Mask) -> dict[str, float]:
    """Overlap of two masks above chance, per layer and ``"overall"``: IoU(a, b) minus the
    IoU two independent random masks with the same per-layer kept counts would have.

    IoU = |a and b| / |a or b|; chance takes the expected intersection k_a k_b / n of each
    layer (n weights, k_a and k_b kept): chance IoU = (k_a k_b / n) / (k_a + k_b - k_a k_b / n),
    summed over layers for ``"overall"``. 0: no more agreement than chance; positive: the
    masks pick the same weights; at most 1 - chance. Built on ``lthlib.masks.overlap``.
    """
    return {name: v["iou"] - v["chance_iou"] for name, v in overlap(a, b).items()}


__all__ = ["PAI_METHODS", "PaIMethod", "METHODS", "GLOBAL_METHODS", "METHOD_LABELS", "METHOD_COLORS", "PAI_STREAMS", "pai_batch", "snip_scores",
           "hessian_gradient_product", "grasp_scores", "synflow_scores", "pai_scores", "synflow_mask",
           "erk_densities", "pai_mask", "shuffle_within_layers", "layer_collapse", "critical_density",
           "mask_agreement"]
