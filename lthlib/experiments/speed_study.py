"""Notebook 08's reading of its timings: speed-up panels, crossover tables, each format
beside its bound, the large layer's words, every route to a small network at equal
measured speed and cost, the papers it quotes and its rendered answer.

``sparse_exec`` builds and times the formats, ``sparse_bounds`` computes the physical
limit; this module turns their rows into what the notebook shows, so the notebook only
orchestrates and no sentence citing a result is typed by hand.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from lthlib.experiments.imp import IMPResult, IMPSettings, one_shot_mask
from lthlib.masks import Mask
from lthlib.report.claims import Claim, spread, verdict_word
from lthlib.experiments.sparse_bounds import (FORMAT_LABELS as LAYER_LABELS, Machine, best_crossover, bound_crossover,
                                  network_bound_s)
from lthlib.experiments.sparse_exec import (FORMAT_LABELS, crossover_density, denormals_flushed, inference_fn, masked_model,
                                sparse_model, structured_model, time_calls, train_step_fn)
from lthlib.core.store import Store
from lthlib.engine.training import Run, TrainSettings, model_for, train
from lthlib.methods.sparse_training import SparseTrainingSettings, training_flops

# --- reading the timings ------------------------------------------------------------

# One colour per format in every figure of notebook 08 (networks and the large layer alike).
FORMAT_COLORS = {"dense": "grey", "masked": "C0", "csr": "C1", "coo": "C2", "bsr": "C3", "structured": "C4",
                 "semi_structured": "C5", "scipy_csr": "C6"}

# The words figures and tables use for the timed networks.
MODEL_LABELS = {"lenet300_100": "LeNet-300-100", "cnn_mnist1d": "MNIST-1D CNN", "conv2": "Conv-2",
                "conv6": "Conv-6"}


def speedups(rows: Sequence[Mapping], fmt: str, batch_size: int, mode: str) -> tuple[list[float], list[float]]:
    """(densities, median speed-ups over dense) of one format, batch size and mode in
    ``benchmark_formats`` rows, from high density to low; rows that could not run (no
    speed-up) are left out, so a format that cannot run here has no points."""
    pts = sorted(((r["density"], r["speedup"]) for r in rows if r["format"] == fmt and r["batch_size"] == batch_size
                  and r["mode"] == mode and r["speedup"] is not None), reverse=True)
    return [p[0] for p in pts], [p[1] for p in pts]


def speedup_quartiles(rows: Sequence[Mapping], fmt: str, batch_size: int,
                      mode: str) -> tuple[list[float], list[float], list[float]]:
    """(densities, lower quartiles, upper quartiles) of the per-repeat speed-ups (each dense
    sample over the format's sample timed beside it) of one format, batch size and mode,
    from high density to low, as ``speedups`` orders them: how steady each median is."""
    pts = []
    for r in rows:
        if (r["format"] == fmt and r["batch_size"] == batch_size and r["mode"] == mode
                and r.get("speedup") is not None and r.get("samples")):
            ups = [d / f for d, f in zip(r["dense_samples"], r["samples"])]
            q25, _, q75 = statistics.quantiles(ups, n=4, method="inclusive") if len(ups) > 1 else ups * 3
            pts.append((r["density"], q25, q75))
    pts.sort(reverse=True)
    return [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]


def _panel_name(name: str, batch_size: int) -> str:
    return f"{MODEL_LABELS.get(name, name)}, batch {batch_size}"


def speedup_series(timings: Mapping[str, Sequence[Mapping]], formats: Sequence[str], batch_sizes: Sequence[int],
                   mode: str) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    """``{"<network>, batch <b>": {format label: (densities, speed-ups)}}`` for every network
    of ``timings`` (name -> ``benchmark_formats`` rows) and batch size: one panel each of
    ``plots.speedup_panels``; a format with no point in a panel is left out of it."""
    return _panels(timings, formats, batch_sizes, lambda rows, f, b: speedups(rows, f, b, mode))


def speedup_bands(timings: Mapping[str, Sequence[Mapping]], formats: Sequence[str], batch_sizes: Sequence[int],
                  mode: str) -> dict[str, dict[str, tuple[list[float], list[float], list[float]]]]:
    """``speedup_series``'s panels with ``speedup_quartiles`` in place of the medians: the
    interquartile band ``plots.speedup_panels`` shades around each line."""
    return _panels(timings, formats, batch_sizes, lambda rows, f, b: speedup_quartiles(rows, f, b, mode))


def _panels(timings: Mapping[str, Sequence[Mapping]], formats: Sequence[str], batch_sizes: Sequence[int],
            per_format: Callable[[Sequence[Mapping], str, int], tuple]) -> dict[str, dict[str, tuple]]:
    """``{"<network>, batch <b>": {format label: per_format(rows, format, b)}}``, a format with
    no point in a panel left out of it."""
    panels = {}
    for name, rows in timings.items():
        for b in batch_sizes:
            series = {FORMAT_LABELS[f]: per_format(rows, f, b) for f in formats}
            panels[_panel_name(name, b)] = {k: v for k, v in series.items() if v[0]}
    return panels


def crossover_table(timings: Mapping[str, Sequence[Mapping]], formats: Sequence[str], batch_sizes: Sequence[int],
                    mode: str, min_speedup: float = 1.0) -> str:
    """A Markdown table, a row per network and batch size, a column per format: its
    ``crossover_density`` (the highest density measured where it beat dense by more than
    ``min_speedup``), "never", or "cannot run here" when no row of it could run."""
    rows = ["| network | batch | " + " | ".join(FORMAT_LABELS[f] for f in formats) + " |",
            "|---|---|" + "---|" * len(formats)]
    for name, rs in timings.items():
        for b in batch_sizes:
            cells = []
            for f in formats:
                mine = [r for r in rs if r["format"] == f and r["batch_size"] == b and r["mode"] == mode]
                x = crossover_density(rs, f, b, mode, min_speedup=min_speedup)
                cells.append("cannot run here" if mine and all(r["speedup"] is None for r in mine)
                             else ("never" if x is None else f"{100 * x:g}%"))
            rows.append(f"| {MODEL_LABELS.get(name, name)} | {b} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def identical_speedups(timings: Mapping[str, Sequence[Mapping]]) -> list[float]:
    """The speed-ups measured for networks that do exactly the dense network's work: the
    masked form at every density (dense work, zeros multiplied) and the structured form at
    100% of weights, every network, batch and mode. Ideally 1, so their spread is the timing
    noise a real speed-up must exceed (taking only the 100% rows understates it)."""
    return [r["speedup"] for rs in timings.values() for r in rs if r["speedup"] is not None
            and (r["format"] == "masked" or (r["format"] == "structured" and r["density"] == 1.0))]


def layer_identical(rows: Sequence[Mapping]) -> list[float]:
    """``identical_speedups`` for one layer's ``sparse_bounds.with_bounds`` rows: the masked
    form's speed-ups at every density and batch (it does the dense work)."""
    return [r["speedup"] for r in rows if r["format"] == "masked" and r.get("speedup") is not None]


def noise_words(ups: Sequence[float], where: str) -> str:
    """"identical networks ... measured lo-hi x of dense": the noise band a reading quotes."""
    if not ups:
        return f"no identical network was timed {where}"
    return (f"identical networks {where} (the masked form, which does the dense work, at every density timed) "
            f"measured {min(ups):.2f}x to {max(ups):.2f}x of dense")


ROUTES = ("ticket", "masked", "structured", "small")


def route_speedups(model: nn.Module, ticket: Mask, structured: Mask, small: nn.Module,
                   batch_sizes: Sequence[int], input_shape: Sequence[int], *, repeats: int = 20,
                   min_time: float = 1e-3, threads: int | None = None) -> dict[int, dict[str, tuple[float, str]]]:
    """Inference speed-up over ``model`` (dense, on the CPU) of each way to be small, per
    batch size: ``{batch: {route: (speed-up, how it runs)}}``. Routes (``ROUTES``): the
    ``ticket`` mask in the faster of CSR and COO (its label says which), the ticket
    ``masked`` (as trained), ``structured`` (``structured_model`` of that neuron mask) and
    ``small``, a dense network of the ticket's size. All forms of one batch size are timed
    side by side (``time_calls``), each speed-up the ratio of medians, denormals flushed.
    Dense is timed twice in the same call and the faster median is the baseline (a
    dense median inflated by one stall inflates every speed-up; measured here: 8x once, on
    a shared 2-core machine); ``"dense_ms"``: (that baseline in ms, both medians in words)."""
    with denormals_flushed(), torch.inference_mode():
        forms = {"dense": model, "csr": sparse_model(model, ticket, "csr"), "coo": sparse_model(model, ticket, "coo"),
                 "masked": masked_model(model, ticket), "structured": structured_model(model, structured),
                 "small": small, "dense again": model}
        out = {}
        for b in batch_sizes:
            t = time_calls({k: inference_fn(m, b, input_shape) for k, m in forms.items()},
                           repeats=repeats, min_time=min_time, threads=threads)
            base = min(t["dense"].median_s, t["dense again"].median_s)
            up = {k: base / v.median_s for k, v in t.items()}
            layout = max(("csr", "coo"), key=up.get)
            out[b] = {"ticket": (up[layout], FORMAT_LABELS[layout]), "masked": (up["masked"], ""),
                      "structured": (up["structured"], ""), "small": (up["small"], ""),
                      "dense_ms": (1e3 * base, f"{1e3 * t['dense'].median_s:.3g} and "
                                               f"{1e3 * t['dense again'].median_s:.3g} ms")}
    return out


SIZE_ROUTES = {"ticket": "IMP ticket (sparse format)", "masked": "IMP ticket (masked, as trained)",
               "structured": "structured IMP", "small": "small dense network"}


def size_table(fast: Mapping[tuple[int, int], Mapping[str, tuple[float, str]]], accuracy: Mapping[str, np.ndarray],
               percents: Sequence[float], batch_sizes: Sequence[int]) -> str:
    """Notebook 08's section-5 table: a row per density and way to be small (``SIZE_ROUTES``),
    its accuracy (``accuracy[key]``: seeds x densities; the masked ticket reads the
    ticket's) and its speed-up per batch from ``fast[(batch, density index)]``
    (``route_speedups``' per-batch dicts), then dense's median (the baseline) per density."""
    rows = ["| weights | network | test accuracy (mean, min-max over seeds) | "
            + " | ".join(f"speed-up, batch {b}" for b in batch_sizes) + " |",
            "|---|---|---|" + "---|" * len(batch_sizes)]
    for i, p in enumerate(percents):
        for key, label in SIZE_ROUTES.items():
            a = np.asarray(accuracy["ticket" if key == "masked" else key])[:, i]
            cells = " | ".join(f"{fast[b, i][key][0]:.2f}x" + (f" ({fast[b, i][key][1]})" if fast[b, i][key][1]
                                                               else "") for b in batch_sizes)
            rows.append(f"| {p:.1f}% | {label} | {spread(a)} | {cells} |")
    base = "; ".join(f"{p:.1f}%: " + ", ".join(f"batch {b} {fast[b, i]['dense_ms'][1]}" for b in batch_sizes)
                     for i, p in enumerate(percents) if "dense_ms" in fast[batch_sizes[0], i])
    return "\n".join(rows) + (f"\n\nDense, timed twice beside the forms of each density (the faster is the "
                              f"baseline): {base}." if base else "")


def equal_speed_words(speeds: Mapping[str, Sequence[float]], accuracy: Mapping[str, np.ndarray],
                      percents: Sequence[float], batch: int, noise: float = 1.0,
                      reference: str = "ticket") -> str:
    """Section 5's reading at equal speed: for each density of the ``reference`` route, the
    most accurate point of every other route (``speeds[key]``: speed-up per density at
    ``batch``; ``accuracy[key]``: seeds x densities) that runs at least as fast (within a
    factor ``noise``), against the reference's own accuracy there. Means over seeds with
    min-max; descriptive, one timing of seed 0's networks."""
    ref_x = speeds[reference]
    ref_acc = np.asarray(accuracy[reference], dtype=float)
    parts = []
    for i, p in enumerate(percents):
        mine = f"at {p:.1f}% the ticket runs {ref_x[i]:.2f}x at {spread(ref_acc[:, i])}"
        others = []
        for key, xs in speeds.items():
            if key == reference:
                continue
            acc = np.asarray(accuracy[key], dtype=float)
            ok = [j for j, x in enumerate(xs) if x >= ref_x[i] / noise]
            if not ok:
                others.append(f"no {SIZE_ROUTES[key]} timed is as fast")
                continue
            j = max(ok, key=lambda j: acc[:, j].mean())
            better = acc[:, j].mean() > ref_acc[:, i].mean()
            others.append(f"{SIZE_ROUTES[key]} at {percents[j]:.1f}% runs {xs[j]:.2f}x at {spread(acc[:, j])}, "
                          + ("more" if better else "less") + " accurate")
        parts.append(mine + "; " + "; ".join(others))
    within = f" (or within {noise - 1:.0%} of it)" if noise > 1 else ""
    return (f"**What to see, at equal speed** (batch {batch}; for each of the ticket's densities, the most accurate "
            f"point of each other route that runs at least as fast{within}): " + ". ".join(parts) + ". The "
            "accuracy claims below compare the routes at equal weight count; these lines compare them at equal "
            "speed, which is what the objection is about. Speeds are one timing of seed 0's networks (medians of "
            "the repeats, no band), so read them beside the noise band printed in section 2.")


# --- what the papers measured, and notebook 08's answer --------------------------------

# The papers' speed measurements, quoted beside notebook 08's claims (their numbers, on their
# hardware: a GPU and a phone CPU, not the CPU the notebook times).
CROSSOVER_PAPER = (
    "Gale et al. 2020 (Sparse GPU Kernels for Deep Learning, arXiv abstract; NVIDIA V100 GPUs): existing sparse "
    "kernels, built for the very high sparsity of scientific computing, do not beat dense ones at the moderate "
    "sparsity of deep networks. Here torch's general-purpose CPU kernels play the part of those existing kernels "
    "(not of Gale et al.'s own, which were faster); the densities, 2% (very sparse) and 20% (moderately sparse) of "
    "weights, were fixed before the run.")
STRUCTURED_PAPER = (
    "Liu et al. 2019 (Rethinking the Value of Network Pruning, abstract): for the structured pruning methods they "
    "examined, training the pruned architecture from a random initialisation does as well as or better than "
    "fine-tuning it, and with the best learning rate the winning-ticket initialisation brings no improvement over "
    "a random one. The 1-point margin is this notebook's, not the paper's.")


def _word(claim: Claim | None, yes: str, no: str, unclear: str) -> str:
    if claim is None:
        return "not claimed at this scale"
    return f"{verdict_word(claim, yes, no, unclear)} (*{claim.stated}*)"


def answer(csr_faster: Mapping[int, Claim], csr_slower: Mapping[int, Claim], ticket_vs_structured: Claim,
           ticket_vs_small: Claim, structured_vs_small: Claim, percent: float, network: str) -> str:
    """Notebook 08's closing answer, worded from its claims' verdicts: ``csr_faster`` and
    ``csr_slower`` map a batch size to the claim "CSR is faster than dense at 2% of weights"
    and "slower at 20%" (absent at a scale that does not time those densities); the three
    accuracy claims at ``percent`` of weights, on ``network`` (the accuracy side's);
    ``structured_vs_small``: "a small network from scratch is no more than 1 point less
    accurate than structured IMP" (Liu et al.'s direction)."""
    batches = sorted(set(csr_faster) | set(csr_slower))

    def per_batch(claims: Mapping[int, Claim], yes: str, no: str) -> str:
        return "; ".join(f"batch {b}: {_word(claims.get(b), yes, no, 'not clearly')}" for b in batches)

    timing = ("The timing claims are not made at this scale (its densities do not include 2% and 20%)"
              if not batches else
              "In CSR (timed on LeNet-300-100), faster than dense at 2% of the weights? "
              + per_batch(csr_faster, "yes", "no, slower") + ". Slower than dense at 20%? "
              + per_batch(csr_slower, "yes", "no, faster"))
    lines = [
        "**The answer on this machine** (the verdict of each claim in *italics*).",
        "- **Is an unstructured ticket faster than its dense network?** Not as IMP trains it: a masked network does "
        "the dense network's work, zeros included. " + timing + ".",
        f"- **What does the speed cost in accuracy?** At {percent:.1f}% of the weights of {network}, the IMP ticket "
        "is more accurate than structured IMP: " + _word(ticket_vs_structured, "yes", "no, less accurate",
                                                         "not clearly")
        + "; than a small dense network of its size: " + _word(ticket_vs_small, "yes", "no, less accurate",
                                                                "not clearly") + ".",
        "- **Does a small network trained from scratch do as well as structured IMP** (no more than 1 point less "
        "accurate; Liu et al. 2019 find training the pruned architecture from scratch as good as or better than "
        "fine-tuning it)? " + _word(structured_vs_small, "yes", "no, more than 1 point less accurate",
                                    "not clearly") + ".",
    ]
    fast = [b for b in sorted(csr_faster) if verdict_word(csr_faster[b]) == "yes"]
    accurate = all(verdict_word(c) == "yes" for c in (ticket_vs_structured, ticket_vs_small))
    if fast and accurate:
        others = "".join(f", {verdict_word(csr_faster[b], '', 'not', 'not clearly')} at batch {b}"
                         for b in sorted(csr_faster) if b not in fast)
        closing = ("So sparsity can be fast here, but only in a sparse format and at a very low density: at 2% of "
                   f"the weights CSR beat dense at batch {', '.join(map(str, fast))}" + others
                   + "; and at equal weight count the ticket is more accurate than the networks that are fast as "
                   "plain dense code. Equal weight count is not equal speed: section 5's equal-speed lines and the "
                   "answer below compare the routes at the speed each delivers.")
    elif accurate:
        closing = ("So at equal weight count the ticket is the more accurate network, but this machine's sparse "
                   "kernels do not clearly make it faster than dense; equal weight count is not equal speed: "
                   "section 5's equal-speed lines and the answer below compare the routes at the speed each "
                   "delivers.")
    else:
        closing = "So the verdicts do not give one simple answer here: read each of them above."
    return ("\n".join(lines) + "\n\n" + closing + " These are this CPU's torch kernels; the papers above measured "
            "tuned kernels on other hardware, and larger layers. All timings here ran on the thread count printed at "
            "the top (one unless set): dense BLAS gains most from more threads while SciPy's sparse product stays "
            "single-threaded, so one thread is the case most favourable to sparse kernels (docs/sparse_formats.md "
            "has the 2-thread tables).")


# --- measured beside the bound -----------------------------------------------------------

def bound_series(bounds: Mapping[str, Sequence[Mapping]], formats: Sequence[str],
                 batch_sizes: Sequence[int]) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    """``speedup_series``'s panels for the bound (``sparse_bounds.network_bounds`` rows per
    network): the speed-up over dense no kernel of each format can beat, per density."""
    def per_format(rows: Sequence[Mapping], fmt: str, b: int) -> tuple[list[float], list[float]]:
        pts = sorted(((r["density"], r["bound_speedup"]) for r in rows
                      if r["format"] == fmt and r["batch_size"] == b), reverse=True)
        return [p[0] for p in pts], [p[1] for p in pts]
    return _panels(bounds, formats, batch_sizes, per_format)


def attained(timings: Mapping[str, Sequence[Mapping]], bounds: Mapping[str, Sequence[Mapping]],
             formats: Sequence[str], mode: str = "inference") -> list[dict]:
    """Per network, format, density and batch size where both exist: the measured median
    speed-up, the bound's, and their ratio ``share`` (1 = at the physical limit)."""
    out = []
    for name, rows in timings.items():
        limit = {(r["format"], r["density"], r["batch_size"]): r["bound_speedup"] for r in bounds.get(name, ())}
        for r in rows:
            key = (r["format"], r["density"], r["batch_size"])
            if r["format"] in formats and r["mode"] == mode and r.get("speedup") and key in limit:
                out.append(dict(network=name, format=r["format"], density=r["density"], batch_size=r["batch_size"],
                                speedup=r["speedup"], bound_speedup=limit[key], share=r["speedup"] / limit[key]))
    return out


def attained_words(rows: Sequence[Mapping], formats: Sequence[str] = ("csr", "coo", "bsr")) -> str:
    """How much of its bound's speed-up each sparse format reached at the lowest density
    timed of each network (where sparsity has the most to gain), per batch size: a sentence
    and a Markdown table."""
    lowest = {n: min(r["density"] for r in rows if r["network"] == n and r["format"] in formats)
              for n in dict.fromkeys(r["network"] for r in rows if r["format"] in formats)}
    mine = sorted((r for r in rows if r["format"] in formats and r["density"] == lowest.get(r["network"])),
                  key=lambda r: (list(lowest).index(r["network"]), r["batch_size"], formats.index(r["format"])))
    if not mine:
        return "No sparse format ran here, so no share of the bound is measured."
    lines = ["| network | batch | format | density | measured | bound | share of the bound |",
             "|---|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {MODEL_LABELS.get(r['network'], r['network'])} | {r['batch_size']} | {FORMAT_LABELS[r['format']]} | "
              f"{100 * r['density']:g}% | {r['speedup']:.2f}x | {r['bound_speedup']:.1f}x | {100 * r['share']:.0f}% |"
              for r in mine]
    shares = [r["share"] for r in mine]
    best = max(mine, key=lambda r: r["share"])
    return (f"**How much of the bound is attained.** At each network's lowest density timed, the sparse formats' "
            f"measured speed-ups are a median {100 * statistics.median(shares):.0f}% of what their bounds allow "
            f"(from {100 * min(shares):.0f}% to {100 * max(shares):.0f}%; the most, {FORMAT_LABELS[best['format']]} "
            f"on {MODEL_LABELS.get(best['network'], best['network'])} at batch {best['batch_size']})."
            + (" Above 100% the measurement beat the bound: the calibration caught the machine at a slower moment "
               "than the timing, or the weights stayed in cache." if max(shares) > 1 else "")
            + "\n\n" + "\n".join(lines))


def layer_panels(rows: Sequence[Mapping]) -> tuple[dict, dict]:
    """(panels, limits) for ``speed_plots.speedup_panels`` from ``sparse_bounds.with_bounds``
    rows of one layer: a panel per batch size, a line per timed format (measured median
    speed-up) and its bound's speed-up."""
    panels: dict[str, dict] = {}
    limits: dict[str, dict] = {}
    for b in sorted({r["batch_size"] for r in rows}):
        name = f"batch {b}"
        for fmt in dict.fromkeys(r["format"] for r in rows if r["format"] != "dense"):
            pts = sorted(((r["density"], r["speedup"], r["bound_speedup"]) for r in rows
                          if r["format"] == fmt and r["batch_size"] == b), reverse=True)
            panels.setdefault(name, {})[LAYER_LABELS[fmt]] = ([p[0] for p in pts], [p[1] for p in pts])
            limits.setdefault(name, {})[LAYER_LABELS[fmt]] = ([p[0] for p in pts], [p[2] for p in pts])
    return panels, limits


def large_layer_rows(rows: Sequence[Mapping], machine: Machine, min_speedup: float,
                     formats: Sequence[str] | None = None) -> list[dict]:
    """Per batch size (one thread count) of ``sparse_bounds.with_bounds`` rows of one layer:
    the kernel that beat dense by more than ``min_speedup`` at the highest density
    (``best_crossover``), that density, the bound's crossover for the same format, its
    measured and bound speed-ups there, how far from the bound it ran (bound / measured) and
    the share of its own bound dense attained there (a slow baseline inflates a speed-up).
    ``formats``: only these compete (e.g. the unstructured ones, leaving BSR's block mask out)."""
    rows = [r for r in rows if formats is None or r["format"] in ("dense", *formats)]
    out = []
    for b in sorted({r["batch_size"] for r in rows}):
        shape = (rows[0]["out_features"], rows[0]["in_features"])
        best = best_crossover(rows, b, machine.threads, min_speedup)
        if best is None:
            out.append(dict(batch_size=b, format=None))
            continue
        fmt, x = best
        at = [r for r in rows if r["batch_size"] == b and math.isclose(r["density"], x)]
        r = next(r for r in at if r["format"] == fmt)
        dense = next((r["attained"] for r in at if r["format"] == "dense" and "attained" in r), math.nan)
        out.append(dict(batch_size=b, format=fmt, density=x, speedup=r["speedup"], bound_speedup=r["bound_speedup"],
                        gap=r["bound_speedup"] / r["speedup"], dense_attained=dense,
                        bound_density=bound_crossover(machine, fmt, shape, b, r["blocksize"])))
    return out


def _kernel(fmt: str) -> str:
    return LAYER_LABELS[fmt] + (" on a block-structured mask" if fmt == "bsr" else "")


def _gap(r: Mapping) -> str:
    """How far a measured speed-up is from its bound, or why it passed it."""
    if r["gap"] >= 1:
        return f"{r['gap']:.1f}x from the bound"
    if r["dense_attained"] >= 1:
        return (f"above the bound, as dense itself was ({100 * r['dense_attained']:.0f}% of its bound): the "
                "calibration caught the machine at a busier moment than this timing, so read the bound as low here")
    return (f"above the bound: dense reached only {100 * r['dense_attained']:.0f}% of its own bound there, so the "
            "slow baseline inflates the speed-up")


def large_layer_words(best: Sequence[Mapping], layer: str, threads: int, min_speedup: float) -> str:
    """One sentence per batch size from ``large_layer_rows``."""
    parts = []
    for r in best:
        if r["format"] is None:
            parts.append(f"at batch {r['batch_size']} no kernel beat dense by more than {min_speedup - 1:.0%} at "
                         "any density timed")
            continue
        bound = "never" if r["bound_density"] is None else f"below {100 * r['bound_density']:.1f}%"
        parts.append(f"at batch {r['batch_size']}, {_kernel(r['format'])} beat dense by more than "
                     f"{min_speedup - 1:.0%} from {100 * r['density']:g}% of the weights down (the highest density "
                     f"timed where any kernel did), {r['speedup']:.2f}x there where the bound allows "
                     f"{r['bound_speedup']:.1f}x ({_gap(r)}); in principle the bound lets that format win {bound} "
                     "density")
    return f"On the {layer} layer, {threads} thread{'s' if threads != 1 else ''}: " + "; ".join(parts) + "."


# --- every route to a small network at equal measured cost ----------------------------------

# The routes notebook 08 compares (section 5), in the figure's order, with colours.
ROUTE_LABELS = {"dense": "dense network", "small": "small dense network", "structured": "structured IMP",
                "ticket": "IMP ticket", "one_shot": "one-shot prune + fine-tune", "rigl": "RigL (1x training)",
                "rigl_5x": "RigL (5x training)", "pai": "best PaI method"}
# Colours: the routes that run as a format take that format's colour (structured IMP is the
# structured form); the others take hues no format uses, so a colour means one thing in every figure.
ROUTE_COLORS = {"dense": "grey", "small": "C8", "structured": "C4", "ticket": "k", "one_shot": "goldenrod",
                "rigl": "C9", "rigl_5x": "teal", "pai": "navy"}


@dataclass
class Route:
    """One way to a network of the ticket's size: its accuracies (one per seed), the forms it
    could run in (``{format: module}``; the fastest is taken per batch), and its training as
    ``(iterations, mask or None, network[, sparse settings])`` pieces (None: dense; ``network``:
    "model" or "small"; RigL's settings add its dense-gradient updates to the multiply-adds).
    ``note``: how it was read or trained."""
    name: str
    accuracy: np.ndarray
    forms: dict[str, nn.Module]
    training: list[tuple]
    note: str = ""
    speed: dict[int, tuple[float, str]] = field(default_factory=dict)
    picked: dict[int, str] = field(default_factory=dict)
    seconds: float = math.nan
    macs: float = math.nan
    dense_ms: dict[int, tuple[float, float]] = field(default_factory=dict)


def sparse_forms(model: nn.Module, mask: Mask) -> dict[str, nn.Module]:
    """The forms a masked network can run in on a CPU: masked (dense + zeros), CSR, COO."""
    return {"masked": masked_model(model, mask), "csr": sparse_model(model, mask, "csr"),
            "coo": sparse_model(model, mask, "coo")}


def ticket_training(imp: IMPResult, rounds: int) -> list[tuple[int, Mask | None, str]]:
    """The trainings an IMP ticket of round ``rounds`` paid for: the dense run, then each
    round's retraining from the rewind iteration at its mask."""
    t = imp.settings.train.iterations
    return [(t, None, "model")] + [(t - imp.settings.rewind_iteration, imp.rounds[q].mask, "model")
                                   for q in range(rounds)]


def run_one_shot_finetune(imp_settings: IMPSettings, imp: Sequence[IMPResult], round_: int, data,
                          iterations: int, store: Store | None = None) -> list[Run]:
    """One-shot magnitude pruning of each seed's trained dense network to round ``round_``'s
    per-layer densities (``imp.one_shot_mask``), then ``iterations`` steps of fine-tuning
    from the trained weights at the training settings' learning rate; read from the store
    (kind "route_finetune") or trained and stored without weights."""
    store = store if store is not None else Store(None)
    runs = []
    for res in imp:
        ts = res.settings.train.replace(iterations=int(iterations))
        extra = {"dense": res.settings.train.digest(), "round": int(round_), "scope": imp_settings.scope}

        def compute(res: IMPResult = res, ts: TrainSettings = ts) -> Run:
            mask = one_shot_mask(res.dense.final_state, res.rounds[round_ - 1].mask, imp_settings.scope,
                                 imp_settings.exclude)
            model = model_for(ts, data)
            model.load_state_dict(res.dense.final_state)
            run = train(model, data, ts, mask, progress=False)
            return Run.from_dict({**run.to_dict(), "final_state": {}, "weights_at": {}})

        runs.append(store.get_or_compute("route_finetune", ts, compute, extra=extra))
    return runs


def time_routes(routes: Sequence[Route], dense: nn.Module, batch_sizes: Sequence[int], input_shape: Sequence[int],
                *, repeats: int = 15, min_time: float = 1e-3, threads: int | None = None) -> None:
    """Set each route's ``speed``: ``{batch: (inference speed-up over ``dense``, format)}``, its
    fastest form's, every form of every route timed side by side with dense per batch
    (``time_calls``), denormals flushed. The fastest form is picked on these same timings,
    so a route with several forms leans a little optimistic. Dense is timed twice in the same
    call (first and last) and the faster median is the baseline, as in ``route_speedups``;
    each route's ``dense_ms[b]`` keeps both medians (ms), so a slow baseline shows."""
    with denormals_flushed(), torch.inference_mode():
        for b in batch_sizes:
            fns = {("baseline", "dense"): inference_fn(dense, b, input_shape)}
            fns.update({(r.name, f): inference_fn(m, b, input_shape) for r in routes for f, m in r.forms.items()
                        if r.name != "dense"})
            fns["baseline", "again"] = inference_fn(dense, b, input_shape)
            t = time_calls(fns, repeats=repeats, min_time=min_time, threads=threads)
            both = (t["baseline", "dense"].median_s, t["baseline", "again"].median_s)
            base = min(both)
            for r in routes:
                r.dense_ms[b] = (1e3 * both[0], 1e3 * both[1])
                if r.name == "dense":  # the baseline itself
                    r.speed[b], r.picked[b] = (1.0, ""), next(iter(r.forms))
                    continue
                up = {f: base / t[r.name, f].median_s for f in r.forms}
                f = max(up, key=up.get)
                r.speed[b] = (up[f], "" if f in ("dense", "masked") else FORMAT_LABELS[f])
                r.picked[b] = f


def routes_for(trained: nn.Module, small: nn.Module, imp: IMPResult, round_: int, accuracy: Mapping[str, np.ndarray],
               masks: Mapping[str, Mask], structured: Mask, rigl: SparseTrainingSettings,
               notes: Mapping[str, str]) -> list[Route]:
    """Notebook 08's routes (``ROUTE_LABELS``; those in ``accuracy`` only) to a network of IMP
    round ``round_``'s size, each with its forms (built from ``trained``, the dense network,
    with seed 0's mask of that route from ``masks``: speed depends on where weights are
    kept, not on their values) and its training: dense one run; small dense one run of
    ``small``; the ticket and structured IMP the dense run and every round's retraining
    (structured IMP prunes level by level to the ticket's densities, counted at the ticket's
    masks); one-shot the dense run and a fine-tune as long; RigL one run at 1x or 5x the
    iterations with ``rigl``'s dense-gradient updates; PaI one masked run."""
    t = imp.settings.train.iterations
    ticket = ticket_training(imp, round_)
    plans = {"dense": ({"dense": trained}, [(t, None, "model")]),
             "small": ({"dense": small}, [(t, None, "small")]),
             "structured": ({"dense": structured_model(trained, structured)}, ticket),
             "ticket": (None, ticket),
             "one_shot": (None, [(t, None, "model"), (t, masks.get("one_shot"), "model")]),
             "rigl": (None, [(t, masks.get("rigl"), "model", rigl)]),
             "rigl_5x": (None, [(5 * t, masks.get("rigl_5x"), "model", rigl)]),
             "pai": (None, [(t, masks.get("pai"), "model")])}
    return [Route(name, np.asarray(accuracy[name], dtype=float),
                  forms if forms is not None else sparse_forms(trained, masks[name]), training, notes.get(name, ""))
            for name, (forms, training) in plans.items() if name in accuracy]


def route_bounds(route: Route, dense: nn.Module, input_shape: Sequence[int], machine: Machine) -> dict[int, float]:
    """Per batch timed, the bound's speed-up over ``dense`` of the form ``route`` ran fastest
    in (``time_routes``): where the route sits relative to the physical limit."""
    return {b: network_bound_s(dense, input_shape, b, machine)
            / network_bound_s(route.forms[f], input_shape, b, machine) for b, f in route.picked.items()}


def cost_routes(routes: Sequence[Route], model: nn.Module, small: nn.Module, input_shape: tuple[int, ...],
                batch_size: int, *, repeats: int = 10, threads: int | None = None) -> dict[str, float]:
    """Set each route's training ``macs`` (``sparse_training.training_flops`` of each piece, in
    multiples of one dense training run) and ``seconds`` (each piece's iterations times the
    step time of the network it trains, measured here: lthlib trains every sparse route
    masked, so its step is the masked dense step). Returns the step seconds measured."""
    masks = [m for r in routes for _, m, *_ in r.training if m is not None]
    steps = {"dense": train_step_fn(masked_model(model, Mask.ones_like(model)), batch_size, input_shape),
             "masked": train_step_fn(masked_model(model, masks[-1]), batch_size, input_shape, masks[-1]),
             "small": train_step_fn(masked_model(small, Mask.ones_like(small)), batch_size, input_shape)}
    t = {k: v.median_s for k, v in time_calls(steps, repeats=repeats, min_time=1e-3, threads=threads).items()}
    one = training_flops(model, input_shape, 1, batch_size)
    dense_run = max(i for r in routes for i, m, n, *_ in r.training if m is None and n == "model") * one
    for r in routes:
        r.macs = sum(training_flops(small if n == "small" else model, input_shape, i, batch_size, mask=m,
                                    settings=rest[0] if rest else None) for i, m, n, *rest in r.training) / dense_run
        r.seconds = sum(i * t["small" if n == "small" else ("dense" if m is None else "masked")]
                        for i, m, n, *_ in r.training)
    return t


def route_table(routes: Sequence[Route], percent: float) -> str:
    """A Markdown row per route: accuracy (mean, min-max over its seeds), inference speed-up
    per batch (and the format), training time measured here and multiply-adds."""
    batches = sorted(routes[0].speed)
    lines = ["| route | seeds | test accuracy | " + " | ".join(f"speed-up, batch {b}" for b in batches)
             + " | training time | training multiply-adds (dense runs) | how |",
             "|---|---:|---|" + "---:|" * len(batches) + "---:|---:|---|"]
    for r in routes:
        cells = " | ".join(f"{r.speed[b][0]:.2f}x" + (f" ({r.speed[b][1]})" if r.speed[b][1] else "")
                           for b in batches)
        lines.append(f"| {ROUTE_LABELS[r.name]} | {len(r.accuracy)} | {spread(r.accuracy)} | {cells} | "
                     f"{r.seconds:.1f} s | {r.macs:.2f} | {r.note} |")
    base = "; ".join(f"batch {b}: {r0:.3g} and {r1:.3g} ms" for b, (r0, r1) in sorted(routes[0].dense_ms.items()))
    return (f"Every route at {percent:.1f}% of the weights (dense: all of them):\n\n" + "\n".join(lines)
            + "\n\nSpeed-ups: each route's fastest form against dense, all timed side by side in one call per batch;"
            + (f" dense was timed twice in that call ({base}) and the faster is the baseline." if base else "")
            + " Training time counts each sparse route trained masked, at a dense step's cost (lthlib trains "
            "that way); multiply-adds count only the kept weights' work, plus RigL's dense-gradient updates. "
            "One-shot + fine-tune retrains as many iterations as the dense run, at the original learning-rate "
            "schedule: learning-rate rewinding (Renda et al. 2020), a strong baseline, not a low-rate fine-tune.")


def best_within(routes: Sequence[Route], key: Callable[[Route], float], limit: float) -> Route | None:
    """The most accurate route (mean over seeds) among those whose ``key`` is at least
    ``limit`` (speed) or, for a negative key, at most ``-limit`` (cost); None if none is."""
    ok = [r for r in routes if key(r) >= limit]
    return max(ok, key=lambda r: float(np.mean(r.accuracy))) if ok else None


def _mean(r: Route) -> float:
    return float(np.mean(r.accuracy))


def route_readings(routes: Sequence[Route], reference: str = "ticket", noise: float = 1.0) -> dict:
    """What the equal-speed and equal-cost comparisons find against the ``reference`` route,
    among the routes that deliver a network smaller than dense (the dense network, always the
    most accurate and never faster, compares nothing): per batch the most accurate route at
    least as fast (``"speed <b>"``; speeds within a factor ``noise`` of the reference's, the
    timing noise of identical networks, count as equal; None if none), the most accurate
    that cost no more measured training time (``"time"``) and no more multiply-adds
    (``"macs"``), and ``"dominates"``: the routes at least as fast at every batch, no more
    costly in time and multiply-adds, and more accurate (mean over seeds) than the reference."""
    ref = next(r for r in routes if r.name == reference)
    small = [r for r in routes if r.name != "dense"]
    out: dict = {}
    for b in ref.speed:
        out[f"speed {b}"] = best_within(small, lambda r, b=b: r.speed[b][0], ref.speed[b][0] / noise)
    out["time"] = best_within(small, lambda r: -r.seconds, -ref.seconds)
    out["macs"] = best_within(small, lambda r: -r.macs, -ref.macs)
    out["dominates"] = [r for r in small if r is not ref and _mean(r) > _mean(ref)
                        and all(r.speed[b][0] >= ref.speed[b][0] / noise for b in ref.speed)
                        and r.seconds <= ref.seconds and r.macs <= ref.macs]
    return out


def _route(r: Route) -> str:
    return f"{ROUTE_LABELS[r.name]} ({spread(r.accuracy)}, {len(r.accuracy)} seeds)"


def _above_bound(speed: float, bound: float) -> str:
    if speed <= bound:
        return f"{bound / speed:.1f}x below that bound"
    return ("above that bound: no kernel beats the limit, so either the dense baseline ran slow in this timing or "
            "the calibration read the machine low; read it as this run's noise, not as a fast kernel")


def practical_words(routes: Sequence[Route], noise: float = 1.0) -> str:
    """The practical half from the route table, against the ticket: at batch 1, whether it
    runs faster than dense at all; per larger batch, the most accurate smaller route at
    least as fast; how small dense and structured IMP compare at that speed; equal training
    time; and a closing yes/no: is any route at least as fast, no more costly and more
    accurate (descriptive: routes' seeds differ, see the table)."""
    ticket = next(r for r in routes if r.name == "ticket")
    dense = next((r for r in routes if r.name == "dense"), None)
    found = route_readings(routes, noise=noise)
    within = f" (or within {noise - 1:.0%} of it)" if noise > 1 else ""
    parts = []
    for b in sorted(ticket.speed):
        x = ticket.speed[b][0]
        if x < noise:
            words = (f"at batch {b} the ticket runs no faster than dense ({x:.2f}x, within the noise"
                     + (f"; the dense network is more accurate, {_route(dense)}" if dense is not None
                        and _mean(dense) > _mean(ticket) else "") + "), so equal speed there means the dense network")
        else:
            best = found[f"speed {b}"]
            words = (f"at batch {b} the ticket runs {x:.2f}x ({ticket.speed[b][1] or 'masked'}); the most accurate "
                     f"smaller route at least as fast{within} is {_route(best)}")
            rivals = [r for r in routes if r.name in ("small", "structured")]
            for r in rivals:
                rel = "faster" if r.speed[b][0] >= x / noise else "slower"
                acc = "more" if _mean(r) > _mean(ticket) else "less"
                words += f"; {ROUTE_LABELS[r.name]} runs {r.speed[b][0]:.2f}x ({rel}), {acc} accurate than the ticket"
        parts.append(words)
    time_best = found["time"]
    cost = (f"Among the smaller routes that took no more training time than the ticket ({ticket.seconds:.1f} s "
            f"here), the most accurate is {_route(time_best)}." if time_best is not None else "")
    dom = found["dominates"]
    if dom:
        best = max(dom, key=_mean)
        verdict = (f"**Is a sparse ticket the practical route here? No, not on this machine:** {_route(best)} is at "
                   f"least as fast at every batch timed{within}, took no more training time ({best.seconds:.1f} s "
                   f"against {ticket.seconds:.1f} s) and no more multiply-adds ({best.macs:.2f} against "
                   f"{ticket.macs:.2f} dense runs), and is more accurate than the ticket ({_route(ticket)})"
                   + (f"; so are {', '.join(ROUTE_LABELS[r.name] for r in dom if r is not best)}" if len(dom) > 1
                      else "") + ". Descriptive: means over the seeds each route has, one timing of seed 0's masks.")
    else:
        verdict = ("**Is a sparse ticket the practical route here?** No route measured is at the same time at least "
                   f"as fast at every batch{within}, no more costly to train and more accurate than the ticket "
                   f"({_route(ticket)}): on this machine the ticket is on the front of speed, cost and accuracy "
                   "(descriptive: means over the seeds each route has, one timing of seed 0's masks).")
    return "; ".join(parts) + ". " + cost + " " + verdict


def route_words(routes: Sequence[Route], ticket_bound: Mapping[int, float], noise: float = 1.0) -> str:
    """Section 6's reading: ``practical_words``, then where the ticket sits relative to its
    bound (``ticket_bound``: batch -> the bound's speed-up of the form the ticket ran fastest
    in; at batch 1 also the best sparse format's, when the masked form was fastest)."""
    ticket = next(r for r in routes if r.name == "ticket")
    bound = "; ".join(f"at batch {b}, {FORMAT_LABELS[ticket.picked[b]] if b in ticket.picked else 'its fastest form'}"
                      f", it runs {ticket.speed[b][0]:.2f}x, {_above_bound(ticket.speed[b][0], ticket_bound[b])} "
                      f"({ticket_bound[b]:.1f}x)" for b in sorted(ticket_bound))
    return f"**At equal speed and cost:** {practical_words(routes, noise)}\n\n**The ticket and its bound:** {bound}."


def conclusion(large: Sequence[Mapping], layer: str, threads: int, machine_words: str, routes: Sequence[Route],
               percent: float, network: str, min_speedup: float, claim: Claim | None = None,
               noise: Sequence[float] = ()) -> str:
    """Notebook 08's closing answer from its measurements, the objection's two halves apart.
    (a) Does speed exist here: its heading is the verdict of ``claim``, the large layer's
    claim fixed before the run ("yes" only when it holds); ``large`` (``large_layer_rows`` of
    the kernels it names) is given after it as a description of this run's medians, beside
    ``noise`` (``layer_identical``: what identical networks measured on that layer).
    (b) Is it practical: ``practical_words`` of the routes."""
    threads_w = f"{threads} thread{'s' if threads != 1 else ''}"
    if claim is None:
        head = "**(a) Does speed exist?** No claim was fixed for this scale."
    else:
        v = verdict_word(claim, "yes", "no", "not shown")
        head = {"yes": "**(a) Speed exists: yes, on this run.**",
                "no": "**(a) Speed exists: no, on this run.**"}.get(
            v, "**(a) Speed exists? Not shown on this run.**")
        head += (f" The claim fixed before the run, *{claim.claim}*: " + _word(claim, "yes", "no", "not clearly")
                 + ".")
    wins = [r for r in large if r["format"] is not None]
    band = noise_words(noise, f"on the {layer} layer")
    if wins:
        desc = "; ".join(f"at batch {r['batch_size']}, {_kernel(r['format'])} beat dense by more than "
                         f"{min_speedup - 1:.0%} from {100 * r['density']:g}% density down ({r['speedup']:.2f}x "
                         f"there, {_gap(r)})" for r in wins)
        desc = (f"What this run measured, as a description (medians of this run; {band}, so a median crossover "
                f"inside that band is not a finding): {desc}.")
    else:
        desc = (f"What this run measured: no kernel beat dense by more than {min_speedup - 1:.0%} at the densities "
                f"timed ({band}).")
    a = (f"{head} On this CPU ({machine_words}), the {layer} layer on {threads_w}. {desc} One thread is the case "
         "most favourable to sparse kernels: dense BLAS gains most from more threads, SciPy's product stays "
         "single-threaded (docs/sparse_formats.md has the 2-thread tables, and why no other CPU sparse library, "
         "such as sparse_dot_mkl, is used here).")
    b = f"**(b) Is it practical?** For {network} at {percent:.1f}% of the weights: {practical_words(routes, min_speedup)}"
    return a + "\n\n" + b + (" These are this machine's torch and SciPy kernels; the published anchors above "
                               "measured purpose-built kernels on other hardware.")
