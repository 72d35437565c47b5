"""The paper-scale path (conv nets, BatchNorm, augmentation, SGD with warm-up and step
decay, global pruning) on a tiny synthetic CIFAR-shaped dataset: real code, seconds."""
import torch

import lthlib
from lthlib.config import TrainSettings
from lthlib.data import Dataset
from lthlib.imp import imp_for_scale, run_imp


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
