"""Notebook 08's reading of its timings: speed-up panels, crossover tables, each format
beside its bound, the large layer's words, the papers it quotes and its rendered answer
(the routes to a small network at equal measured speed and cost are ``speed_routes``).

``sparse_exec`` builds and times the formats, ``sparse_bounds`` computes the physical
limit; this module turns their rows into what the notebook shows, so the notebook only
orchestrates and no sentence citing a result is typed by hand.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence

from lthlib.experiments.sparse_bounds import FORMAT_LABELS as LAYER_LABELS
from lthlib.experiments.sparse_bounds import Machine, best_crossover, bound_crossover
from lthlib.experiments.sparse_exec import FORMAT_LABELS, crossover_density
from lthlib.experiments.speed_routes import Route, practical_words
from lthlib.report.claims import Claim, verdict_word

# --- reading the timings ------------------------------------------------------------

# One colour per format in every figure of notebook 08 (networks and the large layer alike).
FORMAT_COLORS = {"dense": "grey", "masked": "C0", "csr": "C1", "coo": "C2", "bsr": "C3", "structured": "C4",
                 "semi_structured": "C5", "scipy_csr": "C6"}

# The words figures and tables use for the timed networks.
MODEL_LABELS = {"lenet300_100": "LeNet-300-100", "cnn_mnist1d": "MNIST-1D CNN", "conv2": "Conv-2",
                "conv6": "Conv-6", "mlp_mnist1d": "MNIST-1D MLP"}


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


def identical_rows(timings: Mapping[str, Sequence[Mapping]], mode: str = "inference") -> list[tuple[float, str]]:
    """(speed-up, which row) of every network that does exactly the dense network's work in
    ``mode``: the masked form at every density (dense work, zeros multiplied) and the
    structured form at 100% of weights, every network and batch. Inference only by default:
    a masked training step does more (it masks the gradients), so its distance from 1x is
    partly work, not noise. Ideally 1x, so their spread is the timing noise a real speed-up
    must exceed (taking only the 100% rows understates it)."""
    return [(r["speedup"], f"{FORMAT_LABELS[r['format']]}, {MODEL_LABELS.get(n, n)}, {100 * r['density']:g}%, "
             f"batch {r['batch_size']}") for n, rs in timings.items() for r in rs
            if r["speedup"] is not None and r["mode"] == mode
            and (r["format"] == "masked" or (r["format"] == "structured" and r["density"] == 1.0))]


def identical_speedups(timings: Mapping[str, Sequence[Mapping]], mode: str = "inference") -> list[float]:
    """The speed-ups of ``identical_rows``."""
    return [u for u, _ in identical_rows(timings, mode)]


def band_words(timings: Mapping[str, Sequence[Mapping]], mode: str = "inference") -> str:
    """"0.93x (the row) to 1.07x (the row)": the noise band of ``identical_rows`` with the
    rows that give its two ends."""
    rows = identical_rows(timings, mode)
    if not rows:
        return "nothing (no identical network was timed)"
    (lo, lo_row), (hi, hi_row) = min(rows), max(rows)
    return f"{lo:.2f}x ({lo_row}) to {hi:.2f}x ({hi_row})"


def crossover_words(timings: Mapping[str, Sequence[Mapping]], formats: Sequence[str], batch_sizes: Sequence[int],
                    min_speedup: float, large: Sequence[Mapping] = (), layer: str = "") -> str:
    """Where a sparse format (any of ``formats``) beat dense by more than ``min_speedup`` in
    inference: per network and batch the highest density timed where one did, and which
    format (or "at no density timed, down to" the lowest); then the large layer's
    (``large_layer_rows``, ``layer`` its shape) per batch. Rendered from the crossovers, so
    a closing sentence is scoped to what was measured."""
    parts = []
    for name, rs in timings.items():
        low = min((r["density"] for r in rs if r["format"] in formats), default=None)
        if low is None:
            continue
        per = []
        for b in batch_sizes:
            won = [(x, f) for f in formats if (x := crossover_density(rs, f, b, "inference", min_speedup)) is not None]
            per.append(f"batch {b}: " + (f"{FORMAT_LABELS[max(won)[1]]} at {100 * max(won)[0]:g}% of the weights"
                                         if won else f"at no density timed (down to {100 * low:g}%)"))
        parts.append(f"on {MODEL_LABELS.get(name, name)}, " + ", ".join(per))
    for r in large:
        parts.append(f"on the {layer} layer at batch {r['batch_size']}, " + (
            f"{LAYER_LABELS[r['format']]} at {100 * r['density']:g}%" if r["format"] is not None
            else "at no density timed"))
    return (f"a sparse format beat dense by more than {min_speedup - 1:.0%} (the highest density timed where one "
            "did) " + "; ".join(parts))


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


# --- what the papers measured, and notebook 08's answer --------------------------------

# The papers' speed measurements, quoted beside notebook 08's claims (their numbers, on their
# hardware: a GPU and a phone CPU, not the CPU the notebook times).
CROSSOVER_PAPER = (
    "Gale et al. 2020 (Sparse GPU Kernels for Deep Learning, arXiv abstract; NVIDIA V100 GPUs): existing sparse "
    "kernels are not able to outperform their dense counterparts at the moderate sparsity of deep networks. Here "
    "torch's general-purpose CPU kernels play the part of those existing kernels (not of Gale et al.'s own, which "
    "were faster); 20% of the weights (80% sparsity) stands for moderate sparsity, fixed before the run.")
# The 2% rows are this notebook's diagnostic, not the paper's: Gale et al. say the existing kernels are
# "primarily optimized for scientific applications, where matrices are extremely (99%) sparse", not that they
# beat dense there.
VERY_SPARSE_NOTE = (
    "Diagnostic, not a paper's claim: does torch's CSR beat dense when very sparse (2% of the weights, fixed "
    "before the run)? Gale et al. 2020 say only that existing kernels were built for extremely (99%) sparse "
    "matrices, not that they beat dense there.")
STRUCTURED_PAPER = (
    "Liu et al. 2019 (Rethinking the Value of Network Pruning, abstract), its second finding: with the best "
    "learning rate, the winning-ticket initialisation brings no improvement over a random one. Tested here as a "
    "narrowed network from a random initialisation against structured IMP, whose pruned network is rewound to "
    "the dense run's initial weights and retrained (not fine-tuned: their first finding, training from scratch "
    "against fine-tuning, is not tested). The 1-point margin is this notebook's, not the paper's.")


def _word(claim: Claim | None, yes: str, no: str, unclear: str) -> str:
    if claim is None:
        return "not claimed at this scale"
    return f"{verdict_word(claim, yes, no, unclear)} (*{claim.stated}*)"


def answer(csr_faster: Mapping[int, Claim], csr_slower: Mapping[int, Claim], ticket_vs_structured: Claim,
           ticket_vs_small: Claim, structured_vs_small: Claim, percent: float, network: str,
           crossovers: str = "") -> str:
    """Notebook 08's closing answer, worded from its claims' verdicts: ``csr_faster`` and
    ``csr_slower`` map a batch size to the claim "CSR is faster than dense at 2% of weights"
    and "slower at 20%" (absent at a scale that does not time those densities); the three
    accuracy claims at ``percent`` of weights, on ``network`` (the accuracy side's);
    ``structured_vs_small``: "a small network from scratch is no more than 1 point less
    accurate than structured IMP" (Liu et al.'s second finding's direction). ``crossovers``:
    ``crossover_words``, which scopes the closing to the networks, layers and densities
    measured."""
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
        "- **Does a small network from a random initialisation do as well as structured IMP, rewound and "
        "retrained** (no more than 1 point less accurate; Liu et al. 2019: with the best learning rate the "
        "winning-ticket initialisation brings no improvement over a random one)? " + _word(structured_vs_small, "yes", "no, more than 1 point less accurate",
                                    "not clearly") + ".",
    ]
    fast = [b for b in sorted(csr_faster) if verdict_word(csr_faster[b]) == "yes"]
    accurate = all(verdict_word(c) == "yes" for c in (ticket_vs_structured, ticket_vs_small))
    if fast and accurate:
        others = "".join(f", {verdict_word(csr_faster[b], '', 'not', 'not clearly')} at batch {b}"
                         for b in sorted(csr_faster) if b not in fast)
        where = (f"{crossovers[0].upper()}{crossovers[1:]}" if crossovers else
                 f"At 2% of the weights CSR beat dense at batch {', '.join(map(str, fast))}" + others)
        closing = ("So sparsity can be fast here, but only in a sparse format, and below a density that depends on "
                   f"the network, the layer and the batch. {where}. And at equal weight count the ticket is more accurate than the networks that are fast as "
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
            "single-threaded, so one thread is the case most favourable to sparse kernels (an argument, not a "
            "measurement: this machine's 2-thread timings in docs/sparse_formats.md measure its scheduler, not the "
            "kernels).")


# --- measured beside the bound -----------------------------------------------------------

def ceiling_series(timings: Mapping[str, Sequence[Mapping]], bounds: Mapping[str, Sequence[Mapping]],
                   formats: Sequence[str], batch_sizes: Sequence[int]) -> dict[str, dict[str, tuple[list, list]]]:
    """``speedup_series``'s panels for each format's ceiling in inference (``attained``'s
    ``ceiling``: the dense median timed beside it over the format's roofline time from
    ``sparse_bounds.network_bounds``): no kernel of the format can beat that dense timing by
    more, per density."""
    rows = {n: [r for r in attained(timings, bounds, formats) if r["network"] == n] for n in timings}

    def per_format(rs: Sequence[Mapping], fmt: str, b: int) -> tuple[list[float], list[float]]:
        pts = sorted(((r["density"], r["ceiling"]) for r in rs if r["format"] == fmt and r["batch_size"] == b),
                     reverse=True)
        return [p[0] for p in pts], [p[1] for p in pts]
    return _panels(rows, formats, batch_sizes, per_format)


def attained(timings: Mapping[str, Sequence[Mapping]], bounds: Mapping[str, Sequence[Mapping]],
             formats: Sequence[str]) -> list[dict]:
    """Per network, format, density and batch size (inference) where both exist: the
    measured median speed-up; its ``ceiling`` (the dense median timed beside it, speed-up x
    the format's median, over the format's roofline time ``bound_s``: the most any kernel
    of the format could beat that dense timing by); ``bound_speedup`` (the speed-up if both
    ran at their roofline); ``share`` = speed-up / ceiling = the format's roofline time over
    its median (1 = at the physical limit); ``dense_share``: dense's own roofline time over
    its median (a dense below its roofline lifts the ceiling above ``bound_speedup``)."""
    out = []
    for name, rows in timings.items():
        limit = {(r["format"], r["density"], r["batch_size"]): r for r in bounds.get(name, ())}
        for r in rows:
            key = (r["format"], r["density"], r["batch_size"])
            if r["format"] in formats and r["mode"] == "inference" and r.get("speedup") and key in limit:
                lim = limit[key]
                dense_s = r["speedup"] * r["median_s"]
                out.append(dict(network=name, format=r["format"], density=r["density"], batch_size=r["batch_size"],
                                speedup=r["speedup"], ceiling=dense_s / lim["bound_s"],
                                bound_speedup=lim["bound_speedup"], share=lim["bound_s"] / r["median_s"],
                                dense_share=lim["bound_speedup"] * lim["bound_s"] / dense_s))
    return out


def attained_words(rows: Sequence[Mapping], formats: Sequence[str] = ("csr", "coo", "bsr"),
                   min_gain: float = 1.1) -> str:
    """How close each sparse format came to its ceiling (``attained``) at the lowest density
    timed of each network (where sparsity has the most to gain), per batch size: a sentence
    and a Markdown table. The format "closest to its ceiling" is named only among rows
    where sparsity could gain more than ``min_gain`` at both rooflines (a format whose
    work stays dense, e.g. a CNN's convolutions, gains nothing by running at dense speed)."""
    lowest = {n: min(r["density"] for r in rows if r["network"] == n and r["format"] in formats)
              for n in dict.fromkeys(r["network"] for r in rows if r["format"] in formats)}
    mine = sorted((r for r in rows if r["format"] in formats and r["density"] == lowest.get(r["network"])),
                  key=lambda r: (list(lowest).index(r["network"]), r["batch_size"], formats.index(r["format"])))
    if not mine:
        return "No sparse format ran here, so no share of the bound is measured."
    lines = ["| network | batch | format | density | measured | ceiling | at both rooflines | share of the ceiling "
             "| dense's share of its roofline |", "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {MODEL_LABELS.get(r['network'], r['network'])} | {r['batch_size']} | {FORMAT_LABELS[r['format']]} | "
              f"{100 * r['density']:g}% | {r['speedup']:.2f}x | {r['ceiling']:.1f}x | {r['bound_speedup']:.1f}x | "
              f"{100 * r['share']:.0f}% | {100 * r['dense_share']:.0f}% |" for r in mine]
    shares = [r["share"] for r in mine]
    gain = [r for r in mine if r["bound_speedup"] > min_gain]
    best = max(gain, key=lambda r: r["share"]) if gain else None
    most = (f"; the closest, among the rows where the format could gain more than {min_gain - 1:.0%} at both "
            f"rooflines, {FORMAT_LABELS[best['format']]} on {MODEL_LABELS.get(best['network'], best['network'])} at "
            f"batch {best['batch_size']}, {100 * best['share']:.0f}%" if best else
            f"; in no row could a format gain more than {min_gain - 1:.0%} at both rooflines")
    return (f"**How close each format came to its ceiling.** At each network's lowest density timed, the sparse "
            f"formats' measured speed-ups are a median {100 * statistics.median(shares):.0f}% of their ceilings "
            f"(from {100 * min(shares):.0f}% to {100 * max(shares):.0f}%{most}). Dense itself ran at "
            f"{100 * min(r['dense_share'] for r in mine):.0f}% to {100 * max(r['dense_share'] for r in mine):.0f}% "
            "of its own roofline in these timings, so each ceiling is above the speed-up at both rooflines by the "
            "same factor: a slow dense baseline leaves a sparse kernel more room."
            + (" Above 100% a format beat its roofline: the calibration read the machine low, or the weights stayed "
               "in cache (the roofline's bandwidth is memory's)." if max(shares) > 1 else "")
            + "\n\n" + "\n".join(lines))


def layer_panels(rows: Sequence[Mapping]) -> tuple[dict, dict]:
    """(panels, limits) for ``speed_plots.speedup_panels`` from ``sparse_bounds.with_bounds``
    rows of one layer: a panel per batch size, a line per timed format (measured median
    speed-up) and its ceiling (``ceiling_speedup``)."""
    panels: dict[str, dict] = {}
    limits: dict[str, dict] = {}
    for b in sorted({r["batch_size"] for r in rows}):
        name = f"batch {b}"
        for fmt in dict.fromkeys(r["format"] for r in rows if r["format"] != "dense"):
            pts = sorted(((r["density"], r["speedup"], r["ceiling_speedup"]) for r in rows
                          if r["format"] == fmt and r["batch_size"] == b), reverse=True)
            panels.setdefault(name, {})[LAYER_LABELS[fmt]] = ([p[0] for p in pts], [p[1] for p in pts])
            limits.setdefault(name, {})[LAYER_LABELS[fmt]] = ([p[0] for p in pts], [p[2] for p in pts])
    return panels, limits


def large_layer_rows(rows: Sequence[Mapping], machine: Machine, min_speedup: float,
                     formats: Sequence[str] | None = None) -> list[dict]:
    """Per batch size (one thread count) of ``sparse_bounds.with_bounds`` rows of one layer:
    the kernel that beat dense by more than ``min_speedup`` at the highest density
    (``best_crossover``), that density, the density below which it would win at both
    rooflines, its measured speed-up there, its ceiling and how far below it ran (``gap`` =
    ceiling / measured), the speed-up at both rooflines and the share of its own roofline
    dense attained there (a slow baseline inflates a speed-up).
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
                        ceiling=r["ceiling_speedup"], gap=r["ceiling_speedup"] / r["speedup"], dense_attained=dense,
                        bound_density=bound_crossover(machine, fmt, shape, b, r["blocksize"])))
    return out


def _kernel(fmt: str) -> str:
    return LAYER_LABELS[fmt] + (" on a block-structured mask" if fmt == "bsr" else "")


def _gap(r: Mapping) -> str:
    """How far a measured speed-up is below its ceiling (or why it passed it), and how it
    stands against the speed-up it would have if both ran at their roofline."""
    words = (f"{r['gap']:.1f}x below its ceiling of {r['ceiling']:.1f}x" if r["gap"] >= 1 else
             f"above its ceiling of {r['ceiling']:.1f}x: no kernel beats the roofline, so the calibration read the "
             "machine low (a busier moment than this timing)")
    if r["speedup"] > r["bound_speedup"]:
        return words + (f"; more than the {r['bound_speedup']:.1f}x it would have if both ran at their roofline, "
                        f"because dense reached only {100 * r['dense_attained']:.0f}% of its own roofline there: the "
                        "slow baseline inflates the speed-up")
    return words + f"; {r['bound_speedup']:.1f}x if both ran at their roofline"


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
                     f"{min_speedup - 1:.0%} at {100 * r['density']:g}% of the weights (the highest density timed "
                     f"where any kernel did), {r['speedup']:.2f}x there ({_gap(r)}); at both rooflines that format "
                     f"would beat dense {bound} density")
    return f"On the {layer} layer, {threads} thread{'s' if threads != 1 else ''}: " + "; ".join(parts) + "."


def conclusion(large: Sequence[Mapping], layer: str, threads: int, machine_words: str, routes: Sequence[Route],
               percent: float, network: str, min_speedup: float, claim: Claim | None = None,
               noise: Sequence[float] = (), equal_speed: str = "", rivals_win: bool = False) -> str:
    """Notebook 08's closing answer from its measurements, the objection's two halves apart.
    (a) Does speed exist here: its heading is the verdict of ``claim``, the large layer's
    claim fixed before the run ("yes" only when it holds); ``large`` (``large_layer_rows`` of
    the kernels it names) is given after it as a description of this run's medians, beside
    ``noise`` (``layer_identical``: what identical networks measured on that layer).
    (b) Is it practical: ``practical_words`` of the routes, with ``equal_speed``
    (``speed_routes.equal_speed_summary``: section 5's larger networks at the ticket's speed)
    and ``rivals_win`` (whether that summary found one more accurate)."""
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
                         f"{min_speedup - 1:.0%} at {100 * r['density']:g}% density ({r['speedup']:.2f}x "
                         f"there, {_gap(r)})" for r in wins)
        desc = (f"What this run measured, as a description (medians of this run; {band}, so a median crossover "
                f"inside that band is not a finding): {desc}.")
    else:
        desc = (f"What this run measured: no kernel beat dense by more than {min_speedup - 1:.0%} at the densities "
                f"timed ({band}).")
    a = (f"{head} On this CPU ({machine_words}), the {layer} layer on {threads_w}. {desc} One thread is the case "
         "most favourable to sparse kernels, by argument: dense BLAS gains most from more threads, SciPy's product "
         "stays single-threaded (not shown by this machine's 2-thread timings, which measure its scheduler; "
         "docs/sparse_formats.md says why no other CPU sparse library, such as sparse_dot_mkl, is used here).")
    b = (f"**(b) Is it practical?** For {network} at {percent:.1f}% of the weights: "
         + practical_words(routes, min_speedup, equal_speed, rivals_win))
    return a + "\n\n" + b + (" These are this machine's torch and SciPy kernels; the published anchors above "
                               "measured purpose-built kernels on other hardware.")
