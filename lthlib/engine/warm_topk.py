"""Edge-popup's hard mask for a population: the top ``k`` of each row, found from the
last step's threshold instead of a fresh ``torch.topk``.

Why: ``torch.topk`` with ``k`` half a row sorts most of the row; it was 42% of an edge-popup
MLP step at K=16 (docs/population.md). A step moves the scores a little, so the k-th largest
value moves by a few ranks. Counting the values at or above the last threshold says how
many ranks; the new threshold is among the values nearest the old one, which a small
``topk`` finds. The mask is then ``value >= threshold``, kept only after checking that
exactly ``k`` values of each row pass: that set is then the unique top ``k`` (every value
left out is below every value kept), so it is exactly the set ``torch.topk`` selects, and
the numbers downstream are the same. Where the check fails (a tie at the k-th value, a NaN,
a hint too far away) or the row is short, it calls ``torch.topk``.

The comparisons write ``flat.dtype`` 0/1 tensors (``torch.ge(..., out=)``) and count in that
dtype: on this CPU build a bool result, its count and its conversion to float took ~0.66 ms
for a ``[16, 30000]`` layer, the same in float 0.07 ms (docs/population.md). A float count of
0/1 values is exact below 2**24 per row (``MAX_ROW``).
"""
from __future__ import annotations

import torch

MIN_ROW = 4096  # shorter rows: a full topk took 0.02 ms for 4 x 1,000, the warm path 0.1 ms
MAX_SHIFT = 256  # more ranks to move than this: the small topk is no longer small; full topk
MAX_ROW = 1 << 24  # longer rows: a float32 count of 0/1 values may round; full topk
BLOCK = 64  # values per block when looking for the values nearest the old threshold


def top_k_rows(flat: torch.Tensor, k: int, hint: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """A ``flat.dtype`` 0/1 tensor like ``flat`` (``[n, N]``) with 1 at the ``k`` largest
    values of each row, as ``zeros.scatter_(1, topk(flat, k).indices, 1)``, and the rows'
    thresholds (``[n, 1]``: exactly ``k`` values of the row are at or above it, unless a tie
    forced ``topk``) to pass as ``hint`` next time."""
    flat = flat.detach()
    if hint is not None and flat.device.type == "cpu" and MIN_ROW <= flat.shape[1] < MAX_ROW \
            and flat.dtype in (torch.float32, torch.float64):
        found = _from_hint(flat, k, hint)
        if found is not None:
            return found
    values, indices = torch.topk(flat, k, dim=1, sorted=False)
    return torch.zeros_like(flat).scatter_(1, indices, 1.0), values.min(1, keepdim=True).values


def _from_hint(flat: torch.Tensor, k: int, hint: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The mask and thresholds from the last thresholds ``hint``; None where unsure."""
    shift = (_at_least(flat, hint).sum(1, keepdim=True) - k).long()  # > 0: the threshold must rise
    most = int(shift.abs().max())
    threshold = hint
    if most > MAX_SHIFT:
        return None
    if most:
        v = _nearest(flat, hint, min(flat.shape[1], 2 * most + 16))  # the values nearest the old threshold
        up = shift > 0
        # rising: the (shift + 1)-th smallest value >= hint; falling: the (-shift)-th largest below it
        key = torch.where((v >= hint) == up, torch.where(up, -v, v), torch.full_like(v, -torch.inf))
        rank = torch.where(up, shift + 1, -shift).clamp_(min=1)
        picked = torch.topk(key, int(rank.max()), dim=1, sorted=True).values.gather(1, rank - 1)
        threshold = torch.where(shift == 0, hint, torch.where(up, -picked, picked))
    keep = _at_least(flat, threshold)
    if bool(((keep.sum(1) != k) | flat.sum(1).isnan()).any()):  # an infinite threshold fails the count
        return None
    return keep, threshold


def _nearest(flat: torch.Tensor, hint: torch.Tensor, m: int) -> torch.Tensor:
    """The ``m`` values of each row of ``flat`` nearest its ``hint`` (in no order), found by
    blocks: the ``m`` blocks of ``BLOCK`` values whose nearest value is nearest hold the
    ``m`` nearest values (a block holding one of them has at most ``m - 1`` blocks nearer
    than it), so a ``topk`` over the blocks' minima and one over those blocks replace a
    ``topk`` over the whole row (for ``[16, 30000]``: 0.29 ms, against 0.9 of the 1.06 ms
    the whole mask took). The values past the last whole block are always candidates.
    Should a tie put a block out, the threshold found fails ``_from_hint``'s count, as any
    error would."""
    n, length = flat.shape
    distance = (flat - hint).abs_()
    blocks = length // BLOCK
    if blocks <= m:
        return flat.gather(1, torch.topk(distance.neg_(), m, dim=1, sorted=False).indices)
    lows = distance.as_strided((n, blocks, BLOCK), (length, BLOCK, 1)).amin(2)
    chosen = torch.topk(lows.neg_(), m, dim=1, sorted=False).indices  # [n, m] block numbers
    at = (chosen.unsqueeze(2) * BLOCK + torch.arange(BLOCK, device=flat.device)).reshape(n, -1)
    if length % BLOCK:
        at = torch.cat([at, torch.arange(blocks * BLOCK, length, device=flat.device).expand(n, -1)], 1)
    best = torch.topk(distance.gather(1, at).neg_(), m, dim=1, sorted=False).indices
    return flat.gather(1, at.gather(1, best))


def _at_least(flat: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """``(flat >= threshold)`` as a ``flat.dtype`` 0/1 tensor, written as such (see above)."""
    return torch.ge(flat, threshold, out=torch.empty_like(flat))


class WarmTopK:
    """``top_k_rows`` for the rows of named stacked tensors, keeping each row's threshold
    for the next call (``population``: one row per member, one name per score)."""

    def __init__(self, rows: int):
        self.rows, self.hints = rows, {}

    def __call__(self, name: str, flat: torch.Tensor, k: int, lo: int = 0) -> torch.Tensor:
        """The top-``k`` mask of ``flat``, rows ``lo..lo + len(flat)`` of tensor ``name``."""
        hints = self.hints.setdefault(name, torch.full((self.rows, 1), torch.nan, device=flat.device))
        mask, hints[lo:lo + len(flat)] = top_k_rows(flat, k, hints[lo:lo + len(flat)])
        return mask
