"""Claims: paired statistics, verdicts, saving, and the CLI's claims table and gate."""
from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import write_notebook
from lthlib.claims import Claims, claims_markdown, judge, load_claims, mean_ci, t95


def test_t_quantiles_and_interval():
    assert t95(1) == pytest.approx(12.706) and t95(5) == pytest.approx(2.571)
    assert 1.96 < t95(100) < 1.99
    mean, lo, hi = mean_ci([1.0, 2.0, 3.0])
    # mean 2, sd 1, n 3: half-width 4.303 / sqrt(3)
    assert (mean, hi - mean) == (2.0, pytest.approx(4.303 / math.sqrt(3)))
    assert math.isnan(mean_ci([0.5])[1])


def test_verdicts_follow_the_interval():
    assert judge([0.02, 0.03, 0.025, 0.028])[0] == "holds"
    assert judge([0.02, -0.03, 0.01, 0.0])[0] == "not shown"
    assert judge([-0.02, -0.03, -0.025])[0] == "contradicted"
    assert judge([0.02, 0.03, 0.025], threshold=0.05)[0] == "contradicted"
    assert judge([0.02, 0.03], judged=False)[0] == "not judged"
    assert judge([0.02])[0] == "not judged"  # one seed: no interval, no verdict


def test_paired_claim_is_on_differences_not_on_means():
    """Seeds vary a lot but the ticket beats its own control on every seed: paired holds."""
    control = np.array([0.60, 0.70, 0.80, 0.65, 0.75])
    ticket = control + np.array([0.010, 0.012, 0.011, 0.009, 0.010])
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
    claims.check("a", [0.1, 0.2, 0.15], paper="The paper reports something")
    claims.check("b", [-0.1, -0.2, -0.15], role="paper")
    claims.check("a", [-0.1, 0.2, 0.05])  # re-checking replaces, never duplicates
    loaded = load_claims(path)
    assert [c.claim for c in loaded] == ["b", "a"]
    assert loaded[1].verdict == "not shown" and loaded[1].failed()
    assert loaded[0].verdict == "contradicted" and not loaded[0].failed()  # a paper claim never fails the run
    table = claims_markdown(loaded)
    assert "the paper's claim, at this scale" in table and "95% CI" in table


def test_cli_prints_every_claim_and_check_claims_fails_on_a_headline_claim(tmp_path, capsys):
    from lthlib.__main__ import main

    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "01_holds.ipynb", "from lthlib.claims import Claims\n"
              "c = Claims('01', SCALE, CLAIMS_FILE)\nc.check('a true claim', [0.1, 0.11, 0.12])\n"
              "c.check('a paper claim that fails here', [-0.1, 0.1, 0.0], role='paper')")
    write_notebook(folder / "02_fails.ipynb", "from lthlib.claims import Claims\n"
              "c = Claims('02', SCALE, CLAIMS_FILE)\nc.check('a false claim', [-0.1, 0.1, 0.0])")
    args = ["run", "--scale", "quick", "--notebooks", str(folder), "--out", str(tmp_path / "out"),
            "--results", str(tmp_path / "res"), "--threads", "1"]
    assert main(args) == 0  # the notebooks ran; claims are reported, not gated
    out = capsys.readouterr().out
    assert "a true claim" in out and "a false claim" in out and "a paper claim that fails here" in out
    assert main(args + ["--check-claims"]) == 1
    err = capsys.readouterr().err
    assert "CLAIM FAILED: 02: a false claim" in err and "paper claim" not in err
    assert main(args + ["--check-claims", "--only", "01"]) == 0


def test_a_claim_below_a_threshold():
    claims = Claims("99", "quick")
    low = claims.check("barrier under 2 points", [0.005, 0.004, 0.006], threshold=0.02, below=True)
    assert low.verdict == "holds" and low.mean == pytest.approx(0.005) and low.ci_low < 0.005 < low.ci_high
    assert "below +0.02" in low.evidence and "mean value" in low.evidence
    assert claims.check("barrier under 2 points", [0.10, 0.12, 0.11], threshold=0.02, below=True).verdict == "contradicted"


def test_evidence_names_what_the_values_are_over():
    from lthlib.claims import Claims

    claims = Claims("09", "quick")
    pairs = claims.paired("x beats y", better=[0.9, 0.8, 0.85], worse=[0.1, 0.2, 0.15], over="seed pairs")
    assert "over 3 seed pairs" in pairs.evidence and pairs.verdict == "holds"
    seeds = claims.check("z above 0", [0.5, 0.6])
    assert "over 2 seeds" in seeds.evidence
    one = claims.check("w above 0", [0.5], over="timing repeats")
    assert "1 timing repeat:" in one.evidence


def test_a_verdict_that_flips_with_the_kernel_set_is_marked_fragile(tmp_path, monkeypatch):
    """benchmarks/claims_kernels.py --record lists verdicts that differ between kernel sets;
    a notebook's table marks them fragile and prose does not word them as findings."""
    import lthlib.claims as cl

    monkeypatch.setattr(cl, "FRAGILE_FILE", tmp_path / "fragile.json")
    verdicts = {"AVX512": {("02", "a"): "holds", ("02", "b"): "holds"},
                "DEFAULT": {("02", "a"): "not shown", ("02", "b"): "holds"}}
    cl.record_fragile(["02"], "quick", verdicts)
    claims = cl.Claims("02", "quick")
    a = claims.paired("a", [1.0, 1.1, 1.2], [0.0, 0.1, 0.0])
    b = claims.paired("b", [1.0, 1.1, 1.2], [0.0, 0.1, 0.0])
    assert a.verdict == b.verdict == "holds"
    assert a.fragile == "holds under AVX512 kernels, not shown under DEFAULT kernels" and not b.fragile
    assert cl.verdict_word(a) == "not clearly" and cl.verdict_word(b) == "yes"
    assert a.stated.startswith("holds (fragile: ") and b.stated == "holds"
    table = claims.markdown()
    assert "fragile: holds under AVX512" in table and table.count("⚠️") == 2  # the row and the note
    assert not cl.Claims("02", "smoke").paired("a", [1.0, 1.1], [0.0, 0.0]).fragile  # measured at quick only
    cl.record_fragile(["02"], "quick", {k: {("02", "a"): "holds"} for k in verdicts})  # re-measured: replaced
    assert not cl.Claims("02", "quick").paired("a", [1.0, 1.1, 1.2], [0.0, 0.1, 0.0]).fragile


def test_the_recorded_fragile_claims_name_notebook_claims():
    import json

    from lthlib.claims import FRAGILE_FILE

    data = json.loads(FRAGILE_FILE.read_text())
    for entry in data["claims"]:
        assert set(entry) == {"notebook", "claim", "scale", "verdicts"} and len(set(entry["verdicts"].values())) > 1
