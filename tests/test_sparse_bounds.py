"""The roofline bound of a sparse linear layer: exact byte and FLOP arithmetic, the bound's
monotonicity, stored sizes that match the formula, and a calibration that is sane (never timed)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse
import torch
import torch.nn.functional as F

from lthlib.experiments import sparse_bounds as sb
from lthlib.experiments.sparse_exec import tensor_bytes

pytestmark = pytest.mark.filterwarnings("ignore:Sparse [A-Z]+ tensor support is in beta")

# A made-up machine: 100 GFLOP/s, 10 GB/s (a ridge at 10 FLOPs per byte).
MACHINE = sb.Machine(peak_flops=1e11, bandwidth=1e10, threads=1, device="cpu")
SHAPE = (512, 256)
SPARSE = [("csr", 1), ("coo", 1), ("scipy_csr", 1), ("bsr", 16)]


def test_csr_int64_bytes_of_a_4x4_with_3_nonzeros():
    cost = sb.layer_cost("csr", (4, 4), 1, 3)
    # values 3 x 4 B + column indices 3 x 8 B + row pointers (4 + 1) x 8 B
    assert cost.weight_bytes == 12 + 24 + 40 == 76
    assert cost.io_bytes == 4 * 4 + 4 * 4  # one input of 4 floats read, one output of 4 written
    assert cost.bytes == 76 + 32
    assert cost.flops == 2 * 1 * 3


def test_bytes_and_flops_of_every_format_by_hand():
    batch = 2
    dense = sb.layer_cost("dense", (4, 4), batch, 16)
    assert (dense.flops, dense.weight_bytes, dense.io_bytes) == (2 * 2 * 4 * 4, 64, 4 * 2 * (4 + 4))
    assert sb.layer_cost("masked", (4, 4), batch, 16) == sb.LayerCost("masked", 64, 64, 64)
    # masked computes with its zeros: its cost does not depend on how many weights are kept
    assert sb.layer_cost("masked", (4, 4), batch, 3).flops == dense.flops
    assert sb.layer_cost("scipy_csr", (4, 4), batch, 3).weight_bytes == 12 + 12 + 20  # int32 indices
    assert sb.layer_cost("coo", (4, 4), batch, 3).weight_bytes == 12 + 2 * 24  # row and column, int64
    # BSR, 2 x 2 blocks, 2 blocks stored: 8 values, 2 column indices, 4 / 2 + 1 row pointers
    bsr = sb.layer_cost("bsr", (4, 4), batch, 8, blocksize=2)
    assert bsr.weight_bytes == 32 + 16 + 24
    assert bsr.flops == 2 * batch * 8
    assert sb.layer_cost("csr", (4, 4), batch, 3).flops == 2 * batch * 3


def test_the_formula_matches_what_torch_and_scipy_store():
    weight = sb.layer_weight((48, 32), 0.3, seed=1)
    blocked = sb.layer_weight((48, 32), 0.3, blocksize=8, seed=1)
    kept = int(weight.count_nonzero())
    assert kept == round(0.3 * 48 * 32)
    forms = sb.layer_forms(weight, sb.FORMATS, blocked, blocksize=8)
    for fmt, (stored, _, n) in forms.items():
        expected = sb.layer_cost(fmt, (48, 32), 1, n, 8 if fmt == "bsr" else 1).weight_bytes
        assert sb.stored_bytes(stored) == expected, fmt
    assert forms["bsr"][2] == int(blocked.count_nonzero()) == 64 * round(0.3 * 6 * 4)
    assert tensor_bytes(weight.to_sparse_csr()) == sb.layer_cost("csr", (48, 32), 1, kept).weight_bytes
    assert scipy.sparse.csr_matrix(weight.numpy()).indices.dtype == np.int32


def test_every_form_computes_the_masked_product():
    weight = sb.layer_weight((24, 16), 0.25, seed=2)
    blocked = sb.layer_weight((24, 16), 0.25, blocksize=8, seed=2)
    x = torch.randn(3, 16)
    for fmt, (stored, call, _) in sb.layer_forms(weight, sb.FORMATS, blocked, blocksize=8,
                                                 dense=torch.randn(24, 16)).items():
        w = {"bsr": blocked, "dense": stored}.get(fmt, weight)
        y = call(stored, x, x.numpy().T.copy())
        y = torch.as_tensor(y).T if fmt == "scipy_csr" else y
        torch.testing.assert_close(y, F.linear(x, w), rtol=1e-5, atol=1e-5, msg=fmt)


def test_block_masks_keep_whole_blocks():
    w = sb.layer_weight((32, 64), 0.25, blocksize=16, seed=0)
    blocks = (w.reshape(2, 16, 4, 16) != 0).any(dim=(1, 3))
    assert int(blocks.sum()) == round(0.25 * 8)
    full = (w.reshape(2, 16, 4, 16) != 0).all(dim=(1, 3))
    assert torch.equal(blocks, full)
    with pytest.raises(ValueError, match="tile"):
        sb.layer_weight((30, 64), 0.25, blocksize=16)


def test_bad_costs_are_refused():
    with pytest.raises(ValueError, match="format"):
        sb.layer_cost("csc", (4, 4), 1, 3)
    with pytest.raises(ValueError, match="kept"):
        sb.layer_cost("csr", (4, 4), 1, 17)
    with pytest.raises(ValueError, match="whole number of blocks"):
        sb.layer_cost("bsr", (4, 4), 1, 5, blocksize=2)
    with pytest.raises(ValueError, match="positive"):
        sb.layer_cost("dense", (4, 4), 0, 16)


@pytest.mark.parametrize("fmt,blocksize", SPARSE)
@pytest.mark.parametrize("batch", [1, 8, 256])
def test_the_bound_never_improves_as_more_weights_are_kept(fmt, blocksize, batch):
    unit = blocksize * blocksize
    total = SHAPE[0] * SHAPE[1] // unit
    kept = [n * unit for n in range(0, total + 1, max(1, total // 50))] + [total * unit]
    times = [sb.layer_cost(fmt, SHAPE, batch, k, blocksize).time_bound(MACHINE) for k in kept]
    ups = [sb.bound_speedup(MACHINE, fmt, SHAPE, batch, k, blocksize) for k in kept]
    assert all(a <= b for a, b in zip(times, times[1:]))
    assert all(a >= b for a, b in zip(ups, ups[1:]))


@pytest.mark.parametrize("fmt,blocksize", SPARSE + [("dense", 1)])
def test_the_bound_never_improves_with_a_bigger_batch(fmt, blocksize):
    kept = SHAPE[0] * SHAPE[1] // 10 // (blocksize * blocksize) * blocksize * blocksize
    times = [sb.layer_cost(fmt, SHAPE, b, kept, blocksize).time_bound(MACHINE) for b in (1, 2, 8, 64, 512)]
    assert all(a <= b for a, b in zip(times, times[1:]))


def test_masked_is_bound_to_dense_speed_and_full_csr_is_slower():
    assert sb.bound_speedup(MACHINE, "masked", SHAPE, 1, 7) == 1.0
    assert sb.bound_crossover(MACHINE, "masked", SHAPE, 1) is None
    full = SHAPE[0] * SHAPE[1]
    # at batch 1 bytes bound both: 12 bytes per weight (plus row pointers) against 4
    assert sb.bound_speedup(MACHINE, "csr", SHAPE, 1, full) < 1 / 2.9
    assert sb.layer_cost("csr", SHAPE, 1, full).bound_by(MACHINE) == "memory"


def test_crossovers_follow_the_index_bytes_at_batch_1():
    big = (4096, 4096)
    assert sb.bound_crossover(MACHINE, "csr", big, 1) == pytest.approx(1 / 3, abs=0.002)  # 4 / (4 + 8)
    assert sb.bound_crossover(MACHINE, "scipy_csr", big, 1) == pytest.approx(1 / 2, abs=0.002)  # 4 / (4 + 4)
    assert sb.bound_crossover(MACHINE, "coo", big, 1) == pytest.approx(1 / 5, abs=0.002)  # 4 / (4 + 16)
    assert sb.bound_crossover(MACHINE, "bsr", big, 1, 16) > 0.99  # one index per 256 values
    # bigger batches reuse each weight: past the ridge (batch 64 here) FLOPs bound both
    crossovers = [sb.bound_crossover(MACHINE, "csr", big, b) for b in (1, 8, 64, 256)]
    assert all(a <= b for a, b in zip(crossovers, crossovers[1:]))
    assert crossovers[2] > 0.9


def test_the_compute_bound_alone_gives_one_over_density():
    unlimited_memory = sb.Machine(peak_flops=1e11, bandwidth=math.inf, threads=1, device="cpu")
    kept = round(0.052 * SHAPE[0] * SHAPE[1])
    up = sb.bound_speedup(unlimited_memory, "csr", SHAPE, 256, kept)
    assert up == pytest.approx(SHAPE[0] * SHAPE[1] / kept) == pytest.approx(1 / 0.052, rel=1e-3)


def test_calibration_is_sane_and_cached():
    first = sb.calibrate(1, gemm_size=128, stream_bytes=2**22, repeats=3)
    for value in (first.peak_flops, first.bandwidth, first.peak_flops_q25, first.bandwidth_q75):
        assert math.isfinite(value) and value > 0
    assert first.peak_flops_q25 <= first.peak_flops <= first.peak_flops_q75
    assert (first.threads, first.device) == (1, "cpu")
    assert sb.calibrate(1, gemm_size=128, stream_bytes=2**22, repeats=3) is first
    assert sb.calibrate(1, gemm_size=128, stream_bytes=2**22, repeats=3, fresh=True) is not first
    assert "GFLOP/s" in first.describe() and "on 1 thread of cpu" in first.describe()
    # the load average is printed beside each calibration, so a reader sees how busy the machine was
    assert math.isfinite(first.load) and f"load average {first.load:.1f}" in first.describe()
    assert sb.last_level_cache_bytes() > 0
    with pytest.raises(ValueError):
        sb.calibrate(1, gemm_size=0)


def test_timed_rows_carry_the_bound_beside_the_measurement():
    rows = sb.time_layer_formats((64, 64), (0.5, 0.25), (1, 4), blocksize=16, threads=1, repeats=2, warmup=1,
                                 min_time=0.0)
    assert {(r["format"], r["density"], r["batch_size"]) for r in rows} == {
        (f, d, b) for f in sb.TIMED_FORMATS for d in (0.5, 0.25) for b in (1, 4)}
    assert all(r["copies"] >= 1 and r["median_s"] > 0 for r in rows)
    bounded = sb.with_bounds(rows, {1: MACHINE})
    for r in bounded:
        cost = sb.layer_cost(r["format"], (64, 64), r["batch_size"], r["kept"], r["blocksize"])
        assert r["weight_bytes"] == cost.weight_bytes
        assert r["bound_s"] == cost.time_bound(MACHINE) and r["attained"] == r["bound_s"] / r["median_s"]
        # the ceiling: the dense median timed beside it over this format's roofline time
        dense = next(d for d in rows if d["format"] == "dense" and (d["density"], d["batch_size"])
                     == (r["density"], r["batch_size"]))
        assert r["ceiling_speedup"] == dense["median_s"] / r["bound_s"]
    assert sb.ceiling_speedup(3e-3, 1e-3) == 3.0
    table = sb.bound_table(bounded)
    assert table.count("\n") == len(rows) + 1 and "SciPy CSR (int32)" in table


def _row(fmt, density, speedup, batch=1, threads=1):
    return dict(format=fmt, density=density, speedup=speedup, batch_size=batch, threads=threads, mode="inference")


def test_best_crossover_is_the_highest_density_that_beat_dense():
    rows = [_row("dense", d, 1.0) for d in (0.5, 0.2, 0.1)]
    rows += [_row("csr", 0.5, 0.4), _row("csr", 0.2, 0.9), _row("csr", 0.1, 1.5)]
    rows += [_row("scipy_csr", 0.5, 0.6), _row("scipy_csr", 0.2, 1.05), _row("scipy_csr", 0.1, 2.0)]
    rows += [_row("bsr", 0.5, 0.7, batch=8)]
    assert sb.best_crossover(rows, 1, 1) == ("scipy_csr", 0.2)
    # both first beat dense by 10% at 0.1: the tie goes to the faster there
    assert sb.best_crossover(rows, 1, 1, min_speedup=1.1) == ("scipy_csr", 0.1)
    assert sb.best_crossover(rows, 8, 1) is None
    assert sb.best_crossover(rows, 1, 2) is None


def test_the_faster_of_two_calibrations_takes_each_resource_at_its_best():
    a = sb.Machine(peak_flops=5e10, bandwidth=2e10, threads=1, device="cpu")
    b = sb.Machine(peak_flops=9e10, bandwidth=1e10, threads=1, device="cpu")
    both = a.faster(b)
    assert (both.peak_flops, both.bandwidth) == (9e10, 2e10)
    assert math.isnan(both.load) and "load average" not in both.describe()
    busy = a.faster(sb.Machine(peak_flops=9e10, bandwidth=1e10, threads=1, device="cpu", load=7.5))
    assert busy.load == 7.5 and busy.describe().startswith("peak 90 GFLOP/s (IQR nan-nan; load average 7.5), "
                                                           "bandwidth 20.0 GB/s (IQR nan-nan) on")
    # each rate says which calibration it came from, with that calibration's own load average
    one = sb.Machine(9e10, 2.44e10, 1, "cpu", 8.8e10, 9.4e10, 2.37e10, 2.48e10, 1.4, label="calibration 1")
    two = sb.Machine(1.01e11, 2.62e10, 1, "cpu", 1e11, 1.02e11, 2.5e10, 2.68e10, 1.3, label="calibration 2")
    three = sb.Machine(9.6e10, 2.67e10, 1, "cpu", 9.5e10, 9.7e10, 2.66e10, 2.73e10, 1.4, label="calibration 3")
    assert one.faster(two).describe() == ("peak 101 GFLOP/s (IQR 100-102), bandwidth 26.2 GB/s (IQR 25.0-26.8) on "
                                          "1 thread of cpu; both from calibration 2, load average 1.3 while "
                                          "calibrating")
    assert one.faster(two).faster(three).describe() == (
        "peak 101 GFLOP/s (IQR 100-102; from calibration 2, load average 1.3), bandwidth 26.7 GB/s (IQR 26.6-27.3; "
        "from calibration 3, load average 1.4) on 1 thread of cpu")
    with pytest.raises(ValueError, match="different machines"):
        a.faster(sb.Machine(peak_flops=1e11, bandwidth=1e10, threads=2, device="cpu"))


# --- a whole network's bound -------------------------------------------------------------

def test_network_costs_count_every_layer_as_it_runs():
    from lthlib.models.networks import build_model

    net = build_model("lenet300_100", (784,), 10, seed=0)
    costs = sb.network_costs(net, (784,), 2)
    # 784 -> 300 -> 100 -> 10 at batch 2: FLOPs 2 B in out; weight + bias bytes; inputs + outputs
    assert [c.flops for c in costs] == [2 * 2 * 784 * 300, 2 * 2 * 300 * 100, 2 * 2 * 100 * 10]
    assert [c.weight_bytes for c in costs] == [4 * (784 * 300 + 300), 4 * (300 * 100 + 100), 4 * (100 * 10 + 10)]
    assert [c.io_bytes for c in costs] == [4 * 2 * (784 + 300), 4 * 2 * (300 + 100), 4 * 2 * (100 + 10)]
    # a 1-D convolution: 2 x weights x output positions per example
    cnn = build_model("cnn_mnist1d", (40,), 10, seed=0)
    conv = next(m for m in cnn.modules() if isinstance(m, torch.nn.Conv1d))
    first = sb.network_costs(cnn, (40,), 1)[0]
    out_len = conv(torch.zeros(1, 1, 40)).shape[-1]
    assert first.flops == 2 * conv.weight.numel() * out_len


def test_network_costs_of_a_csr_layer_count_kept_weights_and_indices():
    from lthlib.experiments.sparse_exec import SparseLinear

    w = torch.zeros(4, 6)
    w[0, 1], w[2, 3], w[3, 5] = 1.0, 2.0, 3.0
    (cost,) = sb.network_costs(SparseLinear(w.to_sparse_csr(), None), (6,), 1)
    assert cost.flops == 2 * 3
    assert cost.weight_bytes == 3 * 4 + 3 * 8 + 5 * 8  # values, column indices, row pointers (int64)
    assert cost.io_bytes == 4 * (6 + 4)


def test_network_bounds_masked_is_dense_and_structured_and_csr_gain():
    from lthlib.models.networks import build_model

    net = build_model("lenet300_100", (784,), 10, seed=0)
    rows = sb.network_bounds(net, (784,), [1.0, 0.1], ("masked", "csr", "structured", "semi_structured"), (1, 256),
                             MACHINE)
    get = {(r["format"], r["density"], r["batch_size"]): r["bound_speedup"] for r in rows}
    assert all(get["masked", d, b] == 1.0 for d in (1.0, 0.1) for b in (1, 256))
    assert not any(f == "semi_structured" for f, _, _ in get)  # cannot be built on a CPU: left out
    assert get["csr", 1.0, 1] < 1 < get["csr", 0.1, 1]  # indices cost bytes; 10% of weights saves them
    assert get["csr", 0.1, 256] > get["csr", 0.1, 1]  # compute-bound at a large batch: nearer 1 / density
    assert get["structured", 1.0, 1] == 1.0 and get["structured", 0.1, 256] > 5
