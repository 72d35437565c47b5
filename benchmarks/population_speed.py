"""Per-model step time of ``lthlib.population`` against ``train``'s single-model step.

Tables:

1. ``train_population`` (K members, one batched pass) for K = 1, 2, 4, 9, 16, 32 on the
   MNIST-1D MLP (40-300-100-10) and the MNIST-1D CNN, batch 60, Adam, against ``train``
   on one model, at 1 and 2 torch threads. A step's time is read as the difference of
   two runs of different lengths (so the fixed cost -- model building, the evaluations at
   the start and end -- cancels), taking the fastest of a few repeats.
   Beside it, a roofline: for each (model, K) the whole population's step against this
   machine's limits -- its FLOPs (forward + backward = 3 x the forward's matmul and
   convolution FLOPs for the batch, less the first layer's input gradient, which nothing
   needs) at the measured peak matmul FLOP/s (a 2048^3 matmul,
   at 1 and 2 threads), and its bytes at the measured memory bandwidth (a 256 MB tensor
   copy). The bytes are an estimate, per member and step, in float32: the parameters read
   by the forward and again by the backward, the gradient written, and Adam's fused update
   reading parameters, gradient and both moments and writing three of them back (10 x
   parameters); per hidden unit and example, the pre-activation and ReLU output written in
   the forward and read in the backward and their gradients written and read (8 numbers);
   the gathered input read and written (2 per input number). The bandwidth is DRAM's: a
   population whose parameters, gradients and moments (the "state" column) fit the caches
   can beat that bound, one that outgrows them cannot.
2. The forward/backward of one batched step done two ways -- stacked parameters
   (``torch.baddbmm`` and grouped convolutions, what ``lthlib.population`` uses) and
   ``torch.func`` (``functional_call`` + ``vmap`` + ``grad``) -- with the same fused
   optimiser, for K = 1, 4, 9, 32 at 1 thread.
3. Whole runs, evaluations included: 9 members of each model's preset (3,000 Adam steps,
   evaluated every 50 / 100 iterations) trained by ``train`` one after another and by
   ``train_population``, at 1 thread (skipped with ``--quick``).

Run: ``python benchmarks/population_speed.py`` (about 5 minutes on a 2-core laptop;
``--quick`` for a rough pass). Run it on an otherwise idle machine: a second process on
the cores makes every number meaningless. Prints tables; never asserts on time. The last
line is the per-model speed-up of the MNIST-1D MLP at K=16 on 1 thread (``train``'s step
time over the population's per-model step time).
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lthlib import population
from lthlib.config import PAPER_PRESETS, TrainSettings
from lthlib.data import load_dataset
from lthlib.population import train_population
from lthlib.training import epoch_order, model_for, train

MODELS = ("mlp_mnist1d", "cnn_mnist1d")
KS = (1, 2, 4, 9, 16, 32)
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


def per_step_ms(run: Callable[[int], None], short: int, long: int, repeats: int) -> float:
    """Milliseconds per iteration: (time of ``long`` iterations - time of ``short``) / difference."""
    run(short)  # warm-up
    return (fastest(lambda: run(long), repeats) - fastest(lambda: run(short), repeats)) / (long - short) * 1e3


def train_step_ms(name: str, data, short: int, long: int, repeats: int) -> float:
    model = model_for(settings_for(name, long), data)

    def run(iterations: int) -> None:
        train(copy.deepcopy(model), data, settings_for(name, iterations), progress=False)

    return per_step_ms(run, short, long, repeats)


def population_step_ms(name: str, data, k: int, short: int, long: int, repeats: int) -> float:
    """Milliseconds per iteration of the whole population (all K members)."""
    models = [model_for(settings_for(name, long, seed=s), data) for s in range(k)]

    def run(iterations: int) -> None:
        train_population([copy.deepcopy(m) for m in models], data,
                         [settings_for(name, iterations, seed=s) for s in range(k)],
                         progress=False, batched=True)

    return per_step_ms(run, short, long, repeats)


def stepper(name: str, data, k: int, how: str) -> Callable[[int], None]:
    """One batched training step (batch gather, forward, backward, fused Adam) of K members,
    with the forward/backward done by stacked tensors or by torch.func."""
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
    opt = population._Optimizer(params, settings, [0] * k, population.optimizer_impl(data.x_train.device))
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


def peak_flops(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of an n x n x n float32 matmul on ``threads`` threads, the fastest of ``repeats``."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    return 2 * n ** 3 / fastest(lambda: a @ b, repeats)


def bandwidth(threads: int, numbers: int = 1 << 26, repeats: int = 5) -> float:
    """Bytes/s of copying a ``numbers``-float32 tensor (256 MB by default: far larger than the
    caches) into another: 4 bytes read and 4 written per number, the fastest of ``repeats``."""
    torch.set_num_threads(threads)
    src, dst = torch.randn(numbers), torch.empty(numbers)
    dst.copy_(src)
    return 8 * numbers / fastest(lambda: dst.copy_(src), repeats)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer repeats")
    args = parser.parse_args()
    short, long, repeats = (40, 160, 2) if args.quick else (100, 300, 5)
    data = load_dataset("mnist1d")
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; MNIST-1D ({len(data.y_train)} training examples), batch 60, Adam")

    print("\n## Per-model step time (ms): train_population (batched) vs train (one model)\n")
    print("| model | threads | train | " + " | ".join(f"K={k}" for k in KS) + " | speed-up at K=32 |")
    print("|---|---|---|" + "---|" * len(KS) + "---|")
    measured: dict[tuple[str, int], tuple[float, list[float]]] = {}
    for name in MODELS:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            os.environ["LTHLIB_THREADS"] = str(threads)  # train and train_population fix their count
            single = train_step_ms(name, data, short, long, repeats)
            per_model = [population_step_ms(name, data, k, short, long, repeats) / k for k in KS]
            measured[name, threads] = single, per_model
            print(f"| {name} | {threads} | {single:.3f} | "
                  + " | ".join(f"{v:.3f}" for v in per_model) + f" | {single / per_model[-1]:.2f}x |",
                  flush=True)

    limit_repeats = 3 if args.quick else 5
    peaks = {t: peak_flops(t, repeats=limit_repeats) for t in (1, 2)}
    bandwidths = {t: bandwidth(t, repeats=limit_repeats) for t in (1, 2)}
    print("\n## Roofline: one step of the whole population against this machine's limits\n")
    print("Measured peak (2048^3 matmul): " + ", ".join(f"{peaks[t] / 1e9:.1f} GFLOP/s at {t} thread(s)"
                                                         for t in (1, 2))
          + "; memory bandwidth (256 MB copy): "
          + ", ".join(f"{bandwidths[t] / 1e9:.1f} GB/s at {t} thread(s)" for t in (1, 2))
          + ". Bytes are an estimate (parameters, gradients, Adam moments, activations: see the "
            "module docstring); state = parameters + gradients + moments of all members. "
            "x limit = measured / the larger of the two bounds.\n")
    print("| model | threads | K | MFLOP | ms at peak | MB moved | ms at bandwidth | state MB "
          "| measured ms | x limit |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in MODELS:
        flops, moved, state = member_costs(name, data)
        for threads in (1, 2):
            _, per_model = measured[name, threads]
            for k, ms in zip(KS, per_model):
                t_flops = k * flops / peaks[threads] * 1e3
                t_bytes = k * moved / bandwidths[threads] * 1e3
                print(f"| {name} | {threads} | {k} | {k * flops / 1e6:.1f} | {t_flops:.3f} | "
                      f"{k * moved / 1e6:.2f} | {t_bytes:.3f} | {k * state / 1e6:.2f} | {ms * k:.3f} | "
                      f"{ms * k / max(t_flops, t_bytes):.1f} |", flush=True)

    torch.set_num_threads(1)
    os.environ["LTHLIB_THREADS"] = "1"
    print("\n## One batched step, whole population (ms), 1 thread: stacked tensors vs torch.func\n")
    print("| model | K | stacked (baddbmm / grouped conv) | torch.func (vmap + grad) |")
    print("|---|---|---|---|")
    steps = 50 if args.quick else 150
    for name in MODELS:
        for k in VMAP_KS:
            stacked = step_variant_ms(name, data, k, "stacked", steps, repeats)
            func = step_variant_ms(name, data, k, "func", steps, repeats)
            print(f"| {name} | {k} | {stacked:.3f} | {func:.3f} |", flush=True)

    if not args.quick:
        k = 9
        print(f"\n## Whole runs ({k} members of the preset, evaluations included), 1 thread\n")
        print("| model | iterations / eval_every | train x 9 (s) | train_population (s) | speed-up |")
        print("|---|---|---|---|---|")
        for name in MODELS:
            one_by_one, batched = whole_runs_s(name, data, k)
            preset = PAPER_PRESETS[name]
            print(f"| {name} | {preset['iterations']} / {preset['eval_every']} | {one_by_one:.1f} | "
                  f"{batched:.1f} | {one_by_one / batched:.2f}x |", flush=True)

    single, per_model = measured["mlp_mnist1d", 1]
    print(f"\nspeed-up per model, mlp_mnist1d, K=16, 1 thread: {single / per_model[KS.index(16)]:.2f}x")


if __name__ == "__main__":
    main()
