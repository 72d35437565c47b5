# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "a7_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# # Assignment 7 · Masked, dense, smaller: MACs against measured latency
#
# Builds on notebook **08** (is sparsity fast?), in the spirit of MIT 6.5940's pruning lab. A
# mask at 10% density removes 90% of the multiply-accumulates (MACs) *on paper*; a network
# with whole units removed is *physically* smaller. Which one runs faster on your machine, and
# by how much compared with what the MACs promise? You write the tools (count MACs, build the
# smaller network, time a call), measure the three networks on **your** machine, report the
# numbers, and explain the gap.
#
# | part | what you do | kind | points |
# |---|---|---|---|
# | A | `count_macs`: multiply-accumulates per example, per layer, with or without a mask | implementation | 2 |
# | B | `shrink`: the physically smaller network without some hidden units | implementation | 3 |
# | C | `median_latency`: a fair timing of one call | implementation | 2 |
# | D | `MY_NUMBERS`: your measurements, checked for consistency | judgement (measurement) | 2 |
# | E | the gap, in words (graded by hand) | explanation | 3 |
#
# **How to work.** Replace each `raise NotImplementedError()` with your code and run the test
# cell below it. **Write each part yourself:** a part whose function calls lthlib's own
# implementation of it (`lthlib.methods.sparse_training.forward_flops`,
# `lthlib.experiments.sparse_exec.structured_model`, `time_call`, `time_calls`) scores 0, and its test cell
# says so. The measurement cell uses lthlib's versions of A to C, so a mistake there does not
# spoil your numbers.
#
# **Time:** the tests take seconds. Run the measurement at `SCALE = "quick"` (about 30 s, more
# repeats) for the numbers you report; `"smoke"` times with few repeats (grading).

# %% tags=["parameters"]
SCALE = "smoke"  # "smoke": few timing repeats (grading); "quick": the numbers to report (about 30 s)

# %% nbgrader={"grade": false, "grade_id": "a7_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import copy
import statistics
import time

import torch
from torch import nn

import lthlib
from lthlib.masks import Mask
from lthlib.models.networks import MLP
from lthlib.report.grading import no_shortcut
from lthlib.settings import check_parameters

check_parameters(SCALE=SCALE)
torch.manual_seed(0)
INPUT_SHAPE = (40,)  # MNIST-1D examples have 40 features

# %% [markdown] nbgrader={"grade": false, "grade_id": "a7_part_a", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part A · Counting MACs (2 points)
#
# A `Linear` layer computes one multiply-accumulate per weight per example; a `Conv1d` layer
# one per weight **per output position**. Return `{weight name: MACs for one example}` for
# every prunable layer (`lthlib.prunable_parameters(model)`; biases, activations and pooling
# are not counted). With a `mask`, count only the weights it keeps (the MACs a kernel that
# skipped the zeros would do). The output length of a convolution depends on its stride and
# padding: run the model once on one example (`torch.zeros(1, *input_shape)`) and read it, for
# instance with forward hooks (`module.register_forward_hook`); remove them afterwards.

# %% nbgrader={"grade": false, "grade_id": "count_macs", "locked": false, "schema_version": 3, "solution": true, "task": false}
def count_macs(model, input_shape, mask=None):
    """{prunable weight name: multiply-accumulates for one example}, counting kept weights only with a mask."""
    ### BEGIN SOLUTION
    names = {module: f"{name}.weight" for name, module in model.named_modules()
             if f"{name}.weight" in lthlib.prunable_parameters(model)}
    macs, hooks = {}, []

    def hook(module, inputs, output):
        name = names[module]
        weights = int(mask[name].sum()) if mask is not None and name in mask else module.weight.numel()
        positions = output[0, 0].numel()  # output positions per channel (1 for Linear)
        macs[name] = weights * positions

    for module in names:
        hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
    return {name: macs[name] for name in lthlib.prunable_parameters(model)}
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_count_macs", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
count_macs = no_shortcut(count_macs, "Part A", "lthlib.methods.sparse_training.forward_flops", "lthlib.methods.sparse_training.training_flops")
_mlp = MLP(INPUT_SHAPE, 10, hidden=(8, 4))
_macs = count_macs(_mlp, INPUT_SHAPE)
assert isinstance(_macs, dict) and list(_macs) == list(lthlib.prunable_parameters(_mlp)), \
    f"return {{weight name: MACs}} for the prunable weights, {list(lthlib.prunable_parameters(_mlp))}"
assert _macs == {"hidden.0.weight": 320, "hidden.1.weight": 32, "output.weight": 40}, (
    "a Linear layer does one MAC per weight per example: 40 x 8 = 320, 8 x 4 = 32, 4 x 10 = 40; "
    f"you gave {_macs}")
_mask = Mask({n: torch.arange(p.numel()).reshape(p.shape) % 4 == 0 for n, p in lthlib.prunable_parameters(_mlp).items()})
_masked = count_macs(_mlp, INPUT_SHAPE, _mask)
assert _masked == {n: int(m.sum()) for n, m in _mask.items()}, \
    f"with a mask, count the kept weights only: {({n: int(m.sum()) for n, m in _mask.items()})}; you gave {_masked}"
assert not any(h for m in _mlp.modules() for h in m._forward_hooks.values()), "remove your forward hooks afterwards"
_cnn = lthlib.build_model("cnn_mnist1d", INPUT_SHAPE, 10, channels=4)
_conv = count_macs(_cnn, INPUT_SHAPE)
_first = next(iter(lthlib.prunable_parameters(_cnn)))
with torch.no_grad():
    _length = _cnn.features[0](torch.zeros(1, 1, 40)).shape[-1] if hasattr(_cnn, "features") else None
_w = lthlib.prunable_parameters(_cnn)[_first]
assert _conv[_first] != _w.numel(), (f"{_first} is a convolution: it uses each of its {_w.numel()} weights at every output "
                                     "position, so its MACs are weights x output length, not the weight count")
print("Part A: visible tests passed")
### BEGIN HIDDEN TESTS
from lthlib.methods.sparse_training import forward_flops as _reference

for _model in (MLP(INPUT_SHAPE, 10, hidden=(33, 17, 5)), lthlib.build_model("cnn_mnist1d", INPUT_SHAPE, 10, channels=6)):
    _kind = "a 1-D CNN" if not isinstance(_model, MLP) else "an unseen MLP"
    _g = torch.Generator().manual_seed(62)
    _mask = Mask({n: torch.rand(p.shape, generator=_g) < 0.3 for n, p in lthlib.prunable_parameters(_model).items()})
    for _m, _label in ((None, "no mask"), (_mask, "with a mask")):
        _mine, _want = count_macs(_model, INPUT_SHAPE, _m), _reference(_model, INPUT_SHAPE, _m)
        for _n, _v in _want.items():
            assert _n in _mine and abs(_mine[_n] - _v) < 0.5, (
                f"{_kind}, {_label}: {_n} does {int(round(_v)):,} MACs per example, you gave {_mine.get(_n)} (weights kept x "
                "output positions)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a7_part_b", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part B · The physically smaller network (3 points)
#
# `model` is an `lthlib.models.networks.MLP` (`model.hidden`: a list of `nn.Linear`, then
# `model.output`). `keep` maps some hidden layers' weight names (`"hidden.0.weight"`...) to
# the indices of the units (rows) to keep, in increasing order. Return a **new** MLP whose
# hidden layers have only those units: each kept unit's row of weights and its bias, and,
# in the layer after it, only the columns that read kept units. Hidden layers not in `keep`
# keep every unit; the output layer always does. The result computes exactly what the
# original computes with the removed units silenced (their outputs set to zero), with fewer
# weights. Do not change `model`.

# %% nbgrader={"grade": false, "grade_id": "shrink", "locked": false, "schema_version": 3, "solution": true, "task": false}
def shrink(model, keep):
    """A new, smaller MLP without the hidden units ``keep`` leaves out."""
    ### BEGIN SOLUTION
    layers = list(model.hidden) + [model.output]
    rows = [keep.get(f"hidden.{i}.weight", torch.arange(layer.out_features)) for i, layer in enumerate(model.hidden)]
    smaller = MLP((layers[0].in_features,), model.output.out_features, hidden=tuple(len(r) for r in rows))
    new_layers = list(smaller.hidden) + [smaller.output]
    with torch.no_grad():
        cols = torch.arange(layers[0].in_features)
        for i, (old, new) in enumerate(zip(layers, new_layers)):
            out_rows = rows[i] if i < len(rows) else torch.arange(old.out_features)
            new.weight.copy_(old.weight[out_rows][:, cols])
            new.bias.copy_(old.bias[out_rows])
            cols = out_rows
    return smaller
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_shrink", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 3}
shrink = no_shortcut(shrink, "Part B", "lthlib.experiments.sparse_exec.structured_model", "lthlib.experiments.sparse_exec.neuron_mask")


def _silenced(model, keep):
    """The original network with the units keep leaves out silenced (their rows and biases zero)."""
    _out = copy.deepcopy(model)
    with torch.no_grad():
        for _i, _layer in enumerate(_out.hidden):
            _rows = keep.get(f"hidden.{_i}.weight")
            if _rows is not None:
                _off = torch.ones(_layer.out_features, dtype=torch.bool)
                _off[_rows] = False
                _layer.weight[_off] = 0.0
                _layer.bias[_off] = 0.0
    return _out


_mlp = MLP(INPUT_SHAPE, 10, hidden=(6, 5))
_before = {n: t.clone() for n, t in _mlp.state_dict().items()}
_keep = {"hidden.0.weight": torch.tensor([0, 2, 3]), "hidden.1.weight": torch.tensor([1, 4])}
_small = shrink(_mlp, _keep)
assert _small is not _mlp and all(torch.equal(_mlp.state_dict()[n], _before[n]) for n in _before), \
    "return a new network and leave model as it was"
_shapes = {n: tuple(t.shape) for n, t in _small.state_dict().items()}
_want = {"hidden.0.weight": (3, 40), "hidden.0.bias": (3,), "hidden.1.weight": (2, 3), "hidden.1.bias": (2,),
         "output.weight": (10, 2), "output.bias": (10,)}
assert _shapes == _want, (f"keeping 3 of 6 and 2 of 5 units, the shapes are {_want}: a removed unit takes its row and "
                          f"bias, and its column of the next layer; you gave {_shapes}")
_x = torch.randn(7, 40, generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    _same = torch.allclose(_small(_x), _silenced(_mlp, _keep)(_x), atol=1e-6)
assert _same, ("the smaller network must compute what the original computes with the removed units silenced: keep "
               "the rows of the kept units (in the order given), and in the next layer the columns that read them")
_only_first = shrink(_mlp, {"hidden.0.weight": torch.tensor([5])})
assert tuple(_only_first.hidden[1].weight.shape) == (5, 1), "a hidden layer not in keep keeps all its units"
print("Part B: visible tests passed")
### BEGIN HIDDEN TESTS
_g = torch.Generator().manual_seed(63)
_mlp = MLP(INPUT_SHAPE, 10, hidden=(12, 9, 7))
_keep = {"hidden.0.weight": torch.sort(torch.randperm(12, generator=_g)[:5]).values,
         "hidden.2.weight": torch.sort(torch.randperm(7, generator=_g)[:3]).values}
_small = shrink(_mlp, _keep)
_x = torch.randn(50, 40, generator=_g)
assert [layer.out_features for layer in _small.hidden] == [5, 9, 3], \
    "three hidden layers, units kept in the first and last only: the hidden widths must be 5, 9 and 3"
with torch.no_grad():
    assert torch.allclose(_small(_x), _silenced(_mlp, _keep)(_x), atol=1e-5), (
        "three hidden layers with units removed in the first and the last: the smaller network does not compute what "
        "the original does with those units silenced (check the columns of the layer after each shrunk one)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a7_part_c", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part C · Timing one call (2 points)
#
# Call `fn()` `warmup` times without timing it (the first calls allocate memory and choose
# kernels), then `repeats` times, timing each call alone with `time.perf_counter()`, and
# return the **median** of those times in seconds (a background process can make one call
# slow; the median ignores it, the mean does not).

# %% nbgrader={"grade": false, "grade_id": "median_latency", "locked": false, "schema_version": 3, "solution": true, "task": false}
def median_latency(fn, repeats=20, warmup=3):
    """Median seconds of one fn() call over ``repeats`` timed calls after ``warmup`` untimed ones."""
    ### BEGIN SOLUTION
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
    ### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_median_latency", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
median_latency = no_shortcut(median_latency, "Part C", "lthlib.experiments.sparse_exec.time_call", "lthlib.experiments.sparse_exec.time_calls")


class _Clock:
    """A fake call: sleeps for the next of ``durations`` (seconds) each time it is called."""

    def __init__(self, durations):
        self.durations, self.calls = list(durations), 0

    def __call__(self):
        time.sleep(self.durations[min(self.calls, len(self.durations) - 1)])
        self.calls += 1


_fn = _Clock([0.5, 0.01, 0.01, 0.01, 0.01, 0.01])
_t = median_latency(_fn, repeats=5, warmup=1)
assert _fn.calls == 6, f"warmup=1 and repeats=5 make 6 calls; fn was called {_fn.calls} times"
assert isinstance(_t, float) and 0.009 <= _t < 0.05, (
    f"the first (warm-up) call takes 0.5 s and is not timed; the others take 0.01 s each: expected about 0.01 s, you "
    f"gave {_t!r}" + (" (in milliseconds? return seconds)" if isinstance(_t, float) and _t > 5 else ""))
_fn = _Clock([0.01, 0.01, 0.3, 0.01, 0.01])
_t = median_latency(_fn, repeats=5, warmup=0)
assert _t < 0.05, (f"one call of five is slow (0.3 s, another process took the CPU): the median ignores it, the mean "
                   f"does not; you gave {_t:.3f} s")
print("Part C: visible tests passed")
### BEGIN HIDDEN TESTS
_fn = _Clock([0.15, 0.15, 0.02, 0.02, 0.25, 0.02, 0.02, 0.02])
_t = median_latency(_fn, repeats=6, warmup=2)
assert _fn.calls == 8 and 0.019 <= _t < 0.06, (
    f"two slow warm-up calls, then six timed calls of which one is slow: fn must be called 8 times (it was called "
    f"{_fn.calls} times) and the median is about 0.02 s (you gave {_t:.3f} s)")
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": false, "grade_id": "a7_measure_intro", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## The measurement (run it at `SCALE = "quick"`)
#
# Three versions of one MLP (40 inputs, two hidden layers of 1,024 units, 10 outputs), one
# example at a time (the latency of a single prediction), one CPU thread:
#
# - **dense**: every weight;
# - **masked**: the 10% largest weights of each layer kept by a mask, the rest set to zero,
#   still stored and multiplied as a dense matrix;
# - **smaller**: a quarter of each hidden layer's units kept (those of largest L1 norm), the
#   others removed, as `shrink` does (here lthlib's `structured_model`).
#
# The MACs are per example: for the masked network, those of its **kept** weights (what a
# paper would report). The three are timed interleaved (lthlib's `time_calls`): each repeat
# times all three in turn, so a slow moment hits all of them alike.

# %%
from lthlib.experiments.sparse_exec import magnitude_mask, masked_model, neuron_mask, structured_model, time_calls
from lthlib.methods.sparse_training import forward_flops

BATCH = 1
REPEATS = {"smoke": 5, "quick": 40}.get(SCALE, 100)
torch.manual_seed(0)
big = MLP(INPUT_SHAPE, 10, hidden=(1024, 1024)).eval()
mask = magnitude_mask(big, 0.10)
networks = {"dense": big, "masked": masked_model(big, mask), "smaller": structured_model(big, neuron_mask(big, 0.25))}
macs = {"dense": sum(forward_flops(big, INPUT_SHAPE).values()),
        "masked": sum(forward_flops(big, INPUT_SHAPE, mask).values()),
        "smaller": sum(forward_flops(networks["smaller"], INPUT_SHAPE).values())}
x = torch.randn(BATCH, *INPUT_SHAPE)
with torch.no_grad():
    # each sample repeats its call for at least 2 ms, so microsecond calls are not clock noise
    timings = time_calls({k: (lambda net=net: net(x)) for k, net in networks.items()}, repeats=REPEATS, warmup=3,
                         min_time=2e-3, threads=1)
print(f"scale {SCALE!r}, batch {BATCH}, {REPEATS} repeats, 1 thread")
print(f"{'network':>8}  {'MACs/example':>13}  {'MACs vs dense':>13}  {'latency (ms)':>12}  {'latency vs dense':>16}")
for k in networks:
    print(f"{k:>8}  {macs[k]:>13,.0f}  {macs[k] / macs['dense']:>13.1%}  {timings[k].median_s * 1e3:>12.3f}  "
          f"{timings[k].median_s / timings['dense'].median_s:>16.1%}")
print("MY_NUMBERS =", {k: {"macs": round(macs[k]), "ms": round(timings[k].median_s * 1e3, 4)} for k in networks})

# %% [markdown] nbgrader={"grade": false, "grade_id": "a7_part_d", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part D · Your numbers (2 points)
#
# Copy **your** quick-scale measurement into `MY_NUMBERS`: for each network, its MACs per
# example and its median latency in milliseconds, as printed. The test checks that they are
# consistent with each other and with the networks (the MACs are exact; latencies differ
# between machines, but some relations hold on every CPU); Part E asks you to explain them.

# %% nbgrader={"grade": false, "grade_id": "my_numbers", "locked": false, "schema_version": 3, "solution": true, "task": false}
MY_NUMBERS = {"dense": {"macs": None, "ms": None}, "masked": {"macs": None, "ms": None},
              "smaller": {"macs": None, "ms": None}}
### BEGIN SOLUTION
# One run at SCALE = "quick" (x86 CPU, one thread):
MY_NUMBERS = {"dense": {"macs": 1_099_776, "ms": 0.1046}, "masked": {"macs": 109_978, "ms": 0.1046},
              "smaller": {"macs": 78_336, "ms": 0.0294}}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_my_numbers", "locked": true, "schema_version": 3, "solution": false, "task": false, "points": 2}
# outcome test: graded on the consistency of what you measured; there is nothing to hide
assert isinstance(MY_NUMBERS, dict) and set(MY_NUMBERS) == {"dense", "masked", "smaller"} and all(
    isinstance(v, dict) and {"macs", "ms"} <= set(v) for v in MY_NUMBERS.values()), \
    "MY_NUMBERS maps 'dense', 'masked' and 'smaller' to {'macs': ..., 'ms': ...}"
assert all(isinstance(v["macs"], (int, float)) and isinstance(v["ms"], (int, float)) and v["ms"] > 0
           for v in MY_NUMBERS.values()), "fill in every number, as printed by your measurement (ms > 0)"
for _k in MY_NUMBERS:
    assert abs(MY_NUMBERS[_k]["macs"] - macs[_k]) <= 0.5, (
        f"{_k}: these networks do {macs[_k]:,.0f} MACs per example on every machine (the count is exact); you wrote "
        f"{MY_NUMBERS[_k]['macs']:,}")
_ms = {k: v["ms"] for k, v in MY_NUMBERS.items()}
assert 1e-3 <= _ms["dense"] <= 1e3, \
    f"one dense pass of one example takes about 0.01 to 10 ms on a CPU; {_ms['dense']} ms is not plausible (milliseconds?)"
assert 1 / 3 <= _ms["masked"] / _ms["dense"] <= 3.0, (
    f"your masked network runs at {_ms['masked'] / _ms['dense']:.0%} of the dense one's latency: a dense kernel "
    "multiplies the zeros like any other weight, so masking alone changes the latency little on any CPU; re-measure "
    "(SCALE = 'quick') and copy the printed numbers")
assert _ms["smaller"] < _ms["dense"], (
    f"your smaller network ({_ms['smaller']} ms) is not faster than the dense one ({_ms['dense']} ms) although it does "
    f"{macs['smaller'] / macs['dense']:.0%} of the MACs: re-measure with more repeats (SCALE = 'quick')")
print("Part D: your numbers are consistent")

# %% [markdown] nbgrader={"grade": false, "grade_id": "a7_part_e", "locked": true, "schema_version": 3, "solution": false, "task": false}
# ## Part E · The gap, in words (3 points, graded by hand)
#
# From **your** numbers (quote them):
#
# 1. The masked network does about 10% of the dense MACs. Why is its latency about the
#    same as the dense network's?
# 2. The smaller network does about 7% of the MACs. By how much did its latency fall, and
#    why does latency fall less than the MACs (or, if it fell more, what could cause that)?
# 3. What would it take for the masked network's 90% of zeros to make it faster
#    (think of notebook 08)?

# %% [markdown] nbgrader={"grade": true, "grade_id": "a7_answer_e", "locked": false, "schema_version": 3, "solution": true, "task": false, "points": 3}
# **Rubric (3 points, 1 per question; each must use the student's own numbers, as in
# `MY_NUMBERS`).** (1) A dense kernel (BLAS matrix multiply) computes with every stored entry,
# zeros included; the mask changes values, not the shapes or the work: latency ratio near
# 100%. (2) Quotes the smaller network's latency ratio against its MACs ratio and names at
# least one real cause of the difference: fixed costs per call that do not shrink with the
# MACs (Python and operator dispatch, memory allocation, the bias and ReLU passes, the output
# layer), smaller matrices using the vector units and caches less efficiently (lower
# arithmetic intensity), memory traffic of the input and activations; a super-linear speed-up
# explained by the smaller weights fitting in cache also earns the point. (3) Skipping the
# zeros needs a sparse format and kernel (CSR/BSR, index overhead, pays only at very low
# density, notebook 08), structure the hardware can use (N:M such as 2:4 on GPU tensor
# cores, blocks), or removing whole units/channels (as the smaller network does).
#
# *Model answer (one run).* (1) 0.105 ms masked against 0.105 ms dense (100%): the multiply
# is the same dense 1024 x 1024 product whether an entry is zero or not. (2) 0.029 ms, 28% of
# dense, for 7.1% of the MACs: one example at a time, the fixed cost of each call (Python and
# operator dispatch for three layers, the bias and ReLU passes, allocating the outputs) is a
# large share of the 0.1 ms and does not shrink with the MACs, and a 256 x 256
# matrix-vector product uses the vector units less efficiently than a 1024 x 1024 one. (At a
# batch of 256 the MACs dominate and the ratio comes closer to the MACs', or below them when
# the smaller weights fit in the cache.) (3) A sparse kernel that skips zeros (CSR) at densities low enough to repay its
# index reads and irregular access, or structured sparsity the hardware supports (2:4 on
# recent GPUs), or removing units as the smaller network does.
