"""Notebook 10's decoder-only transformer (``lthlib.models.networks.Transformer``) as K
stacked members: the forward of its body (embeddings, blocks, final LayerNorm) over
``[K, ...]`` parameters. The population's step differentiates it with autograd and the
output layer by hand, as it does any head (``lthlib.engine.population``).

Why its own module: ``lthlib.engine.stacked`` computes networks layer by layer; a
transformer block is not a sequence of such layers (residual streams, attention), so its
stacked forward lives here and ``stacked`` calls it as one layer of kind ``"transformer"``.

What it computes is ``Transformer.forward``'s function with every member's own weights:
the same embeddings, pre-LayerNorm blocks, causal attention and last-position output. Its
last bits differ from ``train``'s (attention written out as products and a softmax over
the few positions instead of torch's fused attention kernel; LayerNorm's scale and shift
applied per member), so a population's results are stored under its own pass identity
(``lthlib.engine.passes``), never mixed with a transformer trained alone. Written out,
the attention over 3 positions also measured faster than the fused kernel (docs/population.md).
"""
from __future__ import annotations

import math
from typing import Mapping

import torch
import torch.nn.functional as F

from lthlib.models.networks import Transformer

# Named in a population pass's identity (``passes._head_computation``).
COMPUTATION = "stacked-transformer-v1"


def body_options(model: Transformer) -> tuple[int, int]:
    """What the stacked body needs beyond the parameter shapes: (heads, blocks)."""
    return (model.blocks[0].heads if len(model.blocks) else 1), len(model.blocks)


def body_parameters(names: list[str]) -> set[str]:
    """The parameters the body uses: every one but the output layer's."""
    return {n for n in names if not n.startswith("output.")}


def _linear(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """``nn.Linear`` per member: ``h`` ``[n, ..., in]``, ``w`` ``[n, out, in]`` (the model's layout)."""
    n, mid = h.shape[0], h.shape[1:-1]
    flat = h.reshape(n, -1, h.shape[-1])
    out = torch.bmm(flat, w.transpose(1, 2)) if b is None else torch.baddbmm(b.unsqueeze(1), flat, w.transpose(1, 2))
    return out.view(n, *mid, w.shape[1])


def _layer_norm(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``nn.LayerNorm`` per member (its default eps), ``w`` and ``b`` ``[n, d]``. The shared
    normalisation is given a scale of ones and a shift of zeros: torch's kernel without them
    took 1.6-1.9x as long forward and 1.2-1.3x with the backward, for the same numbers bit
    for bit (under the default, AVX2 and AVX-512 kernels; docs/population.md)."""
    d = h.shape[-1]
    shape = (len(h),) + (1,) * (h.dim() - 2) + (d,)
    ones, zeros = torch.ones(d, dtype=h.dtype, device=h.device), torch.zeros(d, dtype=h.dtype, device=h.device)
    return torch.addcmul(b.view(shape), F.layer_norm(h, (d,), ones, zeros), w.view(shape))


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """Multi-head attention, ``q`` ``[n, B, Lq, H, dh]``, ``k`` and ``v`` ``[n, B, L, H, dh]``
    -> ``[n, B, Lq, H, dh]``: scores scaled by 1/sqrt(dh), softmax over the keys, causal
    (query i sees keys <= i) when every position queries."""
    scores = (q.unsqueeze(3) * k.unsqueeze(2)).sum(-1) * (1.0 / math.sqrt(q.shape[-1]))  # [n, B, Lq, L, H]
    if causal:
        length = k.shape[2]
        later = torch.ones(length, length, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(later[:, :, None], float("-inf"))
    weights = torch.softmax(scores, 3)
    return (weights.unsqueeze(-1) * v.unsqueeze(2)).sum(3)


def body_forward(params: Mapping[str, torch.Tensor], x: torch.Tensor, n: int, heads: int, blocks: int,
                 shared: bool, sizes: list[int] | None = None) -> torch.Tensor:
    """The final LayerNorm's output at the last position, ``[n, batch, d_model]``, of ``n``
    stacked members on token ids ``x``: ``[batch, length]`` that every member sees
    (``shared``) or ``[n, batch, length]``, one batch per member. ``sizes`` collects the
    numbers per example of each intermediate (what a member's step holds)."""
    emb = params["embed.weight"]  # [n, vocab, d]
    vocab, d = emb.shape[1], emb.shape[2]
    if shared:
        x = x.unsqueeze(0).expand(n, *x.shape)
    batch, length = x.shape[1], x.shape[2]
    rows = (x + torch.arange(n, device=x.device).view(n, 1, 1) * vocab).reshape(-1)
    h = emb.reshape(n * vocab, d).index_select(0, rows).view(n, batch, length, d) + params["position.weight"].unsqueeze(1)
    record = [h]
    dh = d // heads
    for i in range(blocks):
        p = f"blocks.{i}."
        last = i == blocks - 1  # only the last position reaches the output (Transformer.forward)
        a = _layer_norm(h, params[p + "norm1.weight"], params[p + "norm1.bias"])
        q = _linear(a[:, :, -1:] if last else a, params[p + "query.weight"], None)
        k = _linear(a, params[p + "key.weight"], None)
        v = _linear(a, params[p + "value.weight"], None)
        split = lambda t: t.view(n, batch, t.shape[2], heads, dh)  # noqa: E731
        ctx = _attention(split(q), split(k), split(v), causal=not last and length > 1)
        h = (h[:, :, -1:] if last else h) + _linear(ctx.reshape(n, batch, q.shape[2], d), params[p + "out.weight"], None)
        hidden = torch.relu(_linear(_layer_norm(h, params[p + "norm2.weight"], params[p + "norm2.bias"]),
                                    params[p + "fc1.weight"], params[p + "fc1.bias"]))
        h = h + _linear(hidden, params[p + "fc2.weight"], params[p + "fc2.bias"])
        record += [a, q, k, v, ctx, hidden, h]
    out = _layer_norm(h[:, :, -1], params["norm.weight"], params["norm.bias"])
    if sizes is not None:
        sizes += [t[:1, :1].numel() for t in record + [out]]
    return out
