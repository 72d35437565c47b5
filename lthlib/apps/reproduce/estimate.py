"""Before anything trains: iterations x a step time measured here -> hours; stored runs x
state-dict size -> disk."""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lthlib.settings import TrainSettings
# notebook 04's values, read from the module that owns them (the width study's fraction
# kept; Zhou et al.'s criteria, fractions kept per layer at smoke and quick, starts)
from lthlib.apps.reproduce.figures import DATASET_SHAPES, Figure, Plan, STORED_STATES_PER_RUN, TIMED_STEPS, TIMING_BUDGET_S, describe_networks
from lthlib.core.devices import resolve_device
from lthlib.core.streams import generator
from lthlib.core.threads import fixed_threads, training_threads
from lthlib.data.datasets import DATASETS, augment_batch
from lthlib.engine.early_stop import test_every_time
from lthlib.engine.training import TRAIN_EVAL_SIZE, evaluate, make_optimizer
from lthlib.experiments.supermask_study import WIDTH_STUDY_DENSITY
from lthlib.methods.supermask import Supermask, supermask_settings
from lthlib.models.networks import build_model


# ------------------------------------------------------------------------------ estimate
_step_cache: dict[tuple, float] = {}


def _timed_network(settings: TrainSettings, method: str,
                   device: torch.device) -> tuple[nn.Module, TrainSettings, tuple[int, ...], int]:
    """The network a timing runs (seed 0; for ``method="edge_popup"`` a supermask over it,
    trained with the supermask's optimiser settings) on ``device``, with the settings its
    optimiser takes, the input shape and the number of classes."""
    shape, classes = DATASET_SHAPES[settings.dataset]
    model = build_model(settings.model, shape, classes, seed=0, **settings.model_kwargs)
    if method == "edge_popup":
        model = Supermask(model, "edge_popup", density=WIDTH_STUDY_DENSITY, seed=0)
        settings = supermask_settings(settings, "edge_popup")
    return model.to(device), settings, shape, classes


def measure_step_seconds(settings: TrainSettings, device: str | torch.device = "cpu", method: str = "train",
                         steps: int = TIMED_STEPS, budget_s: float = TIMING_BUDGET_S) -> float:
    """Seconds per training step of the network of ``settings`` at its batch size, on
    random data of the dataset's shape, with its optimiser (a supermask's for
    ``method="edge_popup"``), on ``device`` with lthlib's fixed thread count: 2 warm-up
    steps, then ``steps`` timed (fewer when they pass ``budget_s``, at least 3)."""
    device = resolve_device(device)
    key = (settings.model, repr(sorted(settings.model_kwargs.items())), settings.dataset, settings.batch_size,
           settings.optimizer, settings.augment, method, str(device))
    if key in _step_cache:
        return _step_cache[key]
    g = generator(0, "timing_inputs")
    with fixed_threads():
        model, opt_settings, shape, classes = _timed_network(settings, method, device)
        model.train()
        opt = make_optimizer(model, opt_settings)
        x = torch.randn((settings.batch_size, *shape), generator=g).to(device)
        y = torch.randint(0, classes, (settings.batch_size,), generator=g).to(device)

        def sync() -> None:  # GPU work is asynchronous: time it finished
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elif device.type == "mps":
                torch.mps.synchronize()

        def step() -> None:
            xb = augment_batch(x, g) if settings.augment else x
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb), y).backward()
            opt.step()
            sync()

        for _ in range(2):
            step()
        start, done = time.perf_counter(), 0
        while done < steps:
            step()
            done += 1
            if done >= 3 and time.perf_counter() - start > budget_s:
                break
        seconds = (time.perf_counter() - start) / done
    _step_cache[key] = seconds
    return seconds


# Test-set sizes (the loaders' test splits); the validation split comes out of the training set.
TEST_SIZES = {"mnist1d": 2_000, "mnist": 10_000, "fashion-mnist": 10_000, "cifar10": 10_000}
TRAIN_SIZES = {"mnist1d": 8_000, "mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000}  # before the split


def evaluated_examples(settings: TrainSettings) -> int:
    """Examples one evaluation of a run reads: the fixed train subset
    (``training.TRAIN_EVAL_SIZE``, with ``eval_train`` only), the validation and the test set
    (where ``early_stop.test_every_time``)."""
    val = settings.validation_size if settings.validation_size is not None else DATASETS[settings.dataset][1]
    train = TRAIN_SIZES[settings.dataset] - val
    if settings.train_size is not None:
        train = min(train, settings.train_size)
    test = TEST_SIZES[settings.dataset] if test_every_time(settings) else 0
    return (min(TRAIN_EVAL_SIZE, train) if settings.eval_train else 0) + val + test


def measure_eval_seconds(settings: TrainSettings, device: str | torch.device = "cpu", method: str = "train",
                         budget_s: float = TIMING_BUDGET_S) -> float:
    """Seconds per example of evaluation (``training.evaluate``: no gradients, batches of
    2,000) of the network of ``settings`` on ``device``, timed on random data."""
    device = resolve_device(device)
    key = ("eval", settings.model, repr(sorted(settings.model_kwargs.items())), settings.dataset, method,
           str(device))
    if key in _step_cache:
        return _step_cache[key]
    g = generator(0, "timing_inputs")
    with fixed_threads():
        model, _, shape, classes = _timed_network(settings, method, device)
        x = torch.randn((2_000, *shape), generator=g).to(device)
        y = torch.randint(0, classes, (2_000,), generator=g).to(device)
        evaluate(model, x, y)  # warm-up (evaluate reads the result back: it has finished when it returns)
        start, done = time.perf_counter(), 0
        while done < 3 or (done < 10 and time.perf_counter() - start < budget_s / 5):
            evaluate(model, x, y)
            done += 1
        seconds = (time.perf_counter() - start) / (done * len(y))
    _step_cache[key] = seconds
    return seconds


def state_dict_bytes(settings: TrainSettings) -> int:
    """Bytes of one state dict of the network of ``settings``."""
    shape, classes = DATASET_SHAPES[settings.dataset]
    model = build_model(settings.model, shape, classes, **settings.model_kwargs)
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def estimate(plan: Plan, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The training the plan contains and what it costs here: per network, iterations x a
    measured step time; the disk its stored runs take (runs x about two state dicts).
    An upper bound where runs are already stored (they are reused, not retrained)."""
    device = resolve_device(device)
    items, train_s, eval_s, disk, iterations, runs = [], 0.0, 0.0, 0, 0, 0
    for w in plan.work:
        step = measure_step_seconds(w.settings, device, w.method)
        per_example = measure_eval_seconds(w.settings, device, w.method)
        evaluations, examples = w.evaluation_count(), evaluated_examples(w.settings)
        tests = 0 if test_every_time(w.settings) else 2 * w.runs * TEST_SIZES[w.settings.dataset]
        size = state_dict_bytes(w.settings)
        items.append({"model": w.settings.model, "model_kwargs": dict(w.settings.model_kwargs),
                      "method": w.method, "batch_size": w.settings.batch_size, "iterations": w.iterations,
                      "runs": w.runs, "step_seconds": step, "seconds": w.iterations * step,
                      "evaluations": evaluations, "examples_per_evaluation": examples,
                      "eval_seconds_per_example": per_example,
                      "test_examples_at_early_stop_and_end": tests,
                      "eval_seconds": (evaluations * examples + tests) * per_example, "state_dict_bytes": size})
        train_s += w.iterations * step
        eval_s += (evaluations * examples + tests) * per_example
        disk += w.runs * STORED_STATES_PER_RUN * size
        iterations += w.iterations
        runs += w.runs
    seconds = train_s + eval_s
    return {"iterations": iterations, "runs": runs, "seconds": seconds, "hours": seconds / 3600,
            "training_seconds": train_s, "evaluation_seconds": eval_s,
            "disk_bytes": disk, "device": str(device), "items": items,
            "counts": "training steps and the runs' evaluations (train subset, validation, test); not counted: "
                      "checkpoint writes, interpolation paths, untrained-mask evaluations; runs already in the "
                      "store are reused, so this is an upper bound"}


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def format_estimate(figure: Figure, plan: Plan, est: Mapping[str, Any]) -> str:
    lines = [f"Estimate for {figure.id} at scale {plan.scale!r} ({len(plan.seeds)} seed(s): "
             f"{', '.join(map(str, plan.seeds))}), {describe_networks(plan)}:"]
    for item in est["items"]:
        what = item["model"] + (f" {item['model_kwargs']}" if item["model_kwargs"] else "") + \
            (" (edge-popup scores)" if item["method"] != "train" else "")
        lines.append(f"  {what}, batch {item['batch_size']}: {item['iterations']:,} iterations x "
                     f"{1000 * item['step_seconds']:.2f} ms/step = {duration(item['seconds'])}")
    lines.append(f"  training iterations: {est['iterations']:,} in {est['runs']:,} runs; step times measured "
                 f"here ({TIMED_STEPS} steps on random data, {est['device']}, {training_threads()} thread(s))")
    lines.append(f"  evaluation: {sum(i['evaluations'] for i in est['items']):,} evaluations of the train subset, "
                 f"validation and test sets = {duration(est['evaluation_seconds'])}")
    lines.append(f"  time: about {est['hours']:.4g} hours ({duration(est['seconds'])}): training steps and "
                 "evaluations (checkpoints and interpolation not counted); runs already stored are reused")
    lines.append(f"  disk: about {_size(est['disk_bytes'])} in the results folder "
                 f"({est['runs']:,} runs x {STORED_STATES_PER_RUN} state dicts)")
    return "\n".join(lines)
