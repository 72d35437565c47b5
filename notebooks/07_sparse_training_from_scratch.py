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
# - **SET** (Mocanu et al. 2018): every $\Delta T$ steps, drop the active weights of
#   smallest magnitude and grow as many connections at random;
# - **RigL** (Evci et al. 2020, *Rigging the Lottery*): drop the smallest magnitudes, grow
#   the inactive connections with the largest **dense gradient**, new weights starting at
#   zero; the fraction updated decays with a cosine from $\alpha = 0.3$ to 0 at
#   $T_{end} = 0.75\,T$.
#
# Masks start with the **Erdős–Rényi-Kernel** (ERK) per-layer densities RigL uses (denser
# small layers) or uniform ones. The question of the project's discussion material: does
# a network that is sparse from scratch reach what IMP's tickets reach, and at what cost?
#
# **In this notebook you will** train static, SET and RigL networks at notebook 06's
# densities on the same seeds, put them beside the IMP ticket and SNIP/SynFlow, count
# each method's training cost in multiply-adds (Evci et al.'s accounting), and read the
# claims as checks.
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
import numpy as np

import lthlib
from lthlib import plots
from lthlib.claims import Claims, claims_markdown, say, spread
from lthlib.config import SPARSE_MODELS, SPARSE_PRESETS, check_parameters, seeds_for
from lthlib.glossary import define
from lthlib.imp import imp_for_scale, kind_label, run_imp_seeds
from lthlib.masks import Mask
from lthlib.pai import METHOD_LABELS as PAI_LABELS
from lthlib.pai_study import accuracy_table, pai_for_scale, run_pai
from lthlib.sparse_training import (METHOD_LABELS, SparseTrainingSettings, SparseUpdater, drop_fraction_at,
                                    run_sparse, training_flops)
from lthlib.store import Store
from lthlib.lmc import solution_relation
from lthlib.population import train_members
from lthlib.training import data_for, model_for, reading_words

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
_ = define("density", "ticket", "pruning at initialisation")

# %% [markdown]
# ## 1. How much of the mask moves, and when
#
# RigL and SET update the mask every $\Delta T$ steps until $T_{end}$; the fraction of each
# layer's active weights that is dropped (and regrown) decays with a cosine.

# %%
rigl = base.replace(method="rigl")
updates = SparseUpdater(rigl, T, 0).update_iterations()
steps = list(range(0, T + 1, max(1, T // 200)))
fig = plots.seed_bands(steps, {"fraction of active weights dropped and regrown": [[drop_fraction_at(t, rigl, T) for t in steps]]},
                       "iteration", "drop fraction", legend=False,
                       styles={"fraction of active weights dropped and regrown": {"marker": ""}},
                       title=f"RigL's update schedule: {len(updates)} updates, every {rigl.update_every} steps, "
                             f"the last at iteration {updates[-1] if updates else 0}")
plots.save_figure(fig, FIGURES_DIR, "update_schedule")

# %% [markdown]
# ## 2. Accuracy at notebook 06's densities
#
# Every method starts from the seed's initial weights (the same as the IMP ticket's and
# the PaI networks') with a random ERK mask of the seed, and is read, as everywhere in
# these notebooks, at the early-stopping iteration (at `SCALE="paper"`, WRN-22-2 trains on
# all 50,000 CIFAR-10 images as RigL's code does and is read at the end of training).

# %%
imp_results = run_imp_seeds(imp_settings, seeds, data, store=store)
rounds = list(pai.rounds)
densities = [imp_results[0].rounds[r - 1].density for r in rounds]
percents = [100 * d for d in densities]
methods = ("static", "set", "rigl")
sparse_settings = {(m, d): base.replace(method=m, density=float(d), distribution="erk") for m in methods for d in densities}
sparse_runs = run_sparse(train_settings, data, list(sparse_settings.values()), seeds, store=store)
acc = {m: np.array([[sparse_runs[(sparse_settings[(m, d)], s)].reported() for d in densities] for s in seeds])
       for m in methods}
ticket = np.array([[res.rounds[r - 1].ticket.reported() for r in rounds] for res in imp_results])
pai_runs = run_pai(train_settings, data, ("snip", "synflow"), densities, seeds, store=store)
pai_acc = {m: np.array(accuracy_table(pai_runs, m, "none", densities, seeds)).T for m in ("snip", "synflow")}
dense = np.array([res.dense.reported() for res in imp_results])
series = {kind_label("ticket") + " (k=0)": ticket, **{METHOD_LABELS[m] + " (ERK)": acc[m] for m in methods},
          **{PAI_LABELS[m]: pai_acc[m] for m in pai_acc}}
styles = {kind_label("ticket") + " (k=0)": {"lw": 2.4, "color": "C1"}, METHOD_LABELS["static"] + " (ERK)": {"ls": "--", "color": "C7"},
          PAI_LABELS["snip"]: {"color": "C9", "ls": ":"}, PAI_LABELS["synflow"]: {"color": "C4", "ls": ":"}}
fig = plots.seed_bands(percents, series, "", f"test accuracy ({reading})", percent_x=True, styles=styles,
                       references={"dense network (mean)": float(dense.mean())},
                       title=f"Sparse from scratch vs IMP and PaI on {train_settings.model} / {train_settings.dataset}")
plots.save_figure(fig, FIGURES_DIR, "sparse_vs_imp")

# %%
rows = ["| network | " + " | ".join(f"{p:.1f}%" for p in percents) + " |", "|---|" + "---|" * len(percents)]
rows += [f"| {name} | " + " | ".join(spread(ys[:, j]) for j in range(len(percents))) + " |" for name, ys in series.items()]
say("Test accuracy at {reading}, mean (min-max) over {n} seeds; dense network: {d}.\n\n" + "\n".join(rows),
    reading=reading, n=len(seeds), d=spread(dense))

# %% [markdown]
# ## 3. Uniform or ERK?
#
# RigL at the sparsest density with each initial distribution of densities over layers.

# %%
j = len(densities) - 1
uniform = base.replace(method="rigl", density=float(densities[j]), distribution="uniform")
uni = np.array([run_sparse(train_settings, data, [uniform], [s], store=store)[(uniform, s)].reported() for s in seeds])
say("RigL at {p:.1f}%: ERK {erk}, uniform {uni} (mean (min-max) over seeds).",
    p=percents[j], erk=spread(acc["rigl"][:, j]), uni=spread(uni))

# %% [markdown]
# ## 4. What each route costs
#
# Training cost in multiply-adds, as Evci et al. 2020 count it (Appendix H): three passes
# per step at the network's density; RigL's update steps compute the dense gradient. An IMP
# ticket at round $r$ has paid for the dense run and every round up to $r$, each at its own
# density: IMP buys its mask with dense training, the methods here never train densely.

# %%
model = model_for(train_settings, data)
shape, bs = data.input_shape, train_settings.batch_size
mask_of = lambda run: Mask(run.mask)
imp_cost = []
for r in rounds:
    paid = training_flops(model, shape, T, bs)  # the dense run
    paid += sum(training_flops(model, shape, T - imp_settings.rewind_iteration, bs, mask=imp_results[0].rounds[q].mask)
                for q in range(r))
    imp_cost.append(paid)
cost = {kind_label("ticket") + " (k=0)": imp_cost}
for m in methods:
    cost[METHOD_LABELS[m] + " (ERK)"] = [training_flops(model, shape, T, bs, mask=mask_of(sparse_runs[(sparse_settings[(m, d)], seeds[0])]),
                                                         settings=sparse_settings[(m, d)]) for d in densities]
dense_cost = training_flops(model, shape, T, bs)
accs = {kind_label("ticket") + " (k=0)": ticket, **{METHOD_LABELS[m] + " (ERK)": acc[m] for m in methods}}
fig = plots.accuracy_vs_cost({k: [c / dense_cost for c in v] for k, v in cost.items()}, accs,
                             "training cost (multiples of one dense training run, log scale)",
                             f"test accuracy ({reading})", title="What each route pays for its accuracy",
                             colors={kind_label("ticket") + " (k=0)": "C1", METHOD_LABELS["static"] + " (ERK)": "C7"})
plots.save_figure(fig, FIGURES_DIR, "accuracy_vs_cost")

# %%
say("**What to see.** At {p:.1f}% of the weights, the IMP ticket has paid {imp:.2f} dense training runs "
    "for {ta}; RigL paid {rig:.3f} for {ra}, static sparse {st:.3f} for {sa}.",
    p=percents[j], imp=imp_cost[j] / dense_cost, ta=spread(ticket[:, j]),
    rig=cost[METHOD_LABELS["rigl"] + " (ERK)"][j] / dense_cost, ra=spread(acc["rigl"][:, j]),
    st=cost[METHOD_LABELS["static"] + " (ERK)"][j] / dense_cost, sa=spread(acc["static"][:, j]))

# %% [markdown]
# ## 5. Do tickets retrain to the dense solution's region?
#
# Evci, Ioannou, Keskin & Dauphin (*Gradient Flow in Sparse Neural Networks and How
# Lottery Tickets Win*, arXiv 2020, AAAI 2022; Evci also led RigL) argue that
# a lottery ticket trains back into the basin of the dense
# solution it was pruned from, which is why it does well, and a random initialisation of
# the same mask does not. Measured here at the sparsest density, seed by seed: the
# distance between the trained ticket and the trained dense network (relative to the dense
# weights' norm) and the test-error barrier on the straight line between them (notebook
# 05's measure), for the IMP ticket and for the same mask trained from fresh weights (its
# `reinit` control, trained again here because the store keeps no control's weights).

# %%
r_last = rounds[-1]
twin_members = []
for res in imp_results:
    ts_s = res.settings.train
    twin_members.append((model_for(ts_s, data, stream="reinit").state_dict(), res.rounds[r_last - 1].mask, 0, [], ts_s))
twins = store.get_or_compute("reinit_twins", {"train": train_settings, "seeds": seeds, "round": r_last,
                                              "imp": imp_settings.store_key()},
                             lambda: [run.to_dict() for run in train_members(twin_members, data)])
relation = {"IMP ticket": [], "same mask, fresh weights": []}
for res, twin in zip(imp_results, twins):
    dense_final = res.dense.final_state
    relation["IMP ticket"].append(solution_relation(model, res.rounds[r_last - 1].ticket.final_state, dense_final, data))
    relation["same mask, fresh weights"].append(solution_relation(model, twin["final_state"], dense_final, data))
rows = ["| network | distance to the dense solution (relative) | error barrier to it |", "|---|---|---|"]
for name, rel in relation.items():
    rows.append(f"| {name} | {spread([r['distance'] for r in rel])} | {spread([r['barrier'] for r in rel])} |")
say("At {p:.1f}% of the weights, mean (min-max) over seeds:\n\n" + "\n".join(rows), p=percents[-1])

# %% [markdown]
# **The paper's numbers, for scale** (as reported by Evci et al. 2020 for WRN-22-2 on
# CIFAR-10, test accuracy in %, at 80% / 90% sparsity): RigL 93.6 / 92.9, static sparse
# 92.9 / 91.5, pruning (which trains the dense network first) 93.6 / 93.3. These are the
# paper's numbers, not this run's.
#
# ## 5. The claims, seed by seed

# %%
claims = Claims("07", SCALE, CLAIMS_FILE)
claims.paired(f"the IMP ticket is more accurate than static sparse training (ERK) at {percents[j]:.1f}% of weights",
              better=ticket[:, j], worse=acc["static"][:, j])
claims.paired(f"RigL is more accurate than static sparse training (ERK) at {percents[j]:.1f}% of weights",
              better=acc["rigl"][:, j], worse=acc["static"][:, j], role="paper",
              paper="Evci et al. 2020 (paraphrased): RigL improves on static sparse training and on SET at equal density "
                    "(ResNet-50 / ImageNet, their Figure 2).")
claims.paired(f"RigL is within 1 point of the IMP ticket at {percents[j]:.1f}% of weights",
              better=acc["rigl"][:, j], worse=ticket[:, j], margin=-0.01, role="paper",
              paper="Evci et al. 2020 (paraphrased): dynamic sparse training from scratch can match pruning that "
                    "starts from a dense network, at a fraction of its training cost.")
claims.paired(f"at {percents[j]:.1f}%, the IMP ticket's barrier to the dense solution is lower than that of "
              "the same mask trained from fresh weights",
              better=[r["barrier"] for r in relation["same mask, fresh weights"]],  # higher barrier: farther
              worse=[r["barrier"] for r in relation["IMP ticket"]], role="paper",
              paper="Evci, Ioannou, Keskin & Dauphin 2022 (Gradient Flow in Sparse Neural Networks and How Lottery "
                    "Tickets Win, paraphrased): lottery tickets retrain into the basin of the dense solution "
                    "they were pruned from; random initialisations of the same mask do not.")
claims.show()

# %% [markdown]
# **Reading the verdicts.** The headline claim is the lottery ticket's own: a mask found
# by training the dense network beats a random sparse network trained from scratch at
# the same density. The *paper* rows test RigL's claims at this scale, whatever their
# verdict; a small MLP on MNIST-1D is far from ResNet-50 on ImageNet.
#
# ## Exercises
#
# 1. Set `base = base.replace(update_every=...)` to a quarter of its value and rerun
#    section 2 for RigL. Does updating the mask more often help here?
# 2. Section 4 charges IMP for every round. How would the cost change with the paper's
#    20% rate instead of this scale's faster schedule? (Count the rounds to 5% of weights.)
# 3. Use `drop_fraction_at` to find the iteration at which RigL's update fraction has
#    fallen to half of $\alpha$. Why does a cosine leave the end of training almost
#    undisturbed?
