"""Named random streams: independent draws per (seed, purpose), and controls without bias."""
from __future__ import annotations

import itertools

import pytest
import torch

from lthlib.core.streams import STREAMS, generator, stream_seed
from lthlib.masks import Mask
from lthlib.methods.pruning import random_mask_like
from lthlib.methods.supermask import Supermask, mask_by_criterion, random_weights
from lthlib.models.networks import build_model, prunable_parameters


def test_every_pair_of_streams_draws_differently():
    for seed in (0, 1, 7):
        draws = {p: torch.rand(1000, generator=generator(seed, p)) for p in STREAMS}
        for a, b in itertools.combinations(STREAMS, 2):
            assert not torch.equal(draws[a], draws[b]), (seed, a, b)
            corr = torch.corrcoef(torch.stack([draws[a], draws[b]]))[0, 1]
            assert abs(float(corr)) < 0.15, (seed, a, b, float(corr))


def test_streams_are_not_seed_offsets_of_each_other():
    seeds = {stream_seed(s, p, *i) for s in range(20) for p in STREAMS for i in ((), (0,), (1,), (2,))}
    assert len(seeds) == 20 * len(STREAMS) * 4
    # a stream of seed s is not the torch seed s (what the bug did) nor s plus a small offset
    assert all(stream_seed(s, "init") > 10**9 for s in range(20))


def test_unknown_stream_and_bad_seed_are_refused():
    with pytest.raises(ValueError, match="unknown random stream"):
        generator(0, "initial_weights")
    with pytest.raises(ValueError, match="integer"):
        stream_seed(1.5, "init")


def _mlp(seed: int, stream: str = "init") -> torch.nn.Module:
    return build_model("mlp_mnist1d", (40,), 10, seed=seed, stream=stream)


def _positive_share_of_kept(init: dict[str, torch.Tensor], mask: Mask, layer: str) -> float:
    kept = init[layer][mask[layer]]
    return float((kept > 0).float().mean())


def test_random_masks_keep_weights_without_sign_or_magnitude_bias():
    """The bug this guards against: a random mask drawn with the seed of the initial
    weights replays the init's uniform draws and keeps only positive weights."""
    layer = "hidden.0.weight"
    shares, ratios = [], []
    for seed in range(5):
        model = _mlp(seed)
        init = {k: v.detach() for k, v in model.state_dict().items()}
        layers = list(prunable_parameters(model))
        for mask in (mask_by_criterion("random", init, init, layers, density=0.2, seed=seed),
                     random_mask_like(mask_by_criterion("large_init", init, init, layers, 0.2), seed, 1)):
            assert abs(mask[layer].float().mean().item() - 0.2) < 1e-3
            shares.append(_positive_share_of_kept(init, mask, layer))
            ratios.append(float(init[layer][mask[layer]].abs().mean() / init[layer].abs().mean()))
    assert 0.45 <= sum(shares) / len(shares) <= 0.55, shares
    assert all(0.4 <= s <= 0.6 for s in shares), shares
    assert all(0.93 <= r <= 1.07 for r in ratios), ratios


def test_reinit_control_shares_no_weights_with_the_original():
    for seed in range(3):
        a, b = _mlp(seed).state_dict(), _mlp(seed, "reinit").state_dict()
        for name in prunable_parameters(_mlp(seed)):
            assert float((a[name] == b[name]).float().mean()) < 1e-3, name
            corr = torch.corrcoef(torch.stack([a[name].flatten(), b[name].flatten()]))[0, 1]
            assert abs(float(corr)) < 0.05
        assert torch.equal(a["hidden.0.weight"], _mlp(seed).state_dict()["hidden.0.weight"])  # deterministic


def test_supermask_scores_and_frozen_weights_are_independent_of_the_init():
    layer = "hidden.0.weight"
    model = _mlp(0)
    init = model.state_dict()[layer].clone()
    net = Supermask(model, "edge_popup", density=0.2, seed=0)
    kept = net.mask()[layer]
    share = float((init[kept] > 0).float().mean())
    assert 0.4 <= share <= 0.6, share
    frozen = _mlp(0)
    random_weights(frozen, "signed_constant", seed=0)
    signs_agree = float((torch.sign(frozen.state_dict()[layer]) == torch.sign(init)).float().mean())
    assert 0.45 <= signs_agree <= 0.55, signs_agree


def test_data_order_children_and_augmentation_are_separate_streams():
    from lthlib.engine.training import augmentation_generator, epoch_order

    order = epoch_order(1000, 0, 0, torch.device("cpu"))
    assert not torch.equal(order, epoch_order(1000, 0, 1, torch.device("cpu")))
    assert not torch.equal(order, torch.randperm(1000, generator=generator(0, "init")))
    child = stream_seed(0, "child", 1)
    assert not torch.equal(epoch_order(1000, child, 0, torch.device("cpu")), order)
    assert not torch.equal(torch.rand(5, generator=augmentation_generator(0, 0)),
                           torch.rand(5, generator=augmentation_generator(0, 1)))


def test_model_init_is_the_init_stream(mnist1d_small):
    from lthlib.engine.training import model_for
    from lthlib.settings import TrainSettings

    s = TrainSettings(seed=3)
    a = model_for(s, mnist1d_small).state_dict()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(3, "init"))
        b = build_model("mlp_mnist1d", mnist1d_small.input_shape, 10).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
