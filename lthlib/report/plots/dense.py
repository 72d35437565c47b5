"""Notebook 01's figures: training curves, weight histograms and magnitudes, parameters per
layer, examples."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from lthlib.data.datasets import Dataset
from lthlib.engine.training import Run
from lthlib.models.networks import prunable_parameters
from lthlib.report.plots.common import METRIC_LABELS, SPLIT_COLORS, band, layer_labels


def training_curves(runs: Sequence[Run], title: str = "", colors: Mapping[str, str] | None = None) -> Figure:
    """Loss and accuracy against iteration (mean over seeds, min-max band), and a third
    panel with each seed's validation loss on its own scale, so that whether it rises
    after its minimum can be read. Dotted lines: each seed's early-stopping iteration
    (minimum validation loss). ``colors``: a colour per split (``"train"``, ``"val"``,
    ``"test"``; default ``SPLIT_COLORS``, or ``SPLIT_GREYS``); the splits also differ in
    line style (train solid, validation dashed, test dotted). Runs trained with
    ``eval_train=False`` show no training curve, with ``test_curve=False`` no test curve."""
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
    for split in ("train", "test"):  # not evaluated at every point (eval_train, test_curve): left out
        if not all(r.has_curve(f"{split}_loss") for r in runs):
            del styles[split]
    for split, (color, ls, z, lw) in styles.items():
        band(ax_loss, x, [r.curve(f"{split}_loss") for r in runs], METRIC_LABELS[f"{split}_loss"], color, ls, z, lw)
        band(ax_acc, x, [r.curve(f"{split}_acc") for r in runs], METRIC_LABELS[f"{split}_acc"], color, ls, z, lw)
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
    if x[start] < x[-1]:  # a curve of one or two points has no last third to zoom into
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
