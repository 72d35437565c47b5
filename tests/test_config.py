import pytest

from lthlib.settings import PAPER_PRESETS, SettingsError, TrainSettings, for_scale


def test_scale_defaults():
    quick = for_scale("quick")
    assert (quick.model, quick.dataset) == ("mlp_mnist1d", "mnist1d")
    paper = for_scale("paper")
    assert (paper.model, paper.dataset, paper.optimizer, paper.lr, paper.batch_size) == (
        "lenet300_100", "mnist", "adam", 1.2e-3, 60)
    assert paper.iterations == 50_000
    smoke = for_scale("smoke")
    assert smoke.iterations <= 200 and smoke.train_size is not None


def test_dataset_picks_its_model_and_quick_shortens_schedules():
    s = for_scale("quick", dataset="cifar10")
    assert s.model == "conv2" and s.lr == 2e-4
    r = for_scale("quick", model="resnet20")
    assert r.iterations == 6_000
    # milestones shrink with the schedule, in proportion (32K/63K and 48K/63K)
    assert r.lr_milestones == (int(32_000 * 6_000 / 63_000), int(48_000 * 6_000 / 63_000))
    assert for_scale("paper", model="resnet20").lr_milestones == (32_000, 48_000)


def test_overrides_win():
    assert for_scale("quick", seed=7, lr=0.5).seed == 7


@pytest.mark.parametrize("changes, fragment", [
    (dict(lr=0), "lr=0"),
    (dict(batch_size=0), "batch_size"),
    (dict(iterations=2.5), "iterations"),
    (dict(optimizer="rmsprop"), "optimizer"),
    (dict(model="resnet18"), "known"),
    (dict(dataset="imagenet"), "dataset"),
    (dict(optimizer="adam", momentum=0.9), "momentum"),
    (dict(lr_milestones=(10_000,), iterations=100), "lr_milestones"),
    (dict(lr_milestones=(50, 20)), "increasing"),
    (dict(train_size=0), "train_size"),
])
def test_bad_settings_are_named(changes, fragment):
    with pytest.raises(SettingsError, match=fragment):
        TrainSettings(**changes)


def test_unknown_scale_and_setting():
    with pytest.raises(SettingsError, match="smoke"):
        for_scale("huge")
    with pytest.raises(SettingsError, match="unknown setting"):
        TrainSettings().replace(learning_rate=1.0)


def test_digest_is_stable_and_sensitive():
    a = TrainSettings()
    assert a.digest() == TrainSettings().digest()
    assert a.digest() != a.replace(seed=1).digest()
    assert TrainSettings(**a.to_dict()) == a


def test_every_preset_is_valid():
    for model in PAPER_PRESETS:
        for scale in ("smoke", "quick", "paper"):
            for_scale(scale, model=model)


def test_published_variants():
    warm = for_scale("paper", model="resnet20", variant="warmup")
    assert (warm.lr, warm.warmup_iterations, warm.momentum) == (0.03, 30_000, 0.9)
    assert for_scale("paper", model="vgg16", variant="low").lr == 0.01
    quick = for_scale("quick", model="vgg16", variant="warmup")
    assert quick.warmup_iterations == int(30_000 * 6_000 / 63_000)
    with pytest.raises(SettingsError, match="no variants"):
        for_scale("paper", model="lenet300_100", variant="warmup")


def test_sweep_sizes_live_with_their_experiments():
    from lthlib.experiments.lmc import PLANE_RESOLUTION
    from lthlib.experiments.supermask_study import WIDTHS
    from lthlib.settings import MAX_SEEDS, SCALES, seeds_for

    assert set(MAX_SEEDS) == set(WIDTHS) == set(PLANE_RESOLUTION) == set(SCALES)
    assert seeds_for("smoke", 6) == 2 and seeds_for("quick", 6) == 6
    assert len(WIDTHS["quick"]) >= 3
