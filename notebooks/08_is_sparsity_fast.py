# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
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

# %% [markdown]
# # 08 · Is sparsity fast?
#
# The objection every lottery-ticket talk meets: *"Even if you could find these
# subnetworks, they wouldn't be faster on real hardware: sparsity is not hardware
# friendly."* A ticket at 5% of its weights does 5% of the multiply-adds on paper. But a
# mask only sets weights to zero; a dense kernel multiplies by those zeros just the same.
# To be faster, the zeros must be **skipped**, and skipping has a price: the positions of
# the surviving weights must be stored and read (index overhead), and irregular memory
# access defeats the vector units and caches that make dense matrix products fast.
#
# This notebook measures, on **your** machine, when skipping pays:
#
# | format | what runs |
# |---|---|
# | masked | the dense model with zeros: what training a ticket does |
# | CSR, COO | each pruned Linear layer as a `torch.sparse` matrix (values + indices); convolutions stay dense |
# | BSR | the same in small dense blocks (fewer indices, some stored zeros) |
# | structured | whole neurons (channels) removed: a physically smaller dense network |
# | 2:4 semi-structured | 2 of every 4 weights kept, run by NVIDIA tensor cores (Ampere or newer) |
#
# each beside its **ceiling**, the most it could beat the dense timing by on this machine
# (the dense time over the format's *roofline* time, an estimate of the physical limit from
# a short calibration of its arithmetic peak and memory bandwidth, measured here), so a
# slow kernel is not mistaken for slow sparsity. It
# then puts the accuracy side beside it: at the speed and training cost each route to a
# small network delivers here, which is most accurate?
#
# **In this notebook you will**
# - see what a sparse format stores and when it is smaller than the dense weights;
# - time inference (batch 1 and a large batch) and a training step against density, and
#   find each format's **crossover**: the density below which it beats dense, and how
#   close each format comes to its ceiling;
# - time one large layer (4096 x 4096), where the weights stream from memory and
#   sparsity can pay, with SciPy's CSR beside torch's kernels;
# - compare the accuracy of every route to a small network (small dense, structured
#   IMP, the ticket of iterative magnitude pruning (IMP), one-shot pruning + fine-tuning,
#   RigL (a sparse training method, Evci et al. 2020), pruning at initialisation (PaI)) at
#   equal measured speed and training cost;
# - read the claims as checks computed from your timings, and the answer to both halves
#   of the objection: does speed exist here, and is it practical?
#
# **Papers:** Gale et al. 2020 (*Sparse GPU Kernels for Deep Learning*) and Elsen et al.
# 2020 (*Fast Sparse ConvNets*), who measured when sparse kernels beat dense ones; Mishra
# et al. 2021 (*Accelerating Sparse Deep Neural Networks*: 2:4 sparsity); Liu et al. 2019
# (*Rethinking the Value of Network Pruning*: structured pruning against training from
# scratch); Williams et al. 2009 (the roofline model); Renda et al. 2020 (learning-rate
# rewinding) and Evci et al. 2020 (RigL) for section 6's routes.
#
# **Timings are this machine's.** They depend on the CPU, its vector units, the torch
# build and the number of threads; the text below is rendered from what ran here, so it
# stays true wherever you run it. **Time:** `SCALE="quick"` a few minutes on a 2-core
# laptop CPU (IMP runs of notebook 02 from the store when it ran first); `"smoke"`
# seconds; `"paper"` adds Conv-2 and Conv-6 at CIFAR-10 size and more repeats (a GPU
# also measures 2:4 sparsity).

# %% tags=["parameters"]
SCALE = "quick"  # "smoke" | "quick" | "paper"
SEEDS = 8  # seeds of the accuracy side (notebook 02's IMP runs)
DATASET = None  # None: the scale's default ("mnist1d" for smoke/quick, "mnist" for paper)
MODEL = None  # None: the dataset's default model (the accuracy side's network)
DEVICE = "auto"  # "auto": a CUDA or Apple GPU when there is one, else the CPU; or "cpu", "cuda", "mps"
THREADS = None  # torch threads while timing; None: lthlib's training threads (1 unless LTHLIB_THREADS)
RESULTS_DIR = "../results"  # trained runs are stored here and reused (notebook 02's IMP runs too)
FIGURES_DIR = None  # set a folder to save every figure as PNG
CLAIMS_FILE = None  # set a path to save the checked claims as JSON (the CLI does)

# %%
# %matplotlib inline
import math
import os

import numpy as np
import torch

import lthlib
from lthlib.core.devices import resolve_device
from lthlib.core.store import Store
from lthlib.core.threads import training_threads
from lthlib.engine.training import data_for, model_for, reading_words
from lthlib.experiments import many_tickets as mt
from lthlib.experiments import sparse_bounds as sb
from lthlib.experiments import sparse_exec as sx
from lthlib.experiments import speed_routes as sr
from lthlib.experiments import speed_study as ss
from lthlib.experiments.imp import imp_for_scale, run_imp_seeds
from lthlib.experiments.pai_study import PAI_SCORED, pai_for_scale, run_pai
from lthlib.masks import Mask
from lthlib.methods.sparse_training import SPARSE_PRESETS, SparseTrainingSettings, run_sparse
from lthlib.methods.structured_pruning import run_structured
from lthlib.models.networks import build_model
from lthlib.report import plots
from lthlib.report.claims import Claims, claims_markdown, say, spread, verdict_lines
from lthlib.report.glossary import define
from lthlib.report.plots import speed as sp
from lthlib.settings import check_parameters, seeds_for

# %%
check_parameters(SCALE=SCALE, SEEDS=SEEDS, RESULTS_DIR=RESULTS_DIR)  # a clear error for a bad -p value
speed = sx.SPEED_PRESETS[SCALE]
device = resolve_device(DEVICE)
threads = THREADS if THREADS is not None else training_threads()
train_settings = lthlib.for_scale(SCALE, model=MODEL, dataset=DATASET)
reading = reading_words(train_settings)  # where runs are read: early stopping, or the end of training
imp_settings = imp_for_scale(SCALE, train_settings)
store = Store(RESULTS_DIR)
seeds = list(range(seeds_for(SCALE, SEEDS)))
say("Timing on **{dev}** ({cpu}), torch {tv}, {th} torch thread{pl}; {cores} CPU cores in this machine.",
    dev=device, cpu=sb.cpu_name(), tv=torch.__version__, th=threads, pl="s" if threads != 1 else "",
    cores=os.cpu_count())

# %% [markdown]
# **The physical limit, estimated.** No kernel can multiply faster than the machine's
# arithmetic allows, nor move a weight's bytes faster than its memory bandwidth (the
# *roofline*, `lthlib.experiments.sparse_bounds`): a layer takes at least
# $\max(\text{FLOPs} / \text{peak},\ \text{bytes} / \text{bandwidth})$, where a sparse
# format's bytes include its indices. Both rates are measured here, now, in a few seconds:
# a dense matrix product that fits in cache (peak), and for bandwidth the faster of a sum
# over an array far larger than the caches and a dense matrix-vector product over the same
# bytes (the kernel a dense layer runs at batch 1). So the bound is an *estimate* of the
# limit from a short calibration: on a shared machine the rates vary, so they are measured
# again after each group of timings and each bound uses the better of the moments so far
# (the larger peak and bandwidth: a bound too slow would flatter the kernels). Each
# calibration is printed with the machine's load average (on 2 cores with one timing
# thread, about 1 means one other busy process), and each rate says which calibration it
# came from. The spread of each rate is its interquartile range (IQR: the middle half of
# the repeats). The ratio FLOPs / bytes is a kernel's *arithmetic intensity*; below the machine's
# peak / bandwidth (the *ridge point*) a kernel is memory-bound. A dense fp32 product at
# batch $B$ does $2B$ FLOPs per 4-byte weight, $B/2$ FLOP per byte.

# %%
machine = sb.calibrate(threads, label="calibration 1")
say("Measured on this machine (first calibration): {m}; ridge point {r:.1f} FLOP per byte.", m=machine.describe(),
    r=machine.peak_flops / machine.bandwidth)

# %% [markdown]
# Words this chapter uses (`lthlib.report.glossary`):

# %%
_ = define("density", "ticket", "sparse format", "structured pruning")

# %% [markdown]
# ## 1. What a sparse format stores
#
# A small pruned weight matrix, and what CSR (compressed sparse row) keeps of it: the
# surviving **values**, the **column index** of each, and for each row where its values
# start (**row pointers**). Every kept weight now costs its value *and* an index.

# %%
example = torch.tensor([[0.0, 1.5, 0.0, 0.0, -2.0, 0.0],
                        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                        [0.7, 0.0, 0.0, 3.1, 0.0, 0.0],
                        [0.0, 0.0, -0.4, 0.0, 0.0, 0.9]])
csr = example.to_sparse_csr()
say("Weight (4 x 6, {k} of 24 kept). CSR stores values `{v}`, column indices `{c}` and row pointers `{r}`: "
    "{b} bytes against {d} dense.", k=int((example != 0).sum()), v=[round(v, 2) for v in csr.values().tolist()],
    c=csr.col_indices().tolist(), r=csr.crow_indices().tolist(), b=sx.tensor_bytes(csr), d=sx.tensor_bytes(example))

# %% [markdown]
# The weights of LeNet-300-100 in each format, against density (no timing yet: this is
# what each format stores). Indices here are 64-bit integers, as torch stores them, so a
# kept weight costs 12 bytes in CSR against 4 in a dense float32 matrix.

# %%
lenet = build_model("lenet300_100", (784,), 10, seed=0)
memory_densities = [d for d in speed["densities"] if d < 1.0]
memory = {sx.FORMAT_LABELS[f]: [] for f in ("masked", "csr", "coo", "bsr", "structured")}
for d in memory_densities:
    mask = sx.magnitude_mask(lenet, d)
    for f in ("masked", "csr", "coo", "bsr"):
        memory[sx.FORMAT_LABELS[f]].append(sx.weight_bytes(sx.build_format(f, lenet, mask)))
    memory[sx.FORMAT_LABELS["structured"]].append(
        sx.weight_bytes(sx.structured_model(lenet, sx.neuron_mask(lenet, sx.neuron_keep_for(lenet, d)))))
dense_bytes = sx.weight_bytes(lenet)
fig = plots.seed_bands([100 * d for d in memory_densities], {k: np.array([v]) / dense_bytes for k, v in memory.items()},
                       "", "weight memory / dense", percent_x=True, legend=False,
                       references={"dense": 1.0}, title="Memory of LeNet-300-100's weights in each format")
fig.axes[0].set_yscale("log")
fig.axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
fig.tight_layout()
plots.save_figure(fig, FIGURES_DIR, "memory")

# %%
csr_mem = dict(zip(memory_densities, memory[sx.FORMAT_LABELS["csr"]]))
smaller = [d for d in memory_densities if csr_mem[d] < dense_bytes]
say("**What to see.** CSR's weights are smaller than the dense matrix only {where}; at {p:.0f}% they take "
    "{x:.2f}x the dense bytes.",
    where=(f"at densities of {100 * max(smaller):g}% and below" if smaller else "at none of the densities drawn"),
    p=100 * memory_densities[0],
    x=csr_mem[memory_densities[0]] / dense_bytes)

# %% [markdown]
# ## 2. Inference speed against density
#
# Each network is pruned by weight magnitude, layer by layer, to each density (the
# structured format removes whole neurons until about that fraction of weights is left)
# and each format is timed: the median of `speed["repeats"]` timed calls after warm-up
# calls, on a fixed number of threads, with dense timed again next to every density so
# each speed-up compares measurements taken close together. A speed-up above 1 means
# faster than the dense network. Batch 1 is one request at a time (latency); a large
# batch is throughput.

# %%
formats = ("masked", "csr", "coo", "bsr", "structured", "semi_structured")
timings = {}
for name, shape in speed["timed"].items():
    model = build_model(name, shape, 10, seed=0).to(device)
    dens = speed["conv_densities"] if len(shape) > 1 or name.startswith("cnn") else speed["densities"]
    timings[name] = sx.benchmark_formats(model, shape, dens, formats, speed["batch_sizes"],
                                         repeats=speed["repeats"], threads=threads)

again = sb.calibrate(threads, fresh=True, label="calibration 2")  # measured again: the better of two moments
machine = machine.faster(again)
say("Calibrated again after the timings: {a}. **The rooflines of section 2 use** the better rate of the two: "
    "{m}.", a=again.describe(), m=machine.describe())
bounds = {name: sb.network_bounds(build_model(name, shape, 10, seed=0), shape,
                                  speed["conv_densities"] if name.startswith("cnn") or len(shape) > 1
                                  else speed["densities"], formats, speed["batch_sizes"], machine)
          for name, shape in speed["timed"].items()}
fig = sp.speed_figure(timings, formats, speed["batch_sizes"], "inference", bounds)
plots.save_figure(fig, FIGURES_DIR, "inference_speedup")

# %% [markdown]
# **How to read it.** Each line is one format's speed-up over dense (log scale) as the
# density falls to the right; above the dotted line is faster. The dashed line of the
# same colour is that format's **ceiling**: the dense time measured beside it over the
# format's roofline time (the sum over the network's layers of each layer's roofline
# time, layers a format keeps dense counted dense). No kernel of that format runs faster
# than its roofline, so none could beat *this* dense timing by more: the gap between a
# line and its dashed line is what a better sparse kernel could still gain against this
# dense. The ceiling is not the speed-up "if both ran at their roofline" (the table's
# "at both rooflines"): dense itself runs below its roofline, and a better dense kernel
# would lower every ceiling. The masked form does the dense network's work, so its
# distance from 1x is timing noise: the masked line and the shaded bands (IQR of the
# per-repeat speed-ups) show how much of it this machine has. Formats that cannot run
# here (2:4 on a CPU) have no line.

# %%
say(ss.attained_words(ss.attained(timings, bounds, formats)))

# %% [markdown]
# **Convolutions stay dense.** torch has no sparse convolution on the CPU, so CSR, COO
# and BSR turn only a network's *Linear* layers into sparse matrices; its convolutions
# run as in the masked form, zeros multiplied. The panels of a convolutional network
# (the MNIST-1D CNN at quick scale) therefore time sparse Linear layers inside an
# otherwise dense network, not sparse convolutions; only the structured form removes
# work from its convolutions.

# %%
shares = {ss.MODEL_LABELS.get(n, n): sx.sparse_layer_share(build_model(n, shape, 10, seed=0), shape)
          for n, shape in speed["timed"].items()}
conv = [name for name, (w, _) in shares.items() if w < 1]
say("What the sparse formats can touch: " + "; ".join(
    f"{name}'s Linear layers hold {w:.0%} of its prunable weights and do {m:.0%} of its multiply-adds"
    for name, (w, m) in shares.items()) + ". " + (
    f"So in the panels of {' and '.join(conv)}, even a sparse kernel that cost nothing could remove at most the "
    "Linear layers' share of the work." if conv else "No network timed at this scale has convolutions."))

# %% [markdown]
# The **crossover** of a format is the highest density measured at which it beat dense
# by more than `crossover_margin` (`sx.crossover_density(..., min_speedup=...)`): a grid
# point, not an interpolation. Why a margin: in inference the masked form at every
# density (it does the dense network's work, zeros multiplied) and the structured form at
# 100% of weights compute what the dense network computes, yet timed side by side they do
# not measure exactly 1x (the spread of those rows is printed below, with the rows at its
# two ends, and is the noise band every speed-up here must be read against). "never" means it never beat dense by the margin at
# the densities measured.

# %%
crossover_margin = 1.1  # faster means more than 10% faster (fixed before the run; the claims use it too)
identical = ss.identical_speedups(timings)  # inference: masked at every density, structured at 100%; ideally 1x
noisy = max(identical) > crossover_margin or min(identical) < 1 / crossover_margin
say("Identical work timed side by side in inference (the masked form at every density, the structured form at "
    "100%; every network and batch) measured {band} of dense: timing noise and ordering effects of this size are "
    "not a speed-up. {caveat} Crossover density (inference), faster by more than {m:.0%}:\n\n"
    + ss.crossover_table(timings, formats, speed["batch_sizes"], "inference", min_speedup=crossover_margin),
    band=ss.band_words(timings), m=crossover_margin - 1,
    caveat=("**That spread is wider than the margin**, so on this run a crossover may be noise (even the masked "
            "form, which does the dense work, can show one); read the table beside the panels' bands, or rerun "
            "on a quieter machine." if noisy else "That spread is within the margin."))

# %%
reason_24 = sx.semi_structured_support(device)
say("**2:4 semi-structured sparsity** {status}",
    status=("ran on this device (at its only density, 50%)." if reason_24 is None else f"cannot run here: {reason_24}."))

# %% [markdown]
# ## 3. One training step
#
# The same for a training step (forward, backward, SGD update). Masked training is what
# IMP does: the dense network's work, plus multiplying the gradients by the mask. Sparse
# layouts must also produce a sparse weight gradient; where torch cannot differentiate a
# layout, the table says "cannot run here". Read the panels as in section 2; the masked
# form now does a little more than dense (it also masks the gradients), so its distance
# from 1x is partly work, not only noise, and the convolutions of the CNN stay dense here
# too. No ceiling is drawn: this notebook has no roofline of a training step.

# %%
fig = sp.speed_figure(timings, formats, speed["batch_sizes"], "train step")
plots.save_figure(fig, FIGURES_DIR, "train_step_speedup")

# %%
say("Crossover density (training step), faster by more than {m:.0%}{c}:\n\n"
    + ss.crossover_table(timings, formats, speed["batch_sizes"], "train step", min_speedup=crossover_margin),
    m=crossover_margin - 1, c=" (section 2's caveat applies: this run's timing noise is wider than the margin)"
    if noisy else "")

# %% [markdown]
# **Why.** A dense matrix product streams contiguous memory through vector units and
# reuses each loaded value many times (more so at large batch). A sparse product loads an
# index per value and gathers inputs at irregular addresses, so each multiply-add costs
# several times more; it wins only when it does many times fewer of them. At batch 1 the
# product is a matrix-vector product: for a layer too large for the CPU's caches it is
# limited by memory bandwidth, and skipping the bytes of pruned weights can pay sooner
# (docs/sparse_formats.md measures this for Conv-2's 16 MB layer); for layers that fit in
# cache, a sparse call's fixed overhead dominates instead. Removing whole neurons keeps
# everything dense and contiguous, so its speed-up follows its size. (The timings fix the
# CPU's treatment of tiny "denormal" floats, flushing them to zero, because one sparse
# kernel ran several times slower without it: `sx.denormals_flushed`.)
#
# **Published anchors** (the papers' measurements, on their hardware, not this run's):
#
# - Gale, Zaharia, Young & Elsen 2020 (*Sparse GPU Kernels for Deep Learning*, arXiv
#   abstract), on NVIDIA V100 GPUs: existing sparse kernels, built for the very high
#   sparsity of scientific computing, do not beat dense ones at the moderate sparsity of
#   deep networks; their own kernels made sparse Transformer and MobileNet models 1.2-2.1x
#   faster than their dense counterparts. (The per-density crossovers of their Figure 1
#   could not be checked against the paper's text here, so they are not quoted.)
# - Elsen, Dukhan, Gale & Simonyan 2020 (*Fast Sparse ConvNets*, abstract), on a phone's
#   ARM CPU (Snapdragon 835): with sparse kernels written for it (in XNNPACK), sparse
#   MobileNet v1, v2 and EfficientNet ran 1.3-2.4x faster than their dense equivalents
#   (their abstract: sparse networks "outperform" dense ones on the efficiency-accuracy
#   curve), against the
#   "conventional wisdom" that fewer FLOPs do not make a network faster. Their sparse
#   kernels run the 1x1 convolutions, each a matrix product: a sparse convolution of the
#   simplest kind.
# - Mishra et al. 2021 (*Accelerating Sparse Deep Neural Networks*, abstract): NVIDIA's
#   sparse tensor cores (Ampere) run the 2:4 pattern at twice the math throughput of
#   dense ones. That is a peak for the matrix products alone; the rest of a network does
#   not get faster.
#
# The two measured speed-ups above (Gale et al.'s and Elsen et al.'s; Mishra et al.'s is a
# peak) came from kernels written for the purpose; torch's CPU kernels timed here are
# general-purpose, so this machine may need sparser layers.
#
# ## 4. A layer where sparsity can pay
#
# The networks above are small: their layers fit in the CPU's caches, where a sparse
# call's fixed overhead dominates. A large layer is different: at batch 1 a
# 4096 x 4096 fp32 weight (64 MB; the quick and paper scales' layer, 256 x 256 at smoke) must stream from memory on every
# call, so the time is the bytes moved, and a sparse format that moves fewer bytes can
# win. One such layer alone, in every format including SciPy's CSR with 32-bit indices
# (torch's use 64-bit), each format's weights kept in enough copies that every call
# reads them from memory, beside its ceiling. Unstructured formats use random masks; BSR
# keeps whole 16 x 16 blocks (a block-structured mask, what BSR needs). At quick scale
# fewer densities and repeats than `benchmarks/sparse_formats.py --large`, whose tables
# (1 and 2 threads) are in `docs/sparse_formats.md`.
#
# **Which kernels.** torch's CSR/COO/BSR and SciPy's CSR are what installs everywhere with
# this project. `docs/sparse_formats.md` also evaluates other maintained CPU sparse
# libraries (`sparse_dot_mkl`, pydata `sparse`) on this layer and says why none is added:
# `sparse_dot_mkl` needs Intel's MKL runtime (hundreds of MB, found only with an
# environment variable set by hand). **Threads:** every timing here runs on the thread
# count printed at the top (one unless you set `THREADS`). One thread is the case most
# favourable to sparse kernels, by argument: dense BLAS gains most from more threads,
# while SciPy's sparse product stays single-threaded. (The benchmark's 2-thread rows do
# not show this: on the shared 2-core machine they measure the scheduler, not the
# kernels.)

# %%
large = sx.LARGE_PRESETS[SCALE]
layer = " x ".join(map(str, large["shape"]))
layer_timed = sb.time_layer_formats(large["shape"], large["densities"], large["batch_sizes"], threads=threads,
                                    repeats=large["repeats"])
again = sb.calibrate(threads, fresh=True, label="calibration 3")  # and again after the large layer
machine = machine.faster(again)
layer_rows = sb.with_bounds(layer_timed, machine)
dense_share = [r["attained"] for r in layer_rows if r["format"] == "dense" and "attained" in r]
say("Calibrated again after the large layer: {a}. **This section's rooflines use** the best rate of the three: "
    "{m}. Sanity check: dense itself attained {lo:.0f}% to {hi:.0f}% of its own roofline here{note}.",
    a=again.describe(), m=machine.describe(), lo=100 * min(dense_share), hi=100 * max(dense_share),
    note=("; above 100% the calibration read the machine low (a busier moment than the timing), so read every "
          "ceiling of this section as low" if max(dense_share) > 1 else ""))
fig = sp.layer_figure(layer_rows, layer)
plots.save_figure(fig, FIGURES_DIR, "large_layer")

# %%
large_best = ss.large_layer_rows(layer_rows, machine, crossover_margin)
say(ss.large_layer_words(large_best, layer, threads, crossover_margin) + " For scale: "
    + ss.noise_words(ss.layer_identical(layer_rows), "on this layer") + ".\n\n" + sb.bound_table(layer_rows))

# %% [markdown]
# **What to see.** At batch 1 the roofline is the memory bound for every format: at both
# rooflines the speed-up is the ratio of bytes. Dense costs 4 bytes per weight; CSR with
# 32-bit indices (SciPy) costs 8 bytes per kept weight, so at density $d$ it would be
# about $1/(2d)$ at both rooflines; torch's 64-bit indices make it 12 bytes, about
# $1/(3d)$. At batch 8 each weight read serves 8 inputs (4 FLOP per byte for dense): the
# "bound by" column says whether that is above this calibration's ridge point. The
# "ceiling" column is the dense median timed beside the format over the format's roofline
# time: no kernel of that format could beat this dense timing by more. Where dense runs
# well below its own roofline (its "attained" share), the ceiling is far above the speed-up
# "at both rooflines", and a sparse kernel can beat the latter: the slow dense baseline
# inflates the speed-up (docs/sparse_formats.md says the same). A point above its ceiling
# would mean the calibration read the machine low. The "attained" column of a format is
# also its share of its ceiling.
#
# ## 5. The accuracy side
#
# Speed is half the question. At the same number of weights, on the network notebook 02
# trains at this scale (named below; at quick scale the MNIST-1D MLP, not the
# LeNet-300-100 timed above), three ways to be small:
#
# - the **IMP ticket**: unstructured, runs fast only in a sparse format;
# - **structured IMP**: whole neurons removed by the L1 norm of their incoming weights,
#   rewound to initialisation and retrained, level by level (`lthlib.methods.structured_pruning`);
#   runs as a smaller dense network;
# - a **small dense network** of the ticket's size trained from scratch: per seed, the
#   mean of `small_per_seed` fresh draws (the first members of notebook 09's pool, so both
#   notebooks share those runs).
#
# Each is timed in the form it would run in, against the dense network it came from.

# %%
data = data_for(train_settings, device=DEVICE)
imp_results = run_imp_seeds(imp_settings, seeds, data, store=store)
rounds = list(speed["rounds"])
densities = [imp_results[0].rounds[r - 1].density for r in rounds]
percents = [100 * d for d in densities]
structured = run_structured(imp_results, data, densities, store=store)
smalls = [mt.small_settings(train_settings, data, imp_results[0].rounds[r - 1].mask.num_kept()) for r in rounds]
small_per_seed = 4  # small networks per seed and density: their mean is "a small dense network"
small_runs = {(i, s): mt.run_small_nets(smalls[i].replace(seed=s), data, small_per_seed, store=store)
              for i in range(len(rounds)) for s in seeds}
acc = {"ticket": np.array([[res.rounds[r - 1].ticket.reported() for r in rounds] for res in imp_results]),
       "structured": np.array([[structured[d, s].reported() for d in densities] for s in seeds]),
       "small": np.array([[np.mean([run.reported() for run in small_runs[i, s]]) for i in range(len(rounds))]
                          for s in seeds])}
dense_acc = np.array([res.dense.reported() for res in imp_results])
structured_density = np.array([[Mask(structured[d, s].mask).density() for d in densities] for s in seeds])

# %% [markdown]
# Speed-ups of seed 0's networks, in the form each would run in: the ticket in the faster
# of CSR and COO on these very timings (so its figure leans a little optimistic), each
# the median of the timing repeats, all forms timed side by side, with dense timed twice
# in the same call and the faster of the two taken as the baseline (one stalled dense
# median would inflate every speed-up; both are printed under the table). One seed's
# networks only: the forms' shapes are the same for every seed. The masked ticket does the
# dense network's work, so its distance from 1x in the table is timing noise.

# %%
bsr_d = min(memory_densities, key=lambda d: abs(d - densities[-1]))  # the memory figure's density nearest the ticket's
say("**BSR is left out here:** with 4 x 4 blocks an unstructured mask at {p:g}% still stores {x:.2f}x the dense "
    "bytes (section 1's figure); in section 2, with BSR as the only format, {where}.", p=100 * bsr_d,
    x=memory[sx.FORMAT_LABELS["bsr"]][memory_densities.index(bsr_d)] / dense_bytes,
    where=ss.crossover_words(timings, ("bsr",), speed["batch_sizes"], crossover_margin))

# %%
shape = data.input_shape
trained = model_for(train_settings, data).cpu()
trained.load_state_dict({k: v.cpu() for k, v in imp_results[0].dense.final_state.items()})
big = speed["batch_sizes"][-1]
fast = {}  # (batch, round index) -> {route: (speed-up over dense, how it runs)}
with sx.denormals_flushed(), torch.inference_mode():  # the forms are built as they are timed
    for i, r in enumerate(rounds):
        routes = sr.route_speedups(trained, imp_results[0].rounds[r - 1].mask,
                                   Mask(structured[densities[i], seeds[0]].mask), model_for(smalls[i], data).cpu(),
                                   speed["batch_sizes"], shape, repeats=speed["repeats"], threads=threads)
        fast.update({(b, i): up for b, up in routes.items()})

# %%
names = sr.SIZE_ROUTES
say("Network: {model} on {ds}; dense network: {d}. Its Linear layers, the only ones a sparse format runs sparse, "
    "hold {lin:.0%} of its prunable weights. Structured IMP keeps {sd} of the weights at the three "
    "densities (mean over seeds; whole neurons cannot hit a count exactly).\n\n"
    + sr.size_table(fast, acc, percents, speed["batch_sizes"]),
    model=ss.MODEL_LABELS.get(train_settings.model, train_settings.model), ds=train_settings.dataset, d=spread(dense_acc),
    lin=sx.sparse_layer_share(trained, shape)[0],
    sd=", ".join(f"{100 * v:.1f}%" for v in structured_density.mean(axis=0)))

# %%
# the routes that run fast as they are, in their colours everywhere; offsets (points) keep the labels apart
shown = {"ticket": (6, 6), "structured": (6, -12), "small": (-30, 6)}
speeds_big = {k: [fast[big, i][k][0] for i in range(len(rounds))] for k in shown}
fig = sp.accuracy_vs_speed({names[k]: (speeds_big[k], acc[k]) for k in shown}, percents, dense_acc,
                           f"inference speed-up over dense, batch {big} (log; seed 0's networks: one median of "
                           "the repeats, no band)", f"test accuracy ({reading})",
                           title="Accuracy against the speed each route delivers here",
                           colors={names[k]: sr.ROUTE_COLORS[k] for k in shown}, offsets={names[k]: o for k, o in shown.items()})
plots.save_figure(fig, FIGURES_DIR, "accuracy_vs_speed")

# %%
say(sr.equal_speed_words(speeds_big, acc, percents, big, crossover_margin))

# %% [markdown]
# ## 6. Every route at equal measured cost
#
# Section 5 compares networks at the same number of weights; the objection is about
# *speed* and *cost*. Here every route to a network of the ticket's size (the sparsest
# round above) goes on the same axes, each measured here: its inference speed-up over
# dense (batch 1 and the large batch, the fastest form it can run in), its training time
# (the steps it trained times a training step of the network it trained, timed here) and
# multiply-adds (as notebook 07 counts them), against its accuracy:
#
# - **dense** and **small dense** (section 5's), **structured IMP**, the **IMP ticket**
#   in its fastest format (masked, CSR or COO);
# - **one-shot magnitude pruning + fine-tuning**: each seed's trained dense network pruned
#   once to the ticket's per-layer densities, then trained as long again from there;
# - **RigL** (Evci et al. 2020: dynamic sparse training that keeps the density fixed and
#   periodically drops the smallest weights and regrows those with the largest dense
#   gradient; per-layer densities by ERK) at 1x training (notebook 07's runs) and at
#   **5x** (trained here, on fewer seeds at quick scale to keep it within minutes: the
#   table's "seeds" column);
# - the **best PaI method** of notebook 06 (pruning at initialisation: SNIP, GraSP,
#   SynFlow score the initial weights and train only the kept ones) at this density,
#   picked as the most accurate on these same runs (so it leans optimistic).
#
# Every sparse route trains masked here, at a dense step's cost; its speed is that of its
# seed-0 mask in the fastest form (the mask's layout matters, not its weights). All routes
# are timed again here, side by side in one call per batch: section 5 timed the ticket,
# structured IMP and the small network in another call, so both timings of each and their
# ratio are printed under the table, and the equal-speed reading is checked with both
# (each table also prints its dense baseline in ms, so a slow baseline shows).

# %%
_ = define("pruning at initialisation", "ERK", "one-shot pruning", "learning-rate rewinding")

# %%
j = len(rounds) - 1
d, T = densities[j], train_settings.iterations
route_seeds = seeds[:large["route_seeds"]]
rigl = SparseTrainingSettings(**SPARSE_PRESETS[SCALE]).replace(method="rigl", density=d, distribution="erk")
rigl_1x = run_sparse(train_settings, data, [rigl], seeds, store=store)  # notebook 07's runs
rigl_5x = run_sparse(train_settings.replace(iterations=5 * T), data, [rigl], route_seeds, store=store)
pai_runs = run_pai(train_settings, data, PAI_SCORED, [d], seeds, store=store,
                   grasp_temperature=pai_for_scale(SCALE).grasp_temperature)  # notebook 06's runs
pai_acc = {m: np.array([pai_runs[m, "none", d, s].reported() for s in seeds]) for m in PAI_SCORED}
best_pai = max(pai_acc, key=lambda m: pai_acc[m].mean())
one_shot = sr.run_one_shot_finetune(imp_settings, imp_results[:len(route_seeds)], rounds[j], data, T, store)

# %%
route_acc = {"dense": dense_acc, "small": acc["small"][:, j], "structured": acc["structured"][:, j],
             "ticket": acc["ticket"][:, j], "one_shot": [r.reported() for r in one_shot],
             "rigl": [rigl_1x[rigl, s].reported() for s in seeds],
             "rigl_5x": [rigl_5x[rigl, s].reported() for s in route_seeds], "pai": pai_acc[best_pai]}
route_masks = {"ticket": imp_results[0].rounds[rounds[j] - 1].mask, "one_shot": Mask(one_shot[0].mask),
               "rigl": Mask(rigl_1x[rigl, seeds[0]].mask), "rigl_5x": Mask(rigl_5x[rigl, seeds[0]].mask),
               "pai": Mask(pai_runs[best_pai, "none", d, seeds[0]].mask)}
notes = {"small": f"accuracy: mean of {small_per_seed} per seed; cost: one", "pai": f"{best_pai}, the most "
         f"accurate of {', '.join(PAI_SCORED)} here", "structured": "cost counted at the ticket's masks",
         "rigl_5x": f"{5 * T} iterations", "one_shot": f"fine-tuned {T} iterations"}
small_net = model_for(smalls[j], data).cpu()
route_list = sr.routes_for(trained, small_net, imp_results[0], rounds[j], route_acc, route_masks,
                           Mask(structured[d, seeds[0]].mask), rigl, notes)
sr.time_routes(route_list, trained, speed["batch_sizes"], shape, repeats=speed["repeats"], threads=threads)
step_s = sr.cost_routes(route_list, trained, small_net, shape, train_settings.batch_size, threads=threads)
say(sr.route_table(route_list, percents[j]))

# %%
ticket_route = next(r for r in route_list if r.name == "ticket")
equal_speed, rivals_win = sr.equal_speed_summary(speeds_big, acc, percents, big, crossover_margin, j,
                                                 again=ticket_route.speed[big][0])
say(sr.timing_agreement(fast, j, route_list, crossover_margin) + "\n\n**At equal speed, across densities:** "
    + equal_speed)

# %%
fig = sp.routes_figure(route_list, f"test accuracy ({reading})", noise=crossover_margin,
                       title=f"Every route to {percents[j]:.1f}% of the "
                             f"{ss.MODEL_LABELS.get(train_settings.model, train_settings.model)}'s weights, measured here")
plots.save_figure(fig, FIGURES_DIR, "routes")

# %%
say(sr.route_words(route_list, sr.route_bounds(ticket_route, trained, shape, machine), crossover_margin,
                   machine.describe(), equal_speed, rivals_win))

# %% [markdown]
# ## 7. The claims
#
# Timing claims are judged over the timing repeats of one network (LeNet-300-100), each
# repeat's speed-up taken against the dense repeat timed beside it, as a natural log:
# positive values are faster, negative slower, and exp(value) is the speed-up. Repeats
# run one after another on one machine, so the interval says how steady the measurement
# was, not how another machine would do. The *paper* rows test Gale et al.'s (2020)
# statement that existing sparse kernels (theirs: the GPU libraries; here: torch's CPU
# kernels) do not beat dense at the moderate sparsity of deep networks (here 20% of the
# weights, fixed before the run), at every batch size, threshold 0. The rows at 2% of
# the weights (very sparse, also fixed before the run) are *diagnostic*: the paper says
# the existing kernels were built for extremely (99%) sparse matrices, not that they beat
# dense there. The sign test decides; the mean of the logs can be pulled by a few repeats. No claim reads a density picked from the timings it tests. The
# large layer's claim (section 4) is a headline: its format, density and batch are fixed in
# `sx.LARGE_PRESETS` from a separate run (the benchmark in `docs/sparse_formats.md`), and
# it needs more than the log of `crossover_margin`. The other headline claims are the
# accuracy claims, which pair the networks of each seed, as in the other notebooks.

# %%
claims = Claims("08", SCALE, CLAIMS_FILE)
lenet_rows = timings["lenet300_100"]
margin = math.log(crossover_margin)
timing = dict(over="timing repeats", statistic="ln speed-up")
timing_claims, csr_faster, csr_slower = [], {}, {}  # the paper's claims by batch size, for the answer
for b in speed["batch_sizes"]:
    # the published densities, fixed before the timings: the paper's claims, at every batch size
    for d_anchor, faster, made in ((0.02, True, csr_faster), (0.2, False, csr_slower)):
        if d_anchor in speed["densities"]:
            made[b] = claims.check(
                f"CSR inference of LeNet-300-100 (batch {b}) is {'faster' if faster else 'slower'} than dense at "
                f"{100 * d_anchor:g}% of weights ({100 * (1 - d_anchor):g}% sparsity)",
                sx.log_speedups(lenet_rows, "csr", d_anchor, b, "inference"), below=not faster,
                role="diagnostic" if faster else "paper", paper=ss.VERY_SPARSE_NOTE if faster else ss.CROSSOVER_PAPER,
                **timing)
            timing_claims.append(made[b])
fmt_l, d_l, b_l = large["claim"]  # fixed in the spec from a separate run, not from these timings
large_claim = claims.check(
    f"On the {layer} layer (batch {b_l}, {threads} thread{'s' if threads != 1 else ''}), "
    f"{sb.FORMAT_LABELS[fmt_l]} inference is more than {crossover_margin - 1:.0%} faster than dense at {100 * d_l:g}% of weights",
    sx.log_speedups(layer_rows, fmt_l, d_l, b_l, "inference"), threshold=margin, **timing)
say(claims_markdown(timing_claims + [large_claim], SCALE))

# %%
accuracy_claims = [
    claims.paired(f"at {percents[j]:.1f}% of weights, the IMP ticket is more accurate than structured IMP "
                  "with the same number of weights", better=acc["ticket"][:, j], worse=acc["structured"][:, j]),
    claims.paired(f"at {percents[j]:.1f}% of weights, the IMP ticket is more accurate than a small dense network "
                  "of its size", better=acc["ticket"][:, j], worse=acc["small"][:, j]),
    claims.paired(f"at {percents[j]:.1f}% of weights, a small dense network of structured IMP's size trained from "
                  "scratch is no more than 1 point less accurate than structured IMP", better=acc["small"][:, j],
                  worse=acc["structured"][:, j], margin=-0.01, role="paper", paper=ss.STRUCTURED_PAPER),
]
say(claims_markdown(accuracy_claims, SCALE))

# %% [markdown]
# The third claim follows the second finding of Liu et al.'s abstract: with the best
# learning rate, the winning-ticket initialisation brings no improvement over a random
# one. Structured IMP here keeps the pruned network's rewound initial weights and
# retrains it (it is not fine-tuned, so their first finding, from scratch against
# fine-tuning, is not tested); the small network starts from a random initialisation.
# The claim: the small network is no more than 1 point below structured IMP (one-sided;
# the 1 point is this notebook's margin). It differs from their set-up in two ways: the
# small dense network here is notebook 09's, every hidden layer narrowed by one factor
# (close to structured IMP's shape, which keeps the same fraction of neurons in every
# hidden layer, but not the pruned architecture itself), and it trains for the same
# number of iterations as one IMP round, closer to their *Scratch-E* (same epochs) than
# to *Scratch-B* (same compute).
#
# ## Summary
#
# **Reading the verdicts.** The *paper* rows ask whether torch's CSR on LeNet-300-100,
# like the existing kernels Gale et al. (2020) describe, fails to beat dense at moderate
# sparsity; the 2% rows are a diagnostic; the large layer's claim asks whether a sparse
# kernel beats dense where the weights stream from memory, at a density fixed before the
# run. The accuracy claims ask what the speed costs at equal
# weight count: is an unstructured ticket, which needs a sparse format to run faster at
# all, more accurate than the networks that run fast as ordinary dense code (structured
# IMP and a small dense network of the same size)? And, in the direction of Liu et al.'s
# second finding, does the small network from a random initialisation do as well as
# structured IMP from its rewound one? Sections 5 and 6 ask the same at equal measured
# speed and cost, as a description (some routes train on fewer seeds at quick scale), not
# a claim. Rendered from this run:

# %%
say(verdict_lines(claims.items))

# %%
say(ss.answer(csr_faster, csr_slower, *accuracy_claims, percents[j],
              f"the {ss.MODEL_LABELS.get(train_settings.model, train_settings.model)} on {train_settings.dataset}",
              crossovers=ss.crossover_words(timings, ("csr", "coo", "bsr"), speed["batch_sizes"], crossover_margin,
                                            large_best, layer)))

# %% [markdown]
# **The objection, answered from the measurements.** Its two halves apart: does
# *unstructured* sparsity (random masks, CSR or COO; BSR's block mask is structure) make
# anything faster on this CPU at all (section 4's large layer), and is a sparse ticket the
# practical way to a fast network (section 6's routes)?

# %%
unstructured = ss.large_layer_rows(layer_rows, machine, crossover_margin, formats=("csr", "coo", "scipy_csr"))
say(ss.conclusion(unstructured, layer, threads, f"{sb.cpu_name()}: {machine.describe()}", route_list, percents[j],
                  f"the {ss.MODEL_LABELS.get(train_settings.model, train_settings.model)} on {train_settings.dataset}",
                  crossover_margin, large_claim, noise=ss.layer_identical(layer_rows), equal_speed=equal_speed,
                  rivals_win=rivals_win))

# %% [markdown]
# ## Exercises
#
# 1. Rerun with `THREADS=2` (if you have two free cores). Which formats gain from more
#    threads, and does the crossover move?
# 2. BSR stores small dense blocks. Prune LeNet-300-100 to 5% with whole 4 x 4 blocks
#    (score each block by its L1 norm) instead of single weights, and time it with
#    `sx.sparse_model(..., layout="bsr", blocksize=4)`. Is it faster than CSR at the same
#    density? (A start: a `Mask` is a dict of bool tensors, one per weight's name; for a
#    weight `w`, `s = w.abs().unfold(0, 4, 4).unfold(1, 4, 4).sum((-1, -2))` scores each
#    block, and `keep.repeat_interleave(4, 0).repeat_interleave(4, 1)` turns the kept
#    blocks back into a mask of `w`'s shape; `sb.layer_weight` expands the large layer's
#    kept blocks the same way.)
# 3. `sx.weight_bytes` counts 64-bit indices. Recompute CSR's memory with 32-bit
#    indices (`crow_indices().int()`): at which density is it now smaller than dense?
# 4. Time a batch of 4,096 with `sx.benchmark_formats(..., batch_sizes=(4096,))`. Does
#    CSR's speed-up over dense grow or shrink from batch 1 to 256 to 4,096 here? Explain
#    with the "Why" paragraph: what is reused more at a larger batch, in each format?
# 5. With `sb.layer_cost` and `machine`, compute by hand the roofline time of the 4096 x 4096
#    layer in torch CSR at 10% of the weights, batch 1: its bytes (values, indices, row
#    pointers, input, output), its FLOPs, and which of the two bounds it. Check the
#    speed-up "at both rooflines" in section 4's table. Then do it at batch 256: which term bounds it now?
# 6. Section 6 read the routes at equal speed. Draw the line the routes trace from the
#    dense network to the small one (accuracy against batch-256 speed-up): which routes lie
#    above it, and would the answer change at equal *multiply-adds* instead of measured
#    training time?
