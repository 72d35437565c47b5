"""Notebook 09's library: narrow networks of a ticket's size, populations of fresh draws,
exact best-of-N selection, cost accounting and shared structure."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from lthlib.core.store import Store
from lthlib.engine import passes
from lthlib.engine.training import model_for, train
from lthlib.experiments import many_tickets as mt
from lthlib.masks import Mask
from lthlib.methods.pruning import random_mask_like
from lthlib.models.networks import build_model
from lthlib.settings import SettingsError


def test_small_settings_narrow_every_layer_to_the_ticket_count(mnist1d_small, tiny_settings):
    full = mt.prunable_count(tiny_settings, mnist1d_small)  # 40*32 + 32*16 + 16*10
    assert full == 40 * 32 + 32 * 16 + 16 * 10
    small = mt.small_settings(tiny_settings, mnist1d_small, full // 5)
    h1, h2 = small.model_kwargs["hidden"]
    assert len(small.model_kwargs["hidden"]) == 2  # same depth
    assert h1 < 32 and h2 < 16 and abs(h1 / 32 - h2 / 16) < 0.1  # one factor for all layers
    count = mt.prunable_count(small, mnist1d_small)
    # the closest count any width factor reaches: check against a brute-force scan
    best = min((abs(mt.prunable_count(tiny_settings.replace(model_kwargs=mt._width_kwargs(tiny_settings, f)),
                                      mnist1d_small) - full // 5)) for f in np.linspace(0.01, 1, 400))
    assert abs(count - full // 5) <= best
    assert small.replace(model_kwargs={}) == tiny_settings.replace(model_kwargs={})  # training unchanged
    with pytest.raises(SettingsError, match="between 1 and"):
        mt.small_settings(tiny_settings, mnist1d_small, full + 1)
    with pytest.raises(SettingsError, match="no narrower version"):
        mt.small_settings(tiny_settings.replace(model="conv2", dataset="cifar10", model_kwargs={}), mnist1d_small, 10)


def test_selection_probabilities_match_enumerating_every_subset():
    val = [0.5, 0.7, 0.7, 0.2, 0.9, 0.1]  # a tie: the lower index wins
    test = [0.51, 0.68, 0.72, 0.25, 0.88, 0.12]
    for n in range(1, len(val) + 1):
        picks = np.zeros(len(val))
        subsets = list(itertools.combinations(range(len(val)), n))
        for sub in subsets:
            picks[max(sub, key=lambda j: (val[j], -j))] += 1
        assert np.allclose(mt.selection_probabilities(val, n), picks / len(subsets))
        assert mt.best_of_n(val, test, n) == pytest.approx(float(np.dot(picks / len(subsets), test)))
    assert mt.best_of_n(val, test, 1) == pytest.approx(np.mean(test))
    assert mt.best_of_n(val, test, len(val)) == pytest.approx(0.88)  # the best validation member
    with pytest.raises(ValueError, match="pool"):
        mt.best_of_n(val, test, 7)
    assert mt.powers_of_two(16) == [1, 2, 4, 8, 16] and mt.powers_of_two(12) == [1, 2, 4, 8, 12]


def test_small_nets_are_fresh_draws_stored_and_read_back(mnist1d_small, tiny_settings, tmp_path, monkeypatch):
    store = Store(tmp_path)
    small = mt.small_settings(tiny_settings, mnist1d_small, 300)
    runs = mt.run_small_nets(small, mnist1d_small, 3, store=store, workers=1)
    assert len({tuple(r.test_loss) for r in runs}) == 3  # three different networks
    # member 1 is what train gives from the small_init stream (index 1) and its own data order
    start = model_for(small, mnist1d_small, stream="small_init", index=1)
    assert not torch.equal(start.state_dict()["hidden.0.weight"],
                           model_for(small, mnist1d_small, stream="small_init", index=0).state_dict()["hidden.0.weight"])
    alone = train(start, mnist1d_small, mt.member_settings(small, "small_order", 1))
    assert np.allclose(alone.test_loss, runs[1].test_loss, atol=1e-5)  # float32 rounding (tests/test_population.py)
    assert mt.member_settings(small, "small_order", 1).data_order_seed != mt.member_settings(small, "subnet_order", 1).data_order_seed

    def no_training(*a, **k):
        raise AssertionError("stored runs must be read, not retrained")
    monkeypatch.setattr(passes, "train_passes", lambda members, passes, *a, **k: no_training() if passes else {})
    again = mt.run_small_nets(small, mnist1d_small, 3, store=store)
    assert [r.test_loss for r in again] == [r.test_loss for r in runs]


def test_random_subnets_keep_the_reference_counts_from_their_own_stream(mnist1d_small, tiny_settings, tmp_path):
    model = model_for(tiny_settings, mnist1d_small)
    g = torch.Generator().manual_seed(0)
    reference = Mask({n: torch.rand(p.shape, generator=g) < 0.3 for n, p in model.named_parameters()
                      if n.endswith("weight")})
    masks = [mt.random_subnet_mask(reference, tiny_settings.seed, i) for i in range(3)]
    for m in masks:
        assert {n: int(t.sum()) for n, t in m.items()} == {n: int(t.sum()) for n, t in reference.items()}
    assert not torch.equal(masks[0]["hidden.0.weight"], masks[1]["hidden.0.weight"])
    control = random_mask_like(reference, tiny_settings.seed, 0)  # the IMP random-mask control: another stream
    assert not torch.equal(masks[0]["hidden.0.weight"], control["hidden.0.weight"])
    runs = mt.run_random_subnets(tiny_settings, mnist1d_small, reference, 2, store=Store(tmp_path), workers=1)
    for r, m in zip(runs, masks):
        assert all(torch.equal(Mask(r.mask)[n].cpu(), m[n]) for n in m)  # the subnet's mask, kept fixed
    # every subnet starts from the one initialisation of the seed
    alone = train(model_for(tiny_settings, mnist1d_small), mnist1d_small,
                  mt.member_settings(tiny_settings, "subnet_order", 1), masks[1])
    assert np.allclose(alone.test_loss, runs[1].test_loss, atol=1e-5)  # float32 rounding (tests/test_population.py)


def test_costs_add_up_per_round_at_each_mask_density(mnist1d_small, tiny_settings):
    dense = mt.run_cost(tiny_settings, mnist1d_small)
    assert dense == 3 * (40 * 32 + 32 * 16 + 16 * 10) * tiny_settings.iterations * tiny_settings.batch_size
    model = model_for(tiny_settings, mnist1d_small)
    half = Mask({n: torch.arange(p.numel()).reshape(p.shape) % 2 == 0 for n, p in model.named_parameters()
                 if n.endswith("weight")})
    assert mt.run_cost(tiny_settings, mnist1d_small, half) == pytest.approx(dense / 2)

    class Fake:  # an IMPResult with a dense run and two rounds
        class dense:
            train_settings = tiny_settings
        rounds = [type("R", (), {"mask": half})(), type("R", (), {"mask": half})()]
    assert mt.imp_cost(Fake, mnist1d_small, 2) == pytest.approx(2 * dense)
    assert mt.imp_cost(Fake, mnist1d_small, 1) == pytest.approx(1.5 * dense)


def test_shared_structure_of_identical_random_and_related_masks():
    g = torch.Generator().manual_seed(1)
    a = Mask({"l1.weight": torch.rand(20, 50, generator=g) < 0.2, "l2.weight": torch.rand(10, 20, generator=g) < 0.5})
    agree = mt.structure_agreement([a, a])
    n, k = 1000, int(a["l1.weight"].sum())
    assert agree["l1.weight"][0] == pytest.approx(1 - (k * k / n) / (2 * k - k * k / n))  # 1 - chance
    randoms = [random_mask_like(a, s, 0) for s in range(6)]
    assert abs(np.mean(mt.structure_agreement(randoms)["overall"])) < 0.02
    # the first layer's profile: kept weights per input column
    prof = mt.input_profile(a)
    assert prof.shape == (50,) and torch.equal(prof, a["l1.weight"].float().sum(0))
    assert mt.input_profile_correlation(a, a) == pytest.approx(1.0)
    assert abs(np.mean(mt.profile_correlations(randoms))) < 0.15
    # masks that favour the same inputs correlate, whatever their hidden units do
    cols = torch.arange(50) < 25
    b = Mask({"l1.weight": (torch.rand(20, 50, generator=g) < 0.4) & cols, "l2.weight": a["l2.weight"]})
    c = Mask({"l1.weight": (torch.rand(20, 50, generator=g) < 0.4) & cols, "l2.weight": a["l2.weight"]})
    assert mt.input_profile_correlation(b, c) > 0.6  # expected about 0.8 (20 rows of Bernoulli(0.4) noise)
    conv = Mask({"c.weight": torch.ones(4, 3, 5, dtype=torch.bool)})
    assert torch.equal(mt.input_profile(conv), torch.full((3,), 20.0))


def test_experiment_per_scale_and_its_pool_size():
    quick = mt.many_for_scale("quick")
    assert quick.bought(imp_cost=2.33, small_cost=0.1377) == 16  # 16.9 runs: 16 fit in IMP's compute
    assert quick.bought(imp_cost=2.0, small_cost=0.5) == 4  # an exact multiple is not rounded down
    assert quick.bought(imp_cost=0.1, small_cost=0.5) == 1
    assert quick.small_pool(16) == 32 and quick.small_pool(1000) == quick.max_small
    with pytest.raises(SettingsError, match="scale"):
        mt.many_for_scale("huge")


def _verdict(claim, verdict, fragile=""):
    from lthlib.report.claims import Claim
    return Claim(notebook="99", claim=claim, role="headline", verdict=verdict, mean=0.1, ci_low=0.0, ci_high=0.2,
                 n=8, threshold=0.0, fragile=fragile)


def test_notebook_09_answer_and_what_to_see_follow_the_verdicts():
    held = [_verdict(str(i), "holds") for i in range(8)]
    text = mt.answer(held[:2], held[2:4], held[4:6], held[6:8], _verdict("in", "holds"), _verdict("ov", "not shown"),
                     [13.6, 5.2], [16, 48], 8, "mlp on data")
    assert "at 13.6% (N = 16): no, the ticket is still more accurate (*holds*)" in text
    assert "the same first-layer weights beyond chance: not clearly (*not shown*)" in text
    assert "the objection does not hold up" in text and "mlp on data" in text
    beaten = mt.answer(held[:2], [held[2], _verdict("x", "contradicted")], held[4:6], held[6:8], held[0], held[1],
                       [13.6, 5.2], [16, 48], 8, "m")
    assert "at 5.2% (N = 48): yes, the best of N is more accurate (*contradicted*)" in beaten
    assert "did match or beat the ticket" in beaten
    assert mt.unresolved_words(held, 8).startswith("**What to see.** Every comparison above holds")
    words = mt.unresolved_words([held[0], _verdict("gap", "not shown")], 8)
    assert words.startswith("**What to see.** *gap*: **not shown**") and "8 seeds cannot tell" in words
