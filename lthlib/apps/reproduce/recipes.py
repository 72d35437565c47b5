"""The recipes: for each paper's figure, its plan at a scale, the runs it needs (through
the library's own runners, reusing the store) and its drawing."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from lthlib.data.datasets import Dataset
from lthlib.settings import SettingsError, TrainSettings, for_scale
# notebook 04's values, read from the module that owns them (the width study's fraction
# kept; Zhou et al.'s criteria, fractions kept per layer at smoke and quick, starts)
from lthlib.apps.reproduce.figures import Figure, INTERPOLATION_POINTS, MAX_REWIND_PANELS, PAPER_WIDTH_MODEL, PAPER_WIDTH_MULTIPLIERS, Plan, Published, Work, draw_published, imp_iterations, overlay_each_axis, panel_title, records, sweep_iterations, union
from lthlib.experiments.supermask_study import WIDTH_STUDY_DENSITY, WIDTHS, ZHOU_CRITERIA, ZHOU_DENSITIES, ZHOU_STARTS

if TYPE_CHECKING:
    from lthlib.experiments.rewinding import RewindSweep

# ------------------------------------------------------------------ IMP: Frankle & Carbin
def imp_plan(figure: str, models: Sequence[str | None], scale: str, n: int) -> Plan:
    from lthlib.experiments.imp import imp_for_scale

    seeds = list(range(n))
    imps = []
    for model in models:
        ts = for_scale(scale, model=model)
        imps.append(imp_for_scale(scale, ts, controls=("reinit",)))
    work = []
    for imp in imps:
        its, runs, evals = imp_iterations(imp)
        work.append(Work(imp.train, its * n, runs * n, evaluations=evals * n))
    return Plan(figure, scale, seeds, imps[0].train, [imp.train for imp in imps], work,
                {"imp": [imp.to_dict() for imp in imps], "seeds": seeds, "metric": "test_acc at early stopping",
                 "kinds": ["ticket", "reinit"]},
                {"imps": imps})


def imp_runs(plan: Plan, data: Dataset, store) -> list[list[Any]]:
    """Per network of the plan, its IMP run of each seed (``[[IMPResult per seed] per network]``)."""
    from lthlib.experiments.imp import run_imp_seeds

    return [run_imp_seeds(imp, plan.seeds, data, store=store) for imp in plan.context["imps"]]


def imp_parts(plan: Plan) -> list[str]:
    """An IMP figure's parts: one per network (Conv-2, Conv-4 and Conv-6 are independent)."""
    return [imp.train.model for imp in plan.context["imps"]]


def imp_part_plan(plan: Plan, part: str) -> Plan:
    """``plan`` restricted to one network (``imp_parts``)."""
    imps = [imp for imp in plan.context["imps"] if imp.train.model == part]
    if not imps:
        raise SettingsError(f"{plan.figure}: no part {part!r}; its parts are {imp_parts(plan)}")
    return replace(plan, networks=[imps[0].train], context={**plan.context, "imps": imps},
                   settings={**plan.settings, "part": part})


def imp_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    """The paper's layout (Frankle & Carbin 2019, Figures 4a and 5): per network, the
    iteration of early stopping (top) and test accuracy at that iteration (bottom) against
    % of weights remaining, winning tickets beside random reinitialisation."""
    import matplotlib.pyplot as plt

    from lthlib.experiments.imp import kind_color, kind_label
    from lthlib.report import plots

    imps = plan.context["imps"]
    runs = imp_runs(plan, data, store)
    fig, axes = plt.subplots(2, len(imps), figsize=(8.6 * len(imps), 7.8), squeeze=False)
    drawn: list[Published] = []
    kinds = ("ticket", "reinit")
    styles = {kind_label(k): {"color": kind_color(k)} for k in kinds}
    for i, (imp, results) in enumerate(zip(imps, runs)):
        percents = 100 * np.mean([r.densities() for r in results], axis=0)
        title = panel_title(imp.train)
        stops = {kind_label(k): np.array([[np.nan if v is None else v for v in r.early_stop_iterations(k)]
                                          for r in results], dtype=float) for k in kinds}
        accuracy = {kind_label(k): np.array([r.metric(k, "test_acc") for r in results]) for k in kinds}
        dense_stop = float(np.mean([r.early_stop_iterations("ticket")[0] for r in results]))
        dense_acc = float(np.mean([r.metric("ticket", "test_acc")[0] for r in results]))
        dense_label = "dense network (100%), mean over seeds"
        # early stopping can come no later than the last iteration: a line there shows runs whose
        # validation loss still fell at the end (a short run's early stopping says little)
        panels = ((axes[0][i], "early_stop", stops, "iteration of early stopping\n(minimum validation loss)",
                   {dense_label: dense_stop, f"end of training (iteration {imp.train.iterations:,})":
                    imp.train.iterations}),
                  (axes[1][i], "accuracy", accuracy, "test accuracy at early stopping", {dense_label: dense_acc}))
        for ax, panel, series, ylabel, references in panels:
            got = draw_published(ax, figure.published, plan, 0, networks=[imp.train], panel=panel)
            drawn = union(drawn, got)
            plots.seed_bands(percents, series, "percent of weights remaining", ylabel, title, ax=ax, percent_x=True,
                             references=references, styles=styles)
            # a published Pm beyond the run's last round stays in view
            plots.percent_axis(ax, [*percents, *(p.x for p in got if p.x is not None)])
    fig.tight_layout()
    return fig, drawn


# ------------------------------------------------------------ rewinding: Frankle et al. 2020
def _rewinding_models(scale: str, models: Sequence[str]) -> list[str | None]:
    return list(models) if scale == "paper" else [None]


def rewinding_plan(figure: str, paper_models: Sequence[str], scale: str, n: int,
                    instability: bool = False) -> Plan:
    from lthlib.experiments.rewinding import rewinding_for_scale

    experiments = [rewinding_for_scale(scale, model=m) for m in _rewinding_models(scale, paper_models)]
    seeds = experiments[0].seeds(n)
    work, described = [], []
    for exp in experiments:
        imp, T = exp.imp, exp.imp.train.iterations
        its, runs, evals = sweep_iterations(imp, exp.ks, exp.control_ks)
        if instability:  # two children per case, each trained from k to T
            for k in exp.ks:
                cases = 1 + imp.rounds + (2 if k in exp.control_ks else 0)
                its, runs = its + cases * 2 * (T - k), runs + cases * 2
                evals += cases * 2 * records(T, k, imp.train.eval_every)
        work.append(Work(imp.train, its * n, runs * n, evaluations=evals * n))
        described.append({"imp": imp.to_dict(), "ks": list(exp.ks), "control_ks": list(exp.control_ks),
                          "claim_k": exp.claim_k, "claim_round": exp.claim_round, "first_seed": exp.first_seed})
    settings: dict[str, Any] = {"experiments": described, "seeds": seeds}
    if instability:
        settings.update(interpolation_points=INTERPOLATION_POINTS[scale], metric="test error barrier",
                        children="two copies of the parent at k, differing only in data order (stream 'child')")
    else:
        settings.update(metric="test_acc at the end of training")
    return Plan(figure, scale, seeds, experiments[0].imp.train, [e.imp.train for e in experiments], work,
                settings, {"experiments": experiments})


CONTROL_NAMES = {"reinit": "random reinit, trained from k", "reinit_full": "random reinit, trained all T",
                 "random_mask": "random pruning, trained from k"}  # notebook 03's words


def _rewind_rounds(rounds: int, claim_round: int) -> list[int]:
    """The pruning rounds drawn as panels: the middle one, the claim's and the last (at most 3)."""
    return sorted({max(1, rounds // 2), claim_round, rounds})[-MAX_REWIND_PANELS:]


def rewinding_runs(plan: Plan, data: Dataset, store) -> list[RewindSweep]:
    """Per experiment of the plan, its rewinding sweep (``rewinding.RewindSweep``: ``{k: [IMPResult per seed]}``)."""
    from lthlib.experiments.rewinding import run_rewind_sweep

    return [run_rewind_sweep(exp.imp, exp.ks, plan.seeds, data, store=store, control_ks=exp.control_ks)
            for exp in plan.context["experiments"]]


def rewinding_parts(plan: Plan) -> list[str]:
    """A rewinding sweep's parts: one per network and rewind point k ("resnet20 k=500"). Given
    the seed's dense run, IMP rewound to one k is independent of IMP rewound to another."""
    return [f"{exp.imp.train.model} k={k}" for exp in plan.context["experiments"] for k in exp.ks]


def rewinding_part_plan(plan: Plan, part: str) -> Plan:
    """``plan`` restricted to one part (``rewinding_parts``): one network, one k, the
    controls only if that k trains them."""
    for exp in plan.context["experiments"]:
        for k in exp.ks:
            if part == f"{exp.imp.train.model} k={k}":
                one = replace(exp, ks=(k,), control_ks=tuple(c for c in exp.control_ks if c == k))
                return replace(plan, context={**plan.context, "experiments": [one]},
                               settings={**plan.settings, "part": part})
    raise SettingsError(f"{plan.figure}: no part {part!r}; its parts are {rewinding_parts(plan)}")


def rewinding_prepare(plan: Plan, data: Dataset, store) -> None:
    """What every part of a seed shares: each network's dense run, with its weights at every
    rewind point (``training.dense_run``), stored before the parts start (a part that found
    it missing, or lacking its k, would train it again)."""
    from lthlib.engine.training import dense_run

    for exp in plan.context["experiments"]:
        for seed in plan.seeds:
            dense_run(exp.imp.with_seed(seed).train, data, store=store, save_weights_at=exp.ks)


def rewinding_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    import matplotlib.pyplot as plt

    from lthlib.report import plots

    experiments = plan.context["experiments"]
    panels = [(exp, r) for exp in experiments for r in _rewind_rounds(exp.imp.rounds, exp.claim_round)]
    fig, axes = plt.subplots(1, len(panels), figsize=(7.4 * len(panels), 4.2), squeeze=False)
    sweeps = {id(exp): sweep for exp, sweep in zip(experiments, rewinding_runs(plan, data, store))}
    for ax, (exp, r) in zip(axes[0], panels):
        sweep, imp = sweeps[id(exp)], exp.imp
        plots.rewinding_vs_k(exp.ks, np.array([sweep.final_acc("ticket", k, r) for k in exp.ks]).T,
                             {CONTROL_NAMES.get(c, c): (exp.control_ks,
                                                        np.array([sweep.final_acc(c, k, r) for k in exp.control_ks]).T)
                              for c in imp.controls_at(r)},
                             sweep.dense_final_acc(), "test accuracy (end of training)",
                             f"{panel_title(imp.train)}, {sweep.densities()[r]:.1f}% of weights remaining", ax=ax)
    drawn = overlay_each_axis(list(axes[0]), figure, plan)
    fig.tight_layout()
    return fig, drawn


def _instability_cases(plan: Plan, data: Dataset, store) -> list[tuple[Any, dict[int, list[Any]], dict]]:
    """Per experiment of the plan: (experiment, its rewinding sweep, the instability cases
    ``{(kind, round, k, seed): (settings, parent at k, k, mask)}``, ``lmc.instability_cases``)."""
    from lthlib.experiments.lmc import instability_cases
    from lthlib.experiments.rewinding import run_rewind_sweep

    out = []
    for exp in plan.context["experiments"]:
        imp, r_claim, ks = exp.imp, exp.claim_round, tuple(exp.ks)
        control_ks = tuple(k for k in exp.control_ks if k in ks)
        sweep = run_rewind_sweep(imp, ks, plan.seeds, data, store=store, control_ks=control_ks)
        rounds = list(range(1, imp.rounds + 1))
        cases = instability_cases(sweep, plan.seeds, ks, rounds, control_ks, r_claim, data)
        out.append((exp, sweep, cases))
    return out


def instability_runs(plan: Plan, data: Dataset, store) -> None:
    """Every run the instability figure needs: the rewinding sweeps, then the two children
    of every case (stored; the paths between them are evaluated when the figure is drawn)."""
    from lthlib.experiments.lmc import measure_instability

    for _, _, cases in _instability_cases(plan, data, store):
        if store.root is not None:  # train and store the children; the curves are drawn later
            from lthlib.experiments.lmc import train_children_of

            train_children_of(cases, data, store)
        else:  # nothing would be kept: measuring is the only way to train them
            measure_instability(cases, data, store=store, points=INTERPOLATION_POINTS[plan.scale])


def instability_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    import matplotlib.pyplot as plt

    from lthlib.experiments.imp import kind_label
    from lthlib.experiments.lmc import STABLE_BARRIER, measure_instability
    from lthlib.report import plots

    experiments = _instability_cases(plan, data, store)
    fig, axes = plt.subplots(1, len(experiments), figsize=(8.4 * len(experiments), 4.2), squeeze=False)
    for ax, (exp, sweep, cases) in zip(axes[0], experiments):
        imp, r_claim, ks = exp.imp, exp.claim_round, tuple(exp.ks)
        control_ks = tuple(k for k in exp.control_ks if k in ks)
        rounds = list(range(1, imp.rounds + 1))
        density = {r: 100 * np.mean([res.densities()[r] for res in sweep[ks[0]]]) for r in rounds}
        measured = measure_instability(cases, data, store=store, points=INTERPOLATION_POINTS[plan.scale])

        def barriers(kind: str, r: int, at: Sequence[int]) -> np.ndarray:
            return np.array([[measured[(kind, r, k, s)]["barrier"] for k in at] for s in plan.seeds])

        series = {"dense network": (ks, barriers("dense", 0, ks))}
        series.update({f"{kind_label('ticket')}, {density[r]:.1f}%": (ks, barriers("ticket", r, ks)) for r in rounds})
        if control_ks:
            series.update({f"{kind_label(c)}, {density[r_claim]:.1f}%": (control_ks, barriers(c, r_claim, control_ks))
                           for c in ("random_mask", "reinit")})
        plots.barrier_vs_k(series, STABLE_BARRIER, ax=ax)
        ax.set_title(f"instability to SGD noise: {panel_title(imp.train)}", fontsize=10)
    drawn = overlay_each_axis(fig.axes, figure, plan)
    fig.tight_layout()
    return fig, drawn


# --------------------------------------------------------------- supermasks: Zhou, Ramanujan
def zhou_plan(figure: str, scale: str, n: int) -> Plan:
    ts = for_scale(scale, model="lenet300_100" if scale == "paper" else None)
    seeds = list(range(n))
    return Plan(figure, scale, seeds, ts, [ts], [Work(ts, ts.iterations * n, n)],
                {"train": ts.to_dict(), "seeds": seeds, "criteria": list(ZHOU_CRITERIA),
                 "densities": list(ZHOU_DENSITIES) if scale != "paper" else
                 "per layer: 0.8^p hidden, 0.9^p output, p = 0..24 (Zhou et al.'s README command)",
                 "starts": list(ZHOU_STARTS),
                 "metric": "test accuracy of the masked network, untrained",
                 "mask_from": "the dense run of each seed: its weights at iteration 0 and at the end"},
                {"train": ts})


def _zhou_densities(scale: str, ts: TrainSettings, data: Dataset) -> tuple[list[Any], list[float], str]:
    """The masks' fractions kept, the fraction of all prunable weights each keeps (the x
    axis) and its label. Paper: Zhou et al.'s per-layer rule (``supermask.ZHOU_POWERS``,
    hidden 0.8^p, output 0.9^p); smoke and quick: one fraction in every layer."""
    if scale != "paper":
        return list(ZHOU_DENSITIES), list(ZHOU_DENSITIES), "percent of weights kept per layer (log scale)"
    from lthlib.engine.training import model_for
    from lthlib.methods.supermask import ZHOU_POWERS, zhou_layer_densities
    from lthlib.models.networks import prunable_parameters

    sizes = {n: p.numel() for n, p in prunable_parameters(model_for(ts, data)).items()}
    maps = [zhou_layer_densities(list(sizes), p) for p in ZHOU_POWERS]
    kept = [sum(m[n] * sizes[n] for n in sizes) / sum(sizes.values()) for m in maps]
    return maps, kept, "percent of all weights kept: 0.8^p per hidden layer, 0.9^p output (log scale)"


def zhou_runs(plan: Plan, data: Dataset, store) -> dict[int, Any]:
    """The dense run of each seed (``{seed: Run}``): the masks are scored from them, untrained."""
    from lthlib.experiments.supermask_study import dense_by_seed

    return dense_by_seed(plan.context["train"], data, plan.seeds, store)


def zhou_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    from lthlib.experiments.supermask_results import untrained_study
    from lthlib.report import plots

    ts = plan.context["train"]
    dense = zhou_runs(plan, data, store)
    densities, kept, xlabel = _zhou_densities(plan.scale, ts, data)
    untrained = untrained_study(ts, data, dense, plan.seeds, ZHOU_CRITERIA, ZHOU_STARTS, densities)
    fig = plots.criteria_panels(kept, untrained.panels(), "test accuracy, untrained", chance=1 / data.num_classes,
                                xlabel=xlabel)
    drawn: list[Published] = []
    for i, ax in enumerate(fig.axes):
        drawn = union(drawn, draw_published(ax, figure.published, plan, i))
    if drawn:  # the shared legend again, now with the published lines
        old = fig.legends[0]
        title = old.get_title().get_text()
        old.remove()
        handles, labels = fig.axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False,
                   title=title, title_fontsize=8, alignment="left")
    for ax in fig.axes:
        ax.set_title(f"{panel_title(ts)}: {ax.get_title()}", fontsize=9)
    return fig, drawn


def width_plan(figure: str, scale: str, n: int) -> Plan:
    """Smoke and quick: notebook 04's MLPs on MNIST-1D, 2 hidden layers of each width. Paper:
    Conv-4 on CIFAR-10 with every layer scaled by each multiplier (the authors' Conv4Wide)."""
    from lthlib.experiments.supermask_study import width_kwargs
    from lthlib.methods.supermask import supermask_settings

    if scale == "paper":
        ts, widths, layers = for_scale(scale, model=PAPER_WIDTH_MODEL), list(PAPER_WIDTH_MULTIPLIERS), 0
    else:
        ts, widths, layers = for_scale(scale), [int(w) for w in WIDTHS[scale]], 2
    seeds = list(range(n))
    work = []
    for w in widths:
        wide = ts.replace(model_kwargs=width_kwargs(ts.model, w, layers))
        work += [Work(wide, wide.iterations * n, n), Work(wide, wide.iterations * n, n, method="edge_popup")]
    return Plan(figure, scale, seeds, ts, [ts], work,
                {"train": ts.to_dict(), "seeds": seeds, "widths": widths,
                 "width_means": "hidden units of each of 2 layers" if layers else "width_mult of every layer",
                 "hidden_layers": layers, "density": WIDTH_STUDY_DENSITY, "frozen_weights": "signed_constant",
                 "edge_popup_train": supermask_settings(ts, "edge_popup").to_dict(),
                 "metric": "test_acc at early stopping"},
                {"train": ts, "widths": widths, "layers": layers})


def width_runs(plan: Plan, data: Dataset, store) -> dict[tuple[str, int, Any, int], Any]:
    """Per width and seed, the network trained and its edge-popup supermask (``strong_ticket_study``)."""
    from lthlib.experiments.supermask_study import strong_ticket_study

    layers = (plan.context["layers"],)
    return strong_ticket_study(plan.context["train"], data, plan.context["widths"], plan.seeds, store,
                               trained_layers=layers, random_layers=layers, density=WIDTH_STUDY_DENSITY)


def width_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    from lthlib.report import plots

    ts, widths, layers = plan.context["train"], plan.context["widths"], plan.context["layers"]
    strong = width_runs(plan, data, store)
    key_w = [int(w) if layers else float(w) for w in widths]

    def acc(method: str) -> np.ndarray:
        return np.array([[strong[(method, layers, w, s)].at_early_stop("test_acc") for w in key_w]
                         for s in plan.seeds])

    if layers:
        trained, xlabel = f"trained normally ({layers} hidden layers of this width)", \
            "width of every hidden layer (log scale)"
    else:
        trained, xlabel = "trained normally (every layer this wide)", \
            "width multiplier of every layer, 1 = the published network (log scale)"
    popup = f"edge-popup on frozen random weights, {WIDTH_STUDY_DENSITY:.0%} kept"
    fig = plots.seed_bands(widths, {trained: acc("trained"), popup: acc("edge_popup")},
                           xlabel, "test accuracy at early stopping",
                           f"{panel_title(ts)}: strong tickets against trained networks, width by width",
                           references={"chance": 1 / data.num_classes}, logx=True, styles={trained: {"color": "k"}})
    drawn = overlay_each_axis(fig.axes, figure, plan)
    fig.tight_layout()
    return fig, drawn


# ------------------------------------------------------- retraining: Renda et al. 2020
def retraining_plan(figure: str, scale: str, n: int) -> Plan:
    from lthlib.experiments.retraining import retraining_for_scale

    exp = retraining_for_scale(scale)
    imp, T, t = exp.imp, exp.imp.train.iterations, exp.retrain_iterations
    seeds = exp.seeds(n)
    e, k = imp.train.eval_every, imp.rewind_iteration
    # per seed: one dense run shared by the methods, then each method's ticket per round (t iterations)
    its = T + len(exp.methods) * imp.rounds * t
    runs = 1 + len(exp.methods) * imp.rounds
    evals = records(T, 0, e) + len(exp.methods) * imp.rounds * records(T, k, e)
    settings = {"experiment": {"imp": imp.to_dict(), "retrain_iterations": t, "methods": list(exp.methods),
                               "claims": [{"statement": c.statement, "better": c.better, "worse": c.worse,
                                           "round": c.round, "margin": c.margin, "role": c.role}
                                          for c in exp.claims], "first_seed": exp.first_seed},
                "seeds": seeds, "metric": "test_acc at the end of retraining"}
    return Plan(figure, scale, seeds, imp.train, [imp.train], [Work(imp.train, its * n, runs * n, evaluations=evals * n)],
                settings, {"experiment": exp})


def retraining_runs(plan: Plan, data: Dataset, store) -> Any:
    """Every method's IMP run for each seed of the plan (``retraining.run_retraining``)."""
    from lthlib.experiments.retraining import run_retraining

    return run_retraining(plan.context["experiment"], plan.seeds, data, store=store)


def retraining_draw(figure: "Figure", plan: Plan, data: Dataset, store) -> tuple[Any, list[Published]]:
    """Test accuracy at the end of retraining against % of weights remaining, one line per
    way of retraining (the same budget t for each), beside the dense network."""
    from lthlib.report import plots

    res = retraining_runs(plan, data, store)
    exp = res.experiment
    ts = exp.imp.train
    fig = plots.retraining_curves(res, f"{panel_title(ts)}: iterative pruning, every method retrained "
                                       f"t = {exp.retrain_iterations:,} of T = {ts.iterations:,} iterations")
    drawn = overlay_each_axis(fig.axes, figure, plan)
    fig.tight_layout()
    return fig, drawn
