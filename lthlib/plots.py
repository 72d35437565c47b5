"""The standard figures. Each function returns a matplotlib Figure; notebooks show it and,
when a figures folder is set, save it with ``save_figure``."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from lthlib.data import Dataset
from lthlib.models import prunable_parameters
from lthlib.training import Run

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


def training_curves(runs: Sequence[Run], title: str = "", colors: Mapping[str, str] | None = None) -> Figure:
    """Loss and accuracy against iteration (mean over seeds, min-max band), and a third
    panel with each seed's validation loss on its own scale, so that whether it rises
    after its minimum can be read. Dotted lines: each seed's early-stopping iteration
    (minimum validation loss). ``colors``: a colour per split (``"train"``, ``"val"``,
    ``"test"``; default ``SPLIT_COLORS``, or ``SPLIT_GREYS``); the splits also differ in
    line style (train solid, validation dashed, test dotted)."""
    if not runs:
        raise ValueError("training_curves needs at least one Run")
    x = runs[0].iterations
    if any(r.iterations != x for r in runs):
        raise ValueError("runs were evaluated at different iterations; plot them separately")
    colors = {**SPLIT_COLORS, **(colors or {})}
    fig, (ax_loss, ax_acc, ax_val) = plt.subplots(1, 3, figsize=(14, 4.0))
    # validation dashed and wide, test dotted and thin on top: where they coincide, both show
    styles = {"train": (colors["train"], "-", 2, 1.5), "val": (colors["val"], "--", 3, 2.6),
              "test": (colors["test"], ":", 4, 1.8)}
    for split, (color, ls, z, lw) in styles.items():
        band(ax_loss, x, [getattr(r, f"{split}_loss") for r in runs], METRIC_LABELS[f"{split}_loss"], color, ls, z, lw)
        band(ax_acc, x, [getattr(r, f"{split}_acc") for r in runs], METRIC_LABELS[f"{split}_acc"], color, ls, z, lw)
    for i, r in enumerate(runs):
        es = r.early_stop_iteration
        for ax in (ax_loss, ax_acc, ax_val):
            ax.axvline(es, color="k", ls=":", lw=1, label="early stop (min val loss), per seed" if i == 0 else None)
        ax_val.plot(x, r.val_loss, color=colors["val"], lw=1, alpha=0.8,
                    label="validation loss, per seed" if i == 0 else None)
        ax_val.plot(es, r.val_loss[r.early_stop_index], "ko", ms=3)
    # the validation panel shows the last third of training, where overfitting would show,
    # on the y range of that third only
    start = (2 * len(x)) // 3
    lo = min(min(r.val_loss[start:]) for r in runs)
    hi = max(max(r.val_loss[start:]) for r in runs)
    ax_val.set_ylim(lo - 0.1 * (hi - lo + 1e-9), hi + 0.1 * (hi - lo + 1e-9))
    ax_val.set_xlim(x[start], x[-1])
    ax_loss.set(xlabel="iteration", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="iteration", ylabel="accuracy", title="accuracy")
    ax_val.set(xlabel="iteration", ylabel="cross-entropy",
               title="validation loss, last third (zoomed)")
    band_note = f"mean over {len(runs)} seeds, shaded: min-max" if len(runs) > 1 else "one seed"
    for ax in (ax_loss, ax_acc, ax_val):
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
    ax_loss.get_legend().set_title(band_note, prop={"size": 7})
    ax_acc.get_legend().set_title(band_note, prop={"size": 7})
    fig.suptitle(title or "training curves")
    fig.tight_layout()
    return fig


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


def weight_histograms(initial: Mapping[str, torch.Tensor], trained: Mapping[str, torch.Tensor],
                      names: Sequence[str], bins: int = 80,
                      labels: tuple[str, str] = ("initial", "trained")) -> Figure:
    """Per layer: the distribution of weight values at initialisation and after training.

    Magnitude pruning removes the weights nearest zero, i.e. the middle of these histograms.
    """
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.2), squeeze=False)
    words = layer_labels(names, [initial[n].shape for n in names])
    for ax, name, word in zip(axes[0], names, words):
        w0, w1 = initial[name].flatten().float(), trained[name].flatten().float()
        lim = float(max(w0.abs().max(), w1.abs().max()))
        edges = np.linspace(-lim, lim, bins + 1)
        ax.hist(w0.numpy(), bins=edges, alpha=0.6, label=labels[0], density=True)
        ax.hist(w1.numpy(), bins=edges, alpha=0.6, label=labels[1], density=True)
        ax.set(title=f"{word}\n{w0.numel():,} weights", xlabel="weight value")
    axes[0][0].set_ylabel("probability density")
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    fig.tight_layout()
    return fig


def magnitude_scatter(initial: Mapping[str, torch.Tensor], trained: Mapping[str, torch.Tensor],
                      names: Sequence[str], max_points: int = 4_000, seed: int = 0) -> Figure:
    """Per layer: |initial weight| against |trained weight|, with the 20% magnitude
    threshold of the trained weights drawn (the weights below it are the first pruned)."""
    gen = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.3), squeeze=False)
    words = layer_labels(names, [initial[n].shape for n in names])
    for ax, name, word in zip(axes[0], names, words):
        a0 = initial[name].flatten().abs().numpy()
        a1 = trained[name].flatten().abs().numpy()
        pick = gen.choice(len(a0), size=min(max_points, len(a0)), replace=False)
        ax.scatter(a0[pick], a1[pick], s=2, alpha=0.4)
        ax.axhline(np.quantile(a1, 0.2), color="r", lw=1,
                   label="20% quantile of |trained|:\nthe weights below it are pruned first")
        ax.set(title=word, xlabel="|initial weight|")
    axes[0][0].set_ylabel("|trained weight|")
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    fig.tight_layout()
    return fig


def parameters_per_layer(model: nn.Module) -> Figure:
    """Bar chart of prunable weights per layer (log axis), each bar labelled with its count."""
    params = prunable_parameters(model)
    names, counts = list(params), [p.numel() for p in params.values()]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(names) + 2), 3.2))
    bars = ax.bar(range(len(names)), counts)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), layer_labels(names, [p.shape for p in params.values()]),
                  rotation=20, ha="right")
    ax.bar_label(bars, labels=[f"{c:,}" for c in counts], fontsize=8)
    ax.set(ylabel="weights (log scale)", title=f"prunable weights per layer (total {sum(counts):,})")
    ax.margins(y=0.25)
    fig.tight_layout()
    return fig


def examples(data: Dataset, per_class: int = 1, max_classes: int = 10) -> Figure:
    """A few training inputs per class: line plots for 1-D signals, images otherwise."""
    classes = list(range(min(data.num_classes, max_classes)))
    fig, axes = plt.subplots(per_class, len(classes), figsize=(1.4 * len(classes), 2.2 * per_class),
                             squeeze=False)
    for col, c in enumerate(classes):
        idx = (data.y_train == c).nonzero().flatten()[:per_class].cpu()
        for row, i in enumerate(idx):
            ax = axes[row][col]
            x = data.x_train[i].cpu()
            if x.dim() == 1:
                ax.plot(x.numpy(), np.arange(len(x)), lw=1.5)  # MNIST-1D is drawn upright
                ax.invert_yaxis()
            else:
                img = x * data.std.reshape(-1, 1, 1) + data.mean.reshape(-1, 1, 1)
                img = img.clamp(0, 1).permute(1, 2, 0).squeeze(-1).numpy()
                ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(str(c), fontsize=9)
    fig.suptitle(f"{data.name}: one training example per class", fontsize=10)
    fig.tight_layout()
    return fig



def _percent_axis(ax: plt.Axes, percents: Sequence[float]) -> None:
    """Percent of weights remaining on a log axis, decreasing to the right (as the paper)."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    lo, hi = min(percents), max(percents)
    ticks = [t for t in (100, 50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1) if lo * 0.9 <= t <= hi * 1.1]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(hi * 1.1, lo * 0.9)
    ax.set_xlabel("percent of weights remaining (log scale)")


def percent_axis(ax: plt.Axes, percents: Sequence[float]) -> None:
    """Set ``ax``'s x axis to percent of weights remaining (log scale, decreasing to the
    right) spanning ``percents``: e.g. again after adding a value beyond the data."""
    _percent_axis(ax, percents)


def _legend_outside(ax: plt.Axes, title: str | None = None) -> None:
    """The legend to the right of the axes, off the data."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False,
              title=title, title_fontsize=8, alignment="left")


def imp_bands(percents: Sequence[float], series: Mapping[str, np.ndarray], ylabel: str,
              dense: Sequence[float] | None = None, title: str = "", end: float | None = None,
              end_label: str = "end of training") -> Figure:
    """Values of each kind of network against the percentage of weights remaining.

    ``series``: ``{kind: array (seeds x rounds)}`` over the pruned rounds (``percents``,
    one per round), kinds being ``"ticket"`` or a control's name (labelled with
    ``lthlib.imp.kind_label``) or any other label. ``dense``: one value per seed of the dense
    network, drawn as a horizontal band (min-max) around its mean. ``end``: a dotted
    reference line (e.g. the last iteration, for iteration counts)."""
    from lthlib.imp import kind_color, kind_label

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
    _percent_axis(ax, list(percents) + ([100.0] if dense is not None else []))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    _legend_outside(ax, f"mean over {n_seeds} seeds;\nshaded: min-max over seeds" if n_seeds > 1 else None)
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
        band(ax, runs[0].iterations, [getattr(run, metric) for run in runs], label,
             "k" if r == 0 else plt.cm.Blues(0.45 + 0.5 * pruned.index(r) / max(1, len(pruned) - 1)))
    ax.set(xlabel="iteration", ylabel=METRIC_LABELS.get(metric, metric))
    _legend_outside(ax, f"mean over {len(results)} seeds;\nshaded: min-max over seeds"
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
    from lthlib.imp import kind_color, kind_label

    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    dense = [res.dense for res in results]
    band(ax, dense[0].iterations, [getattr(run, metric) for run in dense], "dense network (100%)", "k")
    for kind in kinds:
        if kind != "ticket" and kind not in results[0].rounds[round_index - 1].controls:
            continue  # a control not trained in this round (IMPSettings.control_rounds)
        runs = [res.run(res.rounds[round_index - 1], kind) for res in results]
        ls, lw = CURVE_STYLES.get(kind, ("-", 1.5))  # controls that coincide stay visible
        band(ax, runs[0].iterations, [getattr(run, metric) for run in runs], kind_label(kind), kind_color(kind),
             ls=ls, lw=lw)
    if target is not None:
        ax.axhline(target, color="grey", ls="--", lw=1, label=target_label)
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1.2, label=f"chance ({chance:.3f})")
    pct = 100 * float(np.mean([res.densities()[round_index] for res in results]))
    ax.set(xlabel="iteration", ylabel=METRIC_LABELS.get(metric, metric),
           title=f"round {round_index}: {pct:{percent_format}}% of weights remaining")
    _legend_outside(ax, f"mean over {len(results)} seeds;\nshaded: min-max over seeds"
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
        _legend_outside(ax)
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
    _legend_outside(ax, "dots: one trained network each")
    fig.tight_layout()
    return fig


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
    _legend_outside(ax, legend_title if legend_title is not None else
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


def overlap_bars(result: Mapping[str, Mapping[str, float]], title: str = "") -> Figure:
    """Per-layer and overall intersection-over-union of two masks, with the IoU expected of
    two random masks of the same densities drawn as a black tick. Layers are named in
    words (first hidden layer, ..., output layer)."""
    names = list(result)
    layers = [n for n in names if n != "overall"]
    words = {n: w for n, w in zip(layers, _layer_words(layers))}
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
    _legend_outside(ax, f"mean over {n} seeds;\nshaded: min-max over seeds")
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


# ----------------------------------------------------------------------------- notebook 04
def _layer_words(names: Sequence[str]) -> list[str]:
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
        _percent_axis(ax, list(x))
    if legend:
        seeds = "/".join(str(n) for n in sorted(n_seeds))
        _legend_outside(ax, "line: one seed (no band)" if n_seeds == {1} else
                        f"line: mean over {seeds} seeds\nshaded: min-max over seeds")
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


def paired_differences(diffs: Mapping[str, Mapping[str, Sequence[float]] | Sequence[float]], xlabel: str,
                       title: str = "") -> Figure:
    """A forest plot of paired differences: for each row, the per-seed differences (dots),
    their mean (diamond) and its 95% confidence interval over seeds (Student's t, the
    interval the claims use). A row may hold several series (``{row: {series: values}}``,
    e.g. one per density), drawn in colours named in the legend."""
    from lthlib.claims import mean_ci

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
    from lthlib.claims import mean_ci

    ys = np.asarray(ys, dtype=float)
    stats = np.array([mean_ci(ys[:, j]) for j in range(ys.shape[1])])
    (line,) = ax.plot(x, stats[:, 0], label=label, color=color, marker=marker, ms=3)
    if len(ys) > 1:
        ax.fill_between(x, stats[:, 1], stats[:, 2], color=line.get_color(), alpha=0.2, lw=0)


def rewinding_vs_k(ks: Sequence[int], ticket: np.ndarray, controls: Mapping[str, tuple[Sequence[int], np.ndarray]],
                   dense: Sequence[float], ylabel: str, title: str = "", ax: plt.Axes | None = None) -> Figure:
    """Accuracy against the rewind iteration k on a symlog axis (k = 0 included): the
    ticket (rows = seeds, columns = ``ks``), each control at the k it was trained at
    (``{label: (ks, values)}``), and the dense network as a band. Bands: 95% CI of the
    mean over seeds."""
    from lthlib.claims import mean_ci
    from lthlib.imp import kind_color

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
    _legend_outside(ax, f"mean over {len(ticket)} seeds;\nshaded: 95% CI of the mean")
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
    _legend_outside(ax, f"one point per {point};\nmean over {seeds} seeds,\nbars: min-max")
    fig.tight_layout()
    return fig


def retraining_vs_density(percents: Sequence[float], series: Mapping[str, np.ndarray], dense: Sequence[float],
                          ylabel: str, title: str = "", ax: plt.Axes | None = None,
                          colors: Mapping[str, str] | None = None) -> Figure:
    """Accuracy against the percentage of weights remaining (log axis, decreasing to the
    right), one line per way of retraining (``series``: ``{label: seeds x rounds}``, the same
    seeds in every series) with a shaded 95% t-interval of the mean over seeds, and the dense
    network as a dashed line with its own 95% interval band."""
    from lthlib.claims import mean_ci

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
    _percent_axis(ax, list(percents))
    ax.set_xticks(list(percents), [f"{p:.1f}" for p in percents])  # a tick at every density IMP reached
    ax.set(ylabel=ylabel, title=title)
    seeds = "/".join(str(n) for n in sorted(n_seeds))
    _legend_outside(ax, f"mean over {seeds} seeds;\nshaded: 95% CI of the mean")
    fig.tight_layout()
    return fig


def retraining_curves(results, title: str = "", ax: plt.Axes | None = None) -> Figure:
    """``retraining_vs_density`` of a ``lthlib.retraining.RetrainingResults``: every way of
    retraining in its own colour, test accuracy at the end of retraining, the dense network."""
    from lthlib.imp import RETRAINING_LABELS
    from lthlib.retraining import RETRAINING_COLORS

    methods = results.experiment.methods
    return retraining_vs_density([100 * d for d in results.densities()[1:]],
                                 {RETRAINING_LABELS[m]: results.accuracy(m) for m in methods}, results.dense(),
                                 "test accuracy (end of retraining)", title, ax=ax,
                                 colors={RETRAINING_LABELS[m]: RETRAINING_COLORS[m] for m in methods})


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
