"""Figures of IMP, rewinding, retraining and linear mode connectivity (notebooks 02, 03 and
05)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from lthlib.report.plots.common import METRIC_LABELS, legend_outside, percent_axis, band, ci_band


def imp_bands(percents: Sequence[float], series: Mapping[str, np.ndarray], ylabel: str,
              dense: Sequence[float] | None = None, title: str = "", end: float | None = None,
              end_label: str = "end of training") -> Figure:
    """Values of each kind of network against the percentage of weights remaining.

    ``series``: ``{kind: array (seeds x rounds)}`` over the pruned rounds (``percents``,
    one per round), kinds being ``"ticket"`` or a control's name (labelled with
    ``lthlib.experiments.imp.kind_label``) or any other label. ``dense``: one value per seed of the dense
    network, drawn as a horizontal band (min-max) around its mean. ``end``: a dotted
    reference line (e.g. the last iteration, for iteration counts)."""
    from lthlib.experiments.imp import kind_color, kind_label

    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    n_seeds = 0
    for kind, ys in series.items():
        ys = np.asarray(ys, dtype=float)
        n_seeds = max(n_seeds, len(ys))
        band(ax, percents, ys, kind_label(kind), kind_color(kind))
        ax.plot(percents, ys.mean(axis=0), "o", ms=3, color=kind_color(kind))
    if dense is not None:
        d = np.asarray(dense, dtype=float)
        ax.axhline(d.mean(), color="k", ls="--", lw=1, label="dense network (100%)")
        if len(d) > 1:
            ax.axhspan(d.min(), d.max(), color="k", alpha=0.08, lw=0)
    if end is not None:
        ax.axhline(end, color="grey", lw=0.8, ls=":", label=end_label)
    percent_axis(ax, list(percents) + ([100.0] if dense is not None else []))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    legend_outside(ax, f"mean over {n_seeds} seeds;\nshaded: min-max over seeds" if n_seeds > 1 else None)
    fig.tight_layout()
    return fig


def imp_metric(results: Sequence, metric: str = "test_acc", at: str = "early_stop",
               kinds: Sequence[str] = ("ticket", "reinit", "random_mask"), ylabel: str | None = None,
               title: str = "") -> Figure:
    """``metric`` against the percentage of weights remaining, one band (min-max over seeds)
    per kind of network; the dense network as a grey band (min-max over seeds) around its
    dashed mean."""
    densities = np.mean([r.densities() for r in results], axis=0) * 100
    series = {kind: np.array([r.metric(kind, metric, at)[1:] for r in results]) for kind in kinds
              if kind == "ticket" or kind in results[0].rounds[0].controls}
    return imp_bands(densities[1:], series,
                     ylabel or f"{METRIC_LABELS.get(metric, metric)} ({at.replace('_', ' ')})",
                     dense=[r.metric("ticket", metric, at)[0] for r in results], title=title)


def imp_early_stop(results: Sequence, kinds: Sequence[str] = ("ticket", "reinit", "random_mask")) -> Figure:
    """The early-stopping iteration (minimum validation loss) against weights remaining;
    the dense network as a band, the end of training dotted (a run that stops there was
    still improving)."""
    densities = np.mean([r.densities() for r in results], axis=0) * 100
    series = {kind: np.array([r.early_stop_iterations(kind)[1:] for r in results]) for kind in kinds
              if kind == "ticket" or kind in results[0].rounds[0].controls}
    return imp_bands(densities[1:], series, "early-stopping iteration (min validation loss)",
                     dense=[r.dense.early_stop_iteration for r in results],
                     end=results[0].settings.train.iterations,
                     title="learning speed, 1: the early-stopping iteration")


def ticket_curves(results: Sequence, rounds: Sequence[int], metric: str = "test_acc") -> Figure:
    """``metric`` against iteration for the tickets of a few rounds and the dense network
    (mean over seeds, min-max band). The tickets are shades of the ticket's blue, darker
    as they are sparser, so that no ticket takes a control's colour (green, red)."""
    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    pruned = [r for r in rounds if r != 0]
    for r in rounds:
        runs = [res.runs("ticket")[r] for res in results]
        pct = 100 * float(np.mean([res.densities()[r] for res in results]))
        label = "dense network (100%)" if r == 0 else f"ticket, {pct:.1f}% remaining"
        band(ax, runs[0].iterations, [run.curve(metric) for run in runs], label,
             "k" if r == 0 else plt.cm.Blues(0.45 + 0.5 * pruned.index(r) / max(1, len(pruned) - 1)))
    ax.set(xlabel="iteration", ylabel=METRIC_LABELS.get(metric, metric))
    legend_outside(ax, f"mean over {len(results)} seeds;\nshaded: min-max over seeds"
                    if len(results) > 1 else None)
    fig.tight_layout()
    return fig


CURVE_STYLES = {"ticket": ("-", 1.5), "reinit": ("-", 3.0), "random_mask": ("--", 1.5)}


def curves_at_round(results: Sequence, round_index: int, kinds: Sequence[str] = ("ticket", "reinit", "random_mask"),
                    metric: str = "val_acc", target: float | None = None, target_label: str = "target",
                    chance: float | None = None, percent_format: str = ".1f") -> Figure:
    """``metric`` against iteration at one pruning round: the ticket and its controls, and
    the dense network (bands: min-max over seeds); ``target`` draws the accuracy whose
    first crossing counts as "reached", ``chance`` the accuracy of guessing.
    ``percent_format``: how the title writes the round's percent of weights (as the
    notebook's prose does, e.g. ``".0f"`` where every density is a whole percent)."""
    from lthlib.experiments.imp import kind_color, kind_label

    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    dense = [res.dense for res in results]
    band(ax, dense[0].iterations, [run.curve(metric) for run in dense], "dense network (100%)", "k")
    for kind in kinds:
        if kind != "ticket" and kind not in results[0].rounds[round_index - 1].controls:
            continue  # a control not trained in this round (IMPSettings.control_rounds)
        runs = [res.run(res.rounds[round_index - 1], kind) for res in results]
        ls, lw = CURVE_STYLES.get(kind, ("-", 1.5))  # controls that coincide stay visible
        band(ax, runs[0].iterations, [run.curve(metric) for run in runs], kind_label(kind), kind_color(kind),
             ls=ls, lw=lw)
    if target is not None:
        ax.axhline(target, color="grey", ls="--", lw=1, label=target_label)
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1.2, label=f"chance ({chance:.3f})")
    pct = 100 * float(np.mean([res.densities()[round_index] for res in results]))
    ax.set(xlabel="iteration", ylabel=METRIC_LABELS.get(metric, metric),
           title=f"round {round_index}: {pct:{percent_format}}% of weights remaining")
    legend_outside(ax, f"mean over {len(results)} seeds;\nshaded: min-max over seeds"
                    if len(results) > 1 else None)
    fig.tight_layout()
    return fig


def first_layer_mask(mask, layer: str, input_shape: tuple[int, ...], units: int = 6) -> Figure:
    """What the first layer of a ticket still sees.

    Images: per input pixel, the fraction of hidden units still connected to it, and the
    surviving inputs of a few units. 1-D signals (MNIST-1D): the same fraction per input
    position, as bars.
    """
    keep = mask[layer].float().cpu()
    keep = keep.reshape(keep.shape[0], -1)
    per_input = keep.mean(dim=0)
    if len(input_shape) == 1 or (len(input_shape) == 2 and input_shape[0] == 1):
        fig, ax = plt.subplots(figsize=(7, 2.8))
        ax.bar(np.arange(len(per_input)), per_input.numpy() * 100)
        ax.set(xlabel="input position", ylabel="% of hidden units connected",
               title=f"first layer: {100 * float(keep.mean()):.1f}% of its weights remain")
        fig.tight_layout()
        return fig
    h, w = input_shape[-2], input_shape[-1]
    channels = keep.shape[1] // (h * w)
    fig, axes = plt.subplots(1, units + 1, figsize=(1.8 * (units + 1), 2.2))
    axes[0].imshow(per_input.reshape(channels, h, w).mean(0).numpy(), cmap="magma", vmin=0)
    axes[0].set_title("% units per pixel", fontsize=8)
    alive_units = keep.sum(1).argsort(descending=True)[:units]
    for ax, u in zip(axes[1:], alive_units):
        ax.imshow(keep[u].reshape(channels, h, w).mean(0).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"unit {int(u)}", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{layer}: {100 * float(keep.mean()):.1f}% of weights remain", fontsize=9)
    fig.tight_layout()
    return fig


def barrier_vs_k(barriers: Mapping[str, tuple[Sequence[int], np.ndarray]], threshold: float = 0.02,
                 ax: plt.Axes | None = None) -> Figure:
    """Error barrier (instability) against the iteration k at which the children were
    spawned (symlog axis), one series per network: ``{label: (ks, barriers seeds x ks)}``;
    the mean over seeds with a min-max band: a barrier is never negative, and neither is a
    band of measured values (a t-interval over a few seeds can reach below zero); the
    paper's 2% stability line."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(6.4, 4.0))
    ax = ax if ax is not None else fig.add_subplot()
    all_ks = sorted({int(k) for ks, _ in barriers.values() for k in ks})
    for i, (name, (ks, values)) in enumerate(barriers.items()):
        ys = 100 * np.asarray(values, dtype=float)
        (line,) = ax.plot(list(ks), ys.mean(axis=0), label=name, color=f"C{i}",
                          marker="o" if len(ks) > 2 else "s", ms=3)
        if len(ys) > 1:
            ax.fill_between(list(ks), ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2, lw=0)
    ax.axhline(100 * threshold, color="grey", ls=":", lw=1, label=f"stable below {100 * threshold:g} points")
    positive = [k for k in all_ks if k > 0]
    ax.set_xscale("symlog", linthresh=max(1, min(positive)) if positive else 1)
    ax.set_xticks(all_ks, [str(k) for k in all_ks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    n = len(next(iter(barriers.values()))[1])
    ax.set(xlabel="iteration k at which the two children are spawned (symlog axis)",
           ylabel="test error barrier (percentage points)", title="instability to SGD noise")
    legend_outside(ax, f"mean over {n} seeds;\nshaded: min-max over seeds")
    fig.tight_layout()
    return fig


def loss_contour(plane: Mapping[str, np.ndarray], labels: Sequence[str] = ("parent", "child 1", "child 2"),
                 value: str = "error") -> Figure:
    """Contour plot of ``plane[value]`` on the plane through three networks, which sit at
    (0,0), (1,0) and (0,1)."""
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    values = 100 * plane[value] if value == "error" else plane[value]
    cs = ax.contourf(plane["u"], plane["v"], values, levels=20, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="test error (%)" if value == "error" else f"test {value}")
    for (u, v), label in zip([(0, 0), (1, 0), (0, 1)], labels):
        ax.plot(u, v, "wo", ms=6, mec="k")
        ax.annotate(label, (u, v), textcoords="offset points", xytext=(-50 if u else 6, 8), color="w")
    ax.plot([1, 0], [0, 1], "w--", lw=1)
    ax.set(xlabel="towards child 1", ylabel="towards child 2", title="the plane through three networks")
    fig.tight_layout()
    return fig


def rewinding_vs_k(ks: Sequence[int], ticket: np.ndarray, controls: Mapping[str, tuple[Sequence[int], np.ndarray]],
                   dense: Sequence[float], ylabel: str, title: str = "", ax: plt.Axes | None = None) -> Figure:
    """Accuracy against the rewind iteration k on a symlog axis (k = 0 included): the
    ticket (rows = seeds, columns = ``ks``), each control at the k it was trained at
    (``{label: (ks, values)}``), and the dense network as a band. Bands: 95% CI of the
    mean over seeds."""
    from lthlib.experiments.imp import kind_color
    from lthlib.report.claims import mean_ci

    fig = ax.figure if ax is not None else plt.figure(figsize=(6.4, 4.0))
    ax = ax if ax is not None else fig.add_subplot()
    mean, lo, hi = mean_ci(dense)
    ax.axhspan(lo if np.isfinite(lo) else mean, hi if np.isfinite(hi) else mean, color="k", alpha=0.12, lw=0)
    ax.axhline(mean, color="k", ls="--", lw=1, label="dense network (band: 95% CI)")
    ci_band(ax, ks, ticket, "IMP ticket, rewound to k", kind_color("ticket"))
    for i, (label, (cks, values)) in enumerate(controls.items()):
        ci_band(ax, cks, values, label, f"C{i + 2}", marker="s")
    ax.set_xscale("symlog", linthresh=max(1, min(k for k in ks if k > 0)))
    ax.set_xticks(list(ks), [str(k) for k in ks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set(xlabel="rewind iteration k (symlog axis; 0 = reset to initialisation)", ylabel=ylabel, title=title)
    legend_outside(ax, f"mean over {len(ticket)} seeds;\nshaded: 95% CI of the mean")
    fig.tight_layout()
    return fig


def retraining_vs_density(percents: Sequence[float], series: Mapping[str, np.ndarray], dense: Sequence[float],
                          ylabel: str, title: str = "", ax: plt.Axes | None = None,
                          colors: Mapping[str, str] | None = None) -> Figure:
    """Accuracy against the percentage of weights remaining (log axis, decreasing to the
    right), one line per way of retraining (``series``: ``{label: seeds x rounds}``, the same
    seeds in every series) with a shaded 95% t-interval of the mean over seeds, and the dense
    network as a dashed line with its own 95% interval band."""
    from lthlib.report.claims import mean_ci

    fig = ax.figure if ax is not None else plt.figure(figsize=(9.0, 4.2))
    ax = ax if ax is not None else fig.add_subplot()
    mean, lo, hi = mean_ci(dense)
    ax.axhspan(lo if np.isfinite(lo) else mean, hi if np.isfinite(hi) else mean, color="k", alpha=0.12, lw=0)
    ax.axhline(mean, color="k", ls="--", lw=1, label="dense network (100%; band: 95% CI)")
    n_seeds = set()
    for i, (label, ys) in enumerate(series.items()):
        ys = np.atleast_2d(np.asarray(ys, dtype=float))
        n_seeds.add(len(ys))
        ci_band(ax, percents, ys, label, (colors or {}).get(label, f"C{i}"))
    percent_axis(ax, list(percents))
    ax.set_xticks(list(percents), [f"{p:.1f}" for p in percents])  # a tick at every density IMP reached
    ax.set(ylabel=ylabel, title=title)
    seeds = "/".join(str(n) for n in sorted(n_seeds))
    legend_outside(ax, f"mean over {seeds} seeds;\nshaded: 95% CI of the mean")
    fig.tight_layout()
    return fig


def retraining_curves(results, title: str = "", ax: plt.Axes | None = None) -> Figure:
    """``retraining_vs_density`` of a ``lthlib.experiments.retraining.RetrainingResults``: every way of
    retraining in its own colour, test accuracy at the end of retraining, the dense network."""
    from lthlib.experiments.imp import RETRAINING_LABELS
    from lthlib.experiments.retraining import RETRAINING_COLORS

    methods = results.experiment.methods
    return retraining_vs_density([100 * d for d in results.densities()[1:]],
                                 {RETRAINING_LABELS[m]: results.accuracy(m) for m in methods}, results.dense(),
                                 "test accuracy (end of retraining)", title, ax=ax,
                                 colors={RETRAINING_LABELS[m]: RETRAINING_COLORS[m] for m in methods})
