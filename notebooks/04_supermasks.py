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
# # 04 · Supermasks and strong tickets: can a mask alone do the work?
#
# IMP keeps the *large* trained weights and resets them to their *initial values*. Zhou,
# Lan, Liu & Yosinski (*Deconstructing Lottery Tickets: Zeros, Signs, and the Supermask*,
# NeurIPS 2019) took that recipe apart: which masks work, and what about the initial
# values matters? Their most surprising finding: a mask applied to an **untrained** random
# network can already make it far better than chance, a *supermask*. Ramanujan et al.
# (*What's Hidden in a Randomly Weighted Neural Network?*, CVPR 2020) learned such masks
# directly (edge-popup), and Malach et al. (*Proving the Lottery Ticket Hypothesis: Pruning
# is All You Need*, ICML 2020) proved that a wide enough random network contains a
# subnetwork as good as a trained one: a **strong** lottery ticket.
#
# **In this notebook you will**
# - score weights by Zhou et al.'s criteria and measure untrained masked networks, with
#   the kept weights at their initial values or at a *signed constant*;
# - train networks masked by different criteria from three starting points;
# - learn supermasks on frozen random weights (edge-popup and Bernoulli) and compare them
#   with trained dense networks and IMP tickets at the same density;
# - see how edge-popup accuracy grows with the width of the random network;
# - measure whether the different methods pick the same weights (overlap against chance).
#
# **Time:** `SCALE="quick"` takes about 4-5 minutes on a 2-core laptop CPU (everything is
# stored in `RESULTS_DIR`; IMP tickets stored by notebook 02 are reused).

# %% tags=["parameters"]
SCALE = "quick"  # "smoke" | "quick" | "paper"
SEEDS = 3  # independent seeds (error bands)
DATASET = None  # None: the scale's default ("mnist1d" for smoke/quick, "mnist" for paper)
MODEL = None  # None: the dataset's default model
RESULTS_DIR = "../results"  # stored runs are reused on re-runs
FIGURES_DIR = None  # set a folder to save every figure as PNG

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

import lthlib
from lthlib import plots, widgets
from lthlib.exercises import check
from lthlib.imp import imp_for_scale, run_imp_seeds
from lthlib.masks import Mask, overlap
from lthlib.models import prunable_parameters
from lthlib.parallel import parallel_map
from lthlib.store import Store
from lthlib.supermask import (learn_supermask, mask_by_criterion, supermask_settings,
                              train_criterion_mask, untrained_accuracy)
from lthlib.training import data_for, dense_runs, model_for

settings = lthlib.for_scale(SCALE, model=MODEL, dataset=DATASET)
store = Store(RESULTS_DIR)
seeds = list(range(SEEDS))
data = data_for(settings)
layers = list(prunable_parameters(model_for(settings, data)))
dense = dense_runs(settings, seeds, data, store=store, save_weights_at=[0])
dense_acc = np.mean([r.at_early_stop("test_acc") for r in dense])
print(f"dense {settings.model}: test accuracy at early stopping {dense_acc:.3f} (mean of {len(dense)} seeds)")

# %% [markdown]
# ## 1. Masks as training: untrained networks under each criterion
#
# Each criterion scores a weight from its initial value $w_i$ and its value after dense
# training $w_f$, and keeps the top fraction in every layer:
#
# | criterion | score (kept if high) |
# |---|---|
# | large_final | $\lvert w_f\rvert$ (what IMP uses) |
# | small_final | $-\lvert w_f\rvert$ |
# | large_init | $\lvert w_i\rvert$ |
# | large_init_large_final | $\min(\alpha\lvert w_i\rvert, \lvert w_f\rvert)$ |
# | magnitude_increase | $\lvert w_f\rvert - \lvert w_i\rvert$ |
# | movement | $\lvert w_f - w_i\rvert$ |
# | large_final_same_sign | $\lvert w_f\rvert$ among weights whose sign did not change |
# | random | uniform noise |
#
# The kept weights then start **at their initial values** or at a **signed constant**
# $\operatorname{sign}(w_i)\cdot\sigma_\text{layer}$, where $\sigma_\text{layer}$ is the
# standard deviation of the layer's initial weights. Here nothing is trained after masking:
# we evaluate the masked random network as it is.

# %%
criteria = ["large_final", "large_final_same_sign", "magnitude_increase", "large_init_large_final",
            "movement", "large_init", "small_final", "random"]
keeps = [0.05, 0.1, 0.2, 0.4, 0.7, 1.0]
untrained = {reset: {c: np.array([[untrained_accuracy(settings, data, r.weights_at[0], r.final_state, c, reset, k)
                                   for k in keeps] for r in dense]) for c in criteria}
             for reset in ("init", "signed_constant")}
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for ax, (reset, series) in zip(axes, untrained.items()):
    plots.lines_over_x([100 * k for k in keeps], series, "percent of weights kept per layer",
                       "test accuracy, untrained", f"kept weights at {reset.replace('_', ' ')}",
                       ax=ax, chance=1 / data.num_classes)
plots.save_figure(fig, FIGURES_DIR, "criteria_untrained")

# %% [markdown]
# **What Zhou et al. report** (MNIST, fully connected): masks that keep large final
# weights with their *sign* make the untrained network far better than chance (up to
# about 80% on MNIST with `large_final_same_sign` and signed constants), and the sign
# matters more than the magnitude: signed constants work as well as the initial values.
#
# **What to see here.** Chance is 10%. In our quick-scale runs (3 seeds), `small_final`,
# `large_init`, `movement` and `random` stay near it. The criteria that keep large final
# weights lift the untrained network above chance (`large_final` about 0.20 at 70% kept),
# and **keeping only weights whose sign survived training** (`large_final_same_sign`)
# lifts it most: about 0.31 with the initial values and 0.34 with signed constants. So,
# as Zhou et al. found, what the mask transmits is largely a pattern of signs: replacing
# every kept weight by a constant of the right sign loses nothing. The numbers are far
# below Zhou's MNIST numbers: MNIST-1D is harder, and the dense MLP itself reaches only
# about 0.68 after training. With 100% kept every curve is the unmasked random network.

# %% [markdown]
# ## 2. Criteria, then training: which starting values matter?
#
# Now mask by a criterion at 20% kept, start the kept weights at their initial values, at
# the signed constant, or at fresh random values (*reinit*), and train. Zhou et al.
# found that reinitialised masks train worse (as Frankle & Carbin's random-reinit control),
# while the signed constant does about as well as the initial values.

# %%
train_criteria = ["large_final", "random"]
resets = ["init", "signed_constant", "reinit"]
jobs = [(settings.replace(seed=r.settings["seed"]), data, r.weights_at[0], r.final_state, c, reset, 0.2, store.root)
        for c in train_criteria for reset in resets for r in dense]
trained_runs = parallel_map(train_criterion_mask, jobs)
trained = {c: {reset: [trained_runs[(i * len(resets) + j) * len(dense) + s].at_early_stop("test_acc")
                       for s in range(len(dense))] for j, reset in enumerate(resets)}
           for i, c in enumerate(train_criteria)}
fig = plots.grouped_bars(trained, "test accuracy at early stopping", "20% of weights kept, then trained",
                         reference=dense_acc)
plots.save_figure(fig, FIGURES_DIR, "criteria_trained")

# %% [markdown]
# **What to see.** In our quick-scale runs (3 seeds), for the large-final mask (IMP's
# criterion, one shot) starting from the initial values (about 0.66) or from the signed
# constant (about 0.645) beats starting from fresh random values (about 0.60): the mask
# fits the values, and above all the signs, it was found with. For a random mask the
# initial values bring no advantage (about 0.54, and reinitialising even did a little
# better, about 0.58): there is nothing for them to fit.

# %% [markdown]
# ## 3. Learned supermasks vs trained networks vs IMP tickets
#
# **Edge-popup** keeps, in every layer, the top $k\%$ of a learned score; the weights
# never change. The forward pass uses $w \odot m(s)$ and the gradient of the loss with
# respect to the mask is passed *straight through* to the score. **Bernoulli masks**
# (Zhou et al.) sample $m \sim \text{Bernoulli}(\sigma(s))$ instead, so the density is
# learned. The frozen weights are random signed constants $\pm\sqrt{2/\text{fan-in}}$, the
# setting in which Ramanujan et al. found edge-popup works best. (On PyTorch's default
# initialisation, whose weights are about 2.5 times smaller, masked signals fade through
# the layers and edge-popup did much worse in our runs: about 0.26 at 60% kept.)

# %%
imp = run_imp_seeds(imp_for_scale(SCALE, settings, rounds=min(3, imp_for_scale(SCALE, settings).rounds),
                                  controls=()), seeds, data, store=store)
compare_rounds = [1, len(imp[0].rounds)]
compare_density = [float(np.mean([res.densities()[r] for res in imp])) for r in compare_rounds]
sm_jobs = [(supermask_settings(settings.replace(seed=s), "edge_popup"), data, "edge_popup", round(d, 3),
            "signed_constant", store.root) for d in compare_density for s in seeds]
sm_jobs += [(supermask_settings(settings.replace(seed=s), "bernoulli"), data, "bernoulli", 0.5, "signed_constant",
             store.root) for s in seeds]
# for section 5: edge-popup on the IMP ticket's own initial weights (seed 0), to compare masks
sm_jobs.append((supermask_settings(settings.replace(seed=seeds[0]), "edge_popup"), data, "edge_popup",
                round(compare_density[0], 3), "init", store.root))
sm_runs = parallel_map(learn_supermask, sm_jobs)
n = len(seeds)
comparison = {}
for i, (r, d) in enumerate(zip(compare_rounds, compare_density)):
    comparison[f"{100 * d:.0f}% kept"] = {
        "IMP ticket (trained)": [res.metric("ticket")[r] for res in imp],
        "edge-popup (untrained weights)": [run.at_early_stop("test_acc") for run in sm_runs[i * n:(i + 1) * n]]}
bern = sm_runs[len(compare_density) * n:len(compare_density) * n + n]
bern_density = np.mean([Mask(run.mask).density() for run in bern])
comparison[f"Bernoulli ({100 * bern_density:.0f}% kept)"] = {
    "Bernoulli supermask (untrained weights)": [run.at_early_stop("test_acc") for run in bern]}
fig = plots.grouped_bars(comparison, "test accuracy at early stopping",
                         "masks learned on frozen weights vs trained networks", reference=dense_acc,
                         reference_label="dense network, trained")
plots.save_figure(fig, FIGURES_DIR, "supermasks_vs_tickets")

# %% [markdown]
# **What to see.** A mask learned on weights that are never trained reaches a good part of
# the trained network's accuracy, far above chance (10%): selecting weights is a form of
# training. In our quick-scale runs edge-popup reached about 0.58 keeping 60% of the
# weights and 0.50 keeping 22%; Bernoulli masks settled at about 54% kept with about
# 0.58. At equal density the trained IMP ticket is still clearly better (about 0.68 and
# 0.69): on a network
# this narrow, a subnetwork of random weights cannot match trained weights. Ramanujan et
# al.'s matching results need *wide* random networks, which the next section measures.

# %% [markdown]
# ## 4. Strong tickets: wider random networks hide better subnetworks
#
# Malach et al. prove that a random network somewhat wider and deeper than a target
# network contains, with high probability, a subnetwork that approximates the target
# without any training. Empirically (Ramanujan et al.), edge-popup accuracy rises with
# width. Here: edge-popup at 50% on random signed-constant weights, hidden layers of
# growing width.

# %%
widths = [25, 100, 400] if SCALE != "smoke" else [16, 64]
width_jobs = [(supermask_settings(settings.replace(seed=s, model_kwargs={"hidden": (w, w)}), "edge_popup"),
               data, "edge_popup", 0.5, "signed_constant", store.root) for w in widths for s in seeds]
width_runs = parallel_map(learn_supermask, width_jobs)
width_acc = np.array([[width_runs[i * n + j].at_early_stop("test_acc") for i in range(len(widths))] for j in range(n)])
fig = plots.lines_over_x(widths, {"edge-popup, 50% of random weights": width_acc}, "hidden width (two layers)",
                         "test accuracy at early stopping", "strong tickets: accuracy vs width",
                         chance=1 / data.num_classes, logx=True)
fig.axes[0].axhline(dense_acc, color="k", ls="--", lw=1, label="dense network, trained")
fig.axes[0].legend(fontsize=7)
plots.save_figure(fig, FIGURES_DIR, "strong_tickets_width")
print("edge-popup accuracy by width:", {w: round(float(width_acc[:, i].mean()), 3) for i, w in enumerate(widths)})

# %% [markdown]
# **What to see.** The same method, the same density, no weight training: accuracy grows
# with the width of the random network, as the theory says it should (in our quick-scale
# runs about 0.33 at width 25, 0.54 at 100 and 0.60 at 400, against 0.68 for the trained
# dense network of width 300/100). A narrow random network does not contain a good
# subnetwork; a wider one contains a better one.

# %% [markdown]
# ## 5. Are the subnetworks the same?
#
# Intersection over union (IoU) of two masks, per layer, against the IoU expected of two
# *random* masks with the same densities. Above the black tick: the two methods agree
# more than chance.

# %%
r_cmp = compare_rounds[0]
ticket_mask = imp[0].rounds[r_cmp - 1].mask
init_mask = mask_by_criterion("large_init", dense[0].weights_at[0], dense[0].final_state, layers,
                              ticket_mask.layer_density())
masks = {f"IMP ticket, round {r.index}, seed {res.settings.train.seed}": r.mask for res in imp for r in res.rounds}
masks["edge-popup on the same initial weights, seed 0"] = Mask(sm_runs[-1].mask)
masks["large_init (at initialisation), seed 0"] = init_mask
masks["random, seed 0"] = mask_by_criterion("random", dense[0].weights_at[0], dense[0].final_state, layers,
                                            ticket_mask.layer_density())
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
for ax, other in zip(axes, ["edge-popup on the same initial weights, seed 0", "large_init (at initialisation), seed 0"]):
    res = overlap(ticket_mask, masks[other])
    names = list(res)
    ax.bar(range(len(names)), [res[k]["iou"] for k in names])
    ax.scatter(range(len(names)), [res[k]["chance_iou"] for k in names], marker="_", s=600, color="k")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set(ylim=(0, 1), ylabel="IoU", title=f"IMP ticket (round {r_cmp}) vs\n{other}")
fig.tight_layout()
plots.save_figure(fig, FIGURES_DIR, "mask_overlap")
ticket_other_seed = masks[f"IMP ticket, round {r_cmp}, seed {imp[-1].settings.train.seed}"]
print("IMP ticket seed 0 vs last seed (different initial weights):",
      round(overlap(ticket_mask, ticket_other_seed)["overall"]["iou"], 3),
      "chance", round(overlap(ticket_mask, ticket_other_seed)["overall"]["chance_iou"], 3))

# %% [markdown]
# **What to see.** Bars above the black ticks mean the two masks share more weights than
# random masks of the same densities would. In our quick-scale run both comparisons sit
# above chance, most clearly in the first layer (IoU about 0.52-0.56 against 0.43 by
# chance): part of the IMP ticket is predictable from the magnitudes at initialisation,
# and a supermask learned on the same initial weights finds some of the same weights,
# but the masks are far from identical. Tickets of different seeds start from different
# weights, so their overlap (printed above) is at chance: a check that the measure works.
#
# ### Explore: any two stored masks
# Pick two masks (IMP rounds and seeds, edge-popup, criteria at initialisation) and see
# their overlap per layer. The dropdowns only read stored masks.

# %%
fig = plots.overlap_bars(overlap(ticket_mask, masks["random, seed 0"]), "IMP ticket vs a random mask")
explorer = widgets.overlap_explorer(masks)

# %% [markdown]
# ## Summary
#
# - A mask is a form of training: masks that keep large final weights with their signs make
#   an *untrained* network better than chance, and signed constants work as well as the
#   initial values (Zhou et al.).
# - Masks found by a criterion train best from the values they were found with (or their
#   signed constants); reinitialising loses that.
# - Scores trained by edge-popup or as Bernoulli probabilities find subnetworks of frozen
#   random weights that reach much of a trained network's accuracy, and more so the wider
#   the random network: strong lottery tickets.
#
# ## Exercises
#
# 1. Two independent random masks each keep 20% of a layer. What IoU do you expect?
#    (Expected intersection $p^2$, union $2p - p^2$.)

# %%
check("chance_iou_two_20_percent_masks", None)

# %% [markdown]
# 2. Add `"small_init"` (score $-\lvert w_i\rvert$) to `lthlib.supermask.criterion_scores`
#    on your own copy and re-run section 1. Where does it land?
# 3. Re-run section 4 with `"kaiming_normal"` weights instead of signed constants. Which
#    random weights hide better subnetworks?
