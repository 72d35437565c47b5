"""Edge-popup's top-k mask from the last step's thresholds (``lthlib.engine.warm_topk``):
the same 0/1 tensor as ``torch.topk``'s indices scattered, bit for bit, whenever it takes
the warm path, and ``torch.topk`` itself whenever it cannot be sure."""
from __future__ import annotations

import pytest
import torch

from lthlib.engine import warm_topk
from lthlib.engine.warm_topk import MIN_ROW, WarmTopK, top_k_rows


def by_topk(flat: torch.Tensor, k: int) -> torch.Tensor:
    return torch.zeros_like(flat).scatter_(1, torch.topk(flat, k, dim=1, sorted=False).indices, 1.0)


@pytest.fixture
def warm_calls(monkeypatch):
    """How many calls took the warm path (``_from_hint`` gave an answer)."""
    taken = []
    real = warm_topk._from_hint

    def spy(flat, k, hint):
        out = real(flat, k, hint)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(warm_topk, "_from_hint", spy)
    return taken


@pytest.mark.parametrize("density", [0.5, 0.1, 0.9])
@pytest.mark.parametrize("step", [0.0, 1e-4, 1e-2])
def test_warm_path_gives_topks_mask_and_a_threshold_k_values_pass(density, step, warm_calls):
    g = torch.Generator().manual_seed(int(density * 100 + step * 1e4))
    n, width = 5, 2 * MIN_ROW + 7
    k = int(density * width)
    scores = torch.rand(n, width, generator=g) * 2 - 1
    hint = None
    for _ in range(20):  # an SGD-like walk: each step moves every score a little
        scores = scores + step * torch.randn(n, width, generator=g)
        flat = scores.abs()
        mask, hint = top_k_rows(flat, k, hint)
        assert torch.equal(mask, by_topk(flat, k))
        assert ((flat >= hint).sum(1) == k).all()  # the threshold splits off exactly the top k
    assert len(warm_calls) == 19 and all(warm_calls)  # every call after the first was warm


def test_ties_at_the_kth_value_nans_and_far_hints_go_to_topk(warm_calls):
    width, k = MIN_ROW, MIN_ROW // 2
    g = torch.Generator().manual_seed(3)
    flat = torch.rand(3, width, generator=g)
    _, hint = top_k_rows(flat, k, None)
    ranked = flat[1].sort(descending=True)
    tied = flat.clone()  # row 1's (k+1)-th value ties with its k-th: which one is topk's choice
    tied[1, ranked.indices[k]] = ranked.values[k - 1]
    nan_above, nan_below = flat.clone(), flat.clone()  # topk ranks NaN above everything
    nan_above[2, int((flat[2] > hint[2]).nonzero()[0])] = torch.nan
    nan_below[2, int((flat[2] < hint[2]).nonzero()[0])] = torch.nan  # leaves k values at or above
    far = torch.rand(3, width, generator=g) + 10  # every value moved past the old threshold
    for case in (tied, nan_above, nan_below, far):
        mask, _ = top_k_rows(case, k, hint)
        assert torch.equal(mask, by_topk(case, k))
    assert warm_calls == [False, False, False, False]


def test_short_rows_and_no_hint_use_topk(warm_calls):
    flat = torch.rand(4, MIN_ROW - 1)
    mask, hint = top_k_rows(flat, 100, torch.zeros(4, 1))
    assert torch.equal(mask, by_topk(flat, 100)) and hint.shape == (4, 1)
    flat = torch.rand(4, MIN_ROW)
    assert torch.equal(top_k_rows(flat, 100, None)[0], by_topk(flat, 100))
    assert warm_calls == []


def test_rows_keep_their_own_thresholds_by_name_and_offset(warm_calls):
    top = WarmTopK(rows=6)
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(6, MIN_ROW, generator=g), torch.rand(6, 2 * MIN_ROW, generator=g)
    for _ in range(3):
        for name, full in (("a", a), ("b", b)):
            for lo, hi in ((0, 4), (4, 6)):  # two chunks of members
                assert torch.equal(top(name, full[lo:hi], 700, lo), by_topk(full[lo:hi], 700))
        a = a + 1e-3 * torch.randn(a.shape, generator=g)
        b = b + 1e-3 * torch.randn(b.shape, generator=g)
    assert warm_calls == [False] * 4 + [True] * 8


@pytest.mark.parametrize("width", [warm_topk.BLOCK * 128, 2 * MIN_ROW + 7, 30_000])
@pytest.mark.parametrize("m", [16, 40, 300])
def test_the_blocks_give_the_values_nearest_the_hint(width, m):
    g = torch.Generator().manual_seed(width + m)
    flat = torch.randn(3, width, generator=g, dtype=torch.float64)  # no ties
    hint = torch.randn(3, 1, generator=g, dtype=torch.float64) * 0.1
    got = warm_topk._nearest(flat, hint, m)
    want = flat.gather(1, torch.topk((flat - hint).abs().neg(), m, dim=1).indices)
    assert torch.equal(got.sort(1).values, want.sort(1).values)
    # the nearest value in the tail past the last whole block is found too
    flat[:, -1] = hint[:, 0]
    assert bool((warm_topk._nearest(flat, hint, m) == hint).any(1).all())
