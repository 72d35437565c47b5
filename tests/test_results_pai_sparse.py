"""Notebooks 06 and 07's reads of their runs (``lthlib.experiments.pai_study``'s and ``lthlib.experiments.sparse_study``'s
results objects and the sentences they word), on small fake runs whose numbers are known exactly."""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lthlib.experiments import pai_study, sparse_study
from lthlib.experiments.imp import kind_color
from lthlib.experiments.pai_study import CollapseResults, PaIExperiment, PaIResults, SanityResults
from lthlib.masks import Mask
from lthlib.methods.pai import METHOD_COLORS, METHOD_LABELS
from lthlib.methods.sparse_training import METHOD_COLORS as SPARSE_COLORS
from lthlib.methods.sparse_training import SparseTrainingSettings
from lthlib.models.networks import build_model, prunable_parameters
from lthlib.report.claims import Claim

SEEDS = tuple(range(8))  # 8 seeds: all on one side gives p = 1/256, below every level used
LAYERS = ("a", "b", "c")
SIZES = {"a": 6, "b": 12, "c": 4}


class FakeRun:
    """What the results objects read of a Run: the reported accuracy, a mask."""

    def __init__(self, acc: float, mask: dict | None = None):
        self.acc, self.mask = acc, mask

    def reported(self, metric: str = "test_acc") -> float:
        assert metric == "test_acc"
        return self.acc


def mask(empty: str | None = None, keep: int = 2) -> Mask:
    """A mask of LAYERS keeping the first ``keep`` weights of each layer, none of ``empty``."""
    out = {}
    for n, size in SIZES.items():
        t = torch.zeros(size, dtype=torch.bool)
        if n != empty:
            t[:keep] = True
        out[n] = t
    return Mask(out)


def claim(verdict: str, fragile: str = "") -> Claim:
    return Claim(notebook="06", claim="c", role="paper", verdict=verdict, mean=0.0, ci_low=0.0, ci_high=0.0,
                 n=len(SEEDS), threshold=0.0, fragile=fragile)


def experiment(**changes) -> PaIExperiment:
    values = dict(methods=("snip", "grasp", "synflow", "random", "random_erk"), rounds=(1, 2), sanity_round=2,
                  sanity_methods=("snip", "synflow"), rewind_iteration=10, collapse_densities=(0.1,))
    return PaIExperiment(**{**values, **changes})


def imp_result(seed: int, ticket=(0.8, 0.7), rewound=False, controls=None):
    """A fake IMPResult: two rounds (densities 0.5 and 0.25), the dense run at 0.9."""
    rounds = [SimpleNamespace(density=d, mask=mask(), ticket=FakeRun(t + (0.02 if rewound else 0.0)),
                              controls={k: FakeRun(v) for k, v in (controls or {}).items()})
              for d, t in zip((0.5, 0.25), ticket)]
    return SimpleNamespace(rounds=rounds, dense=FakeRun(0.9))


def pai_results(acc: dict[str, float], empty: dict[str, str] | None = None) -> PaIResults:
    """Every method at a constant accuracy per density (``acc[method]`` at the sparser one,
    +0.1 at the denser), seed s adding 0.001 s; ``empty``: a method whose masks empty a layer."""
    exp = experiment()
    runs = {}
    for m in exp.methods:
        for d, shift in ((0.5, 0.1), (0.25, 0.0)):
            for s in SEEDS:
                runs[(m, "none", d, s)] = FakeRun(acc[m] + shift + 0.001 * s, dict(mask((empty or {}).get(m)).items()))
    return PaIResults(exp, SEEDS, tuple(imp_result(s) for s in SEEDS),
                      tuple(imp_result(s, rewound=True) for s in SEEDS), runs)


ACC = {"snip": 0.50, "grasp": 0.45, "synflow": 0.52, "random": 0.12, "random_erk": 0.40}


# ------------------------------------------------------------------------- section 3
def test_pai_results_read_accuracy_per_seed_and_density_beside_imp():
    r = pai_results(ACC)
    assert r.densities == [0.5, 0.25] and r.percents == [50.0, 25.0]
    assert r.acc("snip").shape == (8, 2)
    assert r.acc("snip")[3].tolist() == pytest.approx([0.603, 0.503])
    assert r.ticket()[0].tolist() == pytest.approx([0.8, 0.7])
    assert r.rewind()[0].tolist() == pytest.approx([0.82, 0.72])
    assert r.dense().tolist() == [0.9] * 8
    series = r.series()
    assert list(series)[:2] == ["IMP, rewound to k=10", "IMP ticket (k=0)"]
    assert list(series)[2:] == [METHOD_LABELS[m] for m in experiment().methods]
    assert "| IMP ticket (k=0) | 0.800 (0.800-0.800) | 0.700 (0.700-0.700) |" in r.table()


def test_pai_styles_use_the_method_colours_and_dash_the_random_baselines():
    styles = pai_results(ACC).styles()
    assert styles["IMP ticket (k=0)"]["color"] == kind_color("ticket")
    assert styles["IMP, rewound to k=10"]["color"] == pai_study.REWOUND_COLOR != kind_color("ticket")
    assert styles["SNIP"] == {"color": METHOD_COLORS["snip"]}
    assert styles["random (ERK)"] == {"color": METHOD_COLORS["random_erk"], "ls": "--"}
    assert SPARSE_COLORS["static"] == METHOD_COLORS["random_erk"]  # static sparse trains the random ERK mask


def test_the_reading_names_the_best_mean_tests_it_and_counts_collapsed_masks_near_chance():
    r = pai_results(ACC, empty={"random": "b"})
    text = r.reading(chance=0.1)
    assert "the highest mean accuracy of SNIP, GraSP and SynFlow is SynFlow's" in text
    assert "SynFlow is more accurate than SNIP, the next" in text  # +0.02 every seed
    gap = float(re.search(r"SNIP ([+-][0-9]+\.\d+), GraSP", text).group(1))
    assert gap == pytest.approx(0.72 - np.mean([0.50 + 0.001 * s for s in SEEDS]), abs=6e-4)  # rewind minus SNIP
    assert "random (uniform) at 25.0% (its mask empties a layer in 8 of 8 seeds)" in text
    assert r.collapsed("random", 1) == 8 and r.collapsed("snip", 1) == 0
    tie = pai_results({**ACC, "snip": 0.52})
    assert "not clearly more accurate than" in tie.reading(chance=0.1)
    assert "Within 5 points of chance" not in pai_results({**ACC, "random": 0.3}).reading(chance=0.1)


def test_agreement_is_iou_above_chance_per_seed_and_density():
    r = pai_results(ACC)
    agree = r.agreement()
    assert set(agree) == {METHOD_LABELS[m] for m in experiment().methods}
    # every mask here keeps the same two weights per layer as IMP's: IoU 1, minus chance
    assert agree["SNIP"].shape == (8, 2) and (agree["SNIP"] > 0.5).all()
    assert "the mask that agrees most with the IMP ticket's is" in r.agreement_reading()
    assert "a share of IMP's weights well above chance" in r.agreement_reading()


# ------------------------------------------------------------------------- section 4
def sanity_results() -> SanityResults:
    exp = experiment()
    imp = tuple(imp_result(s, controls={"random_mask": 0.55, "reinit": 0.6}) for s in SEEDS)
    accs = {"none": 0.5, "shuffle": 0.49, "reinit": 0.5, "invert": 0.1}
    runs = {(m, v, 0.25, s): FakeRun(a, dict(mask("a" if v == "invert" and m == "synflow" else None).items()))
            for m in exp.sanity_methods for v, a in accs.items() for s in SEEDS}
    return SanityResults(exp, SEEDS, imp, runs)


def test_sanity_reads_the_imp_controls_as_the_shuffle_and_reinit_checks():
    s = sanity_results()
    assert s.density == 0.25 and s.percent == 25.0
    assert s.imp_acc("none").tolist() == [0.7] * 8
    assert s.imp_acc("shuffle").tolist() == [0.55] * 8  # the random_mask control
    assert s.imp_acc("reinit").tolist() == [0.6] * 8
    assert s.drop("imp", "shuffle") == pytest.approx([0.15] * 8)
    assert s.drop("snip", "shuffle") == pytest.approx([0.01] * 8)
    bars = s.bars()
    assert list(bars) == ["IMP ticket", "SNIP", "SynFlow"]
    assert list(bars["IMP ticket"]) == ["as chosen", "shuffled within layers", "reinitialised"]
    assert list(bars["SNIP"]) == ["as chosen", "shuffled within layers", "reinitialised", "inverted scores"]
    assert s.collapsed("synflow", "invert") == 8 and s.collapsed("snip", "invert") == 0
    text = s.reading()
    assert "costs the IMP ticket +0.150" in text
    assert "SynFlow 0.100 (0.100-0.100) against 0.500 (0.500-0.500) as chosen (a layer emptied in 8 of 8" in text


# ------------------------------------------------------------------------- section 5
def collapse(emptied: dict, critical: dict | None = None) -> CollapseResults:
    methods = tuple(emptied)
    return CollapseResults(methods, (0.1, 0.01), {m: tuple(tuple(x) for x in v) for m, v in emptied.items()},
                           critical or {m: (None if m == "synflow" else 0.05) for m in methods},
                           SIZES, {"a": 0.3, "b": 0.1, "c": 0.2}, {"a": "layer A", "b": "layer B", "c": "layer C"})


def test_collapse_reading_follows_tanaka_for_the_largest_layer_and_magnitude():
    c = collapse({"snip": [(), ("b",)], "grasp": [("a",), ("a", "b")], "magnitude": [("b", "c"), ("b", "c")],
                  "synflow": [(), ()]})
    assert c.first("snip") == (0.01, ("b",)) and c.first("synflow") is None
    text = c.reading()
    assert "SNIP, GraSP and magnitude at init empty a layer; SynFlow keeps every layer." in text
    assert "The largest layer is layer B (12 of 22 weights)." in text
    assert "SNIP empties it as soon as it empties any layer" in text
    assert "GraSP empties other layers before it, unlike Tanaka" in text
    assert "Magnitude pruning first empties layer B, layer C: layer B has the smallest initial weights" in text
    table = c.markdown()
    assert "| SynFlow | - (iterative) | none | none |" in table
    assert "| SNIP | 5% | none | layer B |" in table


def test_collapse_reading_when_nothing_collapses():
    text = collapse({"snip": [(), ()], "synflow": [(), ("a",)]}).reading()
    assert "no one-shot method empties a layer; SynFlow empties one too." in text


def test_collapse_study_masks_a_real_network():
    from lthlib.data.datasets import load_dataset

    data = load_dataset("mnist1d", train_size=200, validation_size=100)
    model = build_model("mlp_mnist1d", (40,), 10, seed=0, hidden=(32, 16))
    names = list(prunable_parameters(model))
    words = dict(zip(names, ("h1", "h2", "out")))
    c = pai_study.collapse_study(model, data, ("snip", "synflow"), (0.001, 0.5), 0, words)
    assert c.densities == (0.5, 0.001)  # the mildest first
    assert c.critical["synflow"] is None and 0 < c.critical["snip"] <= 1
    assert c.emptied["snip"][0] == () and c.sizes[names[0]] == 40 * 32
    assert set(c.mean_abs_init) == set(names)


# ---------------------------------------------------------------------- the answer
def test_the_closing_answer_follows_every_verdict():
    holds = [claim("holds")] * 3
    survives = {"snip": [claim("contradicted"), claim("not shown")]}
    text = pai_study.answer(holds, holds, holds, claim("holds"), holds, survives, ("snip", "grasp", "synflow"), 5.2, 5.2)
    assert "SNIP: yes (*holds*); GraSP: yes (*holds*)" in text
    assert "SNIP: shuffled 1 point or more (*contradicted*), reinitialised not clearly under 1 point (*not shown*)" in text
    assert "a mask chosen before training does not replace IMP" in text
    assert "what IMP's mask carries beyond its per-layer densities, theirs carry less of" in text
    assert "Unlike the paper's \"same or higher\", shuffling within layers costs SNIP 1 point or more here" in text
    mixed = pai_study.answer([claim("holds"), claim("not shown"), claim("holds")], holds, holds, claim("holds"), holds,
                             survives, ("snip", "grasp", "synflow"), 5.2, 5.2)
    assert "GraSP: not clearly (*not shown*)" in mixed and "the seeds do not settle" in mixed
    kept = pai_study.answer(holds, holds, holds, claim("holds"), holds, {"snip": [claim("holds"), claim("holds")]},
                            ("snip", "grasp", "synflow"), 5.2, 5.2)
    assert "Unlike the paper" not in kept and "shuffled under 1 point (*holds*)" in kept
    fragile = pai_study.answer(holds, holds, holds, claim("holds"), [claim("holds", fragile="x")] * 3, survives,
                               ("snip", "grasp", "synflow"), 5.2, 5.2)
    assert "the seeds do not all say" in fragile  # a fragile verdict is no finding


# ------------------------------------------------------------------------- notebook 07
def sparse_results(acc: dict[str, float]) -> sparse_study.SparseResults:
    base = SparseTrainingSettings()
    densities = (0.5, 0.25)
    settings = {(m, d): base.replace(method=m, density=d) for m in ("static", "set", "rigl") for d in densities}
    runs = {(settings[(m, d)], s): FakeRun(acc[m] + (0.1 if d == 0.5 else 0.0) + 0.001 * s, dict(mask().items()))
            for m in ("static", "set", "rigl") for d in densities for s in SEEDS}
    pai_runs = {(m, "none", d, s): FakeRun(0.5) for m in sparse_study.PAI_COMPARED for d in densities for s in SEEDS}
    return sparse_study.SparseResults(SEEDS, densities, (1, 2), settings, runs,
                                      tuple(imp_result(s) for s in SEEDS), pai_runs)


def test_sparse_results_read_each_method_beside_the_ticket():
    r = sparse_results({"static": 0.4, "set": 0.5, "rigl": 0.5})
    assert r.acc("rigl")[2].tolist() == pytest.approx([0.602, 0.502])
    assert list(r.series()) == ["IMP ticket (k=0)", "static sparse (ERK)", "SET (ERK)", "RigL (ERK)", "SNIP", "SynFlow"]
    assert list(r.series(pai=False)) == ["IMP ticket (k=0)", "static sparse (ERK)", "SET (ERK)", "RigL (ERK)"]
    styles = r.styles()
    assert styles["static sparse (ERK)"] == {"color": SPARSE_COLORS["static"], "ls": "--"}
    assert styles["SNIP"] == {"color": METHOD_COLORS["snip"], "ls": ":"}
    assert r.colors()["IMP ticket (k=0)"] == kind_color("ticket")
    text = r.reading()
    assert "SET is above at every density" in text
    assert "The IMP ticket is above SET at every density" in text
    mixed = sparse_results({"static": 0.4, "set": 0.4, "rigl": 0.5}).reading()
    assert "SET is not clearly above at 50.0% and 25.0%" in mixed or "SET is not clearly above at every density" in mixed
    assert "| RigL (ERK) |" in r.table()


def test_costs_charge_imp_for_the_dense_run_and_every_round():
    r = sparse_results({"static": 0.4, "set": 0.5, "rigl": 0.5})
    model = torch.nn.Sequential()
    model.a, model.b, model.c = torch.nn.Linear(2, 3, bias=False), torch.nn.Linear(3, 4, bias=False), \
        torch.nn.Linear(4, 1, bias=False)
    # the fake masks' shapes are LAYERS' (not this model's): measure costs with masks of the model instead
    full = {n: torch.ones_like(p, dtype=torch.bool) for n, p in prunable_parameters(model).items()}
    for res in r.imp:
        for rnd in res.rounds:
            rnd.mask = Mask({n: t.clone() for n, t in full.items()})
    for run in r.runs.values():
        run.mask = {n: t.clone() for n, t in full.items()}
    imp_settings = SimpleNamespace(rewind_iteration=0)
    costs = r.costs(model, (2,), 10, 4, imp_settings)
    assert costs["IMP ticket (k=0)"] == pytest.approx([2.0, 3.0])  # dense + one / two rounds, every mask full
    assert costs["static sparse (ERK)"] == pytest.approx([1.0, 1.0])
    assert "the IMP ticket has paid 3.00 dense training runs" in r.cost_reading(costs)


def test_the_closing_answer_of_07_follows_every_verdict():
    r = sparse_results({"static": 0.4, "set": 0.5, "rigl": 0.49})
    relation = {"IMP ticket": [{"barrier": 0.1, "distance": 1.0}] * 8,
                "same mask, fresh weights": [{"barrier": 0.3, "distance": 1.2}] * 8}
    costs = {"IMP ticket (k=0)": [2.0, 2.5], "RigL (ERK)": [0.5, 0.25]}
    text = sparse_study.answer(claim("holds"), claim("holds"), claim("contradicted"), claim("holds"), r, relation,
                               costs, 3000, "mlp", "mnist1d")
    assert "the IMP ticket is **more accurate** (*holds*)" in text
    assert "RigL is **more than 1 point short** (*contradicted*)" in text
    assert "this run gives RigL the ticket's 1x, so it does not test them" in text
    assert "barrier is above notebook 05's 2-point threshold" in text and "not in its linearly connected region" in text
    assert "RigL, sparse from its first step, does not reach what the IMP ticket reaches" in text
    assert "for 10.0% of the multiply-adds" in text
    assert "at 25.0% -0.010 (0 of 8 seeds)" in text
    near = sparse_study.answer(claim("holds"), claim("not shown"), claim("holds"), claim("holds"), r, relation, costs,
                               3000, "mlp", "mnist1d")
    assert "It does so here without longer training." in near and ": moving the mask" not in near
