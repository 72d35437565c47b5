import pytest
import torch

from lthlib.masks import Mask, MaskError
from lthlib.models.networks import build_model
from lthlib.methods.pruning import (PruningError, from_torch_prune, layerwise_rates, magnitude_prune,
                            prune_by_score, random_mask_like, to_torch_prune)


def lenet():
    return build_model("lenet300_100", (1, 28, 28), 10, seed=0)


def test_layerwise_rates_give_the_expected_counts_after_n_rounds():
    """Frankle & Carbin: 20% of hidden, 10% of output weights per round, of the survivors."""
    model = lenet()
    rates = layerwise_rates(model)
    assert rates == {"hidden.0.weight": 0.2, "hidden.1.weight": 0.2, "output.weight": 0.1}
    weights = {n: p.detach() for n, p in model.state_dict().items()}
    mask = Mask.ones_like(model)
    expected = {"hidden.0.weight": 235_200, "hidden.1.weight": 30_000, "output.weight": 1_000}
    for _ in range(5):
        mask = magnitude_prune(weights, mask, rates)
        expected = {n: c - int(rates[n] * c + 0.5) for n, c in expected.items()}
    assert {n: int(t.sum()) for n, t in mask.items()} == expected
    # by hand: 235200 * 0.8^5 = 77070.336 -> 77070 with per-round rounding
    assert expected["hidden.0.weight"] == 77_070 and expected["output.weight"] == 590


def test_magnitude_pruning_removes_exactly_the_smallest_survivors():
    w = torch.tensor([[0.5, -0.1, 0.3], [-0.7, 0.2, 0.05]])
    mask = Mask({"w": torch.tensor([[True, True, True], [True, True, False]])})
    out = magnitude_prune({"w": w}, mask, 0.4)  # 5 alive -> remove 2: |-0.1|, |0.2|
    assert out["w"].tolist() == [[True, False, True], [True, False, False]]


def test_pruning_never_revives_and_only_removes_survivors():
    g = torch.Generator().manual_seed(0)
    w = {"a": torch.randn(20, 10, generator=g)}
    mask = Mask({"a": torch.rand(20, 10, generator=g) > 0.5})
    # make the pruned weights the largest: they must still stay pruned
    w["a"][~mask["a"]] = 100.0
    out = magnitude_prune(w, mask, 0.3)
    assert not torch.any(out["a"] & ~mask["a"])
    assert int(out["a"].sum()) == int(mask["a"].sum()) - int(0.3 * int(mask["a"].sum()) + 0.5)


def test_global_pruning_ranks_across_layers():
    w = {"small": torch.full((10,), 0.01), "large": torch.arange(1.0, 11.0)}
    out = magnitude_prune(w, Mask({n: torch.ones(10, dtype=torch.bool) for n in w}), 0.5,
                          scope="global", allow_empty_layers=True)
    assert int(out["small"].sum()) == 0 and int(out["large"].sum()) == 10
    layerwise = magnitude_prune(w, Mask({n: torch.ones(10, dtype=torch.bool) for n in w}), 0.5)
    assert int(layerwise["small"].sum()) == 5 and int(layerwise["large"].sum()) == 5


def test_global_exclude_keeps_a_layer():
    w = {"a": torch.arange(1.0, 11.0), "out": torch.full((4,), 0.001)}
    mask = Mask({n: torch.ones_like(t, dtype=torch.bool) for n, t in w.items()})
    out = magnitude_prune(w, mask, 0.5, scope="global", exclude=("out",))
    assert out["out"].all() and out["a"].tolist() == [False] * 5 + [True] * 5


def test_ties_are_broken_by_index_deterministically():
    w = {"w": torch.ones(8)}
    mask = Mask({"w": torch.ones(8, dtype=torch.bool)})
    out = magnitude_prune(w, mask, 0.25)
    assert out["w"].tolist() == [False, False] + [True] * 6
    assert magnitude_prune(w, mask, 0.25) == out


def test_random_mask_like_has_the_same_layer_counts():
    model = lenet()
    weights = {n: p.detach() for n, p in model.state_dict().items()}
    ticket = magnitude_prune(weights, Mask.ones_like(model), layerwise_rates(model))
    rand = random_mask_like(ticket, seed=3)
    assert {n: int(t.sum()) for n, t in rand.items()} == {n: int(t.sum()) for n, t in ticket.items()}
    assert rand != ticket
    assert random_mask_like(ticket, seed=3) == rand


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, True])
def test_rates_outside_unit_interval_are_refused(rate):
    with pytest.raises(PruningError, match=r"\[0, 1\)"):
        magnitude_prune({"w": torch.ones(4)}, Mask({"w": torch.ones(4, dtype=torch.bool)}), rate)


def test_bad_names_shapes_and_empty_layers():
    mask = Mask({"w": torch.ones(4, dtype=torch.bool)})
    with pytest.raises(PruningError, match="does not have"):
        magnitude_prune({"w": torch.ones(4)}, mask, {"v": 0.2})
    with pytest.raises(MaskError, match="another model"):
        magnitude_prune({"v": torch.ones(4)}, mask, 0.2)
    with pytest.raises(MaskError, match="shape"):
        prune_by_score({"w": torch.ones(5)}, mask, 0.2)
    one = Mask({"w": torch.tensor([True, False, False, False])})
    with pytest.raises(PruningError, match="every weight"):
        magnitude_prune({"w": torch.ones(4)}, one, 0.6)
    assert not magnitude_prune({"w": torch.ones(4)}, one, 0.6, allow_empty_layers=True)["w"].any()


def test_torch_prune_round_trip():
    model = lenet()
    weights = {n: p.detach() for n, p in model.state_dict().items()}
    mask = magnitude_prune(weights, Mask.ones_like(model), 0.5)
    to_torch_prune(model, mask)
    assert hasattr(model.hidden[0], "weight_orig")
    assert torch.all(model.hidden[0].weight[~mask["hidden.0.weight"]] == 0)
    assert from_torch_prune(model) == mask
    with pytest.raises(MaskError, match="no torch.nn.utils.prune"):
        from_torch_prune(lenet())
