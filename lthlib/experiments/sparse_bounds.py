"""How fast could a sparse layer be? The physical bound beside the measured speed.

Notebook 08 measures sparse formats against dense; without a bound a reader cannot tell
"sparsity cannot be fast here" from "this kernel is slow". A linear layer (``out x in``
weight, batch ``B``) cannot run faster than its arithmetic allows nor faster than its bytes
can be moved (the roofline model of Williams et al. 2009):

    time >= max(FLOPs / peak FLOP/s, bytes moved / memory bandwidth)

FLOPs: ``2 B in out`` dense (zeros included, so masking changes nothing), ``2 B nnz``
sparse (BSR: every stored block in full). Bytes: the weight as stored (values + column
indices + row pointers), the inputs read once and the outputs written once: the
compulsory traffic, a lower bound for any kernel. Indices make sparse weights *larger*
per kept weight: torch CSR stores 4 + 8 bytes (int64 indices) where dense stores 4, so at
batch 1, where bytes bound the time, it saves time only below about 1/3 of the weights;
SciPy's int32 indices move that to about 1/2. At large batches the weights are reused
and FLOPs bound the time: the bound's speed-up is then about 1 / density.

``calibrate`` measures peak and bandwidth on this machine (cached per thread count and
device); ``layer_cost`` does the arithmetic; ``time_layer_formats`` times one layer in
every format; ``with_bounds`` puts beside each measured speed-up its ceiling (the dense
timing over the format's roofline time) and the speed-up if both ran at their roofline.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import torch
import torch.nn.functional as F

from lthlib.experiments.sparse_exec import (FormatUnsupported, SparseLinear, Timing, build_format, bsr_blocksize,
                                crossover_density, denormals_flushed, magnitude_mask, neuron_keep_for, neuron_mask,
                                tensor_bytes, time_calls)
from lthlib.core.streams import generator
from lthlib.core.threads import training_threads

# The formats of one linear layer whose cost ``layer_cost`` knows.
FORMATS = ("dense", "masked", "csr", "coo", "bsr", "scipy_csr")
FORMAT_LABELS = {"dense": "torch dense", "masked": "torch masked (dense + zeros)", "csr": "torch CSR (int64)",
                 "coo": "torch COO (int64)", "bsr": "torch BSR (blocks)", "scipy_csr": "SciPy CSR (int32)"}
# Formats ``time_layer_formats`` times (COO is 08's slowest layout, and its bound is CSR's or worse).
TIMED_FORMATS = ("dense", "masked", "csr", "bsr", "scipy_csr")
VALUE_BYTES = 4  # float32
# Indices of the "timing_inputs" stream (lthlib.core.streams) for the timed layer: sparse_exec
# draws inputs with no index and labels with 1; these draw the layer's weights, its
# unstructured kept positions, its kept blocks and its inputs.
WEIGHTS_INDEX, POSITIONS_INDEX, BLOCKS_INDEX, INPUTS_INDEX = 10, 11, 12, 13
FALLBACK_CACHE_BYTES = 32 * 2**20


# --- calibration ---------------------------------------------------------------------

@dataclass(frozen=True)
class Machine:
    """What this machine can do, measured: peak fp32 FLOP/s of a dense matrix product and
    memory bandwidth (bytes/s) of a streaming read, each the median of several repeats
    (the ``_q25``/``_q75`` fields are the quartiles: on a shared machine they say how much
    to trust the median), on ``threads`` threads of ``device``."""
    peak_flops: float
    bandwidth: float
    threads: int
    device: str
    peak_flops_q25: float = math.nan
    peak_flops_q75: float = math.nan
    bandwidth_q25: float = math.nan
    bandwidth_q75: float = math.nan
    load: float = math.nan
    label: str = ""  # which calibration, e.g. "calibration 2" (``calibrate(label=...)``)
    # where each rate of a merged ``faster`` machine came from: (label, load average then)
    peak_from: tuple[str, float] | None = None
    bandwidth_from: tuple[str, float] | None = None

    def source(self, rate: str) -> tuple[str, float]:
        """(calibration label, load average while it ran) of ``rate`` ("peak" or "bandwidth")."""
        got = self.peak_from if rate == "peak" else self.bandwidth_from
        return got if got is not None else (self.label, self.load)

    def faster(self, other: Machine) -> Machine:
        """The larger peak and the larger bandwidth of two calibrations of the same threads
        and device (each with its quartiles): on a shared machine, the capacity seen at its
        better moment, so that a timing taken in a quieter moment does not beat the bound.
        Each rate keeps the label and load average of the calibration it came from
        (``source``); ``load`` is the larger of the two."""
        if (self.threads, self.device) != (other.threads, other.device):
            raise ValueError(f"{self.threads} thread(s) of {self.device} and {other.threads} of {other.device} "
                             "are different machines")
        peak = max(self, other, key=lambda m: m.peak_flops)
        bw = max(self, other, key=lambda m: m.bandwidth)
        loads = [m.load for m in (self, other) if not math.isnan(m.load)]
        return Machine(peak.peak_flops, bw.bandwidth, self.threads, self.device, peak.peak_flops_q25,
                       peak.peak_flops_q75, bw.bandwidth_q25, bw.bandwidth_q75, max(loads, default=math.nan),
                       peak_from=peak.source("peak"), bandwidth_from=bw.source("bandwidth"))

    def describe(self) -> str:
        """One line: peak and bandwidth with their interquartile ranges, and for each the
        calibration it came from with the load average then (once when both share one)."""
        def where(label: str, load: float) -> str:
            return ", ".join(([f"from {label}"] if label else []) + ([] if math.isnan(load) else
                                                                     [f"load average {load:.1f}"]))
        p, b = where(*self.source("peak")), where(*self.source("bandwidth"))
        split = p != b
        return (f"peak {self.peak_flops / 1e9:.0f} GFLOP/s (IQR {self.peak_flops_q25 / 1e9:.0f}-"
                f"{self.peak_flops_q75 / 1e9:.0f}{'; ' + p if split and p else ''}), bandwidth "
                f"{self.bandwidth / 1e9:.1f} GB/s (IQR {self.bandwidth_q25 / 1e9:.1f}-{self.bandwidth_q75 / 1e9:.1f}"
                f"{'; ' + b if split and b else ''}) on {self.threads} thread{'s' if self.threads != 1 else ''} "
                f"of {self.device}" + (f"; {'both ' * p.startswith('from')}{p} while calibrating" if p and not split else ""))


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` says: timings
    and bounds are this CPU's, and a reader must know which it was."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def last_level_cache_bytes() -> int:
    """The largest CPU cache's size from Linux's sysfs (32 MiB where it cannot be read):
    the calibration's streamed array and ``time_layer_formats``'s cold weights exceed it."""
    sizes = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in os.listdir(base):
            with open(os.path.join(base, entry, "size")) as f:
                text = f.read().strip()
            unit = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
            sizes.append(int(text.rstrip("KMG")) * unit)
    except (OSError, ValueError):
        pass
    return max(sizes, default=FALLBACK_CACHE_BYTES)


def _quartile_rates(work: float, t: Timing) -> tuple[float, float, float]:
    """(median, q25, q75) of ``work`` per second; the slowest quartile time is the lowest rate."""
    return work / t.median_s, work / t.q75_s, work / t.q25_s


@functools.lru_cache(maxsize=None)
def _measure(threads: int, device: str, gemm_size: int, stream_bytes: int, repeats: int) -> Machine:
    # samples of >= 10 ms: a small GEMM takes about 1 ms, and the clock and the scheduler are coarse
    dev = torch.device(device)
    a = torch.randn(gemm_size, gemm_size, device=dev)
    b = torch.randn(gemm_size, gemm_size, device=dev)
    stream = torch.ones(stream_bytes // VALUE_BYTES, device=dev)
    cols = 4096 if stream.numel() >= 4096 * 4096 else 64
    matrix = stream.view(-1, cols)[: stream.numel() // cols]  # the same bytes, read by dense's own kernel
    vector = torch.ones(cols, device=dev)
    with torch.inference_mode():
        t = time_calls({"gemm": lambda: torch.mm(a, b), "read": lambda: stream.sum(),
                        "matvec": lambda: torch.mv(matrix, vector)}, repeats=repeats,
                       warmup=2, min_time=0.01, device=dev, threads=threads)
    gemm = t["gemm"]
    peak = _quartile_rates(2.0 * gemm_size**3, gemm)
    bw = max(_quartile_rates(float(stream.numel() * VALUE_BYTES), t["read"]),
             _quartile_rates(float(matrix.numel() * VALUE_BYTES), t["matvec"]))
    return Machine(peak[0], bw[0], threads, device, peak[1], peak[2], bw[1], bw[2], load_average())


def load_average() -> float:
    """The 1-minute load average (``os.getloadavg``; NaN where the OS has none): printed with
    each calibration, so a reader sees how busy the machine was while the bound was measured."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return math.nan


def calibrate(threads: int | None = None, device: str = "cpu", *, gemm_size: int = 384,
              stream_bytes: int | None = None, repeats: int = 7, fresh: bool = False, label: str = "") -> Machine:
    """Measure this machine's peak and bandwidth once per (threads, device, sizes) and
    process; later calls return the cached ``Machine`` (``fresh``: measure again, without
    touching the cache: on a shared machine, to see how much the numbers drifted).

    Peak: ``torch.mm`` of two ``gemm_size``-square fp32 matrices (2 n^3 FLOPs, each value
    reused n times: compute-bound, the best a dense kernel does). The default, n = 384, keeps
    all three matrices (1.7 MiB) in a core's L2 cache (on a shared 2-core EPYC, n = 768-2048
    ran at half the speed, held back by the shared cache; a bound must use the faster). On
    a GPU pass a larger n (4096 or more). Bandwidth: ``sum`` over an array of
    ``stream_bytes`` (default 8x the last-level cache, at least 64 MiB), read once per
    call, so it comes from memory: a read stream, as a layer reads its weights; and a dense
    matrix-vector product over the same bytes (the kernel a dense layer runs at batch 1);
    the larger of the two rates is the bandwidth (on a quiet machine they agree within 15%;
    on a busy one the ``sum`` alone read low enough that dense beat its own bound). Medians of ``repeats`` timings after 2 warm-up calls,
    interleaved, on ``threads`` torch threads (default ``training_threads()``). A few
    seconds on one CPU core. ``label`` names this calibration in ``Machine.describe``."""
    threads = training_threads() if threads is None else int(threads)
    if stream_bytes is None:
        stream_bytes = min(2**30, max(64 * 2**20, 8 * last_level_cache_bytes()))
    if gemm_size < 1 or stream_bytes < VALUE_BYTES or repeats < 1:
        raise ValueError(f"gemm_size={gemm_size}, stream_bytes={stream_bytes}, repeats={repeats}: all must be positive")
    measure = _measure.__wrapped__ if fresh else _measure
    found = measure(threads, str(torch.device(device)), int(gemm_size), int(stream_bytes), int(repeats))
    return dataclasses.replace(found, label=label) if label else found


# --- what a layer costs --------------------------------------------------------------

@dataclass(frozen=True)
class LayerCost:
    """The work of ``y = W x`` for one format: FLOPs, the weight's bytes as stored (values,
    indices, row pointers) and the bytes of inputs read plus outputs written."""
    format: str
    flops: int
    weight_bytes: int
    io_bytes: int

    @property
    def bytes(self) -> int:
        """All bytes a kernel must move at least once."""
        return self.weight_bytes + self.io_bytes

    def time_bound(self, machine: Machine) -> float:
        """Seconds no kernel can beat on ``machine``: max(FLOPs / peak, bytes / bandwidth)."""
        return max(self.flops / machine.peak_flops, self.bytes / machine.bandwidth)

    def bound_by(self, machine: Machine) -> str:
        """"compute" or "memory": which of the two terms of ``time_bound`` is larger."""
        return "compute" if self.flops / machine.peak_flops >= self.bytes / machine.bandwidth else "memory"


def _index_bytes(fmt: str, kept: int, shape: tuple[int, int]) -> int:
    """Bytes of one index: torch's sparse layouts use int64; SciPy uses int32 while the
    counts fit (it switches to int64 past 2^31 - 1)."""
    if fmt == "scipy_csr":
        return 4 if max(kept, *shape) < 2**31 else 8
    return 8


def layer_cost(fmt: str, shape: Sequence[int], batch_size: int, kept: int, blocksize: int = 1) -> LayerCost:
    """FLOPs and bytes of ``y = W x`` with ``W`` of ``shape`` (out, in) in format ``fmt``,
    ``kept`` stored weights, for a batch of ``batch_size`` fp32 inputs.

    - dense, masked: out x in values, FLOPs 2 B in out (masked computes with its zeros);
    - csr (torch, int64) / scipy_csr (int32): kept values, kept column indices, out + 1
      row pointers; FLOPs 2 B kept;
    - coo (torch, int64): kept values and 2 indices per value;
    - bsr (torch, int64): ``kept`` counts every weight of the stored blocks (a multiple
      of blocksize^2, zeros inside a block included), one column index per block and
      out / blocksize + 1 row pointers; FLOPs 2 B kept (whole blocks are multiplied).
    Inputs: B x in values read; outputs: B x out values written."""
    out_f, in_f = (int(n) for n in shape)
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r}: choose one of {list(FORMATS)}")
    if out_f < 1 or in_f < 1 or batch_size < 1:
        raise ValueError(f"shape={tuple(shape)}, batch_size={batch_size}: need positive sizes")
    if not 0 <= kept <= out_f * in_f:
        raise ValueError(f"kept={kept}: a {out_f} x {in_f} weight keeps between 0 and {out_f * in_f}")
    io = VALUE_BYTES * batch_size * (in_f + out_f)
    idx = _index_bytes(fmt, kept, (out_f, in_f))
    if fmt in ("dense", "masked"):
        return LayerCost(fmt, 2 * batch_size * in_f * out_f, VALUE_BYTES * out_f * in_f, io)
    if fmt in ("csr", "scipy_csr"):
        weights = VALUE_BYTES * kept + idx * kept + idx * (out_f + 1)
    elif fmt == "coo":
        weights = VALUE_BYTES * kept + 2 * idx * kept
    else:
        if blocksize < 1 or out_f % blocksize or in_f % blocksize or kept % (blocksize * blocksize):
            raise ValueError(f"bsr: blocks of {blocksize} must tile {out_f} x {in_f} and kept={kept} must be "
                             f"a whole number of blocks ({blocksize * blocksize} weights each)")
        blocks = kept // (blocksize * blocksize)
        weights = VALUE_BYTES * kept + idx * blocks + idx * (out_f // blocksize + 1)
    return LayerCost(fmt, 2 * batch_size * kept, weights, io)


def ceiling_speedup(dense_s: float, bound_s: float) -> float:
    """The largest speed-up over a dense timing of ``dense_s`` seconds that any kernel of a
    format whose roofline time is ``bound_s`` can show: no kernel runs in less than
    ``bound_s``, so (dense time) / (its time) <= ``dense_s / bound_s``. A true ceiling on a
    measured speed-up (given the calibration), unlike ``bound_speedup``, which assumes dense
    too runs at its roofline."""
    return dense_s / bound_s


def bound_speedup(machine: Machine, fmt: str, shape: Sequence[int], batch_size: int, kept: int,
                  blocksize: int = 1) -> float:
    """The speed-up over dense that format ``fmt`` with ``kept`` weights would have on
    ``machine`` if both ran at their roofline: dense's time bound over the format's. Not a
    ceiling on a measured speed-up: when dense runs below its own roofline, a sparse kernel
    can beat this ratio (``ceiling_speedup`` is the ceiling)."""
    dense = layer_cost("dense", shape, batch_size, int(shape[0]) * int(shape[1]))
    return dense.time_bound(machine) / layer_cost(fmt, shape, batch_size, kept, blocksize).time_bound(machine)


def bound_crossover(machine: Machine, fmt: str, shape: Sequence[int], batch_size: int,
                    blocksize: int = 1) -> float | None:
    """The largest density at which ``fmt`` at its roofline beats dense at dense's roofline
    (``bound_speedup`` > 1), by bisection over whole weights (whole blocks for BSR); None
    when it never can (masked, or a layer so small that the inputs' bytes dominate)."""
    unit = blocksize * blocksize if fmt == "bsr" else 1
    units = int(shape[0]) * int(shape[1]) // unit

    def wins(n: int) -> bool:
        return bound_speedup(machine, fmt, shape, batch_size, n * unit, blocksize) > 1.0

    if fmt in ("dense", "masked") or not wins(0):
        return None
    lo, hi = 0, units  # wins(lo) holds; find the largest n with wins(n)
    if wins(hi):
        return 1.0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if wins(mid) else (lo, mid)
    return lo / units


# --- building and timing one layer ---------------------------------------------------

def layer_weight(shape: Sequence[int], density: float, blocksize: int = 1, seed: int = 0) -> torch.Tensor:
    """A random fp32 weight of ``shape`` with exactly round(density x size) nonzeros at random
    positions (``blocksize`` 1), or, for ``blocksize`` > 1, the same fraction of whole
    blocksize x blocksize blocks kept at random (a block-structured mask: what BSR needs to
    pay). Speed depends on how many weights are kept and where, not on their values, and a
    magnitude mask of random weights is a random mask."""
    out_f, in_f = (int(n) for n in shape)
    w = torch.randn(out_f, in_f, generator=generator(seed, "timing_inputs", WEIGHTS_INDEX))
    if blocksize == 1:
        keep = torch.zeros(out_f * in_f, dtype=torch.bool)
        order = torch.randperm(out_f * in_f, generator=generator(seed, "timing_inputs", POSITIONS_INDEX))
        keep[order[:round(density * out_f * in_f)]] = True
        return w * keep.reshape(out_f, in_f)
    if out_f % blocksize or in_f % blocksize:
        raise ValueError(f"blocks of {blocksize} do not tile {out_f} x {in_f}")
    rows, cols = out_f // blocksize, in_f // blocksize
    keep = torch.zeros(rows * cols, dtype=torch.bool)
    order = torch.randperm(rows * cols, generator=generator(seed, "timing_inputs", BLOCKS_INDEX))
    keep[order[:round(density * rows * cols)]] = True
    block_mask = keep.reshape(rows, cols).repeat_interleave(blocksize, 0).repeat_interleave(blocksize, 1)
    return w * block_mask


def stored_bytes(weight: object) -> int:
    """Bytes a weight stores as built here: a torch tensor (``sparse_exec.tensor_bytes``), a
    ``SparseLinear``'s weight, or a SciPy sparse matrix (data + indices + indptr)."""
    if isinstance(weight, SparseLinear):
        weight = weight.weight
    if isinstance(weight, torch.Tensor):
        return tensor_bytes(weight)
    return int(weight.data.nbytes + weight.indices.nbytes + weight.indptr.nbytes)


Call = Callable[[object, torch.Tensor, np.ndarray], object]


def layer_forms(weight: torch.Tensor, formats: Sequence[str], blocked: torch.Tensor | None = None,
                blocksize: int = 16, dense: torch.Tensor | None = None) -> dict[str, tuple[object, Call, int]]:
    """``{format: (stored weight, call, kept)}`` for a dense fp32 ``weight`` with zeros where
    pruned (``layer_weight``); ``call(stored, x, xt)`` computes ``x W^T`` from ``x`` (B x in,
    torch) or ``xt`` (x^T as NumPy, a vector at batch 1): torch formats as lthlib runs them
    (``F.linear`` dense, ``SparseLinear`` sparse), SciPy as ``csr_matrix @ xt`` (its result
    is (W x^T), out x B). ``dense`` stores ``dense`` (the unpruned weight; default
    ``weight``), ``masked`` stores ``weight`` with its zeros (the same kernel as dense: the
    control that shows the timing noise); BSR stores ``blocked``
    (a block-structured weight, default ``weight``) in blocksize^2 blocks and counts every
    weight of its stored blocks as kept."""
    forms: dict[str, tuple[object, Call, int]] = {}
    kept = int(weight.count_nonzero())
    for fmt in formats:
        if fmt in ("dense", "masked"):
            full = dense if fmt == "dense" and dense is not None else weight
            forms[fmt] = (full.clone(), lambda w, x, xt: F.linear(x, w), weight.numel())
        elif fmt in ("csr", "coo"):
            stored = weight.to_sparse_csr() if fmt == "csr" else weight.to_sparse_coo().coalesce()
            forms[fmt] = (SparseLinear(stored, None), lambda m, x, xt: m(x), kept)
        elif fmt == "bsr":
            layer = SparseLinear((weight if blocked is None else blocked).to_sparse_bsr((blocksize, blocksize)), None)
            forms[fmt] = (layer, lambda m, x, xt: m(x), layer.weight.values().numel())
        elif fmt == "scipy_csr":
            forms[fmt] = (scipy.sparse.csr_matrix(weight.numpy()), lambda m, x, xt: m @ xt, kept)
        else:
            raise ValueError(f"format={fmt!r}: choose one of {list(FORMATS)}")
    return forms


def _rotating(call: Call, copies: list[object],
              x: torch.Tensor, xt: np.ndarray) -> Callable[[], object]:
    """A call that uses the next copy of the weight each time, round-robin."""
    state = {"i": 0}

    def run() -> object:
        state["i"] = (state["i"] + 1) % len(copies)
        return call(copies[state["i"]], x, xt)

    return run


def time_layer_formats(shape: Sequence[int] = (4096, 4096),
                       densities: Sequence[float] = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01),
                       batch_sizes: Sequence[int] = (1, 8), formats: Sequence[str] = TIMED_FORMATS, *,
                       blocksize: int = 16, threads: int | None = None, repeats: int = 15, warmup: int = 3,
                       min_time: float = 1e-3, cold: bool = True, seed: int = 0) -> list[dict]:
    """Time ``y = W x`` for one fp32 layer of ``shape`` (out, in), no bias, in each format at
    each density and batch size, inference only, on ``threads`` torch threads (SciPy's
    sparse product is single-threaded whatever ``threads`` says), denormals flushed.

    Unstructured formats (masked, CSR, COO, SciPy CSR) use one random mask per density;
    BSR uses a block-structured mask of the same density (whole blocksize^2 blocks kept),
    since with unstructured masks almost every block survives. Torch formats run as
    ``lthlib`` runs them (``F.linear`` dense, ``SparseLinear`` sparse); SciPy computes
    ``csr_matrix @ x^T`` on NumPy arrays (a vector at batch 1). Dense and every format
    are timed interleaved (``sparse_exec.time_calls``): each sample is at least
    ``min_time`` seconds of back-to-back calls, warm-up calls excluded. BSR blocks are the
    largest square at most ``blocksize`` that tiles the weight (``sparse_exec.bsr_blocksize``).

    ``cold``: each format keeps enough copies of its weight (together at least twice the
    last-level cache, at most 64 copies) and every call uses the next copy, so the weights come from memory,
    as in a network larger than the cache; that is what ``calibrate``'s bandwidth
    measures. Without it a small sparse weight stays in the cache between calls and can
    beat the memory bound. Rows: layer ("out x in"), out_features, in_features, format,
    density, kept, blocksize, batch_size, threads, mode ("inference"), median_s, q25_s,
    q75_s, speedup (dense median / format median), samples, dense_samples, weight_bytes
    (as stored), copies."""
    formats = list(dict.fromkeys(["dense", *formats]))
    out_f, in_f = (int(n) for n in shape)
    blocksize = bsr_blocksize((out_f, in_f), blocksize)
    threads = training_threads() if threads is None else int(threads)
    budget = 2 * last_level_cache_bytes()
    rows: list[dict] = []
    full = layer_weight(shape, 1.0, 1, seed)
    with denormals_flushed(), torch.inference_mode():
        for density in sorted(densities, reverse=True):
            unstructured = layer_weight(shape, density, 1, seed)
            blocked = layer_weight(shape, density, blocksize, seed) if "bsr" in formats else None
            built = {}
            for fmt, (stored, call, kept) in layer_forms(unstructured, formats, blocked, blocksize, full).items():
                size = stored_bytes(stored)
                n = min(64, math.ceil(budget / max(size, 1))) if cold else 1
                copies = [stored] + [_copy(stored) for _ in range(n - 1)]
                built[fmt] = (copies, call, kept, size)
            for batch in batch_sizes:
                x = torch.randn(batch, in_f, generator=generator(seed, "timing_inputs", INPUTS_INDEX))
                xt = np.ascontiguousarray(x.numpy().T[:, 0] if batch == 1 else x.numpy().T)
                fns = {fmt: _rotating(call, copies, x, xt) for fmt, (copies, call, _, _) in built.items()}
                timings = time_calls(fns, repeats, warmup, min_time, threads=threads)
                for fmt, (copies, _, kept, size) in built.items():
                    t, d = timings[fmt], timings["dense"]
                    rows.append(dict(layer=f"{out_f}x{in_f}", out_features=out_f, in_features=in_f, format=fmt,
                                     density=density, kept=kept, blocksize=blocksize if fmt == "bsr" else 1,
                                     batch_size=batch, threads=threads, mode="inference", median_s=t.median_s,
                                     q25_s=t.q25_s, q75_s=t.q75_s, speedup=d.median_s / t.median_s,
                                     samples=list(t.samples), dense_samples=list(d.samples), weight_bytes=size,
                                     copies=len(copies)))
    return rows


def _copy(stored: object) -> object:
    """A copy in its own memory (``SparseLinear`` cannot be deep-copied: a sparse Parameter)."""
    if isinstance(stored, SparseLinear):
        return SparseLinear(stored.weight.detach().clone(), None)
    return stored.clone() if isinstance(stored, torch.Tensor) else stored.copy()


# --- measured beside the bound ---------------------------------------------------------

def with_bounds(rows: Sequence[Mapping], machines: Mapping[int, Machine] | Machine) -> list[dict]:
    """Each ``time_layer_formats`` row with the bound beside it: flops, bytes (moved at
    least once), bound_s (``LayerCost.time_bound``), bound_speedup (dense's roofline time
    over the format's: the speed-up if both ran at their roofline), ceiling_speedup (the
    dense median timed beside it over the format's roofline time: the most any kernel of
    the format could beat that dense timing by, ``ceiling_speedup``), bound_by ("compute" /
    "memory") and attained (bound_s / median_s: the share of the physical limit the kernel
    reached, 1 = at the limit; also speedup / ceiling_speedup). ``machines``: one
    ``Machine``, or one per thread count (the rows' ``threads``)."""
    dense_s = {(r["threads"], r["batch_size"], r["density"]): r["median_s"] for r in rows if r["format"] == "dense"}
    out = []
    for r in rows:
        machine = machines if isinstance(machines, Machine) else machines[r["threads"]]
        shape = (r["out_features"], r["in_features"])
        cost = layer_cost(r["format"], shape, r["batch_size"], r["kept"], r["blocksize"])
        bound = cost.time_bound(machine)
        out.append(dict(r, flops=cost.flops, bytes=cost.bytes, bound_s=bound,
                        bound_speedup=bound_speedup(machine, r["format"], shape, r["batch_size"], r["kept"],
                                                    r["blocksize"]),
                        ceiling_speedup=ceiling_speedup(dense_s.get((r["threads"], r["batch_size"], r["density"]),
                                                                    math.nan), bound),
                        bound_by=cost.bound_by(machine), attained=bound / r["median_s"]))
    return out


def best_crossover(rows: Sequence[Mapping], batch_size: int, threads: int,
                   min_speedup: float = 1.0) -> tuple[str, float] | None:
    """(format, density) of the kernel that beats dense (median speed-up > ``min_speedup``)
    at the highest measured density, for one batch size and thread count; ties go to the
    faster one at that density. None when no format beats dense."""
    mine = [r for r in rows if r["batch_size"] == batch_size and r["threads"] == threads]
    found = []
    for fmt in dict.fromkeys(r["format"] for r in mine if r["format"] not in ("dense", "masked")):
        x = crossover_density(mine, fmt, batch_size, "inference", min_speedup)
        if x is not None:
            at = next(r["speedup"] for r in mine if r["format"] == fmt and math.isclose(r["density"], x))
            found.append((x, at, fmt))
    if not found:
        return None
    x, _, fmt = max(found)
    return fmt, x


def _time(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def bound_table(rows: Sequence[Mapping]) -> str:
    """A Markdown table of ``with_bounds`` rows: per threads, batch, density and format the
    median time (interquartile range), the measured speed-up over dense, its ceiling (the
    dense median over the format's roofline time), the speed-up if both ran at their
    roofline, what bounds the format, and the share of its roofline attained."""
    lines = ["| threads | batch | density | format | median (IQR) | speed-up | ceiling | at both rooflines | "
             "bound by | attained |", "|---:|---:|---:|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['threads']} | {r['batch_size']} | {100 * r['density']:g}% | {FORMAT_LABELS[r['format']]}"
                     + (f" b={r['blocksize']}" if r["format"] == "bsr" else "")
                     + f" | {_time(r['median_s'])} ({_time(r['q25_s'])}-{_time(r['q75_s'])}) | "
                     f"{r['speedup']:.2f}× | {r['ceiling_speedup']:.1f}× | {r['bound_speedup']:.1f}× | {r['bound_by']} | "
                     f"{100 * r['attained']:.0f}% |")
    return "\n".join(lines)


# --- a whole network's bound -------------------------------------------------------------

def _stored_values(weight: torch.Tensor) -> int:
    """Values a weight multiplies: all of a dense one (zeros included), the stored values of
    a sparse one (BSR: every value of its stored blocks)."""
    if weight.layout == torch.sparse_coo:
        return weight._values().numel()
    if weight.layout in (torch.sparse_csr, torch.sparse_bsr):
        return weight.values().numel()
    return weight.numel()


def network_costs(module: torch.nn.Module, input_shape: Sequence[int], batch_size: int) -> list[LayerCost]:
    """One ``LayerCost`` per Linear, Conv or ``SparseLinear`` layer of ``module`` (as built:
    dense, masked, sparse or structured) for a batch of ``batch_size``: FLOPs 2 x the values it
    multiplies x output positions (a Linear has one per example; dense layers multiply their
    zeros), the weight's and bias's bytes as stored, the layer's inputs and outputs. Read
    by hooks on one forward pass, so every layer is counted as it runs, convolutions dense
    where the format keeps them dense. Elementwise operations (ReLU, pooling) are not
    counted: the bound is the products'."""
    layers = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, SparseLinear)
    costs: list[LayerCost] = []

    def hook(mod: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        w = mod.weight
        flops = 2 * _stored_values(w) * (output.numel() // w.shape[0])  # positions: batch (x length)
        bias = 0 if mod.bias is None else mod.bias.numel() * VALUE_BYTES
        io = VALUE_BYTES * (inputs[0].numel() + output.numel())
        costs.append(LayerCost(type(mod).__name__, flops, tensor_bytes(w) + bias, io))

    hooks = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, layers)]
    try:
        param = next(p for p in module.parameters() if p.is_floating_point())
        with torch.inference_mode():
            module(torch.zeros((batch_size, *input_shape), dtype=param.dtype, device=param.device))
    finally:
        for h in hooks:
            h.remove()
    return costs


def network_bound_s(module: torch.nn.Module, input_shape: Sequence[int], batch_size: int,
                    machine: Machine) -> float:
    """Seconds no kernel can beat for one forward pass of ``module``: the sum over its layers
    of each layer's roofline bound (``network_costs``; layers run one after another)."""
    return sum(c.time_bound(machine) for c in network_costs(module, input_shape, batch_size))


def network_bounds(model: torch.nn.Module, input_shape: Sequence[int], densities: Sequence[float],
                   formats: Sequence[str], batch_sizes: Sequence[int], machine: Machine,
                   blocksize: int = 4) -> list[dict]:
    """The bound's speed-up over dense of every format ``sparse_exec.benchmark_formats``
    times, with the same masks (layerwise magnitude; ``structured``: a ``neuron_mask`` of
    about that density): rows of network ("name" is the caller's), format, density,
    batch_size, bound_s and bound_speedup (dense's ``network_bound_s`` over the format's).
    Formats that cannot be built here (2:4 on a CPU) are left out. A training step is
    three products of the same shapes (forward, activation and weight gradients), so its
    bound's speed-up is taken to be the inference one's."""
    rows = []
    with torch.inference_mode():
        dense = {b: network_bound_s(model, input_shape, b, machine) for b in batch_sizes}
    for density in densities:
        magnitude = magnitude_mask(model, density)
        for fmt in formats:
            mask = neuron_mask(model, neuron_keep_for(model, density)) if fmt == "structured" else magnitude
            try:
                built = build_format(fmt, model, mask, blocksize)
            except FormatUnsupported:
                continue
            for b in batch_sizes:
                t = network_bound_s(built, input_shape, b, machine)
                rows.append(dict(format=fmt, density=density, batch_size=b, bound_s=t, bound_speedup=dense[b] / t))
    return rows
