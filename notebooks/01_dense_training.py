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
#   of how fast a network learns, and the test accuracy there;
# - check, with paired statistics over seeds, what training past that iteration does;
# - look at the **weight magnitudes** per layer at initialisation and after training,
#   which is what magnitude pruning (notebook 02) ranks;
# - count **parameters per layer**, which suggests why the output layer is pruned at half
#   the rate of the hidden layers.
#
# **Papers:** Frankle & Carbin 2019, *The Lottery Ticket Hypothesis* (LeNet-300-100 on
# MNIST, Adam lr 1.2e-3, batch 60: their Figure 2). Offline data: Greydanus 2020, *MNIST-1D*.
#
# **Time:** `SCALE="quick"` (the default: the MNIST-1D MLP, 3,000 iterations evaluated
# every 50, eight seeds) takes about a minute on a 2-core laptop CPU the first time, seconds
# when the runs are stored; `"smoke"` seconds; `"paper"` (LeNet-300-100 on MNIST, 50K
# iterations, needs MNIST on disk) about two minutes per seed on a CPU.

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

import lthlib
from lthlib.core.store import Store
from lthlib.engine.training import data_for, dense_runs, model_for
from lthlib.experiments import dense_study
from lthlib.models.networks import count_parameters, prunable_parameters
from lthlib.report import plots, widgets
from lthlib.report.claims import Claims, bold_verdict, direction_word, say, spread, verdict_word
from lthlib.report.exercises import check
from lthlib.report.glossary import define
from lthlib.settings import check_parameters, seeds_for

check_parameters(SCALE=SCALE, SEEDS=SEEDS, RESULTS_DIR=RESULTS_DIR)  # a clear error for a bad -p value
# eval_train: this chapter reads the training curves (other chapters leave them out: faster)
train_settings = lthlib.for_scale(SCALE, model=MODEL, dataset=DATASET, eval_train=True)
train_settings = train_settings.replace(eval_every=EVAL_EVERY or train_settings.eval_every)
store = Store(RESULTS_DIR)
seeds = list(range(seeds_for(SCALE, SEEDS)))  # smoke: two
snapshots = sorted({0, *range(0, train_settings.iterations + 1, max(1, train_settings.iterations // 10))})
train_settings

# %% [markdown]
# Two words this chapter uses, as the papers use them (`lthlib.report.glossary`):

# %%
_ = define("dense", "density")

# %% [markdown]
# ## The data
#
# At the quick scale we use **MNIST-1D**: ten digit templates drawn as 1-D signals of
# length 40, then padded, shifted, scaled, sheared and made noisy. It is generated on your
# machine (no download) in seconds, yet it separates models that MNIST barely does:
# Greydanus (2020, the table in the `mnist1d` README) reports test accuracies of 32% for
# logistic regression, 68% for an MLP and 94% for a CNN on MNIST-1D, against 94%, 99+% and
# 99+% on MNIST. At paper scale the dataset is MNIST.
#
# Part of the training set is **held out for validation** (Frankle & Carbin, Appendix G.1:
# 5,000 of MNIST's 60,000 training images). Validation loss decides *when* to stop; the
# test set is only ever reported, never used to choose anything.

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
# Frankle & Carbin prune LeNet's hidden layers at 20% per round but "connections to
# outputs are pruned at half of the rate of the rest of the network" (Section 2): 10%.
# They give no reason there; for their deepest networks (Section 4) they explain why they
# switch to one global threshold: "When all layers are pruned at the same rate, these
# smaller layers become bottlenecks". The output layer is such a small layer, and every
# prediction passes through it. How small is it here?

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
# `dense_runs` trains one network per seed (one worker process per core trains its share
# of the seeds) with the paper's optimiser settings (Adam,
# learning rate $1.2\times10^{-3}$, batches of 60) and evaluates every `eval_every`
# iterations on the training subset, the validation set and the test set. Runs are stored
# under a hash of their settings in `RESULTS_DIR`, so running this cell again loads them
# instead of training. Notebook 02 trains the same dense networks (same settings and
# seeds) again, all seeds in one batched pass (`lthlib.engine.population`); rounding differs
# between the two ways, so its dense numbers are close to these, not equal.
#
# Each run keeps the weights at a few iterations (`snapshots`), including iteration 0, the
# initialisation that a lottery ticket is reset to.

# %%
runs = dense_runs(train_settings, seeds, data, store=store, save_weights_at=snapshots)
fig = plots.training_curves(runs, title=f"dense {train_settings.model} on {train_settings.dataset}")
plots.save_figure(fig, FIGURES_DIR, "training_curves")

# %% [markdown]
# The dotted lines mark each seed's **early-stopping iteration**, the iteration of minimum
# validation loss (Frankle & Carbin, Section 1). They use it twice: the test accuracy *at*
# that iteration is the accuracy they report, and the iteration itself is their measure of
# how fast a network learns (they report that winning tickets reach it earlier than the
# dense network, Section 2 and Figure 4; notebook 02 tests that). The bands are
# the min-max over seeds. The right panel zooms on the validation loss of each seed over
# the last third of training, with a dot at each seed's minimum, so that what it does after
# its minimum can be read.
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
# these runs, so we check it. Each claim below reads one number per seed (e.g. the
# training loss at the early-stopping iteration minus the one at the end of training), and
# reports the mean of these per-seed values and how many seeds lie on the claimed side.
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
rise_words = direction_word(rise, "rises after the early-stopping iteration",
                            "stays flat after the early-stopping iteration (less than 2% higher, by the exact test)",
                            "may rise after the early-stopping iteration, but not clearly (the seeds do not rule "
                            "out a rise below 2%)", threshold=0.02, judged=SCALE != "smoke")
val_rise = dense_study.rise_above_minimum(runs, "val_loss")
say("**What to see.** Training loss falls to the end, by {fall} more after the early-stopping "
    "iteration (mean and min-max over {n} seeds), which the seeds reach at iteration {es} of {T:,}. "
    "The test loss ends {rise} above its value at the early-stopping iteration, so it **{rise_words}**. "
    "(The validation loss ends {val_rise} above its minimum, a number inflated by picking the "
    "minimum.) So *overfitting* "
    "here means first of all that the gap between held-out and training loss widens (claim "
    "above, verdict: {gap_verdict}). Test accuracy goes from {acc_es} at the early-stopping "
    "iteration to {acc_end} at the end.",
    fall=spread([r.at_early_stop("train_loss") - r.final("train_loss") for r in runs]), n=len(runs),
    es=spread(es_it, ",.0f"), T=T, rise_words=rise_words, rise=dense_study.percent_spread(rise),
    val_rise=dense_study.percent_spread(val_rise),
    gap_verdict=bold_verdict(c_gap), acc_es=spread([r.at_early_stop("test_acc") for r in runs]),
    acc_end=spread([r.final("test_acc") for r in runs]))
say("Reporting the *best test accuracy over training* instead, as some repositories do, picks "
    "the stopping point with the test set: here it would add {bias} to each seed's number "
    "(mean, min-max). We never do that.", bias=spread(dense_study.best_test_bias(runs)))

# %% [markdown]
# ## Weight magnitudes: what magnitude pruning will rank
#
# IMP keeps the weights with the **largest magnitude after training**. The histograms show,
# per layer, the weights at initialisation and after training, for the first seed.

# %%
say("Initialisation at this scale: {init}.", init=dense_study.init_words(train_settings.init))
run = runs[0]
names = list(prunable)
words = plots.layer_labels(names, [p.shape for p in prunable.values()])
fig = plots.weight_histograms(run.weights_at[0], run.final_state, names)
plots.save_figure(fig, FIGURES_DIR, "weight_histograms")

# %% [markdown]
# The initial scale of each layer shrinks with its fan-in (that is how the weights were
# drawn). Training moves them. How far, per layer (all seeds)? The table gives the
# standard deviation of the weights before and after training, and the share of weights
# *near zero*: with a magnitude below 10% of the layer's largest initial magnitude. (For a
# uniform initialisation that largest magnitude is the band's half-width, so 10% of the
# initial weights are near zero by construction; the "at init" column shows the share for
# the initialisation used here.)

# %%
say(dense_study.weight_scale_table(runs, names, words))

# %% [markdown]
# The weights nearest zero after training are the first that magnitude pruning removes.
# Because the weight scales differ per layer, **layerwise** pruning (a rate per layer) and
# **global** pruning (one threshold for all layers) remove different weights; the
# exercises of notebook 02 compare them.
#
# Is a large trained weight one that was large at initialisation? The scatter compares
# magnitudes weight by weight (first seed, at most 4,000 weights per layer drawn at random);
# the red line is each layer's 20% quantile of trained magnitudes: the weights below it are
# the ones a first round at the paper's hidden-layer rate of 20% removes. (The paper prunes
# the output layer at 10%, so there only the lower half of them; notebook 02's quick scale
# prunes 40% and 20% per round.)

# %%
fig = plots.magnitude_scatter(run.weights_at[0], run.final_state, names)
plots.save_figure(fig, FIGURES_DIR, "magnitude_scatter")

# %%
say(dense_study.magnitude_rank_table(runs, names, words, fraction=0.2))

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
fastest_growth, longest = dense_study.fastest_intervals(share, per_it)  # interval i: snapshots i to i + 1
print("iteration:                  " + " ".join(f"{t:>6,d}" for t in snapshots[1:]))
print("share of distance:          " + " ".join(f"{v:>6.2f}" for v in share.mean(axis=0)) + "   (mean over seeds)")
print("step per iteration (x 1st): " + " ".join(f"{v:>6.2f}" for v in per_it.mean(axis=0)) + "   (mean over seeds)")
say("**What to see.** By iteration {t1:,} ({f1:.0%} of training) the weights are already "
    "{s1} of the way (mean, min to max over seeds) to where they end, in straight-line distance; that "
    "distance grows fastest between iterations {a:,} and {b:,}. The steps themselves are longest (per "
    "iteration) between iterations {c:,} and {d:,}; the last interval's is {last} of the first's. "
    "Neither measure is why *rewinding* (notebook 03) resets to an early iteration: Frankle et al. 2020 "
    "rewind because, in their larger networks, \"IMP subnetworks are only matching when they are stable to "
    "SGD noise\" (Section 4), and they become stable only after some training (notebook 05).",
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
#   (minimum validation loss), over several seeds; the early-stopping iteration is the
#   paper's measure of how fast the network learns (notebook 02 shows where it falls short).
# - Claims about the runs are checked seed by seed, by an exact test with a one-sided
#   95% t bound beside it; the verdicts of this run are in the table above, and what they
#   say is below.
# - Layers differ in size and weight scale, so per-layer rates matter, and the small
#   output layer is pruned more gently.

# %%
say("**The baseline, in this run:** the dense `{model}` reaches its minimum validation loss at iteration "
    "{es} of {T:,}, with test accuracy {acc} there (mean, min-max over {n} seeds): the kind of baseline notebook "
    "02's tickets are measured against. It {stop} its validation minimum before the end of training; training on "
    "past it {train} the training loss and {gap} the gap between test and training loss, and the test loss "
    "{rise}.", model=train_settings.model, es=spread(es_it, ",.0f"), T=T, n=len(runs),
    acc=spread([r.at_early_stop("test_acc") for r in runs]),
    stop=verdict_word(c_stop, "passed", "did not pass", "may not have passed"),
    train=verdict_word(c_train, "lowered", "did not lower", "did not clearly lower"),
    gap=verdict_word(c_gap, "widened", "did not widen", "did not clearly widen"), rise=rise_words)

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
# 6. Change `SEEDS` to 3. How much further from the mean does the one-sided 95% t bound
#    move? (With $n$ seeds it lies $t_{n-1}\,s/\sqrt{n}$ below the mean, $t_{n-1}$ the 95%
#    quantile of Student's t: $t_2 = 2.92$, $t_7 = 1.89$.) What happens to the verdicts,
#    and why? (With $n$ seeds the smallest p an exact sign-flip test can give is $2^{-n}$.)
