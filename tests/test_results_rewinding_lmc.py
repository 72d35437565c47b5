"""The reads notebooks 03 and 05 and ``lthlib.apps.reproduce`` make of a rewinding sweep
(``rewinding.RewindSweep``) and of its instability (``lmc.SweepInstability``), on small hand-made
results in which every value says where it came from (network, k, round, seed), so a read
at the wrong k, round or seed, or in the wrong seed order, gives a visibly wrong number."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lthlib.engine.training import Run
from lthlib.experiments.imp import IMPResult, IMPRound, kind_label
from lthlib.experiments.lmc import STABLE_BARRIER, StabilityRow, StabilityTable, SweepInstability
from lthlib.experiments.rewinding import RewindSweep
from lthlib.masks import Mask
from lthlib.report.claims import spread

SEEDS = (7, 3, 5)  # not sorted: every read must keep this order
KS = (0, 1, 2)  # overlap the rounds' numbers, so swapping k and round reads another value
CONTROL_KS = (0, 2)
ROUNDS = 2
CONTROL_ROUND = 2
KIND_CODE = {"ticket": 1, "reinit": 2, "random_mask": 3}


def acc(kind: str, k: int, r: int, seed: int) -> float:
    """The accuracy planted for ``kind`` rewound to ``k`` at round ``r`` of ``seed``: its digits
    spell the arguments (kind, k, round, seed)."""
    return float(KIND_CODE[kind] * 1000 + k * 100 + r * 10 + seed)


def dense_acc(seed: int) -> float:
    return 90.0 + seed


def run(value: float) -> Run:
    return Run(settings={}, iterations=[0, 10], test_acc=[-1.0, value])  # final: the last value


def mask(kept: int) -> Mask:
    """``kept`` of 8 weights kept."""
    return Mask({"w": torch.arange(8) < kept})


def fake_sweep() -> RewindSweep:
    """Round 1 keeps 4 of 8 weights (50%), round 2 keeps 2 (25%); the controls are trained at
    ``CONTROL_KS`` in round ``CONTROL_ROUND`` only; one dense run per seed serves every k."""
    dense = {s: run(dense_acc(s)) for s in SEEDS}
    runs = {}
    for k in KS:
        runs[k] = []
        for s in SEEDS:
            rounds = []
            for r, kept in ((1, 4), (2, 2)):
                controls = ({c: run(acc(c, k, r, s)) for c in ("reinit", "random_mask")}
                            if k in CONTROL_KS and r == CONTROL_ROUND else {})
                rounds.append(IMPRound(r, mask(kept), run(acc("ticket", k, r, s)), controls))
            runs[k].append(IMPResult(None, dense[s], rounds))
    return RewindSweep(runs, SEEDS)


def test_sweep_is_a_mapping_of_k_to_results_in_seed_order():
    sweep = fake_sweep()
    assert list(sweep) == list(KS) and len(sweep) == 3 and sweep.ks == KS and 1 in sweep
    assert sweep.rounds == [1, 2]
    assert [res.dense.final() for res in sweep[1]] == [dense_acc(s) for s in SEEDS]
    assert dict(sweep.items()).keys() == set(KS)


def test_final_acc_reads_kind_k_round_in_that_order_one_value_per_seed():
    sweep = fake_sweep()
    got = sweep.final_acc("ticket", 1, 2)
    assert isinstance(got, np.ndarray) and got.tolist() == [1000 + 100 + 20 + s for s in SEEDS]
    assert sweep.final_acc("ticket", 2, 1).tolist() == [1000 + 200 + 10 + s for s in SEEDS]  # not the same read
    assert sweep.final_acc("reinit", 2, 2).tolist() == [acc("reinit", 2, 2, s) for s in SEEDS]
    assert sweep.final_acc("random_mask", 0, 2).tolist() == [acc("random_mask", 0, 2, s) for s in SEEDS]


def test_final_acc_of_a_control_is_nan_in_a_round_it_was_not_trained_and_refused_where_never():
    sweep = fake_sweep()
    assert all(math.isnan(v) for v in sweep.final_acc("reinit", 0, 1))
    with pytest.raises(KeyError):
        sweep.final_acc("reinit", 1, 2)  # k = 1 trained no controls


def test_round_zero_is_the_dense_network_for_every_kind_and_k():
    sweep = fake_sweep()
    dense = [dense_acc(s) for s in SEEDS]
    assert sweep.dense_final_acc().tolist() == dense
    for k in KS:
        assert sweep.final_acc("ticket", k, 0).tolist() == dense
    assert sweep.final_acc("reinit", 2, 0).tolist() == dense


def test_densities_are_percent_per_round_dense_first():
    assert fake_sweep().densities().tolist() == [100.0, 50.0, 25.0]


def test_the_reads_are_the_expressions_the_notebooks_used():
    """What notebooks 03 and 05 and reproduce computed before the reads moved here."""
    sweep = fake_sweep()
    assert np.array_equal(sweep.dense_final_acc(), np.array([res.metric("ticket", at="final")[0] for res in sweep[0]]))
    for kind, k, r in (("ticket", 1, 2), ("reinit", 0, 2), ("random_mask", 2, 2)):
        old = np.array([res.metric(kind, at="final")[r] for res in sweep[k]])
        assert np.array_equal(sweep.final_acc(kind, k, r), old)
    assert np.array_equal(sweep.densities(), 100 * np.mean([res.densities() for res in sweep[0]], axis=0))


def test_run_rewind_sweep_returns_a_sweep_in_the_seed_order_asked(mnist1d_small, tiny_settings, tmp_path):
    from lthlib.core.store import Store
    from lthlib.experiments.imp import IMPSettings
    from lthlib.experiments.rewinding import run_rewind_sweep

    settings = IMPSettings(tiny_settings, rounds=1, rewind_iteration=0, rate=0.5, controls=())
    sweep = run_rewind_sweep(settings, [0, 10], [1, 0], mnist1d_small, store=Store(tmp_path), workers=1)
    assert isinstance(sweep, RewindSweep) and sweep.seeds == (1, 0) and sweep.ks == (0, 10)
    assert [res.settings.train.seed for res in sweep[10]] == [1, 0]
    assert sweep.final_acc("ticket", 10, 1).tolist() == [res.rounds[0].ticket.final() for res in sweep[10]]
    assert sweep.dense_final_acc().tolist() == [res.dense.final() for res in sweep[0]]


def test_the_children_a_sweep_measured_are_read_back_not_trained(mnist1d_small, tiny_settings, tmp_path,
                                                                 monkeypatch):
    """``SweepInstability.children``: the pair whose path ``curve`` is (notebook 05 draws the
    loss plane through them), read from the store: the path between them is the measured
    one, bit for bit, and nothing is trained again."""
    import lthlib.experiments.lmc as lmc_module
    from lthlib.core.store import Store
    from lthlib.experiments.imp import IMPSettings
    from lthlib.experiments.lmc import interpolation_curve, measure_sweep_instability
    from lthlib.experiments.rewinding import run_rewind_sweep
    from lthlib.engine.training import model_for

    settings = IMPSettings(tiny_settings, rounds=1, rewind_iteration=0, rate=0.5, controls=())
    store = Store(tmp_path)
    sweep = run_rewind_sweep(settings, [0, 10], [0, 1], mnist1d_small, store=store, workers=1)
    inst = measure_sweep_instability(sweep, [0, 10], [], 1, mnist1d_small, store=store, points=5, workers=1)

    def no_training(*args, **kwargs):
        raise AssertionError("a measured child was trained again")

    monkeypatch.setattr(lmc_module, "train", no_training)
    for kind, r, k, seed in (("dense", 0, 0, 0), ("ticket", 1, 10, 1)):
        a, b = inst.children(kind, r, k, mnist1d_small, store, seed=seed)
        path = interpolation_curve(model_for(tiny_settings, mnist1d_small), a.final_state, b.final_state,
                                   mnist1d_small, 5, splits=("test",))
        assert path == inst.curve(kind, r, k, seed)
    with pytest.raises(ValueError, match="kind='reinit'"):
        inst.children("reinit", 1, 0, mnist1d_small, store)


# ----------------------------------------------------------------------- instability
def barrier(kind: str, r: int, k: int, seed: int) -> float:
    """The barrier planted for a case: small for the tickets at k = 2 (stable), large elsewhere."""
    base = 0.001 if kind == "ticket" and k == 2 else 0.1
    return base + {"dense": 0, "ticket": 1, "reinit": 2, "random_mask": 3}[kind] * 1e-4 + r * 1e-5 + seed * 1e-6


def curve(kind: str, r: int, k: int, seed: int) -> dict[str, list[float]]:
    b = barrier(kind, r, k, seed)
    return {"alpha": [0.0, 0.5, 1.0], "test_error": [0.1, 0.1 + b, 0.1], "train_error": [0.2, 0.2, 0.2]}


def fake_instability() -> SweepInstability:
    measured = {}
    for k in KS:
        for s in SEEDS:
            keys = [("dense", 0, k, s)] + [("ticket", r, k, s) for r in (1, 2)]
            if k in CONTROL_KS:
                keys += [(c, CONTROL_ROUND, k, s) for c in ("random_mask", "reinit")]
            for key in keys:
                measured[key] = {"k": k, "barrier": barrier(*key), "curve": curve(*key)}
    return SweepInstability(fake_sweep(), measured, KS, CONTROL_KS, CONTROL_ROUND)


def test_barriers_are_seeds_by_ks_in_seed_order():
    inst = fake_instability()
    got = inst.barriers("ticket", 1)
    assert got.shape == (3, 3)
    assert got.tolist() == [[barrier("ticket", 1, k, s) for k in KS] for s in SEEDS]
    assert inst.barriers("dense", 0, (2, 0)).tolist() == [[barrier("dense", 0, k, s) for k in (2, 0)] for s in SEEDS]


def test_a_controls_barriers_default_to_the_ks_it_was_measured_at():
    inst = fake_instability()
    assert inst.spawn_ks("reinit") == CONTROL_KS and inst.spawn_ks("ticket") == KS
    assert inst.barriers("reinit", CONTROL_ROUND).tolist() == [[barrier("reinit", 2, k, s) for k in CONTROL_KS]
                                                               for s in SEEDS]


def test_labels_name_the_network_and_its_density():
    inst = fake_instability()
    assert inst.label("dense", 0) == "dense network"
    assert inst.label("ticket", 1) == f"{kind_label('ticket')}, 50%" == "IMP ticket, 50%"
    assert inst.label("random_mask", 2) == f"{kind_label('random_mask')}, 25%"
    assert inst.density(2) == 25.0


def test_curves_default_to_the_first_seed_and_test_errors_are_seeds_by_points():
    inst = fake_instability()
    assert inst.curve("ticket", 2, 1) == curve("ticket", 2, 1, SEEDS[0])
    assert inst.curve("ticket", 2, 1, seed=5) == curve("ticket", 2, 1, 5)
    assert inst.test_errors("dense", 0, 2).tolist() == [curve("dense", 0, 2, s)["test_error"] for s in SEEDS]


def test_barrier_series_dense_then_tickets_by_round_then_controls():
    inst = fake_instability()
    series = inst.barrier_series()
    assert list(series) == ["dense network", "IMP ticket, 50%", "IMP ticket, 25%",
                            inst.label("random_mask", 2), inst.label("reinit", 2)]
    ks, values = series["IMP ticket, 25%"]
    assert ks == KS and np.array_equal(values, inst.barriers("ticket", 2))
    ks, values = series[inst.label("reinit", 2)]
    assert ks == CONTROL_KS and np.array_equal(values, inst.barriers("reinit", 2, CONTROL_KS))


def old_notebook_table(inst: SweepInstability) -> tuple[list[str], int, int, int, int, float]:
    """Notebook 05's stable/matching loop as it was before it moved into ``lmc`` (the reference),
    with the one definition of matching (Frankle et al. 2020): mean accuracy at most one standard
    deviation of the dense runs below the dense mean."""
    sweep, measured, seeds, spawn_ks, control_ks, r_claim = (inst.sweep, inst.measured, SEEDS, KS, CONTROL_KS,
                                                            CONTROL_ROUND)
    rounds = [1, 2]
    density = {r: 100 * np.mean([res.densities()[r] for res in sweep[0]]) for r in rounds}

    def label(kind, r):
        return "dense network" if kind == "dense" else f"{kind_label(kind)}, {density[r]:.0f}%"

    def final_acc(kind, r, k):
        return np.array([res.metric(kind, at="final")[r] for res in sweep[k]])

    dense_acc_ = np.array([res.metric("ticket", at="final")[0] for res in sweep[0]])
    tolerance = dense_acc_.std(ddof=1) if len(seeds) > 1 else 0.0
    rows = ["| network | k | barrier (points) | stable | accuracy - dense (points) | matching |",
            "|---|---|---|---|---|---|"]
    against = stable_only = matched = cells = 0
    for kind, r in [("ticket", r) for r in rounds] + [("random_mask", r_claim), ("reinit", r_claim)]:
        for k in (spawn_ks if kind == "ticket" else control_ks):
            b = np.array([measured[(kind, r, k, s)]["barrier"] for s in seeds])
            gap_ = final_acc(kind, r, k) - dense_acc_
            stable, matching = b.mean() < STABLE_BARRIER, gap_.mean() >= -tolerance
            against += matching and not stable
            stable_only += stable and not matching
            matched += matching
            cells += 1
            yes = lambda v: "yes" if v else "no"  # noqa: E731
            rows.append(f"| {label(kind, r)} | {k} | {spread(100 * b, '.1f')} | {yes(stable)} | "
                        f"{100 * gap_.mean():+.1f} | {yes(matching)} |")
    return rows, against, stable_only, matched, cells, tolerance


def matching_instability() -> SweepInstability:
    """The fake instability with accuracies near the dense network's: the ticket of round 1
    rewound to k = 2 is above the dense network (stable there), the round-2 ticket at k = 0 is
    below it by less than one standard deviation of the dense runs (unstable there): both are
    matching; every other network is more than one standard deviation below: not matching."""
    inst = fake_instability()
    for k in KS:
        for res, s in zip(inst.sweep[k], SEEDS):
            res.dense.test_acc[-1] = 0.90 + 0.01 * SEEDS.index(s)  # sd of the dense runs: 0.01
            for r, round_ in enumerate(res.rounds, 1):
                near = {(1, 2): 0.0105, (2, 0): -0.006}.get((r, k), -0.05)
                round_.ticket.test_acc[-1] = res.dense.test_acc[-1] + near
                for run_ in round_.controls.values():
                    run_.test_acc[-1] = res.dense.test_acc[-1] - 0.05
    return inst


def test_stable_matching_is_the_notebooks_table_row_by_row():
    for inst in (fake_instability(), matching_instability()):
        table = inst.stable_matching()
        rows, against, stable_only, matched, cells, tolerance = old_notebook_table(inst)
        assert table.markdown() == "\n".join(rows)
        assert (table.against, table.stable_only, table.matched, len(table.rows)) == (against, stable_only,
                                                                                     matched, cells)
        assert table.tolerance == tolerance


def test_stable_matching_rows_and_counts():
    table = matching_instability().stable_matching()
    assert [(row.kind, row.round, row.k) for row in table.rows] == (
        [("ticket", 1, k) for k in KS] + [("ticket", 2, k) for k in KS]
        + [("random_mask", 2, k) for k in CONTROL_KS] + [("reinit", 2, k) for k in CONTROL_KS])
    by_key = {(row.kind, row.round, row.k): row for row in table.rows}
    assert by_key[("ticket", 1, 2)].stable and by_key[("ticket", 1, 2)].matching
    assert not by_key[("ticket", 2, 0)].stable and by_key[("ticket", 2, 0)].matching  # 0.6 sd below: matching
    assert not by_key[("ticket", 1, 0)].matching  # 5 sd below
    assert by_key[("reinit", 2, 0)].barriers.tolist() == [barrier("reinit", 2, 0, s) for s in SEEDS]
    assert table.against == 1  # the round-2 ticket at k = 0
    assert table.matched == 2
    assert table.stable_only == 1  # the round-2 ticket at k = 2
    assert table.tolerance == pytest.approx(0.01)


def test_matching_is_within_one_standard_deviation_of_the_dense_runs():
    """The one definition (Frankle et al. 2020): mean accuracy not more than one standard
    deviation (ddof=1) of the dense runs below the dense mean; above the dense network is matching."""
    from lthlib.experiments.matching import is_matching, matching_tolerance

    dense = [0.90, 0.91, 0.92]  # mean 0.91, sd 0.01
    assert matching_tolerance(dense) == pytest.approx(0.01)
    assert matching_tolerance([0.9]) == 0.0  # one run: no spread, no tolerance
    assert is_matching([0.95, 0.96, 0.97], dense)  # above the dense network
    assert is_matching([0.9005, 0.9005, 0.9005], dense)  # 0.95 sd below
    assert not is_matching([0.899, 0.899, 0.899], dense)  # 1.1 sd below
    sweep = fake_sweep()
    assert sweep.matching_tolerance() == pytest.approx(matching_tolerance(sweep.dense_final_acc()))


def test_link_words_follow_the_counts():
    def table(*flags: tuple[bool, bool]) -> StabilityTable:
        rows = [StabilityRow("ticket", 1, k, "IMP ticket, 50%", np.zeros(2), np.zeros(2), *f)
                for k, f in enumerate(flags)]
        return StabilityTable(rows, np.zeros(2), 0.0)

    assert table((True, False), (False, False)).link_words().startswith("no row of the table is matching")
    assert table((True, True), (False, False)).link_words() == (
        "1 of 2 rows are matching and none of them is unstable: this run does not go against the paper's link")
    assert table((False, True), (True, True)).link_words() == (
        "1 of 2 rows are matching without being stable: in those rows this scale does not reproduce the "
        "paper's link")


def test_measure_sweep_instability_measures_the_sweeps_cases(monkeypatch):
    from lthlib.experiments import lmc

    sweep, seen = fake_sweep(), {}

    def cases(sweep_, seeds, ks, rounds, control_ks, control_round, data):
        seen["cases"] = (sweep_, seeds, ks, rounds, control_ks, control_round, data)
        return {"a case": None}

    def measure(cases_, data, *, store=None, points=30, workers=None):
        seen["measure"] = (cases_, data, store, points, workers)
        return {"a case": {"barrier": 0.0}}

    monkeypatch.setattr(lmc, "instability_cases", cases)
    monkeypatch.setattr(lmc, "measure_instability", measure)
    inst = lmc.measure_sweep_instability(sweep, [0, 2], [2], 2, "data", store="store", points=7)
    assert seen["cases"] == (sweep, SEEDS, (0, 2), [1, 2], (2,), 2, "data")
    assert seen["measure"] == ({"a case": None}, "data", "store", 7, None)
    assert (inst.sweep, inst.measured, inst.ks, inst.control_ks, inst.control_round) == (
        sweep, {"a case": {"barrier": 0.0}}, (0, 2), (2,), 2)
    assert inst.seeds == SEEDS
