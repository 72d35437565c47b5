"""Notebook 10's reads of its runs and the words its sentences state (``lthlib.experiments.transformer_results``:
DenseReach, TicketStudy, OneShotStudy; ``lthlib.experiments.transformer_summary``: the carry-over rows and the
closing answer), on small constructed inputs whose numbers are known exactly."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lthlib.engine.training import Run
from lthlib.models.networks import build_model
from lthlib.report.claims import Claim, Claims
from lthlib.experiments.transformer_results import (INTERVAL_NOTE, OneShotStudy, TicketStudy, dense_reach, dense_reference,
                                        feature_ratio_table, feature_ratio_words, feature_ratios, grokked_words,
                                        layer_table, one_shot_study, optimizer_words, ticket_study)
from lthlib.experiments.transformer_study import OneShot, transformer_for_scale
from lthlib.experiments.transformer_summary import answer, carry_over_rows

QUICK = transformer_for_scale("quick")  # T = 1,000, threshold 95%, k = 50, claim round 2 (25%), F = 100
N = 8  # seeds: all on one side gives p = 1/256, below every level used
STEP = 0.002 * np.arange(N)  # mean 0.007, min-max 0-0.014  # spread so that values are not all equal


def claim(verdict: str) -> Claim:
    return Claim(notebook="10", claim="c", role="diagnostic", verdict=verdict, mean=0.0, ci_low=0.0, ci_high=0.0,
                 n=N, threshold=0.0)


HOLDS, NO, NOT_SHOWN = claim("holds"), claim("contradicted"), claim("not shown")


def run(it, train_acc, val_acc, val_loss=None) -> Run:
    return Run(settings={}, iterations=list(it), train_acc=list(train_acc), val_acc=list(val_acc),
               val_loss=list(val_loss if val_loss is not None else [1.0] * len(it)),
               test_acc=[0.5] * len(it))


# ------------------------------------------------------------------------------ set-up words
def test_optimizer_words_and_blocks():
    assert optimizer_words(QUICK.train) == "Adam with an L2 term of 0.0003 (`weight_decay`, added to the gradient)"
    assert optimizer_words(QUICK.train.replace(optimizer="adamw", weight_decay=1.0)) == \
        "AdamW with decoupled weight decay 1"
    assert QUICK.blocks == "1 block"
    two = QUICK.train.replace(model_kwargs=dict(d_model=64, heads=4, layers=2))
    assert dataclasses.replace(QUICK, imp=QUICK.imp.replace(train=two)).blocks == "2 blocks"


def test_layer_table_names_every_prunable_layer_with_its_share():
    model = build_model("transformer", (3,), 13, seed=0, d_model=8, heads=2, layers=1)
    lines = layer_table(model).split("\n")
    total = 14 * 8 + 3 * 8 + 4 * 8 * 8 + 2 * 8 * 32 + 13 * 8  # embeddings, q k v out, MLP, output
    assert lines[:3] == ["| layer | name in the state dict | shape | weights | share |", "|---|---|---|---|---|",
                         f"| token embedding | `embed.weight` | (14, 8) | 112 | {112 / total:.1%} |"]
    assert lines[4] == f"| block 1 query | `blocks.0.query.weight` | (8, 8) | 64 | {64 / total:.1%} |"
    assert lines[-1] == f"| output (unembedding) | `output.weight` | (13, 8) | 104 | {104 / total:.1%} |"
    assert len(lines) == 2 + 9


# ------------------------------------------------------------------------------- section 2
def test_dense_reach_censors_runs_that_never_get_there():
    it = [0, 100, 200, 1000]
    fast = run(it, [0.1, 0.96, 1.0, 1.0], [0.1, 0.5, 0.97, 0.99])  # train 100, val 200: ratio 2
    never = run(it, [0.1, 0.96, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4])  # val censored at 1,000: ratio 10
    reach = dense_reach([fast] * 6 + [never] * 2, 0.95, 1000)
    assert reach.train.tolist() == [100.0] * 8 and reach.val.tolist() == [200.0] * 6 + [1000.0] * 2
    assert reach.val_never.tolist() == [False] * 6 + [True] * 2 and not reach.train_never.any()
    assert reach.ratio.tolist() == [2.0] * 6 + [10.0] * 2 and reach.censored.sum() == 2
    values = reach.values(NO)
    assert values == dict(thr=0.95, tr="100 (100-100)", va="400 (200-1,000)", never=2, tnever=0, either=2, n=8,
                          T=1000, rest="; over the other 6 seeds alone the ratio is 2.00 (2.00-2.00), mean (min-max), "
                                       "a description, not a claim",
                          word="no", why=": validation follows training within a fraction of the time training took")
    assert reach.values(HOLDS)["why"] == ": validation lags training by more than training's own time"
    assert reach.values(NOT_SHOWN)["word"] == "not clearly"
    assert dense_reach([fast] * 2, 0.95, 1000).values(NOT_SHOWN)["rest"] == ""  # nothing censored: no aside
    grokking = reach.check(Claims("10", "quick"), QUICK)
    assert grokking.claim == ("validation accuracy takes at least twice as many iterations as training accuracy to "
                              "reach 95% (grokking)")
    assert grokking.role == "diagnostic" and grokking.threshold == 2.0 and grokking.statistic == "ratio"


def test_dense_reference_says_when_the_reference_is_under_trained():
    it = [0, 500, 1000]
    falling = run(it, [0] * 3, [0] * 3, val_loss=[2.0, 1.0, 0.5])  # minimum at the end, still falling
    turned = run(it, [0] * 3, [0] * 3, val_loss=[2.0, 0.5, 0.6])  # minimum at 500
    values = dense_reference([falling, turned], 1000)
    assert values["es"] == "750 (500-1,000)" and values["last"] == 1 and values["n"] == 2 and values["T"] == 1000
    assert values["acc"] == "0.500 (0.500-0.500)" and values["under"].startswith(": the dense reference is **under")
    assert dense_reference([turned], 1000)["under"] == ""


def test_grokked_words_follow_the_verdict():
    assert grokked_words(HOLDS) == "grokked too"
    assert grokked_words(NO).startswith("learned the task without grokking")
    assert grokked_words(NOT_SHOWN) == "may or may not have grokked"


# ------------------------------------------------------------------------------- section 3
def study(reinit=0.001, random_mask=0.3, ticket=0.98, dense=0.975, reset=0.98, never_reinit=8) -> TicketStudy:
    """Seeds x rounds 0-2 (100%, 50%, 25%); controls trained in round 2 only."""
    nan = np.full(N, np.nan)
    acc = {"ticket": np.stack([dense + STEP, 0.96 + STEP, ticket + STEP], 1),
           "reinit": np.stack([dense + STEP, nan, reinit + STEP], 1),
           "random_mask": np.stack([dense + STEP, nan, random_mask + STEP], 1)}
    acc0 = np.stack([dense + STEP, 0.96 + STEP, reset + STEP], 1)
    steps = {"ticket": np.tile([300.0, 250.0, 200.0], (N, 1)), "reinit": np.tile([300.0, 1000.0, 1000.0], (N, 1)),
             "random_mask": np.tile([300.0, 1000.0, 600.0], (N, 1))}
    never = {k: np.zeros((N, 3), dtype=bool) for k in steps}
    never["reinit"][:never_reinit, 2] = True
    never["random_mask"][:3, 2] = True
    return TicketStudy(QUICK, np.array([100.0, 50.0, 25.0]), acc, acc0, steps, never, chance=1 / 97)


def test_ticket_study_reads_and_tables():
    s = study()
    assert s.kinds == ["ticket", "reinit", "random_mask"] and (s.k, s.T, s.claim_round) == (50, 1000, 2)
    assert s.round_values() == dict(k=50, T=1000, rounds=2, rate=0.5, pcts="50%, 25%", rc=2, dc=25.0)
    bars = s.bars()
    assert list(bars) == ["50% of weights", "25% of weights"]
    assert list(bars["50% of weights"]) == ["IMP ticket"]  # the controls were not trained there
    assert list(bars["25% of weights"]) == ["IMP ticket", "random reinit (same mask)",
                                            "random pruning (same densities)"]
    table = s.accuracy_table().split("\n")
    assert table[0] == ("Test accuracy at the early-stopping iteration, mean (min-max) over seeds; round 0 is the "
                        "dense network.")
    assert table[2] == ("| round | % of weights | IMP ticket | random reinit (same mask) | random pruning (same "
                        "densities) |")
    assert table[5] == "| 1 | 50 | 0.967 (0.960-0.974) | - | - |"
    assert s.at_chance() == ["random reinit (same mask)"]  # 0.001-0.015 < 2/97; random pruning at 0.3 is not


def test_ticket_claims_and_their_words():
    s = study()
    claims = Claims("10", "quick")
    against, matching = s.check_tickets(claims)
    assert [c.claim for c in against] == [
        "the ticket is more accurate than random reinit (same mask) at 25% of weights (test accuracy at early "
        "stopping)",
        "the ticket is more accurate than random pruning (same densities) at 25% of weights (test accuracy at early "
        "stopping)"]
    assert matching.claim == ("the ticket is matching at 25% of weights: within 1 point of the dense network's test "
                              "accuracy, or better") and matching.threshold == -0.01
    assert [c.role for c in against] == ["headline"] * 2 and matching.role == "diagnostic"
    values = s.ticket_values([HOLDS, NOT_SHOWN], NO)
    assert values["beats"] == ("yes against random reinit (same mask) and not shown against random pruning (same "
                               "densities)")
    assert values["match"] == "no" and values["pts"] == 1.0 and values["d"] == 25.0
    assert values["stuck"] == (" (random reinit (same mask) stay at chance level: below twice chance, 0.021, in "
                               "every seed, at early stopping)")
    assert values["below"].startswith(" Accuracy below chance means nothing was learned")  # 0.008 < 1/97
    assert values["controls"] == ("random reinit (same mask) 0.008 (0.001-0.015); random pruning (same densities) "
                                  "0.307 (0.300-0.314)")
    above = study(reinit=0.5).ticket_values([HOLDS, HOLDS], HOLDS)
    assert above["below"] == "" and above["stuck"] == ""


def test_chens_reading_and_the_ceiling():
    values = study().chen_values()
    assert values["where"] == "more than one standard deviation above" and values["reads"].startswith("is matching (")
    assert values["t"] == pytest.approx(0.987) and values["dm"] == pytest.approx(0.982)
    assert values["sd"] == pytest.approx(0.002 * np.std(np.arange(N), ddof=1))  # 0.0049: the means differ by 0.005
    assert values["ceiling"].startswith(" Both means are within 0.018 of perfect accuracy")
    far = study(ticket=0.5, dense=0.6).chen_values()
    assert far["where"] == "more than one standard deviation below" and far["reads"] == "is not matching"
    assert far["ceiling"] == ""


def test_speed_claims_words_and_censoring():
    s = study()
    speed = s.check_speed(Claims("10", "quick"))
    assert [c.claim for c in speed] == [
        "the ticket reaches 95% validation accuracy in fewer iterations than the dense network, at 25% of weights",
        "the ticket reaches 95% validation accuracy in fewer iterations than random reinit (same mask), at 25% of "
        "weights",
        "the ticket reaches 95% validation accuracy in fewer iterations than random pruning (same densities), at 25% "
        "of weights"]
    assert speed[1].paper == "" and speed[2].paper.startswith("our random pruning is masked at k = 50 with")
    assert [c.unit for c in speed] == [" it"] * 3 and {c.role for c in speed} == {"diagnostic"}
    values = s.speed_values([HOLDS, NO, NOT_SHOWN])
    assert values == dict(thr=0.95, dn="300 (300-300)", nd=0, n=8, T=1000, d=25.0, tk="200 (200-200)", nt=0,
                          ctl="; random reinit (same mask) 1,000 (1,000-1,000) (8 never); random pruning (same "
                              "densities) 600 (600-600) (3 never)", w1="yes", w2="no and not shown")
    assert s.censoring_words() == (
        "a control run that never reaches the threshold (random reinit (same mask): 8 of 8 seeds; random pruning (same "
        "densities): 3 of 8 seeds) is counted as 1,000, so for it the difference is 1,000 minus the ticket's time, "
        "which repeats the "
        "accuracy rows above rather than measures a speed.")
    s.never["random_mask"][:, 2] = True
    assert s.censoring_words().startswith("no control reaches the threshold in any seed (each counted as 1,000), so "
                                          "each difference is 1,000 minus the ticket's time")


def test_rewinding_claim_and_words():
    s = study(reset=0.5)
    rewinding = s.check_rewinding(Claims("10", "quick"))
    assert rewinding.claim == ("the ticket rewound to k = 50 is more accurate than the ticket reset to iteration 0, "
                               "at 25% of weights") and rewinding.verdict == "holds"
    values = s.rewinding_values(NOT_SHOWN)
    assert values["w"] == "not shown" and values["why"].startswith("No difference is shown at this density")
    assert values["a"] == "0.987 (0.980-0.994)" and values["b"] == "0.507 (0.500-0.514)" and values["ceiling"] == ""
    assert study().rewinding_values(HOLDS)["ceiling"].endswith("cannot separate the two tickets.")
    assert study().rewinding_values(NO)["why"] == "The ticket reset to iteration 0 is the better one."


def test_ticket_study_reads_imp_results_in_seed_order():
    class FakeIMP:
        def __init__(self, i: int):
            self.i = i

        def densities(self):
            return [1.0, 0.5, 0.25]

        def metric(self, kind="ticket"):
            return [0.9 + self.i, np.nan if kind != "ticket" else 0.8, 0.1 * self.i]

        def runs(self, kind="ticket"):
            return [run([0, 100], [0, 0], [0.1, 0.96]), None if kind != "ticket" else run([0, 100], [0, 0], [0, 0]),
                    run([0, 100], [0, 0], [0.96, 1.0])]

    s = ticket_study(QUICK, [FakeIMP(0), FakeIMP(1)], [FakeIMP(2), FakeIMP(3)], chance=0.01)
    assert s.densities.tolist() == [100.0, 50.0, 25.0] and s.at("ticket").tolist() == [0.0, 0.1]
    assert s.acc0[:, 2].tolist() == pytest.approx([0.2, 0.3]) and np.isnan(s.acc["reinit"][:, 1]).all()
    assert s.steps["ticket"].tolist() == [[100.0, 1000.0, 0.0]] * 2
    assert s.never["reinit"].tolist() == [[False, True, False]] * 2  # not trained counts as never


# ------------------------------------------------------------------------------- section 4
def shots(as_pruned_mag50=0.3, dense=0.98) -> OneShotStudy:
    values = {OneShot("magnitude", 0.5): (as_pruned_mag50, 0.96), OneShot("wanda", 0.5): (0.25, 0.96),
              OneShot("magnitude", 0.5, (2, 4)): (0.05, 0.9), OneShot("wanda", 0.5, (2, 4)): (0.04, 0.89),
              OneShot("magnitude", 0.25): (0.02, 0.8), OneShot("wanda", 0.25): (0.03, 0.7),
              OneShot("magnitude", 0.25, (1, 4)): (0.01, 0.6), OneShot("wanda", 0.25, (1, 4)): (0.01, 0.75)}
    assert set(values) == set(QUICK.one_shot)
    return OneShotStudy(QUICK, {h: v[0] + STEP for h, v in values.items()}, {h: v[1] + STEP for h, v in values.items()},
                        {h: np.full(N, 0.99 if h.density == 0.5 else 0.985) for h in values}, dense + STEP)


def test_one_shot_study_names_the_claims_prunings_and_tables_them():
    s = shots()
    assert (s.mag50, s.mag25, s.mag24, s.wanda50) == (OneShot("magnitude", 0.5), OneShot("magnitude", 0.25),
                                                      OneShot("magnitude", 0.5, (2, 4)), OneShot("wanda", 0.5))
    assert s.F == 100 and s.finetune_label == "fine-tuned (100 it)"
    assert s.table_values() == dict(F=100, share=0.1, T=1000, dense="0.987 (0.980-0.994)", cal=256)
    rows = s.table().split("\n")
    assert rows[2] == ("| magnitude, unstructured | 50 | 0.307 (0.300-0.314) | 0.967 (0.960-0.974) | 0.990 "
                       "(0.990-0.990) |")
    assert len(rows) == 2 + 8
    panels, lines = s.panels()
    assert list(panels) == ["50% of weights", "25% of weights"]
    assert list(panels["50% of weights"]) == ["magnitude\nunstructured", "Wanda\nunstructured", "magnitude\n2:4",
                                              "Wanda\n2:4"]
    assert list(panels["25% of weights"]["Wanda\n1:4"]) == ["as pruned (no retraining)", "fine-tuned (100 it)"]
    assert list(lines["25% of weights"]) == ["IMP ticket, same density", "dense network (100%)"]
    checked = QUICK.check_one_shot(Claims("10", "quick"), s.series)
    assert [c.verdict for c in checked] == ["holds", "holds", "holds", "contradicted", "contradicted"]


def test_one_shot_words():
    s = shots()
    values = s.claim_values([HOLDS, NO, NOT_SHOWN, HOLDS, NO])
    assert values == dict(d50=50.0, m="0.307 (0.300-0.314)", w="0.257 (0.250-0.264)", t50="0.990 (0.990-0.990)",
                          w0="yes", w3="yes", F=100, mf="0.967 (0.960-0.974)", w4="no", m24f="0.907 (0.900-0.914)",
                          w2="not shown", d25=25.0, m25f="0.807 (0.800-0.814)", t25="0.985 (0.985-0.985)", w1="no")
    nm = s.nm_values()
    assert nm["nm"] == ("with magnitude scores, 1:4 reaches 0.607 (0.600-0.614) against unstructured's 0.807 "
                        "(0.800-0.814) (lower in 8 of 8 seeds); with Wanda scores, 1:4 reaches 0.757 (0.750-0.764) "
                        "against unstructured's 0.707 (0.700-0.714) (lower in 0 of 8 seeds)")
    assert (nm["d25"], nm["k"], nm["n"], nm["w"]) == (25.0, 8, 8, "0.037 (0.030-0.044)")


def test_sun_words_say_the_collapse_and_matching_where_they_apply():
    collapsed = shots().sun_values([HOLDS] * 5, HOLDS, 25.0)
    assert collapsed["lost"] == "falls below its ticket"
    assert collapsed["collapse"].startswith(": it keeps 0.307 test accuracy, less than half of the dense network's "
                                            "0.987.")
    assert collapsed["enough"].startswith(", within this notebook's matching threshold (section 3): the network does "
                                          "not need every weight it has, 25% of them")
    kept = shots(as_pruned_mag50=0.9).sun_values([NOT_SHOWN] * 5, HOLDS, 50.0)
    assert kept["collapse"] == "." and kept["enough"] == ""  # matching was read at another density
    assert kept["lost"] == "cannot be told apart from its ticket"
    assert shots().sun_values([NO] * 5, NO, 25.0)["enough"] == ""


def test_one_shot_study_reads_run_one_shots_results_by_seed():
    results = {(h, s): SimpleNamespace(test_acc=0.1 * s, finetuned=Run(settings={}, iterations=[0], val_loss=[1.0],
                                                                       test_acc=[0.5 + 0.1 * s]))
               for h in QUICK.one_shot for s in (3, 4)}
    ticket = np.array([[0.99, 0.98, 0.97], [0.9, 0.8, 0.7]])
    s = one_shot_study(QUICK, results, [3, 4], ticket)
    assert s.as_pruned[s.mag50].tolist() == pytest.approx([0.3, 0.4])
    assert s.finetuned[s.mag25].tolist() == pytest.approx([0.8, 0.9])
    assert s.ticket_at[s.mag50].tolist() == [0.98, 0.8] and s.ticket_at[s.mag25].tolist() == [0.97, 0.7]
    assert s.dense.tolist() == [0.99, 0.9]


def test_feature_ratios_and_their_words():
    model = build_model("transformer", (3,), 13, seed=0, d_model=8, heads=2, layers=1)
    ratio = feature_ratios(model, torch.tensor([[1, 2, 13], [3, 4, 13]]))
    assert list(ratio) == [f"blocks.0.{m}.weight" for m in ("query", "key", "value", "out", "fc1", "fc2")] + [
        "output.weight"]
    assert all(r >= 1.0 for r in ratio.values())
    small = {"blocks.0.fc1.weight": 2.0, "output.weight": 3.25}
    assert feature_ratio_table(small, 0, 1256) == (
        "Seed 0's dense network, on the first 1,256 training pairs:\n\n| layer | largest / median input norm |\n"
        "|---|---|\n| block 1 MLP in | 2.0 |\n| output (unembedding) | 3.2 |")
    assert feature_ratio_words(small).startswith("The largest ratio is 3.2 (output (unembedding)). No input feature "
                                                 "stands ten times above the median")
    assert feature_ratio_words({"output.weight": 12.0}).startswith(
        "The largest ratio is 12.0 (output (unembedding)). Some input features stand ten or more times")


# ------------------------------------------------------------------------ sections 5 and the end
def test_carry_over_rows_follow_the_verdicts():
    rows = carry_over_rows(study(), shots(), tickets=[HOLDS, NO], speed=[NOT_SHOWN, HOLDS, HOLDS], rewinding=NOT_SHOWN,
                           one_shot=[HOLDS, HOLDS, HOLDS, NO, NO])
    assert rows[0] == ("02: a ticket beats its random reinitialisation", "holds here at 25% of weights",
                       "the initial values matter within 1,000 iterations (the control stays at chance level: below "
                       "twice chance at early stopping, in every seed), as for MLPs")
    assert rows[1] == ("02: a ticket beats random pruning", "does not hold here", "the density alone explains it")
    assert rows[2][1] == "not shown here (iterations to 95% validation accuracy, a diagnostic row)"
    assert rows[3] == ("03: deeper networks need rewinding to k > 0", "k = 50 better than k = 0: not shown here",
                       "no difference shown at this density with 1 block, as for notebook 02's MLP")
    assert rows[4][1] == "holds here against one-shot magnitude pruning with a 100-iteration fine-tune, at 25%"
    assert rows[4][2].startswith("IMP (2 rounds, each retrained for 950 iterations) beats one prune with a "
                                 "100-iteration fine-tune")
    assert rows[6][1] == "1 block, one small algorithmic task, no pre-training, a 1,000-iteration budget"
    assert len(rows) == 7 and all(len(r) == 3 for r in rows)


def test_the_answer_states_every_verdict():
    text = answer(study(), shots(), tickets=[HOLDS, NOT_SHOWN], matching=NO, speed=[HOLDS, NO, NOT_SHOWN],
                  one_shot=[HOLDS, NO, NOT_SHOWN, NO, HOLDS])
    assert text.startswith("**The answer, in this run.** At 25% of the weights the IMP ticket of a transformer with 1 "
                           "block beats random reinitialisation: **yes**; random pruning: **not clearly** (headline). "
                           "It is matching (within 1 point, this notebook's threshold; a diagnostic): **no**.")
    assert ("sooner than the dense network: **yes**; sooner than random reinitialisation: **no**; sooner than random "
            "pruning: **not clearly**") in text
    assert ("without retraining at 50%: **yes**; and with a short fine-tune at 25%: **no**. The 2:4 pattern, after the "
            "fine-tune, is less accurate than unstructured magnitude pruning at 50%: **not clearly** (2:4 0.907 "
            "(0.900-0.914), unstructured 0.967 (0.960-0.974)) (headline). Wanda beats magnitude pruning without "
            "retraining (the paper's claim): **no**.") in text


def test_interval_note_names_the_spec():
    assert INTERVAL_NOTE.startswith("*Every row pairs the same seeds") and "`lthlib.experiments.transformer_study`" in INTERVAL_NOTE
