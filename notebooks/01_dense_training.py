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
# - check, with paired statistics over seeds, what training past that iteration does;
# - look at the **weight magnitudes** per layer at initialisation and after training,
#   which is what magnitude pruning (notebook 02) ranks;
# - count **parameters per layer**, which explains why the output layer is pruned at half
#   the rate of the hidden layers.
#
# **Papers:** Frankle & Carbin 2019, *The Lottery Ticket Hypothesis* (LeNet-300-100 on
# MNIST, Adam lr 1.2e-3, batch 60). Offline data: Greydanus 2020, *MNIST-1D*.
#
# **Time:** `SCALE="quick"` (the default: the MNIST-1D MLP, 3,000 iterations evaluated
# every 50, five seeds) takes under a minute on a 2-core laptop CPU; `"smoke"` seconds;
# `"paper"` (LeNet-300-100 on MNIST, 50K iterations, needs MNIST on disk) some minutes per
# seed on a CPU. Notebook 02 reuses these dense runs.

# %% tags=["parameters"]
SCALE = "quick"  # "smoke" | "quick" | "paper"
SEEDS = 8  # independent initialisations (error bands, confidence intervals)
DATASET = None  # None: the scale's default ("mnist1d" for smoke/quick, "mnist" for paper)
MODEL = None  # None: the dataset's default model
EVAL_EVERY = None  # None: the scale's preset (every 50 iterations at quick, shared by 01, 02 and 04)
DEVICE = "auto"  # "auto": a CUDA or Apple GPU when there is one, else the CPU; or "cpu", "cuda", "mps"
RESULTS_DIR = "../results"  # stored runs are reused on re-runs; None stores nothing
FIGURES_DIR = None  # set a folder to save every figure as PNG
CLAIMS_FILE = None  # set a path to save the checked claims as JSON (the CLI does)

# %%
# %matplotlib inline
import numpy as np
import torch

import lthlib
from lthlib import dense_study, plots, widgets
from lthlib.config import check_parameters
from lthlib.claims import Claims, judge, say, spread, verdict_word
from lthlib.exercises import check
from lthlib.glossary import define
from lthlib.models import count_parameters, prunable_parameters
from lthlib.store import Store
from lthlib.training import data_for, dense_runs, model_for

check_parameters(SCALE=SCALE, SEEDS=SEEDS, RESULTS_DIR=RESULTS_DIR)  # a clear error for a bad -p value
train_settings = lthlib.for_scale(SCALE, model=MODEL, dataset=DATASET)
train_settings = train_settings.replace(eval_every=EVAL_EVERY or train_settings.eval_every)
store = Store(RESULTS_DIR)
seeds = list(range(SEEDS))
snapshots = sorted({0, *range(0, train_settings.iterations + 1, max(1, train_settings.iterations // 10))})
train_settings

# %% [markdown]
# Two words this chapter uses, as the papers use them (`lthlib.glossary`):

# %%
_ = define("dense", "density")

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
data = data_for(train_settings, device=DEVICE)  # moved to the device once; models follow it
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
model = model_for(train_settings, data)
print(model)
prunable = prunable_parameters(model)
for name, p in prunable.items():
    print(f"{name:22s} {tuple(p.shape)!s:14s} {p.numel():>9,d} weights")
print(f"prunable weights: {count_parameters(model, prunable_only=True):,} "
      f"of {count_parameters(model):,} parameters")
fig = plots.parameters_per_layer(model)
plots.save_figure(fig, FIGURES_DIR, "parameters_per_layer")

# %% [markdown]
# Frankle & Carbin prune hidden layers at 20% per round but the output layer at **10%**:
# pruning a small layer at the same rate removes a larger share of the few connections
# every prediction must pass through, and the network collapses sooner. How small is the
# output layer here?

# %%
counts = {name: p.numel() for name, p in prunable.items()}
output_name = list(counts)[-1]
say("**What to see.** The largest layer has **{big:,}** weights, the output layer **{out:,}**: "
    "{ratio:.0f} times fewer, {share:.1%} of all prunable weights.",
    big=max(counts.values()), out=counts[output_name], ratio=max(counts.values()) / counts[output_name],
    share=counts[output_name] / sum(counts.values()))

# %% [markdown]
# ## Training the dense network
#
# `dense_runs` trains one network per seed with the paper's optimiser settings (Adam,
# learning rate $1.2\times10^{-3}$, batches of 60) and evaluates every `eval_every`
# iterations on the training subset, the validation set and the test set. Runs are stored
# under a hash of their settings in `RESULTS_DIR`, so running this cell again loads them
# instead of training (and notebook 02 reuses them as its dense baseline).
#
# Each run keeps the weights at a few iterations (`snapshots`), including iteration 0, the
# initialisation that a lottery ticket is reset to.

# %%
runs = dense_runs(train_settings, seeds, data, store=store, save_weights_at=snapshots)
fig = plots.training_curves(runs, title=f"dense {train_settings.model} on {train_settings.dataset}")
plots.save_figure(fig, FIGURES_DIR, "training_curves")

# %% [markdown]
# The dotted lines mark each seed's **early-stopping iteration**, the iteration of minimum
# validation loss. Frankle & Carbin use it twice: the test accuracy *at* that iteration is
# the accuracy they report, and the iteration itself measures learning speed (they report
# that winning tickets reach it earlier than the dense network; notebook 02 tests that).
# The right panel shows each seed's validation loss on its own scale, from a third of the
# way through training, so that what it does after its minimum can be read.
#
# The numbers per seed:

# %%
T = train_settings.iterations
es_it = np.array([r.early_stop_iteration for r in runs])
print(f"{'seed':>4}  {'early-stop it':>13}  {'test acc @ early stop':>21}  {'final test acc':>14}  {'best test acc':>13}")
for seed, run in zip(seeds, runs):
    print(f"{seed:>4}  {run.early_stop_iteration:>13,d}  {run.at_early_stop('test_acc'):>21.4f}"
          f"  {run.final('test_acc'):>14.4f}  {max(run.test_acc):>13.4f}")

# %% [markdown]
# ## What training past the early-stopping iteration does: three checked claims
#
# A statement like "the network overfits after its validation minimum" is a claim about
# these runs, so we check it. Each claim below compares two numbers **seed by seed**
# (e.g. the training loss at the early-stopping iteration and at the end of training), and
# reports the mean of the per-seed differences and how many seeds lie on the claimed side.
# The verdict comes from an exact sign-flip test (if there were no effect, each seed's
# difference would be as likely positive as negative): *holds* when the chance of a result
# at least this one-sided is at most the claim's level, *contradicted* when that is true
# of the other side, *not shown* otherwise; the table says the level (5%, split by Holm's
# procedure among the notebook's headline claims) and a one-sided 95% t bound for scale.
# At `SCALE="smoke"` nothing is judged: those runs are too short to mean anything.

# %%
claims = Claims("01", SCALE, CLAIMS_FILE)
c_stop = claims.check("the dense network reaches its minimum validation loss before training ends "
                      "(iterations left after the early-stopping iteration)", T - es_it, unit=" it")
c_train = claims.paired("training past the early-stopping iteration lowers the training loss further",
                        better=[r.at_early_stop("train_loss") for r in runs],
                        worse=[r.final("train_loss") for r in runs])
# the gap on the test set: the validation loss at the early-stopping iteration is biased low
c_gap = claims.check("training past the early-stopping iteration widens the gap between test "
                     "and training loss (overfitting)", dense_study.gap_widening(runs))
claims.show()

# %% [markdown]
# **Does the held-out loss rise after the early-stopping iteration, or stay flat?** The
# claims above do not say, and the validation loss cannot say it without bias: the
# early-stopping iteration is where its noisy curve happens to be lowest (right panel), so
# almost any later value is higher. The test set played no part in choosing that
# iteration, so we compare the **test loss** there and at the end of training. We decided
# before looking to call it a *rise* only if the test loss at the end is more than 2%
# above its value at the early-stopping iteration, by the same exact test at 5%.

# %%
rise = dense_study.rise_after_early_stop(runs, "test_loss")  # per seed: (end - early stop) / early stop
rise_verdict = judge(rise, threshold=0.02, judged=SCALE != "smoke")[0]
rise_words = {"holds": "**rises** after it",
              "not shown": "**may rise** after it, but not clearly (the seeds do not rule out "
                           "a rise below 2%)",
              "contradicted": "**stays flat** after it (less than 2% higher, by the exact test)",
              "not judged": "does something we do not judge at smoke scale"}[rise_verdict]
val_rise = dense_study.rise_above_minimum(runs, "val_loss")
say("**What to see.** Training loss falls to the end, by {fall} more after the early-stopping "
    "iteration (mean and min-max over {n} seeds), which each seed reaches at iteration {es} of {T:,}. "
    "The test loss ends {rise} above its value at the early-stopping iteration, so it {rise_words}. "
    "(The validation loss ends {val_rise} above its minimum, a number inflated by picking the "
    "minimum.) So *overfitting* "
    "here means first of all that the gap between held-out and training loss widens (claim "
    "above, verdict: {gap_verdict}). Test accuracy goes from {acc_es} at the early-stopping "
    "iteration to {acc_end} at the end.",
    fall=spread([r.at_early_stop("train_loss") - r.final("train_loss") for r in runs]), n=len(runs),
    es=spread(es_it, ",.0f"), T=T, rise_words=rise_words, rise=dense_study.percent_spread(rise),
    val_rise=dense_study.percent_spread(val_rise),
    gap_verdict=c_gap.verdict, acc_es=spread([r.at_early_stop("test_acc") for r in runs]),
    acc_end=spread([r.final("test_acc") for r in runs]))
say("Reporting the *best test accuracy over training* instead, as some repositories do, picks "
    "the stopping point with the test set: here it would add {bias} to each seed's number "
    "(mean, min-max). We never do that.", bias=spread(dense_study.best_test_bias(runs)))

# %% [markdown]
# ## Weight magnitudes: what magnitude pruning will rank
#
# IMP keeps the weights with the **largest magnitude after training**. The histograms show,
# per layer, the weights at initialisation (PyTorch's default: uniform on
# $\pm 1/\sqrt{\text{fan-in}}$) and after training, for the first seed.

# %%
run = runs[0]
names = list(prunable)
words = plots.layer_labels(names, [p.shape for p in prunable.values()])
fig = plots.weight_histograms(run.weights_at[0], run.final_state, names)
plots.save_figure(fig, FIGURES_DIR, "weight_histograms")

# %% [markdown]
# Initial weights are uniform in a band whose width shrinks with the layer's fan-in (that
# is how they were drawn). Training moves them. How far, per layer (all seeds)? The table
# gives the standard deviation of the weights before and after training, and the share of
# weights *near zero*: with a magnitude below 10% of the layer's initial half-width (a
# uniform initial band has 10% of its weights there by construction).

# %%
rows = ["| layer | weights | std at init | std trained | share near zero at init | share near zero trained |",
        "|---|---|---|---|---|---|"]
for name, word in zip(names, words):
    w0 = [r.weights_at[0][name].flatten() for r in runs]
    w1 = [r.final_state[name].flatten() for r in runs]
    half = [float(w.abs().max()) for w in w0]  # half-width of the uniform initial band
    near0 = [float((w.abs() < 0.1 * h).float().mean()) for w, h in zip(w0, half)]
    near1 = [float((w.abs() < 0.1 * h).float().mean()) for w, h in zip(w1, half)]
    rows.append(f"| {word} | {w0[0].numel():,} | {spread([float(w.std()) for w in w0], '.4f')} "
                f"| {spread([float(w.std()) for w in w1], '.4f')} | {spread(near0, '.3f')} | {spread(near1, '.3f')} |")
say("\n".join(rows) + f"\n\n*Mean (min-max) over {len(runs)} seeds. \"Near zero\": magnitude below "
    "10% of the layer's initial half-width.*")

# %% [markdown]
# The weights nearest zero after training are the first that magnitude pruning removes.
# Because the weight scales differ per layer, **layerwise** pruning (a rate per layer) and
# **global** pruning (one threshold for all layers) remove different weights; the
# exercises of notebook 02 compare them.
#
# Is a large trained weight one that was large at initialisation? The scatter compares
# magnitudes weight by weight (first seed, at most 4,000 weights per layer drawn at random);
# the red line is the 20% quantile of trained
# magnitudes, below which IMP's first round (at the paper's 20% rate) prunes.

# %%
fig = plots.magnitude_scatter(run.weights_at[0], run.final_state, names)
plots.save_figure(fig, FIGURES_DIR, "magnitude_scatter")

# %%
rows = ["| layer | correlation of \\|initial\\| and \\|trained\\| | pruned first (smallest 20% trained) that were also in the smallest 20% at init |",
        "|---|---|---|"]
for name, word in zip(names, words):
    corr, both = [], []
    for r in runs:
        a0, a1 = r.weights_at[0][name].flatten().abs(), r.final_state[name].flatten().abs()
        corr.append(float(torch.corrcoef(torch.stack([a0, a1]))[0, 1]))
        low0, low1 = a0 <= a0.quantile(0.2), a1 <= a1.quantile(0.2)
        both.append(float((low0 & low1).sum() / low1.sum()))
    rows.append(f"| {word} | {spread(corr)} | {spread(both)} |")
say("\n".join(rows) + f"\n\n*Mean (min-max) over {len(runs)} seeds. If trained magnitudes were "
    "unrelated to initial ones, the correlation would be 0 and the last column 0.200; if they "
    "were the same ranking, 1 and 1.000.*")

# %% [markdown]
# **What to see.** Read the two columns against their references: the further they are
# from 1, the more training has re-ranked the weights, and the less pruning by *initial*
# magnitude would agree with pruning by *trained* magnitude. Which of the two to rank by is
# a real choice; Zhou et al. (2019) compare such criteria in notebook 04.
#
# ### How the weights move during training
# When do the weights change most? Two measures over all prunable weights (all seeds): the
# distance from the initial weights, $\lVert\theta_t-\theta_0\rVert$, as a share of the
# distance at the end of training; and the length of each step between two snapshots,
# $\lVert\theta_{t_{i+1}}-\theta_{t_i}\rVert$. The first grows fastest early almost by
# construction: a distance from a fixed start adds up steps that point partly in different
# directions, so even steps of equal length move it less and less (a random walk's distance
# grows like $\sqrt{t}$). The second compares the intervals directly.

# %%
# per seed and snapshot: the share of the final distance from init, and the step per iteration (x the first's)
share, per_it = dense_study.weight_movement(runs, snapshots, names)
growth = np.diff(np.concatenate([np.zeros((len(runs), 1)), share], axis=1), axis=1)  # growth of the distance
fastest_growth, longest = int(np.argmax(growth.mean(axis=0))), int(np.argmax(per_it.mean(axis=0)))
print("iteration:                  " + " ".join(f"{t:>6,d}" for t in snapshots[1:]))
print("share of distance:          " + " ".join(f"{v:>6.2f}" for v in share.mean(axis=0)) + "   (mean over seeds)")
print("step per iteration (x 1st): " + " ".join(f"{v:>6.2f}" for v in per_it.mean(axis=0)) + "   (mean over seeds)")
say("**What to see.** By iteration {t1:,} ({f1:.0%} of training) the weights are already "
    "{s1} of the way (mean, min to max over seeds) to where they end, in straight-line distance; that "
    "distance grows fastest between iterations {a:,} and {b:,}. The steps themselves are longest (per "
    "iteration) between iterations {c:,} and {d:,}; the last interval's is {last} of the first's. "
    "Neither measure is why *rewinding* (notebook 03) resets to an early iteration: Frankle et al. 2020 "
    "rewind because, in their larger networks, IMP subnetworks \"are only matching when they are stable to "
    "SGD noise\", and they become stable only after some training (notebook 05).",
    t1=snapshots[1], f1=snapshots[1] / T, s1=dense_study.percent_spread(share[:, 0], ".0f"),
    a=snapshots[fastest_growth], b=snapshots[fastest_growth + 1],
    c=snapshots[longest], d=snapshots[longest + 1], last=dense_study.percent_spread(per_it[:, -1], ".0f"))

# %% [markdown]
# The histograms at the first snapshot against initialisation (first seed):

# %%
fig = plots.weight_histograms(run.weights_at[0], run.weights_at[snapshots[1]], names,
                              labels=("initial", f"iteration {snapshots[1]:,}"))
fig.suptitle(f"weights at iteration {snapshots[1]:,} vs initialisation", y=1.02)
plots.save_figure(fig, FIGURES_DIR, "weight_histograms_early")

# %% [markdown]
# ### Explore: the weights at every snapshot
# The slider reads the snapshots stored in the run (it never trains).

# %%
explorer = widgets.weight_explorer(run, names)

# %% [markdown]
# ## Summary
#
# - The dense baseline is reported as **test accuracy at the early-stopping iteration**
#   (minimum validation loss), over several seeds; the early-stopping iteration measures
#   how fast the network learns.
# - Claims about the runs are checked seed by seed, with a confidence interval; the
#   verdicts of this run are in the table above, and what they say is below.
# - Layers differ in size and weight scale, so per-layer rates matter, and the small
#   output layer is pruned more gently.

# %%
say("In this run: the dense network {stop} its validation minimum before the end of training; "
    "training on past it {train} the training loss and {gap} the gap between test and "
    "training loss, while the test loss, compared with its value at the early-stopping iteration, {rise}.",
    stop=verdict_word(c_stop, "passed", "did not pass", "may not have passed"),
    train=verdict_word(c_train, "lowered", "did not lower", "did not clearly lower"),
    gap=verdict_word(c_gap, "widened", "did not widen", "did not clearly widen"),
    rise=rise_words.replace("**", ""))

# %% [markdown]
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
#    `train_settings = train_settings.replace(lr=1e-2)` in the set-up cell). What happens to
#    the early-stopping iteration, to the accuracy there, and to the claims?
# 5. Re-run with `EVAL_EVERY = 200`. How much does the early-stopping iteration move with
#    the evaluation grid? Which of the claims would you trust on that grid?
# 6. Change `SEEDS` to 3. How much wider do the confidence intervals get? (With $n$ seeds
#    the interval's half-width is $t_{n-1}\,s/\sqrt{n}$; $t_2 = 4.30$, $t_4 = 2.78$.)
