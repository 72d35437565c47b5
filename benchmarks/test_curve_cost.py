"""What measuring the test set at every evaluation costs: quick-scale MNIST-1D runs with
``test_curve=True`` (every evaluation measures the test set) against ``test_curve=False``
(only the early-stopping evaluation, on the kept weights, and the last one do), timed
interleaved (A B A B ...) so that the machine's drift slows both alike.

Two entries, each a quick-scale computation the notebooks make many times:

- ``train``:   one MLP trained alone (``lthlib.engine.training.train``), as a dense seed;
- ``population``: ``--members`` MLPs trained as one batched population
  (``lthlib.engine.population.train_population``), as notebook 09's pools and the other
  notebooks' passes.

The table gives each entry's median seconds over ``--repeats`` rounds, the spread (min-max)
and the ratio without / with the curve, and checks that the early-stopping test accuracy
is the same number both ways. Everything runs on lthlib's training threads (1 by default).
Run: ``python benchmarks/test_curve_cost.py [--repeats 5] [--members 16]``. Prints a table;
never asserts on time.
"""
from __future__ import annotations

import argparse
import statistics
import time

import lthlib
from lthlib.engine.population import train_population
from lthlib.engine.training import data_for, model_for, train


def timed(fn) -> tuple[float, list]:
    start = time.perf_counter()
    runs = fn()
    return time.perf_counter() - start, runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--members", type=int, default=16, help="population size (default 16)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.members < 1:
        parser.error("--repeats and --members must be at least 1")
    base = lthlib.for_scale("quick")
    data = data_for(base)
    entries = {
        "train": lambda s: [train(model_for(s, data), data, s)],
        "population": lambda s: train_population(
            [model_for(s.replace(seed=i), data) for i in range(args.members)], data,
            [s.replace(seed=i) for i in range(args.members)]),
    }
    seconds: dict[tuple[str, bool], list[float]] = {(e, c): [] for e in entries for c in (True, False)}
    reported: dict[tuple[str, bool], list[float]] = {}
    entries["train"](base.replace(iterations=base.eval_every))  # warm-up: a process's first steps import more
    for _ in range(args.repeats):
        for name, fn in entries.items():
            for curve in (True, False):
                s, runs = timed(lambda: fn(base.replace(test_curve=curve)))
                seconds[(name, curve)].append(s)
                reported[(name, curve)] = [r.reported("test_acc") for r in runs]
    print(f"{base.model} on {base.dataset}, quick scale: {base.iterations:,} iterations, evaluated every "
          f"{base.eval_every} ({len(data.y_val):,} validation and {len(data.y_test):,} test examples), "
          f"{args.repeats} interleaved rounds; seconds per entry, median [min-max]")
    print(f"{'entry':<12} {'networks':>8} {'test_curve=True':>22} {'test_curve=False':>22} {'False/True':>10} "
          f"{'same reported accuracy':>23}")
    for name in entries:
        with_curve, without = seconds[(name, True)], seconds[(name, False)]
        networks = 1 if name == "train" else args.members
        same = reported[(name, True)] == reported[(name, False)]

        def cell(v: list[float]) -> str:
            return f"{statistics.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]"

        print(f"{name:<12} {networks:>8} {cell(with_curve):>22} {cell(without):>22} "
              f"{statistics.median(without) / statistics.median(with_curve):>10.2f} {str(same):>23}")


if __name__ == "__main__":
    main()
