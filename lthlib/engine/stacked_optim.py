"""The optimiser of a population: torch's Adam, AdamW and SGD over stacked ``[K, ...]``
tensors, one step count per member.

Why its own module: it is the one place where the population's update must equal
``torch.optim``'s for each member (``tests/test_population.py``), and it is timed on its
own (``benchmarks/population_speed.py``). Torch's fused Adam kernel over the stacked
tensors measured ~7x faster than the same update written as broadcast tensor operations
(1.5 ms against 10.3 ms at K=32 for the MNIST-1D MLP, docs/population.md), which is why it
calls the fused kernels where the device has them.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from lthlib.engine.fused_optim import ADAM_EPS, fused_adam, fused_sgd
from lthlib.engine.training import lr_at
from lthlib.settings import TrainSettings


def take(t: torch.Tensor, members: slice | list[int]) -> list[torch.Tensor]:
    """The members' part of a stacked tensor: one slice view, or one row view per member."""
    return [t[members]] if isinstance(members, slice) else [t[j] for j in members]


class StackedOptimizer:
    """Adam, AdamW or SGD (torch's formulas: L2 weight decay added to the gradient, AdamW's
    decoupled from it) over stacked tensors, one step count per member.

    Members with the same (lr, weight_decay, momentum, start) form a group that shares
    every scalar of the update; a group of consecutive members is one slice of each stacked
    tensor, otherwise one row per member. ``impl="fused"`` calls torch's fused kernels (the
    ones ``train`` uses) on those tensors; ``"foreach"`` writes torch's update with
    ``torch._foreach`` operations (devices without fused kernels).
    """

    def __init__(self, params: dict[str, torch.Tensor], settings: Sequence[TrainSettings],
                 starts: Sequence[int], impl: str):
        self.params, self.settings, self.starts = params, list(settings), list(starts)
        self.kind, self.impl = settings[0].optimizer, impl
        first = next(iter(params.values()))
        self.steps = torch.zeros(len(settings), dtype=torch.float32, device=first.device)
        self.state: dict[str, dict[str, torch.Tensor]] = {}
        if self.kind in ("adam", "adamw"):
            self.state = {"exp_avg": {n: torch.zeros_like(p) for n, p in params.items()},
                          "exp_avg_sq": {n: torch.zeros_like(p) for n, p in params.items()}}
        elif any(s.momentum for s in settings):
            self.state = {"momentum_buffer": {n: torch.zeros_like(p) for n, p in params.items()}}
        groups: dict[tuple[float, float, float, int], list[int]] = {}
        for j, (s, k) in enumerate(zip(settings, starts)):
            groups.setdefault((s.lr, s.weight_decay, s.momentum, k), []).append(j)
        self.groups = list(groups.values())
        self.active: list[list[tuple[TrainSettings, int, slice | list[int], dict[str, list[torch.Tensor]]]]] = []
        self.chunks: list[tuple[int, int]] = []
        self.n = 0

    def activate(self, n: int, chunks: Sequence[tuple[int, int]] | None = None) -> None:
        """Prepare the tensor lists of the first ``n`` members (the active ones), stepped in
        ``chunks`` (consecutive member ranges ``[lo, hi)`` covering ``0..n``; default one)."""
        self.n, self.active = n, []
        self.chunks = [(0, n)] if chunks is None else [(int(lo), int(hi)) for lo, hi in chunks]
        for lo, hi in self.chunks:
            entries = []
            for group in self.groups:
                members = [j for j in group if lo <= j < hi]  # a group shares its start: all wait or none
                if not members:
                    continue
                contiguous = members == list(range(members[0], members[-1] + 1))
                sel: slice | list[int] = slice(members[0], members[-1] + 1) if contiguous else members
                rel: slice | list[int] = (slice(members[0] - lo, members[-1] + 1 - lo) if contiguous
                                          else [j - lo for j in members])  # rows of the chunk's gradients
                lists = {k: [t for name in self.params for t in take(self.state[k][name], sel)]
                         for k in self.state}
                lists["params"] = [t for name in self.params for t in take(self.params[name], sel)]
                lists["steps"] = [self.steps[members[0]]] * len(lists["params"])
                entries.append((self.settings[members[0]], self.starts[members[0]], rel, lists))
            self.active.append(entries)

    @torch.no_grad()
    def step(self, t: int, grads: Sequence[torch.Tensor], chunk: int = 0) -> None:
        """The step from iteration ``t`` to ``t + 1`` of the active members of chunk ``chunk``,
        whose gradients ``grads`` (one ``[hi - lo, ...]`` tensor per parameter, in order) are."""
        lo, hi = self.chunks[chunk]
        self.steps[lo:hi] += 1
        for settings, start, rel, lists in self.active[chunk]:
            g = [x for grad in grads for x in take(grad, rel)]
            lr = lr_at(settings, t)
            if self.kind in ("adam", "adamw"):
                self._adam(lists, g, lr, settings.weight_decay, t - start + 1, settings.betas)
            else:
                self._sgd(lists, g, lr, settings.weight_decay, settings.momentum)

    def _adam(self, lists: dict[str, list[torch.Tensor]], g: list[torch.Tensor], lr: float,
              wd: float, step: int, betas: tuple[float, float]) -> None:
        (beta1, beta2), eps = betas, ADAM_EPS
        p, m, v = lists["params"], lists["exp_avg"], lists["exp_avg_sq"]
        decoupled = self.kind == "adamw"
        if self.impl == "fused":
            fused_adam(self.kind, p, g, m, v, lists["steps"], lr=lr, betas=betas, weight_decay=wd)
            return
        if wd and decoupled:  # AdamW: w <- w (1 - lr wd), then the Adam step
            torch._foreach_mul_(p, 1 - lr * wd)
        elif wd:
            g = torch._foreach_add(g, p, alpha=wd)
        torch._foreach_lerp_(m, g, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, g, g, 1 - beta2)
        step_size = (lr / (1 - beta1 ** step)) * -1
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, (1 - beta2 ** step) ** 0.5)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(p, m, denom, step_size)

    def _sgd(self, lists: dict[str, list[torch.Tensor]], g: list[torch.Tensor], lr: float,
             wd: float, momentum: float) -> None:
        # Momentum buffers start at zero: 0 * momentum + g is exactly torch's first-step clone.
        p = lists["params"]
        bufs = lists["momentum_buffer"] if momentum else []
        if self.impl == "fused":
            fused_sgd(p, g, bufs, lr=lr, weight_decay=wd, momentum=momentum, first_step=False)
            return
        if wd:
            g = torch._foreach_add(g, p, alpha=wd)
        if momentum:
            torch._foreach_mul_(bufs, momentum)
            torch._foreach_add_(bufs, g, alpha=1.0)
            g = bufs
        torch._foreach_add_(p, g, alpha=-lr)

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, **self.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        with torch.no_grad():
            self.steps.copy_(state["steps"])
            for k, tensors in self.state.items():
                for name, t in tensors.items():
                    t.copy_(state[k][name])


def optimizer_impl(device: torch.device) -> str:
    """``"fused"`` where torch has fused Adam/SGD kernels (CPU, CUDA; as ``make_optimizer``),
    else ``"foreach"``."""
    return "fused" if device.type in ("cpu", "cuda") else "foreach"
