"""``eval_train``: leaving the training split out of evaluations changes nothing else.

Evaluation draws no random number and changes no weight, so a run that skips the training
split has, bit for bit, the validation and test curves, weights and early stopping of the
run that measures it; only its ``train_*`` curves are NaN, and reading them is an error."""
from __future__ import annotations

import math

import pytest
import torch

from lthlib.core import profile
from lthlib.engine.population import train_population
from lthlib.engine.training import TrainingDiverged, model_for, train
from lthlib.settings import SettingsError, TrainSettings, for_scale


def _same_except_train(a, b) -> None:
    assert a.iterations == b.iterations
    for m in ("val_loss", "val_acc", "test_loss", "test_acc"):
        assert getattr(a, m) == getattr(b, m), m  # exact: the same computation
    for name, p in a.final_state.items():
        assert torch.equal(p, b.final_state[name]), name
    assert all(math.isnan(v) for v in b.train_loss + b.train_acc)
    assert len(b.train_loss) == len(b.iterations)
    assert not any(math.isnan(v) for v in a.train_loss)


def test_train_without_the_training_split_gives_the_same_run(mnist1d_small, tiny_settings):
    with_train, without = tiny_settings, tiny_settings.replace(eval_train=False)
    a = train(model_for(with_train, mnist1d_small), mnist1d_small, with_train, progress=False)
    b = train(model_for(without, mnist1d_small), mnist1d_small, without, progress=False)
    _same_except_train(a, b)
    assert b.at_early_stop("test_acc") == a.at_early_stop("test_acc")
    with pytest.raises(ValueError, match="eval_train=False"):
        b.final("train_loss")
    with pytest.raises(ValueError, match="eval_train=False"):
        b.at_early_stop("train_acc")


def test_a_population_without_the_training_split_gives_the_same_runs(mnist1d_small, tiny_settings):
    def runs(eval_train: bool):
        settings = [tiny_settings.replace(seed=i, eval_train=eval_train) for i in range(3)]
        models = [model_for(s, mnist1d_small) for s in settings]
        return train_population(models, mnist1d_small, settings, start_iterations=[0, 0, 10],
                                progress=False, batched=True)

    for a, b in zip(runs(True), runs(False)):
        _same_except_train(a, b)


def test_eval_train_is_shared_by_a_pass(mnist1d_small, tiny_settings):
    settings = [tiny_settings, tiny_settings.replace(seed=1, eval_train=False)]
    with pytest.raises(ValueError, match="eval_train"):
        train_population([model_for(s, mnist1d_small) for s in settings], mnist1d_small, settings,
                         batched=True)


def test_divergence_is_watched_on_the_validation_loss(mnist1d_small, tiny_settings):
    s = tiny_settings.replace(lr=1e6, eval_train=False)
    with pytest.raises(TrainingDiverged, match="the validation loss"):
        train(model_for(s, mnist1d_small), mnist1d_small, s, progress=False)
    settings = [s.replace(lr=1e-3), s]
    with pytest.raises(TrainingDiverged, match="member 1 diverged: the validation loss"):
        train_population([model_for(x, mnist1d_small) for x in settings], mnist1d_small, settings,
                         progress=False, batched=True)


def test_profile_counts_no_training_split(mnist1d_small, tiny_settings, tmp_path):
    path = tmp_path / "counts.jsonl"
    profile.enable(path)
    try:
        s = tiny_settings.replace(eval_train=False)
        train(model_for(s, mnist1d_small), mnist1d_small, s, progress=False)
        settings = [s.replace(seed=i) for i in range(2)]
        train_population([model_for(x, mnist1d_small) for x in settings], mnist1d_small, settings,
                         progress=False, batched=True)
    finally:
        profile.disable()
    p = profile.read(path)
    evaluations = 3 * (40 // 10 + 1)
    assert p["passes"] == 2 * evaluations  # validation and test only
    assert p["examples"] == evaluations * (len(mnist1d_small.y_val) + len(mnist1d_small.y_test))


def test_for_scale_leaves_the_training_split_out_unless_asked():
    assert for_scale("quick").eval_train is False
    assert for_scale("quick", eval_train=True).eval_train is True
    # True is the dataclass default and is left out of the stored dict: the names (digests)
    # of runs stored before the setting existed still hold
    assert "eval_train" not in for_scale("quick", eval_train=True).to_dict()
    assert for_scale("quick").to_dict()["eval_train"] is False
    assert TrainSettings(**for_scale("quick").to_dict()) == for_scale("quick")
    with pytest.raises(SettingsError, match="eval_train"):
        TrainSettings(eval_train="no")


def test_imp_rounds_can_leave_the_curves_out_and_train_the_same_networks(mnist1d_small, tiny_settings):
    from lthlib.experiments.imp import IMPSettings, run_imp
    from lthlib.experiments.transformer_study import transformer_for_scale

    train_settings = tiny_settings.replace(test_curve=True)
    base = IMPSettings(train=train_settings, rounds=2, rewind_iteration=10, controls=("reinit",))
    lean = base.replace(round_curves=False)
    a, b = run_imp(base, mnist1d_small), run_imp(lean, mnist1d_small)
    assert not any(math.isnan(v) for v in b.dense.train_acc + b.dense.test_acc)  # the dense run keeps both
    for ra, rb in zip(a.rounds, b.rounds):
        for x, y in [(ra.ticket, rb.ticket), *((ra.controls[n], rb.controls[n]) for n in ra.controls)]:
            assert x.val_loss == y.val_loss and x.val_acc == y.val_acc  # exact: the same training
            assert x.early_stop_iteration == y.early_stop_iteration
            assert x.at_early_stop("test_acc") == y.at_early_stop("test_acc")
            assert all(math.isnan(v) for v in y.train_acc)
            assert sum(not math.isnan(v) for v in y.test_acc) <= 1  # at early stopping only
            with pytest.raises(ValueError, match="eval_train=False"):
                y.final("train_acc")
    assert base.digest() != lean.digest() and "round_curves" not in base.to_dict()
    with pytest.raises(SettingsError, match="round_curves"):
        base.replace(round_curves="no")
    # notebook 10 reads training accuracy of its dense runs only
    experiment = transformer_for_scale("smoke")
    assert experiment.train.eval_train and experiment.imp.round_curves is False
    assert not experiment.finetune_settings(0).eval_train
