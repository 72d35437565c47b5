"""``lthlib.apps.reproduce``: every figure id at smoke scale (PNG, PDF, provenance), the list,
the estimate, and a paper-scale run without its dataset stopping before any training."""
from __future__ import annotations

import json
import re
from datetime import datetime

import matplotlib.pyplot as plt
import pytest

from lthlib.apps import reproduce as rp
from lthlib.apps.reproduce import registry
from lthlib.apps.reproduce import FIGURES, NO_PUBLISHED, main

# 1-2 seeds each (smoke caps at 2); instability reuses one seed of the rewinding sweep
SMOKE_SEEDS = {"frankle2020-instability": 1}
PROVENANCE_FIELDS = ("figure", "description", "paper", "paper_figure", "published_values", "scale", "seeds",
                     "settings", "lthlib_version", "git_commit", "git_dirty", "torch_version", "device", "threads",
                     "workers", "wall_time_s", "dataset", "data_files", "estimate", "command_line", "argv", "process_command_line",
                     "started_at", "finished_at", "results_dir", "files")


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    """Smoke runs are tiny: starting worker processes costs more than it saves (and the
    machine running the tests may be shared)."""
    monkeypatch.setenv("LTHLIB_WORKERS", "1")


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    """One results folder for the module: figures that share runs reuse them, as they would."""
    return tmp_path_factory.mktemp("results")


def _hours(text: str) -> float:
    match = re.search(r"time: about ([0-9.e+-]+) hours", text)
    assert match, f"no estimate in the output:\n{text}"
    return float(match.group(1))


@pytest.mark.parametrize("figure_id", list(FIGURES))
def test_every_figure_runs_at_smoke_scale_with_provenance(figure_id, store_dir, tmp_path, capsys):
    seeds = SMOKE_SEEDS.get(figure_id, 2)
    argv = [figure_id, "--scale", "smoke", "--seeds", str(seeds), "--out", str(tmp_path),
            "--results", str(store_dir), "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert _hours(out) > 0
    for suffix in (".png", ".pdf", ".provenance.json"):
        path = tmp_path / f"{figure_id}{suffix}"
        assert path.exists() and path.stat().st_size > 0, path
    assert (tmp_path / f"{figure_id}.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / f"{figure_id}.pdf").read_bytes()[:4] == b"%PDF"

    prov = json.loads((tmp_path / f"{figure_id}.provenance.json").read_text())
    missing = [f for f in PROVENANCE_FIELDS if f not in prov]
    assert not missing, missing
    assert prov["figure"] == figure_id and prov["scale"] == "smoke"
    assert prov["paper"] == FIGURES[figure_id].paper
    assert len(prov["seeds"]) == seeds
    assert prov["settings"] and prov["settings"]["seeds"] == prov["seeds"]
    assert prov["lthlib_version"] and prov["torch_version"]
    assert prov["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", prov["git_commit"])
    assert prov["device"] == "cpu" and prov["threads"] >= 1 and prov["workers"] >= 1
    assert prov["wall_time_s"] > 0
    assert prov["estimate"]["hours"] > 0 and prov["estimate"]["iterations"] > 0
    assert prov["estimate"]["disk_bytes"] > 0
    assert prov["dataset"]["name"] == "mnist1d"
    assert re.fullmatch(r"[0-9a-f]{64}", prov["dataset"]["sha256"])
    assert prov["argv"] == argv
    assert prov["command_line"].startswith("python -m lthlib reproduce " + figure_id) and prov["process_command_line"]
    start, end = (datetime.fromisoformat(prov[k]) for k in ("started_at", "finished_at"))
    assert start <= end
    # the stand-in is not the paper's network: no published value is drawn on it
    assert all(p["drawn"] is False for p in prov["published_values"])


def test_checksum_is_of_the_data_the_run_used(store_dir, tmp_path, capsys):
    import lthlib

    assert main(["zhou2019-supermask", "--scale", "smoke", "--seeds", "1", "--out", str(tmp_path),
                 "--results", str(store_dir), "--device", "cpu"]) == 0
    capsys.readouterr()
    prov = json.loads((tmp_path / "zhou2019-supermask.provenance.json").read_text())
    ts = lthlib.for_scale("smoke")
    data = lthlib.load_dataset(ts.dataset, train_size=ts.train_size, validation_size=ts.validation_size)
    assert prov["dataset"]["sha256"] == rp.dataset_checksum(data)["sha256"]
    assert prov["dataset"]["tensors"]["x_train"]["shape"] == [ts.train_size, 40]
    other = lthlib.load_dataset(ts.dataset, train_size=ts.train_size - 1)
    assert rp.dataset_checksum(other)["sha256"] != prov["dataset"]["sha256"]


def test_figure_run_returns_the_figure_from_the_store(store_dir):
    from matplotlib.figure import Figure as MplFigure

    from lthlib.core.store import Store

    fig = FIGURES["ramanujan2020-width"].run("smoke", 1, store=Store(store_dir), device="cpu")
    assert isinstance(fig, MplFigure) and fig.axes
    plt.close(fig)


def test_list_shows_every_id_one_line_each(capsys):
    assert main(["--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(FIGURES)
    for required in ("fc2019-fig3", "fc2019-conv", "frankle2020-instability", "frankle2020-rewinding",
                     "zhou2019-supermask", "ramanujan2020-width"):
        assert required in FIGURES


def test_paper_scale_without_the_dataset_stops_before_training(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "no-data"
    monkeypatch.setenv("LTHLIB_DATA_DIR", str(empty))
    results, out = tmp_path / "results", tmp_path / "out"
    code = main(["fc2019-fig3", "--scale", "paper", "--seeds", "1", "--no-download", "--out", str(out),
                 "--results", str(results)])
    captured = capsys.readouterr()
    assert code == 2
    assert _hours(captured.out) > 0  # the estimate comes first, and is a positive number
    assert "lenet300_100" in captured.out
    err = captured.err
    assert "'mnist'" in err and "nothing was trained" in err
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        assert name in err
    assert str(empty) in err and "data/README.md" in err
    assert not results.exists() or not any(results.iterdir())  # no run was stored
    assert not out.exists() or not any(out.glob("*.png"))


def test_paper_scale_asks_first_and_trains_nothing_when_declined(tmp_path, monkeypatch, capsys):
    """With its data present, a paper-scale run asks before training; "n" stops it."""
    import lthlib

    small = lthlib.load_dataset("mnist1d", train_size=200, validation_size=100)
    from lthlib.apps.reproduce import running

    monkeypatch.setattr(running, "load_data", lambda plan, device="auto", download=True: small)
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    results = tmp_path / "results"
    code = main(["fc2019-fig3", "--scale", "paper", "--seeds", "1", "--out", str(tmp_path / "out"),
                 "--results", str(results)])
    assert code == 1 and len(asked) == 1 and "hours" in asked[0]
    assert "not confirmed" in capsys.readouterr().err
    assert not results.exists() or not any(results.iterdir())


def test_bad_arguments_are_errors(capsys):
    for argv in (["no-such-figure"], ["fc2019-fig3", "--seeds", "0"], ["fc2019-fig3", "--seeds", "two"],
                 ["fc2019-fig3", "--scale", "huge"], []):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert "error:" in capsys.readouterr().err


def test_estimate_counts_the_iterations_the_library_trains(store_dir):
    """The estimate's iteration count equals what the runs stored by the smoke test trained."""
    from lthlib.core.store import Store
    from lthlib.experiments.imp import run_imp_seeds
    from lthlib.experiments.rewinding import run_rewind_sweep

    plan = FIGURES["fc2019-fig3"].make_plan("smoke", 2)
    (imp,) = plan.context["imps"]
    results = run_imp_seeds(imp, plan.seeds, store=Store(store_dir))  # stored by the smoke test
    trained = evaluated = 0
    for res in results:
        runs = [res.dense] + [run for r in res.rounds for run in (r.ticket, *r.controls.values())]
        trained += sum(run.iterations[-1] - run.iterations[0] for run in runs)
        evaluated += sum(len(run.iterations) for run in runs)  # one point of the curve per evaluation
    assert sum(w.iterations for w in plan.work) == trained
    assert sum(w.runs for w in plan.work) == len(plan.seeds) * (1 + 2 * imp.rounds)
    assert sum(w.evaluation_count() for w in plan.work) == evaluated

    rew = FIGURES["frankle2020-rewinding"].make_plan("smoke", 2)
    (exp,) = rew.context["experiments"]
    sweep = run_rewind_sweep(exp.imp, exp.ks, rew.seeds, store=Store(store_dir), control_ks=exp.control_ks)
    trained = evaluated = 0
    for k, results in sweep.items():
        for res in results:
            if k == exp.ks[0]:
                trained += res.dense.iterations[-1]  # one dense run per seed serves every k
                evaluated += len(res.dense.iterations)
            for r in res.rounds:
                for name, run in (("ticket", r.ticket), *r.controls.items()):
                    if not (k == 0 and name == "reinit_full"):  # at k = 0 the same run as "reinit"
                        trained += run.iterations[-1] - run.iterations[0]
                        evaluated += len(run.iterations)
    assert rew.work[0].iterations == trained
    assert rew.work[0].evaluation_count() == evaluated
    # the estimate prices both, and says so
    est = rp.estimate(plan, "cpu")
    assert est["evaluation_seconds"] > 0 and est["seconds"] == est["training_seconds"] + est["evaluation_seconds"]
    assert est["items"][0]["examples_per_evaluation"] == rp.evaluated_examples(plan.networks[0])


def test_published_values_are_cited_and_drawn_only_on_the_papers_network():
    for figure in FIGURES.values():
        assert "\n" not in figure.description and figure.paper and figure.cite and figure.default_seeds >= 1
        if figure.published:
            assert NO_PUBLISHED not in figure.description
        else:
            assert NO_PUBLISHED in figure.description
        for p in figure.published:
            assert p.citation and p.quote and p.label and isinstance(p.approximate, bool) and p.applies_to
    fig3 = FIGURES["fc2019-fig3"]
    for scale, expected in (("paper", len(fig3.published)), ("quick", 0)):
        _, ax = plt.subplots()
        assert len(rp.draw_published(ax, fig3.published, fig3.make_plan(scale, 1))) == expected
        plt.close("all")
    with pytest.raises(ValueError, match="citation"):
        rp.Published("a value", "", "a label", x=1.0)


def test_conv_values_go_on_their_own_networks_panels():
    """Frankle & Carbin's Section 3 numbers are per network: on Conv-4's panels only Conv-4's
    values are drawn, the speed-up on the early-stopping panel and the accuracy gain and the
    Pm > 2% statement on the accuracy panel; every value cites Section 3 and is a point of
    the paper's text (not read off a plot)."""
    conv = FIGURES["fc2019-conv"]
    plan = conv.make_plan("paper", 1)
    by_model = {ts.model: ts for ts in plan.networks}
    expected = {"conv2": (8.8, {4.6, 2.0}), "conv4": (9.2, {11.1, 2.0}), "conv6": (15.1, {26.4, 2.0})}
    for model, (speed_at, accuracy_at) in expected.items():
        _, ax = plt.subplots()
        got = rp.draw_published(ax, conv.published, plan, networks=[by_model[model]], panel="early_stop")
        assert [p.x for p in got] == [speed_at] and all(p.applies_to["model"] == model for p in got)
        got = rp.draw_published(ax, conv.published, plan, networks=[by_model[model]], panel="accuracy")
        assert {p.x for p in got} == accuracy_at
        plt.close("all")
    assert all("Section 3" in p.citation and not p.approximate and p.panel for p in conv.published)
    # the stand-in's panels get none
    quick = conv.make_plan("quick", 1)
    _, ax = plt.subplots()
    assert rp.draw_published(ax, conv.published, quick, networks=quick.networks) == []
    plt.close("all")
    with pytest.raises(ValueError, match="panel="):
        rp.Published("a value", "a citation", "a label", x=1.0, panel="nowhere")


def test_imp_figures_draw_early_stopping_above_accuracy(store_dir):
    """The paper's layout: per network, the early-stopping iteration on top and the test
    accuracy below; a value placed beyond the run's last round widens the axis to show it,
    and every value drawn on any panel is reported as drawn."""
    from dataclasses import replace

    from lthlib.apps.reproduce import Published, load_data
    from lthlib.core.store import Store

    values = (Published("q", "test", "fast here", x=21.0, panel="early_stop"),
              Published("q", "test", "accurate here", x=0.5, panel="accuracy"))
    figure = replace(FIGURES["fc2019-fig3"], published=values)
    plan = figure.make_plan("smoke", 1)
    fig, drawn = figure.draw(figure, plan, load_data(plan, "cpu"), Store(store_dir))
    top, bottom = fig.axes[:2]
    assert "early stopping" in top.get_ylabel() and "test accuracy" in bottom.get_ylabel()
    assert list(drawn) == list(values)
    assert [t.get_text() for t in top.get_legend().get_texts()].count("fast here") == 1
    assert "accurate here" not in [t.get_text() for t in top.get_legend().get_texts()]
    assert min(bottom.get_xlim()) <= 0.5  # 0.5% is in view
    plt.close(fig)


def test_paper_scale_plans_use_the_published_models():
    models = {fid: [ts.model for ts in FIGURES[fid].make_plan("paper", 1).networks] for fid in FIGURES}
    assert models["fc2019-fig3"] == ["lenet300_100"]
    assert models["fc2019-conv"] == ["conv2", "conv4", "conv6"]
    assert models["frankle2020-instability"] == ["resnet20", "vgg16"]
    assert models["frankle2020-rewinding"] == ["resnet20"]
    assert models["renda2020-retraining"] == ["resnet20"]  # in the authors' code and data
    assert models["ramanujan2020-width"] == ["conv4"]  # the authors' Conv4Wide, every layer scaled
    width = FIGURES["ramanujan2020-width"].make_plan("paper", 1)
    assert width.settings["widths"] == list(rp.PAPER_WIDTH_MULTIPLIERS) and width.data_settings.dataset == "cifar10"
    assert [w.settings.model_kwargs for w in width.work[::2]] == [{"width_mult": m} for m in rp.PAPER_WIDTH_MULTIPLIERS]
    datasets = {fid: FIGURES[fid].make_plan("paper", 1).data_settings.dataset for fid in FIGURES}
    assert datasets["fc2019-conv"] == datasets["frankle2020-rewinding"] == "cifar10"
    assert datasets["fc2019-fig3"] == "mnist"
    for fid in FIGURES:  # smoke and quick: the offline stand-in
        for scale in ("smoke", "quick"):
            assert FIGURES[fid].make_plan(scale, 1).data_settings.dataset == "mnist1d"


@pytest.mark.parametrize("figure_id", ["frankle2020-rewinding", "frankle2020-instability", "ramanujan2020-width",
                                       "renda2020-retraining"])
def test_published_values_are_overlaid_on_every_kind_of_figure(figure_id, store_dir):
    """A value that applies to the run is drawn on each panel and reported as drawn (these
    figures have no published values yet; this makes sure one entered later shows)."""
    from dataclasses import replace

    from lthlib.apps.reproduce import Published, load_data
    from lthlib.core.store import Store

    value = Published(quote="a test value", citation="test", label="test line", y=0.5)  # applies to any run
    figure = replace(FIGURES[figure_id], published=[value])
    plan = figure.make_plan("smoke", SMOKE_SEEDS.get(figure_id, 1))
    fig, drawn = figure.draw(figure, plan, load_data(plan, "cpu"), Store(store_dir))
    assert drawn == [value]
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends and all("test line" in [t.get_text() for t in leg.get_texts()] for leg in legends)
    plt.close(fig)


def test_the_paper_width_figure_draws_conv_nets_by_width_multiplier(tmp_path):
    """The paper-scale width figure's own plan, shortened to a few iterations on CIFAR-shaped
    random data: Conv-4 trained and as edge-popup supermasks at each multiplier, drawn
    against the multiplier."""
    import torch
    from dataclasses import replace

    from lthlib.core.store import Store
    from lthlib.data.datasets import Dataset

    figure = FIGURES["ramanujan2020-width"]
    plan = figure.make_plan("paper", 1)
    short = plan.context["train"].replace(iterations=4, eval_every=2, batch_size=8, validation_size=16)
    plan = replace(plan, context={**plan.context, "train": short, "widths": [0.25, 0.5]})
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 3, 32, 32, generator=g), torch.randint(0, 10, (96,), generator=g)
    data = Dataset("cifar10", x[:64], y[:64], x[64:80], y[64:80], x[80:], y[80:], 10, torch.zeros(3), torch.ones(3))
    fig, drawn = figure.draw(figure, plan, data, Store(tmp_path))
    ax = fig.axes[0]
    assert "width multiplier" in ax.get_xlabel() and "conv4 on cifar10" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == [
        "trained normally (every layer this wide)", "edge-popup on frozen random weights, 50% kept"]
    assert drawn == []
    plt.close(fig)


def test_the_retraining_estimate_counts_what_the_runs_train(store_dir):
    """renda2020-retraining: one dense run per seed shared by the three methods, then each
    method's ticket per round, trained from T - t to T: the plan counts exactly that."""
    from lthlib.core.store import Store

    figure = FIGURES["renda2020-retraining"]
    plan = figure.make_plan("smoke", 2)
    res = figure.runner(plan, rp.load_data(plan, "cpu"), Store(store_dir))
    trained = evaluated = 0
    for i in range(len(plan.seeds)):
        dense = res.runs["weight_rewinding"][i].dense
        trained, evaluated = trained + dense.iterations[-1], evaluated + len(dense.iterations)
        for method in res.experiment.methods:
            for rnd in res.runs[method][i].rounds:
                trained += rnd.ticket.iterations[-1] - rnd.ticket.iterations[0]
                evaluated += len(rnd.ticket.iterations)
    assert plan.work[0].iterations == trained and plan.work[0].evaluation_count() == evaluated
    assert plan.work[0].runs == len(plan.seeds) * (1 + 3 * res.experiment.imp.rounds)
    assert plan.settings["experiment"]["retrain_iterations"] == res.experiment.retrain_iterations


def test_the_paper_retraining_figure_draws_resnet20_beside_the_authors_values(tmp_path):
    """The paper-scale plan (ResNet-20 on CIFAR-10), shortened to a few iterations on
    CIFAR-shaped random data: the three methods against % of weights remaining, and the four
    values from the authors' released data drawn on it (they apply to ResNet-20 on CIFAR-10
    only), each cited."""
    import torch
    from dataclasses import replace

    from lthlib.core.store import Store
    from lthlib.data.datasets import Dataset
    from lthlib.experiments.retraining import RetrainingExperiment, claim_specs

    figure = FIGURES["renda2020-retraining"]
    plan = figure.make_plan("paper", 1)
    exp = plan.context["experiment"]
    short = exp.imp.train.replace(iterations=6, eval_every=3, batch_size=8, lr_milestones=(2, 4))
    small = RetrainingExperiment(exp.imp.replace(train=short, rounds=2, rewind_iteration=1), 5, claim_specs(2))
    plan = replace(plan, context={**plan.context, "experiment": small})
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(80, 3, 32, 32, generator=g), torch.randint(0, 10, (80,), generator=g)
    data = Dataset("cifar10", x[:64], y[:64], x[64:], y[64:], x[64:], y[64:], 10, torch.zeros(3), torch.ones(3))
    fig, drawn = figure.draw(figure, plan, data, Store(tmp_path))
    ax = fig.axes[0]
    assert "resnet20 on cifar10" in ax.get_title() and "percent of weights remaining" in ax.get_xlabel()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[1:4] == ["weight rewinding", "learning-rate rewinding", "fine-tuning"]
    assert list(drawn) == list(registry.RENDA2020_RESNET20) and all(p.label in texts for p in drawn)
    assert all("rewinding-iclr20-public" in p.citation and not p.approximate for p in drawn)
    plt.close(fig)
