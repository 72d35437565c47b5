"""Per-model step time of ``lthlib.engine.population`` against ``train``'s single-model step.

Tables:

1. ``train_population`` (K members, one batched pass) for K = 1, 4, 9, 16, 32 on the
   MNIST-1D MLP (40-300-100-10) and the MNIST-1D CNN, batch 60, Adam, against ``train``
   on one model, at 1 and 2 torch threads: milliseconds per step and model. A step's time
   is read as the difference of two runs of different lengths (so the fixed cost -- model
   building, the evaluations at the start and end -- cancels). The entries are timed
   interleaved (train, K=1, K=4, ... train, K=1, ...: every repeat takes one sample of
   each), so a busy moment of a shared machine hits all of them alike; the table gives the
   median of the repeats and, in brackets, their interquartile range. At 1 thread a
   second table gives the same from the thread's CPU time (``time.thread_time``: what the
   step itself cost, not the time other processes held the core).
2. Roofline: for each (model, threads, K) the whole population's step against this
   machine's limits, measured by ``lthlib.experiments.sparse_bounds.calibrate`` (peak fp32 GEMM
   FLOP/s on an L2-resident product, read bandwidth from memory): its FLOPs (forward +
   backward = 3 x the forward's matmul and convolution FLOPs for the batch, less the first
   layer's input gradient, which nothing computes) at the peak, and its bytes at the
   bandwidth. The bytes are an estimate, per member and step, in float32: the parameters
   read by the forward and again by the backward, the gradient written, and Adam's fused
   update reading parameters, gradient and both moments and writing three of them back
   (10 x parameters); per hidden unit and example, the pre-activation and ReLU output
   written in the forward and read in the backward and their gradients written and read (8
   numbers); the gathered input read and written (2 per input number). The bandwidth is
   DRAM's: members stepped together (``chunk``: ``population.CHUNK_BYTES``) whose
   parameters, gradients and moments fit the caches can beat that bound.
3. Masked members, whose masks train, change or stay (``--kinds``, 1 thread, MNIST-1D
   MLP): edge-popup supermasks (notebook 04's: frozen signed-constant weights, 50% kept,
   SGD lr 0.1 with momentum 0.9), RigL (ERK 20% density, a mask update every 25 steps)
   and a fixed ERK 20% mask (``static``: the masked members most notebooks train),
   ``train`` on one member against populations of 4, 8 and 16, timed the same way.
4. Notebook 10's transformer (``--transformer``, 1 thread): its quick preset (one block,
   d_model 64, batch 256, Adam with L2 weight decay; ``transformer_study``), ``train`` on one
   model against populations of 4, 8 and 16 (``lthlib.engine.stacked_transformer``), wall
   clock and thread CPU time, timed as table 1.
5. With ``--full``: the forward/backward of one batched step done with stacked tensors
   (``lthlib.engine.population``) and with ``torch.func`` (``functional_call`` + ``vmap`` +
   ``grad``) under the same fused optimiser, and whole runs (9 members of each model's
   preset, evaluations included) by ``train`` one after another and by
   ``train_population``.

Run: ``python benchmarks/population_speed.py`` (about 5 minutes on an idle 2-core laptop;
``--quick`` for a rough pass). Prints tables; never asserts on time. The last line is the
per-model speed-up of the MNIST-1D MLP at K=16 on 1 thread (the median of ``train``'s step
time over the median of the population's per-model step time, wall clock).
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lthlib.core.memory import keep_freed_memory
from lthlib.data.datasets import load_dataset
from lthlib.engine import population, stacked_optim
from lthlib.engine.population import train_population
from lthlib.engine.training import epoch_order, model_for, train
from lthlib.experiments.sparse_bounds import calibrate
from lthlib.settings import PAPER_PRESETS, TrainSettings

MODELS = ("mlp_mnist1d", "cnn_mnist1d")
KS = (1, 4, 9, 16, 32)
KINDS = ("edge_popup", "rigl", "static")
KIND_KS = (4, 8, 16)
VMAP_KS = (1, 4, 9, 32)


def settings_for(name: str, iterations: int, seed: int = 0) -> TrainSettings:
    return TrainSettings(model=name, optimizer="adam", lr=1e-3, batch_size=60,
                         iterations=iterations, eval_every=iterations, seed=seed)


def fastest(fn: Callable[[], None], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def train_runner(name: str, data) -> Callable[[int], None]:
    """``train`` on (a copy of) one model for a given number of iterations."""
    model = model_for(settings_for(name, 1), data)
    return lambda iterations: train(copy.deepcopy(model), data, settings_for(name, iterations), progress=False)


def population_runner(name: str, data, k: int) -> Callable[[int], None]:
    """``train_population`` on (copies of) K models for a given number of iterations."""
    models = [model_for(settings_for(name, 1, seed=s), data) for s in range(k)]
    return lambda iterations: train_population(
        [copy.deepcopy(m) for m in models], data, [settings_for(name, iterations, seed=s) for s in range(k)],
        progress=False, batched=True)


def kind_runner(kind: str, data, k: int | None) -> Callable[[int], None]:
    """``train`` (``k`` None) or ``train_population`` of ``k`` members of one kind:
    edge-popup supermasks, RigL, or a fixed mask (``static``: what IMP tickets, pruning at
    initialisation and static sparse training train), on the MNIST-1D MLP."""
    from lthlib.methods.sparse_training import SparseTrainingSettings, SparseUpdater, initial_sparse_mask
    from lthlib.methods.supermask import Supermask, random_weights, supermask_settings

    seeds = range(k or 1)

    def settings(iterations: int, s: int) -> TrainSettings:
        base = settings_for("mlp_mnist1d", iterations, seed=s)
        return supermask_settings(base, "edge_popup") if kind == "edge_popup" else base

    def members(iterations: int) -> tuple[list, list, list]:
        models, masks, updates = [], [], []
        for s in seeds:
            model = model_for(settings(1, s), data)
            if kind == "edge_popup":
                random_weights(model, "signed_constant", seed=s)
                models.append(Supermask(model, "edge_popup", density=0.5, seed=s))
                masks.append(None)
                updates.append(None)
            else:
                sparse = SparseTrainingSettings(method=kind, density=0.2, update_every=25)
                models.append(model)
                masks.append(initial_sparse_mask(model, sparse, s))
                updates.append(SparseUpdater(sparse, iterations, s) if kind == "rigl" else None)
        return models, masks, updates

    def run(iterations: int) -> None:
        models, masks, updates = members(iterations)
        if k is None:
            train(models[0], data, settings(iterations, 0), masks[0], progress=False, mask_update=updates[0])
        else:
            train_population(models, data, [settings(iterations, s) for s in seeds], masks, progress=False,
                             batched=True, mask_updates=updates)
    return run


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(median, 25th, 75th percentile)."""
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return statistics.median(values), q[0], q[-1]


def interleaved_step_ms(runners: dict[str, tuple[Callable[[int], None], int]], short: int, long: int,
                        repeats: int) -> dict[str, dict[str, list[float]]]:
    """Per-model milliseconds per step of each runner (``(run, members)``), one sample per
    repeat and clock: (time of ``long`` iterations - time of ``short``) / difference / members,
    the runners taking turns within every repeat (A B C A B C ...)."""
    clocks = {"wall": time.perf_counter, "cpu": time.thread_time}
    samples = {key: {c: [] for c in clocks} for key in runners}
    for run, _ in runners.values():  # warm-up: allocation, kernel choice
        run(short)
    for _ in range(repeats):
        for key, (run, members) in runners.items():
            spent = {}
            for iterations in (short, long):
                started = {c: clock() for c, clock in clocks.items()}
                run(iterations)
                spent[iterations] = {c: clock() - started[c] for c, clock in clocks.items()}
            for c in clocks:
                samples[key][c].append((spent[long][c] - spent[short][c]) / (long - short) / members * 1e3)
    return samples


def transformer_runners(ks: tuple[int, ...]) -> dict[str, tuple[Callable[[int], None], int]]:
    """``train`` and ``train_population`` of notebook 10's quick transformer preset, evaluated
    only at the start and end (as table 1's runs)."""
    from lthlib.engine.training import data_for
    from lthlib.experiments.transformer_study import transformer_for_scale

    base = transformer_for_scale("quick").train
    data = data_for(base, device="cpu")

    def settings(iterations: int, seed: int) -> TrainSettings:
        return base.replace(iterations=iterations, eval_every=iterations, seed=seed)

    def runner(k: int | None) -> Callable[[int], None]:
        models = [model_for(settings(1, s), data) for s in range(k or 1)]
        if k is None:
            return lambda iterations: train(copy.deepcopy(models[0]), data, settings(iterations, 0), progress=False)
        return lambda iterations: train_population([copy.deepcopy(m) for m in models], data,
                                                   [settings(iterations, s) for s in range(k)],
                                                   progress=False, batched=True)

    return {"train": (runner(None), 1), **{f"K={k}": (runner(k), k) for k in ks}}


def stepper(name: str, data, k: int, how: str) -> Callable[[int], None]:
    """One batched training step (batch gather, forward, backward, fused Adam) of K members,
    with the forward/backward done by stacked tensors or by torch.func. Memory is kept as
    training keeps it (``lthlib.core.memory``): without that, a step built here first pages
    its tensors in afresh every step, and smaller populations look faster than they are."""
    keep_freed_memory()
    settings = [settings_for(name, 10_000, seed=s) for s in range(k)]
    models = [model_for(s, data) for s in settings]
    if how == "stacked":
        pop = population._Population(models, data, settings, [None] * k, [[]] * k, [0] * k,
                                     None, False)
        pop._activate(k)
        return pop._step
    from torch.func import functional_call, grad, vmap

    params = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in models])
              for n, _ in models[0].named_parameters()}
    net = models[0]

    def loss(p, x, y):
        return F.cross_entropy(functional_call(net, p, (x,)), y)

    grads_of = vmap(grad(loss))
    opt = stacked_optim.StackedOptimizer(params, settings, [0] * k, stacked_optim.optimizer_impl(data.x_train.device))
    opt.activate(k)
    n, bs = len(data.y_train), 60
    orders = torch.stack([epoch_order(n, s.order_seed, 0, torch.device("cpu")) for s in settings])

    def step(t: int) -> None:
        offset = t % (n // bs)
        idx = orders[:, offset * bs:(offset + 1) * bs]
        grads = grads_of(params, data.x_train[idx], data.y_train[idx])
        opt.step(t, [grads[name] for name in params])

    return step


def step_variant_ms(name: str, data, k: int, how: str, steps: int, repeats: int) -> float:
    step = stepper(name, data, k, how)
    for t in range(20):
        step(t)

    def run() -> None:
        for t in range(20, 20 + steps):
            step(t)

    return fastest(run, repeats) / steps * 1e3


def whole_runs_s(name: str, data, k: int) -> tuple[float, float]:
    """Seconds for ``k`` preset runs of ``name``: ``train`` one by one, and one population."""
    preset = {key: v for key, v in PAPER_PRESETS[name].items() if key != "dataset"}
    settings = [TrainSettings(model=name, **preset, seed=s) for s in range(k)]
    models = [model_for(s, data) for s in settings]
    start = time.perf_counter()
    for model, s in zip(models, settings):
        train(copy.deepcopy(model), data, s, progress=False)
    one_by_one = time.perf_counter() - start
    start = time.perf_counter()
    train_population([copy.deepcopy(m) for m in models], data, settings, progress=False)
    return one_by_one, time.perf_counter() - start


def member_costs(name: str, data, batch: int = 60) -> tuple[float, float, float]:
    """One member's training step at ``batch``: (FLOPs, bytes moved, bytes of parameters +
    gradients + Adam moments). FLOPs: 2 per multiply-add of every linear / convolution
    layer, 3 times (forward, input gradient, weight gradient) except the first layer's input
    gradient; bytes are the estimate the module docstring states."""
    model = model_for(settings_for(name, 1), data)
    macs: list[int] = []
    hidden = 0

    def count(module: nn.Module, _, out: torch.Tensor) -> None:
        nonlocal hidden
        if isinstance(module, nn.Linear):
            macs.append(module.in_features * module.out_features)
        else:  # a convolution: per output number, in_channels / groups x kernel multiply-adds
            kernel = math.prod(module.kernel_size)
            macs.append(out.numel() * module.in_channels // module.groups * kernel)
        hidden += out.numel()

    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            module.register_forward_hook(count)
    x = data.x_train[:1]
    with torch.no_grad():
        model(x)
    params = sum(p.numel() for p in model.parameters())
    flops = 2 * (3 * sum(macs) - macs[0]) * batch
    moved = 4 * (10 * params + 8 * hidden * batch + 2 * x.numel() * batch)
    return flops, moved, 16 * params


def cell(values: list[float]) -> str:
    median, q25, q75 = quartiles(values)
    return f"{median:.3f} [{q25:.3f}-{q75:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer repeats")
    parser.add_argument("--full", action="store_true", help="also the torch.func and whole-run tables")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS,
                        help="models of tables 1-2 (none: skip them)")
    parser.add_argument("--transformer", action="store_true", help="also notebook 10's transformer (table 4)")
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), choices=KINDS,
                        help="members whose masks train or change (none: skip the table)")
    args = parser.parse_args()
    short, long, repeats = (20, 80, 3) if args.quick else (50, 250, 7)
    data = load_dataset("mnist1d")
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; MNIST-1D ({len(data.y_train)} training examples), batch 60, Adam; "
          f"steps {short}-{long}, {repeats} interleaved repeats")

    measured: dict[tuple[str, int], dict[str, dict[str, list[float]]]] = {}
    chunks: dict[str, int] = {}
    for name in args.models:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            os.environ["LTHLIB_THREADS"] = str(threads)  # train and train_population fix their count
            runners = {"train": (train_runner(name, data), 1)}
            runners.update({f"K={k}": (population_runner(name, data, k), k) for k in KS})
            measured[name, threads] = interleaved_step_ms(runners, short, long, repeats)
            print(f"  measured {name} at {threads} thread(s)", flush=True)
        settings = [settings_for(name, 1, seed=s) for s in range(2)]
        pop = population._Population([model_for(s, data) for s in settings], data, settings, [None] * 2,
                                     [[]] * 2, [0] * 2, None, False)
        chunks[name] = pop.chunk_members

    keys = ["train"] + [f"K={k}" for k in KS]
    clocks = (("wall", "wall clock"), ("cpu", "the thread's CPU time, 1 thread")) if args.models else ()
    for clock, title in clocks:
        print(f"\n## Per-model step time (ms, {title}): train_population (batched) vs train (one model)\n")
        print("Median of the interleaved repeats [interquartile range].\n")
        print("| model | threads | " + " | ".join(keys) + " | speed-up at K=16 | K=32 / K=9 |")
        print("|---|---|" + "---|" * len(keys) + "---|---|")
        for (name, threads), samples in measured.items():
            if clock == "cpu" and threads != 1:
                continue
            med = {key: quartiles(samples[key][clock])[0] for key in keys}
            print(f"| {name} | {threads} | " + " | ".join(cell(samples[key][clock]) for key in keys)
                  + f" | {med['train'] / med['K=16']:.2f}x | {med['K=32'] / med['K=9']:.2f} |", flush=True)

    if args.models:
        machines = {t: calibrate(t) for t in (1, 2)}
        print("\n## Roofline: one step of the whole population against this machine's limits\n")
        print("lthlib.experiments.sparse_bounds.calibrate: " + "; ".join(m.describe() for m in machines.values())
              + ". Bytes are an estimate (parameters, gradients, Adam moments, activations: see the "
                "module docstring); state = parameters + gradients + moments of all members; chunk = "
                "members stepped together. x bound = measured (median, wall clock) / the larger of the "
                "two bounds.\n")
        print("| model | threads | K | chunk | MFLOP | ms at peak | MB moved | ms at bandwidth | state MB "
              "| measured ms | x bound |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for name in args.models:
            flops, moved, state = member_costs(name, data)
            for threads in (1, 2):
                samples = measured[name, threads]
                for k in KS:
                    ms = quartiles(samples[f"K={k}"]["wall"])[0] * k
                    t_flops = k * flops / machines[threads].peak_flops * 1e3
                    t_bytes = k * moved / machines[threads].bandwidth * 1e3
                    print(f"| {name} | {threads} | {k} | {math.ceil(k / math.ceil(k / chunks[name]))} | {k * flops / 1e6:.1f} | "
                          f"{t_flops:.3f} | {k * moved / 1e6:.2f} | {t_bytes:.3f} | {k * state / 1e6:.2f} | "
                          f"{ms:.3f} | {ms / max(t_flops, t_bytes):.1f} |", flush=True)

    torch.set_num_threads(1)
    os.environ["LTHLIB_THREADS"] = "1"
    if args.full:
        print("\n## One batched step, whole population (ms), 1 thread: stacked tensors vs torch.func\n")
        print("| model | K | stacked (bmm / grouped conv) | torch.func (vmap + grad) |")
        print("|---|---|---|---|")
        steps = 50 if args.quick else 150
        for name in args.models:
            for k in VMAP_KS:
                stacked = step_variant_ms(name, data, k, "stacked", steps, repeats)
                func = step_variant_ms(name, data, k, "func", steps, repeats)
                print(f"| {name} | {k} | {stacked:.3f} | {func:.3f} |", flush=True)
        k = 9
        print(f"\n## Whole runs ({k} members of the preset, evaluations included), 1 thread\n")
        print("| model | iterations / eval_every | train x 9 (s) | train_population (s) | speed-up |")
        print("|---|---|---|---|---|")
        for name in args.models:
            one_by_one, batched = whole_runs_s(name, data, k)
            preset = PAPER_PRESETS[name]
            print(f"| {name} | {preset['iterations']} / {preset['eval_every']} | {one_by_one:.1f} | "
                  f"{batched:.1f} | {one_by_one / batched:.2f}x |", flush=True)

    if args.transformer:
        print("\n## Notebook 10's quick transformer: per-model step time (ms), 1 thread\n")
        print("Median of the interleaved repeats [interquartile range]; wall clock, then the thread's CPU time.\n")
        ks = (4, 8, 16)
        keys = ["train"] + [f"K={k}" for k in ks]
        samples = interleaved_step_ms(transformer_runners(ks), short // 2, long // 2, repeats)
        print("| clock | " + " | ".join(keys) + " | speed-up at K=8 | speed-up at K=16 |")
        print("|---|" + "---|" * len(keys) + "---|---|")
        for clock in ("wall", "cpu"):
            med = {key: quartiles(samples[key][clock])[0] for key in keys}
            print(f"| {clock} | " + " | ".join(cell(samples[key][clock]) for key in keys)
                  + f" | {med['train'] / med['K=8']:.2f}x | {med['train'] / med['K=16']:.2f}x |", flush=True)

    if args.kinds:
        print("\n## Masked members (masks that train, change or stay fixed): per-model step time (ms, "
              "wall clock), MNIST-1D MLP, 1 thread\n")
        print("Median of the interleaved repeats [interquartile range]; model building is inside each run "
              "and cancels in the difference.\n")
        keys = ["train"] + [f"K={k}" for k in KIND_KS]
        print("| members | " + " | ".join(keys) + " | speed-up at K=16 |")
        print("|---|" + "---|" * len(keys) + "---|")
        for kind in args.kinds:
            runners = {"train": (kind_runner(kind, data, None), 1)}
            runners.update({f"K={k}": (kind_runner(kind, data, k), k) for k in KIND_KS})
            samples = interleaved_step_ms(runners, short, long, repeats)
            med = {key: quartiles(samples[key]["wall"])[0] for key in keys}
            print(f"| {kind} | " + " | ".join(cell(samples[key]["wall"]) for key in keys)
                  + f" | {med['train'] / med['K=16']:.2f}x |", flush=True)

    if "mlp_mnist1d" in args.models:
        wall = measured["mlp_mnist1d", 1]
        speedup = quartiles(wall["train"]["wall"])[0] / quartiles(wall["K=16"]["wall"])[0]
        print(f"\nspeed-up per model, mlp_mnist1d, K=16, 1 thread: {speedup:.2f}x")


if __name__ == "__main__":
    main()
