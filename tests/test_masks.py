import pytest
import torch

from lthlib.masks import Mask, MaskError
from lthlib.models.networks import build_model


def make_model():
    return build_model("mlp_mnist1d", (40,), 10, seed=0, hidden=(8, 4))


def test_dense_mask_and_density():
    model = make_model()
    mask = Mask.ones_like(model)
    assert list(mask) == ["hidden.0.weight", "hidden.1.weight", "output.weight"]
    assert mask.density() == 1.0 and mask.numel() == 40 * 8 + 8 * 4 + 4 * 10
    half = Mask({"a": torch.tensor([True, False, True, False]), "b": torch.tensor([True, True])})
    assert half.num_kept() == 4 and half.density() == pytest.approx(4 / 6)
    assert half.layer_density() == {"a": 0.5, "b": 1.0}


def test_apply_zeroes_pruned_weights_only():
    model = make_model()
    w = model.output.weight.detach().clone()
    keep = torch.rand_like(w) > 0.5
    Mask({"output.weight": keep}).apply_(model)
    assert torch.all(model.output.weight[~keep] == 0)
    assert torch.equal(model.output.weight[keep], w[keep])


def test_mismatched_masks_get_clear_errors():
    model = make_model()
    with pytest.raises(MaskError, match="does not have"):
        Mask({"fc9.weight": torch.ones(3, dtype=torch.bool)}).check_fits(model)
    with pytest.raises(MaskError, match=r"shape \(3,\)"):
        Mask({"output.weight": torch.ones(3, dtype=torch.bool)}).apply_(model)
    with pytest.raises(MaskError, match="0/1"):
        Mask({"x": torch.tensor([0.5, 1.0])})


def test_save_load_round_trip(tmp_path):
    mask = Mask({"a": torch.rand(5, 3) > 0.3})
    mask.save(tmp_path / "m.pt")
    assert Mask.load(tmp_path / "m.pt") == mask
    assert mask != Mask({"a": ~mask["a"]})
