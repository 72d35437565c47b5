"""``test_curve=False``: the test set measured at early stopping and at the end only, on
the weights of the early-stopping evaluation, giving the numbers a test curve gives there."""
import copy
import itertools
import math

import pytest
import torch

import lthlib
import lthlib.engine.population as population
from lthlib.core.errors import SettingsError
from lthlib.data.datasets import load_dataset
from lthlib.engine import training
from lthlib.engine.early_stop import new_minimum
from lthlib.engine.population import train_population
from lthlib.engine.run import METRICS, Run
from lthlib.engine.training import model_for, train
from lthlib.masks import Mask
from lthlib.settings import TrainSettings

# Adam at 3e-3 on 600 examples overfits within the 120 iterations: the validation loss has
# its minimum in the middle of training, so the kept weights are not the last ones.
BASE = TrainSettings(model="mlp_mnist1d", iterations=120, eval_every=10, lr=3e-3, train_size=600,
                     validation_size=200)


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist1d", train_size=600, validation_size=200)


def same(a: list[float], b: list[float]) -> bool:
    """Equal lists of floats, NaN equal to NaN."""
    return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))


def random_mask(model, density=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Mask({n: torch.rand(p.shape, generator=g) < density for n, p in Mask.ones_like(model).items()})


def assert_test_only_where_read(without: Run, with_curve: Run) -> None:
    """``without`` (test_curve=False) is ``with_curve``'s run: the same weights and validation
    curve, the same test numbers at early stopping and at the end, and NaN between."""
    i, last = with_curve.early_stop_index, len(with_curve.iterations) - 1
    assert 0 < i < last, "the test needs an early-stopping point inside training"
    assert without.early_stop_index == i and without.iterations == with_curve.iterations
    for metric in METRICS:
        if not metric.startswith("test_"):
            assert same(getattr(without, metric), getattr(with_curve, metric)), metric
            continue
        got, want = getattr(without, metric), getattr(with_curve, metric)
        assert got[i] == want[i] and got[last] == want[last], metric  # bit for bit
        assert all(math.isnan(v) for k, v in enumerate(got) if k not in (i, last)), metric
    assert all(torch.equal(without.final_state[k], v) for k, v in with_curve.final_state.items())


def test_new_minimum_is_the_early_stopping_rule():
    """For every sequence of losses from a small set (ties, NaN, inf): the last value is a
    new minimum exactly where ``Run.early_stop_index`` would pick it."""
    values = [1.0, 2.0, 0.5, math.nan, math.inf]
    for n in range(1, 5):
        for seq in itertools.product(values, repeat=n):
            run = Run(settings={}, iterations=list(range(n)), val_loss=list(seq))
            assert new_minimum(list(seq)) == (run.early_stop_index == n - 1), seq


@pytest.mark.parametrize("masked", [False, True])
def test_train_measures_the_test_set_at_early_stopping_and_the_end(data, masked, monkeypatch):
    s = BASE.replace(seed=1)
    mask = random_mask(model_for(s, data)) if masked else None
    with_curve = train(model_for(s, data), data, s, mask)
    measured = []
    real = training.evaluate

    def counting(model, x, y, *args, **kwargs):
        measured.append(len(y))
        return real(model, x, y, *args, **kwargs)

    monkeypatch.setattr(training, "evaluate", counting)
    without = train(model_for(s, data), data, s.replace(test_curve=False), mask)
    assert_test_only_where_read(without, with_curve)
    evaluations = len(with_curve.iterations)
    assert measured.count(len(data.y_test)) == 2 and measured.count(len(data.y_val)) == evaluations
    assert without.reported() == with_curve.reported() and without.final() == with_curve.final()


def test_an_interrupted_run_keeps_its_early_stopping_weights(data, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "0")  # a checkpoint at every evaluation
    s = BASE.replace(seed=2, test_curve=False)
    whole = train(model_for(s, data), data, s)
    assert 0 < whole.early_stop_iteration < 90  # the kept weights predate the interruption
    ckpt = tmp_path / "run.ckpt"
    real = training.atomic_save

    def save_then_stop(state, path):
        real(state, path)
        if state["iteration"] == 90:
            assert "early_stop_state" in state
            raise KeyboardInterrupt("laptop closed")

    monkeypatch.setattr(training, "atomic_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(model_for(s, data), data, s, checkpoint=ckpt)
    monkeypatch.setattr(training, "atomic_save", real)
    resumed = train(model_for(s, data), data, s, checkpoint=ckpt)
    assert all(same(getattr(resumed, m), getattr(whole, m)) for m in METRICS)
    assert resumed.reported() == whole.reported()


def population_pair(data, build, settings, **kwargs):
    """The population ``build()`` gives, trained with and without test curves."""
    runs = {}
    for curve in (True, False):
        s = [x.replace(test_curve=curve) for x in settings]
        runs[curve] = train_population(build(s), data, s, **kwargs)
    return runs[False], runs[True]


@pytest.mark.parametrize("model", ["mlp_mnist1d", "cnn_mnist1d"])
def test_population_measures_the_test_set_where_train_would(data, model):
    """Masked members, a later start and both evaluation layouts (MLP members together, conv
    members one at a time): each member's test numbers are those of its test curve."""
    settings = [BASE.replace(model=model, seed=s, lr=3e-3 if model == "mlp_mnist1d" else 3e-2) for s in range(3)]
    first = [model_for(s, data) for s in settings]
    masks = [random_mask(first[0]), None, random_mask(first[2], density=0.3, seed=1)]
    without, with_curve = population_pair(data, lambda s: [copy.deepcopy(m) for m in first], settings,
                                          masks=masks, start_iterations=[0, 0, 20])
    for a, b in zip(without, with_curve):
        assert_test_only_where_read(a, b)


def test_edge_popup_and_dynamic_members_measure_the_test_set_on_their_kept_scores_and_masks(data):
    from lthlib.methods.sparse_training import SparseTrainingSettings, SparseUpdater, initial_sparse_mask
    from lthlib.methods.supermask import Supermask, random_weights

    def popups(settings):
        nets = []
        for s in settings:
            base = model_for(s, data)
            random_weights(base, "signed_constant", seed=s.seed)
            nets.append(Supermask(base, "edge_popup", density=0.3, seed=s.seed))
        return nets

    popup = [BASE.replace(seed=s, optimizer="sgd", lr=5.0, momentum=0.9) for s in range(2)]
    for a, b in zip(*population_pair(data, popups, popup)):
        assert_test_only_where_read(a, b)

    sparse = [SparseTrainingSettings(method=m, density=0.2, update_every=10) for m in ("set", "rigl")]
    settings = [BASE.replace(seed=s, lr=3e-2) for s in range(2)]
    models = [model_for(s, data) for s in settings]
    masks = [initial_sparse_mask(m, sp, s.seed) for m, sp, s in zip(models, sparse, settings)]
    runs = []
    for curve in (False, True):
        ts = [s.replace(test_curve=curve) for s in settings]
        updaters = [SparseUpdater(sp, s.iterations, s.seed) for sp, s in zip(sparse, ts)]
        runs.append(train_population([copy.deepcopy(m) for m in models], data, ts, masks, mask_updates=updaters))
    for a, b in zip(*runs):
        assert_test_only_where_read(a, b)
        assert a.mask_updates == b.mask_updates


def test_an_interrupted_population_keeps_its_early_stopping_weights(data, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "0")
    settings = [BASE.replace(seed=s, test_curve=False) for s in range(3)]
    first = [model_for(s, data) for s in settings]
    whole = train_population([copy.deepcopy(m) for m in first], data, settings)
    assert all(0 < r.early_stop_iteration < 90 for r in whole)
    path = tmp_path / "population.pt"
    real = population.atomic_save

    def save_then_stop(state, p):
        real(state, p)
        if state["iteration"] == 90:
            assert state["early"] is not None
            raise KeyboardInterrupt("laptop closed")

    monkeypatch.setattr(population, "atomic_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_population([copy.deepcopy(m) for m in first], data, settings, checkpoint=path)
    monkeypatch.setattr(population, "atomic_save", real)
    resumed = train_population([copy.deepcopy(m) for m in first], data, settings, checkpoint=path)
    for a, b in zip(resumed, whole):
        assert all(same(getattr(a, m), getattr(b, m)) for m in METRICS)


def test_settings_and_reading_a_test_curve():
    assert lthlib.for_scale("smoke").test_curve is False  # no curve figure: only where it is read
    assert lthlib.for_scale("smoke", eval_train=True).test_curve is True  # the curve figures
    assert lthlib.for_scale("smoke", test_curve=True).test_curve is True
    assert "test_curve" not in BASE.to_dict()  # the names of runs stored before it existed hold
    with pytest.raises(SettingsError, match="test_curve"):
        BASE.replace(test_curve="no")
    run = Run(settings=BASE.replace(test_curve=False).to_dict(), iterations=[0, 10],
              val_loss=[1.0, 0.5], test_acc=[math.nan, 0.9])
    assert run.curve("val_loss") == [1.0, 0.5] and run.at_early_stop("test_acc") == 0.9
    with pytest.raises(ValueError, match="test_curve=False"):
        run.curve("test_acc")
    held_out = Run(settings=BASE.replace(test_curve=False, validation="test").to_dict(), test_acc=[0.1])
    assert held_out.curve("test_acc") == [0.1]  # no validation split: the test set is watched


def test_curve_figures_leave_out_or_refuse_a_test_curve_not_measured(data):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lthlib.report import plots

    s = BASE.replace(iterations=40, test_curve=False)
    run = train(model_for(s, data), data, s)
    fig = plots.training_curves([run])
    labels = {t.get_text() for ax in fig.axes for legend in [ax.get_legend()] if legend for t in legend.get_texts()}
    labels |= {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert "validation loss" in labels and not any("test" in label for label in labels), labels
    plt.close(fig)
    with pytest.raises(ValueError, match="test_curve=False"):
        run.curve("test_loss")
