import pytest
import torch

import lthlib.engine.training as training
from lthlib.core.store import StoreError
from lthlib.engine.training import Run, lr_at, model_for, train
from lthlib.masks import Mask, MaskError
from lthlib.settings import TrainSettings


def random_mask(model, density=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Mask({n: torch.rand(p.shape, generator=g) < density
                 for n, p in Mask.ones_like(model).items()})


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("changes", [
    dict(optimizer="adam"),
    dict(optimizer="adam", weight_decay=1e-2),
    dict(optimizer="sgd", lr=0.05, momentum=0.9),
    dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-3),
])
def test_masked_weights_stay_exactly_zero_and_optimizer_state_never_revives_them(
        mnist1d_small, tiny_settings, monkeypatch, changes):
    settings = tiny_settings.replace(**changes)
    model = model_for(settings, mnist1d_small)
    mask = random_mask(model)
    optimizers = []
    real = training.make_optimizer
    monkeypatch.setattr(training, "make_optimizer",
                        lambda m, s: optimizers.append(real(m, s)) or optimizers[-1])
    run = train(model, mnist1d_small, settings, mask=mask,
                save_weights_at=range(settings.iterations + 1))
    assert sorted(run.weights_at) == list(range(settings.iterations + 1))
    for it, state in run.weights_at.items():  # after every single step
        for name, keep in mask.items():
            assert torch.all(state[name][~keep] == 0), (it, name)
    params = dict(model.named_parameters())
    for name, keep in mask.items():
        survivors = run.final_state[name][keep]
        assert torch.count_nonzero(survivors) == survivors.numel()  # the rest did train
        for buf in optimizers[0].state[params[name]].values():
            if torch.is_tensor(buf) and buf.shape == keep.shape:
                assert torch.all(buf[~keep] == 0), (name, "optimizer state at pruned weights")


def test_same_settings_same_numbers(mnist1d_small, tiny_settings):
    runs = [train(model_for(tiny_settings, mnist1d_small), mnist1d_small, tiny_settings)
            for _ in range(2)]
    assert runs[0].curves() == runs[1].curves()
    assert states_equal(runs[0].final_state, runs[1].final_state)


def test_data_order_seed_changes_only_the_order(mnist1d_small, tiny_settings):
    a = train(model_for(tiny_settings, mnist1d_small), mnist1d_small, tiny_settings, save_weights_at=[0])
    other = tiny_settings.replace(data_order_seed=99)
    b = train(model_for(other, mnist1d_small), mnist1d_small, other, save_weights_at=[0])
    assert states_equal(a.weights_at[0], b.weights_at[0])
    assert not states_equal(a.final_state, b.final_state)


def test_curves_and_early_stopping(mnist1d_small, tiny_settings):
    run = train(model_for(tiny_settings, mnist1d_small), mnist1d_small, tiny_settings)
    assert run.iterations == [0, 10, 20, 30, 40]
    assert all(len(getattr(run, m)) == 5 for m in training.METRICS)
    best = min(range(5), key=lambda i: run.val_loss[i])
    assert run.early_stop_iteration == run.iterations[best]
    assert run.at_early_stop("test_acc") == run.test_acc[best]
    assert run.final("val_loss") == run.val_loss[-1]
    with pytest.raises(ValueError, match="metric"):
        run.at_early_stop("accuracy")


def test_early_stop_ties_take_the_earliest():
    run = Run(settings={}, iterations=[0, 5, 10], val_loss=[2.0, 1.0, 1.0], test_acc=[0.1, 0.5, 0.9])
    assert run.early_stop_iteration == 5 and run.at_early_stop() == 0.5


def test_learning_rate_schedule():
    s = TrainSettings(optimizer="sgd", lr=0.1, iterations=100, warmup_iterations=10,
                      lr_milestones=(50, 80), lr_gamma=0.1)
    assert lr_at(s, 0) == pytest.approx(0.01)
    assert lr_at(s, 9) == pytest.approx(0.1)
    assert lr_at(s, 49) == pytest.approx(0.1)
    assert lr_at(s, 50) == pytest.approx(0.01)
    assert lr_at(s, 80) == pytest.approx(0.001)


def test_starting_at_k_continues_the_run_exactly(mnist1d_small, tiny_settings):
    """Plain SGD has no optimiser state, so training 0->k then k->T from the stored
    iteration-k weights must give exactly the weights of one run 0->T: the learning-rate
    schedule and the data order are functions of the iteration."""
    s = tiny_settings.replace(optimizer="sgd", lr=0.1, lr_milestones=(25,), eval_every=5)
    full = train(model_for(s, mnist1d_small), mnist1d_small, s, save_weights_at=[17])
    model = model_for(s, mnist1d_small)
    model.load_state_dict(full.weights_at[17])
    rest = train(model, mnist1d_small, s, start_iteration=17)
    assert states_equal(rest.final_state, full.final_state)
    assert rest.iterations[0] == 17


def test_interrupted_run_resumes_from_checkpoint_to_the_same_result(
        mnist1d_small, tiny_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "0")  # a checkpoint at every evaluation
    s = tiny_settings.replace(iterations=60)
    mask = random_mask(model_for(s, mnist1d_small), density=0.5)
    reference = train(model_for(s, mnist1d_small), mnist1d_small, s, mask=mask, save_weights_at=[0, 45])

    ckpt = tmp_path / "run.ckpt"
    calls = {"n": 0}
    real_evaluate = training.evaluate

    def dying_evaluate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3 * 4:  # dies while evaluating iteration 40 (train/val/test per point)
            raise KeyboardInterrupt("simulated kill")
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", dying_evaluate)
    with pytest.raises(KeyboardInterrupt):
        train(model_for(s, mnist1d_small), mnist1d_small, s, mask=mask, save_weights_at=[0, 45],
              checkpoint=ckpt)
    assert ckpt.exists()
    monkeypatch.setattr(training, "evaluate", real_evaluate)
    resumed = train(model_for(s, mnist1d_small), mnist1d_small, s, mask=mask, save_weights_at=[0, 45],
                    checkpoint=ckpt)
    assert not ckpt.exists()
    assert resumed.curves() == reference.curves()
    assert states_equal(resumed.final_state, reference.final_state)
    assert states_equal(resumed.weights_at[45], reference.weights_at[45])


def test_checkpoint_of_other_settings_is_refused(mnist1d_small, tiny_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "0")  # a checkpoint at every evaluation
    ckpt = tmp_path / "run.ckpt"
    monkeypatch.setattr(training, "evaluate", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())
                        if ckpt.exists() else (1.0, 0.1))
    with pytest.raises(KeyboardInterrupt):
        train(model_for(tiny_settings, mnist1d_small), mnist1d_small, tiny_settings, checkpoint=ckpt)
    monkeypatch.undo()
    other = tiny_settings.replace(lr=0.01)
    with pytest.raises(StoreError, match="other settings"):
        train(model_for(other, mnist1d_small), mnist1d_small, other, checkpoint=ckpt)


def test_bad_inputs(mnist1d_small, tiny_settings):
    model = model_for(tiny_settings, mnist1d_small)
    with pytest.raises(MaskError):
        train(model, mnist1d_small, tiny_settings, mask=Mask({"nope.weight": torch.ones(2, dtype=torch.bool)}))
    with pytest.raises(ValueError, match="batch_size"):
        train(model, mnist1d_small, tiny_settings.replace(batch_size=10_000))
    with pytest.raises(ValueError, match="save_weights_at"):
        train(model, mnist1d_small, tiny_settings, save_weights_at=[1_000])
    with pytest.raises(ValueError, match="start_iteration"):
        train(model, mnist1d_small, tiny_settings, start_iteration=40)


def test_training_learns(mnist1d_small, tiny_settings):
    s = tiny_settings.replace(iterations=200, eval_every=100, model_kwargs={})
    run = train(model_for(s, mnist1d_small), mnist1d_small, s)
    assert run.val_acc[-1] > 0.3 > run.val_acc[0]  # chance is 0.1


def test_a_run_gives_its_settings_back_as_an_object(mnist1d_small, tiny_settings):
    from lthlib.engine.training import model_for, train

    run = train(model_for(tiny_settings, mnist1d_small), mnist1d_small, tiny_settings.replace(iterations=10, eval_every=5))
    assert run.train_settings == tiny_settings.replace(iterations=10, eval_every=5)
    assert isinstance(run.settings, dict)  # stored as plain data


def test_a_short_run_writes_no_checkpoint_by_default(mnist1d_small, tiny_settings, tmp_path, monkeypatch):
    """Checkpoints trail the run by LTHLIB_CHECKPOINT_SECONDS (default 30): a run killed
    seconds after its start has none, and starting it again gives the same run."""
    monkeypatch.delenv("LTHLIB_CHECKPOINT_SECONDS", raising=False)
    s = tiny_settings.replace(iterations=60)
    reference = train(model_for(s, mnist1d_small), mnist1d_small, s)
    ckpt, real_evaluate, calls = tmp_path / "run.ckpt", training.evaluate, {"n": 0}

    def dying_evaluate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3 * 4:
            raise KeyboardInterrupt("simulated kill")
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", dying_evaluate)
    with pytest.raises(KeyboardInterrupt):
        train(model_for(s, mnist1d_small), mnist1d_small, s, checkpoint=ckpt)
    assert not ckpt.exists()
    monkeypatch.setattr(training, "evaluate", real_evaluate)
    again = train(model_for(s, mnist1d_small), mnist1d_small, s, checkpoint=ckpt)
    assert again.val_acc == reference.val_acc
    for name, w in reference.final_state.items():
        assert torch.equal(again.final_state[name], w)


def test_checkpoint_clock(monkeypatch):
    from lthlib.core.store import CHECKPOINT_SECONDS, CheckpointClock
    from lthlib.settings import SettingsError

    monkeypatch.delenv("LTHLIB_CHECKPOINT_SECONDS", raising=False)
    assert CheckpointClock().every == CHECKPOINT_SECONDS and not CheckpointClock().due()
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "0")
    assert CheckpointClock().due()
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "1e9")
    clock = CheckpointClock()
    clock.last -= 2e9  # as if the last checkpoint was long ago
    assert clock.due()
    clock.saved()
    assert not clock.due()
    for bad in ("-1", "soon", "nan", "inf"):
        monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", bad)
        with pytest.raises(SettingsError, match="LTHLIB_CHECKPOINT_SECONDS"):
            CheckpointClock()


def test_adamw_decays_decoupled_and_keeps_masked_weights_zero(mnist1d_small, tiny_settings):
    """AdamW (Power et al.'s optimiser for grokking) through ``train``: torch's AdamW with the
    settings' betas, and a masked weight stays exactly zero under its decay."""
    from lthlib.engine.training import make_optimizer
    from lthlib.settings import SettingsError

    s = tiny_settings.replace(optimizer="adamw", weight_decay=1.0, betas=(0.9, 0.98), iterations=20)
    model = model_for(s, mnist1d_small)
    opt = make_optimizer(model, s)
    assert opt.kind == "adamw" and opt.defaults["betas"] == (0.9, 0.98)
    assert opt.defaults["weight_decay"] == 1.0
    mask = random_mask(model, density=0.5)
    run = train(model, mnist1d_small, s, mask=mask)
    for name, m in mask.items():
        assert torch.all(run.final_state[name][~m] == 0)
    assert TrainSettings(**s.to_dict()) == s and s.to_dict()["betas"] == [0.9, 0.98]
    assert "betas" not in tiny_settings.to_dict()  # the default is left out of stored names
    with pytest.raises(SettingsError, match="betas"):
        tiny_settings.replace(betas=(0.9, 1.0))
    with pytest.raises(SettingsError, match="betas"):
        tiny_settings.replace(optimizer="sgd", betas=(0.8, 0.9))


def test_reported_reads_where_the_settings_paper_reads(mnist1d_small, tiny_settings):
    """A held-out validation split: early stopping (Frankle & Carbin); trained on every
    example and evaluated on the test set (open_lth, RigL): the end of training."""
    from lthlib.engine.training import reading_words
    from lthlib.settings import for_scale

    run = Run(settings=tiny_settings.to_dict(), iterations=[0, 10, 20], val_loss=[2.0, 1.0, 1.5],
              test_acc=[0.1, 0.5, 0.4])
    assert run.reported() == run.at_early_stop() == 0.5
    on_test = Run(**{**run.to_dict(), "settings": tiny_settings.replace(validation="test").to_dict()})
    assert on_test.reported() == on_test.final() == 0.4
    with pytest.raises(ValueError, match="early stopping would select on the test set"):
        on_test.at_early_stop()
    for model in ("resnet20", "vgg16", "wrn22_2"):  # open_lth's and RigL's: all 50,000 images
        assert for_scale("paper", model=model).validation == "test"
        assert reading_words(for_scale("paper", model=model)) == "end of training"
    for model in ("lenet300_100", "conv2", "conv4", "conv6"):  # Frankle & Carbin: 5,000 held out
        assert for_scale("paper", model=model).validation == "holdout"
    assert reading_words(tiny_settings) == "early stopping"
