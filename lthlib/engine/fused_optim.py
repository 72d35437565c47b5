"""The optimiser of one network in ``train``: torch's fused Adam, AdamW and SGD kernels
called as ``torch.optim``'s fused path calls them, with ``torch.optim``'s state layout.

Why not ``torch.optim`` itself: every ``torch.optim.Optimizer`` imports ``torch._dynamo``
the first time it is built (its methods are wrapped in ``torch._disable_dynamo``), about
1 s of CPU in each fresh process: every notebook kernel, worker process, Ray task and
autograded assignment that trains. The update is the same kernel with the same arguments
(``torch.optim.Adam(fused=True)`` calls ``torch._fused_adam_`` after adding 1 to each
parameter's step tensor), so the numbers are torch's bit for bit
(``tests/test_fused_optim.py`` steps both side by side). Devices without fused kernels (MPS)
keep ``torch.optim``'s foreach implementation (``training.make_optimizer``).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch

KINDS = ("adam", "adamw", "sgd")
ADAM_EPS = 1e-8  # torch.optim.Adam's and AdamW's default, which train uses


class FusedOptimizer:
    """Adam, AdamW (decoupled weight decay) or SGD with momentum over one model's
    parameters, as ``torch.optim``'s ``fused=True`` classes compute them.

    Like ``torch.optim``: ``param_groups[0]["lr"]`` is the learning rate of the next
    ``step()``; ``state[p]`` holds a parameter's buffers (``step``, ``exp_avg``,
    ``exp_avg_sq``; or ``momentum_buffer``), made at its first step with a gradient;
    ``state_dict()`` is ``torch.optim``'s layout, so either loads the other's.
    """

    def __init__(self, params: Iterable[torch.Tensor], kind: str, *, lr: float,
                 betas: tuple[float, float] = (0.9, 0.999), weight_decay: float = 0.0,
                 momentum: float = 0.0):
        if kind not in KINDS:
            raise ValueError(f"optimizer={kind!r}: the fused optimiser knows {', '.join(KINDS)}")
        self.kind = kind
        self.params = list(params)
        group: dict[str, Any] = {"lr": float(lr), "weight_decay": float(weight_decay)}
        if kind == "sgd":
            group.update(momentum=float(momentum), dampening=0.0, nesterov=False)
        else:
            group.update(betas=tuple(float(b) for b in betas), eps=ADAM_EPS, amsgrad=False,
                         decoupled_weight_decay=kind == "adamw")
        # the rest of torch.optim's group, so that its optimisers load this one's state as fused
        group.update(maximize=False, foreach=None, differentiable=False, fused=True)
        if kind != "sgd":
            group["capturable"] = False
        self.defaults = dict(group)
        self.param_groups = [{**group, "params": self.params}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient (``torch.optim`` skips the others)."""
        group = self.param_groups[0]
        params = [p for p in self.params if p.grad is not None]
        if not params:
            return
        grads = [p.grad for p in params]
        if self.kind == "sgd":
            self._sgd(group, params, grads)
        else:
            self._adam(group, params, grads)

    def _adam(self, group: Mapping[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        for p in params:
            if p not in self.state:
                self.state[p] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                 "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                 "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        for ps, gs in _by_device_and_dtype(params, grads):
            steps = [self.state[p]["step"] for p in ps]
            torch._foreach_add_(steps, 1)
            fused_adam(self.kind, ps, gs, [self.state[p]["exp_avg"] for p in ps],
                       [self.state[p]["exp_avg_sq"] for p in ps], steps, lr=group["lr"], betas=group["betas"],
                       weight_decay=group["weight_decay"])

    def _sgd(self, group: Mapping[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        momentum = group["momentum"]
        first = momentum != 0 and all(p not in self.state for p in params)
        if momentum:
            # The first step fills the buffers with the gradient (torch's is_first_step). A
            # parameter whose first gradient comes later (torch's fused SGD then fails) gets a
            # zero buffer: momentum * 0 + gradient is the same buffer.
            new = torch.empty_like if first else torch.zeros_like
            for p, g in zip(params, grads):
                self.state.setdefault(p, {}).setdefault("momentum_buffer", new(g))
        for ps, gs in _by_device_and_dtype(params, grads):
            bufs = [self.state[p]["momentum_buffer"] for p in ps] if momentum else []
            fused_sgd(ps, gs, bufs, lr=group["lr"], weight_decay=group["weight_decay"], momentum=momentum,
                      first_step=first)

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim``'s layout: per-parameter buffers by the parameter's index."""
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {"state": {i: dict(self.state[p]) for i, p in enumerate(self.params) if p in self.state},
                "param_groups": [{**group, "params": list(range(len(self.params)))}]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Buffers from ``state_dict()`` (this class's or ``torch.optim``'s, same parameters)."""
        saved = state["state"]
        if len(state["param_groups"]) != 1 or len(state["param_groups"][0]["params"]) != len(self.params):
            raise ValueError("the optimiser state is of other parameters")
        self.param_groups[0]["lr"] = float(state["param_groups"][0]["lr"])
        self.state = {}
        for i, p in enumerate(self.params):
            if i in saved:
                self.state[p] = {k: (v.to(device=p.device, dtype=torch.float32 if k == "step" else p.dtype).clone()
                                     if isinstance(v, torch.Tensor) else v)
                                 for k, v in saved[i].items()}


def fused_adam(kind: str, params: list[torch.Tensor], grads: list[torch.Tensor], exp_avgs: list[torch.Tensor],
               exp_avg_sqs: list[torch.Tensor], steps: list[torch.Tensor], *, lr: float,
               betas: tuple[float, float], weight_decay: float) -> None:
    """torch's fused Adam (``kind="adam"``: L2 weight decay added to the gradient) or AdamW
    (decoupled) kernel, with the arguments ``torch.optim``'s fused path passes; ``steps``
    already advanced to this step's count. Also the population's update
    (``lthlib.engine.stacked_optim``), over stacked tensors."""
    fused = torch._fused_adamw_ if kind == "adamw" else torch._fused_adam_
    fused(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=lr, beta1=betas[0],
          beta2=betas[1], weight_decay=weight_decay, eps=ADAM_EPS, maximize=False, grad_scale=None,
          found_inf=None)


def fused_sgd(params: list[torch.Tensor], grads: list[torch.Tensor], bufs: list[torch.Tensor], *, lr: float,
              weight_decay: float, momentum: float, first_step: bool) -> None:
    """torch's fused SGD kernel (no dampening, no Nesterov), as ``torch.optim.SGD(fused=True)``
    calls it; ``bufs`` empty without momentum, and filled with the gradient where
    ``first_step``."""
    torch._fused_sgd_(params, grads, bufs, weight_decay=weight_decay, momentum=momentum, lr=lr, dampening=0.0,
                      nesterov=False, maximize=False, is_first_step=first_step, grad_scale=None,
                      found_inf=None)


def _by_device_and_dtype(params: list[torch.Tensor],
                         grads: list[torch.Tensor]) -> list[tuple[list[torch.Tensor], list[torch.Tensor]]]:
    """The parameters and gradients split by (device, dtype), in order: one kernel call each,
    as ``torch.optim``'s fused path groups them."""
    groups: dict[tuple[torch.device, torch.dtype], tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
    for p, g in zip(params, grads):
        ps, gs = groups.setdefault((p.device, p.dtype), ([], []))
        ps.append(p)
        gs.append(g)
    return list(groups.values())
