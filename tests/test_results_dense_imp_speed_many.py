"""The reads notebooks 01, 02, 08 and 09 make of their results, on small made-up results
whose values are known exactly (lthlib.experiments.dense_study, imp_study, sparse_exec, many_tickets,
and the figures they feed in lthlib.report.plots)."""
import matplotlib

matplotlib.use("Agg")

import math

import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from lthlib.engine.training import Run
from lthlib.experiments import dense_study, imp_study
from lthlib.experiments import many_tickets as mt
from lthlib.experiments import sparse_exec as sx
from lthlib.experiments import speed_routes as sr
from lthlib.experiments import speed_study as ss
from lthlib.experiments.imp import IMPResult, IMPRound, kind_label
from lthlib.models.networks import build_model
from lthlib.report import plots
from lthlib.report.plots import speed as sp


def run(val_loss, *, iterations=None, train_loss=None, test_loss=None, val_acc=None, test_acc=None, weights_at=None):
    """A Run with the given curves (the rest filled with zeros)."""
    n = len(val_loss)
    zeros = [0.0] * n
    return Run(settings={}, iterations=iterations or [10 * i for i in range(n)], train_loss=train_loss or zeros,
               train_acc=zeros, val_loss=list(val_loss), val_acc=val_acc or zeros, test_loss=test_loss or zeros,
               test_acc=test_acc or zeros, weights_at=weights_at or {})


# ------------------------------------------------------------------- notebook 01: dense runs
def test_loss_gap_and_its_widening_are_read_at_the_early_stop_and_the_end():
    r = run([3.0, 1.0, 2.0], train_loss=[2.0, 1.0, 0.5], test_loss=[2.5, 1.5, 2.0])
    assert r.early_stop_index == 1
    assert dense_study.loss_gap(r, 1) == 0.5 and dense_study.loss_gap(r, -1) == 1.5
    assert dense_study.gap_widening([r, r]) == [1.0, 1.0]


def test_rises_after_the_early_stop_and_above_the_minimum():
    a = run([3.0, 1.0, 2.0], test_loss=[9.0, 2.0, 3.0])  # stops at index 1
    b = run([1.0, 2.0, 4.0], test_loss=[4.0, 0.0, 5.0])  # stops at index 0
    np.testing.assert_allclose(dense_study.rise_after_early_stop([a, b]), [0.5, 0.25])
    np.testing.assert_allclose(dense_study.rise_above_minimum([a, b], "val_loss"), [1.0, 3.0])
    np.testing.assert_allclose(dense_study.rise_above_minimum([a], "test_loss"), [0.5])


def test_best_test_bias_is_what_picking_on_the_test_set_adds():
    r = run([3.0, 1.0, 2.0], test_acc=[0.5, 0.75, 0.875])
    np.testing.assert_allclose(dense_study.best_test_bias([r]), [0.125])


def test_percent_spread_says_to_between_negative_percentages():
    assert dense_study.percent_spread([0.1, 0.2, 0.3]) == "20.0% (10.0% to 30.0%)"
    assert dense_study.percent_spread([-0.02, -0.01], ".0f") == "-2% (-2% to -1%)"


def test_weight_movement_shares_and_steps():
    w = {0: {"a": torch.tensor([0.0, 0.0]), "b": torch.tensor([0.0])},
         10: {"a": torch.tensor([3.0, 0.0]), "b": torch.tensor([4.0])},   # 5 from init
         30: {"a": torch.tensor([6.0, 0.0]), "b": torch.tensor([8.0])}}   # 10 from init, 5 from iteration 10
    assert dense_study.weight_distance(w[10], w[0], ["a", "b"]) == 5.0
    assert dense_study.weight_distance(w[10], w[0], ["a"]) == 3.0
    share, per_it = dense_study.weight_movement([run([1.0], weights_at=w)], [0, 10, 30], ["a", "b"])
    np.testing.assert_allclose(share, [[0.5, 1.0]])
    np.testing.assert_allclose(per_it, [[1.0, 0.5]])  # 5/10 per iteration, then 5/20: half as long


def test_init_words_name_each_initialisation_and_fall_back_to_the_name():
    assert "uniform" in dense_study.init_words("default")
    assert "Glorot" in dense_study.init_words("glorot_normal") and "Figure 2" in dense_study.init_words("glorot_normal")
    assert dense_study.init_words("orthogonal") == "`init='orthogonal'`"


def _weights_run(w0, w1):
    r = run([1.0], weights_at={0: w0})
    r.final_state = w1
    return r


def test_weight_scale_table_reads_near_zero_against_the_largest_initial_magnitude():
    w0 = {"a": torch.tensor([1.0, -0.5, 0.05, -0.2])}  # largest magnitude 1: "near zero" below 0.1
    w1 = {"a": torch.tensor([0.01, 2.0, -0.09, 0.5])}
    table = dense_study.weight_scale_table([_weights_run(w0, w1)], ["a"], ["layer a"])
    row = table.splitlines()[2]
    assert row.startswith("| layer a | 4 | ")
    assert row.endswith("| 0.250 (0.250-0.250) | 0.500 (0.500-0.500) |")  # 1 of 4 at init, 2 of 4 trained
    assert "below 10% of the layer's largest initial magnitude" in table


def test_magnitude_rank_table_reads_the_smallest_shares_and_the_correlation():
    w0 = {"a": torch.arange(1.0, 11.0)}  # magnitudes 1..10
    same = dense_study.magnitude_rank_table([_weights_run(w0, {"a": 2 * w0["a"]})], ["a"], ["a"], fraction=0.2)
    assert same.splitlines()[2] == "| a | 1.000 (1.000-1.000) | 1.000 (1.000-1.000) |"
    flipped = dense_study.magnitude_rank_table([_weights_run(w0, {"a": w0["a"].flip(0)})], ["a"], ["a"], fraction=0.2)
    assert flipped.splitlines()[2] == "| a | -1.000 (-1.000--1.000) | 0.000 (0.000-0.000) |"
    assert "smallest 20%" in flipped.splitlines()[0] and "column 0.200" in flipped


def test_fastest_intervals_are_read_from_the_mean_over_runs():
    share = np.array([[0.3, 0.8, 1.0], [0.5, 0.7, 1.0]])  # growth per interval: mean 0.4, 0.35, 0.25
    per_it = np.array([[1.0, 1.5, 0.2], [1.0, 0.9, 0.2]])  # mean 1.0, 1.2, 0.2
    assert dense_study.fastest_intervals(share, per_it) == (0, 1)


# ------------------------------------------------------------------- notebook 02: IMP runs
def test_iterations_to_reach_is_the_first_evaluation_at_or_above_the_target():
    r = run([1.0] * 4, iterations=[0, 50, 100, 150], val_acc=[0.1, 0.5, 0.7, 0.6])
    assert imp_study.iterations_to_reach(r, 0.5) == 50
    assert imp_study.iterations_to_reach(r, 0.65) == 100
    assert imp_study.iterations_to_reach(r, 0.8) is None
    assert imp_study.iterations_to_reach(r, 0.0, metric="test_acc") == 0


def _imp(dense_acc, ticket_accs, reinit_accs):
    """An IMPResult whose runs have the given validation accuracies at iterations 0, 50, 100."""
    make = lambda acc: run([1.0] * 3, iterations=[0, 50, 100], val_acc=list(acc))  # noqa: E731
    rounds = [IMPRound(i + 1, None, make(t), {"reinit": make(c)}) for i, (t, c) in enumerate(zip(ticket_accs, reinit_accs))]
    return IMPResult(None, make(dense_acc), rounds)


def test_iterations_to_target_counts_never_as_the_end():
    results = [_imp([0.2, 0.6, 0.8], [[0.7, 0.8, 0.9]], [[0.1, 0.2, 0.3]]),
               _imp([0.5, 0.6, 0.7], [[0.1, 0.1, 0.6]], [[0.6, 0.6, 0.6]])]
    # rows: seeds; columns: round 0 (the dense run, shared by every kind) and round 1
    reach, never = imp_study.iterations_to_target(results, "ticket", [0.6, 0.65], end=100)
    np.testing.assert_array_equal(reach, [[50, 0], [100, 100]])
    np.testing.assert_array_equal(never, [[False, False], [False, True]])
    reach, never = imp_study.iterations_to_target(results, "reinit", [0.6, 0.65], end=100)
    np.testing.assert_array_equal(reach, [[50, 100], [100, 100]])
    np.testing.assert_array_equal(never, [[False, True], [False, True]])


def test_ticket_curves_draw_tickets_in_blues_never_a_controls_colour():
    class Fake:  # the two reads ticket_curves makes of an IMPResult
        def runs(self, kind):
            return [run([1.0] * 3, iterations=[0, 50, 100], test_acc=[0.1, 0.5, 0.6]) for _ in range(4)]

        def densities(self):
            return [1.0, 0.6, 0.36, 0.2]

    fig = plots.ticket_curves([Fake(), Fake()], [0, 1, 3])
    lines = [ln for ln in fig.axes[0].get_lines() if not ln.get_label().startswith("_")]
    colors = {ln.get_label(): to_hex(ln.get_color()) for ln in lines}
    assert colors["dense network (100%)"] == "#000000"
    tickets = [c for label, c in colors.items() if label.startswith("ticket")]
    assert len(tickets) == 2 and len(set(tickets)) == 2
    for c in tickets:  # blue dominates: not the controls' green or red
        r, g, b = (int(c[i:i + 2], 16) for i in (1, 3, 5))
        assert b > r and b > g


def test_still_improving_and_the_rounds_it_picks():
    es = np.array([[100, 89, 90, 1000], [500, 95, 20, 999]])
    late = imp_study.still_improving(es, 100)  # the last tenth: iteration 90 on
    np.testing.assert_array_equal(late, [[True, False, True, True], [True, True, False, True]])
    assert imp_study.first_mostly_improving(late[:, 1:]) == 0
    assert imp_study.first_mostly_improving(np.array([[False, True], [False, False], [False, True]])) == 1
    assert imp_study.first_mostly_improving(np.zeros((2, 3), dtype=bool)) is None
    assert imp_study.earlier_than_dense(np.array([[100, 90, 120, 50], [100, 120, 90, 50]])) == [3]


def test_late_caveat_speaks_only_when_more_than_half_are_late():
    assert imp_study.late_caveat([True, False]) == ""
    assert imp_study.late_caveat([True, True, False]).startswith(
        "But 2 of 3 reinitialised runs at this density are still improving in the last tenth of training")


def _claim(verdict, fragile=""):
    from lthlib.report.claims import Claim
    return Claim(notebook="99", claim="c", role="headline", verdict=verdict, mean=0.1, ci_low=0.0, ci_high=0.2,
                 n=8, threshold=0.0, fragile=fragile)


def test_all_verdicts_word_says_yes_only_when_every_claim_holds():
    word = imp_study.all_verdicts_word
    assert word([_claim("holds"), _claim("holds")]) == "yes"
    assert word([_claim("contradicted"), _claim("contradicted")]) == "no"
    assert word([_claim("holds"), _claim("not shown")]) == "not everywhere; see the verdicts"
    assert word([_claim("holds"), _claim("holds", fragile="flips")]) == "not everywhere; see the verdicts"
    assert word([_claim("not judged"), _claim("not judged")]) == "not judged at smoke scale"
    assert word([_claim("holds")], yes="worse") == "worse"


def test_input_spread_against_a_random_mask_of_the_same_density():
    from lthlib.masks import Mask
    keep = torch.zeros(4, 3, dtype=torch.bool)
    keep[:, 0] = True  # every unit keeps input 0, none the others
    spread_ = imp_study.input_spread(Mask({"w": keep}), "w")
    np.testing.assert_allclose(spread_.per_input, [1.0, 0.0, 0.0])
    assert spread_.density == pytest.approx(1 / 3) and spread_.units == 4
    assert spread_.sd == pytest.approx(np.std([1.0, 0.0, 0.0]))
    assert spread_.random_sd == pytest.approx(math.sqrt((1 / 3) * (2 / 3) / 4))
    assert spread_.ratio == pytest.approx(spread_.sd / spread_.random_sd)


def test_still_improving_words():
    late = {"ticket": np.array([[False, False, True], [False, False, True]]),  # round 0: the dense network
            "reinit": np.array([[True, True, True], [True, False, False]])}
    assert imp_study.still_improving_words({k: v[:, :2] for k, v in late.items()}, [100.0, 50.0], ["reinit"]) == \
        "At no density are half of the ticket runs still improving at the end of training."
    assert imp_study.still_improving_words(late, [100.0, 50.0, 25.04], ["reinit"]) == (
        "From round 2 (25.0% of the weights) at least half of the ticket runs are still improving at the end of "
        f"training; over all pruned rounds, 2 of 4 ticket runs are, and 2 of 4 {kind_label('reinit')} runs "
        "(tables above).")


# ------------------------------------------------------------------- notebook 08: timings
def _row(fmt, density, speedup, batch=1, mode="inference"):
    return dict(format=fmt, density=density, speedup=speedup, batch_size=batch, mode=mode)


TIMINGS = {"lenet300_100": [_row("masked", 1.0, 0.95), _row("csr", 1.0, 0.5), _row("masked", 0.1, 1.0),
                            _row("csr", 0.1, 1.5), _row("csr", 0.02, 3.0), _row("semi_structured", 0.5, None),
                            _row("structured", 1.0, 1.04, mode="train step"), _row("csr", 0.1, 0.2, batch=256)],
           "mystery": [_row("csr", 0.5, 1.05)]}


def test_speedups_are_sorted_from_high_density_and_skip_what_could_not_run():
    assert ss.speedups(TIMINGS["lenet300_100"], "csr", 1, "inference") == ([1.0, 0.1, 0.02], [0.5, 1.5, 3.0])
    assert ss.speedups(TIMINGS["lenet300_100"], "semi_structured", 1, "inference") == ([], [])


def test_speedup_series_is_one_panel_per_network_and_batch():
    panels = ss.speedup_series(TIMINGS, ("masked", "csr", "semi_structured"), (1, 256), "inference")
    assert list(panels) == ["LeNet-300-100, batch 1", "LeNet-300-100, batch 256", "mystery, batch 1",
                            "mystery, batch 256"]
    assert panels["LeNet-300-100, batch 1"] == {"masked (dense + zeros)": ([1.0, 0.1], [0.95, 1.0]),
                                                "CSR": ([1.0, 0.1, 0.02], [0.5, 1.5, 3.0])}
    assert panels["mystery, batch 256"] == {}


def test_crossover_table():
    table = ss.crossover_table(TIMINGS, ("masked", "csr", "semi_structured"), (1,), "inference", min_speedup=1.1)
    assert table.splitlines() == [
        "| network | batch | masked (dense + zeros) | CSR | 2:4 semi-structured |",
        "|---|---|---|---|---|",
        "| LeNet-300-100 | 1 | never | 10% | cannot run here |",
        "| mystery | 1 | never | never | never |"]
    assert "| 50% |" in ss.crossover_table(TIMINGS, ("csr",), (1,), "inference")  # the default margin: 1x


def test_identical_speedups_are_every_masked_row_and_the_full_density_structured_rows():
    # the masked form does the dense work at every density, so all its rows are noise
    assert sorted(ss.identical_speedups(TIMINGS)) == [0.95, 1.0]  # inference rows only by default
    assert sorted(ss.identical_speedups(TIMINGS, "train step")) == [1.04]  # a masked step does more work
    assert ss.band_words(TIMINGS) == ("0.95x (masked (dense + zeros), LeNet-300-100, 100%, batch 1) to 1.00x "
                                      "(masked (dense + zeros), LeNet-300-100, 10%, batch 1)")
    assert ss.crossover_words(TIMINGS, ("csr",), (1, 256), 1.1) == (
        "a sparse format beat dense by more than 10% (the highest density timed where one did) on LeNet-300-100, "
        "batch 1: CSR at 10% of the weights, batch 256: at no density timed (down to 2%); on mystery, batch 1: at "
        "no density timed (down to 50%), batch 256: at no density timed (down to 50%)")
    large = [dict(batch_size=1, format="scipy_csr", density=0.2), dict(batch_size=8, format=None)]
    assert ss.crossover_words({}, ("csr",), (1,), 1.1, large, "4 x 4").endswith(
        "did) on the 4 x 4 layer at batch 1, SciPy CSR (int32) at 20%; on the 4 x 4 layer at batch 8, at no density "
        "timed")
    rows = [dict(format="masked", speedup=0.4), dict(format="masked", speedup=1.5), dict(format="csr", speedup=3.0)]
    assert ss.layer_identical(rows) == [0.4, 1.5]
    assert ss.noise_words([0.4, 1.5], "on this layer").endswith("measured 0.40x to 1.50x of dense")


def test_route_speedups_times_every_route_against_dense():
    model = build_model("mlp_mnist1d", (40,), 10, seed=0, hidden=(16, 8))
    ticket = sx.magnitude_mask(model, 0.2)
    structured = sx.neuron_mask(model, 0.5)
    small = build_model("mlp_mnist1d", (40,), 10, seed=1, hidden=(4, 2))
    out = sr.route_speedups(model, ticket, structured, small, (1, 4), (40,), repeats=2, min_time=0.0, threads=1)
    assert list(out) == [1, 4]
    for routes in out.values():
        assert list(routes) == [*sr.ROUTES, "dense_ms"]
        assert routes.pop("dense_ms")[0] > 0  # the faster of dense's two medians, in ms
        assert routes["ticket"][1] in ("CSR", "COO")
        assert all(how == "" for key, (_, how) in routes.items() if key != "ticket")
        assert all(math.isfinite(up) and up > 0 for up, _ in routes.values())


def test_speed_figure_draws_a_panel_per_network_and_batch():
    fig = sp.speed_figure(TIMINGS, ("masked", "csr"), (1, 256), "inference")
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes if ax.axison]
    assert titles == ["LeNet-300-100, batch 1", "LeNet-300-100, batch 256", "mystery, batch 1", "mystery, batch 256"]
    assert fig._suptitle.get_text().startswith("Inference: speed-up over the dense network")


def test_accuracy_vs_speed_labels_every_point():
    routes = {"ticket": ([2.0, 4.0], np.array([[0.8, 0.7], [0.9, 0.6]])), "small": ([3.0, 6.0], np.array([[0.7, 0.5]]))}
    fig = sp.accuracy_vs_speed(routes, [20.0, 5.0], [0.95, 0.97], "speed-up", "accuracy", title="t",
                                  colors={"ticket": "k"}, offsets={"small": (1, 1)})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["20.0%", "5.0%", "20.0%", "5.0%"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dense network (mean)", "ticket", "small"]
    assert ax.get_xscale() == "log" and ax.get_title() == "t"


# ------------------------------------------------------------------- notebook 09: many tickets
def _pool(val, test):
    return [run([1.0], val_acc=[v], test_acc=[t]) for v, t in zip(val, test)]


def test_reported_and_best_of():
    pool = _pool([0.5, 0.9, 0.7, 0.9], [0.6, 0.8, 1.0, 0.2])
    np.testing.assert_array_equal(mt.reported(pool), [0.6, 0.8, 1.0, 0.2])
    np.testing.assert_array_equal(mt.reported(pool, "val_acc"), [0.5, 0.9, 0.7, 0.9])
    assert mt.best_of(pool, 1) == pytest.approx(0.65)  # one drawn at random: the pool's mean
    assert mt.best_of(pool, 4) == pytest.approx(0.8)  # the whole pool: the best on validation (lower index on ties)
    assert mt.best_of(pool, 4, select="test_acc") == pytest.approx(1.0)  # picking on the test set flatters
    assert mt.best_curve(pool, [1, 4]) == pytest.approx([0.65, 0.8])
    assert mt.best_curve(pool, [4], select="test_acc") == pytest.approx([1.0])


def test_share_above_and_below():
    pool = _pool([0.0] * 4, [0.6, 0.8, 1.0, 0.2])
    assert mt.share_above(pool, 0.8) == 0.25  # strictly above: ties are not a win
    assert mt.share_below(pool, 0.8) == 0.5
    assert mt.share_below(pool, 0.1) == 0.0


def test_best_of_n_panels():
    ns = [1, 2, 4, 5]
    panels = {"a": {"small": (ns, np.ones((2, 4))), "sub": ([1, 2], np.zeros((2, 2)))},
              "b": {"small": ([1], np.ones((2, 1))), "sub": ([1], np.zeros((2, 1)))}}
    fig = plots.best_of_n_panels(panels, np.array([[0.5, 0.6], [0.7, 0.8]]), [0.9, 0.95], "IMP ticket")
    a, b = fig.axes
    assert (a.get_title(), b.get_title()) == ("a", "b")
    assert [int(t) for t in a.get_xticks()] == [1, 2, 5]  # 4 and 5 would overlap: 4 left out
    assert [to_hex(line.get_color()) for line in a.get_lines()[:2]] == [to_hex("C0"), to_hex("C1")]
    labels = [t.get_text() for t in b.get_legend().get_texts()]
    assert labels == ["small", "sub", "IMP ticket (mean)", "dense network (mean)"]
