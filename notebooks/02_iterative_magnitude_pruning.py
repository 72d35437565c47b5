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
# # 02 · Iterative magnitude pruning: finding winning tickets
#
# **The claim** (Frankle & Carbin, *The Lottery Ticket Hypothesis*, ICLR 2019): a dense,
# randomly initialised network contains a subnetwork that, **reset to its original
# initial weights** and trained in isolation, reaches the dense network's test accuracy
# in at most as many iterations. Iterative magnitude pruning (IMP) finds such subnetworks
# (*winning tickets*); two controls show that what matters is the pairing of mask *and*
# initial weights.
#
# **In this notebook you will**
# - run IMP over several seeds and plot test accuracy against the percentage of weights
#   remaining, on a log axis as in the paper;
# - compare winning tickets with **random reinitialisation** (same mask, new initial
#   weights) and **random pruning** (a random mask with the same per-layer densities);
# - see how the early-stopping iteration changes with sparsity, and what the masks look like.
#
# **Time:** `SCALE="quick"` takes about 4-5 minutes on a 2-core laptop CPU the first time
# (each round is stored in `RESULTS_DIR`; a re-run loads it in seconds). `"paper"` is
# LeNet-300-100 on MNIST with 20 rounds: hours on a CPU, minutes per seed on a GPU.

# %% tags=["parameters"]
SCALE = "quick"  # "smoke" | "quick" | "paper"
SEEDS = 3  # independent IMP runs (error bands)
DATASET = None  # None: the scale's default ("mnist1d" for smoke/quick, "mnist" for paper)
MODEL = None  # None: the dataset's default model
ROUNDS = None  # None: the scale's default number of pruning rounds
RESULTS_DIR = "../results"  # every finished round is stored here and reused
FIGURES_DIR = None  # set a folder to save every figure as PNG

# %%
# %matplotlib inline
import numpy as np

import lthlib
from lthlib import plots, widgets
from lthlib.exercises import check
from lthlib.imp import imp_for_scale, run_imp_seeds
from lthlib.models import prunable_parameters
from lthlib.store import Store
from lthlib.training import data_for, model_for

train_settings = lthlib.for_scale(SCALE, model=MODEL, dataset=DATASET)
settings = imp_for_scale(SCALE, train_settings, **({} if ROUNDS is None else {"rounds": ROUNDS}))
store = Store(RESULTS_DIR)
seeds = list(range(SEEDS))
data = data_for(train_settings)
settings

# %% [markdown]
# ## The algorithm
#
# With initial weights $\theta_0$ and a mask $m \in \{0,1\}^{|\theta|}$ (all ones at first):
#
# 1. Train $m \odot \theta_0$ for $T$ iterations, reaching $m \odot \theta_T$.
# 2. Prune: in each layer, remove the fraction $p$ of the *surviving* weights with the
#    smallest $|\theta_T|$ (Frankle & Carbin: $p = 20\%$ for hidden layers, $10\%$ for
#    the output layer; this quick scale prunes 40% / 20% per round to get sparse sooner).
# 3. **Reset** the survivors to their values in $\theta_0$ and go back to 1.
#
# After $n$ rounds a hidden layer keeps $(1-p)^n$ of its weights. Each network is
# evaluated the paper's way: **test accuracy at the early-stopping iteration** (minimum
# validation loss; see notebook 01).
#
# The controls are trained exactly like the ticket, at every round's density:
# - **random reinitialisation**: the ticket's mask, freshly drawn initial weights.
#   If the ticket were only a good *architecture*, this would do as well.
# - **random pruning**: a random mask with the ticket's per-layer densities, on the
#   original initial weights. If only the *amount* of pruning mattered, this would do as well.

# %%
results = run_imp_seeds(settings, seeds, data, store=store)
densities = 100 * np.mean([r.densities() for r in results], axis=0)
print("weights remaining per round (%):", " ".join(f"{d:.1f}" for d in densities))

# %% [markdown]
# ## Test accuracy against sparsity

# %%
fig = plots.imp_metric(results, "test_acc", title=f"IMP on {train_settings.model} / {train_settings.dataset}")
plots.save_figure(fig, FIGURES_DIR, "imp_test_accuracy")

# %%
kinds = ["ticket", *results[0].rounds[0].controls]
acc = {k: np.array([r.metric(k) for r in results]) for k in kinds}  # seeds x rounds
print(f"{'% remaining':>11} " + " ".join(f"{plots.KIND_LABELS[k][:22]:>24}" for k in kinds))
for i, d in enumerate(densities):
    cells = [f"{acc[k][:, i].mean():.3f} ({acc[k][:, i].min():.3f}-{acc[k][:, i].max():.3f})" for k in kinds]
    print(f"{d:>11.1f} " + " ".join(f"{c:>24}" for c in cells))

# %% [markdown]
# **What the paper reports** (LeNet-300-100 on MNIST, Figure 3): winning tickets keep or
# *exceed* the dense network's test accuracy down to a few percent of the weights
# (about 3.6%), while randomly reinitialised networks lose accuracy steadily as they are
# pruned; random pruning does worse still at high sparsity.
#
# **What to see here.** The table above is what this run measured (mean and min-max
# over seeds, test accuracy at early stopping). In our quick-scale runs (MNIST-1D MLP,
# 3 seeds) it read:
# - **The ticket matches the dense network down to about 14% of the weights** (about
#   0.68 test accuracy, the dense network's; slightly above it around 20%), as the paper
#   claims for LeNet, and then declines slowly (about 0.53 at 3%).
# - **Both controls fall as soon as the network is pruned**: at 22% remaining about
#   0.64 (random reinit) and 0.60 (random pruning), at 3% about 0.46 and 0.40. From about
#   20% down the seed ranges of the ticket and of the controls do not overlap. The gap, not
#   the absolute number, is the lottery-ticket effect: the same mask with other initial
#   weights, or the same initial weights with another mask, train to a worse network.
# - Where this differs from the paper: LeNet-300-100 on MNIST keeps the dense accuracy
#   down to about 3.6%; our ticket starts to lose accuracy below ~10%. MNIST-1D is harder
#   for an MLP (the dense network reaches only about 0.68) and this scale prunes 40% per
#   round instead of 20%. Set `SCALE="paper"` (with MNIST on disk) for the paper's setting.

# %% [markdown]
# ## How fast do tickets learn?
#
# Frankle & Carbin also report the **early-stopping iteration**: winning tickets reach
# their minimum validation loss *earlier* than the dense network as they are pruned (down
# to a point), while the controls learn more slowly.

# %%
fig = plots.imp_early_stop(results)
plots.save_figure(fig, FIGURES_DIR, "imp_early_stop_iteration")

# %% [markdown]
# **What to see.** In our quick-scale runs, at moderate sparsity (about 60% to 37% of
# the weights) the ticket reaches its minimum validation loss *earlier* than the dense
# network, while both controls reach it later: the paper's "winning tickets learn
# faster". Below about 20% every network is still improving when training stops (the
# bands reach the dotted line), so their accuracies above are lower bounds; the paper sees
# the same turn, at sparser levels on MNIST.

# %% [markdown]
# ## Learning curves of tickets at a few densities
#
# Test accuracy during training for the dense network and the tickets of a few rounds.
# Look at the first few hundred iterations: a moderately sparse ticket climbs faster than
# the dense network; the sparsest one is slower and ends lower.

# %%
show_rounds = sorted({0, len(results[0].rounds) // 3, 2 * len(results[0].rounds) // 3, len(results[0].rounds)})
fig = plots.ticket_curves(results, show_rounds)
plots.save_figure(fig, FIGURES_DIR, "ticket_test_curves")

# %% [markdown]
# ## What the masks look like
#
# Which inputs does the sparsest ticket's first layer still listen to? For an image model
# the picture is of pixels (on MNIST the surviving connections gather on the centre, where
# the digits are); for MNIST-1D it is input positions.

# %%
model = model_for(train_settings, data)
first_layer = next(iter(prunable_parameters(model)))
fig = plots.first_layer_mask(results[0].rounds[-1].mask, first_layer, data.input_shape)
plots.save_figure(fig, FIGURES_DIR, "first_layer_mask")

# %% [markdown]
# **What to see.** Pruning is not uniform over the inputs: positions that carry signal
# keep more connections. In MNIST-1D the digit templates are shifted by up to 48 samples
# and padded, so information is spread along the sequence, unlike MNIST's centred digits.
#
# ### Explore the rounds
# The slider reads the stored rounds (it never trains): the mask of the first layer at
# that round, and the accuracy of the ticket and its controls there.

# %%
explorer = widgets.imp_explorer(results, first_layer, data.input_shape)

# %% [markdown]
# ## Summary
#
# - IMP: train, prune the smallest-magnitude surviving weights, reset the survivors to
#   their initial values, repeat.
# - Winning tickets beat both controls at the same sparsity: the mask alone (random
#   reinit) and the sparsity alone (random pruning) are not enough; mask and initial
#   weights work together.
# - Report test accuracy at the early-stopping iteration, over seeds; the gaps between
#   methods are only meaningful against the spread between seeds.
#
# ## Exercises
#
# 1. Implement layerwise magnitude pruning: `my_prune(weights, mask, rate)` takes a
#    weight tensor, a bool mask of survivors, and a fraction; it returns a new mask with
#    `round(rate * survivors)` of the smallest-|w| survivors removed (ties: lower index
#    first). The check compares it with `lthlib.pruning.magnitude_prune`.

# %%
def my_prune(weights, mask, rate):
    return None  # your code here


check("layerwise_magnitude_pruning", my_prune)

# %% [markdown]
# 2. After 7 rounds at 40% per round, what fraction of a hidden layer remains? Compare
#    with `results[0].rounds[-1].mask.layer_density()`.

# %%
check("hidden_fraction_after_7_rounds_at_40", None)

# %% [markdown]
# 3. Run with `ROUNDS = 10`. The stored rounds are reused; only the new ones train. Where
#    does the ticket finally fall below the dense line?
# 4. Change the pruning to global (`settings = settings.replace(scope="global")`). Which
#    layer loses most weights, and why (notebook 01's weight histograms help)?
