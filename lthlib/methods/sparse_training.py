"""Sparse training from scratch: a mask that changes during training.

Instead of training densely and pruning (IMP), train a sparse network from the start:

| method     | the mask during training                                               |
|------------|------------------------------------------------------------------------|
| ``static`` | a fixed random mask (the baseline)                                     |
| ``set``    | SET (Mocanu et al. 2018) as RigL's code implements it (google-research/ |
|            | rigl, ``SparseSETOptimizerBase``): every ``update_every`` steps drop the |
|            | active weights of smallest magnitude, grow as many at random inactive   |
|            | places                                                                  |
| ``rigl``   | RigL (Evci et al. 2020, *Rigging the Lottery*): drop as SET, grow the   |
|            | inactive places of largest dense-gradient magnitude                     |

For SET and RigL, in every layer the update drops ``round(drop_fraction_at(t) x active)``
active weights and grows exactly as many, so each layer's density is constant. Growth
chooses among every position not active after the drop, so a connection dropped in an
update may be regrown in the same update, as in RigL (Evci et al. 2020, Algorithm 1, and
google-research/rigl's ``sparse_optimizers.py``: the grow scores of the connections kept
are lifted out of reach, everything else competes). Newly grown weights start at zero
with zero optimiser state (``lthlib.engine.training.train`` does this); a connection dropped and
regrown by the same update was never off, so it keeps its weight and optimiser state, as
in the authors' code (``_get_update_op`` with its default ``reinit_when_same=False``). The drop fraction decays with a cosine,
``alpha/2 (1 + cos(pi t / T_end))`` (the ``drop_fraction_anneal='cosine'`` option of the
authors' code, whose CIFAR script defaults to ``'constant'``; the paper's own choice was
not checked against its text: docs/fidelity.md), and updates stop at
``T_end = end_fraction x iterations``. Ties (equal magnitudes or gradients) go to the
lower flat index, as in ``lthlib.methods.pruning``.

The initial mask is random, with the same density in every layer (``"uniform"``) or
Erdos-Renyi-Kernel densities (``"erk"``), drawn as ``lthlib.methods.pai``'s ``random`` /
``random_erk`` masks (their streams ``pai_random`` / ``pai_random_erk`` of the seed), so a
static sparse run trains exactly the random pruning-at-initialisation mask of notebook 06.

The updater plugs into ``train`` through its ``mask_update`` hook (one training loop, not
a second one): ``due(iteration)`` says when, ``__call__(iteration, model, mask, grads)``
returns the new mask. SET's random growth draws from its own stream, ``generator(seed, "sparse_grow",
update_index)`` (``update_index = iteration // update_every``) until
``lthlib.core.streams`` has a purpose of its own for it (``"sparse_grow"``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from lthlib.core.store import Store
from lthlib.core.streams import generator
from lthlib.engine.training import model_for, train
from lthlib.masks import Mask
from lthlib.methods.pai import pai_mask
from lthlib.models.networks import prunable_parameters
from lthlib.settings import SettingsError, TrainSettings, checked_replace

# Notebook 07 (sparse training from scratch, ``SparseTrainingSettings``):
# RigL's update interval (delta T) per scale and whether the first layer stays dense; the
# other knobs are Evci et al. 2020's defaults (alpha 0.3, T_end at 75% of training, cosine
# decay). Densities: notebook 06's. ``SPARSE_MODELS``: the model when the notebook names
# none (paper: RigL's WRN-22-2 on CIFAR-10, whose first layer RigL keeps dense).
SPARSE_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(update_every=25),
    "quick": dict(update_every=100),
    "paper": dict(update_every=100, dense_first_layer=True),
}
SPARSE_MODELS: dict[str, str | None] = {"smoke": None, "quick": None, "paper": "wrn22_2"}

DISTRIBUTIONS = ("uniform", "erk")


# How a method grows the connections it regrows at an update (higher = grown first), from
# (iteration, mask, the dense gradients of the step or None, seed, update interval).
def _grow_by_gradient(iteration: int, mask: Mask, grads: Mapping[str, torch.Tensor] | None, seed: int,
                      update_every: int) -> dict[str, torch.Tensor]:
    """RigL: |dense gradient|."""
    if grads is None:
        raise ValueError("RigL grows by the dense gradient: train must pass grads")
    return {n: grads[n].detach().abs() for n in mask}


def _grow_at_random(iteration: int, mask: Mask, grads: Mapping[str, torch.Tensor] | None, seed: int,
                    update_every: int) -> dict[str, torch.Tensor]:
    """SET: uniform draws from the ``sparse_grow`` stream at index ``iteration //
    update_every`` (layers in the mask's order)."""
    g = generator(seed, "sparse_grow", iteration // update_every)
    return {n: torch.rand(t.shape, generator=g) for n, t in mask.items()}


@dataclass(frozen=True)
class SparseMethod:
    """One sparse-training method: its name, the words and colour figures give it, and how
    it regrows connections (``grow``; None: the mask stays fixed) and whether that needs the
    dense gradients of the update steps."""

    name: str
    label: str
    color: str
    grow: Callable[..., dict[str, torch.Tensor]] | None = None
    needs_gradients: bool = False


# To add a method: a ``SparseMethod`` here. Static sparse training trains ``pai``'s
# ``random_erk`` mask: the same colour as there.
SPARSE_METHODS: dict[str, SparseMethod] = {m.name: m for m in (
    SparseMethod("static", "static sparse", "C7"),
    SparseMethod("set", "SET", "C8", _grow_at_random),
    SparseMethod("rigl", "RigL", "C9", _grow_by_gradient, needs_gradients=True),
)}
# Views of the registry, by name
METHODS = tuple(SPARSE_METHODS)
METHOD_LABELS = {n: m.label for n, m in SPARSE_METHODS.items()}
METHOD_COLORS = {n: m.color for n, m in SPARSE_METHODS.items()}


@dataclass(frozen=True)
class SparseTrainingSettings:
    """How a sparse network is trained from scratch.

    ``method``: ``"static"``, ``"set"`` or ``"rigl"``. ``density``: fraction of the prunable
    weights active (constant during training). ``distribution``: per-layer densities,
    ``"uniform"`` or ``"erk"``. ``update_every``: Delta T, steps between mask updates
    (RigL: 100). ``end_fraction``: T_end as a fraction of the training iterations (RigL:
    0.75); no update at or after it. ``drop_fraction``: alpha, the fraction of active
    weights replaced at the first update (RigL: 0.3), decayed by a cosine to 0 at T_end.
    ``dense_first_layer``: keep the first prunable layer dense, as RigL does for its CIFAR
    and ImageNet ResNets; ``density`` is still the whole network's, so the other layers
    are pruned further to make up for it (``lthlib.methods.pai.pai_mask(exclude=...)``); an update
    never changes a dense layer (it has no inactive position to grow into).
    """

    method: str = "rigl"
    density: float = 0.1
    distribution: str = "erk"
    update_every: int = 100
    end_fraction: float = 0.75
    drop_fraction: float = 0.3
    dense_first_layer: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise SettingsError naming the first setting that cannot work."""
        def bad(name: str, why: str) -> SettingsError:
            return SettingsError(f"{name}={getattr(self, name)!r}: {why}")

        def number(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad(name, "must be a finite number")
            return value

        if self.method not in METHODS:
            raise bad("method", f"unknown sparse-training method; choose one of {list(METHODS)}")
        if self.distribution not in DISTRIBUTIONS:
            raise bad("distribution", f"choose one of {list(DISTRIBUTIONS)}")
        if not 0.0 < number("density") <= 1.0:
            raise bad("density", "the fraction of weights kept must be in (0, 1] (0.1 keeps 10%)")
        if isinstance(self.update_every, bool) or not isinstance(self.update_every, int) \
                or self.update_every < 1:
            raise bad("update_every", "steps between mask updates must be a positive integer "
                                      "(RigL: 100)")
        if not 0.0 < number("end_fraction") <= 1.0:
            raise bad("end_fraction", "T_end as a fraction of training must be in (0, 1] (RigL: 0.75)")
        if not 0.0 <= number("drop_fraction") < 1.0:
            raise bad("drop_fraction", "the fraction of active weights replaced must be in [0, 1) "
                                       "(RigL: 0.3)")
        if not isinstance(self.dense_first_layer, bool):
            raise bad("dense_first_layer", "must be True or False")

    def replace(self, **changes: Any) -> "SparseTrainingSettings":
        """A copy with some settings changed (validated again)."""
        return checked_replace(self, changes, "sparse-training setting")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a store key part; ``dense_first_layer`` appears only when set, so
        keys of runs stored before it existed stay valid."""
        out = dataclasses.asdict(self)
        if not out["dense_first_layer"]:
            del out["dense_first_layer"]
        return out


def _check_settings(settings: object) -> SparseTrainingSettings:
    if not isinstance(settings, SparseTrainingSettings):
        raise TypeError(f"expected SparseTrainingSettings, not {type(settings).__name__}")
    return settings


def initial_sparse_mask(model: nn.Module, settings: SparseTrainingSettings, seed: int) -> Mask:
    """A random mask of ``model``'s prunable weights at ``settings.density``: the same
    density in every layer (``"uniform"``) or ERK densities (``"erk"``), the first layer
    dense under ``dense_first_layer``; drawn as ``lthlib.methods.pai.pai_mask("random" /
    "random_erk", ...)`` from the streams of ``seed``."""
    settings = _check_settings(settings)
    method = "random" if settings.distribution == "uniform" else "random_erk"
    exclude = list(prunable_parameters(model))[:1] if settings.dense_first_layer else []
    return pai_mask(method, model, None, settings.density, seed=seed, exclude=exclude)


def end_iteration(settings: SparseTrainingSettings, iterations: int) -> int:
    """T_end: ``end_fraction x iterations`` rounded half up; no update at or after it."""
    return int(settings.end_fraction * iterations + 0.5 + 1e-9)


def drop_fraction_at(t: int, settings: SparseTrainingSettings, iterations: int) -> float:
    """The fraction of active weights replaced by an update at step ``t``: the cosine decay
    ``alpha/2 (1 + cos(pi t / T_end))`` (RigL's code's ``'cosine'`` anneal), 0 at and after T_end."""
    t_end = end_iteration(settings, iterations)
    if t >= t_end:
        return 0.0
    return settings.drop_fraction / 2 * (1 + math.cos(math.pi * t / t_end))


def _lowest(scores: torch.Tensor, candidates: torch.Tensor, k: int, descending: bool = False) -> torch.Tensor:
    """The ``k`` candidate indices of lowest (or highest) score; ties go to the lower index."""
    order = torch.sort(scores[candidates], descending=descending, stable=True).indices
    return candidates[order[:k]]


def update_mask(mask: Mask, weights: Mapping[str, torch.Tensor], grow_scores: Mapping[str, torch.Tensor],
                fraction: float) -> Mask:
    """One drop-and-grow step, per layer: drop the ``round(fraction x active)`` active
    weights of smallest |weight|, then grow as many of the positions not active after the
    drop (the just-dropped ones included, as in RigL) with the largest ``grow_scores``
    (RigL: |dense gradient|; SET: uniform draws). Each layer keeps its number of active
    weights exactly."""
    out = {}
    for name, m in mask.items():
        w = weights[name].detach()
        flat = m.to(w.device).flatten()
        active = flat.nonzero().flatten()
        # a dense layer (RigL's dense first layer) is not updated: nothing of it is sparse
        k = 0 if len(active) == flat.numel() else min(int(fraction * len(active) + 0.5 + 1e-9), len(active))
        new = flat.clone()
        if k > 0:
            new[_lowest(w.abs().flatten(), active, k)] = False
            candidates = (~new).nonzero().flatten()
            new[_lowest(grow_scores[name].to(w.device).flatten(), candidates, k, descending=True)] = True
        out[name] = new.reshape(m.shape)
    return Mask(out)


class SparseUpdater:
    """SET or RigL as a ``train(mask_update=...)`` hook (see ``lthlib.engine.training.train``).

    ``due(t)``: an update follows step ``t`` when ``t`` is a positive multiple of
    ``update_every`` below T_end. ``__call__(t, model, mask, grads)``: the new mask, from
    the model's current weights and (RigL) the dense gradients of step ``t``. Stateless
    apart from its settings, so a resumed run updates as an uninterrupted one.
    """

    def __init__(self, settings: SparseTrainingSettings, iterations: int, seed: int):
        settings = _check_settings(settings)
        if SPARSE_METHODS[settings.method].grow is None:
            raise SettingsError(f"method={settings.method!r}: only 'set' and 'rigl' change the mask "
                                "during training ('static' trains a fixed mask)")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise SettingsError(f"iterations={iterations!r}: must be a positive integer")
        self.settings = settings
        self.iterations = iterations
        self.seed = int(seed)
        self.t_end = end_iteration(settings, iterations)
        self.needs_gradients = SPARSE_METHODS[settings.method].needs_gradients

    def due(self, iteration: int) -> bool:
        return 0 < iteration < self.t_end and iteration % self.settings.update_every == 0

    def identity(self) -> dict[str, Any]:
        """What this updater does, for the key of a result it computed (``lthlib.engine.passes``)."""
        return {"sparse": self.settings.to_dict(), "iterations": self.iterations, "seed": self.seed}

    def update_iterations(self) -> list[int]:
        """Every step after which the mask is updated."""
        return [t for t in range(1, self.iterations + 1) if self.due(t)]

    def grow_scores(self, iteration: int, mask: Mask,
                    grads: Mapping[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
        """The method's grow scores (``SPARSE_METHODS``): RigL |dense gradient|; SET uniform
        draws from the ``sparse_grow`` stream at index ``iteration // update_every`` (layers in
        the mask's order)."""
        grow = SPARSE_METHODS[self.settings.method].grow
        return grow(iteration, mask, grads, self.seed, self.settings.update_every)

    @torch.no_grad()
    def __call__(self, iteration: int, model: nn.Module, mask: Mask,
                 grads: Mapping[str, torch.Tensor] | None) -> Mask | None:
        if not self.due(iteration):
            return None
        fraction = drop_fraction_at(iteration, self.settings, self.iterations)
        params = dict(model.named_parameters())
        weights = {n: params[n] for n in mask}
        return update_mask(mask, weights, self.grow_scores(iteration, mask, grads), fraction)


def train_sparse(model: nn.Module, data, train_settings: TrainSettings,
                 sparse_settings: SparseTrainingSettings, *, seed: int, progress: bool | None = None,
                 checkpoint: str | Path | None = None):
    """Train ``model`` (in place, from its current weights) sparse from scratch: a random
    initial mask (``initial_sparse_mask`` of ``seed``), fixed for ``"static"``, updated by
    SET or RigL (``SparseUpdater``) through ``train``'s ``mask_update`` hook. Returns the
    ``Run``: its ``mask`` is the final mask, ``mask_updates`` the changes."""
    sparse_settings = _check_settings(sparse_settings)
    mask = initial_sparse_mask(model, sparse_settings, seed)
    if SPARSE_METHODS[sparse_settings.method].grow is None:
        return train(model, data, train_settings, mask, progress=progress, checkpoint=checkpoint)
    updater = SparseUpdater(sparse_settings, train_settings.iterations, seed)
    return train(model, data, train_settings, mask, progress=progress, checkpoint=checkpoint,
                 mask_update=updater)


def run_sparse(train_settings: TrainSettings, data, sparse: "Sequence[SparseTrainingSettings]",
               seeds: "Iterable[int]", *, store=None, progress: bool | None = None,
               workers: int | None = None) -> dict:
    """Every (sparse settings, seed) run, ``{(sparse settings, seed): Run}``: read from the
    store (kind ``"sparse"``, keyed by the training settings with the seed, the sparse
    settings and the pass that computed it) or trained from the seed's initial weights and
    initial mask (``initial_sparse_mask``), as ``train_sparse`` trains it, and stored (curves
    and final mask; no weights). The runs the store lacks train together as populations
    (``lthlib.engine.passes.stored_members``): static masks as fixed masks, SET and RigL
    through their ``SparseUpdater`` each, the passes spread over ``workers`` processes.
    Each sparse setting's seeds form their own passes, so a run is the same result whichever
    other settings were asked for with it (notebook 08 reads notebook 07's RigL runs)."""
    from lthlib.engine.passes import Pass, plan_passes, stored_members

    store = store if store is not None else Store(None)
    seeds = [int(seed) for seed in seeds]
    keys = [(_check_settings(ss), seed) for ss in sparse for seed in seeds]
    if not keys:
        return {}
    members, entries = [], []
    for ss, seed in keys:
        ts = train_settings.replace(seed=seed)
        model = model_for(ts, data)
        update = SparseUpdater(ss, ts.iterations, seed) if SPARSE_METHODS[ss.method].grow is not None else None
        members.append((model.state_dict(), initial_sparse_mask(model, ss, seed), 0, [], ts, None, update))
        entries.append(("sparse", ts, {"sparse": ss.to_dict()}))
    # each setting's seeds planned on their own, all passes trained in one call (no wait
    # between settings)
    passes = [Pass(tuple(start + i for i in p.members), p.identity)
              for start in range(0, len(members), len(seeds))
              for p in plan_passes(members[start:start + len(seeds)], data)]
    runs = stored_members(store, entries, members, data, progress=progress if len(keys) == 1 else False,
                          workers=workers, passes=passes, keep=lambda i, run, _: run.without_weights())
    return dict(zip(keys, runs))


# --------------------------------------------------------------------------------- cost
def forward_flops(model: nn.Module, input_shape: tuple[int, ...], mask: Mask | None = None) -> dict[str, float]:
    """Multiply-adds of one example's forward pass through each prunable layer (Linear,
    Conv): ``weights x output positions``, times the layer's density under ``mask``
    (sparse kernels skip the zeros). Biases, norms and activations are not counted."""
    params = prunable_parameters(model)
    modules = {f"{n}.weight" if n else "weight": m for n, m in model.named_modules()
               if any(p is getattr(m, "weight", None) for p in params.values())}
    out: dict[str, float] = {}
    hooks = []
    for name, module in modules.items():
        def hook(mod, inputs, output, name=name):
            w = mod.weight
            positions = output.numel() / (output.shape[0] * w.shape[0])
            density = float(mask[name].float().mean()) if mask is not None and name in mask else 1.0
            out[name] = w.numel() * positions * density
        hooks.append(module.register_forward_hook(hook))
    try:
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device))
        model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return out


def training_flops(model: nn.Module, input_shape: tuple[int, ...], iterations: int, batch_size: int,
                   mask: Mask | None = None, settings: SparseTrainingSettings | None = None) -> float:
    """Multiply-adds of training for ``iterations`` steps of ``batch_size`` examples, counted
    as Evci et al. 2020 count training FLOPs (the appendix that details it was not read
    here: docs/fidelity.md): a step costs 3 forward passes (forward,
    gradient of the activations, gradient of the weights) at the mask's density
    (``mask=None``: dense). RigL's update steps compute the dense weight gradient, so each
    costs ``2 f_S + f_D`` instead of ``3 f_S``; SET's and static's cost is ``3 f_S`` per
    step (the update's own cost is negligible). An IMP ticket's cost is the sum of its
    rounds' trainings (each at its round's mask)."""
    f_s = sum(forward_flops(model, input_shape, mask).values())
    total = 3.0 * f_s * iterations * batch_size
    if settings is not None and SPARSE_METHODS[settings.method].needs_gradients:
        f_d = sum(forward_flops(model, input_shape).values())
        updates = len(SparseUpdater(settings, iterations, 0).update_iterations())
        total += (f_d - f_s) * updates * batch_size
    return total


__all__ = ["SPARSE_METHODS", "SparseMethod", "METHODS", "DISTRIBUTIONS", "METHOD_LABELS", "METHOD_COLORS", "SparseTrainingSettings", "run_sparse",
           "initial_sparse_mask", "end_iteration", "drop_fraction_at", "update_mask", "SparseUpdater",
           "train_sparse", "forward_flops", "training_flops"]
