"""The figures of notebooks 01-02 draw from results without training anything."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import lthlib
from lthlib.engine.training import Run
from lthlib.experiments.imp import IMPResult, IMPRound, imp_for_scale, kind_label
from lthlib.masks import Mask
from lthlib.report import plots

ITERATIONS = [0, 50, 100, 150, 200]


def fake_run(offset: float = 0.0, mask: Mask | None = None) -> Run:
    x = np.asarray(ITERATIONS, dtype=float)
    val_loss = list(2.0 - x / 200 + (x / 200) ** 2 + offset)  # minimum inside the run
    acc = list(0.1 + 0.5 * x / 200 + offset)
    return Run(settings={}, iterations=list(ITERATIONS), train_loss=list(2.0 - x / 100), train_acc=acc,
               val_loss=val_loss, val_acc=acc, test_loss=val_loss, test_acc=acc,
               mask=mask.state_dict() if mask is not None else None)


def fake_results(seeds: int = 3, rounds: int = 2) -> list[IMPResult]:
    settings = imp_for_scale("smoke", lthlib.for_scale("smoke", iterations=200), rounds=rounds)
    out = []
    for s in range(seeds):
        mask = Mask({"hidden.0.weight": torch.ones(6, 4, dtype=torch.bool),
                     "output.weight": torch.ones(2, 6, dtype=torch.bool)})
        rs = []
        for r in range(1, rounds + 1):
            mask = Mask({n: t & (torch.rand(t.shape, generator=torch.Generator().manual_seed(r + 10 * s)) < 0.6)
                         for n, t in mask.items()})
            rs.append(IMPRound(r, mask, fake_run(0.01 * s, mask),
                               {c: fake_run(-0.05 * r + 0.01 * s, mask) for c in settings.controls}))
        out.append(IMPResult(settings.with_seed(s), fake_run(0.01 * s), rs))
    return out


def test_layer_labels_are_words():
    assert plots.layer_labels(["a.weight", "b.weight", "c.weight"]) == \
        ["hidden layer 1", "hidden layer 2", "output layer"]
    assert plots.layer_labels(["c1", "c2", "fc", "out"], [(8, 3, 3, 3), (8, 8, 3, 3), (10, 72), (10, 10)]) == \
        ["conv layer 1", "conv layer 2", "hidden layer 1", "output layer"]


def test_layer_labels_of_a_subset_come_from_each_layers_place_among_all():
    # the layers a mask emptied (notebook 06) are a subset: each keeps its own word, not
    # the word of its position in the subset
    every = ["hidden.0.weight", "hidden.1.weight", "output.weight"]
    assert plots.layer_labels(["hidden.1.weight", "output.weight"], among=every) == \
        ["hidden layer 2", "output layer"]
    assert plots.layer_labels(["hidden.1.weight"], among=every) == ["hidden layer 2"]
    assert plots.layer_labels(["hidden.0.weight"], among=every) == ["hidden layer 1"]
    assert plots.layer_labels([], among=every) == []
    shapes = [(8, 3, 3, 3), (8, 8, 3, 3), (10, 72), (10, 10)]
    assert plots.layer_labels(["fc", "c2"], shapes, among=["c1", "c2", "fc", "out"]) == \
        ["hidden layer 1", "conv layer 2"]
    with pytest.raises(ValueError, match="not among"):
        plots.layer_labels(["nope"], among=every)
    with pytest.raises(ValueError, match="one shape per layer"):
        plots.layer_labels(["fc"], shapes[:2], among=["c1", "c2", "fc", "out"])


def test_training_curves_three_panels_and_band_note():
    fig = plots.training_curves([fake_run(0.0), fake_run(0.02)], title="t")
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert "min-max" in fig.axes[0].get_legend().get_title().get_text()


@pytest.mark.parametrize("fn", [plots.imp_metric, plots.imp_early_stop])
def test_imp_figures_use_kind_labels_and_state_the_band(fn):
    results = fake_results()
    fig = fn(results)
    legend = fig.axes[0].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert kind_label("ticket") in texts and kind_label("reinit") in texts
    assert "dense network (100%)" in texts
    assert "min-max" in legend.get_title().get_text()


def test_imp_bands_and_curves_at_round():
    results = fake_results()
    reach = {"ticket": np.array([[50, 100], [50, 150], [100, 100]]), "reinit": np.array([[100, 200]] * 3)}
    fig = plots.imp_bands([60.0, 36.0], reach, "iterations", dense=[50, 100, 50], end=200)
    assert isinstance(fig, Figure)
    fig = plots.curves_at_round(results, 1, target=0.4)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "target" in texts and kind_label("random_mask") in texts
    with pytest.raises(IndexError):
        plots.curves_at_round(results, 5)


def test_rewinding_and_barrier_figures_have_their_artists():
    import numpy as np

    from lthlib.report import plots

    ks = (0, 100, 500)
    ticket = np.array([[0.80, 0.82, 0.85], [0.79, 0.83, 0.86], [0.81, 0.80, 0.84]])
    fig = plots.rewinding_vs_k(ks, ticket, {"random reinit": ((0, 500), ticket[:, [0, 2]] - 0.05)},
                               [0.86, 0.87, 0.85], "test accuracy")
    ax = fig.axes[0]
    assert ax.get_xscale() == "symlog" and [t.get_text() for t in ax.get_xticklabels()] == ["0", "100", "500"]
    assert {"IMP ticket, rewound to k", "random reinit"} <= {t.get_text() for t in ax.get_legend().get_texts()}
    assert "95% CI" in ax.get_legend().get_title().get_text()
    fig = plots.barrier_vs_k({"dense network": (ks, ticket / 10), "random pruning": ((0, 500), ticket[:, [0, 2]] / 20)})
    ax = fig.axes[0]
    assert len(ax.collections) == 2 and ax.get_xscale() == "symlog"  # one band per series
    assert "min-max" in ax.get_legend().get_title().get_text()
    # min-max bands of barriers (never negative) stay at or above zero, where a t-interval
    # over three seeds with one large barrier would reach below it
    spread_out = np.array([[0.0, 0.0], [0.0, 0.0], [0.30, 0.0]])
    ax = plots.barrier_vs_k({"ticket": ((0, 500), spread_out)}).axes[0]
    lowest = min(float(p.vertices[:, 1].min()) for p in ax.collections[0].get_paths())
    assert lowest >= 0.0
    assert any("stable below 2" in t.get_text() for t in ax.get_legend().get_texts())


def test_speedup_panels_jackpot_and_input_profiles_draw_what_they_are_given():
    import torch

    from lthlib.masks import Mask
    from lthlib.report import plots
    from lthlib.report.plots import speed as sp

    fig = sp.speedup_panels({"a, batch 1": {"CSR": ([1.0, 0.1], [0.5, 2.0])},
                                "a, batch 256": {"CSR": ([1.0, 0.1], [0.3, 1.5]), "COO": ([0.1], [1.2])},
                                "b, batch 1": {}}, columns=2)
    axes = fig.axes
    assert [len(ax.lines) for ax in axes[:3]] == [2, 3, 1]  # series + break-even line
    assert list(axes[1].lines[0].get_xdata()) == [100.0, 10.0] and not axes[3].axison
    fig = plots.jackpot_strips({"pool": [[0.5, 0.6], [0.55]]}, {"ticket": [0.7, 0.65]}, "acc", seeds=[3, 4])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["seed 3", "seed 4"]
    m = Mask({"l.weight": torch.tensor([[True, False], [True, True]])})
    fig = plots.input_profiles({"x": m}, "l.weight", (2,))
    assert list(fig.axes[0].lines[0].get_ydata()) == [100.0, 50.0]
