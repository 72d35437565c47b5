"""Training with an optional mask: ``train(model, data, settings, mask=None) -> Run``.

Batches are slices of a shuffled index over in-memory tensors. With a mask, pruned weights
are exactly zero after every step: their gradients are zeroed before the optimiser step (so
momentum, Adam moments and weight decay never see them) and the weights are multiplied by
the mask after it.

The minibatch order of epoch ``e`` depends only on ``(data_order_seed, e)``, so a run can
start (rewinding) or resume (checkpoint) at any iteration and see the batches an
uninterrupted run would have seen.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from lthlib.core import profile
from lthlib.core.devices import resolve_device
from lthlib.core.progress import progress_bar
from lthlib.core.store import CheckpointClock, Store, StoreError, atomic_save, load_or_set_aside
from lthlib.core.streams import generator
from lthlib.core.threads import with_fixed_threads
from lthlib.data.datasets import Dataset, augment_batch, load_dataset
from lthlib.engine.early_stop import new_minimum, test_every_time
from lthlib.engine.fused_optim import FusedOptimizer
from lthlib.engine.parallel import default_workers, run_jobs
from lthlib.engine.run import METRICS, Run, StateDict
from lthlib.masks import Mask
from lthlib.models.networks import build_model, count_parameters
from lthlib.settings import TrainSettings

TRAIN_EVAL_SIZE = 5_000  # train loss/accuracy are measured on this fixed subset
# A run has diverged when its training loss is not finite or exceeds this many times the
# loss of guessing uniformly (ln of the number of classes): no trained network gets there.
DIVERGED_LOSS_FACTOR = 100.0


def cpu_state(model: nn.Module) -> StateDict:
    """A detached CPU copy of ``model.state_dict()``."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def reading_words(settings: TrainSettings) -> str:
    """Where ``Run.reported`` reads runs of ``settings``, in the words a figure's axis uses."""
    return "end of training" if settings.validation == "test" else "early stopping"


class TrainingDiverged(RuntimeError):
    """The training loss became non-finite or exploded: the settings (usually ``lr``) do
    not train this network, and no number of the run may be reported or pruned from."""


def watched_split(settings: TrainSettings, data: Dataset) -> str:
    """The split whose loss tells divergence: the training split where it is evaluated
    (``eval_train``), else the validation split (the test set's when there is none)."""
    if settings.eval_train:
        return "train"
    return "val" if len(data.y_val) else "test"


def evaluated_splits(settings: TrainSettings, data: Dataset,
                     test: bool = True) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(split, x, y)`` of what an evaluation measures: the first ``TRAIN_EVAL_SIZE``
    training examples (only with ``eval_train``), the validation and the test set (``test``
    False: left out); a split left out, or empty, records NaN."""
    train = (data.x_train[:TRAIN_EVAL_SIZE], data.y_train[:TRAIN_EVAL_SIZE]) if settings.eval_train \
        else (data.x_train[:0], data.y_train[:0])
    tested = (data.x_test, data.y_test) if test else (data.x_test[:0], data.y_test[:0])
    return [("train", *train), ("val", data.x_val, data.y_val), ("test", *tested)]


def check_not_diverged(loss: float, iteration: int, settings: TrainSettings,
                       num_classes: int, who: str = "", split: str = "train") -> None:
    """Raise ``TrainingDiverged`` naming the iteration when ``loss`` (the ``split``'s, measured
    at an evaluation: see ``watched_split``) is not finite or beyond ``DIVERGED_LOSS_FACTOR``
    x ln(classes)."""
    limit = DIVERGED_LOSS_FACTOR * math.log(max(num_classes, 2))
    if math.isfinite(loss) and loss <= limit:
        return
    words = {"train": "training", "val": "validation", "test": "test"}[split]
    raise TrainingDiverged(
        f"{who or 'training'} diverged: the {words} loss is {loss:.3g} at iteration "
        f"{iteration} (limit {limit:.3g}) with optimizer={settings.optimizer!r}, "
        f"lr={settings.lr!r}; lower lr (or add warmup_iterations) and run again")


@profile.evaluation
@with_fixed_threads
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2_000) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on ``(x, y)``, in eval mode."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            logits = model(x[i:i + batch_size])
            total_loss += float(F.cross_entropy(logits, y[i:i + batch_size], reduction="sum"))
            correct += int((logits.argmax(1) == y[i:i + batch_size]).sum())
    model.train(was_training)
    n = max(len(y), 1)
    return total_loss / n, correct / n


def data_for(settings: TrainSettings, device: str | torch.device = "auto") -> Dataset:
    """The dataset ``settings`` names, with its validation and training sizes, moved once
    to ``device`` (``"auto"``: CUDA, else MPS, else CPU; ``lthlib.core.devices``). Models and
    training follow the data's device."""
    return load_dataset(settings.dataset, validation_size=settings.validation_size,
                        train_size=settings.train_size, device=resolve_device(device),
                        validation=settings.validation)


def model_for(settings: TrainSettings, data: Dataset, seed: int | None = None,
              stream: str = "init", index: int | None = None) -> nn.Module:
    """A fresh model of ``settings``, on the data's device, whose initial weights depend only
    on ``(seed, stream, index)`` (``seed`` None: ``settings.seed``; ``stream="reinit"`` for
    the random-reinitialisation control)."""
    model = build_model(settings.model, data.input_shape, data.num_classes,
                        seed=settings.seed if seed is None else seed, stream=stream, index=index,
                        init=settings.init, **settings.model_kwargs)
    return model.to(data.x_train.device)


def make_optimizer(model: nn.Module, settings: TrainSettings) -> FusedOptimizer | torch.optim.Optimizer:
    """Adam, AdamW (decoupled weight decay) or SGD (with momentum) as the settings say; the
    learning rate is set per step. A masked weight stays zero under AdamW's decay (it
    multiplies the weight) as under Adam's L2 term (its gradient is masked).

    The fused implementations (one kernel over all parameters) are used where torch has
    them (CPU, CUDA): at LeNet's size they cut a step's time by about a quarter. They are
    called through ``FusedOptimizer`` (the same kernels and numbers as ``torch.optim``'s
    ``fused=True``, without its 1 s import of ``torch._dynamo`` in every fresh process);
    other devices get ``torch.optim``'s foreach implementation.
    """
    device = next(model.parameters()).device
    if device.type in ("cpu", "cuda"):
        return FusedOptimizer(model.parameters(), settings.optimizer, lr=settings.lr, betas=settings.betas,
                              weight_decay=settings.weight_decay, momentum=settings.momentum)
    if settings.optimizer in ("adam", "adamw"):
        adam = torch.optim.Adam if settings.optimizer == "adam" else torch.optim.AdamW
        return adam(model.parameters(), lr=settings.lr, betas=settings.betas,
                    weight_decay=settings.weight_decay, foreach=True)
    return torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                           weight_decay=settings.weight_decay, foreach=True)


def lr_at(settings: TrainSettings, iteration: int) -> float:
    """Learning rate of the step from ``iteration`` to ``iteration + 1``: linear warm-up,
    then a drop by ``lr_gamma`` at each milestone."""
    lr = settings.lr * settings.lr_gamma ** sum(iteration >= m for m in settings.lr_milestones)
    if settings.warmup_iterations:
        lr *= min(1.0, (iteration + 1) / settings.warmup_iterations)
    return lr


def epoch_order(n: int, order_seed: int, epoch: int, device: torch.device) -> torch.Tensor:
    """The shuffled example order of one epoch: a function of (seed, epoch) only."""
    return torch.randperm(n, generator=generator(order_seed, "data_order", epoch)).to(device)


def augmentation_generator(order_seed: int, iteration: int) -> torch.Generator:
    """The random source of one batch's augmentation: a function of (seed, iteration) only."""
    return generator(order_seed, "augment", iteration)


@profile.training
@with_fixed_threads
def train(model: nn.Module, data: Dataset, settings: TrainSettings, mask: Mask | None = None, *,
          save_weights_at: Iterable[int] = (), start_iteration: int = 0,
          checkpoint: str | Path | None = None, progress: bool | None = None,
          mask_update: Callable[..., Mask | None] | None = None) -> Run:
    """Train ``model`` (in place) from its current weights for ``settings.iterations`` steps.

    ``mask``: pruned weights are zeroed now and stay exactly zero. ``save_weights_at``:
    iterations whose weights to keep in the Run (0 = the weights passed in).
    ``start_iteration``: continue a schedule from there (rewinding to iteration k trains
    from k to the end, with the learning-rate schedule and data order of iteration k).
    ``checkpoint``: a file written at an evaluation (``store.CheckpointClock``: once
    ``LTHLIB_CHECKPOINT_SECONDS`` have passed since the last); if it exists when the run starts
    (same settings and mask), training resumes from it, and it is removed at the end.
    With ``settings.test_curve`` False the test set is measured at the early-stopping
    evaluation (on weights kept from then) and at the end only, NaN between
    (``lthlib.engine.early_stop``).

    ``mask_update``: a mask that changes during training (dynamic sparse training,
    ``lthlib.methods.sparse_training``); needs ``mask``. After the optimiser step that makes
    ``iteration`` (the number of steps done) and the mask multiplication, if
    ``mask_update.due(iteration)`` is true (an updater without ``due`` is due every step),
    ``train`` calls ``mask_update(iteration, model, current_mask, grads)``: ``grads`` maps
    each masked parameter name to the *dense* gradient of that step (taken before the
    gradient masking; copied only on due steps), or is None when the updater sets
    ``needs_gradients = False``. It returns a new ``Mask`` over the same layers, or None
    for no change. Changed entries (dropped and grown) get weight 0 and their optimiser
    state (Adam moments, SGD momentum) is reset to 0. The Run's ``mask`` is then the final
    mask, ``mask_updates`` lists each change, and a checkpoint stores the current mask.
    """
    device = next(model.parameters()).device
    data = data.to(device)
    if not 0 <= start_iteration < settings.iterations:
        raise ValueError(f"start_iteration={start_iteration}: must be in [0, iterations={settings.iterations})")
    save_at = sorted({int(k) for k in save_weights_at})
    bad = [k for k in save_at if not start_iteration <= k <= settings.iterations]
    if bad:
        raise ValueError(f"save_weights_at={bad}: iterations must lie in "
                         f"[{start_iteration}, {settings.iterations}]")

    if mask_update is not None and mask is None:
        raise ValueError("mask_update changes a mask during training: pass the starting mask too "
                         "(e.g. lthlib.methods.sparse_training.initial_sparse_mask)")
    masked: list[tuple[torch.Tensor, torch.Tensor]] = []
    if mask is not None:
        mask.check_fits(model)
        params = dict(model.named_parameters())
        masked = [(params[n], m.to(device=device, dtype=params[n].dtype)) for n, m in mask.items()]
        with torch.no_grad():
            for p, m in masked:
                p.mul_(m)

    opt = make_optimizer(model, settings)
    run = Run(settings=settings.to_dict(), start_iteration=start_iteration,
              mask=mask.state_dict() if mask is not None else None)
    x_train, y_train = data.x_train, data.y_train
    n_train, bs = len(y_train), settings.batch_size
    if n_train < bs:
        raise ValueError(f"batch_size={bs} is larger than the training set ({n_train} examples)")
    steps_per_epoch = n_train // bs  # the incomplete last batch of an epoch is dropped
    splits, watched = evaluated_splits(settings, data), watched_split(settings, data)

    iteration = start_iteration
    current = mask
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    resumed = _resume(ckpt_path, model, opt, run) if ckpt_path is not None and ckpt_path.exists() else None
    early_stop_state = None
    if resumed is not None:  # None: no checkpoint, or a damaged one (set aside: start again)
        iteration, saved_mask, early_stop_state = resumed
        if (saved_mask is None) != (mask_update is None):
            raise StoreError(f"checkpoint {ckpt_path} was written "
                             f"{'without' if saved_mask is None else 'with'} a mask_update; "
                             "delete it to restart")
        if saved_mask is not None:
            current = Mask(saved_mask)
            _set_masks(masked, current, device)
    if mask_update is not None:
        masked_names = list(mask)
        update_due = getattr(mask_update, "due", lambda it: True)
        wants_grads = bool(getattr(mask_update, "needs_gradients", True))

    every_test = test_every_time(settings, data)
    early_stop = {"state": early_stop_state}  # the weights of the lowest validation loss so far

    def record(it: int) -> None:
        run.iterations.append(it)
        last = it == settings.iterations
        for prefix, x, y in splits:
            measured = len(y) and (prefix != "test" or every_test or last)
            loss, acc = evaluate(model, x, y) if measured else (math.nan, math.nan)
            getattr(run, f"{prefix}_loss").append(loss)
            getattr(run, f"{prefix}_acc").append(acc)
        check_not_diverged(getattr(run, f"{watched}_loss")[-1], it, settings, data.num_classes, split=watched)
        if not every_test and not last and new_minimum(run.val_loss):
            early_stop["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    started = time.perf_counter() - run.seconds
    clock = CheckpointClock()
    if iteration == start_iteration and not run.iterations:
        record(iteration)
        if iteration in save_at:
            run.weights_at[iteration] = cpu_state(model)

    model.train()
    bar = progress_bar(settings.iterations - start_iteration, desc=f"train {settings.model}",
                       show=progress, initial=iteration - start_iteration)
    epoch, offset = divmod(iteration, steps_per_epoch)
    order = epoch_order(n_train, settings.order_seed, epoch, device)
    last_bar = iteration
    grads: dict[str, torch.Tensor] | None = None
    while iteration < settings.iterations:
        if offset == steps_per_epoch:
            epoch, offset = epoch + 1, 0
            order = epoch_order(n_train, settings.order_seed, epoch, device)
        idx = order[offset * bs:(offset + 1) * bs]
        xb, yb = x_train.index_select(0, idx), y_train.index_select(0, idx)
        if settings.augment:
            xb = augment_batch(xb, augmentation_generator(settings.order_seed, iteration))
        lr = lr_at(settings, iteration)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xb), yb).backward()
        due = mask_update is not None and update_due(iteration + 1)
        if due and wants_grads:
            grads = {n: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
                     for n, (p, _) in zip(masked_names, masked)}
        if masked:
            for p, m in masked:
                if p.grad is not None:
                    p.grad.mul_(m)
        opt.step()
        if masked:
            with torch.no_grad():
                for p, m in masked:
                    p.mul_(m)
        iteration += 1
        offset += 1
        if due:
            new = mask_update(iteration, model, current, grads if wants_grads else None)
            grads = None
            if new is not None:
                run.mask_updates.append(_change_mask(masked, masked_names, current, new, opt, iteration))
                current = new
        if iteration in save_at:
            run.weights_at[iteration] = cpu_state(model)
        if iteration % settings.eval_every == 0 or iteration == settings.iterations:
            record(iteration)
            model.train()
            bar.update(iteration - last_bar)
            last_bar = iteration
            if ckpt_path is not None and iteration < settings.iterations and clock.due():
                run.seconds = time.perf_counter() - started
                state = {"digest": settings.digest(), "iteration": iteration,
                         "model": model.state_dict(), "optimizer": opt.state_dict(),
                         "run": run.to_dict()}
                if mask_update is not None:
                    state["current_mask"] = current.state_dict()
                if early_stop["state"] is not None:
                    state["early_stop_state"] = early_stop["state"]
                atomic_save(state, ckpt_path)
                clock.saved()
    bar.close()
    model.eval()
    run.final_state = cpu_state(model)
    if not every_test and run.early_stop_index != len(run.iterations) - 1:
        i = run.early_stop_index  # the test set at early stopping, measured now on its weights
        model.load_state_dict(early_stop["state"])
        run.test_loss[i], run.test_acc[i] = evaluate(model, data.x_test, data.y_test)
        model.load_state_dict(run.final_state)
    if mask_update is not None:
        run.mask = current.state_dict()
    run.seconds = time.perf_counter() - started
    if ckpt_path is not None and ckpt_path.exists():
        ckpt_path.unlink()
    return run


def _set_masks(masked: list[tuple[torch.Tensor, torch.Tensor]], mask: Mask,
               device: torch.device) -> None:
    """Copy ``mask`` into the float mask tensors ``train`` multiplies by (same order)."""
    for (p, m), t in zip(masked, mask.values()):
        m.copy_(t.to(device=device, dtype=m.dtype))


@torch.no_grad()
def _change_mask(masked: list[tuple[torch.Tensor, torch.Tensor]], names: list[str], old: Mask,
                 new: Mask, opt: FusedOptimizer | torch.optim.Optimizer, iteration: int) -> dict[str, Any]:
    """Switch ``train``'s masks from ``old`` to ``new``: dropped and grown weights become 0
    and their optimiser state (every per-weight buffer: Adam moments, SGD momentum) is reset
    to 0. Returns the record of the change for ``Run.mask_updates``."""
    record, changed = mask_change(names, old, new, iteration)
    for name, (p, m) in zip(names, masked):
        m.copy_(new[name].to(device=p.device, dtype=m.dtype))
        p.masked_fill_(changed[name].to(p.device), 0.0)
        for buf in opt.state.get(p, {}).values():
            if isinstance(buf, torch.Tensor) and buf.shape == p.shape:
                buf.masked_fill_(changed[name].to(p.device), 0.0)
    return record


def mask_change(names: list[str], old: Mask, new: Any,
                iteration: int) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """What a ``mask_update`` changed: the record for ``Run.mask_updates`` (weights dropped
    and grown per layer) and the changed entries (``old ^ new``) per layer; a ValueError
    when ``new`` is not a Mask over the layers ``names`` with ``old``'s shapes."""
    if not isinstance(new, Mask) or list(new) != names:
        raise ValueError(f"mask_update must return a Mask over the layers {names} (in that order) "
                         f"or None, not {new!r}")
    record: dict[str, Any] = {"iteration": iteration, "dropped": {}, "grown": {}}
    changed = {}
    for name in names:
        o, n = old[name], new[name].to(old[name].device)
        if o.shape != n.shape:
            raise ValueError(f"mask_update returned a mask of shape {tuple(n.shape)} for {name!r}, "
                             f"which has shape {tuple(o.shape)}")
        changed[name] = o ^ n
        record["dropped"][name] = int((o & ~n).sum())
        record["grown"][name] = int((n & ~o).sum())
    return record, changed


def _resume(path: Path, model: nn.Module, opt: FusedOptimizer | torch.optim.Optimizer,
            run: Run) -> tuple[int, dict[str, torch.Tensor] | None, StateDict | None] | None:
    """Load a checkpoint written by ``train`` into the fresh objects; return its iteration,
    the mask current then (None unless the run had a ``mask_update``) and the weights of
    the lowest validation loss so far (None unless ``test_curve=False``). The saved Run's
    ``mask`` is the starting mask, compared with this run's. None when the checkpoint is
    damaged (it is set aside with a warning and the run starts from the beginning)."""
    state = load_or_set_aside(path)
    if state is None:
        return None
    settings = run.train_settings
    if not isinstance(state, dict) or state.get("digest") != settings.digest():
        raise StoreError(f"checkpoint {path} belongs to other settings; delete it or pass "
                         "another checkpoint path")
    saved = Run.from_dict(state["run"])
    if (saved.mask is None) != (run.mask is None) or (
            run.mask is not None and Mask(saved.mask) != Mask(run.mask)):
        raise StoreError(f"checkpoint {path} was trained with another mask; delete it to restart")
    if saved.start_iteration != run.start_iteration:
        raise StoreError(f"checkpoint {path} started at iteration {saved.start_iteration}, "
                         f"not {run.start_iteration}; delete it to restart")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    run.__dict__.update(saved.__dict__)
    return int(state["iteration"]), state.get("current_mask"), state.get("early_stop_state")


# The store key's part that says a run was trained by ``train`` on its own (the
# computation of ``lthlib.engine.passes.ALONE``): its numbers depend on nothing else.
ALONE_KEY = {"computed_in": "alone"}


def dense_run(settings: TrainSettings, data: Dataset | None = None, *, store: Store | None = None,
              save_weights_at: Iterable[int] = (0,), progress: bool | None = None) -> Run:
    """The dense run of ``settings``, trained by ``train`` on its own and stored under the
    training settings (and ``ALONE_KEY``), shared by every notebook and IMP run that
    trains the same network this way. The weights at each
    iteration in ``save_weights_at`` are kept; asking later for an iteration the stored run
    lacks retrains it once (training is deterministic) and stores the union."""
    store = store if store is not None else Store(None)
    want = {int(k) for k in save_weights_at} | {0}
    stored = store.get("dense", settings, ALONE_KEY)
    if stored is not None and want <= set(stored.weights_at):
        return stored
    with store.lock("dense", settings, ALONE_KEY):
        stored = store.get("dense", settings, ALONE_KEY)  # another process may have trained it meanwhile
        if stored is not None:
            if want <= set(stored.weights_at):
                return stored
            want |= set(stored.weights_at)
        data = data if data is not None else data_for(settings)
        run = train(model_for(settings, data), data, settings, save_weights_at=sorted(want), progress=progress,
                    checkpoint=store.checkpoint("dense", settings, ALONE_KEY))
        if stored is not None:
            # Keep the stored run (IMP rounds were pruned from its final weights) and add
            # the new iterations' weights (the same computation: the same numbers).
            stored.weights_at.update({k: w for k, w in run.weights_at.items() if k not in stored.weights_at})
            run = stored
        return store.put("dense", settings, run, ALONE_KEY)


@dataclass(frozen=True)
class DenseJob:
    """The dense run of ``settings`` with its weights at ``save_weights_at``, as a job for
    ``lthlib.engine.parallel.run_jobs`` (shared through the store with every notebook)."""

    settings: TrainSettings
    data: Dataset
    store_root: str | Path | None = None
    save_weights_at: tuple[int, ...] = (0,)

    def stored(self) -> Run | None:
        run = Store(self.store_root).get("dense", self.settings, ALONE_KEY)
        return run if run is not None and set(self.save_weights_at) <= set(run.weights_at) else None

    def cost(self) -> float:
        return float(count_parameters(model_for(self.settings, self.data), prunable_only=True)
                     * self.settings.iterations)

    def run(self) -> Run:
        return dense_run(self.settings, self.data, store=Store(self.store_root),
                         save_weights_at=self.save_weights_at, progress=False)


def dense_runs(settings: TrainSettings, seeds: Iterable[int], data: Dataset | None = None, *,
               store: Store | None = None, save_weights_at: Iterable[int] = (0,),
               progress: bool | None = None) -> list[Run]:
    """``dense_run`` of ``settings`` once per seed: the seeds the store lacks are trained
    side by side in worker processes (``run_jobs``; one at a time, with a progress bar,
    where there is one worker). Each is ``train`` on its own on ``training_threads()``
    threads wherever it runs, so the numbers are the same either way."""
    data = data if data is not None else data_for(settings)
    seeds = [int(seed) for seed in seeds]
    jobs = {seed: DenseJob(settings.replace(seed=seed), data, store.root if store is not None else None,
                           tuple(sorted({int(k) for k in save_weights_at})))
            for seed in seeds}
    if default_workers(len(jobs), data.x_train.device.type == "cpu") == 1:
        return [dense_run(jobs[seed].settings, data, store=store, save_weights_at=save_weights_at,
                          progress=progress) for seed in seeds]
    runs = run_jobs(jobs)
    return [runs[seed] for seed in seeds]
