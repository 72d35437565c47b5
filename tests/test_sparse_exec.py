"""Executable sparse forms of a pruned model: same outputs as masking, sizes, timing helpers."""
from __future__ import annotations

import math
import statistics
import time

import numpy as np
import pytest
import torch
from torch import nn

from lthlib.experiments import sparse_exec as se
from lthlib.experiments import speed_routes as sr
from lthlib.experiments import speed_study as ss
from lthlib.masks import Mask
from lthlib.models.networks import MLP, build_model, prunable_parameters
from lthlib.report.plots import speed as sp

pytestmark = pytest.mark.filterwarnings("ignore:Sparse [A-Z]+ tensor support is in beta")


def random_mask(model: nn.Module, density: float, seed: int = 0) -> Mask:
    g = torch.Generator().manual_seed(seed)
    tensors = {n: torch.rand(p.shape, generator=g) < density for n, p in prunable_parameters(model).items()}
    first = next(iter(tensors))
    tensors[first][3] = False  # a neuron with no inputs: an all-zero row in every layout
    return Mask(tensors)


def small_mlp() -> MLP:
    torch.manual_seed(0)
    return MLP((20,), 6, hidden=(16, 12))


@pytest.mark.parametrize("layout", se.SPARSE_LAYOUTS)
@pytest.mark.parametrize("density", [1.0, 0.5, 0.1, 0.02])
def test_sparse_layouts_compute_what_masking_computes(layout, density):
    model, x = small_mlp(), torch.randn(7, 20)
    mask = random_mask(model, density)
    expected = se.masked_model(model, mask)(x)
    sparse = se.sparse_model(model, mask, layout)
    assert all(isinstance(m, se.SparseLinear) for m in (*sparse.hidden, sparse.output))
    assert sparse.hidden[0].weight.layout == {"csr": torch.sparse_csr, "coo": torch.sparse_coo,
                                              "bsr": torch.sparse_bsr}[layout]
    torch.testing.assert_close(sparse(x), expected, rtol=1e-5, atol=1e-6)
    # the unmasked model differs, so the comparison above can fail
    if density < 1:
        assert not torch.allclose(model(x), expected, atol=1e-4)
    assert int(torch.count_nonzero(sparse.hidden[0].weight.to_dense())) == int((mask["hidden.0.weight"]
           & (model.hidden[0].weight != 0)).sum())


def test_sparse_model_keeps_convolutions_dense_and_masked():
    model = build_model("cnn_mnist1d", (40,), 10, seed=0)
    mask, x = random_mask(model, 0.3), torch.randn(4, 40)
    sparse = se.sparse_model(model, mask, "csr")
    assert isinstance(sparse.conv1, nn.Conv1d) and isinstance(sparse.output, se.SparseLinear)
    assert torch.equal(sparse.conv2.weight, model.conv2.weight * mask["conv2.weight"])
    torch.testing.assert_close(sparse(x), se.masked_model(model, mask)(x), rtol=1e-5, atol=1e-6)


def test_bsr_block_tiles_the_matrix():
    assert se.bsr_blocksize((300, 784), 4) == 4
    assert se.bsr_blocksize((10, 100), 4) == 2
    assert se.bsr_blocksize((7, 13), 4) == 1
    w = torch.randn(10, 100)
    assert se.to_layout(w, "bsr", 4).values().shape[1:] == (2, 2)


def test_masked_model_zeros_exactly_the_pruned_weights_and_leaves_the_original():
    model = small_mlp()
    before = model.hidden[0].weight.clone()
    mask = random_mask(model, 0.3)
    masked = se.masked_model(model, mask)
    assert torch.equal(model.hidden[0].weight, before)
    assert torch.equal(masked.hidden[0].weight == 0, ~mask["hidden.0.weight"] | (before == 0))


def test_neuron_mask_removes_whole_neurons_and_their_outgoing_columns():
    model = small_mlp()
    with torch.no_grad():  # neuron 5 of the first layer is the strongest, neuron 2 the weakest
        model.hidden[0].weight[5] *= 100
        model.hidden[0].weight[2] *= 0.001
    mask = se.neuron_mask(model, 0.25)
    first, second, out = mask["hidden.0.weight"], mask["hidden.1.weight"], mask["output.weight"]
    kept1 = first.all(1)
    assert torch.equal(kept1 | ~first.any(1), torch.ones(16, dtype=torch.bool))  # whole rows
    assert int(kept1.sum()) == 4 and kept1[5] and not kept1[2]
    kept2 = second.any(1)
    assert int(kept2.sum()) == 3  # round(0.25 * 12)
    assert torch.equal(second.any(0), kept1) and torch.equal(second[kept2].all(0), kept1)  # columns
    assert out.any(1).all()  # no output neuron removed
    assert torch.equal(out.all(0), kept2)
    l1 = model.hidden[0].weight.abs().sum(1)
    assert set(torch.topk(l1, 4).indices.tolist()) == set(kept1.nonzero().flatten().tolist())


def test_neuron_mask_scores_from_another_model_and_refuses_the_output_layer():
    model, trained = small_mlp(), small_mlp()
    with torch.no_grad():
        trained.hidden[0].weight[:8] *= 10
    mask = se.neuron_mask(model, {"hidden.0.weight": 0.5}, scores_from=trained)
    assert torch.equal(mask["hidden.0.weight"].all(1), torch.arange(16) < 8)
    assert mask["hidden.1.weight"][:, :8].all() and mask["output.weight"].all()  # only layer 0 pruned
    with pytest.raises(ValueError, match="output layer"):
        se.neuron_mask(model, {"output.weight": 0.5})
    with pytest.raises(ValueError, match="ConvNet1d"):
        se.neuron_mask(build_model("resnet20", (3, 32, 32), 10), 0.5)


def test_structured_mlp_is_smaller_and_computes_the_same():
    model, x = small_mlp(), torch.randn(9, 20)
    with torch.no_grad():
        model.hidden[0].bias.fill_(0.5)  # removed neurons would add relu(0.5) if wired wrongly
    mask = se.neuron_mask(model, 0.5)
    small = se.structured_model(model, mask)
    assert isinstance(small, MLP)
    assert [tuple(m.weight.shape) for m in (*small.hidden, small.output)] == [(8, 20), (6, 8), (6, 6)]
    expected = 8 * 20 + 8 + 6 * 8 + 6 + 6 * 6 + 6
    assert sum(p.numel() for p in small.parameters()) == expected
    assert se.weight_bytes(small) == (8 * 20 + 6 * 8 + 6 * 6) * 4
    torch.testing.assert_close(small(x), se.masked_model(model, mask)(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, shape", [("cnn_mnist1d", (40,)), ("conv2", (3, 8, 8))])
def test_structured_conv_nets_remove_channels(name, shape):
    model, x = build_model(name, shape, 10, seed=0), torch.randn(3, *shape)
    mask = se.neuron_mask(model, 0.25)
    small = se.structured_model(model, mask)
    assert type(small) is type(model)
    def channels(net):
        return [m.out_channels for m in net.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]

    assert channels(small) == [round(0.25 * c) for c in channels(model)]
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in model.parameters()) / 4
    torch.testing.assert_close(small(x), se.masked_model(model, mask)(x), rtol=1e-4, atol=1e-5)


def test_structured_model_keeps_a_zero_row_neuron_that_is_still_read():
    model, x = small_mlp(), torch.randn(5, 20)
    tensors = {n: torch.ones_like(p, dtype=torch.bool) for n, p in prunable_parameters(model).items()}
    tensors["hidden.0.weight"][4] = False          # no inputs, but still read: a constant relu(b)
    tensors["hidden.1.weight"][:, 7] = False       # read by nobody: removable
    mask = Mask(tensors)
    small = se.structured_model(model, mask)
    assert small.hidden[0].out_features == 15 and small.hidden[1].in_features == 15
    torch.testing.assert_close(small(x), se.masked_model(model, mask)(x), rtol=1e-5, atol=1e-6)


def test_two_four_mask_keeps_the_two_largest_of_every_four():
    w = torch.randn(8, 32)
    keep = se.two_four_mask(w)
    groups, kept = w.abs().reshape(8, 8, 4), keep.reshape(8, 8, 4)
    assert torch.equal(kept.sum(2), torch.full((8, 8), 2))
    assert (groups[kept].reshape(8, 8, 2).min(2).values >= groups[~kept].reshape(8, 8, 2).max(2).values).all()
    with pytest.raises(ValueError, match="multiple of 4"):
        se.two_four_mask(torch.randn(4, 6))


def test_semi_structured_on_cpu_says_why_not():
    reason = se.semi_structured_support("cpu")
    assert isinstance(reason, str) and "8.0" in reason and "CPU" in reason
    with pytest.raises(se.FormatUnsupported, match="compute capability") as info:
        se.semi_structured_model(small_mlp(), "cpu")
    assert str(info.value) == reason


def test_weight_bytes_counts_values_and_indices():
    model = small_mlp()
    assert se.weight_bytes(model) == (16 * 20 + 12 * 16 + 6 * 12) * 4
    mask = random_mask(model, 0.2)
    csr = se.sparse_model(model, mask, "csr")
    expected = sum(t.numel() * t.element_size() for m in (*csr.hidden, csr.output)
                   for t in (m.weight.values(), m.weight.col_indices(), m.weight.crow_indices()))
    assert se.weight_bytes(csr) == expected
    nnz = sum(m.weight._nnz() for m in (*csr.hidden, csr.output))
    assert expected == nnz * (4 + 8) + (17 + 13 + 7) * 8  # float32 values, int64 indices
    coo = se.sparse_model(model, mask, "coo")
    assert se.weight_bytes(coo) == nnz * (4 + 2 * 8)


def test_time_call_excludes_warmup():
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= 2:
            time.sleep(0.05)

    t = se.time_call(fn, repeats=5, warmup=2)
    assert len(calls) == 2 + 5 and t.number == 1
    assert math.isfinite(t.median_s) and 0 < t.q25_s <= t.median_s <= t.q75_s < 0.01
    calls.clear()
    t = se.time_call(lambda: calls.append(1), repeats=3, warmup=1, min_time=1e-4)
    assert t.number > 1 and len(calls) == 1 + 3 * t.number


def test_time_calls_interleaves_the_functions():
    order = []
    timings = se.time_calls({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                            repeats=3, warmup=1)
    # warm-up, then per repeat each fn in turn: one untimed call (caches), one timed
    assert order == ["a", "b"] + ["a", "a", "b", "b"] * 3 and set(timings) == {"a", "b"}


def test_time_inference_and_train_step_run_and_train_updates_only_kept_weights():
    model = small_mlp()
    mask = random_mask(model, 0.3)
    for built in (se.masked_model(model, mask), se.sparse_model(model, mask, "csr"),
                  se.sparse_model(model, mask, "coo")):
        t = se.time_inference(built, 4, (20,), repeats=3, warmup=1, min_time=0)
        assert math.isfinite(t.median_s) and t.median_s > 0
    trained = se.sparse_model(model, mask, "csr")
    before = trained.hidden[0].weight.detach().to_dense().clone()
    se.time_train_step(trained, 4, (20,), repeats=2, warmup=1, min_time=0)
    after = trained.hidden[0].weight.detach().to_dense()
    assert not torch.equal(after, before) and torch.equal(after != 0, before != 0)
    masked = se.masked_model(model, mask)
    se.time_train_step(masked, 4, (20,), mask=mask, repeats=2, warmup=1, min_time=0)
    assert not (masked.hidden[0].weight[~mask["hidden.0.weight"]]).any()
    with pytest.raises(se.FormatUnsupported, match="cannot train"):
        se.time_train_step(se.sparse_model(model, mask, "bsr"), 4, (20,), repeats=1, warmup=0)


def test_benchmark_rows_and_crossover():
    model = small_mlp()
    rows = se.benchmark_formats(model, (20,), densities=(1.0, 0.1), batch_sizes=(2,), repeats=2,
                                warmup=1, min_time=0)
    fmts = {r["format"] for r in rows}
    assert fmts == set(se.FORMATS)
    semi = [r for r in rows if r["format"] == "semi_structured"]
    assert semi and all(r["unsupported"] and r["median_s"] is None and r["density"] == 0.5 for r in semi)
    bsr_train = [r for r in rows if r["format"] == "bsr" and r["mode"] == "train step"]
    assert bsr_train and all("cannot train" in r["unsupported"] for r in bsr_train)
    dense = [r for r in rows if r["format"] == "dense"]
    assert all(r["speedup"] == 1.0 for r in dense)
    csr = next(r for r in rows if r["format"] == "csr" and r["density"] == 0.1)
    assert csr["mask_density"] == pytest.approx(0.1, abs=0.01) and csr["speedup"] > 0
    structured = next(r for r in rows if r["format"] == "structured" and r["density"] == 0.1)
    assert 0.1 <= structured["mask_density"] < 0.2 and structured["weight_bytes"] < se.weight_bytes(model) / 4
    # every sample is kept, beside the dense sample taken next to it: the claims' paired values
    assert len(csr["samples"]) == 2 and len(csr["dense_samples"]) == 2
    logs = se.log_speedups(rows, "csr", 0.1, 2, csr["mode"])
    assert logs == pytest.approx([math.log(d / f) for d, f in zip(csr["dense_samples"], csr["samples"])])
    assert statistics.median(csr["samples"]) == pytest.approx(csr["median_s"])
    with pytest.raises(ValueError, match="cannot train"):
        se.log_speedups(rows, "bsr", 0.1, 2, "train step")


def test_benchmark_restores_the_denormal_mode():
    original = se.flushes_denormals()
    try:
        for mode in (False, True):
            torch.set_flush_denormal(mode)
            assert se.flushes_denormals() == mode
            se.benchmark_formats(small_mlp(), (20,), densities=(0.5,), formats=("dense",), batch_sizes=(1,),
                                 repeats=1, warmup=0, train_step=False, flush_denormal=not mode)
            assert se.flushes_denormals() == mode
    finally:
        torch.set_flush_denormal(original)


def test_crossover_density_is_the_highest_density_that_beats_dense():
    def row(d, s, fmt="csr", b=1, mode="inference"):
        return {"density": d, "format": fmt, "batch_size": b, "mode": mode, "speedup": s}

    rows = [row(1.0, 0.3), row(0.5, 0.9), row(0.2, 1.4), row(0.1, 0.95), row(0.05, 3.0),
            row(0.5, 2.0, fmt="coo"), row(0.5, 5.0, b=256), row(0.5, 5.0, mode="train step"),
            row(0.9, None), row(0.01, 1.0)]
    assert se.crossover_density(rows, "csr", 1, "inference") == 0.2
    assert se.crossover_density(rows, "coo", 1, "inference") == 0.5
    assert se.crossover_density(rows, "csr", 256, "inference") == 0.5
    assert se.crossover_density(rows, "bsr", 1, "inference") is None
    assert se.crossover_density([row(0.1, 1.0)], "csr", 1, "inference") is None
    assert se.crossover_density(rows, "csr", 1, "inference", min_speedup=1.5) == 0.05


# --- notebook 08's reads: timing bands, what the formats touch, the closing answer ----
def _timed(fmt, density, dense_samples, samples, batch=1, mode="inference"):
    return dict(format=fmt, density=density, speedup=dense_samples[0] / samples[0], batch_size=batch, mode=mode,
                samples=list(samples), dense_samples=list(dense_samples))


def test_speedup_quartiles_are_those_of_the_per_repeat_speedups():
    rows = [_timed("csr", 0.1, [2.0, 2.0, 2.0, 2.0, 2.0], [1.0, 2.0, 4.0, 0.5, 1.0]),
            _timed("csr", 1.0, [1.0, 1.0], [2.0, 1.0]),
            dict(format="csr", density=0.5, speedup=None, batch_size=1, mode="inference")]
    ds, lo, hi = ss.speedup_quartiles(rows, "csr", 1, "inference")
    assert ds == [1.0, 0.1]  # the row that could not run has no band
    assert lo == pytest.approx([0.625, 1.0]) and hi == pytest.approx([0.875, 2.0])  # speed-ups 2, 1, .5, 4, 2
    bands = ss.speedup_bands({"lenet300_100": rows}, ("csr", "masked"), (1,), "inference")
    assert bands == {"LeNet-300-100, batch 1": {"CSR": (ds, lo, hi)}}


def test_speed_figure_shades_the_interquartile_range_and_says_so():
    import matplotlib
    matplotlib.use("Agg")
    timings = {"lenet300_100": [_timed("csr", 1.0, [1.0, 1.0, 1.0], [2.0, 1.0, 0.5]),
                                _timed("csr", 0.1, [1.0, 1.0, 1.0], [0.5, 0.25, 1.0])]}
    fig = sp.speed_figure(timings, ("csr",), (1,), "inference")
    assert len(fig.axes[0].collections) == 1  # one shaded band, for the one format
    assert "median of 3 timing repeats; shaded: their interquartile range" in fig._suptitle.get_text()


def test_accuracy_vs_speed_says_what_its_points_and_bars_are():
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np

    routes = {"ticket": ([2.0, 4.0], np.array([[0.8, 0.7], [0.9, 0.6]])), "small": ([3.0, 6.0], np.array([[0.7, 0.5]]))}
    fig = sp.accuracy_vs_speed(routes, [20.0, 5.0], [0.95, 0.97], "speed-up", "accuracy")
    title = fig.axes[0].get_legend().get_title().get_text()
    assert title.startswith("points: mean over 1/2 seeds, bars: min-max")


def test_sparse_layer_share_counts_only_linear_layers():
    assert se.sparse_layer_share(build_model("lenet300_100", (784,), 10, seed=0), (784,)) == (1.0, 1.0)
    weights, work = se.sparse_layer_share(build_model("cnn_mnist1d", (40,), 10, seed=0), (40,))
    assert weights == pytest.approx(1600 / (160 + 3072 + 3072 + 1600))  # only the 160 -> 10 output layer
    assert work == pytest.approx(1600 / (3200 + 30720 + 15360 + 1600))  # convolutions reuse weights per position


def _verdict(claim, verdict, fragile=""):
    from lthlib.report.claims import Claim
    return Claim(notebook="99", claim=claim, role="headline", verdict=verdict, mean=0.1, ci_low=0.0, ci_high=0.2,
                 n=8, threshold=0.0, fragile=fragile)


def test_notebook_08_answer_follows_the_verdicts():
    holds = [_verdict(c, "holds") for c in ("a", "b", "c")]
    text = ss.answer({1: _verdict("f1", "contradicted"), 256: _verdict("f256", "holds")},
                     {1: _verdict("s1", "holds"), 256: _verdict("s256", "not shown")}, *holds, 5.2, "mlp on data")
    assert "faster than dense at 2% of the weights? batch 1: no, slower (*contradicted*); batch 256: yes (*holds*)" \
        in text
    assert "Slower than dense at 20%? batch 1: yes (*holds*); batch 256: not clearly (*not shown*)" in text
    assert "At 2% of the weights CSR beat dense at batch 256, not at batch 1." in text
    assert "very low density" not in text and "fine-tuning" not in text  # structured IMP is rewound, not fine-tuned
    assert "winning-ticket initialisation brings no improvement over a random one" in text
    assert "an argument, not a measurement" in text and "2-thread tables" not in text
    scoped = ss.answer({1: _verdict("f1", "contradicted"), 256: _verdict("f256", "holds")}, {}, *holds, 5.2, "m",
                       crossovers="a sparse format beat dense on LeNet-300-100, batch 256: CSR at 10% of the weights")
    assert ("below a density that depends on the network, the layer and the batch. A sparse format beat dense on "
            "LeNet-300-100, batch 256: CSR at 10% of the weights. And at equal weight count") in scoped
    text = ss.answer({}, {}, _verdict("a", "not shown"), *holds[1:], 5.2, "mlp on data")
    assert "The timing claims are not made at this scale" in text
    assert "do not give one simple answer" in text
    fragile = ss.answer({256: _verdict("f", "holds", fragile="flips")}, {}, *holds, 5.2, "m")
    assert "not clearly make it faster" in fragile  # a fragile verdict is no finding


# --- notebook 08's bound, large layer and routes (lthlib.experiments.speed_study, speed_plots) ----------

def _bound_rows():
    # dense's roofline time is 0.5 s at batch 1: bound_speedup = 0.5 / the format's roofline time
    return {"lenet300_100": [dict(format="csr", density=d, batch_size=1, bound_s=t, bound_speedup=0.5 / t)
                             for d, t in ((1.0, 1.0), (0.1, 0.125))]}


def _net_timings():
    # dense median 1 s (twice its 0.5 s roofline); CSR medians 2 s at 100% and 0.5 s at 10%
    return {"lenet300_100": [dict(_timed("csr", 1.0, [1.0] * 3, [2.0] * 3), median_s=2.0),
                             dict(_timed("csr", 0.1, [1.0] * 3, [0.5] * 3), median_s=0.5),
                             dict(_timed("masked", 0.1, [1.0] * 3, [1.0] * 3), median_s=1.0)]}


def test_ceiling_series_and_attained_share():
    # the ceiling is this dense timing over the format's roofline: 1 s / 1 s = 1x, 1 s / 0.125 s = 8x; the
    # speed-up at both rooflines (0.5x, 4x) is half of it, as dense ran at half its roofline
    assert ss.ceiling_series(_net_timings(), _bound_rows(), ("csr",), (1,)) == {
        "LeNet-300-100, batch 1": {"CSR": ([1.0, 0.1], [1.0, 8.0])}}
    rows = ss.attained(_net_timings(), _bound_rows(), ("csr", "masked"))
    assert [(r["density"], r["speedup"], r["ceiling"], r["bound_speedup"], r["share"], r["dense_share"])
            for r in rows] == [(1.0, 0.5, 1.0, 0.5, 0.5, 0.5), (0.1, 2.0, 8.0, 4.0, 0.25, 0.5)]
    words = ss.attained_words(rows)
    assert "a median 25% of their ceilings" in words  # the lowest density only
    assert "the closest, among the rows where the format could gain more than 10% at both rooflines, CSR" in words
    assert "Dense itself ran at 50% to 50% of its own roofline" in words
    assert "| LeNet-300-100 | 1 | CSR | 10% | 2.00x | 8.0x | 4.0x | 25% | 50% |" in words and "| 100% |" not in words
    # a format whose work stays dense (at both rooflines 1x) is not credited for running at dense speed
    flat = [dict(rows[1], bound_speedup=1.02, share=0.99)]
    assert "in no row could a format gain more than 10% at both rooflines" in ss.attained_words(flat)
    assert "No sparse format ran" in ss.attained_words([])


def test_speed_figure_draws_the_ceiling_dashed_in_inference_only():
    fig = sp.speed_figure(_net_timings(), ("csr",), (1,), "inference", _bound_rows())
    dashed = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [1.0, 8.0]
    assert "dashed: the ceiling" in fig._suptitle.get_text()
    step = {"lenet300_100": [dict(r, mode="train step") for r in _net_timings()["lenet300_100"]]}
    fig = sp.speed_figure(step, ("csr",), (1,), "train step", _bound_rows())
    assert not [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "--"]  # no roofline of a training step


def _layer_rows():
    rows = []
    for b in (1, 8):
        for fmt, d, up, bound in (("csr", 0.5, 0.6, 0.7), ("csr", 0.1, 2.0, 3.3), ("scipy_csr", 0.5, 1.2, 1.3),
                                  ("scipy_csr", 0.1, 3.0, 5.0), ("masked", 0.5, 1.0, 1.0),
                                  ("dense", 0.5, 1.0, 1.0)):
            rows.append(dict(out_features=64, in_features=64, format=fmt, density=d, batch_size=b, threads=1, mode="inference",
                             speedup=up if b == 1 else up / 4, bound_speedup=bound, blocksize=1, samples=[1.0] * 3,
                             attained=0.8, ceiling_speedup=2 * bound))
    return rows


def test_large_layer_rows_words_and_panels():
    from lthlib.experiments.sparse_bounds import Machine, bound_crossover

    machine = Machine(1e11, 1e10, 1, "cpu")
    best = ss.large_layer_rows(_layer_rows(), machine, 1.1)
    assert best[0] == dict(batch_size=1, format="scipy_csr", density=0.5, speedup=1.2, bound_speedup=1.3,
                           ceiling=2.6, gap=2.6 / 1.2, dense_attained=0.8,
                           bound_density=bound_crossover(machine, "scipy_csr", (64, 64), 1))
    assert best[1] == dict(batch_size=8, format=None)  # nothing beat dense by 10% at batch 8
    words = ss.large_layer_words(best, "64 x 64", 1, 1.1)
    assert "at batch 1, SciPy CSR (int32) beat dense by more than 10% at 50% of the weights" in words
    assert "1.20x there (2.2x below its ceiling of 2.6x; 1.3x if both ran at their roofline)" in words
    assert "at batch 8 no kernel beat dense" in words
    only_csr = ss.large_layer_rows(_layer_rows(), machine, 1.1, formats=("csr",))
    assert (only_csr[0]["format"], only_csr[0]["density"]) == ("csr", 0.1)  # SciPy left out
    assert "torch BSR (blocks) on a block-structured mask beat" in ss.large_layer_words(
        [dict(best[0], format="bsr")], "l", 1, 1.1)
    # above the speed-up at both rooflines (1.3x) but below the ceiling: the slow dense baseline, said so
    slow = dict(best[0], speedup=2.0, gap=1.3, dense_attained=0.3)
    assert ("1.3x below its ceiling of 2.6x; more than the 1.3x it would have if both ran at their roofline, "
            "because dense reached only 30% of its own roofline there") in ss.large_layer_words([slow], "l", 1, 1.1)
    passed = dict(best[0], speedup=3.0, gap=2.6 / 3.0)  # above the ceiling: the calibration read the machine low
    assert "above its ceiling of 2.6x: no kernel beats the roofline" in ss.large_layer_words([passed], "l", 1, 1.1)
    panels, limits = ss.layer_panels(_layer_rows())
    assert panels["batch 1"]["SciPy CSR (int32)"] == ([0.5, 0.1], [1.2, 3.0])
    assert limits["batch 1"]["SciPy CSR (int32)"] == ([0.5, 0.1], [2.6, 10.0])  # the ceilings
    fig = sp.layer_figure(_layer_rows(), "64 x 64")
    assert len(fig.axes[0].lines) == 3 * 2 + 1  # a line and a bound per format, the break-even
    from matplotlib.colors import to_hex
    colours = {line.get_label(): to_hex(line.get_color()) for line in fig.axes[0].lines}
    assert colours["SciPy CSR (int32)"] == to_hex(ss.FORMAT_COLORS["scipy_csr"])  # one colour per format everywhere
    net = sp.speed_figure({"lenet300_100": [_timed("csr", 0.1, [1.0] * 3, [0.5] * 3)]}, ("masked", "csr"), (1,),
                          "inference")
    assert to_hex(net.axes[0].lines[0].get_color()) == to_hex(ss.FORMAT_COLORS["csr"])
    assert len(set(ss.FORMAT_COLORS.values())) == len(ss.FORMAT_COLORS)
    formats_only = set(ss.FORMAT_COLORS.values()) - {ss.FORMAT_COLORS["structured"], ss.FORMAT_COLORS["dense"]}
    assert not formats_only & set(sr.ROUTE_COLORS.values())  # a route's colour names no other format


def _routes():
    def route(name, acc, speeds, seconds, macs):
        r = sr.Route(name, np.array(acc), {}, [])
        r.speed = {b: (s, "") for b, s in zip((1, 256), speeds)}
        r.seconds, r.macs = seconds, macs
        return r
    return [route("dense", [0.80, 0.82], (1.0, 1.0), 10.0, 1.0),
            route("small", [0.70, 0.72], (3.0, 8.0), 2.0, 0.05),
            route("ticket", [0.76, 0.78], (0.9, 2.0), 70.0, 4.0),
            route("rigl", [0.74, 0.74], (1.0, 2.5), 10.0, 0.2)]


def test_route_readings_pick_the_most_accurate_smaller_route_at_equal_speed_and_cost():
    found = sr.route_readings(_routes())
    # dense (always the most accurate, never faster) compares nothing: it is left out
    assert found["speed 1"].name == "ticket" and found["speed 256"].name == "ticket"
    assert found["time"].name == "ticket" and found["macs"].name == "ticket"
    assert found["dominates"] == []
    routes = _routes()
    routes[3].accuracy = np.array([0.80, 0.80])  # RigL: as fast, cheaper and more accurate than the ticket
    assert [r.name for r in sr.route_readings(routes)["dominates"]] == ["rigl"]
    words = sr.practical_words(routes, 1.1)
    assert "at batch 1 the ticket runs no faster than dense (0.90x" in words
    assert "equal speed there means the dense network" in words
    # dense (0.81) is more accurate than the ticket (0.77): said once, with both spreads
    assert ("within the noise; the dense network is more accurate: 0.810 (0.800-0.820), 2 seeds, against the "
            "ticket's 0.770 (0.760-0.780))") in words
    assert "small dense network of the ticket's size runs 8.00x (faster), less accurate than the ticket" in words
    assert "No, not on this machine:** RigL (1x training) (0.800 (0.800-0.800), 2 seeds) is at least as fast" in words
    assert "on the front of speed, cost and accuracy" in sr.practical_words(_routes(), 1.1)
    routes = _routes()
    routes[2].picked = {1: "masked", 256: "csr"}
    words = sr.route_words(routes, {1: 3.0, 256: 1.5}, 1.1, machine_words="calibration 2")
    # the masked form does the dense work: read against the noise margin, never against a ceiling
    assert "at batch 1, it runs 0.90x in the masked form, which does the dense work, so its distance from 1x is " \
        "outside the 10% noise margin" in words
    assert "at batch 256, it runs 2.00x, above its ceiling of 1.5x: no kernel beats the roofline" in words
    assert "(this dense timing over the ticket's roofline time (roofline from calibration 2))" in words
    assert "it runs 2.00x, 2.0x below its ceiling of 4.0x (CSR)" in sr.route_words(routes, {1: 3.0, 256: 4.0}, 1.1)
    assert "or within 10% of it" in sr.route_words(routes, {1: 3.0}, noise=1.1)
    # a larger network at the ticket's speed, more accurate: the verdict says no even when nothing dominates
    assert "but at its speed a larger network running plain dense code is more accurate" in sr.practical_words(
        _routes(), 1.1, "X.", rivals_win=True)
    rows = [dict(batch_size=1, format="scipy_csr", density=0.2, speedup=2.0, bound_speedup=3.0, ceiling=3.0,
                 gap=1.5, bound_density=0.5, dense_attained=0.8)]
    unclear = ss.conclusion(rows, "4096 x 4096", 1, "machine", _routes(), 5.2, "mlp", 1.1,
                            _verdict("SciPy CSR is faster", "not shown"), noise=[0.4, 1.5])
    # a median crossover is no heading: the claim fixed before the run decides it
    assert "**(a) Speed exists? Not shown on this run.**" in unclear and "Speed exists: yes" not in unclear
    assert "SciPy CSR (int32) beat dense by more than 10% at 20%" in unclear and "1.5x below its ceiling" in unclear
    assert "measured 0.40x to 1.50x of dense" in unclear and "**(b) Is it practical?**" in unclear
    assert "One thread is the case most favourable to sparse kernels, by argument" in unclear
    assert "sparse_dot_mkl" in unclear and "has the 2-thread tables" not in unclear
    with_speed = ss.conclusion(rows, "l", 1, "m", _routes(), 5.2, "mlp", 1.1, None, equal_speed="EQUAL SPEED.",
                               rivals_win=True)
    assert "EQUAL SPEED. Among the smaller routes" in with_speed and "No, not on this machine" in with_speed
    held = ss.conclusion([dict(batch_size=1, format=None)], "l", 1, "m", _routes(), 5.2, "mlp", 1.1,
                         _verdict("SciPy CSR is faster", "holds"))
    assert held.startswith("**(a) Speed exists: yes, on this run.**")
    assert "The claim fixed before the run, *SciPy CSR is faster*: yes (*" in held
    assert "Speed exists: no" in ss.conclusion(rows, "l", 1, "m", _routes(), 5.2, "mlp", 1.1,
                                               _verdict("x", "contradicted"))
    table = sr.route_table(_routes(), 5.2)
    assert "| IMP ticket | 2 | 0.770" in table and "| 70.0 s | 4.00 |" in table
    assert "learning-rate rewinding" in table
    fig = sp.routes_figure(_routes(), "accuracy", noise=1.1)
    assert len(fig.axes) == 3 and all(len(ax.containers) == 4 for ax in fig.axes)
    # batch 1's points span 0.9x-3x: labelled ticks from below to above them, and the noise band shaded
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0.7x", "1x", "1.5x", "2x", "3x"]
    band = fig.axes[0].patches[0]
    assert (band.get_x(), band.get_x() + band.get_width()) == pytest.approx((1 / 1.1, 1.1))
    narrow = _routes()
    for r, x in zip(narrow, (1.0, 1.05, 0.95, 1.1)):
        r.speed[1] = (x, "")
    labels = [t.get_text() for t in sp.routes_figure(narrow, "a", noise=1.1).axes[0].get_xticklabels()]
    assert labels == ["0.85x", "0.9x", "0.95x", "1x", "1.05x", "1.1x", "1.15x"]


def test_size_table_and_equal_speed_words():
    fast = {(b, i): {"ticket": (2.0 * (i + 1), "CSR"), "masked": (1.0, ""), "structured": (1.5 * (i + 1), ""),
                     "small": (3.0 * (i + 1), ""), "dense_ms": (1.0, "1 and 1.2 ms")} for b in (1, 256) for i in (0, 1)}
    acc = {"ticket": np.array([[0.8, 0.7], [0.8, 0.7]]), "structured": np.array([[0.75, 0.6], [0.75, 0.6]]),
           "small": np.array([[0.76, 0.65], [0.76, 0.65]])}
    table = sr.size_table(fast, acc, [20.0, 5.0], (1, 256))
    assert "| 5.0% | IMP ticket (sparse format) | 0.700 (0.700-0.700) | 4.00x (CSR) | 4.00x (CSR) |" in table
    assert "| 20.0% | IMP ticket (masked, as trained) | 0.800" in table and "batch 256 1 and 1.2 ms" in table
    speeds = {k: [fast[256, i][k][0] for i in (0, 1)] for k in ("ticket", "structured", "small")}
    words = sr.equal_speed_words(speeds, acc, [20.0, 5.0], 256, 1.1)
    # at 5% the ticket runs 4x; the small network at 20% runs 3x (slower than 4/1.1), at 5% 6x and less accurate
    assert "less accurate. At 5.0% the ticket runs 4.00x" in words and "small dense network at 5.0% runs 6.00x" in words
    assert "no structured IMP timed is as fast" in words  # structured at 5% runs 3x < 4/1.1: none as fast
    assert "At 20.0% the ticket runs 2.00x at 0.800 (0.800-0.800); structured IMP at 5.0% runs 3.00x" in words
    # at the 5% ticket's speed (4x), the small network at 20% (3x) is too slow; with another call's 3.2x it is not
    # (3.2 / 1.1 < 3), and it is more accurate (0.76 > 0.70): the reading depends on the call, and says so
    text, found = sr.equal_speed_summary(speeds, acc, [20.0, 5.0], 256, 1.1, 1, again=3.2)
    assert not found and "depends on which call's timing of the ticket is read" in text
    assert "section 5's small dense network at 20.0% (3.00x; 0.760 (0.760-0.760), 2 seeds) is more accurate " \
        "than the ticket at 5.0% (4.00x and 3.20x in sections 5 and 6; 0.700 (0.700-0.700), 2 seeds)" in text
    text, found = sr.equal_speed_summary(speeds, acc, [20.0, 5.0], 256, 1.1, 1, again=3.1)
    assert found is False and "depends" in text  # 3.1 / 1.1 = 2.82 < 3 too; the first call's 4x still excludes it
    text, found = sr.equal_speed_summary(speeds, acc, [20.0, 5.0], 256, 1.1, 1, again=None)
    assert not found and text.startswith("At about the ticket's batch-256 speed (within 10%), no route")
    same, found = sr.equal_speed_summary(speeds, acc, [20.0, 5.0], 256, 1.1, 0, again=2.1)
    assert not found and "no route of section 5" in same  # the 20% ticket is the most accurate


def test_timing_agreement_gives_both_calls_and_their_ratio():
    fast = {(b, 0): {"ticket": (2.0 if b == 256 else 0.5, "CSR"), "masked": (1.0 if b == 256 else 2.0, ""),
                     "structured": (6.0, ""), "small": (5.0, "")} for b in (1, 256)}  # batch 1: masked is faster
    routes = _routes()  # small 3x / 8x, ticket 0.9x / 2x (section 6); no structured route in it
    text = sr.timing_agreement(fast, 0, routes, 1.1)
    assert "batch 1: small dense network 5.00x and 3.00x (ratio 0.60), IMP ticket 2.00x and 0.90x (ratio 0.45)" in text
    assert "batch 256: small dense network 5.00x and 8.00x (ratio 1.60), IMP ticket 2.00x and 2.00x (ratio 1.00)" in text
    assert "3 of these ratios fall outside the 10% margin" in text and "depends on which call" in text


def test_routes_for_prices_each_route_by_its_trainings():
    import lthlib
    from lthlib.experiments.imp import IMPResult, IMPRound, IMPSettings
    from lthlib.methods.sparse_training import forward_flops

    settings = IMPSettings(lthlib.for_scale("smoke"), rounds=2)
    model = small_mlp()
    masks = [random_mask(model, 0.5), random_mask(model, 0.25)]
    imp = IMPResult(settings, None, [IMPRound(index=i + 1, mask=m, ticket=None) for i, m in enumerate(masks)])
    t = settings.train.iterations
    assert sr.ticket_training(imp, 2) == [(t, None, "model"), (t, masks[0], "model"), (t, masks[1], "model")]
    routes = sr.routes_for(model, model, imp, 2, {"dense": [0.5], "ticket": [0.6], "rigl_5x": [0.7]},
                           {"ticket": masks[1], "rigl_5x": masks[1]}, masks[1], None, {})
    assert [r.name for r in routes] == ["dense", "ticket", "rigl_5x"]
    assert set(routes[1].forms) == {"masked", "csr", "coo"} and routes[2].training == [(5 * t, masks[1], "model",
                                                                                         None)]
    step = sr.cost_routes(routes, model, model, (model.hidden[0].in_features,), 4, repeats=1)
    assert set(step) == {"dense", "masked", "small"}
    kept = sum(forward_flops(model, (20,), masks[1]).values()) / sum(forward_flops(model, (20,)).values())
    assert routes[0].macs == 1.0 and math.isclose(routes[2].macs, 5 * kept)
