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
         color: str | None = None) -> None:
    """Mean line with a shaded min-max band over seeds (rows of ``ys``)."""
    ys = np.asarray(ys, dtype=float)
    mean = ys.mean(axis=0)
    (line,) = ax.plot(x, mean, label=label, color=color)
    if len(ys) > 1:
        ax.fill_between(x, ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2, lw=0)


def training_curves(runs: Sequence[Run], title: str = "") -> Figure:
    """Loss and accuracy against iteration, mean over seeds with a min-max band; the
    early-stopping iteration of each seed is marked on the validation-loss curve."""
    if not runs:
        raise ValueError("training_curves needs at least one Run")
    x = runs[0].iterations
    if any(r.iterations != x for r in runs):
        raise ValueError("runs were evaluated at different iterations; plot them separately")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
    for metric in ("train_loss", "val_loss", "test_loss"):
        band(ax_loss, x, [getattr(r, metric) for r in runs], METRIC_LABELS[metric])
    for metric in ("train_acc", "val_acc", "test_acc"):
        band(ax_acc, x, [getattr(r, metric) for r in runs], METRIC_LABELS[metric])
    for i, r in enumerate(runs):
        es = r.early_stop_iteration
        ax_loss.axvline(es, color="k", ls=":", lw=1, label="early stop (min val loss)" if i == 0 else None)
        ax_acc.axvline(es, color="k", ls=":", lw=1)
    ax_loss.set(xlabel="iteration", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="iteration", ylabel="accuracy", title="accuracy")
    ax_loss.legend(fontsize=8)
    ax_acc.legend(fontsize=8)
    seeds = f" ({len(runs)} seeds: mean, min-max band)" if len(runs) > 1 else ""
    fig.suptitle((title or "training curves") + seeds)
    fig.tight_layout()
    return fig


def weight_histograms(initial: Mapping[str, torch.Tensor], trained: Mapping[str, torch.Tensor],
                      names: Sequence[str], bins: int = 80) -> Figure:
    """Per layer: the distribution of weight values at initialisation and after training.

    Magnitude pruning removes the weights nearest zero, i.e. the middle of these histograms.
    """
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        w0, w1 = initial[name].flatten().float(), trained[name].flatten().float()
        lim = float(max(w0.abs().max(), w1.abs().max()))
        edges = np.linspace(-lim, lim, bins + 1)
        ax.hist(w0.numpy(), bins=edges, alpha=0.6, label="initial", density=True)
        ax.hist(w1.numpy(), bins=edges, alpha=0.6, label="trained", density=True)
        ax.set(title=f"{name}\n{w0.numel():,} weights", xlabel="weight value")
    axes[0][0].set_ylabel("density")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def magnitude_scatter(initial: Mapping[str, torch.Tensor], trained: Mapping[str, torch.Tensor],
                      names: Sequence[str], max_points: int = 4_000, seed: int = 0) -> Figure:
    """Per layer: |initial weight| against |trained weight|, with the 20% magnitude
    threshold of the trained weights drawn (the weights below it are the first pruned)."""
    gen = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.3), squeeze=False)
    for ax, name in zip(axes[0], names):
        a0 = initial[name].flatten().abs().numpy()
        a1 = trained[name].flatten().abs().numpy()
        pick = gen.choice(len(a0), size=min(max_points, len(a0)), replace=False)
        ax.scatter(a0[pick], a1[pick], s=2, alpha=0.4)
        ax.axhline(np.quantile(a1, 0.2), color="r", lw=1, label="20% smallest |trained| below")
        ax.set(title=name, xlabel="|initial weight|")
    axes[0][0].set_ylabel("|trained weight|")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def parameters_per_layer(model: nn.Module) -> Figure:
    """Bar chart of prunable weights per layer (log axis), each bar labelled with its count."""
    params = prunable_parameters(model)
    names, counts = list(params), [p.numel() for p in params.values()]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(names) + 2), 3.2))
    bars = ax.bar(range(len(names)), counts)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
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


KIND_LABELS = {"ticket": "winning ticket (IMP)", "reinit": "random reinit (same mask)",
               "random_mask": "random pruning (same densities)", "one_shot": "one-shot pruning"}
KIND_COLORS = {"ticket": "C0", "reinit": "C3", "random_mask": "C2", "one_shot": "C1"}


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


def imp_metric(results: Sequence, metric: str = "test_acc", at: str = "early_stop",
               kinds: Sequence[str] = ("ticket", "reinit", "random_mask"), ylabel: str | None = None,
               title: str = "") -> Figure:
    """``metric`` against the percentage of weights remaining, one band (over seeds) per
    kind of network; the dense network's mean is the dashed line."""
    densities = np.mean([r.densities() for r in results], axis=0) * 100
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for kind in kinds:
        if kind != "ticket" and kind not in results[0].rounds[0].controls:
            continue
        band(ax, densities, [r.metric(kind, metric, at) for r in results], KIND_LABELS.get(kind, kind),
             KIND_COLORS.get(kind))
    dense = np.mean([r.metric("ticket", metric, at)[0] for r in results])
    ax.axhline(dense, color="k", ls="--", lw=1, label="dense network")
    _percent_axis(ax, densities)
    ax.set_ylabel(ylabel or f"{METRIC_LABELS.get(metric, metric)} ({at.replace('_', ' ')})")
    seeds = f"{len(results)} seeds: mean, min-max band"
    ax.set_title(f"{title} ({seeds})" if title else seeds, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def imp_early_stop(results: Sequence, kinds: Sequence[str] = ("ticket", "reinit", "random_mask")) -> Figure:
    """The early-stopping iteration (minimum validation loss) against weights remaining."""
    densities = np.mean([r.densities() for r in results], axis=0) * 100
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for kind in kinds:
        if kind != "ticket" and kind not in results[0].rounds[0].controls:
            continue
        band(ax, densities, [r.early_stop_iterations(kind) for r in results],
             KIND_LABELS.get(kind, kind), KIND_COLORS.get(kind))
    ax.axhline(results[0].settings.train.iterations, color="grey", lw=0.8, ls=":",
               label="end of training")
    _percent_axis(ax, densities)
    ax.set_ylabel("early-stopping iteration")
    ax.set_title(f"how fast each network learns ({len(results)} seeds)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def ticket_curves(results: Sequence, rounds: Sequence[int], metric: str = "test_acc") -> Figure:
    """``metric`` against iteration for the tickets of a few rounds and the dense network
    (mean over seeds, min-max band)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, r in enumerate(rounds):
        runs = [res.runs("ticket")[r] for res in results]
        pct = 100 * float(np.mean([res.densities()[r] for res in results]))
        label = "dense (100%)" if r == 0 else f"ticket, {pct:.1f}% remaining"
        band(ax, runs[0].iterations, [getattr(run, metric) for run in runs], label,
             "k" if r == 0 else plt.cm.viridis(i / max(1, len(rounds) - 1)))
    ax.set(xlabel="iteration", ylabel=METRIC_LABELS.get(metric, metric))
    ax.legend(fontsize=8)
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
        ax.set(xlabel="input position", ylabel="% of units connected",
               title=f"{layer}: {100 * float(keep.mean()):.1f}% of weights remain")
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


def rewinding(sweep: Mapping[int, Sequence], round_index: int, metric: str = "test_acc",
              kinds: Sequence[str] = ("ticket", "reinit", "random_mask"), ax: plt.Axes | None = None) -> Figure:
    """``metric`` (at early stopping) against the rewind iteration k, at one pruning round
    (one sparsity): the ticket and its controls, bands over seeds; dense mean dashed."""
    ks = sorted(sweep)
    fig = ax.figure if ax is not None else plt.figure(figsize=(5.6, 3.8))
    ax = ax if ax is not None else fig.add_subplot()
    x = np.arange(len(ks))
    first = sweep[ks[0]][0]
    for kind in kinds:
        if kind != "ticket" and kind not in first.rounds[0].controls:
            continue
        ys = [[res.metric(kind, metric)[round_index] for res in sweep[k]] for k in ks]
        band(ax, x, np.array(ys).T, KIND_LABELS.get(kind, kind), KIND_COLORS.get(kind))
    dense = np.mean([res.metric("ticket", metric)[0] for k in ks for res in sweep[k]])
    ax.axhline(dense, color="k", ls="--", lw=1, label="dense network")
    pct = 100 * np.mean([res.densities()[round_index] for res in sweep[ks[0]]])
    ax.set_xticks(x, [str(k) for k in ks])
    ax.set(xlabel="rewind iteration k (0 = reset to initialisation)",
           ylabel=f"{METRIC_LABELS.get(metric, metric)} (early stop)",
           title=f"{pct:.1f}% of weights remaining ({len(sweep[ks[0]])} seeds)")
    ax.legend(fontsize=8)
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
                 reference: float | None = None, reference_label: str = "dense network") -> Figure:
    """Bars grouped by the outer key, one bar per inner key: the mean over seeds with a
    min-max error bar."""
    groups = list(values)
    members = list(dict.fromkeys(m for g in groups for m in values[g]))
    width = 0.8 / max(len(values[g]) for g in groups)
    fig, ax = plt.subplots(figsize=(1.6 * len(groups) + 3, 3.9))
    labelled: set[str] = set()
    for i, g in enumerate(groups):
        present = list(values[g])
        for j, member in enumerate(present):
            v = np.asarray(values[g][member], dtype=float)
            x = i + (j - (len(present) - 1) / 2) * width
            ax.bar(x, v.mean(), width, yerr=[[v.mean() - v.min()], [v.max() - v.mean()]], capsize=2,
                   color=f"C{members.index(member)}", label=None if member in labelled else member)
            labelled.add(member)
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1, label=reference_label)
    ax.set_xticks(range(len(groups)), groups)
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def overlap_bars(result: Mapping[str, Mapping[str, float]], title: str = "") -> Figure:
    """Per-layer and overall intersection-over-union of two masks, with the IoU expected of
    two random masks of the same densities drawn as a black tick."""
    names = list(result)
    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2.5, 3.4))
    ax.bar(range(len(names)), [result[n]["iou"] for n in names], label="IoU of the two masks")
    ax.scatter(range(len(names)), [result[n]["chance_iou"] for n in names], marker="_", s=600,
               color="k", label="expected by chance")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set(ylabel="intersection over union", ylim=(0, 1.05), title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def barrier_vs_k(ks: Sequence[int], barriers: Mapping[str, np.ndarray], threshold: float = 0.02,
                 ax: plt.Axes | None = None) -> Figure:
    """Error barrier (instability) against the iteration k at which the children were
    spawned, one band (over seeds) per kind of network; the paper's 2% stability line."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(5.6, 3.8))
    ax = ax if ax is not None else fig.add_subplot()
    x = np.arange(len(ks))
    for name, values in barriers.items():
        band(ax, x, 100 * np.asarray(values), name)
    ax.axhline(100 * threshold, color="grey", ls=":", lw=1, label=f"stable below {100 * threshold:g}%")
    ax.set_xticks(x, [str(k) for k in ks])
    ax.set(xlabel="iteration k at which the two children are spawned",
           ylabel="test error barrier (percentage points)", title="instability to SGD noise")
    ax.legend(fontsize=7)
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
