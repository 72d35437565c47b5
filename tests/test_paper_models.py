"""The paper-scale path (conv nets, BatchNorm, augmentation, SGD with warm-up and step
decay, global pruning) on a tiny synthetic CIFAR-shaped dataset: real code, seconds."""
import pytest
import torch

import lthlib
from lthlib.data.datasets import Dataset
from lthlib.experiments.imp import imp_for_scale, run_imp
from lthlib.settings import TrainSettings


def fake_cifar(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return Dataset("fake-cifar", x[:32], y[:32], x[32:40], y[32:40], x[40:], y[40:], 10,
                   torch.zeros(3), torch.ones(3))


def test_resnet20_imp_with_global_pruning_and_rewinding():
    train = lthlib.for_scale("paper", model="resnet20").replace(
        iterations=6, eval_every=3, batch_size=8, lr_milestones=(4,), warmup_iterations=2)
    settings = imp_for_scale("paper", train, rounds=1, rewind_iteration=2, controls=("random_mask",))
    result = run_imp(settings, fake_cifar())
    mask = result.rounds[0].mask
    assert abs(mask.density() - 0.8) < 1e-3  # 20% of all prunable weights, ranked globally
    assert len(set(round(d, 2) for d in mask.layer_density().values())) > 1  # not uniform per layer
    for name, keep in mask.items():
        assert torch.all(result.rounds[0].ticket.final_state[name][~keep] == 0)
    assert result.rounds[0].ticket.iterations[0] == 2


def test_conv_models_train_with_their_paper_rates():
    data = fake_cifar()
    for model in ("conv2", "vgg16"):
        train = TrainSettings(model=model, dataset="cifar10", iterations=2, eval_every=2, batch_size=8,
                              augment=True, optimizer="sgd", lr=0.01, momentum=0.9)
        settings = imp_for_scale("paper", train, rounds=1, controls=())
        result = run_imp(settings, data)
        assert 0 < result.rounds[0].density < 1


def test_set_seed_makes_global_draws_repeat():
    lthlib.set_seed(3)
    a = torch.rand(3)
    lthlib.set_seed(3)
    assert torch.equal(a, torch.rand(3))


def test_notebook_06_and_07_paper_presets_are_the_published_networks():
    from lthlib.experiments.pai_study import pai_for_scale
    from lthlib.methods.sparse_training import SPARSE_MODELS, SPARSE_PRESETS

    pai = lthlib.for_scale("paper", default_model=pai_for_scale("paper").model)
    assert (pai.model, pai.dataset, pai.iterations, pai.lr_milestones) == ("resnet20", "cifar10", 63_000, (32_000, 48_000))
    rigl = lthlib.for_scale("paper", default_model=SPARSE_MODELS["paper"])
    assert (rigl.model, rigl.dataset, rigl.batch_size, rigl.iterations) == ("wrn22_2", "cifar10", 128, 97_656)
    assert (rigl.lr, rigl.lr_gamma, rigl.lr_milestones, rigl.weight_decay) == (0.1, 0.2, (30_000, 60_000, 90_000), 5e-4)
    assert SPARSE_PRESETS["paper"]["dense_first_layer"] is True
    # a named dataset or model still wins over the notebook's network
    assert lthlib.for_scale("paper", dataset="mnist", default_model="resnet20").model == "lenet300_100"
    assert lthlib.for_scale("quick", default_model=pai_for_scale("quick").model).model == "mlp_mnist1d"


def test_wrn22_2_has_the_published_shape():
    from lthlib.models.networks import build_model, count_parameters

    model = build_model("wrn22_2", (3, 32, 32), 10, seed=0)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 1 + 9 * 2 + 3  # stem, 3 stages x 3 blocks x 2 convs, 3 projection shortcuts
    assert [c.out_channels for c in convs if c.kernel_size == (1, 1)] == [32, 64, 128]
    assert 1.0e6 < count_parameters(model) < 1.2e6  # WRN-22-2: about 1.1M parameters
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_rigl_on_wrn22_2_with_dense_first_layer_runs_the_paper_path():
    from lthlib.engine.training import model_for
    from lthlib.masks import Mask
    from lthlib.methods.sparse_training import SparseTrainingSettings, initial_sparse_mask, train_sparse
    from lthlib.models.networks import prunable_parameters

    data = fake_cifar()
    train = lthlib.for_scale("paper", model="wrn22_2").replace(
        iterations=6, eval_every=3, batch_size=8, lr_milestones=(4,))
    ss = SparseTrainingSettings(method="rigl", density=0.2, update_every=2, dense_first_layer=True)
    model = model_for(train, data)
    first = next(iter(prunable_parameters(model)))
    start = initial_sparse_mask(model, ss, seed=0)
    assert start[first].all()
    assert abs(start.density() - 0.2) < 1e-3  # the whole network's density; the rest pruned further
    run = train_sparse(model, data, train, ss, seed=0)
    assert [u["iteration"] for u in run.mask_updates] == [2, 4]
    final = Mask(run.mask)
    assert final[first].all() and all(u["dropped"][first] == 0 for u in run.mask_updates)
    assert sum(u["dropped"][n] for u in run.mask_updates for n in final) > 0  # the other layers did change
    assert final.num_kept() == start.num_kept()
    for name, keep in final.items():
        assert torch.all(run.final_state[name][~keep] == 0)


def test_paper_presets_initialise_as_the_papers():
    """Frankle & Carbin 2019 (Figure 2) use Gaussian Glorot: LeNet-300-100's first layer
    (784 -> 300) has std sqrt(2 / (784 + 300)) ~ 0.0430, where PyTorch's default uniform
    +-1/sqrt(784) has std 1/sqrt(3 * 784) ~ 0.0206. With n = 235,200 draws the sample std's
    standard error is std / sqrt(2 n) ~ 6e-5: 1% (0.0004) is over six standard errors.
    ResNet-20 (open_lth): Kaiming normal, std sqrt(2 / fan_in), BatchNorm weights U(0, 1)."""
    import math

    from lthlib.models.networks import build_model
    from lthlib.settings import for_scale

    paper = for_scale("paper")  # LeNet-300-100 on MNIST
    assert paper.init == "glorot_normal" and for_scale("quick", model="lenet300_100").init == "default"
    model = build_model("lenet300_100", (1, 28, 28), 10, seed=0, init=paper.init)
    w = model.state_dict()["hidden.0.weight"]
    assert w.shape == (300, 784)
    assert float(w.std()) == pytest.approx(math.sqrt(2 / (784 + 300)), rel=0.01)
    assert abs(float(w.mean())) < 4 * math.sqrt(2 / (784 + 300)) / math.sqrt(w.numel())
    assert torch.all(model.state_dict()["hidden.0.bias"] == 0)
    default = build_model("lenet300_100", (1, 28, 28), 10, seed=0)
    assert float(default.state_dict()["hidden.0.weight"].std()) == pytest.approx(1 / math.sqrt(3 * 784), rel=0.01)
    again = build_model("lenet300_100", (1, 28, 28), 10, seed=0, init=paper.init)
    assert torch.equal(again.state_dict()["hidden.0.weight"], w)  # from the seed's init stream only
    reinit = build_model("lenet300_100", (1, 28, 28), 10, seed=0, stream="reinit", init=paper.init)
    assert not torch.equal(reinit.state_dict()["hidden.0.weight"], w)
    for name in ("conv2", "conv4", "conv6"):
        assert for_scale("paper", model=name).init == "glorot_normal"
    resnet = for_scale("paper", model="resnet20")
    assert resnet.init == "kaiming_normal" and for_scale("paper", model="vgg16").init == "kaiming_normal"
    net = build_model("resnet20", (3, 32, 32), 10, seed=0, init=resnet.init)
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.shape[1] == 16)
    fan_in = conv.weight[0].numel()
    assert float(conv.weight.std()) == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)  # 2,304 draws: se ~1.5%
    bn = next(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert 0 <= float(bn.weight.min()) and float(bn.weight.max()) < 1 and float(bn.weight.std()) > 0


def test_frankle_carbin_presets_evaluate_every_100_iterations():
    """Frankle & Carbin 2019, Appendix G: early stopping is read on an evaluation every 100
    iterations."""
    from lthlib.settings import for_scale

    for name in ("lenet300_100", "conv2", "conv4", "conv6"):
        assert for_scale("paper", model=name).eval_every == 100


def test_an_unknown_init_is_refused():
    from lthlib.settings import SettingsError, TrainSettings

    with pytest.raises(SettingsError, match=r"init='xavier'.*glorot_normal"):
        TrainSettings(init="xavier")
    assert "init" not in TrainSettings().to_dict()  # the default leaves stored names as they were
    assert TrainSettings(init="glorot_normal").to_dict()["init"] == "glorot_normal"


def test_the_lmc_study_reads_the_papers_densities():
    """Frankle et al. 2020 study ResNet-20 at 16.8% of weights and VGG-16 at 1.5% (open_lth
    never prunes VGG's fc layer); the rewind points run past the dense networks' stability
    point (about 2,000 for ResNet-20)."""
    from lthlib.experiments.rewinding import rewinding_for_scale
    from lthlib.models.networks import build_model, count_parameters

    resnet = rewinding_for_scale("paper", model="resnet20")
    assert resnet.imp.rounds == 8 and resnet.claim_round == 8
    assert round(0.8 ** resnet.imp.rounds, 3) == 0.168
    vgg = rewinding_for_scale("paper", model="vgg16")
    assert vgg.imp.rounds == 19 and vgg.imp.exclude == ("fc.weight",) and vgg.claim_round == 19
    model = build_model("vgg16", (3, 32, 32), 10)
    total = count_parameters(model, prunable_only=True)
    fc = model.fc.weight.numel()
    assert abs(((total - fc) * 0.8 ** 19 + fc) / total - 0.015) < 0.001  # 1.48%
    assert max(resnet.ks) > 2000 and max(vgg.ks) > 2000
