"""Notebook 04's reads of its runs (``lthlib.experiments.supermask_results``' results objects and the values its
sentences state), on small fake runs whose numbers are known exactly."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lthlib.apps import reproduce
from lthlib.experiments import supermask_study
from lthlib.masks import Mask
from lthlib.methods.supermask import CRITERIA, CRITERION_LABELS, RESETS
from lthlib.report.claims import Claim, spread
from lthlib.experiments.supermask_results import (OVERLAP_LABELS, CriterionResults, OverlapResults, SupermaskResults,
                                      UntrainedResults, WidthResults, dense_accuracy, excess_iou, plain_answer,
                                      summary_values, ticket_accuracy, untrained_study)
from lthlib.experiments.supermask_study import (ZHOU_CLAIM_DENSITY, ZHOU_CRITERIA, ZHOU_DENSITIES, ZHOU_STARTS,
                                    mean_round_density, untrained_accuracy)

SEEDS = list(range(8))  # 8 seeds: all on one side gives p = 1/256, below every level used


class FakeRun:
    """What the results objects read of a Run: the accuracy at early stopping, a mask."""

    def __init__(self, acc: float, mask: dict | None = None):
        self.acc, self.mask = acc, mask

    def at_early_stop(self, metric: str = "test_acc") -> float:
        assert metric == "test_acc"
        return self.acc


def claim(verdict: str, mean: float = 0.0) -> Claim:
    return Claim(notebook="04", claim="c", role="paper", verdict=verdict, mean=mean, ci_low=0.0, ci_high=0.0,
                 n=len(SEEDS), threshold=0.0)


# ------------------------------------------------------------------------------ the spec
def test_each_experiment_value_exists_once_and_reproduce_reads_it():
    assert reproduce.ZHOU_CRITERIA is supermask_study.ZHOU_CRITERIA
    assert reproduce.ZHOU_DENSITIES is supermask_study.ZHOU_DENSITIES
    assert reproduce.ZHOU_STARTS is supermask_study.ZHOU_STARTS
    assert reproduce.WIDTH_STUDY_DENSITY is supermask_study.WIDTH_STUDY_DENSITY
    assert set(ZHOU_CRITERIA) == set(CRITERIA) and set(ZHOU_STARTS) <= set(RESETS)
    assert ZHOU_CLAIM_DENSITY in ZHOU_DENSITIES and ZHOU_DENSITIES[-1] == 1.0  # every curve ends unmasked


# -------------------------------------------------------------------- section 1: untrained
def untrained_grid() -> UntrainedResults:
    """Two criteria, two densities, 8 seeds. At 0.2 the signed constant helps
    large-final-same-sign (+0.1 every seed) and hurts random (-0.05 every seed); at 0.5
    the two starts are equal."""
    densities = [0.2, 0.5]
    base = np.array([[0.30 + 0.01 * s, 0.60] for s in SEEDS])
    acc = {("large_final_same_sign", "init"): base,
           ("large_final_same_sign", "signed_constant"): base + np.array([0.1, 0.0]),
           ("random", "init"): np.full((8, 2), 0.10),
           ("random", "signed_constant"): np.full((8, 2), 0.10) - np.array([0.05, 0.0])}
    return UntrainedResults(["large_final_same_sign", "random"], ["init", "signed_constant"], densities, SEEDS, acc)


def test_untrained_reads_a_column_per_density_and_the_best_criterion():
    u = untrained_grid()
    assert u.at("large_final_same_sign", "init", 0.2).tolist() == pytest.approx([0.30 + 0.01 * s for s in SEEDS])
    assert u.at("random", "init", 0.5).tolist() == [0.10] * 8
    assert u.best("init", 0.2) == "large_final_same_sign"
    tie = UntrainedResults(["random", "large_final"], ["init"], [0.2], [0],
                           {("random", "init"): np.array([[0.5]]), ("large_final", "init"): np.array([[0.5]])})
    assert tie.best("init", 0.2) == "random"  # the first in criteria order on a tie
    with pytest.raises(ValueError):
        u.at("random", "init", 0.3)  # not a density of the grid


def test_untrained_panels_name_each_start_and_criterion():
    u = untrained_grid()
    panels = u.panels()
    assert list(panels) == ["kept weights at their initial values", "kept weights at a signed constant"]
    assert list(panels["kept weights at a signed constant"]) == ["large final, same sign", "random"]
    assert panels["kept weights at their initial values"]["random"] is u.acc[("random", "init")]


def test_signed_constant_effects_and_their_verdicts():
    u = untrained_grid()
    assert u.sign_effect("random", 0.2) == pytest.approx([-0.05] * 8)
    effects = u.sign_effects([0.2, 0.5])
    assert list(effects) == ["large final, same sign", "random"] and list(effects["random"]) == ["20% kept", "50% kept"]
    assert effects["large final, same sign"]["20% kept"] == pytest.approx([0.1] * 8)
    said = u.sign_verdicts([0.2, 0.5])
    assert said == {"helped": "large final, same sign at 20%", "hurt": "random at 20%", "n_unclear": 2, "n": 4,
                    "conclusion": "So the initial magnitudes are not neutral before training; dropping them helps "
                                  "some masks and hurts others, and the sign alone does not tell how an untrained "
                                  "masked network will do. (Each of the 4 pairs is tested alone at 5% on each "
                                  "side, so a pair or two can come out either way by chance; a single pair is weak "
                                  "evidence.)"}
    assert u.sign_verdicts([0.5])["conclusion"] == ("This run cannot tell the signed constant from the initial "
                                                    "values for any mask.")
    assert u.sign_verdicts([0.5]) | {"conclusion": ""} == {"helped": "none", "hurt": "none", "n_unclear": 2,
                                                            "n": 2, "conclusion": ""}
    only_help = UntrainedResults(["large_final_same_sign"], u.starts, u.densities, SEEDS, u.acc)
    assert only_help.sign_verdicts([0.2])["conclusion"].startswith("So the signed constant never hurt here")
    only_hurt = UntrainedResults(["random"], u.starts, u.densities, SEEDS, u.acc)
    assert only_hurt.sign_verdicts([0.2])["conclusion"].startswith("So the signed constant never helped here")
    # one pair alone: no warning about many pairs tested
    assert "tested alone" not in only_hurt.sign_verdicts([0.2])["conclusion"]
    # not judged (smoke scale): nothing is told apart
    assert u.sign_verdicts([0.2], judged=False)["n_unclear"] == 2


def test_untrained_claim_values_state_the_run():
    u = untrained_grid()
    v = u.claim_values(0.2, 0.1, claim("not shown"), claim("holds"), [0.5, 0.7], judged=True)
    assert v == dict(chance=0.1, d=0.2, n=8, peak0="*large final, same sign* at 50% (0.600 (0.600-0.600))",
                     peak1="*large final, same sign* at 50% (0.600 (0.600-0.600))", b0="large final, same sign", a0="0.335 (0.300-0.370)",
                     b1="large final, same sign", a1="0.435 (0.400-0.470)", lfss="0.335 (0.300-0.370)",
                     rnd="0.100 (0.100-0.100)", v1="**not shown**", v2="**holds**",
                     rnd_word="indistinguishable from", dense="0.600 (0.500-0.700)")


def test_untrained_study_is_untrained_accuracy_over_the_grid(mnist1d_small, tiny_settings):
    from lthlib.engine.training import model_for

    dense = {}
    for s in (0, 1):
        ts = tiny_settings.replace(seed=s)
        dense[s] = SimpleNamespace(weights_at={0: model_for(ts, mnist1d_small).state_dict()},
                                   final_state=model_for(ts, mnist1d_small, stream="reinit").state_dict())
    u = untrained_study(tiny_settings, mnist1d_small, dense, [0, 1], ["large_final", "random"], ["init"], [0.3, 1.0])
    assert u.acc[("random", "init")].shape == (2, 2) and u.seeds == [0, 1]
    for c in ("large_final", "random"):
        for j, d in enumerate((0.3, 1.0)):
            for i, s in enumerate((0, 1)):
                assert u.acc[(c, "init")][i, j] == untrained_accuracy(
                    tiny_settings.replace(seed=s), mnist1d_small, dense[s].weights_at[0], dense[s].final_state,
                    c, "init", d)
    assert np.array_equal(u.at("large_final", "init", 1.0), u.at("random", "init", 1.0))  # 100%: nothing masked


# ------------------------------------------------------------------ section 2: then training
def criterion_results() -> CriterionResults:
    values = {("large_final", "init"): 0.80, ("large_final", "signed_constant"): 0.79,
              ("large_final", "reinit"): 0.70, ("random", "init"): 0.60, ("random", "reinit"): 0.60}
    runs = {(c, r, s): FakeRun(v + 0.01 * s) for (c, r), v in values.items() for s in SEEDS}
    return CriterionResults(runs, SEEDS)


def test_criterion_results_read_per_seed_accuracy():
    t = criterion_results()
    assert t.acc("large_final", "reinit").tolist() == pytest.approx([0.70 + 0.01 * s for s in SEEDS])


def test_criterion_claim_values_and_why_signs_are_not_confirmed():
    t = criterion_results()
    v = t.claim_values(claim("holds"), claim("holds"))
    assert v == dict(init="0.835 (0.800-0.870)", sc="0.825 (0.790-0.860)", reinit="0.735 (0.700-0.770)", n=8,
                     v_reinit="**holds**", v_signs="**holds**", disagree="", r_init="0.635 (0.600-0.670)",
                     r_reinit="0.635 (0.600-0.670)", r_word="made no difference this run can detect")
    assert t.claim_values(claim("holds"), claim("not judged"))["disagree"] == ""
    assert t.claim_values(claim("holds"), claim("not shown", mean=-0.005))["disagree"] == (
        " (mean difference -0.005; with 8 seeds the test cannot show that the signed constant loses less than one "
        "point, so this run does not confirm the paper here)")
    assert t.claim_values(claim("holds"), claim("contradicted"))["disagree"] == (
        " (this run disagrees with the paper here)")


# ------------------------------------------------------------------ section 3: supermasks
def test_supermask_results_read_accuracy_and_the_learned_density():
    keep = {"w": torch.tensor([True, True, False, False]), "v": torch.tensor([True, False, False, False])}
    runs = {("edge_popup", 0.2, s): FakeRun(0.5 + s / 100) for s in (0, 1)}
    runs |= {("bernoulli", 0.5, s): FakeRun(0.4, keep if s == 0 else {"w": torch.ones(4, dtype=torch.bool),
                                                                        "v": torch.ones(4, dtype=torch.bool)})
             for s in (0, 1)}
    r = SupermaskResults(runs, [0, 1])
    assert r.acc("edge_popup", 0.2).tolist() == [0.5, 0.51]
    assert r.final_density("bernoulli", 0.5).tolist() == [3 / 8, 1.0]


def supermask_results() -> SupermaskResults:
    """8 seeds: edge-popup at 0.2 reaches 0.50 + s/100; Bernoulli masks started at 0.5 end
    at 3/4 of the weights with accuracy 0.4."""
    keep = {"w": torch.tensor([True, True, True, False])}
    runs = {("edge_popup", 0.2, s): FakeRun(0.5 + s / 100) for s in SEEDS}
    runs |= {("bernoulli", 0.5, s): FakeRun(0.4, keep) for s in SEEDS}
    return SupermaskResults(runs, SEEDS)


def test_supermask_bars_put_each_ticket_beside_edge_popup_then_bernoulli():
    r, ticket = supermask_results(), {3: np.full(8, 0.7)}
    bars = r.bars(ticket, {3: 0.2}, 0.5)
    assert list(bars) == ["20% of weights kept", "Bernoulli mask\n(started at 50%,\nended at 75%)"]
    assert bars["20% of weights kept"]["IMP ticket (weights trained)"] is ticket[3]
    assert bars["20% of weights kept"]["edge-popup (weights frozen at random)"].tolist() == pytest.approx(
        r.acc("edge_popup", 0.2).tolist())


def test_supermask_claim_values_follow_the_verdicts():
    r = supermask_results()
    v = r.claim_values(claim("holds"), claim("holds"), np.full(8, 0.7), 0.2, 0.1, 0.5)
    assert v == dict(ep="0.535 (0.500-0.570)", d=0.2, chance=0.1, v_popup="**holds**",
                     training=" Choosing which weights to keep is itself a kind of training (Zhou et al.'s "
                              "abstract: \"masking behaves like training\").",
                     tk="0.700 (0.700-0.700)", v_ticket="**holds**", b0=0.5, bd="75% (75%-75%)",
                     ba="0.400 (0.400-0.400)", b_word="rose")
    assert r.claim_values(claim("not shown"), claim("holds"), np.full(8, 0.7), 0.2, 0.1, 0.5)["training"] == ""
    assert r.claim_values(claim("holds"), claim("holds"), np.full(8, 0.7), 0.2, 0.1, 0.5,
                          judged=False)["b_word"] == "did not move in a way this run can detect"


def test_ticket_and_dense_accuracy_read_each_seed():
    imp = {s: SimpleNamespace(metric=lambda name, s=s: {1: 0.6 + s / 100, 3: 0.7} if name == "ticket" else None)
           for s in (0, 1)}
    acc = ticket_accuracy(imp, [1, 3])
    assert acc[1].tolist() == pytest.approx([0.60, 0.61]) and acc[3].tolist() == [0.7, 0.7]
    assert dense_accuracy({0: FakeRun(0.5), 1: FakeRun(0.6)}, [1, 0]).tolist() == [0.6, 0.5]


def test_mean_round_density_averages_seeds_and_rounds_to_three_decimals():
    imp = {0: SimpleNamespace(densities=lambda: [1.0, 0.6, 0.36]),
           1: SimpleNamespace(densities=lambda: [1.0, 0.6002, 0.3612])}
    assert mean_round_density(imp, [1, 2]) == {1: 0.6, 2: 0.361}


# ------------------------------------------------------------------ section 4: width study
def width_results(matches: bool = False) -> WidthResults:
    widths = [25, 200]
    acc = {("trained", 2): [0.70, 0.80], ("edge_popup", 2): [0.50, 0.75 if not matches else 0.80],
           ("edge_popup", 5): [0.40, 0.78]}
    runs = {(m, h, w, s): FakeRun(v[i] + 0.01 * s) for (m, h), v in acc.items() for i, w in enumerate(widths)
            for s in SEEDS}
    return WidthResults(runs, widths, SEEDS)


def test_width_results_are_seeds_by_widths():
    w = width_results()
    a = w.acc("edge_popup", 5)
    assert a.shape == (8, 2) and a[3].tolist() == pytest.approx([0.43, 0.81])


def test_width_claim_values_fill_the_table_and_the_notes():
    w = width_results()
    v = w.claim_values(claim("holds"), claim("holds"), claim("contradicted"), claim("holds"), claim("holds"))
    assert v["widths"] == "25, 200" and v["n"] == 8 and v["ratio"] == 8 and (v["w0"], v["w1"]) == (25, 200)
    assert v["header"] == "width 25 | width 200" and v["rule"] == "---|---|"
    assert (v["t"], v["p"], v["p2"]) == ("0.735 | 0.835", "0.535 | 0.785", "0.435 | 0.815")
    assert v["g0"] == pytest.approx(0.20) and v["g1"] == pytest.approx(0.05)
    assert (v["p2w"], v["t0"], v["p1w"]) == ("0.815 (0.780-0.850)", "0.735 (0.700-0.770)", "0.785 (0.750-0.820)")
    assert v["disagree"].startswith(" Here this run does not reproduce the paper's large-scale result")
    unsure = w.claim_values(claim("holds"), claim("holds"), claim("not shown"), claim("holds"), claim("holds"))
    assert unsure["disagree"] == (" Whether edge-popup comes within one point of training at these widths, this run "
                                  "cannot tell.")
    assert v["depth_note"].startswith(" The depth-L network of the same width passes the same test")
    assert v["deep_word"] == "better" and v["v_match"] == "**contradicted**" and v["v_malach"] == "**holds**"
    quiet = w.claim_values(claim("holds"), claim("holds"), claim("holds"), claim("holds"), claim("not shown"))
    assert quiet["disagree"] == "" and quiet["depth_note"] == ""
    assert w.claim_values(claim("holds"), claim("holds"), claim("not judged"), claim("not shown"),
                          claim("holds"))["depth_note"] == ""


# ------------------------------------------------------------------ section 5: overlap
def test_excess_iou_is_iou_minus_chance():
    a = Mask({"w": torch.tensor([True, True, False, False])})
    b = Mask({"w": torch.tensor([True, False, True, False])})
    # IoU 1/3; chance: intersection 2 * 2 / 4 = 1, union 2 + 2 - 1 = 3, so 1/3 as well
    assert excess_iou(a, b) == pytest.approx(0.0)
    assert excess_iou(a, a) == pytest.approx(1 - 1 / 3)
    two = Mask({"u": torch.tensor([True, False]), "w": a["w"]})
    # layer u keeps 1 of 2 in both: chance intersection 1/2, union 1 + 1 - 1/2, chance IoU 1/3
    assert excess_iou(two, two, layer="u") == pytest.approx(1 - 1 / 3)


def overlap_results(seeds=(0, 1)) -> OverlapResults:
    w_i = {"w": torch.tensor([[0.9, -0.1, 0.5, -0.3]])}
    w_f = {"w": torch.tensor([[0.1, -0.8, 0.4, 0.7]])}
    dense = {s: SimpleNamespace(weights_at={0: w_i}, final_state=w_f) for s in seeds}
    tickets = {(0, 1): Mask({"w": torch.tensor([[False, True, True, True]])}),
               (1, 1): Mask({"w": torch.tensor([[True, True, True, False]])}),
               (0, 2): Mask({"w": torch.tensor([[False, True, False, True]])}),
               (1, 2): Mask({"w": torch.tensor([[True, False, True, False]])})}
    tickets = {k: m for k, m in tickets.items() if k[0] in seeds}
    popup = {("edge_popup", d, s): FakeRun(0.5, {"w": torch.tensor([[True, True, True, False]]) if d == 0.75 else
                                                 torch.tensor([[True, False, True, False]])})
             for d in (0.75, 0.5) for s in seeds}
    return OverlapResults(list(seeds), [1, 2], {1: 0.75, 2: 0.5}, tickets, dense, ["w"], popup)


def test_overlap_masks_of_each_comparison():
    o = overlap_results()
    assert o.kinds() == ["large_init", "edge_popup", "random", "other_seed"]
    assert o.mask("large_init", 0, 2)["w"].tolist() == [[True, False, True, False]]  # |w_i| 0.9, 0.5 largest
    assert o.mask("edge_popup", 1, 1)["w"].tolist() == [[True, True, True, False]]
    assert o.mask("other_seed", 1, 2) is o.tickets[(0, 2)]  # the next seed, cyclically
    assert o.mask("random", 0, 1).density() == pytest.approx(0.75)  # at the ticket's own densities
    assert o.mask("random", 0, 1)["w"].tolist() == o.mask("random", 0, 1)["w"].tolist()  # its own stream
    with pytest.raises(ValueError, match="kind="):
        o.mask("largest", 0, 1)
    assert overlap_results(seeds=(0,)).kinds() == ["large_init", "edge_popup", "random"]


def test_overlap_claim_values_word_each_line_and_the_control():
    o = overlap_results()
    labels = [OVERLAP_LABELS[k] for k in ("large_init", "edge_popup", "random", "other_seed")]
    excess = {labels[0]: np.full((8, 2), 0.05), labels[1]: np.full((8, 2), -0.02), labels[2]: np.zeros((8, 2)),
              labels[3]: np.tile([[0.0], [0.01]], (4, 2))}  # alternating 0 and 0.01: 4 of 8 above
    v = o.claim_values(excess, claim("holds"), claim("contradicted"))
    assert v["rows"].split("\n") == [f"- {labels[0]}: 0.050 (0.050-0.050), above chance",
                                     f"- {labels[1]}: -0.020 (-0.020--0.020), below chance",
                                     f"- {labels[2]}: 0.000 (0.000-0.000), not distinguishable from chance",
                                     f"- {labels[3]}: 0.005 (0.000-0.010), not distinguishable from chance"]
    assert (v["d"], v["n"], v["v1"], v["v2"]) == (0.5, 2, "**holds**", "**contradicted**")
    assert v["predictable"].startswith(" (part of an IMP ticket is predictable") and "not distinguishable" in v["control"]
    assert o.claim_values(excess, claim("not shown"), claim("holds"))["predictable"] == ""
    off = o.claim_values(excess | {labels[2]: np.full((8, 2), 0.003)}, claim("holds"), claim("holds"))
    assert off["control"].startswith("The random mask is independent of the ticket by construction, yet its own "
                                     "test puts it above chance") and "with 4 lines" in off["control"]
    assert "not distinguishable" in o.claim_values(excess | {labels[2]: np.full((8, 2), 0.003)}, claim("holds"),
                                                   claim("holds"), judged=False)["control"]


def test_overlap_first_layer_values_pair_each_seed_with_the_next():
    o = overlap_results()
    v = o.first_layer_values(judged=False)
    first = o.excess_at("other_seed", 2, layer="w")
    assert v["x"] == spread(first) and v["n"] == 2 and v["word"] == "not distinguishable from chance"


def test_overlap_excess_is_seeds_by_rounds_per_labelled_comparison():
    o = overlap_results()
    excess = o.excess()
    assert list(excess) == list(OVERLAP_LABELS.values())
    assert all(v.shape == (2, 2) for v in excess.values())
    # seed 0, round 2: ticket {1, 3}, large init {0, 2}: disjoint, IoU 0; chance: 2*2/4 = 1 of union 3
    assert excess[OVERLAP_LABELS["large_init"]][0, 1] == pytest.approx(0 - 1 / 3)
    # seed 1, round 2: ticket {0, 2} equals the large-init mask and the edge-popup mask
    assert excess[OVERLAP_LABELS["edge_popup"]][1, 1] == pytest.approx(1 - 1 / 3)
    assert o.excess_at("other_seed", 2).tolist() == pytest.approx(excess[OVERLAP_LABELS["other_seed"]][:, 1])
    assert o.excess_at("large_init", 1, layer="w").tolist() == pytest.approx(
        excess[OVERLAP_LABELS["large_init"]][:, 0])  # one layer: the layer is the whole


# ------------------------------------------------------------------ summary
def test_summary_words_follow_each_verdict():
    holds, no, unclear = claim("holds"), claim("contradicted"), claim("not shown")
    v = summary_values("So the signed constant never hurt here.", same_sign=holds, reinit=no, signs=unclear,
                       popup=holds, ticket=no, width=holds, gap=unclear, match=no, malach=holds, large_init=holds,
                       popup_overlap=unclear)
    assert v["conclusion"] == "the signed constant never hurt here."
    assert (v["s1"], v["s2"], v["s3"]) == ("beat", "trained worse", "was not shown to match")
    assert (v["s4"], v["s5"], v["s6"], v["s7"], v["s8"]) == ("were", "lost to", "improved",
                                                            "was not shown to narrow", "stayed open")
    assert (v["s10"], v["s11"]) == ("overlapped more than chance with", "not shown to be above chance with")
    assert "s9" not in v and [v[f"v{k}"] for k in range(1, 12)] == [
        "**holds**", "**contradicted**", "**not shown**", "**holds**", "**contradicted**", "**holds**",
        "**not shown**", "**contradicted**", "**holds**", "**holds**", "**not shown**"]
    assert summary_values("This run cannot tell.", same_sign=holds, reinit=holds, signs=holds, popup=holds,
                          ticket=holds, width=holds, gap=holds, match=holds, malach=holds, large_init=holds,
                          popup_overlap=holds)["conclusion"] == "This run cannot tell."
    assert CRITERION_LABELS["large_final_same_sign"] == "large final, same sign"


def test_the_plain_answer_follows_the_verdicts():
    holds, no, unclear = claim("holds"), claim("contradicted"), claim("not shown")
    partly = plain_answer(popup=holds, same_sign=holds, ticket=holds, match=no, malach=holds)
    assert partly.startswith("**Can a mask alone do the work?** Partly. A mask learned on weights that are never "
                             "trained made the network more than 20 points better than chance (claim: **holds**)")
    assert ("stayed more than one point below training the same network (Ramanujan et al.'s claim that it comes "
            "within one point: **contradicted**)") in partly
    assert "hid a subnetwork as accurate as it (claim: **holds**)" in partly
    yes = plain_answer(popup=holds, same_sign=holds, ticket=no, match=holds, malach=holds)
    assert "Yes, for the widest networks here." in yes and "did not beat edge-popup" in yes
    assert "Partly, as far as this run can tell." in plain_answer(popup=holds, same_sign=unclear,
                                                                             ticket=holds, match=unclear, malach=holds)
    none = plain_answer(popup=unclear, same_sign=unclear, ticket=unclear, match=unclear, malach=unclear)
    assert "Not shown at this scale." in none and "was not shown to make the network" in none
    assert "**not shown**" in none and "holds" not in none
