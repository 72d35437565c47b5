"""Named random streams: one generator per (seed, purpose), derived by hashing.

A seed reused for two purposes silently correlates them: a random-mask control drawn from
a generator seeded like the initial weights replays the initialisation's uniform draws
and keeps only positive weights. So every random draw in lthlib comes from its own stream,
``generator(seed, purpose, *index)``, whose torch seed is a SHA-256 hash of the triple:
two different purposes (or indices) give unrelated draws for every seed, and no stream is
"seed + small offset" of another.

| purpose            | what it draws                                   | index        |
|--------------------|-------------------------------------------------|--------------|
| ``init``           | a model's initial weights (``build_model``)     | -            |
| ``data_order``     | the shuffled example order of one epoch         | epoch        |
| ``augment``        | one batch's crop offsets and flips              | iteration    |
| ``reinit``         | the random-reinitialisation control's weights   | -            |
| ``random_mask``    | the random-pruning control's kept positions     | round        |
| ``child``          | the data orders of LMC children                 | child (1, 2) |
| ``criterion``      | Zhou et al.'s ``random`` mask criterion         | -            |
| ``supermask_scores`` | a learned supermask's initial scores          | -            |
| ``bernoulli``      | Bernoulli supermask samples during training     | -            |
| ``frozen_weights`` | the frozen random weights edge-popup masks      | -            |
| ``pai_batch``      | the SNIP / GraSP minibatch (``lthlib.methods.pai``)     | -            |
| ``pai_random``     | the ``random`` pruning-at-init scores           | -            |
| ``pai_random_erk`` | the ``random_erk`` pruning-at-init scores       | -            |
| ``shuffle``        | a mask shuffled within layers (sanity check)    | repeat       |
| ``sparse_grow``    | SET's random growth of connections              | update       |

The dataset's own generation and its train/validation split use fixed seeds of the
dataset (``lthlib.data.datasets``): every run sees the same data.
"""
from __future__ import annotations

import hashlib

import torch

STREAMS: dict[str, str] = {
    "init": "a model's initial weights",
    "data_order": "the example order of one epoch (index: epoch)",
    "augment": "one batch's augmentation draws (index: iteration)",
    "reinit": "the random-reinitialisation control's weights",
    "random_mask": "the random-pruning control's kept positions (index: round)",
    "child": "the data order of a linear-mode-connectivity child (index: 1 or 2)",
    "criterion": "the scores of Zhou et al.'s random mask criterion",
    "supermask_scores": "a learned supermask's initial scores",
    "bernoulli": "Bernoulli supermask samples",
    "bernoulli_eval": "Bernoulli supermask samples drawn at evaluation (Zhou et al.'s way)",
    "frozen_weights": "the frozen random weights under a learned supermask",
    "pai_batch": "the minibatch SNIP and GraSP score on",
    "pai_random": "the random pruning-at-initialisation scores",
    "pai_random_erk": "the random scores of the ERK-density baseline",
    "shuffle": "the permutation of a mask within each layer (index: repeat)",
    "sparse_grow": "the connections SET grows at random (index: mask update)",
    "small_init": "the initial weights of one of many small dense networks (index: member)",
    "small_order": "the data order of one of many small dense networks (index: member)",
    "random_subnet": "the kept positions of one of many random subnetworks (index: member)",
    "subnet_order": "the data order of one of many random subnetworks (index: member)",
    "timing_inputs": "the random inputs and labels of timed forward passes and training steps",
}
_MAX = (1 << 63) - 1


def stream_seed(seed: int, purpose: str, *index: int) -> int:
    """The 63-bit torch seed of stream ``purpose`` for run seed ``seed`` (and ``index``)."""
    if purpose not in STREAMS:
        raise ValueError(f"purpose={purpose!r}: unknown random stream; lthlib's streams are "
                         f"{sorted(STREAMS)} (add a new purpose to lthlib.core.streams.STREAMS)")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed={seed!r}: a seed must be an integer")
    text = "/".join(["lthlib", purpose, str(int(seed)), *(str(int(i)) for i in index)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") & _MAX


def generator(seed: int, purpose: str, *index: int) -> torch.Generator:
    """A CPU ``torch.Generator`` for stream ``purpose`` of ``seed`` (draw on the CPU, then
    move: the same numbers on every device)."""
    return torch.Generator().manual_seed(stream_seed(seed, purpose, *index))
