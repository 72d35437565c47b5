"""Choosing which weights to remove: score the surviving weights, drop the lowest.

Every pruning step here
- considers only weights that are still alive (a pruned weight is never revived);
- removes ``round(rate x alive)`` of them per layer (layerwise) or across the chosen
  layers (global), ``rate`` being the fraction of the *surviving* weights removed;
- breaks ties deterministically: among equal scores the weight with the lower flat index
  (in the order the mask lists layers) goes first.

Magnitude pruning (Frankle & Carbin 2019) scores by |w|; the random-mask control scores
by a uniform draw from its own random stream, at the same per-layer densities as the mask it controls.
The one-shot methods of large-model practice (notebook 10): Wanda's score (``wanda_scores``,
compared within each row by ``prune_per_row``) and N:M patterns of any score
(``nm_prune``, e.g. 2:4).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from lthlib.masks import Mask, MaskError
from lthlib.models.networks import prunable_parameters

SCOPES = ("layerwise", "global")


class PruningError(ValueError):
    """Pruning settings that cannot work (rate out of range, unknown layer, empty layer)."""


def _count(rate: float, alive: int) -> int:
    """How many of ``alive`` weights a rate removes: rounded half up, so it is exact for
    the papers' layer sizes and never depends on float noise at .5."""
    return int(rate * alive + 0.5 + 1e-9)


def check_rate(name: str, rate: float) -> None:
    """A pruning rate is the fraction of surviving weights removed, in [0, 1)."""
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0.0 <= rate < 1.0:
        raise PruningError(f"pruning rate for {name!r} is {rate!r}: it must be a fraction in [0, 1) "
                           "of the surviving weights to remove (0.2 removes 20%)")


def check_density(name: str, density: float) -> None:
    """A density is the fraction of weights kept, in (0, 1]; say so when it is not."""
    if not isinstance(density, (int, float)) or isinstance(density, bool) or not 0.0 < density <= 1.0:
        raise PruningError(f"density for {name!r} is {density!r}: the fraction of weights kept must be in "
                           "(0, 1] (0.2 keeps 20%)")


def prune_by_score(scores: Mapping[str, torch.Tensor], mask: Mask,
                   rates: float | Mapping[str, float], *, scope: str = "layerwise",
                   allow_empty_layers: bool = False) -> Mask:
    """Remove the lowest-scoring surviving weights; return the new Mask.

    ``rates``: one fraction for every layer, or ``{name: fraction}`` (layers not named are
    left as they are). ``scope="global"`` ranks all named layers together with the single
    rate ``rates`` (a float). A layer left with no weights is an error unless
    ``allow_empty_layers``.
    """
    if scope not in SCOPES:
        raise PruningError(f"scope={scope!r}: choose one of {list(SCOPES)}")
    if isinstance(rates, Mapping):
        if scope == "global":
            raise PruningError("global pruning takes one rate (a float) for all layers; "
                               "leave layers out with exclude=... instead of a rate per layer")
        unknown = sorted(set(rates) - set(mask))
        if unknown:
            raise PruningError(f"rates name {unknown}, which the mask does not have; "
                               f"its layers are {list(mask)}")
        layer_rates = dict(rates)
    else:
        layer_rates = {name: rates for name in mask}
    for name, rate in layer_rates.items():
        check_rate(name, rate)
    for name in layer_rates:
        if name not in scores:
            raise PruningError(f"no scores for layer {name!r}")
        if scores[name].shape != mask[name].shape:
            raise MaskError(f"scores for {name!r} have shape {tuple(scores[name].shape)}, the mask "
                            f"{tuple(mask[name].shape)}")

    new = {name: t.clone() for name, t in mask.items()}
    if scope == "layerwise":
        for name, rate in layer_rates.items():
            new[name] = _prune_lowest({name: scores[name]}, {name: mask[name]}, rate)[name]
    else:
        rate = next(iter(layer_rates.values()), 0.0)
        chosen = list(layer_rates)
        new.update(_prune_lowest({n: scores[n] for n in chosen}, {n: mask[n] for n in chosen}, rate))
    if not allow_empty_layers:
        empty = [n for n in layer_rates if not new[n].any() and mask[n].any()]
        if empty:
            raise PruningError(f"pruning would remove every weight of {empty}; lower the rate, "
                               "stop earlier, or pass allow_empty_layers=True")
    return Mask(new)


def _prune_lowest(scores: Mapping[str, torch.Tensor], alive: Mapping[str, torch.Tensor],
                  rate: float) -> dict[str, torch.Tensor]:
    """Jointly rank the alive entries of the given layers; switch off the lowest ones."""
    names = list(alive)
    flat_alive = torch.cat([alive[n].flatten().cpu() for n in names])
    flat_scores = torch.cat([scores[n].detach().flatten().cpu().double() for n in names])
    alive_idx = flat_alive.nonzero().flatten()
    n_prune = _count(rate, len(alive_idx))
    keep = flat_alive.clone()
    if n_prune:
        # stable sort on scores of alive weights: equal scores keep index order
        order = torch.sort(flat_scores[alive_idx], stable=True).indices
        keep[alive_idx[order[:n_prune]]] = False
    out, start = {}, 0
    for n in names:
        size = alive[n].numel()
        out[n] = keep[start:start + size].reshape(alive[n].shape).to(alive[n].device)
        start += size
    return out


def magnitude_prune(weights: Mapping[str, torch.Tensor], mask: Mask,
                    rates: float | Mapping[str, float], *, scope: str = "layerwise",
                    exclude: tuple[str, ...] = (), allow_empty_layers: bool = False) -> Mask:
    """Remove the surviving weights of smallest magnitude |w| (per layer, or globally).

    ``weights``: a state dict (e.g. the trained weights of the last round). ``exclude``:
    layers never pruned (e.g. the output layer under global pruning).
    """
    unknown = sorted(set(exclude) - set(mask))
    if unknown:
        raise PruningError(f"exclude names {unknown}, which the mask does not have")
    missing = [n for n in mask if n not in weights]
    if missing:
        raise MaskError(f"the weights have no {missing}; are they from another model?")
    layers = [n for n in mask if n not in exclude]
    if isinstance(rates, Mapping):
        rates = {n: r for n, r in rates.items() if n not in exclude}
    pruned = prune_by_score({n: weights[n].abs() for n in layers}, Mask({n: mask[n] for n in layers}),
                            rates, scope=scope, allow_empty_layers=allow_empty_layers)
    return Mask({n: pruned[n] if n in pruned else t for n, t in mask.items()})


def random_mask_like(reference: Mask, seed: int, index: int = 0, stream: str = "random_mask") -> Mask:
    """A random mask with exactly the per-layer kept counts of ``reference`` (the
    random-pruning control: same layerwise densities, random positions), drawn from the
    ``stream`` of ``seed`` (``index``: e.g. the IMP round)."""
    from lthlib.core.streams import generator

    g = generator(seed, stream, index)
    out = {}
    for name, t in reference.items():
        keep = torch.zeros(t.numel(), dtype=torch.bool)
        keep[torch.randperm(t.numel(), generator=g)[: int(t.sum())]] = True
        out[name] = keep.reshape(t.shape).to(t.device)
    return Mask(out)


def magnitude_prune_like(dense_final: Mapping[str, torch.Tensor], target: Mask, scope: str,
                         exclude: tuple[str, ...] = ()) -> Mask:
    """Magnitude-prune the dense trained weights in one step to ``target``'s densities
    (per layer under layerwise pruning, overall under global pruning): one-shot pruning,
    the control IMP's iterated pruning is compared with (``imp.CONTROLS["one_shot"]``)."""
    full = Mask({n: torch.ones_like(t) for n, t in target.items()})
    if scope == "global":
        kept_layers = [n for n in target if n not in exclude]
        alive = sum(int(target[n].sum()) for n in kept_layers)
        total = sum(target[n].numel() for n in kept_layers)
        return magnitude_prune(dense_final, full, 1 - alive / total, scope="global", exclude=exclude,
                               allow_empty_layers=True)
    rates = {n: 1 - int(t.sum()) / t.numel() for n, t in target.items()}
    return magnitude_prune(dense_final, full, rates, allow_empty_layers=True)


def layerwise_rates(model: nn.Module, rate: float = 0.2, output_rate: float | None = 0.1,
                    conv_rate: float | None = None) -> dict[str, float]:
    """Per-layer rates as Frankle & Carbin: ``rate`` for hidden layers, ``output_rate`` for
    the last prunable layer (half the rate: it is small and every prediction needs it),
    ``conv_rate`` for convolutions (Conv-2/4: 10%, Conv-6: 15%; fully connected: 20%).
    None means "same as ``rate``"."""
    params = prunable_parameters(model)
    modules = dict(model.named_modules())
    names = list(params)
    rates = {}
    for name in names:
        module = modules[name.rsplit(".", 1)[0]] if "." in name else model
        if name == names[-1] and output_rate is not None:
            rates[name] = output_rate
        elif isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and conv_rate is not None:
            rates[name] = conv_rate
        else:
            rates[name] = rate
    for name, r in rates.items():
        check_rate(name, r)
    return rates


def to_torch_prune(model: nn.Module, mask: Mask) -> nn.Module:
    """Put ``mask`` on ``model`` the way ``torch.nn.utils.prune`` does (``weight_orig`` +
    ``weight_mask``), for code that expects that form. Changes parameter names."""
    from torch.nn.utils import prune

    mask.check_fits(model)
    modules = dict(model.named_modules())
    for name, keep in mask.items():
        module_name, param = name.rsplit(".", 1) if "." in name else ("", name)
        prune.custom_from_mask(modules[module_name], param, keep.to(getattr(modules[module_name], param).device))
    return model


def from_torch_prune(model: nn.Module) -> Mask:
    """The Mask of a model pruned with ``torch.nn.utils.prune`` (its ``*_mask`` buffers),
    named by the original parameter names (``fc1.weight``, not ``fc1.weight_orig``)."""
    out = {}
    for module_name, module in model.named_modules():
        for buf_name, buf in module.named_buffers(recurse=False):
            if buf_name.endswith("_mask"):
                param = buf_name[: -len("_mask")]
                out[f"{module_name}.{param}" if module_name else param] = buf.bool()
    if not out:
        raise MaskError("the model has no torch.nn.utils.prune masks (no '*_mask' buffers)")
    return Mask(out)


# ------------------------------------------------------------------ one-shot scores and patterns
# Wanda (Sun, Liu, Bair & Kolter 2023, "A Simple and Effective Pruning Approach for Large
# Language Models"): score each weight by |W_ij| * ||X_j||_2, the norm of its input feature
# over a few calibration examples, and compare the scores within each output (row), not
# across the layer. N:M patterns (2:4 is what NVIDIA's sparse tensor cores run): in every
# group of M consecutive weights along a row, keep the N that score highest.


@torch.no_grad()
def input_norms(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> dict[str, torch.Tensor]:
    """The L2 norm of every input feature of every prunable layer over the examples ``x``
    (Wanda's ``||X_j||_2``), from one forward pass of ``model`` as it is, in eval mode:

    - Linear: per input feature, over all examples and positions (the authors' code,
      ``lib/layerwrapper.py``, up to a per-layer constant that does not change a ranking);
    - Embedding: per token, the norm of its one-hot input column, i.e. the square root of
      how often the token occurs in ``x``;
    - Conv1d / Conv2d (not grouped): per column of the unfolded input (input channel x
      kernel offset), the input a convolution's weight row multiplies.

    Every layer sees the inputs the unpruned model gives it (as the authors' code for image
    classifiers, ``image_classifiers/prune_utils.py``; their LLM code re-runs each block
    after pruning the one before)."""
    squares: dict[str, torch.Tensor] = {}
    names = {m: n for n, m in model.named_modules()}
    hooks = []

    def hook(module: nn.Module, inputs: tuple, _output: torch.Tensor) -> None:
        name = f"{names[module]}.weight" if names[module] else "weight"
        inp = inputs[0]
        if isinstance(module, nn.Embedding):
            add = torch.bincount(inp.flatten(), minlength=module.num_embeddings).double()
        elif isinstance(module, nn.Linear):
            add = inp.detach().double().reshape(-1, inp.shape[-1]).pow(2).sum(0)
        else:
            if module.groups != 1 or module.padding_mode != "zeros" or isinstance(module.padding, str):
                raise PruningError(f"input_norms: {name} is a grouped, non-zero-padded or 'same'-padded "
                                   "convolution; score its layer another way or exclude it")
            inp4 = inp.unsqueeze(2) if isinstance(module, nn.Conv1d) else inp
            pair = (lambda v: (1, v[0])) if isinstance(module, nn.Conv1d) else (lambda v: tuple(v))
            cols = F.unfold(inp4.double(), pair(module.kernel_size), dilation=pair(module.dilation),
                            padding=pair(module.padding), stride=pair(module.stride))
            add = cols.pow(2).sum(dim=(0, 2))
        squares[name] = squares.get(name, 0) + add

    wanted = prunable_parameters(model)
    for module, name in names.items():
        full = f"{name}.weight" if name else "weight"
        if full in wanted:
            if isinstance(module, nn.Conv3d):
                raise PruningError(f"input_norms: {full} is a Conv3d, which is not supported")
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size])
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    missing = [n for n in wanted if n not in squares]
    if missing:
        raise PruningError(f"input_norms: {missing} saw no input in the forward pass")
    return {n: squares[n].sqrt().float() for n in wanted}


def wanda_scores(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> dict[str, torch.Tensor]:
    """Wanda's score of every prunable weight: ``|W_ij| * ||X_j||_2``, the weight's
    magnitude times the norm of the input it multiplies over the calibration examples
    ``x`` (``input_norms``). Wanda compares the scores within each output, i.e. within
    each row of a Linear weight: ``prune_per_row``. (An Embedding table's rows are tokens:
    each token's score is its magnitude times one number, so within a row Wanda ranks as
    magnitude does; the authors prune Linear layers only.)"""
    norms = input_norms(model, x, batch_size)
    modules = dict(model.named_modules())
    out = {}
    for name, w in prunable_parameters(model).items():
        w = w.detach()
        n = norms[name].to(w.device)
        if isinstance(modules[name.rsplit(".", 1)[0] if "." in name else ""], nn.Embedding):
            out[name] = w.abs() * n[:, None]  # tokens x features: the norm is the token's
        else:  # out x in (x kernel): the norm is per column of the flattened row
            out[name] = (w.abs().reshape(w.shape[0], -1) * n[None, :]).reshape(w.shape)
    return out


def prune_per_row(scores: Mapping[str, torch.Tensor], mask: Mask, rates: float | Mapping[str, float]) -> Mask:
    """Remove the lowest-scoring surviving weights *within each row* of a layer's weight
    (``weight.flatten(1)[i]``: the weights one output of a Linear or Conv layer reads,
    Wanda's comparison group; one token's features in an Embedding table): from every row,
    ``round(rate x survivors in the row)``, so every row keeps the same fraction. Ties: the
    lower index in the row goes first. ``rates``: one fraction, or ``{layer: fraction}``
    (layers not named are left as they are)."""
    layer_rates = dict(rates) if isinstance(rates, Mapping) else {name: rates for name in mask}
    unknown = sorted(set(layer_rates) - set(mask))
    if unknown:
        raise PruningError(f"rates name {unknown}, which the mask does not have; its layers are {list(mask)}")
    new = dict(mask.items())
    for name, rate in layer_rates.items():
        check_rate(name, rate)
        if name not in scores or scores[name].shape != mask[name].shape:
            raise PruningError(f"no scores of the mask's shape for layer {name!r}")
        shape = mask[name].shape
        alive = mask[name].cpu().reshape(shape[0], -1) if len(shape) > 1 else mask[name].cpu().reshape(1, -1)
        s = scores[name].detach().cpu().double().reshape(alive.shape)
        s = torch.where(alive, s, torch.full_like(s, -math.inf))  # the dead sort first
        dead = (~alive).sum(1, keepdim=True)
        remove = torch.tensor([[_count(rate, int(a))] for a in alive.sum(1)], dtype=torch.long)
        keep = alive & (_ranks(s) >= dead + remove)
        new[name] = keep.reshape(shape).to(mask[name].device)
    return Mask(new)


def _ranks(s: torch.Tensor) -> torch.Tensor:
    """Each entry's rank within its row, lowest first (stable: ties by index)."""
    rank = torch.empty_like(s, dtype=torch.long)
    rank.scatter_(1, torch.sort(s, dim=1, stable=True).indices,
                  torch.arange(s.shape[1]).expand(s.shape[0], -1).contiguous())
    return rank


def nm_prune(scores: Mapping[str, torch.Tensor], mask: Mask, n: int, m: int,
             layers: tuple[str, ...] | None = None) -> Mask:
    """An N:M pattern: in every group of ``m`` consecutive weights along each row of a
    layer's weight (``weight.flatten(1)``: the input dimension of a Linear weight, the
    memory order 2:4 sparse kernels read), keep the ``n`` surviving weights that score
    highest (all survivors where fewer than ``n`` are left) and remove the rest. Density:
    exactly ``n / m`` from a dense mask. Ties: the lower index in the group is removed
    first. ``layers``: which layers (None: all the mask has); a row length that ``m``
    does not divide is an error naming the layer."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, m)) or not 0 < n <= m:
        raise PruningError(f"N:M pattern {n}:{m}: need integers 0 < N <= M (2:4 keeps 2 of every 4)")
    names = list(mask) if layers is None else list(layers)
    unknown = sorted(set(names) - set(mask))
    if unknown:
        raise PruningError(f"layers {unknown} are not in the mask; its layers are {list(mask)}")
    new = dict(mask.items())
    for name in names:
        alive = mask[name].cpu()
        rows = alive.reshape(alive.shape[0], -1) if alive.dim() > 1 else alive.reshape(1, -1)
        if rows.shape[1] % m:
            raise PruningError(f"{name}: rows of {rows.shape[1]} weights do not split into groups of {m}; "
                               f"choose another M or leave the layer out (layers=...)")
        if name not in scores or scores[name].shape != mask[name].shape:
            raise PruningError(f"no scores of the mask's shape for layer {name!r}")
        groups = rows.reshape(-1, m)
        s = scores[name].detach().cpu().double().reshape(-1, m)
        s = torch.where(groups, s, torch.full_like(s, -math.inf))  # the dead sort first
        keep = groups & (_ranks(s) >= m - n)
        new[name] = keep.reshape(alive.shape).to(mask[name].device)
    return Mask(new)
