"""Claims: paired statistics, verdicts, saving, and the CLI's claims table and gate."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import write_notebook
from lthlib.report.claims import Claims, claims_markdown, judge, load_claims, mean_ci, t95


def test_t_quantiles_and_interval():
    assert t95(1) == pytest.approx(12.706) and t95(5) == pytest.approx(2.571)
    assert 1.96 < t95(100) < 1.99
    mean, lo, hi = mean_ci([1.0, 2.0, 3.0])
    # mean 2, sd 1, n 3: half-width 4.303 / sqrt(3)
    assert (mean, hi - mean) == (2.0, pytest.approx(4.303 / math.sqrt(3)))
    assert math.isnan(mean_ci([0.5])[1])


def test_verdicts_follow_the_exact_sign_flip_test():
    # every one of 5 values above 0: p = 2^-5 = 0.031 <= 0.05
    assert judge([0.02, 0.03, 0.025, 0.028, 0.021])[0] == "holds"
    assert judge([0.02, -0.03, 0.01, 0.0])[0] == "not shown"
    # 3 seeds can never decide: the smallest p is 2^-3 = 0.125
    assert judge([-0.02, -0.03, -0.025])[0] == "not shown"
    assert judge([-0.02, -0.03, -0.025, -0.021, -0.04])[0] == "contradicted"
    assert judge([0.02, 0.03, 0.025, 0.021, 0.022], threshold=0.05)[0] == "contradicted"
    assert judge([0.02, 0.03], judged=False)[0] == "not judged"
    assert judge([0.02])[0] == "not judged"  # one seed: no test, no verdict


def test_sign_flip_p_is_exact():
    """p counts the sign patterns whose mean is at least the observed one, of all 2^n."""
    from itertools import product

    from lthlib.report.claims import sign_flip_p

    assert sign_flip_p([0.1] * 8) == 2 ** -8  # an effect every seed shows
    v = np.array([0.3, -0.1, 0.2, 0.05, 0.4, -0.2])
    flips = [np.mean(np.array(s) * np.abs(v)) for s in product((1, -1), repeat=6)]
    assert sign_flip_p(v) == pytest.approx(np.mean([f >= v.mean() - 1e-12 for f in flips]), abs=1e-12)
    assert sign_flip_p(v, "less") == pytest.approx(np.mean([f <= v.mean() + 1e-12 for f in flips]), abs=1e-12)
    many = np.linspace(-0.5, 2.0, 40)  # beyond EXACT_UP_TO: drawn patterns, the same every time
    assert sign_flip_p(many, key="k") == sign_flip_p(many, key="k") < 1e-3


def test_holm_step_down():
    from lthlib.report.claims import holm_levels

    # family of 4: thresholds 0.0125, 0.0167, 0.025, 0.05 in order of p
    assert holm_levels([0.01, 0.04, 0.012, 0.2], 4) == [True, False, True, False]
    assert holm_levels([0.02, 0.001], 4) == [False, True]  # 0.02 > 0.05/3 stops the steps
    assert holm_levels([0.02, 0.021], 3) == [False, False]  # 0.021 <= 0.05/2, but the steps stopped
    assert holm_levels([0.001, 0.001], 2) == [True, True]
    with pytest.raises(ValueError):
        holm_levels([0.01, 0.01, 0.01], 2)


def test_headline_claims_are_a_holm_family_judged_in_order():
    """Each headline claim is judged when made, at the level Holm gives it with the claims
    not yet made at p = 1; paper claims are judged alone at 0.05."""
    every = [0.1] * 8  # p = 2^-8 = 0.0039
    seven = [0.1] * 7 + [-0.01]  # p = 2/256 = 0.0078
    claims = Claims("99", "quick", headlines=4)
    a = claims.check("a", every)
    assert a.verdict == "holds" and a.level == pytest.approx(0.05 / 4) and a.correction == "Holm over 4 headline claims"
    b = claims.check("b", seven)
    assert b.verdict == "holds" and b.level == pytest.approx(0.05 / 3)
    c = claims.check("c", [0.1] * 4 + [-0.01] * 4, role="paper")  # p = 16/256: not shown, alone at 0.05
    assert c.verdict == "not shown" and c.level == 0.05 and c.correction == "none"
    d = claims.check("d", [0.1] * 5 + [-0.01] * 3)  # p = 8/256 = 0.031 > 0.05 / 2, <= 0.05 if e is small
    assert d.verdict == "pending" and d.level == pytest.approx(0.025) and not d.p <= d.level
    assert "pending" in claims.markdown() and "pending" in d.stated
    claims.check("e", every)  # the family is complete: Holm over all four decides d (last of four: 0.05)
    d = next(c for c in claims.items if c.claim == "d")
    assert d.verdict == "holds" and d.level == pytest.approx(0.05)
    with pytest.raises(ValueError, match="declared 4"):
        claims.check("f", every)
    # a family of one: the same values at 0.05
    assert Claims("99", "quick", headlines=1).check("d", [0.1] * 5 + [-0.01] * 3).verdict == "holds"
    table = claims.markdown()
    assert "Holm over 4 headline claims" in table and "not corrected" in table and "sign-flip" in table


def test_a_smaller_p_that_failed_stops_the_later_ones(monkeypatch):
    import lthlib.report.claims as cl

    ps = iter([0.02, 1.0, 0.021, 1.0, 0.5, 0.5])  # (claimed side, other side) per claim
    monkeypatch.setattr(cl, "sign_flip_p", lambda *a, **k: next(ps))
    claims = Claims("99", "quick", headlines=3)
    assert claims.check("a", [0.1] * 8).verdict == "pending"  # 0.02 > 0.05 / 3; <= 0.05 / 1 if b, c are small
    assert claims.check("b", [0.1] * 8).verdict == "pending"
    assert claims.check("c", [0.1] * 8).verdict == "not shown"  # 0.5: and the family is complete
    for c in claims.items:  # Holm stopped at 0.02 > 0.05 / 3: nothing after it is rejected
        assert c.verdict == "not shown" and c.level == pytest.approx(0.05 / 3) and c.p > c.level


def test_a_pending_claim_is_decided_by_holm_over_the_whole_family(tmp_path):
    """The first of seven headline claims, 7 of 8 seeds (p = 0.0078 > 0.05 / 7), cannot be
    decided when made; the other six, every seed (p = 0.0039), make Holm over the whole
    family reject it (last of seven: 0.05 / 1). The saved claims carry the decision."""
    path = tmp_path / "claims.json"
    claims = Claims("99", "quick", path=path, headlines=7)
    first = claims.check("first", [0.1] * 7 + [-0.01])
    assert first.verdict == "pending" and first.level == pytest.approx(0.05 / 7) and first.failed()  # until decided
    from lthlib.report.claims import verdict_word

    assert verdict_word(first, "beats", "loses to", "may not beat") == "(not yet decided: see the verdict table at the end)"
    for i in range(5):
        claims.check(f"every {i}", [0.1] * 8)
    assert json.loads(path.read_text())[0]["verdict"] == "pending"
    claims.check("every 5", [0.1] * 8)
    saved = {c["claim"]: c for c in json.loads(path.read_text())}
    assert saved["first"]["verdict"] == "holds" and saved["first"]["level"] == pytest.approx(0.05)
    assert first.verdict == "holds" and not first.failed()  # the object the notebook kept reads the decision
    assert all(c["verdict"] == "holds" for c in saved.values()) and "⏳" not in claims.markdown()
    # a claim that holds when made is never pending, and keeps its level
    assert saved["every 0"]["level"] == pytest.approx(0.05 / 7)  # the smallest p when made
    # a claim no later p-values could rescue is not shown at once: 4 of 8 seeds, p = 0.36 > 0.05
    other = Claims("99", "quick", headlines=7)
    assert other.check("half", [0.1] * 4 + [-0.1] * 4).verdict == "not shown"


def test_paired_claim_is_on_differences_not_on_means():
    """Seeds vary a lot but the ticket beats its own control on every seed: paired holds."""
    control = np.array([0.60, 0.70, 0.80, 0.65, 0.75, 0.62, 0.71, 0.68])
    ticket = control + np.array([0.010, 0.012, 0.011, 0.009, 0.010, 0.011, 0.012, 0.010])
    claims = Claims("99", "quick")
    assert claims.paired("ticket beats control", ticket, control).verdict == "holds"
    assert claims.paired("ticket beats control by 5 points", ticket, control, margin=0.05).verdict == "contradicted"
    # a tolerance: "not worse by more than 2 points" (matching)
    assert claims.paired("ticket matches", control - 0.001, control, margin=-0.02).verdict == "holds"


def test_bad_inputs_are_named():
    claims = Claims("99", "quick")
    with pytest.raises(ValueError, match="one value per seed"):
        claims.paired("x", [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        claims.check("x", [0.1, float("nan")])
    with pytest.raises(ValueError, match="role"):
        claims.check("x", [0.1, 0.2], role="main")


def test_smoke_scale_computes_but_does_not_judge(tmp_path):
    claims = Claims("99", "smoke", tmp_path / "c.json")
    c = claims.check("x", [1.0, 2.0, 3.0])
    assert c.verdict == "not judged" and c.mean == 2.0 and not c.failed()
    assert "not judged" in claims.markdown()


def test_claims_are_saved_replaced_by_name_and_loaded(tmp_path):
    path = tmp_path / "claims" / "03.json"
    claims = Claims("03", "quick", path)
    claims.check("a", [0.1, 0.2, 0.15, 0.12, 0.11], paper="The paper reports something")
    claims.check("b", [-0.1, -0.2, -0.15, -0.12, -0.11], role="paper")
    claims.check("a", [-0.1, 0.2, 0.05])  # re-checking replaces, never duplicates
    loaded = load_claims(path)
    assert [c.claim for c in loaded] == ["b", "a"]
    assert loaded[1].verdict == "not shown" and loaded[1].failed()
    assert loaded[0].verdict == "contradicted" and not loaded[0].failed()  # a paper claim never fails the run
    table = claims_markdown(loaded)
    assert "the paper's claim, at this scale" in table and "one-sided 95% t bound" in table


def test_cli_prints_every_claim_and_check_claims_fails_on_a_headline_claim(tmp_path, capsys):
    from lthlib.apps.cli import main

    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "01_holds.ipynb", "from lthlib.report.claims import Claims\n"
              "c = Claims('91', SCALE, CLAIMS_FILE)\nc.check('a true claim', [0.1, 0.11, 0.12, 0.1, 0.13])\n"
              "c.check('a paper claim that fails here', [-0.1, 0.1, 0.0], role='paper')")
    write_notebook(folder / "02_fails.ipynb", "from lthlib.report.claims import Claims\n"
              "c = Claims('92', SCALE, CLAIMS_FILE)\nc.check('a false claim', [-0.1, 0.1, 0.0])")
    args = ["run", "--scale", "quick", "--notebooks", str(folder), "--out", str(tmp_path / "out"),
            "--results", str(tmp_path / "res"), "--threads", "1"]
    assert main(args) == 0  # the notebooks ran; claims are reported, not gated
    out = capsys.readouterr().out
    assert "a true claim" in out and "a false claim" in out and "a paper claim that fails here" in out
    assert main(args + ["--check-claims"]) == 1
    err = capsys.readouterr().err
    assert "CLAIM FAILED: 92: a false claim" in err and "paper claim" not in err
    assert main(args + ["--check-claims", "--only", "01"]) == 0


def test_a_claim_below_a_threshold():
    claims = Claims("99", "quick")
    low = claims.check("barrier under 2 points", [0.005, 0.004, 0.006, 0.005, 0.003], threshold=0.02, below=True)
    assert low.verdict == "holds" and low.mean == pytest.approx(0.0046) and low.ci_low < 0.0046 < low.ci_high
    assert low.bound > low.mean and low.on_side == 5  # an upper bound for a "below" claim
    assert "below +0.020" in low.evidence and "mean value" in low.evidence and "5 of 5 seeds below" in low.evidence
    high = claims.check("barrier under 2 points", [0.10, 0.12, 0.11, 0.1, 0.13], threshold=0.02, below=True)
    assert high.verdict == "contradicted"


def test_evidence_names_what_the_values_are_over():
    from lthlib.report.claims import Claims

    claims = Claims("99", "quick")
    pairs = claims.paired("x beats y", better=[0.9, 0.8, 0.85, 0.9, 0.8], worse=[0.1, 0.2, 0.15, 0.1, 0.2],
                          over="seed pairs")
    assert "5 of 5 seed pairs above" in pairs.evidence and pairs.verdict == "holds"
    seeds = claims.check("z above 0", [0.5, 0.6])
    assert "2 of 2 seeds above" in seeds.evidence
    one = claims.check("w above 0", [0.5], over="timing repeats")
    assert "1 timing repeat:" in one.evidence


def test_a_verdict_that_flips_with_the_kernel_set_is_marked_fragile(tmp_path, monkeypatch):
    """benchmarks/claims_kernels.py --record lists verdicts that differ between kernel sets;
    a notebook's table marks them fragile and prose does not word them as findings."""
    import lthlib.report.claims as cl

    monkeypatch.setattr(cl, "FRAGILE_FILE", tmp_path / "fragile.json")
    verdicts = {"AVX512": {("92", "a"): "holds", ("92", "b"): "holds"},
                "DEFAULT": {("92", "a"): "not shown", ("92", "b"): "holds"}}
    cl.record_fragile(["92"], "quick", verdicts)
    claims = cl.Claims("92", "quick")
    a = claims.paired("a", [1.0, 1.1, 1.2, 1.0, 1.1], [0.0, 0.1, 0.0, 0.0, 0.1])
    b = claims.paired("b", [1.0, 1.1, 1.2, 1.0, 1.1], [0.0, 0.1, 0.0, 0.0, 0.1])
    assert a.verdict == b.verdict == "holds"
    assert a.fragile == "holds under AVX512 kernels, not shown under DEFAULT kernels" and not b.fragile
    assert cl.verdict_word(a) == "not clearly" and cl.verdict_word(b) == "yes"
    assert a.stated.startswith("holds (fragile: ") and b.stated == "holds"
    table = claims.markdown()
    assert "fragile: holds under AVX512" in table and table.count("⚠️") == 2  # the row and the note
    assert not cl.Claims("92", "smoke").paired("a", [1.0, 1.1], [0.0, 0.0]).fragile  # measured at quick only
    cl.record_fragile(["92"], "quick", {k: {("92", "a"): "holds"} for k in verdicts})  # re-measured: replaced
    assert not cl.Claims("92", "quick").paired("a", [1.0, 1.1, 1.2], [0.0, 0.1, 0.0]).fragile


def test_the_recorded_fragile_claims_name_notebook_claims():
    import json

    from lthlib.report.claims import FRAGILE_FILE

    data = json.loads(FRAGILE_FILE.read_text())
    for entry in data["claims"]:
        assert set(entry) == {"notebook", "claim", "scale", "verdicts"} and len(set(entry["verdicts"].values())) > 1


def test_families_come_from_the_spec_and_the_cli_checks_the_count(monkeypatch):
    import lthlib.report.claims as cl
    from lthlib.apps.cli import family_mismatches

    monkeypatch.setitem(cl.HEADLINE_FAMILIES, "98", {"quick": 2})
    claims = cl.Claims("98", "quick")
    assert claims.family == 2 and cl.Claims("98", "paper").family is None
    claims.check("a", [0.1] * 8)
    assert family_mismatches(claims.items, "quick") == [
        "notebook 98 made 1 headline claims at scale 'quick'; settings.HEADLINE_FAMILIES declares 2"]
    claims.check("b", [0.1] * 8)
    claims.check("c", [0.1] * 8, role="paper")
    assert family_mismatches(claims.items, "quick") == [] and family_mismatches(claims.items, "paper") == []
    assert "Holm over 2 headline claims" in claims.markdown()
    assert "no headline family declared" in cl.Claims("98", "paper").check("a", [0.1] * 8).correction


def test_prose_helpers_follow_the_test():
    from lthlib.report.claims import bold_verdict, direction_word, verdict_lines

    assert direction_word([0.1] * 8, "up", "down", "?") == "up"
    assert direction_word([-0.1] * 8, "up", "down", "?") == "down"
    assert direction_word([0.1, -0.1] * 4, "up", "down", "?") == "?"
    assert direction_word([0.1] * 8, "up", "down", "?", judged=False) == "?"
    c = Claims("99", "quick").check("x above 0", [0.1] * 8)
    assert bold_verdict(c) == "**holds**"
    assert verdict_lines([c]) == f"- x above 0: **holds** ({c.evidence})."


def test_spread_table_has_a_row_per_series_and_a_column_per_density():
    from lthlib.report.claims import spread_table

    table = spread_table([25.7, 5.2], {"a": np.array([[0.5, 0.1], [0.7, 0.3]]), "b": np.array([[1.0, 0.0], [1.0, 0.0]])})
    assert table.splitlines() == ["| network | 25.7% | 5.2% |", "|---|---|---|",
                                  "| a | 0.600 (0.500-0.700) | 0.200 (0.100-0.300) |",
                                  "| b | 1.000 (1.000-1.000) | 0.000 (0.000-0.000) |"]
