"""The hand-differentiated 1-D convolutional head (lthlib.engine.stacked_conv): which heads
it takes, and its outputs and gradients against autograd through each member's own
``ConvNet1d``."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from lthlib.engine.stacked import plan_of
from lthlib.engine.stacked_conv import _col2im, _im2col, hand_head, head_backward, head_forward, head_input
from lthlib.models.networks import build_model


def test_the_mnist1d_cnn_head_is_computed_by_hand_and_other_heads_are_not():
    assert hand_head(plan_of(build_model("cnn_mnist1d", (40,), 10, seed=0)))
    assert not hand_head(plan_of(build_model("mlp_mnist1d", (40,), 10, seed=0)))  # no head
    assert not hand_head(plan_of(build_model("conv2", (3, 8, 8), 10, seed=0)))  # 2-D, max pooling
    dilated = build_model("cnn_mnist1d", (40,), 10, seed=0)
    dilated.conv2 = nn.Conv1d(32, 32, 3, stride=2, padding=2, dilation=2)
    assert not hand_head(plan_of(dilated))
    same = build_model("cnn_mnist1d", (40,), 10, seed=0)
    same.conv1 = nn.Conv1d(1, 32, 5, padding="same")
    assert not hand_head(plan_of(same))


def _members(n: int) -> list[nn.Module]:
    models = [build_model("cnn_mnist1d", (40,), 10, seed=s) for s in range(n)]
    gen = torch.Generator().manual_seed(1)
    for m in models:  # biases away from 0, so that some ReLUs are off and the bias terms matter
        for conv in (m.conv1, m.conv2, m.conv3):
            with torch.no_grad():
                conv.bias.copy_(torch.rand(conv.bias.shape, generator=gen) * 0.4 - 0.3)
    return models


def _reference(models: list[nn.Module], x: torch.Tensor, g: torch.Tensor):
    """Each member's head output and its parameters' gradients for the output gradient ``g``
    (``[n, B, features]``), by autograd through the member's own modules."""
    outs, grads = [], []
    for m, xm, gm in zip(models, x, g):
        h = xm.reshape(len(xm), 1, -1)
        for conv in (m.conv1, m.conv2, m.conv3):
            h = torch.relu(conv(h))
        h = h.flatten(1)
        params = [p for name, p in m.named_parameters() if not name.startswith("output")]
        outs.append(h.detach())
        grads.append(torch.autograd.grad(h, params, gm))
    return torch.stack(outs), [torch.stack(gs) for gs in zip(*grads)]


@pytest.mark.parametrize("n", [1, 5])
def test_head_output_and_gradients_match_autograd_to_float32_rounding(n):
    """Against the same head in float64 (the truth to ~1e-16), the hand path's float32 error
    is at most 4x that of torch's own float32 convolutions plus one unit of rounding of the
    largest value: a bound set by float32, not by this machine's kernels."""
    gen = torch.Generator().manual_seed(0)
    x64 = torch.randn(n, 60, 40, generator=gen, dtype=torch.float64)
    g64 = torch.randn(n, 60, 32 * 5, generator=gen, dtype=torch.float64)
    m32 = _members(n)
    m64 = [copy.deepcopy(m).double() for m in m32]
    plan = plan_of(m32[0])
    params = {name: torch.stack([dict(m.named_parameters())[name].detach() for m in m32])
              for name, _ in plan.shapes if not name.startswith("output")}
    out, tape = head_forward(plan.layers[:plan.tail_start], params, head_input(x64.float().reshape(n * 60, 40), n, 60))
    grads = head_backward(tape, g64.float())
    want_out, want_grads = _reference(m64, x64, g64)
    torch_out, torch_grads = _reference(m32, x64.float(), g64.float())
    u = 2.0 ** -24
    for got, want, theirs, name in [(out, want_out, torch_out, "output"),
                                     *zip([grads[k] for k in params], want_grads, torch_grads, params)]:
        assert got.shape == want.shape and got.dtype == torch.float32, name
        bound = 4 * (theirs.double() - want).abs().max() + u * want.abs().max()
        assert (got.double() - want).abs().max() <= bound, name
    assert (out >= 0).all() and (out == 0).any()  # the last ReLU is applied and some units are off


def _col2im_by_taps(g, batch, length, channels, k, stride, padding, out_length):
    """The adjoint written the plain way: a zeroed padded buffer, one strided add per kernel
    tap in increasing order, the padding cut off."""
    n = g.shape[0]
    g = g.view(n, batch, out_length, k, channels)
    grad = g.new_zeros(n, batch, length + 2 * padding, channels)
    last = stride * (out_length - 1) + 1
    for j in range(k):
        grad[:, :, j:j + last:stride].add_(g[:, :, :, j])
    return grad[:, :, padding:padding + length]


@pytest.mark.parametrize("length,k,stride,padding", [
    (20, 3, 2, 1), (10, 3, 2, 1), (40, 5, 2, 2), (9, 3, 2, 1), (7, 5, 1, 2), (12, 7, 2, 3),
    (11, 2, 3, 0), (8, 1, 2, 0), (6, 3, 1, 0), (13, 4, 3, 2)])
def test_col2im_is_the_adjoint_of_im2col_summed_tap_by_tap(length, k, stride, padding):
    """Per class of positions modulo the stride (taps missing at the edges, positions no tap
    reads, one to three taps per position): the same numbers, bit for bit, as adding each
    tap's gradient in turn into a zeroed buffer, and the adjoint of ``_im2col`` (<im2col(h),
    g> = <h, col2im(g)>, exact on integers)."""
    gen = torch.Generator().manual_seed(length * 100 + k * 10 + stride)
    n, batch, channels = 2, 3, 4
    h = torch.randint(-4, 5, (n, batch, length, channels), generator=gen).float()
    cols, out_length = _im2col(h, k, stride, padding)
    g = torch.randn(n, batch * out_length, k * channels, generator=gen)
    got = _col2im(g, batch, length, channels, k, stride, padding, out_length)
    assert got.is_contiguous() and got.shape == h.shape
    assert torch.equal(got, _col2im_by_taps(g, batch, length, channels, k, stride, padding, out_length))
    gi = torch.randint(-4, 5, g.shape, generator=gen).float()
    assert (cols * gi).sum() == (h * _col2im(gi, batch, length, channels, k, stride, padding, out_length)).sum()
