"""Is sparsity fast? Time one model in every executable format at several densities.

For each density: the dense model, the masked model (dense kernels, zeros included), the
masked Linear layers as torch CSR / COO / BSR matrices, a structured model (whole neurons
or channels removed, a smaller dense model of about the same weight density) and 2:4
semi-structured sparsity (GPU only; reported as unsupported elsewhere). Inference and an
SGD training step, at each batch size, on ``LTHLIB_THREADS`` torch threads (default 1).

Run: ``OMP_NUM_THREADS=1 python benchmarks/sparse_formats.py --model lenet300_100``.
Prints Markdown tables (medians with their interquartile range, speed-up over dense),
the weight bytes of each format and the crossover densities. Never asserts on time.

``--large``: one 4096 x 4096 fp32 linear layer (``--shape``), where sparsity can pay, at
batch 1 and 8 on 1 and 2 threads (``--threads``), in torch dense / masked / CSR / BSR
(block-structured masks) and SciPy CSR, each beside the roofline bound of
``lthlib.experiments.sparse_bounds`` on this machine's calibrated peak and bandwidth, with every
format's measured and bound crossover density. About 3-5 minutes on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import os
import warnings

import scipy
import torch
import torch.nn.functional as F

from lthlib.core.streams import generator
from lthlib.core.threads import training_threads
from lthlib.experiments import sparse_bounds as sb
from lthlib.experiments import sparse_exec as se
from lthlib.models.networks import build_model, count_parameters

INPUT_SHAPES = {"lenet300_100": (784,), "mlp_mnist1d": (40,), "cnn_mnist1d": (40,), "conv2": (3, 32, 32)}
SHORT = {"dense": "dense", "masked": "masked", "csr": "CSR", "coo": "COO", "bsr": "BSR",
         "structured": "structured", "semi_structured": "2:4"}
MIN_SPEEDUP = 1.1  # a crossover must beat dense by more than the run-to-run noise (~5%)


def fmt_time(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def cell(row: dict) -> str:
    if row["unsupported"]:
        return "n/a"
    spread = (row["q75_s"] - row["q25_s"]) / row["median_s"] * 100
    return f"{fmt_time(row['median_s'])} ±{spread / 2:.0f}% **{row['speedup']:.2f}×**"


def machine() -> str:
    return (f"{sb.cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.backends.cpu.get_cpu_capability()}), {training_threads()} torch thread(s), "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")


def tables(rows: list[dict], formats: list[str]) -> str:
    out = []
    densities = sorted({r["density"] for r in rows}, reverse=True)
    for mode in dict.fromkeys(r["mode"] for r in rows):
        for batch in dict.fromkeys(r["batch_size"] for r in rows):
            out += [f"\n**{mode}, batch {batch}** (median ±half the interquartile range, "
                    "**speed-up over dense**)\n",
                    "| density | " + " | ".join(SHORT[f] for f in formats) + " |",
                    "|---:|" + "---:|" * len(formats)]
            for d in densities:
                found = {r["format"]: r for r in rows if r["density"] == d and r["mode"] == mode
                         and r["batch_size"] == batch}
                if any(f in found for f in formats):
                    out.append(f"| {d:g} | " + " | ".join(cell(found[f]) if f in found else ""
                                                          for f in formats) + " |")
    out += ["\n**weight bytes** (KiB; structured: a neuron mask of about this density)\n",
            "| density | " + " | ".join(SHORT[f] for f in formats) + " |", "|---:|" + "---:|" * len(formats)]
    for d in densities:
        size = {r["format"]: r["weight_bytes"] for r in rows if r["density"] == d}
        out.append(f"| {d:g} | " + " | ".join("" if f not in size else "n/a" if size[f] is None
                                              else f"{size[f] / 1024:,.0f}" for f in formats) + " |")
    keys = list(dict.fromkeys((r["mode"], r["batch_size"]) for r in rows))
    out += [f"\n**crossover density**: the highest density measured at which the format's median "
            f"is more than {MIN_SPEEDUP:g}× faster than dense (—: never)\n",
            "| format | " + " | ".join(f"{m}, batch {b}" for m, b in keys) + " |",
            "|---|" + "---:|" * len(keys)]
    for f in formats:
        if f != "dense":
            found = [se.crossover_density(rows, f, b, m, MIN_SPEEDUP) for m, b in keys]
            out.append(f"| {SHORT[f]} | " + " | ".join("—" if c is None else f"{c:g}" for c in found) + " |")
    reasons = dict.fromkeys(f"{SHORT[r['format']]} ({r['mode']}): {r['unsupported']}"
                            for r in rows if r["unsupported"])
    if reasons:
        out += ["\nn/a:\n"] + [f"- {reason}" for reason in reasons]
    return "\n".join(out)


def routes(repeats: int, densities: list[float], batch_sizes: list[int]) -> str:
    """One layer (LeNet's first, 784 -> 300) through each torch route to a sparse product,
    inference only: which kernel runs matters as much as the format. ``SparseLinear`` uses
    ``sparse.mm`` with a contiguous x^T: the route whose weight gradient stays sparse."""
    layer = build_model("lenet300_100", (784,), 10, seed=0).hidden[0]
    weight, bias = layer.weight.detach(), layer.bias.detach()
    out = [f"\n**one layer, 784 -> 300, inference: torch routes** (median; {repeats} repeats)\n",
           "| density | batch | dense `F.linear` | CSR `sparse.mm` (used) | CSR `F.linear` | "
           "COO `sparse.mm` (used) | COO `sparse.mm`, x^T not contiguous | BSR `sparse.mm` (used) | "
           "BSR `F.linear` |", "|---:|---:|" + "---:|" * 7]
    names = ["dense", "csr", "csr_linear", "coo", "coo_strided", "bsr", "bsr_linear"]
    for d in densities:
        w = weight * se.magnitude_mask(layer, d)["weight"]
        for batch in batch_sizes:
            with torch.inference_mode():  # build inside: F.linear on CSR refuses tensors from outside
                csr, coo, bsr = (se.to_layout(w, f) for f in ("csr", "coo", "bsr"))
                x = torch.randn(batch, 784, generator=generator(0, se.STREAM))
                xt = x.T.contiguous()
                calls = [lambda: F.linear(x, w, bias), lambda: torch.sparse.mm(csr, xt).T + bias,
                         lambda: F.linear(x, csr, bias), lambda: torch.sparse.mm(coo, xt).T + bias,
                         lambda: torch.sparse.mm(coo, x.T).T + bias,
                         lambda: torch.sparse.mm(bsr, xt).T + bias, lambda: F.linear(x, bsr, bias)]
                times = se.time_calls(dict(zip(names, calls)), repeats, 3, 1e-3)
            out.append(f"| {d:g} | {batch} | " + " | ".join(fmt_time(times[n].median_s) for n in names) + " |")
    return "\n".join(out)


def large(shape: tuple[int, int], densities: list[float], batch_sizes: list[int], threads: list[int],
          blocksize: int, repeats: int) -> str:
    """The large layer in every timed format at every thread count, beside its bound."""
    out, rows, machines = [], [], {}
    for n in threads:
        before = sb.calibrate(n)
        rows += sb.time_layer_formats(shape, densities, batch_sizes, blocksize=blocksize, threads=n,
                                      repeats=repeats)
        after = sb.calibrate(n, fresh=True)
        machines[n] = before.faster(after)
        out += [f"- {n} thread(s): before the timings: {before.describe()}; after: {after.describe()}"]
    bounded = sb.with_bounds(rows, machines)
    out = ["**calibration** (median and interquartile range of 7 repeats, before and after the timings; the "
           "bound uses the larger peak and the larger bandwidth of the two)\n", *out]
    b = next((r["blocksize"] for r in rows if r["format"] == "bsr"), blocksize)
    out += [f"\n**{shape[0]} x {shape[1]} fp32 layer, inference** ({repeats} repeats; speed-up: dense median "
            "over the format's; bound: the roofline's speed-up; attained: bound time / measured time; "
            f"BSR with {b} x {b} blocks of a block-structured mask, the others an unstructured mask; weights "
            "read cold, from memory)\n", sb.bound_table(bounded)]
    out += ["\n**weight bytes** (MiB as stored) and the copies each call rotates through\n",
            "| density | " + " | ".join(sb.FORMAT_LABELS[f] for f in sb.TIMED_FORMATS) + " |",
            "|---:|" + "---:|" * len(sb.TIMED_FORMATS)]
    for d in sorted({r["density"] for r in rows}, reverse=True):
        size = {r["format"]: (r["weight_bytes"], r["copies"]) for r in rows if r["density"] == d}
        out.append(f"| {100 * d:g}% | " + " | ".join(f"{size[f][0] / 2**20:.1f} (x{size[f][1]})" if f in size else ""
                                                    for f in sb.TIMED_FORMATS) + " |")
    out += ["\n**crossover density**: the highest density measured at which the format's median beat dense "
            f"(by > 1× and by > {MIN_SPEEDUP:g}×, the noise margin), and the bound's: the highest density at which "
            "any kernel could (—: never)\n",
            "| threads | batch | format | measured (> 1×) | measured (> 1.1×) | bound |",
            "|---:|---:|---|---:|---:|---:|"]
    best = []
    for n in threads:
        mine = [r for r in rows if r["threads"] == n]
        for batch in batch_sizes:
            for f in sb.TIMED_FORMATS[2:]:
                found = [se.crossover_density(mine, f, batch, "inference", m) for m in (1.0, MIN_SPEEDUP)]
                bound = sb.bound_crossover(machines[n], f, shape, batch, b if f == "bsr" else 1)
                out.append(f"| {n} | {batch} | {sb.FORMAT_LABELS[f]} | "
                           + " | ".join("—" if c is None else f"{100 * c:.3g}%" for c in (*found, bound)) + " |")
            winner = sb.best_crossover(mine, batch, n, MIN_SPEEDUP)
            best.append(f"- {n} thread(s), batch {batch}: " + ("no format beat dense by 1.1×" if winner is None else
                        f"{sb.FORMAT_LABELS[winner[0]]} beats dense by > 1.1× from {100 * winner[1]:g}% of the weights"
                        + (" (a block-structured mask)" if winner[0] == "bsr" else "")))
    out += ["\n**best kernel's crossover** (the format that beats dense at the highest density)\n", *best]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(INPUT_SHAPES), default="lenet300_100")
    parser.add_argument("--repeats", type=int, help="repeats per timing (default 20; --large: 15)")
    parser.add_argument("--densities", help="default 1,0.5,0.2,0.1,0.05,0.02,0.01 (--large: without 1)")
    parser.add_argument("--batch-sizes", help="default 1,256 (--large: 1,8)")
    parser.add_argument("--formats", default=",".join(se.FORMATS))
    parser.add_argument("--blocksize", type=int, help="largest BSR block side (default 4; --large: 16)")
    parser.add_argument("--large", action="store_true",
                        help="one large linear layer (--shape) beside its roofline bound, at --threads")
    parser.add_argument("--shape", default="4096x4096", help="--large: the layer's out x in")
    parser.add_argument("--threads", default="1,2", help="--large: torch thread counts")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-train", action="store_true", help="inference only")
    parser.add_argument("--routes", action="store_true",
                        help="only compare torch's sparse-matmul routes on one layer")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Sparse [A-Z]+ tensor support is in beta")
    densities = [float(d) for d in (args.densities or ("0.5,0.2,0.1,0.05,0.02,0.01" if args.large else
                                                       "1,0.5,0.2,0.1,0.05,0.02,0.01")).split(",")]
    batch_sizes = [int(b) for b in (args.batch_sizes or ("1,8" if args.large else "1,256")).split(",")]
    repeats = args.repeats or (15 if args.large else 20)
    if args.large:
        shape = tuple(int(n) for n in args.shape.lower().split("x"))
        threads = [int(n) for n in args.threads.split(",")]
        print(f"# One {shape[0]} x {shape[1]} linear layer beside its bound\n\n{machine().rsplit(', ', 2)[0]}, "
              f"torch threads {threads}, SciPy {scipy.__version__} (its sparse product uses one thread), "
              "denormals flushed\n")
        print(large(shape, densities, batch_sizes, threads, args.blocksize or 16, repeats))
        return
    if args.routes:
        torch.set_flush_denormal(True)  # as benchmark_formats does (see its docstring)
        print(f"{machine()}, denormals flushed\n{routes(repeats, densities, batch_sizes)}")
        return
    formats = args.formats.split(",")
    shape = INPUT_SHAPES[args.model]
    model = build_model(args.model, shape, 10, seed=0).to(args.device)
    print(f"# {args.model}, input {shape}: {count_parameters(model, prunable_only=True):,} prunable "
          f"weights\n\n{machine()}; device {args.device}; {repeats} repeats\n")
    rows = se.benchmark_formats(model, shape, densities, formats, batch_sizes, repeats=repeats,
                                train_step=not args.no_train, blocksize=args.blocksize or 4)
    print(tables(rows, formats))


if __name__ == "__main__":
    main()
