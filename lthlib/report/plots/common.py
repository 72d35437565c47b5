"""What every figure shares: metric labels, colours, percent axes, legends, bands, bars and
saving (``save_figure``)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


METRIC_LABELS = {"train_loss": "train loss", "val_loss": "validation loss", "test_loss": "test loss",
                 "train_acc": "train accuracy", "val_acc": "validation accuracy",
                 "test_acc": "test accuracy"}


def save_figure(fig: Figure, figures_dir: str | Path | None, name: str) -> None:
    """Save ``fig`` as ``<figures_dir>/<name>.png`` when a folder is given.

    Returns None so that a notebook cell ending with this call shows only the figure."""
    if figures_dir is None:
        return
    path = Path(figures_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")


def band(ax: plt.Axes, x: Sequence[float], ys: np.ndarray, label: str | None = None,
         color: str | None = None, ls: str = "-", zorder: float | None = None, lw: float = 1.5) -> None:
    """Mean line with a shaded min-max band over seeds (rows of ``ys``); ``ls``, ``zorder``
    and ``lw`` tell apart lines that lie on top of each other."""
    ys = np.asarray(ys, dtype=float)
    mean = ys.mean(axis=0)
    (line,) = ax.plot(x, mean, label=label, color=color, ls=ls, lw=lw, zorder=zorder)
    if len(ys) > 1:
        ax.fill_between(x, ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2, lw=0)


SPLIT_COLORS = {"train": "C0", "val": "C1", "test": "C2"}
# The splits in shades of grey, for a notebook whose colours name kinds of network (the IMP
# ticket's blue, a control's): one network's curves then take no colour a kind has.
SPLIT_GREYS = {"train": "0.6", "val": "k", "test": "0.35"}


def layer_labels(names: Sequence[str], shapes: Sequence[Sequence[int]] | None = None,
                 among: Sequence[str] | None = None) -> list[str]:
    """Words for prunable layers: "hidden layer 1", ..., "output layer" ("conv layer i" for
    weights with more than two dimensions when ``shapes`` is given). A layer's word comes
    from its place among all the prunable layers, ``among`` (in the model's order; default:
    ``names`` themselves), so that a subset, such as the layers a mask emptied, is labelled
    by name and not by its position in the subset. ``shapes`` lists the shapes of ``among``
    (of ``names`` when ``among`` is not given)."""
    every = list(names if among is None else among)
    if shapes is not None and len(shapes) != len(every):
        raise ValueError(f"{len(shapes)} shapes for {len(every)} layers: give one shape per layer of "
                         f"{'among' if among is not None else 'names'}")
    words, n_conv, n_fc = {}, 0, 0
    for i, name in enumerate(every):
        if i == len(every) - 1:
            words[name] = "output layer"
        elif shapes is not None and len(shapes[i]) > 2:
            n_conv += 1
            words[name] = f"conv layer {n_conv}"
        else:
            n_fc += 1
            words[name] = f"hidden layer {n_fc}"
    unknown = [n for n in names if n not in words]
    if unknown:
        raise ValueError(f"layers {unknown} are not among the prunable layers {every}")
    return [words[n] for n in names]


def percent_axis(ax: plt.Axes, percents: Sequence[float]) -> None:
    """Set ``ax``'s x axis to percent of weights remaining (log scale, decreasing to the
    right, as the paper) spanning ``percents``: e.g. again after adding a value beyond the data."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    lo, hi = min(percents), max(percents)
    ticks = [t for t in (100, 50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1) if lo * 0.9 <= t <= hi * 1.1]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(hi * 1.1, lo * 0.9)
    ax.set_xlabel("percent of weights remaining (log scale)")


def legend_outside(ax: plt.Axes, title: str | None = None) -> None:
    """The legend to the right of the axes, off the data."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False,
              title=title, title_fontsize=8, alignment="left")


def lines_over_x(x: Sequence[float], series: Mapping[str, np.ndarray], xlabel: str, ylabel: str,
                 title: str = "", ax: plt.Axes | None = None, chance: float | None = None,
                 logx: bool = False) -> Figure:
    """One band per named series (rows = seeds) against ``x``; ``chance`` draws a
    dotted reference line."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(6.0, 3.9))
    ax = ax if ax is not None else fig.add_subplot()
    for name, ys in series.items():
        band(ax, x, ys, name)
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
    if logx:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.set_xticks(list(x), [f"{v:g}" for v in x])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def grouped_bars(values: Mapping[str, Mapping[str, Sequence[float]]], ylabel: str, title: str = "",
                 reference: float | Sequence[float] | None = None,
                 reference_label: str = "dense network", legend_title: str | None = None,
                 chance: float | None = None, colors: Mapping[str, str] | None = None,
                 annotate: str | None = None) -> Figure:
    """Bars grouped by the outer key, one bar per inner key: the mean over seeds with a
    min-max error bar (said in the legend's title). ``reference``: one value, or one per
    seed (drawn as its mean with a shaded min-max band). ``chance``: a dotted line at the
    accuracy of guessing. ``colors``: a colour per inner key (default: C0, C1, ... in
    order). ``annotate``: a format (e.g. ``".3f"``) to write each bar's mean above it, so
    that bars too short to see still say their value. The legend sits right of the bars."""
    fig, ax = plt.subplots(figsize=(1.7 * len(values) + 4.5, 3.9))
    n_seeds = _bars_on(ax, values, colors, annotate)
    if annotate is not None:  # room above the tallest bar for its value
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.08 * (hi - lo))
    if reference is not None:
        _reference_line(ax, reference, reference_label, "k", "--")
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1.2, label=f"chance ({chance:.3f})")
    ax.set(ylabel=ylabel, title=title)
    seeds = "/".join(str(n) for n in sorted(n_seeds))
    legend_outside(ax, legend_title if legend_title is not None else
                    f"bars: mean over {seeds} seeds\nerror bars, shading: min-max")
    fig.tight_layout()
    return fig


def _bars_on(ax: plt.Axes, values: Mapping[str, Mapping[str, Sequence[float]]],
             colors: Mapping[str, str] | None = None, annotate: str | None = None) -> set[int]:
    """``grouped_bars``'s bars on ``ax`` (mean, min-max error bar; each member labelled
    once); returns the numbers of seeds seen."""
    colors = dict(colors or {})
    groups = list(values)
    members = list(dict.fromkeys(m for g in groups for m in values[g]))
    width = 0.8 / max(len(values[g]) for g in groups)
    labelled = {t for t in ax.get_legend_handles_labels()[1]}
    n_seeds: set[int] = set()
    for i, g in enumerate(groups):
        present = list(values[g])
        for j, member in enumerate(present):
            v = np.asarray(values[g][member], dtype=float)
            n_seeds.add(len(v))
            x = i + (j - (len(present) - 1) / 2) * width
            ax.bar(x, v.mean(), width, yerr=[[v.mean() - v.min()], [v.max() - v.mean()]], capsize=2,
                   color=colors.get(member, f"C{members.index(member)}"),
                   label=None if member in labelled else member)
            labelled.add(member)
            if annotate is not None:
                ax.annotate(f"{v.mean():{annotate}}", (x, v.max()), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7, zorder=4,
                            bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
    ax.set_xticks(range(len(groups)), groups)
    return n_seeds


def _reference_line(ax: plt.Axes, values: float | Sequence[float], label: str, color: str, ls: str,
                    lw: float = 1, zorder: float | None = None) -> None:
    """A horizontal line at the mean of ``values`` (one per seed) with a shaded min-max band
    (``zorder`` 3: the line over bars)."""
    ref = np.atleast_1d(np.asarray(values, dtype=float))
    ax.axhline(ref.mean(), color=color, ls=ls, lw=lw, label=label, zorder=zorder)
    if len(ref) > 1:
        ax.axhspan(ref.min(), ref.max(), color=color, alpha=0.08, lw=0)


def bar_panels(panels: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]], ylabel: str,
               lines: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
               line_styles: Mapping[str, tuple[str, str]] | None = None, chance: float | None = None,
               colors: Mapping[str, str] | None = None, annotate: str | None = ".2f", title: str = "",
               width: float = 8.0) -> Figure:
    """``grouped_bars`` in panels stacked one above the other (``panels``: panel title ->
    groups -> bars -> per-seed values), each with its own horizontal reference lines
    (``lines``: panel title -> line label -> per-seed values, drawn as the mean with a
    shaded min-max band; ``line_styles``: label -> (colour, line style)). One legend under
    the panels; ``width`` in inches (8: under 1,000 pixels at ``save_figure``'s dpi)."""
    lines, line_styles = dict(lines or {}), dict(line_styles or {})
    fig, axes = plt.subplots(len(panels), 1, figsize=(width, 2.9 * len(panels) + 0.9), sharey=True, squeeze=False)
    n_seeds: set[int] = set()
    for ax, (name, groups) in zip(axes[:, 0], panels.items()):
        n_seeds |= _bars_on(ax, groups, colors, annotate)
        for label, values in lines.get(name, {}).items():
            color, ls = line_styles.get(label, ("k", "--"))
            _reference_line(ax, values, label, color, ls, lw=1.5, zorder=3)
        if chance is not None:
            ax.axhline(chance, color="grey", ls=":", lw=1.2, label=f"chance ({chance:.3f})", zorder=3)
        ax.set(ylabel=ylabel, title=name)
    if annotate is not None:  # room above the tallest bar for its value
        lo, hi = axes[0, 0].get_ylim()
        axes[0, 0].set_ylim(lo, hi + 0.08 * (hi - lo))
    handles, labels = {}, []
    for ax in axes[:, 0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    seeds = "/".join(str(n) for n in sorted(n_seeds))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    # under the panels, outside the axes: a tight bounding box (save_figure, inline display) keeps it
    fig.legend(list(handles.values()), list(handles), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3,
               fontsize=8, frameon=False, title_fontsize=8,
               title=f"bars and lines: mean over {seeds} seeds; error bars and shading: min-max")
    return fig


# ----------------------------------------------------------------------------- notebook 04
def layer_words(names: Sequence[str]) -> list[str]:
    """"hidden layer 1", ..., "output layer" for the prunable layers of an MLP, in order."""
    return [("output layer" if i == len(names) - 1 else f"hidden layer {i + 1}") for i in range(len(names))]


def seed_bands(x: Sequence[float], series: Mapping[str, np.ndarray], xlabel: str, ylabel: str,
               title: str = "", ax: plt.Axes | None = None, references: Mapping[str, float] | None = None,
               logx: bool = False, percent_x: bool = False, legend: bool = True,
               styles: Mapping[str, Mapping] | None = None) -> Figure:
    """One line per named series (rows = seeds): the mean over seeds with a shaded min-max
    band (said in the legend's title). ``references``: ``{label: y}`` horizontal dotted
    lines (chance, zero). ``styles``: extra ``plot`` keywords per series (e.g. a dashed
    line). The legend sits right of the axes, off the data."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(9.2, 3.9))
    ax = ax if ax is not None else fig.add_subplot()
    n_seeds = set()
    for i, (name, ys) in enumerate(series.items()):
        ys = np.atleast_2d(np.asarray(ys, dtype=float))
        n_seeds.add(len(ys))
        style = {"color": f"C{i}", "marker": "o", "ms": 3, **dict((styles or {}).get(name, {}))}
        ax.plot(x, ys.mean(axis=0), label=name, **style)
        if len(ys) > 1:
            ax.fill_between(x, ys.min(axis=0), ys.max(axis=0), color=style["color"], alpha=0.18, lw=0)
    for k, (label, y) in enumerate((references or {}).items()):
        ax.axhline(y, color=("grey", "k")[k % 2], ls=":", lw=1.2, label=label)
    if logx:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.set_xticks(list(x), [f"{v:g}" for v in x])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if percent_x:  # percent of weights remaining, log scale, decreasing to the right
        percent_axis(ax, list(x))
    if legend:
        seeds = "/".join(str(n) for n in sorted(n_seeds))
        legend_outside(ax, "line: one seed (no band)" if n_seeds == {1} else
                        f"line: mean over {seeds} seeds\nshaded: min-max over seeds")
    fig.tight_layout()
    return fig


def paired_differences(diffs: Mapping[str, Mapping[str, Sequence[float]] | Sequence[float]], xlabel: str,
                       title: str = "") -> Figure:
    """A forest plot of paired differences: for each row, the per-seed differences (dots),
    their mean (diamond) and its 95% confidence interval over seeds (Student's t, the
    interval the claims use). A row may hold several series (``{row: {series: values}}``,
    e.g. one per density), drawn in colours named in the legend."""
    from lthlib.report.claims import mean_ci

    rows = {name: (dict(v) if isinstance(v, Mapping) else {"": v}) for name, v in diffs.items()}
    series = list(dict.fromkeys(k for r in rows.values() for k in r))
    step = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(8.6, (0.3 * len(series) + 0.2) * len(rows) + 1.4))
    labelled: set[str] = set()
    for i, (name, row) in enumerate(rows.items()):
        base = len(rows) - 1 - i
        for j, key in enumerate(series):
            if key not in row:
                continue
            v = np.asarray(row[key], dtype=float)
            mean, lo, hi = mean_ci(v)
            y = base + (len(series) - 1) / 2 * step - j * step
            color = f"C{j}"
            first = key not in labelled
            labelled.add(key)
            ax.scatter(v, np.full(len(v), y), s=8, color="grey", alpha=0.6, zorder=2,
                       label="one seed" if (i == 0 and j == 0) else None)
            if np.isfinite(lo):
                ax.plot([lo, hi], [y, y], color=color, lw=2, zorder=1)
            ax.scatter([mean], [y], marker="D", s=26, color=color, zorder=3,
                       label=(f"{key}: mean, 95% CI" if key else "mean over seeds, 95% CI") if first else None)
    ax.axvline(0, color="k", lw=1, ls=":")
    ax.set_yticks(range(len(rows)), list(rows)[::-1])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set(xlabel=xlabel, title=title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False,
              title="diamond: mean over seeds\nbar: its 95% confidence interval", title_fontsize=8,
              alignment="left")
    fig.tight_layout()
    return fig


def ci_band(ax: plt.Axes, x: Sequence[float], ys: np.ndarray, label: str | None = None,
            color: str | None = None, marker: str | None = "o") -> None:
    """Mean line with a shaded 95% t-interval of the mean over seeds (rows of ``ys``)."""
    from lthlib.report.claims import mean_ci

    ys = np.asarray(ys, dtype=float)
    stats = np.array([mean_ci(ys[:, j]) for j in range(ys.shape[1])])
    (line,) = ax.plot(x, stats[:, 0], label=label, color=color, marker=marker, ms=3)
    if len(ys) > 1:
        ax.fill_between(x, stats[:, 1], stats[:, 2], color=line.get_color(), alpha=0.2, lw=0)
