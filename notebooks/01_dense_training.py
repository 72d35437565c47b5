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
# # 01 · Dense training: the baseline every ticket is measured against
#
# The Lottery Ticket Hypothesis (Frankle & Carbin, *ICLR 2019*) is a claim about a
# comparison: a sparse subnetwork, trained in isolation from the original initialisation,
# **matches the test accuracy of the dense network in at most as many iterations**. So
# before pruning anything we need the dense network's numbers, measured the way the paper
# measures them.
#
# **In this notebook you will**
# - train the dense network over several seeds and read its training curves;
# - find the **early-stopping iteration** (minimum validation loss), the paper's measure
#   of "how fast a network learns", and the test accuracy there;
# - look at the **weight magnitudes** per layer at initialisation and after training,
#   which is what magnitude pruning (notebook 02) ranks;
# - count **parameters per layer**, which explains why the output layer is pruned at half
#   the rate of the hidden layers.
#
# **Papers:** Frankle & Carbin 2019, *The Lottery Ticket Hypothesis* (LeNet-300-100 on
# MNIST, Adam lr 1.2e-3, batch 60). Offline data: Greydanus 2020, *MNIST-1D*.
#
# **Time:** `SCALE="quick"` (the default) takes about a minute on a 2-core laptop CPU;
# `"smoke"` seconds; `"paper"` (LeNet-300-100 on MNIST, 50K iterations, needs MNIST on disk)
# some minutes per seed on a CPU.

# %% tags=["parameters"]
SCALE = "quick"  # "smoke" | "quick" | "paper"
SEEDS = 3  # independent initialisations (error bands)
DATASET = None  # None: the scale's default ("mnist1d" for smoke/quick, "mnist" for paper)
MODEL = None  # None: the dataset's default model
RESULTS_DIR = "../results"  # stored runs are reused on re-runs; None stores nothing
FIGURES_DIR = None  # set a folder to save every figure as PNG

# %%
# %matplotlib inline
import lthlib
from lthlib import plots, widgets
from lthlib.exercises import check
from lthlib.models import count_parameters, prunable_parameters
from lthlib.store import Store
from lthlib.training import data_for, dense_runs, model_for

settings = lthlib.for_scale(SCALE, model=MODEL, dataset=DATASET)
store = Store(RESULTS_DIR)
seeds = list(range(SEEDS))
snapshots = sorted({0, *range(0, settings.iterations + 1, max(1, settings.iterations // 10))})
settings

# %% [markdown]
# ## The data
#
# At the quick scale we use **MNIST-1D**: ten digit templates drawn as 1-D signals of
# length 40, then shifted, scaled, sheared and made noisy. It is generated on your machine
# (no download) in seconds, yet it separates models the way MNIST used to: a linear model
# does poorly, an MLP reasonably, a CNN well. At paper scale the dataset is MNIST.
#
# Part of the training set is **held out for validation** (Frankle & Carbin hold out 5,000
# of MNIST's 60,000 training images). Validation loss decides *when* to stop; the test set
# is only ever reported, never used to choose anything.

# %%
data = data_for(settings)
print(data)
fig = plots.examples(data)
plots.save_figure(fig, FIGURES_DIR, "examples")

# %% [markdown]
# ## The model and where its parameters are
#
# Magnitude pruning removes weights of **Linear and Conv layers** (not biases, not
# normalisation parameters). `prunable_parameters` finds them in any `nn.Module`, so the
# same code prunes the paper's models and yours.

# %%
model = model_for(settings, data)
print(model)
for name, p in prunable_parameters(model).items():
    print(f"{name:22s} {tuple(p.shape)!s:14s} {p.numel():>9,d} weights")
print(f"prunable weights: {count_parameters(model, prunable_only=True):,} "
      f"of {count_parameters(model):,} parameters")
fig = plots.parameters_per_layer(model)
plots.save_figure(fig, FIGURES_DIR, "parameters_per_layer")

# %% [markdown]
# **What to see.** The layers differ in size by more than an order of magnitude: the
# output layer is by far the smallest. Frankle & Carbin prune hidden layers at 20% per
# round but the output layer at **10%**: pruning a small layer at the same rate removes a
# larger share of the few connections every prediction must pass through, and the network
# collapses sooner. LeNet-300-100 on MNIST has 266,200 prunable weights, of which only
# 1,000 are in the output layer.

# %% [markdown]
# ## Training the dense network
#
# `dense_runs` trains one network per seed with the paper's optimiser settings (Adam,
# learning rate $1.2\times10^{-3}$, batches of 60) and evaluates every `eval_every`
# iterations. Runs are stored under a hash of their settings in `RESULTS_DIR`, so running
# this cell again loads them instead of training.
#
# Each run keeps the weights at a few iterations (`snapshots`), including iteration 0, the
# initialisation that a lottery ticket is reset to.

# %%
runs = dense_runs(settings, seeds, data, store=store, save_weights_at=snapshots)
fig = plots.training_curves(runs, title=f"dense {settings.model} on {settings.dataset}")
plots.save_figure(fig, FIGURES_DIR, "training_curves")

# %% [markdown]
# **What to see.** Training loss keeps falling, but validation loss reaches a minimum and
# then rises: the network starts to fit the training set's noise. The dotted lines mark
# each seed's **early-stopping iteration**, the iteration of minimum validation loss.
# Frankle & Carbin use it twice: the test accuracy *at* that iteration is the accuracy they
# report, and the iteration itself measures learning speed (winning tickets reach it
# earlier than the dense network).
#
# Reporting the *best test accuracy over training* instead, as some repositories do, picks
# the stopping point with the test set and overstates every number a little; we never do
# that.

# %%
print(f"{'seed':>4}  {'early-stop it':>13}  {'test acc @ early stop':>21}  {'final test acc':>14}")
for seed, run in zip(seeds, runs):
    print(f"{seed:>4}  {run.early_stop_iteration:>13,d}  {run.at_early_stop('test_acc'):>21.4f}"
          f"  {run.final('test_acc'):>14.4f}")
es_acc = [r.at_early_stop("test_acc") for r in runs]
print(f"\nmean test accuracy at early stopping: {sum(es_acc) / len(es_acc):.4f} "
      f"(min {min(es_acc):.4f}, max {max(es_acc):.4f} over {len(runs)} seeds)")

# %% [markdown]
# ## Weight magnitudes: what magnitude pruning will rank
#
# IMP keeps the weights with the **largest magnitude after training**. The histograms show,
# per layer, the weights at initialisation (PyTorch's default: uniform on
# $\pm 1/\sqrt{\text{fan-in}}$) and after training.

# %%
run = runs[0]
names = list(prunable_parameters(model))
fig = plots.weight_histograms(run.weights_at[0], run.final_state, names)
plots.save_figure(fig, FIGURES_DIR, "weight_histograms")

# %% [markdown]
# **What to see.** Initial weights are uniform in a band whose width shrinks with the
# layer's fan-in. Training moves them: the distribution spreads into tails, and a mass of
# weights stays near zero. Those near-zero weights are the first pruned. Because the
# bands differ per layer, **layerwise** pruning (a rate per layer) and **global** pruning
# (one threshold for all layers) remove different weights; notebook 02 compares them.
#
# Is a large trained weight one that was large at initialisation? The scatter below
# compares magnitudes weight by weight; the red line is the 20% quantile of trained
# magnitudes, below which IMP's first round prunes.

# %%
fig = plots.magnitude_scatter(run.weights_at[0], run.final_state, names)
plots.save_figure(fig, FIGURES_DIR, "magnitude_scatter")

# %% [markdown]
# **What to see.** Initial and final magnitudes are only loosely related: many
# small initial weights grew, some large ones shrank. Which of the two to rank by is a real
# choice; Zhou et al. (2019) compare such criteria in notebook 04.
#
# ### Explore: how the weights move during training
# The slider reads the snapshots stored in the run (it never trains). Drag it to see when
# the distribution changes most: early, while the loss falls fastest. That is why
# *rewinding* (notebook 03) resets to an early iteration rather than to zero.

# %%
fig = plots.weight_histograms(run.weights_at[0], run.weights_at[snapshots[1]], names)
plots.save_figure(fig, FIGURES_DIR, "weight_histograms_early")
explorer = widgets.weight_explorer(run, names)

# %% [markdown]
# ## Summary
#
# - The dense baseline is reported as **test accuracy at the early-stopping iteration**
#   (minimum validation loss), over several seeds; the early-stopping iteration measures
#   how fast the network learns.
# - Validation loss rises after its minimum while training loss keeps falling: training
#   longer overfits.
# - Training spreads the weights and leaves many near zero; magnitude pruning removes
#   those. Layers differ in size and weight scale, so per-layer rates matter, and the small
#   output layer is pruned more gently.
#
# ## Exercises
# Each `check` says whether your answer is right; `None` means "not answered yet".
#
# 1. How many prunable weights does LeNet-300-100 have on MNIST? Compute it by hand.

# %%
check("lenet_prunable_weights", None)

# %% [markdown]
# 2. Frankle & Carbin prune 20% of the surviving hidden-layer weights per round. What
#    fraction of a hidden layer remains after 5 rounds? And of the output layer, pruned at
#    10% per round?

# %%
check("hidden_fraction_after_5_rounds", None)
check("output_fraction_after_5_rounds", None)

# %% [markdown]
# 3. Write `early_stopping_iteration(iterations, val_losses)` returning the iteration of the
#    smallest validation loss (the earliest on ties), then compare it with
#    `runs[0].early_stop_iteration`.

# %%
def early_stopping_iteration(iterations, val_losses):
    return None  # your code here


check("early_stopping_iteration", early_stopping_iteration)

# %% [markdown]
# 4. Re-run this notebook with a different learning rate (e.g.
#    `settings = settings.replace(lr=1e-2)` in the set-up cell). What happens to the
#    early-stopping iteration and to the accuracy there?
# 5. Change `SEEDS` to 5. How much does the test accuracy at early stopping vary between
#    seeds? Keep that spread in mind when notebook 02 compares tickets that differ by less.
