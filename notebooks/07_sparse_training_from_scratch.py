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
# # 07 · Sparse training from scratch: a network that is never dense
#
# Notebook 06 chose the mask once, before training. **Dynamic sparse training** lets the
# mask move *during* training while the number of weights stays fixed, so the network is
# sparse from the first step to the last and no dense network is ever trained:
#
# - **static sparse**: a random mask, fixed (the baseline);
# - **SET** (Mocanu et al. 2018, *sparse evolutionary training*): every $\Delta T$ steps,
#   drop the active weights of smallest magnitude and grow as many connections at random
#   (SET as RigL's code implements it, `SparseSETOptimizerBase`);
# - **RigL** (Evci et al. 2020, *Rigging the Lottery*): drop the smallest magnitudes, grow
#   the inactive connections with the largest magnitude of the **dense gradient** (the
#   gradient of every weight, pruned ones included), new weights starting at zero. The
#   fraction of active weights replaced decays from $\alpha = 0.3$ to 0 with a cosine,
#   $f(t) = \frac{\alpha}{2}\left(1 + \cos\frac{\pi t}{T_{end}}\right)$, and updates stop at
#   $T_{end} = 0.75\,T$ of the $T$ training steps (as the authors' code can run it: its
#   `drop_fraction` 0.3, its `cosine` anneal, its last update at step 75,000 of 97,656 on
#   CIFAR-10).
#
# Every mask starts random, with the **Erdős–Rényi-Kernel** (ERK) per-layer densities RigL
# uses: layer $l$ with dimensions $n_1, \dots, n_k$ (outputs, inputs, kernel) keeps the
# fraction $\epsilon \sum_i n_i / \prod_i n_i$ of its weights, $\epsilon$ set by the overall
# density, so small layers stay denser (for a linear layer, $(n_{in} + n_{out}) / (n_{in}
# n_{out})$, the Erdős–Rényi graph of SET). Or with the same density in every layer
# (*uniform*). The question: does a network that is sparse from scratch reach what IMP's
# tickets reach, and at what cost?
#
# **In this notebook you will** train static, SET and RigL networks at notebook 06's
# densities on the same seeds, put them beside the IMP ticket and SNIP/SynFlow, count
# each method's training cost in multiply-adds (as Evci et al. count training FLOPs), ask
# whether the IMP ticket trains back towards the dense solution it was pruned from
# (Evci et al. 2022), and read the claims as checks.
#
# **Time:** `SCALE="quick"` a few minutes on a 2-core laptop CPU (IMP and PaI runs of
# notebooks 02 and 06 come from the store when they ran first); `"smoke"` seconds;
# `"paper"` RigL's WRN-22-2 on CIFAR-10 with its published schedule and dense first layer
# (needs CIFAR-10 on disk and a GPU).

# %% tags=["parameters"]
SCALE = "quick"  # "smoke" | "quick" | "paper"
SEEDS = 8  # seeds (initial weights, data order and random masks), shared with notebooks 02 and 06
DATASET = None  # None: the scale's default ("mnist1d" for smoke/quick, "cifar10" for paper)
MODEL = None  # None: the scale's network (paper: WRN-22-2, as Evci et al. 2020), else the dataset's default
DEVICE = "auto"  # "auto": a CUDA or Apple GPU when there is one, else the CPU; or "cpu", "cuda", "mps"
RESULTS_DIR = "../results"  # every run is stored here and reused
FIGURES_DIR = None  # set a folder to save every figure as PNG
CLAIMS_FILE = None  # set a path to save the checked claims as JSON (the CLI does)

# %%
# %matplotlib inline
import lthlib
from lthlib.core.store import Store
from lthlib.engine.training import data_for, model_for, reading_words
from lthlib.experiments import sparse_study as study
from lthlib.experiments.imp import imp_for_scale, run_imp_seeds
from lthlib.experiments.pai_study import pai_for_scale, round_densities
from lthlib.methods.sparse_training import SPARSE_MODELS, SPARSE_PRESETS, SparseTrainingSettings, SparseUpdater, drop_fraction_at
from lthlib.report import plots
from lthlib.report.claims import Claims, say, spread
from lthlib.report.glossary import define
from lthlib.settings import check_parameters, seeds_for

check_parameters(SCALE=SCALE, SEEDS=SEEDS, RESULTS_DIR=RESULTS_DIR)  # a clear error for a bad -p value
train_settings = lthlib.for_scale(SCALE, model=MODEL, dataset=DATASET, default_model=SPARSE_MODELS[SCALE])
reading = reading_words(train_settings)  # where runs are read: early stopping, or the end of training
imp_settings = imp_for_scale(SCALE, train_settings)  # notebook 02's IMP runs, from the store
pai = pai_for_scale(SCALE)  # notebook 06's densities
store = Store(RESULTS_DIR)
seeds = list(range(seeds_for(SCALE, SEEDS)))
data = data_for(train_settings, device=DEVICE)  # moved to the device once; models follow it
T = train_settings.iterations
base = SparseTrainingSettings(**SPARSE_PRESETS[SCALE])
base

# %%
_ = define("density", "ticket", "pruning at initialisation", "dynamic sparse training", "ERK", "error barrier",
           "linear mode connectivity")

# %% [markdown]
# ## 1. How much of the mask moves, and when
#
# RigL and SET update the mask every $\Delta T$ steps until $T_{end}$; the fraction of each
# layer's active weights that an update drops (and regrows elsewhere) decays with the cosine
# $f(t)$ above.

# %%
rigl = base.replace(method="rigl")
updates = SparseUpdater(rigl, T, 0).update_iterations()
steps = list(range(0, T + 1, max(1, T // 200)))
curve = "fraction of active weights dropped and regrown"
fig = plots.seed_bands(steps, {curve: [[drop_fraction_at(t, rigl, T) for t in steps]]}, "iteration",
                       "fraction dropped at an update at iteration t", legend=False, styles={curve: {"marker": ""}},
                       title=f"RigL's update schedule: {len(updates)} updates, every {rigl.update_every} steps, "
                             f"the last at iteration {updates[-1] if updates else 0}")
fig.axes[0].plot(updates, [drop_fraction_at(t, rigl, T) for t in updates], "o", ms=3, color="C0")  # the updates
plots.save_figure(fig, FIGURES_DIR, "update_schedule")

# %% [markdown]
# The dots are the updates: a fraction $f(t)$ of each layer's active weights is dropped and
# as many grown at each, none after $T_{end}$, so the last quarter of training keeps its mask.
#
# ## 2. Accuracy at notebook 06's densities
#
# Every method starts from the seed's initial weights (the same as the IMP ticket's and
# the PaI networks') with a random ERK mask of the seed, and is read, as everywhere in
# these notebooks, at the early-stopping iteration (at `SCALE="paper"`, WRN-22-2 trains on
# all 50,000 CIFAR-10 images as RigL's code does and is read at the end of training).
# Static sparse training trains exactly notebook 06's `random (ERK)` mask.

# %%
imp_results = run_imp_seeds(imp_settings, seeds, data, store=store)
densities = round_densities(imp_results, pai.rounds)
results = study.sparse_study(train_settings, data, base, densities, pai.rounds, seeds, imp_results, store)
dense = results.dense()
fig = plots.seed_bands(results.percents, results.series(), "", f"test accuracy ({reading})", percent_x=True,
                       styles=results.styles(), references={"dense network (mean)": float(dense.mean())},
                       title=f"Sparse from scratch vs IMP and PaI on {train_settings.model} / {train_settings.dataset}")
plots.save_figure(fig, FIGURES_DIR, "sparse_vs_imp")

# %%
say("Test accuracy at {reading}, mean (min-max) over {n} seeds; dense network: {d}.\n\n{table}\n\n{what}",
    reading=reading, n=len(seeds), d=spread(dense), table=results.table(), what=results.reading())

# %% [markdown]
# ## 3. Uniform or ERK?
#
# RigL at the sparsest density with each initial distribution of densities over layers.

# %%
say(study.uniform_vs_erk(train_settings, data, base, results, seeds, store))

# %% [markdown]
# ## 4. What each route costs
#
# Training cost in multiply-adds, counted as Evci et al. 2020 count training FLOPs
# (`lthlib.methods.sparse_training.training_flops`): three passes per step (forward, the gradient of
# the activations, the gradient of the weights) at the network's density; RigL's update
# steps also compute the dense gradient. An IMP ticket at round $r$ has paid for the dense
# run and every round up to $r$, each at its own density: IMP buys its mask with dense
# training, the methods here never train densely.

# %%
costs = results.costs(model_for(train_settings, data), data.input_shape, T, train_settings.batch_size, imp_settings)
accs = results.series(pai=False)
fig = plots.accuracy_vs_cost({k: costs[k] for k in accs}, accs,
                             "training cost (multiples of one dense training run, log scale)",
                             f"test accuracy ({reading})", title="What each route pays for its accuracy",
                             colors=results.colors())
plots.save_figure(fig, FIGURES_DIR, "accuracy_vs_cost")

# %%
say(results.cost_reading(costs))

# %% [markdown]
# ## 5. Does a ticket train back towards the solution it came from?
#
# Evci, Ioannou, Keskin & Dauphin (*Gradient Flow in Sparse Neural Networks and How
# Lottery Tickets Win*, AAAI 2022; Evci is RigL's first author) find that lottery
# tickets "do not improve gradient flow, rather their success lies in re-learning the
# pruning solution they are derived from" (abstract); their *pruning solutions* are the
# sparse networks pruning algorithms find (Section 1). Measured here at the sparsest
# density, seed by seed, against the trained **dense** network that IMP started from (at
# IMP's later rounds the mask comes from the previous round's trained ticket, itself
# descended from the dense network): the distance between the trained ticket and the
# trained dense network (relative to the dense weights' norm) and the test-error barrier on
# the straight line between them (notebook 05's measure), for the IMP ticket and for the
# same mask trained from fresh weights (its `reinit` control, trained again here because
# the store keeps no control's weights). What this tests is *relative*: whether the ticket
# ends closer to the dense solution than the same mask from fresh weights does. Ending in
# the same linearly connected region would take a barrier of about zero (notebook 05 calls
# a barrier under 2 points stable).

# %%
relation = study.solution_relations(train_settings, imp_settings, imp_results, data, seeds, pai.rounds[-1], store)
say("At {p:.1f}% of the weights, mean (min-max) over seeds:\n\n{table}", p=results.percents[-1],
    table=study.relation_table(relation))

# %% [markdown]
# **Training length.** Every sparse network here trains for as many iterations as the dense
# network (1x). RigL's authors report that "performance of RigL increases significantly
# with extended training iterations": for ResNet-50 on ImageNet at 80% sparsity (ERK),
# 75.12% top-1 accuracy at 1x training and 77.17% at 5x, against 76.8% for the dense
# network (google-research/rigl, README, "1x Training Results" and "Extended Training
# Results"; the authors' numbers, not this run's). Evci et al. 2022 (Section 1) sum it up:
# RigL "requires 5× the training steps to match dense NN generalization". The RigL paper's
# own comparison with pruning at longer training could not be read here.
#
# ## 6. The claims, seed by seed

# %%
claims = Claims("07", SCALE, CLAIMS_FILE)
p, ticket, acc = results.percents[-1], results.ticket()[:, -1], {m: results.acc(m)[:, -1] for m in ("static", "rigl")}
c_ticket = claims.paired(f"the IMP ticket is more accurate than static sparse training (ERK) at {p:.1f}% of weights",
                         better=ticket, worse=acc["static"])
c_rigl_static = claims.paired(
    f"RigL is more accurate than static sparse training (ERK) at {p:.1f}% of weights",
    better=acc["rigl"], worse=acc["static"], role="paper",
    paper="Evci et al. 2020 (abstract) give \"insights into why allowing the topology to change during the "
          "optimization can overcome local minima encountered when the topology remains static\"; the paper's own "
          "comparison with static sparse training was not read here.")
c_rigl_imp = claims.paired(
    f"RigL is within 1 point of the IMP ticket at {p:.1f}% of weights", better=acc["rigl"], worse=ticket,
    margin=-0.01, role="paper",
    paper="Evci et al. 2020 (abstract): RigL trains sparse networks \"with a fixed parameter count and a fixed "
          "computational cost throughout training, without sacrificing accuracy relative to existing "
          "dense-to-sparse training methods\". The IMP ticket stands in for those methods here (the paper's own "
          "baselines were not read), tested at 1x training (see the note on training length).")
fresh, tick = (study.barriers(relation, name) for name in ("same mask, fresh weights", "IMP ticket"))
c_barrier = claims.paired(
    f"at {p:.1f}%, the IMP ticket's barrier to the dense solution is lower than that of "
    "the same mask trained from fresh weights", better=fresh, worse=tick, role="paper",  # higher barrier: farther
    paper="Evci, Ioannou, Keskin & Dauphin 2022 (abstract): lottery tickets' \"success lies in re-learning the "
          "pruning solution they are derived from\". Tested here relative to a control and against the dense "
          "solution: a lower barrier than the same mask's from fresh weights.")

# %%
claims.show()
say(study.answer(c_ticket, c_rigl_static, c_rigl_imp, c_barrier, results, relation, costs, T,
                 train_settings.model, train_settings.dataset))

# %% [markdown]
# ## Exercises
#
# 1. Set `base = base.replace(update_every=...)` to a quarter of its value and rerun
#    section 2 for RigL. Does updating the mask more often help here?
# 2. Section 4 charges IMP for every round. How would the cost change with the paper's
#    20% rate instead of this scale's faster schedule? (Count the rounds to 5% of weights.)
# 3. Use `drop_fraction_at` to find the iteration at which RigL's update fraction has
#    fallen to half of $\alpha$. Why does a cosine leave the end of training almost
#    undisturbed?
