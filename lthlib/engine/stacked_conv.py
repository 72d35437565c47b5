"""A stacked 1-D convolutional head (the MNIST-1D CNN's three convolutions), computed as
im2col + one ``bmm`` per layer and differentiated by hand.

Why its own path: the population trainer ran such a head as a grouped convolution
(``groups=K``) through autograd, and on a CPU oneDNN's grouped backward took half of the
head's time (K=16, 1 thread; docs/population.md). Written as matrix products,
the head is the same kind of work as the linear tail (``lthlib.engine.population``): one
``bmm`` per product and member-first tensors, ``[K, batch, length, channels]`` (channels
last, so a layer's output is already the next layer's input, and an im2col is one strided
copy). Same formulas as autograd's, so the same numbers to float rounding
(``tests/test_stacked_conv.py``; whole runs against ``train``: ``tests/test_population.py``). Other heads (2-D convolutions, max pooling, dilation,
string padding) keep the grouped convolution: ``hand_head`` says which.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F

from lthlib.engine.stacked import Layer, Plan


# Named in the identity of every batched pass this head trains (``passes.plan_passes``):
# its last bits differ from the grouped convolution's that trained such passes before, so
# a store's results of those passes are computed again, not mixed with this head's.
COMPUTATION = "im2col-bmm"


def hand_head(plan: Plan) -> bool:
    """Whether ``plan``'s layers before its linear tail are 1-D convolutions (stride and
    zero padding given as numbers, no dilation), ReLUs and the flatten, on a one-channel
    input: the head this module computes."""
    head = plan.layers[:plan.tail_start]
    if plan.input_kind != "channel1" or not head:
        return False
    for layer in head:
        if layer.kind == "conv":
            stride, padding, dilation = layer.options
            if layer.dim != 1 or tuple(dilation) != (1,) or not isinstance(padding, tuple):
                return False
        elif layer.kind not in ("relu", "flatten"):
            return False
    return head[-1].kind == "flatten"


def head_input(x: torch.Tensor, n: int, batch: int) -> torch.Tensor:
    """Members' minibatches, rows member after member (``[n * batch, length]`` or ``[n *
    batch, 1, length]``), in the head's layout ``[n, batch, length, 1]``."""
    return x.reshape(n, batch, -1, 1)


@dataclass
class _Saved:
    layer: Layer
    cols: torch.Tensor | None = None  # a convolution's im2col input [n, B * out_length, k * in]
    w: torch.Tensor | None = None  # its weight as a matrix [n, out, k * in]
    length: int = 0  # its input length (a flatten's: the length it flattened)
    kernel: int = 0  # a convolution's kernel size
    out: torch.Tensor | None = None  # a ReLU's output [n, B, length, channels]


def _conv_weight(w: torch.Tensor) -> torch.Tensor:
    """``[n, out, in, k]`` -> ``[n, out, k * in]``: the kernel position outermost, as im2col
    lays out its columns."""
    n, out, inp, k = w.shape
    return w.transpose(2, 3).reshape(n, out, k * inp)


def _im2col(h: torch.Tensor, k: int, stride: int, padding: int) -> tuple[torch.Tensor, int]:
    """``[n, B, L, C]`` -> columns ``[n, B * L_out, k * C]`` (one strided copy) and ``L_out``."""
    n, batch, length, channels = h.shape
    out_length = (length + 2 * padding - k) // stride + 1
    if padding:
        h = F.pad(h, (0, 0, padding, padding))
    s = h.stride()
    windows = h.as_strided((n, batch, out_length, k, channels), (s[0], s[1], stride * s[2], s[2], s[3]))
    return windows.reshape(n, batch * out_length, k * channels), out_length


def _col2im(g: torch.Tensor, batch: int, length: int, channels: int, k: int, stride: int,
            padding: int, out_length: int) -> torch.Tensor:
    """The adjoint of ``_im2col``: each kernel position's gradient added where it was read.

    Written per class of input positions modulo the stride (for stride 2 and kernel 3: the
    even positions read by one tap, the odd by two), so each class is set by one copy and
    the rest of its taps added, taps in increasing order as a zeroed buffer summed them:
    no zero fill, no padded buffer to slice, and a contiguous result."""
    n = g.shape[0]
    g = g.view(n, batch, out_length, k, channels)
    grad = g.new_empty(n, batch, length, channels)
    for rho in range(min(stride, length)):
        dst = grad[:, :, rho::stride]  # input positions rho + stride * m
        size = dst.shape[2]
        r = (rho + padding) % stride  # their taps: j = r, r + stride, ...
        c = (rho + padding - r) // stride  # position m reads tap j from output m + c - (j - r) // stride
        written = False
        for j in range(r, k, stride):
            shift = c - (j - r) // stride
            lo, hi = max(0, -shift), min(size, out_length - shift)
            if lo >= hi:
                continue
            src = g[:, :, lo + shift:hi + shift, j]
            if written:
                dst[:, :, lo:hi].add_(src)
                continue
            # the first tap that reaches a class reaches its first position (lo == 0: taps
            # with shift >= 0 start there, and one with shift < 0 follows the tap of shift 0)
            if hi < size:
                dst[:, :, hi:].zero_()
            dst[:, :, lo:hi].copy_(src)
            written = True
        if not written:
            dst.zero_()
    return grad


def head_forward(layers: Sequence[Layer], params: Mapping[str, torch.Tensor],
                 x: torch.Tensor) -> tuple[torch.Tensor, list[_Saved]]:
    """The head's output ``[n, B, features]`` (features in the model's flatten order:
    channel, then position) for inputs ``x`` ``[n, B, L, 1]``, and what the backward
    needs."""
    h, tape = x, []
    for layer in layers:
        if layer.kind == "conv":
            weight = params[f"{layer.name}.weight"]  # [n, out, in, k]
            w, k = _conv_weight(weight), weight.shape[-1]
            (stride,), (padding,), _ = layer.options
            cols, out_length = _im2col(h, k, stride, padding)
            n, batch = h.shape[:2]
            tape.append(_Saved(layer, cols=cols, w=w, length=h.shape[2], kernel=k))
            wt = w.transpose(1, 2)
            h = (torch.baddbmm(params[f"{layer.name}.bias"].unsqueeze(1), cols, wt) if layer.bias
                 else torch.bmm(cols, wt)).view(n, batch, out_length, -1)
        elif layer.kind == "relu":
            h = h.relu_()  # a convolution's fresh output
            tape.append(_Saved(layer, out=h))
        else:  # flatten: [n, B, L, C] -> [n, B, C * L]
            tape.append(_Saved(layer, length=h.shape[2]))
            h = h.transpose(2, 3).reshape(h.shape[0], h.shape[1], -1)
    return h, tape


def head_backward(tape: list[_Saved], g: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of the head's parameters, given ``g``, the gradient of its output."""
    grads: dict[str, torch.Tensor] = {}
    first = next(i for i, s in enumerate(tape) if s.layer.kind == "conv")
    for i in range(len(tape) - 1, first - 1, -1):
        saved, layer = tape[i], tape[i].layer
        if layer.kind == "flatten":
            n, batch = g.shape[:2]
            # made contiguous here: the ReLU's backward on the transposed view ran ~30x
            # slower than this copy and the backward on the copy together
            g = g.view(n, batch, -1, saved.length).transpose(2, 3).contiguous()
        elif layer.kind == "relu":
            g = torch.ops.aten.threshold_backward(g, saved.out, 0)
        else:
            n, batch, out_length, out = g.shape
            g = g.reshape(n, batch * out_length, out)
            k, channels = saved.kernel, saved.cols.shape[2] // saved.kernel  # the layer's input channels
            # [n, k * in, out] -> [n, out, in, k]; (cols^T g, not g^T cols: with one input
            # channel the latter's inner size is the batch and it ran ~6x slower)
            grads[f"{layer.name}.weight"] = torch.bmm(saved.cols.transpose(1, 2), g).view(
                n, k, channels, out).permute(0, 3, 2, 1).contiguous()
            if layer.bias:
                grads[f"{layer.name}.bias"] = g.sum(1)
            if i > first:
                (stride,), (padding,), _ = layer.options
                g = _col2im(torch.bmm(g, saved.w), batch, saved.length, channels, k, stride, padding, out_length)
    return grads
