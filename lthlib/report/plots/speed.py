"""Notebook 08's figures: speed-up against density beside the physical bound, accuracy
against the speed each route delivers, and every route to a small network at equal
measured speed and training cost. Each function returns a Figure."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from lthlib.experiments.sparse_bounds import FORMAT_LABELS as LAYER_LABELS
from lthlib.experiments.sparse_exec import FORMAT_LABELS
from lthlib.experiments.speed_routes import ROUTE_COLORS, ROUTE_LABELS, Route
from lthlib.experiments.speed_study import (FORMAT_COLORS, ceiling_series, layer_panels, speedup_bands,
                                            speedup_series)
from lthlib.report.plots.common import percent_axis

def speedup_panels(panels: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]],
                   columns: int = 2, title: str = "", order: Sequence[str] | None = None,
                   bands: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]]]
                   | None = None,
                   limits: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]] | None = None,
                   colors: Mapping[str, str] | None = None) -> Figure:
    """Speed-up over dense against density, one panel per ``{title: {format label:
    (densities, speed-ups)}}``; log axes, a dotted break-even line at 1, one colour per
    format label across panels (and across figures drawn with the same ``order``).
    ``bands``: the same keys, ``(densities, low, high)`` shaded around each line (e.g. the
    interquartile range of the timing repeats; the title should say which). ``limits``: the
    same keys, (densities, ceilings) drawn dashed in each format's colour: the most a kernel
    of that format could beat the dense timing by (its roofline) beside the measurement. ``colors``: label -> colour (``FORMAT_COLORS``
    through the figure's labels), so a format has one colour in every figure; labels not in
    it take the default cycle by position."""
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, squeeze=False, figsize=(4.4 * columns, 3.2 * rows))
    seen = list(dict.fromkeys(lab for series in panels.values() for lab in series))
    labels = list(order) + [lab for lab in seen if lab not in order] if order is not None else seen

    def colour(lab: str) -> str:
        return (colors or {}).get(lab, f"C{labels.index(lab)}")
    for ax, (name, series) in zip(axes.flat, panels.items()):
        percents = []
        for lab, (ds, ups) in series.items():
            xs = [100 * d for d in ds]
            percents += xs
            ax.plot(xs, ups, marker="o", ms=3, color=colour(lab), label=lab)
            limit = (limits or {}).get(name, {}).get(lab)
            if limit is not None and limit[0]:
                ax.plot([100 * d for d in limit[0]], limit[1], ls="--", lw=1, color=colour(lab))
            band_of = (bands or {}).get(name, {}).get(lab)
            if band_of is not None and band_of[0]:
                ax.fill_between([100 * d for d in band_of[0]], band_of[1], band_of[2],
                                color=colour(lab), alpha=0.15, lw=0)
        ax.axhline(1.0, color="k", lw=1, ls=":")
        ax.set_yscale("log")
        values = [u for ds, ups in series.values() for u in ups if u and u > 0] + [
            u for b in (bands or {}).get(name, {}).values() for u in (*b[1], *b[2]) if u and u > 0] + [
            u for _, ups in (limits or {}).get(name, {}).values() for u in ups if u and u > 0]
        narrow = bool(values) and max(values) / min(values) < 10  # label more ticks in a narrow range
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if narrow
                                              else (1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        if percents:
            percent_axis(ax, percents)
        ax.set(title=name, ylabel="speed-up over dense")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=colour(lab), marker="o", ms=3, label=lab) for lab in labels if lab in seen]
    if limits:
        handles.append(plt.Line2D([], [], color="k", ls="--", lw=1, label="ceiling: dense time / format's roofline\n(same colour: that format)"))
    axes[0][-1].legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig



def speed_figure(timings: Mapping[str, Sequence[Mapping]], formats: Sequence[str], batch_sizes: Sequence[int],
                 mode: str, bounds: Mapping[str, Sequence[Mapping]] | None = None) -> Figure:
    """Notebook 08's speed-up panels for ``mode`` ("inference" or "train step"): a panel per
    network of ``timings`` (name -> ``sparse_exec.benchmark_formats`` rows) and batch size,
    a line per format in ``formats``' colour order, so the figures of both modes agree.
    ``bounds``: ``sparse_bounds.network_bounds`` rows per network: in inference each format's
    ceiling (``ceiling_series``) is drawn dashed; a training step has no roofline here."""
    repeats = {len(r["samples"]) for rows in timings.values() for r in rows if r.get("samples")}
    n = "/".join(str(k) for k in sorted(repeats)) or "the"
    return speedup_panels(speedup_series(timings, formats, batch_sizes, mode), columns=len(batch_sizes),
                          order=[FORMAT_LABELS[f] for f in formats],
                          colors={FORMAT_LABELS[f]: FORMAT_COLORS[f] for f in formats},
                          bands=speedup_bands(timings, formats, batch_sizes, mode),
                          limits=None if bounds is None or mode != "inference"
                          else ceiling_series(timings, bounds, formats, batch_sizes),
                          title=f"{mode.capitalize()}: speed-up over the dense network\n(line: median of {n} timing "
                                "repeats; shaded: their interquartile range; dotted: break-even"
                                + ("; dashed: the ceiling" if bounds is not None and mode == "inference" else "")
                                + ")")



def accuracy_vs_speed(routes: Mapping[str, tuple[Sequence[float], np.ndarray]], percents: Sequence[float],
                      dense: Sequence[float], xlabel: str, ylabel: str, title: str = "",
                      colors: Mapping[str, str] | None = None,
                      offsets: Mapping[str, tuple[float, float]] | None = None) -> Figure:
    """Accuracy against the speed-up each way to be small delivers: ``routes[label]`` is
    (speed-up per density, accuracies seeds x densities), drawn as the mean with a min-max
    bar, each point labelled with its percentage of weights (``percents``; ``offsets`` in
    points per route keep labels apart); a dotted line at the ``dense`` mean and at 1x, a
    log speed axis."""
    fig, ax = plt.subplots(figsize=(8.6, 3.9))
    for i, (label, (xs, acc)) in enumerate(routes.items()):
        c = (colors or {}).get(label, f"C{i}")
        acc = np.asarray(acc, dtype=float)
        ys = acc.mean(axis=0)
        ax.errorbar(xs, ys, yerr=[ys - acc.min(axis=0), acc.max(axis=0) - ys], fmt="o-", color=c,
                    capsize=2, label=label)
        for x, y, p in zip(xs, ys, percents):  # on a white box above the lines, so no line crosses a label
            ax.annotate(f"{p:.1f}%", (x, y), textcoords="offset points", xytext=(offsets or {}).get(label, (4, 5)),
                        fontsize=7, color=c, zorder=5,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9))
    ax.axhline(np.mean(dense), color="grey", ls=":", label="dense network (mean)")
    _speed_axis(ax)
    _speed_ticks(ax, [x for xs, _ in routes.values() for x in xs if x > 0])
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    n_seeds = "/".join(str(k) for k in sorted({np.atleast_2d(np.asarray(a)).shape[0] for _, a in routes.values()}))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False,
              title=f"points: mean over {n_seeds} seeds, bars: min-max;\nlabels: % of weights", title_fontsize=8)
    fig.tight_layout()
    return fig



def _speed_axis(ax: plt.Axes) -> None:
    """A log speed-up axis labelled "2x"; minor ticks labelled at 2, 3 and 5 times a power of
    ten only (0.7x, 0.8x, 0.9x, 1x collide); a dotted line at 1x."""
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.xaxis.set_minor_formatter(FuncFormatter(
        lambda v, _: f"{v:g}x" if v > 0 and round(v / 10 ** np.floor(np.log10(v)), 6) in (2, 3, 5) else ""))
    ax.axvline(1.0, color="k", lw=0.8, ls=":")


def _speed_ticks(ax: plt.Axes, xs: Sequence[float]) -> None:
    """Labelled ticks from below the slowest point to above the fastest (finer ones when the
    points span less than 1.5x, e.g. 0.95x, 1.05x), so every point can be read off the axis."""
    if not xs:
        return
    lo, hi = min(xs), max(xs)
    pad = 1.6 if hi / lo >= 1.5 else 1.08
    grid = (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10, 20, 30, 50, 100) if pad > 1.1 else (
        0.7, 0.8, 0.85, 0.9, 0.95, 1, 1.05, 1.1, 1.15, 1.2, 1.3, 1.4, 1.5)
    ax.set_xticks([t for t in grid if lo / pad <= t <= hi * pad])
    ax.set_xticks([], minor=True)
    ax.set_xlim(lo / pad, hi * pad)


def routes_figure(routes: Sequence[Route], ylabel: str, title: str = "", noise: float | None = None) -> Figure:
    """Every route on the same axes: accuracy (mean, min-max over its seeds) against the
    inference speed-up at each batch size measured (one panel each, log) and against the
    training time measured here (last panel, log); one colour per route in every panel.
    ``noise``: speed-ups within a factor ``noise`` of 1x are shaded (the timing noise
    margin: a gap inside it is not a speed difference)."""
    batches = sorted(routes[0].speed)
    fig, axes = plt.subplots(1, len(batches) + 1, figsize=(4.0 * (len(batches) + 1) + 2.2, 3.8), sharey=True)
    for i, ax in enumerate(axes):
        for r in routes:
            acc = np.asarray(r.accuracy, dtype=float)
            y = acc.mean()
            x = r.speed[batches[i]][0] if i < len(batches) else r.seconds
            ax.errorbar([x], [y], yerr=[[y - acc.min()], [acc.max() - y]], fmt="o", color=ROUTE_COLORS[r.name],
                        capsize=2, label=f"{ROUTE_LABELS[r.name]} ({len(acc)} seed{'s' if len(acc) != 1 else ''})")
        if i < len(batches):
            _speed_axis(ax)
            xs = [r.speed[batches[i]][0] for r in routes]
            if noise:
                ax.axvspan(1 / noise, noise, color="grey", alpha=0.15, lw=0,
                           label=f"within {noise - 1:.0%} of dense (noise margin)" if i == 0 else None)
                xs += [1 / noise, noise]
            _speed_ticks(ax, xs)
            ax.set(xlabel=f"inference speed-up over dense, batch {batches[i]}")
        else:
            ax.set_xscale("log")
            ax.set(xlabel="training time measured here (s, log)")
    axes[0].set_ylabel(ylabel)
    axes[-1].legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False,
                    title="points: mean over each route's seeds\nbars: min-max", title_fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def layer_figure(rows: Sequence[Mapping], layer: str) -> Figure:
    """One layer's measured speed-up of each format (``sparse_bounds.with_bounds`` rows)
    beside its ceiling (dashed: the dense timing over the format's roofline), a panel per
    batch size."""
    panels, limits = layer_panels(rows)
    repeats = "/".join(str(k) for k in sorted({len(r["samples"]) for r in rows}))
    return speedup_panels(panels, columns=len(panels), limits=limits,
                          colors={LAYER_LABELS[f]: FORMAT_COLORS[f] for f in LAYER_LABELS},
                          title=f"One {layer} fp32 layer: speed-up over dense (line: median of {repeats} timing "
                                "repeats; dashed: the ceiling; dotted: break-even)")
