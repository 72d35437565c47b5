"""K networks of one architecture trained in one batched pass; each member gets the ``Run``
that ``lthlib.engine.training.train`` would give it alone.

Why: almost every experiment here trains many small, independent networks (seeds x
ticket/controls per IMP round, LMC children, supermask criteria). One MNIST-1D MLP step
is mostly per-operation overhead, so K members stacked into one set of larger operations
cost far less than K separate steps, on a CPU and more so on a GPU.

How (the stacked network itself -- which models stack, their forward -- is
``lthlib.engine.stacked``; the optimiser over stacked tensors ``lthlib.engine.stacked_optim``):

- Parameters. Each parameter name holds one tensor ``[K, *shape]`` (members along a new
  leading dimension). Linear weights are stored transposed, ``[K, in, out]``, so the
  forward is one ``torch.baddbmm``; convolutions put the members along the channels
  (``[batch, K*channels, ...]``) and run as one grouped convolution (``groups=K``); ReLU
  and max pooling act per channel and need nothing. In evaluation every member sees the
  same examples, so the first layer is a plain matmul / convolution with the K weight
  matrices side by side.
- Gradients. The linear tail (all of an MLP; a conv net's classifier after the flatten)
  is differentiated by hand, not by autograd: the loss gradient is ``(softmax - onehot) /
  B``, ReLU's passes where its output is positive, and each product is one ``bmm`` in the
  layout that measured fastest (the output layer computes its logits transposed, ``[K,
  classes, batch]``: with 10 classes the products with the class dimension outermost ran
  ~3x faster). A 1-D convolutional head is im2col + ``bmm``, by hand too
  (``lthlib.engine.stacked_conv``); other heads go through autograd, seeded with the tail's
  input gradient. Same formulas as autograd's, so the same numbers to float rounding.
- Chunks. On a CPU a population whose weights, gradients, optimiser state and activations
  exceed ``CHUNK_BYTES`` is stepped in near-equal chunks of members, one after another
  (forward, backward and optimiser per chunk), so a chunk's data stay in the cache.
- Data. Each member has its own minibatch order and augmentation draws (its own
  ``data_order_seed``): the batch indices are ``[K, batch]`` rows of the members' epoch
  orders, gathered from the in-memory training tensor on the device.
- Optimiser. The step is torch's fused Adam / SGD kernel -- the one ``train`` uses
  (``make_optimizer``) -- over the per-member rows of the stacked tensors, one call per
  group of members with the same (lr, weight_decay, momentum); each member has its own
  step count (its own start iteration). Devices without fused kernels (MPS) use the
  hand-written ``torch._foreach`` formulas of torch's Adam / SGD. Both match
  ``torch.optim`` for one member (``tests/test_population.py``).
- Masks. As in ``train``: masked gradients are zeroed before the step (Adam moments and
  weight decay never see them), and masked weights are exactly 0.0 after every step: not
  multiplied by the mask after each step as in ``train``, but once, at the start (a weight
  at 0.0 with zero gradient and state stays 0.0 under Adam, AdamW and SGD; a mask update
  zeroes what it flips). A member's ``mask_update`` (SET, RigL) runs after the steps
  ``train`` runs it after, on the member's weights and dense gradients.
- Edge-popup supermasks (``Supermask``): the frozen weights are stacked as above and the
  scores train; the forward multiplies each weight by ``Supermask.forward``'s mask (the
  top-k of |score| per member and layer, from the last step's thresholds: ``warm_topk``),
  the gradient passes straight through to |score|.
- Start iterations (rewinding). One shared clock: the population's iteration ``t`` is
  every member's iteration. A member that starts at ``k`` sits idle until ``t == k`` and
  then trains from ``k`` to the end with the learning rate, data order and Adam step
  count ``train(start_iteration=k)`` uses. Members are kept sorted by start, so the active
  ones are a leading slice of the stacked tensors (views, no copies).
- No host round trips in the step loop: learning rates are Python floats computed from
  the settings; the host reads numbers at evaluations (as ``train`` does), where weights
  are saved, at mask updates and (CPU only) in edge-popup's ``warm_topk`` check.

Measured (docs/population.md): stacked tensors beat ``torch.func`` (``vmap`` + ``grad``) at
every K (MNIST-1D MLP step, K=1: 0.47 against 1.33 ms; K=32: 6.64 against 7.84).

Architectures: ``can_batch`` explains the rule; anything else (BatchNorm nets, user
models, mixed architectures) falls back to ``train`` per member, as does a single member
(``train`` itself is then bitwise the reference) unless ``batched=True``.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from lthlib.core import profile
from lthlib.core.progress import progress_bar
from lthlib.core.store import CheckpointClock, atomic_save, load_or_set_aside
from lthlib.core.threads import with_fixed_threads
from lthlib.data.datasets import Dataset
from lthlib.masks import Mask
from lthlib.methods.supermask import Supermask
from lthlib.engine.stacked import (AUGMENT_PADDING, Layer, Plan, augment_stacked, batch_problem, evaluate_stacked,
                                  forward, plan_of, settings_problem)
from lthlib.engine.members import (check_checkpoint, checkpoint_key, edge_popup_problem, per_member, save_lists,
                                   train_each)
from lthlib.engine.stacked_conv import hand_head, head_backward, head_forward, head_input
from lthlib.engine.stacked_optim import StackedOptimizer, optimizer_impl
from lthlib.engine.warm_topk import WarmTopK
from lthlib.engine.run import METRICS
from lthlib.engine.early_stop import EarlyStopWeights, late_members, test_every_time
from lthlib.engine.training import (Run, augmentation_generator, check_not_diverged, epoch_order, evaluated_splits,
                                    mask_change, watched_split)
from lthlib.settings import TrainSettings

# On a CPU, members stepped together (forward, backward, optimiser) hold at most about this
# many bytes of weights, gradients, optimiser state and activations (3/4 of the machine's
# 32 MiB last-level cache); a larger population is stepped in near-equal chunks, one after
# another, whose data stay in the cache from the forward to the optimiser. Measured
# (docs/population.md): K=32 MLP / CNN members in 2 chunks of 16 cost 0.6-0.7x the per-model
# time of one chunk of 32, chunks of 8 more than 16. Other devices step all at once. The
# chunks are part of what a member computes (the fused optimisers round a tensor's last
# partial vector otherwise): a change to this or ``member_bytes`` must re-key the passes.
CHUNK_BYTES = 24 << 20


class _Population:
    """The batched run. Members are held in order of start iteration (``self.order[j]`` is
    the caller's index of internal member ``j``)."""

    def __init__(self, models: list[nn.Module], data: Dataset, settings: list[TrainSettings],
                 masks: list[Mask | None], save_at: list[list[int]], starts: list[int],
                 checkpoint: Path | None, progress: bool | None, impl: str | None = None,
                 mask_updates: list[Any] | None = None):
        # edge-popup supermasks (``members.edge_popup_problem``): the base networks' weights
        # are frozen and every member's scores train; None: the weights themselves train
        self.popup_density = models[0].density if isinstance(models[0], Supermask) else None
        bases = [m.base for m in models] if self.popup_density is not None else models
        plan = plan_of(bases[0], frozen=self.popup_density is not None)
        assert isinstance(plan, Plan)
        self.plan, self.device = plan, plan.device
        self.data = data.to(self.device)
        self.order = sorted(range(len(models)), key=lambda i: (starts[i], i))
        self.models = [models[i] for i in self.order]
        self.settings = [settings[i] for i in self.order]
        self.masks = [masks[i] for i in self.order]
        # dynamic sparse training (``train``'s ``mask_update``): each member's updater and
        # its current mask
        self.updaters = [(mask_updates or [None] * len(models))[i] for i in self.order]
        self.current: list[Mask | None] = list(self.masks)
        self.dynamic = [j for j, u in enumerate(self.updaters) if u is not None]  # members with one
        self.save_at = [set(save_at[i]) for i in self.order]
        self.starts = [starts[i] for i in self.order]
        self.caller_masks, self.caller_settings, self.caller_starts = masks, settings, starts
        self.caller_save_at = save_at
        self.checkpoint, self.progress = checkpoint, progress
        self.s0 = self.settings[0]
        self.transposed = plan.linear_weights
        self.conv_first = plan.conv_first
        self.hand_head = hand_head(plan)  # a 1-D conv head as im2col + bmm (lthlib.engine.stacked_conv)

        with torch.no_grad():
            self.params = {name: torch.stack([self._stored(name, dict(m.named_parameters())[name])
                                              for m in (bases[i] for i in self.order)]).contiguous()
                           for name, _ in plan.shapes}
            # a supermask's scores, one per prunable weight, in the weights' layout
            self.scores = {} if self.popup_density is None else {
                name: torch.stack([self._stored(name, m.scores[name.replace(".", "__")])
                                   for m in self.models]).contiguous() for name in self.models[0]._names}
            self.popup_top = WarmTopK(len(self.models))
            names = sorted({n for mask in self.masks if mask is not None for n in mask})
            self.mask = {n: torch.stack([
                self._stored(n, mask[n].to(self.device, self.params[n].dtype)) if mask is not None
                and n in mask else torch.ones(self.params[n].shape[1:], dtype=self.params[n].dtype,
                                              device=self.device)
                for mask in self.masks]).contiguous() for n in names}
            for n, m in self.mask.items():
                self.params[n].mul_(m)
        self.trained = self.scores if self.popup_density is not None else self.params
        self.opt = StackedOptimizer(self.trained, self.settings, self.starts,
                                    impl or optimizer_impl(self.device))
        self.runs = [Run(settings=s.to_dict(), start_iteration=k,
                         mask=m.state_dict() if m is not None else None)
                     for s, k, m in zip(self.settings, self.starts, self.masks)]
        self.n_active = 0
        self._epoch, self._orders = -1, torch.empty(0)
        self.every_test = test_every_time(self.s0, self.data)
        self.early = EarlyStopWeights()  # test_curve=False: the weights of the lowest validation loss so far
        self.tail_start = plan.tail_start
        tail_names = {f"{l.name}.{p}" for l in plan.layers[self.tail_start:] if l.kind == "linear"
                      for p in ("weight", "bias")}
        self.head_params = [name for name in self.params if name not in tail_names]
        sizes = self._activation_sizes()
        self.widest = max(sizes)
        self.member_bytes = self.params[next(iter(self.params))].element_size() * (
            sum(p[0].numel() for p in self.params.values()) * (2 + len(self.opt.state))
            + self.s0.batch_size * 2 * sum(sizes))
        self.chunk_members = max(1, CHUNK_BYTES // self.member_bytes) if self.device.type == "cpu" else len(models)

    @torch.no_grad()
    def _activation_sizes(self) -> list[int]:
        """Numbers per example in each layer output of one member (the widest sizes the
        evaluation chunks; all of them, the training chunks)."""
        sizes: list[int] = []
        one = {name: p[:1] for name, p in self.params.items()}
        forward(self.plan, one, self.data.x_train[:1], 1, shared=True, sizes=sizes)
        return sizes

    # -- layout
    def _stored(self, name: str, t: torch.Tensor) -> torch.Tensor:
        """A parameter (or mask) as stored: linear weights transposed to ``[in, out]``."""
        return t.detach().t() if name in self.transposed else t.detach()

    def member_state(self, j: int) -> dict[str, torch.Tensor]:
        """Member ``j``'s state as a CPU state dict (``train``'s ``cpu_state``): its weights,
        or a supermask's frozen weights (``base.*``) and scores (``scores.*``)."""
        def cpu(name: str, t: torch.Tensor) -> torch.Tensor:
            t = t.t() if name in self.transposed else t
            return t.detach().to("cpu", memory_format=torch.contiguous_format, copy=True)

        if self.popup_density is None:
            return {name: cpu(name, self.params[name][j]) for name, _ in self.plan.shapes}
        return {**{f"base.{name}": cpu(name, self.params[name][j]) for name, _ in self.plan.shapes},
                **{f"scores.{name.replace('.', '__')}": cpu(name, s[j]) for name, s in self.scores.items()}}

    def _member_params(self, lo: int, hi: int) -> dict[str, torch.Tensor]:
        """Members ``lo..hi-1``'s weights as their forward uses them: a supermask's frozen
        weights times its hard mask (the top ``density`` of each layer's |score|)."""
        params = {name: p[lo:hi] for name, p in self.params.items()}
        for name, score in self.scores.items():
            params[name] = params[name] * self._popup_mask(name, score[lo:hi], lo)
        return params

    def _popup_mask(self, name: str, score: torch.Tensor, lo: int) -> torch.Tensor:
        """What ``Supermask.forward`` multiplies a weight by, per member (``score``: ``[n,
        *shape]``, members ``lo..``): the hard edge-popup mask (the top ``density`` of |score|,
        as ``edge_popup_mask``, by ``warm_topk``) plus |score| minus |score|: the same numbers."""
        soft = score.abs()
        flat = soft.reshape(len(score), -1)
        hard = self.popup_top(name, flat, max(1, int(self.popup_density * flat.shape[1] + 0.5)), lo)
        return hard.view_as(score).add_(soft).sub_(soft)

    def _activate(self, n: int) -> None:
        """Make the first ``n`` members the trained ones, stepped in chunks of at most
        ``chunk_members`` (near-equal consecutive ranges)."""
        self.n_active = n
        count = math.ceil(n / self.chunk_members)
        bounds = [n * i // count for i in range(count + 1)]
        self.chunks = list(zip(bounds[:-1], bounds[1:]))
        names = list(self.params)
        self.masked_index = [names.index(k) for k in self.mask]
        self.chunk_masks = [[m[lo:hi] for m in self.mask.values()] for lo, hi in self.chunks]
        self.opt.activate(n, self.chunks)

    # -- one step
    def _orders_for(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            cpu = torch.device("cpu")
            self._orders = torch.stack([epoch_order(len(self.data.y_train), s.order_seed, epoch, cpu)
                                        for s in self.settings]).to(self.device, non_blocking=True)
            self._epoch = epoch
        return self._orders

    def _batch(self, t: int, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Members ``lo..hi-1``'s minibatches of iteration ``t`` (inputs in the first layer's
        layout, labels ``[n, B]``): one ``index_select`` from the training tensors."""
        bs, n = self.s0.batch_size, hi - lo
        epoch, offset = divmod(t, len(self.data.y_train) // bs)
        idx = self._orders_for(epoch)[lo:hi, offset * bs:(offset + 1) * bs]  # [n, B]
        x_train, y_train = self.data.x_train, self.data.y_train
        conv_first = self.conv_first and not self.hand_head  # [B, n * channels, ...]: a grouped conv's input
        rows = (idx.t() if conv_first else idx).reshape(-1)
        xb = x_train.index_select(0, rows)  # [B * n, *in] or [n * B, *in]
        if self.s0.augment:
            draws = []
            for s in self.settings[lo:hi]:
                g = augmentation_generator(s.order_seed, t)
                span = 2 * AUGMENT_PADDING + 1
                draws.append((torch.randint(0, span, (bs,), generator=g),
                              torch.randint(0, span, (bs,), generator=g),
                              torch.rand(bs, generator=g) < 0.5))
            dy, dx, flip = (torch.stack(d) for d in zip(*draws))  # [n, B] each
            if conv_first:
                dy, dx, flip = dy.t(), dx.t(), flip.t()
            # non_blocking: a copy from the host must not wait for the device's queue
            dy, dx, flip = (d.reshape(-1).to(self.device, non_blocking=True) for d in (dy, dx, flip))
            xb = augment_stacked(xb, dy, dx, flip)
        if conv_first:
            channels = 1 if self.plan.input_kind == "channel1" else xb.shape[1]
            xb = xb.reshape(bs, n * channels, *((-1,) if self.plan.input_kind == "channel1"
                                                else xb.shape[2:]))
        else:
            xb = head_input(xb, n, bs) if self.hand_head else xb.reshape(n, bs, -1)
        return xb, y_train.index_select(0, idx.reshape(-1)).view(n, bs)

    def _step(self, t: int) -> None:
        due = [j for j in self.dynamic if j < self.n_active and self._due(j, t + 1)]
        dense: dict[int, dict[str, torch.Tensor]] = {}
        for c, (lo, hi) in enumerate(self.chunks):
            xb, yb = self._batch(t, lo, hi)
            grads = self._gradients(lo, hi, xb, yb, self._member_params(lo, hi))
            for j in (j for j in due if lo <= j < hi and getattr(self.updaters[j], "needs_gradients", True)):
                dense[j] = {n: self._model_layout(n, grads[i][j - lo]).clone()  # before the masking
                            for n, i in zip(self.mask, self.masked_index)}
            if self.scores:  # straight through the mask to |score|: d/dscore = g * weight * sign
                by_name = dict(zip(self.params, grads))
                grads = [by_name[name].mul_(self.params[name][lo:hi]).mul_(score[lo:hi].sign())
                         for name, score in self.scores.items()]
            with torch.no_grad():
                masks = self.chunk_masks[c]
                if masks:
                    torch._foreach_mul_([grads[i] for i in self.masked_index], masks)
                self.opt.step(t, grads, c)
        for j in due:
            self._update_mask(j, t + 1, dense.get(j))

    def _due(self, j: int, iteration: int) -> bool:
        return bool(getattr(self.updaters[j], "due", lambda it: True)(iteration))

    def _model_layout(self, name: str, t: torch.Tensor) -> torch.Tensor:
        """One member's tensor in the model's layout (a view: linear weights transposed back)."""
        return t.t() if name in self.transposed else t

    @torch.no_grad()
    def _update_mask(self, j: int, iteration: int, grads: dict[str, torch.Tensor] | None) -> None:
        """``train``'s mask update after the step that makes ``iteration``: the member's
        updater sees its model (its current weights) and mask and, if it asks, the dense
        gradients of the step; dropped and grown weights become 0 and their optimiser state
        is reset to 0, as ``train``'s ``_change_mask`` does."""
        model, old = self.models[j], self.current[j]
        params = dict(model.named_parameters())
        for name in self.params:
            params[name].copy_(self._model_layout(name, self.params[name][j]))
        new = self.updaters[j](iteration, model, old, grads)
        if new is None:
            return
        record, changed = mask_change(list(self.mask), old, new, iteration)
        for name, flipped in changed.items():
            flipped = self._stored(name, flipped.to(self.device))
            self.mask[name][j].copy_(self._stored(name, new[name].to(self.device)))
            for t in [self.params[name][j], *(buffers[name][j] for buffers in self.opt.state.values())]:
                t.masked_fill_(flipped, 0.0)
        self.runs[j].mask_updates.append(record)
        self.current[j] = new

    def _gradients(self, lo: int, hi: int, xb: torch.Tensor, yb: torch.Tensor,
                   params: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Each member's gradient of its own batch-mean cross-entropy, ``[hi - lo, ...]`` per
        parameter in order, for members ``lo..hi-1`` (``params``: their weights, as
        ``_member_params`` gives them).

        The linear tail (the MLP, a conv net's classifier) is differentiated by hand: the
        loss gradient is ``(softmax - onehot) / B``, ReLU's passes where its output is
        positive, and each product is the ``bmm`` of the layout measured fastest (the output
        layer computes its logits transposed, ``[n, classes, B]``: with few classes, the
        products with the class dimension outermost run ~3x faster). A convolutional head:
        ``stacked_conv`` by hand where it can, else autograd with the tail's input gradient
        (made contiguous: the fused optimisers read a gradient's memory in its weight's order)."""
        n, bs = hi - lo, self.s0.batch_size
        tail = self.plan.layers[self.tail_start:]
        grads: dict[str, torch.Tensor] = {}
        leaves: dict[str, torch.Tensor] = {}
        if self.hand_head:
            h, head_tape = head_forward(self.plan.layers[:self.tail_start], params, xb)
        elif self.tail_start:
            leaves = {name: params[name].detach().requires_grad_() for name in self.head_params}
            with torch.enable_grad():
                head_out = forward(self.plan, leaves, xb, n, shared=False, layers=self.plan.layers[:self.tail_start])
            h = head_out.detach()
        else:
            h = xb
        with torch.no_grad():
            tape: list[tuple[Layer, torch.Tensor]] = []  # (linear, its input) or (relu, its output)
            last = len(tail) - 1
            for i, layer in enumerate(tail):
                if layer.kind == "relu":
                    h = h.relu_()  # a linear layer's fresh output
                    tape.append((layer, h))
                    continue
                w = params[f"{layer.name}.weight"]  # [n, in, out]
                b = params[f"{layer.name}.bias"] if layer.bias else None
                tape.append((layer, h))
                if i == last:  # logits transposed: [n, out, B] = W^T h^T
                    wt, ht = w.transpose(1, 2), h.transpose(1, 2)
                    h = torch.bmm(wt, ht) if b is None else torch.baddbmm(b.unsqueeze(2), wt, ht)
                else:
                    h = torch.bmm(h, w) if b is None else torch.baddbmm(b.unsqueeze(1), h, w)
            # d(sum over the batch of cross-entropy / B) / d logits = (softmax - onehot) / B
            g = torch.softmax(h, 1)
            target = yb.unsqueeze(1)
            g.scatter_(1, target, g.gather(1, target) - 1)
            g.mul_(1.0 / bs)
            transposed = True  # g is [n, out, B] until the output layer is done
            for i in range(last, -1, -1):
                layer, saved = tape[i]
                if layer.kind == "relu":
                    g = torch.ops.aten.threshold_backward(g, saved, 0)
                    continue
                w = params[f"{layer.name}.weight"]
                if transposed:
                    grads[f"{layer.name}.weight"] = torch.bmm(g, saved).transpose(1, 2).contiguous()
                    if layer.bias:
                        grads[f"{layer.name}.bias"] = g.sum(2)
                    g, transposed = g.transpose(1, 2), False
                else:
                    grads[f"{layer.name}.weight"] = torch.bmm(saved.transpose(1, 2), g)
                    if layer.bias:
                        grads[f"{layer.name}.bias"] = g.sum(1)
                if i or self.tail_start:  # the input gradient (none for the network's input)
                    g = torch.bmm(g, w.transpose(1, 2))
        if self.hand_head:
            grads.update(head_backward(head_tape, g))
        elif self.tail_start:
            grads.update(zip(leaves, (d.contiguous() for d in torch.autograd.grad(head_out, list(leaves.values()), g))))
        return [grads[name] for name in self.params]

    # -- evaluation
    @property
    def evaluation_sizes(self) -> list[int]:
        """How many examples of each split the last ``_evaluate`` measured (for the profile)."""
        return [len(y) for _, _, y in self._splits]

    @profile.population_evaluation
    @torch.no_grad()
    def _evaluate(self, lo: int, hi: int, test: bool = True, only_test: bool = False) -> list[list[float]]:
        """Per member ``lo..hi-1``: train/val/test loss and accuracy as ``evaluate`` gives
        (``test`` False: NaN for the test set; ``only_test``: NaN for the others).

        Every member sees the same examples. MLP members are evaluated together (``bmm``);
        conv nets one at a time: on evaluation-sized chunks one ungrouped convolution per
        member was faster (1-D CNN: 23-35 ms grouped against ~25 ms per member and evaluation).
        """
        splits = evaluated_splits(self.settings[0], self.data, test)  # eval_train is shared
        self._splits = [(n, x[:0], y[:0]) if only_test and n != "test" else (n, x, y) for n, x, y in splits]
        per_pass = 1 if any(layer.kind == "conv" for layer in self.plan.layers) else hi - lo
        rows = torch.cat([evaluate_stacked(self.plan, self._member_params(a, min(a + per_pass, hi)), self._splits,
                                           min(a + per_pass, hi) - a, self.widest) for a in range(lo, hi, per_pass)])
        return rows.tolist()  # the one host read of an evaluation

    def _record(self, t: int, regular: bool) -> None:
        """Evaluate (and save the weights of) the members that ``train`` would at ``t``."""
        n_before = sum(k < t for k in self.starts)  # members that have trained up to t
        n_now = sum(k <= t for k in self.starts)
        lo = 0 if regular and n_before else n_before
        for j in range(n_now):
            if t in self.save_at[j] and t not in self.runs[j].weights_at:
                self.runs[j].weights_at[t] = self.member_state(j)
        if lo == n_now:
            return
        last = t == self.s0.iterations
        for j, values in zip(range(lo, n_now), self._evaluate(lo, n_now, self.every_test or last)):
            run = self.runs[j]
            run.iterations.append(t)
            for name, value in zip(METRICS, values):
                getattr(run, name).append(value)
        watched = watched_split(self.settings[0], self.data)
        for j in sorted(range(lo, n_now), key=lambda j: self.order[j]):
            check_not_diverged(getattr(self.runs[j], f"{watched}_loss")[-1], t, self.settings[j],
                               self.data.num_classes, who=f"member {self.order[j]}", split=watched)
        if not (self.every_test or last):
            self.early.keep(self.runs, range(lo, n_now), self.trained)

    def _test_at_early_stop(self) -> None:
        """The test set at each member's early-stopping evaluation, on the weights kept there
        (they stand in for the trained ones: a supermask's scores, else the weights)."""
        late, kept = late_members(self.runs), (self.scores, self.params)
        if late:
            self.scores, self.params = (self.early.tensors, self.params) if self.scores else (self.scores, self.early.tensors)
            try:
                rows = self._evaluate(0, len(self.runs), only_test=True)
            finally:
                self.scores, self.params = kept
        for j, i in ((j, self.runs[j].early_stop_index) for j in late):
            self.runs[j].test_loss[i], self.runs[j].test_acc[i] = rows[j][4], rows[j][5]

    # -- checkpoints
    def _key(self) -> dict[str, Any]:
        return checkpoint_key("batched", self.caller_settings, self.caller_masks,
                              self.caller_starts, self.caller_save_at, self.popup_density,
                              [u is not None for u in self.updaters] if self.dynamic else None)

    def _save(self, t: int, seconds: float) -> None:
        runs = [None] * len(self.runs)
        for j, run in enumerate(self.runs):
            run.seconds = seconds
            runs[self.order[j]] = run.to_dict()
        current = {"current_masks": self.mask} if self.dynamic else {}
        atomic_save({**self._key(), **current, "iteration": t, "params": self.params, "scores": self.scores,
                     "early": self.early.tensors, "optimizer": self.opt.state_dict(), "runs": runs}, self.checkpoint)

    def _resume(self) -> int | None:
        state = load_or_set_aside(self.checkpoint)
        if state is None:  # damaged: set aside with a warning, start from the beginning
            return None
        check_checkpoint(state, self._key(), self.checkpoint)
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(state["params"][name])
            for name, p in self.scores.items():
                p.copy_(state["scores"][name])
            for name, m in self.mask.items() if self.dynamic else ():
                m.copy_(state["current_masks"][name])
            early = state.get("early")
            self.early.tensors = None if early is None else {n: w.to(self.device) for n, w in early.items()}
        if self.dynamic:  # the masks current at the checkpoint, in the model's layout
            self.current = [
                Mask({n: self._model_layout(n, m[j]).bool().cpu().contiguous() for n, m in self.mask.items()})
                if self.updaters[j] is not None else self.masks[j] for j in range(len(self.masks))]
        self.opt.load_state_dict(state["optimizer"])
        self.runs = [Run.from_dict(state["runs"][i]) for i in self.order]
        return int(state["iteration"])

    # -- the run
    @profile.training
    def run(self) -> list[Run]:
        s0 = self.s0
        first, end = self.starts[0], s0.iterations
        t, resumed = first, False
        if self.checkpoint is not None and self.checkpoint.exists():
            saved = self._resume()
            if saved is not None:
                t, resumed = saved, True
        started = time.perf_counter() - self.runs[0].seconds
        clock = CheckpointClock()
        bar = progress_bar(end - first, desc=f"train {len(self.runs)} x {s0.model}",
                           show=self.progress, initial=t - first)
        last_bar = t
        while True:
            regular = t % s0.eval_every == 0 or t == end
            if not resumed:
                self._record(t, regular)
                if (self.checkpoint is not None and regular and t < end and first < t and clock.due()):
                    self._save(t, time.perf_counter() - started)
                    clock.saved()
            resumed = False
            if t == end:
                break
            n = sum(k <= t for k in self.starts)
            if n != self.n_active:
                self._activate(n)
            self._step(t)
            t += 1
            if t % s0.eval_every == 0 or t == end:
                bar.update(t - last_bar)
                last_bar = t
        bar.close()
        if not self.every_test:
            self._test_at_early_stop()
        seconds = time.perf_counter() - started
        runs: list[Run | None] = [None] * len(self.runs)
        with torch.no_grad():
            for j, (model, run) in enumerate(zip(self.models, self.runs)):
                run.final_state = self.member_state(j)
                if self.updaters[j] is not None:
                    run.mask = self.current[j].state_dict()
                run.seconds = seconds
                params = dict(model.named_parameters())
                for name, value in run.final_state.items():
                    params[name].copy_(value)
                model.eval()
                runs[self.order[j]] = run
        if self.checkpoint is not None and self.checkpoint.exists():
            self.checkpoint.unlink()
        return runs  # type: ignore[return-value]


@with_fixed_threads
def train_population(models: list[nn.Module], data: Dataset,
                     settings: list[TrainSettings] | TrainSettings,
                     masks: list[Mask | None] | Mask | None = None, *,
                     save_weights_at: Iterable[int] | list[Iterable[int]] = (),
                     start_iterations: list[int] | int = 0, checkpoint: str | Path | None = None,
                     progress: bool | None = None, batched: bool | None = None,
                     mask_updates: list[Any] | Any = None) -> list[Run]:
    """Train every model (in place) as ``train(models[i], data, settings[i], masks[i],
    save_weights_at=..., start_iteration=start_iterations[i])`` would, and return their Runs
    in order -- with one batched forward/backward/optimiser step per iteration for all.

    ``settings``, ``masks``, ``save_weights_at`` and ``start_iterations`` take one value per
    model or one for all (``save_weights_at``: a list of iterations for all, or a list of
    lists). Members share ``SHARED_SETTINGS`` and the architecture (``can_batch``); they
    may differ in initial weights, mask, seeds (data order, augmentation), lr,
    weight_decay, momentum and start iteration (a member starting at k waits until the
    shared clock reaches k). ``checkpoint``: a file written at an evaluation once
    ``LTHLIB_CHECKPOINT_SECONDS`` have passed (``store.CheckpointClock``); an interrupted population resumes from it bit for bit; removed at the end.
    ``batched``: None picks the batched pass when it applies (two or more batchable
    members), else ``train`` per member (same Runs); True insists on the batched pass
    (ValueError saying why not); False always trains one by one. ``mask_updates``: each
    member's ``train(mask_update=...)`` (dynamic sparse training: SET, RigL), or None;
    a member with one needs a mask. Runs with ``lthlib.core.threads.training_threads()``
    torch threads, as ``train`` does.
    """
    models = list(models)
    k = len(models)
    if k == 0:
        raise ValueError("train_population needs at least one model; got an empty list")
    settings_list = per_member("settings", settings, k)
    masks_list = per_member("masks", masks, k)
    starts = [int(s) for s in per_member("start_iterations", start_iterations, k)]
    updaters = per_member("mask_updates", mask_updates, k)
    save_at = save_lists(save_weights_at, k)
    for i, s in enumerate(settings_list):
        if not isinstance(s, TrainSettings):
            raise ValueError(f"settings[{i}] is a {type(s).__name__}, not a TrainSettings")
    for i, m in enumerate(masks_list):
        if m is not None and not isinstance(m, Mask):
            raise ValueError(f"masks[{i}] is a {type(m).__name__}, not a Mask (or None)")
    seen: dict[int, int] = {}
    for i, model in enumerate(models):
        if id(model) in seen:
            raise ValueError(f"models[{seen[id(model)]}] and models[{i}] are the same object; each "
                             "member is trained in place, so pass copies (copy.deepcopy)")
        seen[id(model)] = i
    for i, (model, s, mask, start) in enumerate(zip(models, settings_list, masks_list, starts)):
        if not 0 <= start < s.iterations:
            raise ValueError(f"start_iterations[{i}]={start}: must be in [0, iterations={s.iterations})")
        bad = [it for it in save_at[i] if not start <= it <= s.iterations]
        if bad:
            raise ValueError(f"save_weights_at for member {i}: {bad} must lie in [{start}, {s.iterations}]")
        if len(data.y_train) < s.batch_size:
            raise ValueError(f"batch_size={s.batch_size} is larger than the training set "
                             f"({len(data.y_train)} examples)")
        if mask is not None:
            mask.check_fits(model)
        if updaters[i] is not None and mask is None:
            raise ValueError(f"mask_updates[{i}] changes a mask during training: pass member {i}'s starting "
                             "mask too (e.g. lthlib.methods.sparse_training.initial_sparse_mask)")
        if updaters[i] is not None and isinstance(model, Supermask):
            raise ValueError(f"mask_updates[{i}] is given for a Supermask, whose mask is its scores")

    problem = (edge_popup_problem(models, masks_list) if any(isinstance(m, Supermask) for m in models)
               else batch_problem(models)) or settings_problem(settings_list)
    if problem is None and k == 1 and batched is None:
        problem = "a single member trains with train itself"
    if batched and problem:
        raise ValueError(f"cannot train these members in one batched pass: {problem}")
    path = Path(checkpoint) if checkpoint is not None else None
    if batched is False or problem:
        return train_each(models, data, settings_list, masks_list, save_at, starts, path, progress, updaters)
    return _Population(models, data, settings_list, masks_list, save_at, starts, path, progress,
                       mask_updates=updaters).run()
