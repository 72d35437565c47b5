"""Figures of masks compared: supermask criteria, overlap, accuracy against cost, many tickets
(notebooks 04, 06, 07 and 09)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from lthlib.report.plots.common import layer_words, legend_outside, band, seed_bands


def input_profiles(masks: Mapping[str, "object"], layer: str, input_shape: tuple[int, ...],
                   title: str = "") -> Figure:
    """Which inputs several masks keep: per input position (1-D signals, one line per mask)
    or pixel (images, one panel per mask), the percentage of ``layer``'s units still
    connected to it. Inputs are the same in every network, unlike hidden units, so this is
    where tickets of different seeds can be compared by eye."""
    per_input = {name: m[layer].float().cpu().reshape(m[layer].shape[0], -1).mean(0).numpy() * 100
                 for name, m in masks.items()}
    if len(input_shape) == 1 or (len(input_shape) == 2 and input_shape[0] == 1):
        fig, ax = plt.subplots(figsize=(9.2, 3.2))
        for i, (name, v) in enumerate(per_input.items()):
            ax.plot(np.arange(len(v)), v, marker="o", ms=2.5, lw=1.2, color=f"C{i}", label=name)
        ax.set(xlabel="input position", ylabel="% of units connected", title=title)
        legend_outside(ax)
        fig.tight_layout()
        return fig
    h, w = input_shape[-2], input_shape[-1]
    fig, axes = plt.subplots(1, len(per_input), figsize=(2.1 * len(per_input), 2.5), squeeze=False)
    for ax, (name, v) in zip(axes[0], per_input.items()):
        ax.imshow(v.reshape(-1, h, w).mean(0), cmap="magma", vmin=0)
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title or "% of units connected to each pixel", fontsize=9)
    fig.tight_layout()
    return fig


def jackpot_strips(pools: Mapping[str, Sequence[Sequence[float]]], marks: Mapping[str, Sequence[float]],
                   ylabel: str, title: str = "", seeds: Sequence[int] | None = None) -> Figure:
    """Every member of each pool as a dot, one column per (pool, seed), with each seed's
    reference values (``marks``: e.g. the ticket, the dense network) as short lines across
    that seed's columns: is there a jackpot in the pool?"""
    fig, ax = plt.subplots(figsize=(9.2, 3.9))
    n_seeds = max(len(v) for v in pools.values())
    width = len(pools) + 1
    rng = np.random.default_rng(0)  # horizontal jitter of the dots only (no result depends on it)
    for p, (name, per_seed) in enumerate(pools.items()):
        for s, values in enumerate(per_seed):
            x = s * width + p + rng.uniform(-0.18, 0.18, len(values))
            ax.scatter(x, values, s=10, color=f"C{p}", alpha=0.7, label=name if s == 0 else None)
    for k, (name, per_seed) in enumerate(marks.items()):
        for s, y in enumerate(per_seed):
            ax.hlines(y, s * width - 0.4, s * width + len(pools) - 0.6, color=("k", "grey", "C3")[k % 3],
                      ls=("-", ":", "--")[k % 3], lw=1.6, label=name if s == 0 else None)
    ax.set_xticks([s * width + (len(pools) - 1) / 2 for s in range(n_seeds)],
                  [f"seed {s}" for s in (seeds if seeds is not None else range(n_seeds))])
    ax.set(ylabel=ylabel, title=title)
    legend_outside(ax, "dots: one trained network each")
    fig.tight_layout()
    return fig


def overlap_bars(result: Mapping[str, Mapping[str, float]], title: str = "") -> Figure:
    """Per-layer and overall intersection-over-union of two masks, with the IoU expected of
    two random masks of the same densities drawn as a black tick. Layers are named in
    words (first hidden layer, ..., output layer)."""
    names = list(result)
    layers = [n for n in names if n != "overall"]
    words = {n: w for n, w in zip(layers, layer_words(layers))}
    words["overall"] = "all layers"
    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 4.5, 3.4))
    ax.bar(range(len(names)), [result[n]["iou"] for n in names], label="IoU of the two masks")
    ax.scatter(range(len(names)), [result[n]["chance_iou"] for n in names], marker="_", s=600,
               color="k", label="expected of two random masks\nwith the same densities")
    ax.set_xticks(range(len(names)), [words[n] for n in names], rotation=20, ha="right")
    ax.set(ylabel="intersection over union", ylim=(0, 1.05), title=title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    return fig


def criteria_panels(densities: Sequence[float], panels: Mapping[str, Mapping[str, np.ndarray]],
                    ylabel: str, chance: float | None = None,
                    xlabel: str = "percent of weights kept per layer (log scale)") -> Figure:
    """Side-by-side panels (one per start of the kept weights) of accuracy against the
    percentage of weights kept, one band per mask criterion; one shared legend on the right."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels) + 2.6, 3.9), sharey=True,
                             squeeze=False)
    refs = {"chance": chance} if chance is not None else None
    for ax, (title, series) in zip(axes[0], panels.items()):
        seed_bands([100 * d for d in densities], series, xlabel,
                   ylabel, title, ax=ax, references=refs, logx=True, legend=False)
    n = {np.atleast_2d(np.asarray(v)).shape[0] for p in panels.values() for v in p.values()}
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False,
               title=f"line: mean over {'/'.join(map(str, sorted(n)))} seeds\nshaded: min-max over seeds",
               title_fontsize=8, alignment="left")
    fig.tight_layout()
    return fig


def accuracy_vs_cost(costs: Mapping[str, Sequence[float]], accuracies: Mapping[str, np.ndarray],
                     xlabel: str, ylabel: str, title: str = "",
                     colors: Mapping[str, str] | None = None, point: str = "density") -> Figure:
    """One line per method through its (cost, accuracy) points, one point per density:
    ``costs[name]`` per density and ``accuracies[name]`` (seeds x densities), drawn as the
    mean with a min-max bar over seeds; a log cost axis. ``point``: what one point stands
    for, said in the legend."""
    fig, ax = plt.subplots(figsize=(9.0, 4.0))
    n_seeds = set()
    for i, (name, xs) in enumerate(costs.items()):
        ys = np.atleast_2d(np.asarray(accuracies[name], dtype=float))
        n_seeds.add(len(ys))
        color = (colors or {}).get(name, f"C{i}")
        mean = ys.mean(axis=0)
        ax.errorbar(xs, mean, yerr=[mean - ys.min(axis=0), ys.max(axis=0) - mean], fmt="o-", color=color,
                    capsize=2, ms=4, label=name)
    ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    seeds = "/".join(str(n) for n in sorted(n_seeds))
    legend_outside(ax, f"one point per {point};\nmean over {seeds} seeds,\nbars: min-max")
    fig.tight_layout()
    return fig


def best_of_n_panels(panels: Mapping[str, Mapping[str, tuple[Sequence[int], np.ndarray]]],
                     ticket: np.ndarray, dense: Sequence[float], ticket_label: str,
                     ylabel: str = "expected test accuracy of the best on validation") -> Figure:
    """"Train N, keep the best" against N, a panel per ``{title: {route label: (Ns, values
    seeds x Ns)}}`` (the first route in C0, the next in C1...), each with the ticket's
    mean and min-max over seeds (column i of ``ticket``, seeds x panels) and the dense
    network's mean: does buying more small networks reach the ticket?"""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False, sharey=True)
    for i, (title, routes) in enumerate(panels.items()):
        ax = axes[0][i]
        for j, (label, (ns, values)) in enumerate(routes.items()):
            band(ax, ns, values, label=label, color=None if j == 0 else f"C{j}")
        ax.axhline(ticket[:, i].mean(), color="k", lw=1.6, label=f"{ticket_label} (mean)")
        ax.axhspan(ticket[:, i].min(), ticket[:, i].max(), color="k", alpha=0.08, lw=0)
        ax.axhline(np.mean(dense), color="grey", ls=":", label="dense network (mean)")
        ax.set_xscale("log", base=2)
        ns = list(next(iter(routes.values()))[0])
        ticks = ns if len(ns) < 2 or ns[-1] / ns[-2] >= 1.5 else ns[:-2] + ns[-1:]  # no overlapping labels
        ax.set_xticks(ticks, [str(n) for n in ticks])
        ax.minorticks_off()
        ax.set(xlabel="N networks trained", title=title)
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False,
                       title="lines: mean over seeds\nshaded: min-max", title_fontsize=8)
    fig.tight_layout()
    return fig
