"""ipywidgets explorers over stored results. A slider only reads what was stored; it never
trains. Each explorer draws with a function from ``lthlib.report.plots``."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from lthlib.report import plots

HEADLESS_NOTE = "(an explorer: open this notebook in Jupyter to use it)"


def headless() -> bool:
    """True when notebooks run without a front end (``LTHLIB_HEADLESS=1``, set by
    ``python -m lthlib run`` and the notebook tests). There an explorer is built but not
    rendered: nobody can move its slider, and executing a cell that renders widget output
    sometimes never returns under nbclient (jupyter/nbclient#312, jupyter/nbconvert#2029).
    The static figure before each explorer carries the content."""
    return os.environ.get("LTHLIB_HEADLESS", "").strip() not in ("", "0")


def _interactive_output(show, controls: dict) -> widgets.Output:
    return widgets.Output() if headless() else widgets.interactive_output(show, controls)


def _display(box: widgets.Widget) -> None:
    if headless():
        print(HEADLESS_NOTE)
    else:
        display(box)
from lthlib.engine.training import Run

if TYPE_CHECKING:
    from lthlib.masks import Mask


def weight_explorer(run: Run, names: Sequence[str]) -> widgets.Widget:
    """A slider over the iterations whose weights ``run`` stored: the weight histograms at
    that iteration against those at initialisation."""
    stored = sorted(run.weights_at)
    if 0 not in stored or len(stored) < 2:
        raise ValueError("weight_explorer needs a run that stored iteration 0 and at least one "
                         "later iteration (train(..., save_weights_at=[0, ...]))")
    slider = widgets.SelectionSlider(options=stored[1:], value=stored[-1], description="iteration",
                                     continuous_update=False,
                                     layout=widgets.Layout(width="60%"))

    def show(iteration: int) -> None:
        fig = plots.weight_histograms(run.weights_at[0], run.weights_at[iteration], names,
                                      labels=("initial", f"iteration {iteration:,}"))
        fig.suptitle(f"weights at iteration {iteration} vs initialisation", y=1.02)
        plt.show()

    out = _interactive_output(show, {"iteration": slider})
    box = widgets.VBox([slider, out])
    _display(box)
    return box


def imp_explorer(results: Sequence, layer: str, input_shape: tuple[int, ...]) -> widgets.Widget:
    """A slider over the stored IMP rounds: the first layer's mask at that round and the
    accuracy of the ticket and its controls there (mean over seeds)."""
    import numpy as np

    from lthlib.experiments.imp import kind_label

    n_rounds = len(results[0].rounds)
    slider = widgets.IntSlider(value=n_rounds, min=1, max=n_rounds, description="round",
                               continuous_update=False)

    def show(round_index: int) -> None:
        res = results[0]
        rnd = res.rounds[round_index - 1]
        kinds = ["ticket", *rnd.controls]
        accs = {k: np.mean([r.metric(k)[round_index] for r in results]) for k in kinds}
        print(f"round {round_index}: {100 * rnd.density:.2f}% of weights remain; test accuracy at "
              "early stopping (mean over seeds): "
              + ", ".join(f"{kind_label(k)} {a:.3f}" for k, a in accs.items()))
        plots.first_layer_mask(rnd.mask, layer, input_shape)
        plt.show()

    out = _interactive_output(show, {"round_index": slider})
    box = widgets.VBox([slider, out])
    _display(box)
    return box


def overlap_explorer(masks: Mapping[str, "Mask"]) -> widgets.Widget:
    """Two dropdowns over named masks (criterion, round, seed...): their per-layer overlap
    against chance. Reads stored masks only."""
    from lthlib.masks import overlap

    names = list(masks)
    if len(names) < 2:
        raise ValueError("overlap_explorer needs at least two masks")
    first = widgets.Dropdown(options=names, value=names[0], description="mask A",
                             layout=widgets.Layout(width="45%"))
    second = widgets.Dropdown(options=names, value=names[1], description="mask B",
                              layout=widgets.Layout(width="45%"))

    def show(a: str, b: str) -> None:
        plots.overlap_bars(overlap(masks[a], masks[b]), title=f"{a}  vs  {b}")
        plt.show()

    out = _interactive_output(show, {"a": first, "b": second})
    box = widgets.VBox([widgets.HBox([first, second]), out])
    _display(box)
    return box


def interpolation_explorer(curves: Mapping[int, Mapping[str, Mapping[str, Sequence[float]]]]) -> widgets.Widget:
    """A slider over the stored spawn iterations k: the test error along the line between
    the two children, for each kind of network (``curves[k][kind]``)."""
    ks = sorted(curves)
    slider = widgets.SelectionSlider(options=ks, value=ks[0], description="k", continuous_update=False)

    def show(k: int) -> None:
        fig, ax = plt.subplots(figsize=(5.6, 3.6))
        for kind, curve in curves[k].items():
            ax.plot(curve["alpha"], [100 * e for e in curve["test_error"]], marker=".", label=kind)
        ax.set(xlabel="interpolation alpha (child 1 -> child 2)", ylabel="test error (%)",
               title=f"children spawned at iteration {k}")
        ax.legend(fontsize=8)
        plt.show()

    out = _interactive_output(show, {"k": slider})
    box = widgets.VBox([slider, out])
    _display(box)
    return box
