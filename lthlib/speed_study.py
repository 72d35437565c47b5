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

from lthlib.claims import Claim, spread, verdict_word
from lthlib.imp import IMPResult, IMPSettings, one_shot_mask
from lthlib.masks import Mask
from lthlib.sparse_bounds import (FORMAT_LABELS as LAYER_LABELS, Machine, best_crossover, bound_crossover,
                                  network_bound_s)
from lthlib.sparse_exec import (FORMAT_LABELS, crossover_density, denormals_flushed, inference_fn, masked_model,
                                sparse_model, structured_model, time_calls, train_step_fn)
from lthlib.sparse_training import SparseTrainingSettings, training_flops
from lthlib.store import Store
from lthlib.training import Run, TrainSettings, model_for, train

# --- reading the timings ------------------------------------------------------------

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
    """The speed-ups measured for networks that compute exactly what dense computes (masked
    and structured forms at 100% of weights, every network, batch and mode): ideally 1,
    so their spread is the timing noise a real speed-up must exceed."""
    return [r["speedup"] for rs in timings.values() for r in rs
            if r["format"] in ("masked", "structured") and r["density"] == 1.0 and r["speedup"] is not None]


ROUTES = ("ticket", "masked", "structured", "small")


def route_speedups(model: nn.Module, ticket: Mask, structured: Mask, small: nn.Module,
                   batch_sizes: Sequence[int], input_shape: Sequence[int], *, repeats: int = 20,
                   min_time: float = 1e-3, threads: int | None = None) -> dict[int, dict[str, tuple[float, str]]]:
    """Inference speed-up over ``model`` (dense, on the CPU) of each way to be small, per
    batch size: ``{batch: {route: (speed-up, how it runs)}}``. Routes (``ROUTES``): the
    ``ticket`` mask in the faster of CSR and COO (its label says which), the ticket
    ``masked`` (as trained), ``structured`` (``structured_model`` of that neuron mask) and
    ``small``, a dense network of the ticket's size. All forms of one batch size are timed
    side by side (``time_calls``), each speed-up the ratio of medians, denormals flushed."""
    with denormals_flushed(), torch.inference_mode():
        forms = {"dense": model, "csr": sparse_model(model, ticket, "csr"), "coo": sparse_model(model, ticket, "coo"),
                 "masked": masked_model(model, ticket), "structured": structured_model(model, structured),
                 "small": small}
        out = {}
        for b in batch_sizes:
            t = time_calls({k: inference_fn(m, b, input_shape) for k, m in forms.items()},
                           repeats=repeats, min_time=min_time, threads=threads)
            up = {k: t["dense"].median_s / v.median_s for k, v in t.items()}
            layout = max(("csr", "coo"), key=up.get)
            out[b] = {"ticket": (up[layout], FORMAT_LABELS[layout]), "masked": (up["masked"], ""),
                      "structured": (up["structured"], ""), "small": (up["small"], "")}
    return out


# --- what the papers measured, and notebook 08's answer --------------------------------

# The papers' speed measurements, quoted beside notebook 08's claims (their numbers, on their
# hardware: a GPU and a phone CPU, not the CPU the notebook times).
CROSSOVER_PAPER = (
    "Gale et al. 2020 (Sparse GPU Kernels for Deep Learning, abstract, Section I and Figure 1, the last on one "
    "LSTM-sized matrix product on an NVIDIA V100 GPU): at the moderate sparsity of deep networks, existing sparse "
    "kernels do not beat dense; their own CSR kernels beat dense from 71% sparsity, where the vendor library needed 14x fewer nonzeros "
    "(about 98% sparsity). This notebook's densities, 2% and 20% of weights, were fixed from that range before "
    "the run, for torch's CPU kernels.")
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
    accuracy claims at ``percent`` of weights, on ``network`` (the accuracy side's)."""
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
        "- **Is structured IMP as accurate as a small network trained from scratch** (within 1 point, as Liu et "
        "al. 2019 would have it)? " + _word(structured_vs_small, "yes", "no, more than 1 point less accurate",
                                            "not clearly") + ".",
    ]
    fast = [b for b in sorted(csr_faster) if verdict_word(csr_faster[b]) == "yes"]
    accurate = all(verdict_word(c) == "yes" for c in (ticket_vs_structured, ticket_vs_small))
    if fast and accurate:
        others = "".join(f", {verdict_word(csr_faster[b], '', 'not', 'not clearly')} at batch {b}"
                         for b in sorted(csr_faster) if b not in fast)
        closing = ("So sparsity can be fast here, but only in a sparse format and at a very low density: at 2% of "
                   f"the weights CSR beat dense at batch {', '.join(map(str, fast))}" + others
                   + "; and at its size the ticket is more accurate than the networks that are fast as plain dense "
                   "code.")
    elif accurate:
        closing = ("So the ticket is the more accurate network at its size, but this machine's sparse kernels do not "
                   "clearly make it faster than dense, while the networks that are fast as plain dense code are less "
                   "accurate at the same size.")
    else:
        closing = "So the verdicts do not give one simple answer here: read each of them above."
    return ("\n".join(lines) + "\n\n" + closing + " These are this CPU's torch kernels; the papers above measured "
            "tuned kernels on other hardware, and larger layers.")


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
                     f"{r['bound_speedup']:.1f}x ({_gap(r)}); the bound lets that format win {bound}")
    return f"On the {layer} layer, {threads} thread(s): " + "; ".join(parts) + "."


# --- every route to a small network at equal measured cost ----------------------------------

# The routes notebook 08 compares (section 5), in the figure's order, with colours.
ROUTE_LABELS = {"dense": "dense network", "small": "small dense network", "structured": "structured IMP",
                "ticket": "IMP ticket", "one_shot": "one-shot prune + fine-tune", "rigl": "RigL (1x training)",
                "rigl_5x": "RigL (5x training)", "pai": "best PaI method"}
ROUTE_COLORS = {"dense": "grey", "small": "C8", "structured": "C4", "ticket": "k", "one_shot": "C1",
                "rigl": "C9", "rigl_5x": "C0", "pai": "C3"}


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
    so a route with several forms leans a little optimistic."""
    with denormals_flushed(), torch.inference_mode():
        for b in batch_sizes:
            fns = {("dense", "dense"): inference_fn(dense, b, input_shape)}
            fns.update({(r.name, f): inference_fn(m, b, input_shape) for r in routes for f, m in r.forms.items()})
            t = time_calls(fns, repeats=repeats, min_time=min_time, threads=threads)
            for r in routes:
                up = {f: t["dense", "dense"].median_s / t[r.name, f].median_s for f in r.forms}
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
    return f"Every route at {percent:.1f}% of the weights (dense: all of them):\n\n" + "\n".join(lines)


def best_within(routes: Sequence[Route], key: Callable[[Route], float], limit: float) -> Route:
    """The most accurate route (mean over seeds) among those whose ``key`` is at least
    ``limit`` (speed) or, for a negative key, at most ``-limit`` (cost)."""
    return max((r for r in routes if key(r) >= limit), key=lambda r: float(np.mean(r.accuracy)))


def route_readings(routes: Sequence[Route], reference: str = "ticket", noise: float = 1.0) -> dict[str, Route]:
    """What the equal-speed and equal-cost comparisons find, against the ``reference`` route:
    per batch the most accurate route at least as fast as it (``"speed <b>"``; speeds within
    a factor ``noise`` of its own, the timing noise of identical networks, count as equal),
    and the most accurate route that cost no more measured training time (``"time"``) and
    no more multiply-adds (``"macs"``)."""
    ref = next(r for r in routes if r.name == reference)
    out: dict[str, Route] = {}
    for b in ref.speed:
        out[f"speed {b}"] = best_within(routes, lambda r, b=b: r.speed[b][0], ref.speed[b][0] / noise)
    out["time"] = best_within(routes, lambda r: -r.seconds, -ref.seconds)
    out["macs"] = best_within(routes, lambda r: -r.macs, -ref.macs)
    return out


def _route(r: Route) -> str:
    return f"{ROUTE_LABELS[r.name]} ({spread(r.accuracy)})"


def route_words(routes: Sequence[Route], ticket_bound: Mapping[int, float], noise: float = 1.0) -> str:
    """The reading of the routes: which wins at equal speed per batch (``noise``: as in
    ``route_readings``), at equal training time and multiply-adds, and where the ticket sits
    relative to its bound (``ticket_bound``: batch -> the bound's speed-up of the form the
    ticket ran fastest in)."""
    ticket = next(r for r in routes if r.name == "ticket")
    found = route_readings(routes, noise=noise)
    within = f", or within {noise - 1:.0%} of it" if noise > 1 else ""
    speed = "; ".join(f"at batch {b}, {_route(found[f'speed {b}'])} is the most accurate of the routes at least as "
                      f"fast as the ticket ({ticket.speed[b][0]:.2f}x{within})" for b in sorted(ticket.speed))
    bound = "; ".join(f"at batch {b}, {FORMAT_LABELS[ticket.picked[b]] if b in ticket.picked else 'its fastest form'}"
                      f", it runs {ticket.speed[b][0]:.2f}x where that form's bound allows {ticket_bound[b]:.1f}x"
                      for b in sorted(ticket_bound))
    return (f"**Equal speed:** {speed}. **Equal training cost:** among the routes that took no more training time "
            f"than the ticket ({ticket.seconds:.1f} s here), the most accurate is {_route(found['time'])}; among "
            f"those with no more multiply-adds ({ticket.macs:.2f} dense runs), {_route(found['macs'])}. "
            f"**The ticket and its bound:** {bound}.")


def conclusion(large: Sequence[Mapping], layer: str, threads: int, machine_words: str, routes: Sequence[Route],
               percent: float, network: str, min_speedup: float, claim: Claim | None = None) -> str:
    """Notebook 08's closing answer from its measurements, the objection's two halves apart:
    (a) does speed exist here (``large``: ``large_layer_rows`` of the kernels it names, e.g.
    the unstructured ones; the best against dense and its bound,
    and ``claim``, the large layer's claim fixed before the run, worded from its verdict),
    (b) is it practical (which route wins at equal speed and at equal training cost)."""
    wins = [r for r in large if r["format"] is not None]
    if wins:
        a = "; ".join(f"at batch {r['batch_size']}, {_kernel(r['format'])} beats dense by more than "
                      f"{min_speedup - 1:.0%} from {100 * r['density']:g}% density down ({r['speedup']:.2f}x there, "
                      f"{_gap(r)})" for r in wins)
        a = f"**(a) Speed exists.** On this CPU ({machine_words}), for the {layer} layer on {threads} thread(s): {a}."
    else:
        a = (f"**(a) Speed exists?** Not shown on this CPU ({machine_words}): no kernel beat dense by more than "
             f"{min_speedup - 1:.0%} on the {layer} layer at the densities timed.")
    if claim is not None:
        a += f" The claim fixed before the run, *{claim.claim}*: " + _word(claim, "yes", "no", "not clearly") + "."
    found = route_readings(routes, noise=min_speedup)
    b = "; ".join(f"at batch {k.split()[1]} the most accurate route at least as fast as the ticket (within "
                  f"{min_speedup - 1:.0%}) is {_route(v)}" for k, v in found.items() if k.startswith("speed"))
    b = (f"**(b) Is it practical?** For {network} at {percent:.1f}% of the weights: {b}; at no more training time "
         f"than the ticket it is {_route(found['time'])}.")
    return a + "\n\n" + b + (" These are this machine's torch and SciPy kernels; the published anchors above "
                             "measured purpose-built kernels on other hardware.")
