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
from lthlib.claims import Claims, claims_markdown, say, spread, verdict_word
from lthlib.config import SPARSE_MODELS, SPARSE_PRESETS, check_parameters, seeds_for
from lthlib.glossary import define
from lthlib.imp import imp_for_scale, kind_label, run_imp_seeds
from lthlib.masks import Mask
from lthlib.pai import METHOD_LABELS as PAI_LABELS
from lthlib.pai_study import accuracy_table, pai_for_scale, run_pai
from lthlib.sparse_training import (METHOD_LABELS, SparseTrainingSettings, SparseUpdater, drop_fraction_at,
                                    run_sparse, training_flops)
from lthlib.store import Store
from lthlib.lmc import STABLE_BARRIER, solution_relation
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
# ## 5. Does a ticket train back towards the solution it came from?
#
# Evci, Ioannou, Keskin & Dauphin (*Gradient Flow in Sparse Neural Networks and How
# Lottery Tickets Win*, arXiv 2020, AAAI 2022; Evci also led RigL) find that lottery
# tickets "do not improve gradient flow, rather their success lies in re-learning the
# pruning solution they are derived from" (abstract): the *pruning solution* is the
# trained, pruned network whose mask the ticket uses. Measured here at the sparsest
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
c_ticket = claims.paired(f"the IMP ticket is more accurate than static sparse training (ERK) at {percents[j]:.1f}% of weights",
                         better=ticket[:, j], worse=acc["static"][:, j])
c_rigl_static = claims.paired(
    f"RigL is more accurate than static sparse training (ERK) at {percents[j]:.1f}% of weights",
    better=acc["rigl"][:, j], worse=acc["static"][:, j], role="paper",
    paper="Evci et al. 2020 (paraphrased; the place in the paper was not read here): RigL is more accurate than "
          "static sparse training at equal density.")
c_rigl_imp = claims.paired(
    f"RigL is within 1 point of the IMP ticket at {percents[j]:.1f}% of weights",
    better=acc["rigl"][:, j], worse=ticket[:, j], margin=-0.01, role="paper",
    paper="Evci et al. 2020 (abstract): RigL trains sparse networks \"with a fixed parameter count and a fixed "
          "computational cost throughout training, without sacrificing accuracy relative to existing "
          "dense-to-sparse training methods\". Tested here at 1x training (see the note on training length).")
c_barrier = claims.paired(
    f"at {percents[j]:.1f}%, the IMP ticket's barrier to the dense solution is lower than that of "
    "the same mask trained from fresh weights",
    better=[r["barrier"] for r in relation["same mask, fresh weights"]],  # higher barrier: farther
    worse=[r["barrier"] for r in relation["IMP ticket"]], role="paper",
    paper="Evci, Ioannou, Keskin & Dauphin 2022 (abstract): lottery tickets' \"success lies in re-learning the "
          "pruning solution they are derived from\". Tested here relative to a control and against the dense "
          "solution: a lower barrier than the same mask's from fresh weights.")
claims.show()

# %%
b_ticket = 100 * np.mean([r["barrier"] for r in relation["IMP ticket"]])
b_fresh = 100 * np.mean([r["barrier"] for r in relation["same mask, fresh weights"]])
rigl_vs_set = acc["rigl"] - acc["set"]  # seeds x densities, same seeds
untested = ("The results in which RigL catches up with dense training use 5x the iterations (note above); "
            "this run gives RigL the ticket's 1x, so it does not test them.")
say("""**Reading the verdicts** ({model} on {dataset}; in *italics* each claim's verdict).
- The headline: at {p:.1f}% of the weights the IMP ticket is **{w_ticket}** than static sparse
  training (*{s_ticket}*): the ticket's mask, found by training the dense network, against a
  random ERK mask trained from the same initial weights.
- RigL is {w_static} than static sparse training (*{s_static}*).
- RigL is {w_imp} of the IMP ticket (*{s_imp}*), each trained for the same {T:,} iterations (the
  ticket's mask cost IMP more runs before that: section 4). {note_imp}
- The IMP ticket's barrier to the dense solution is {bt:.1f} points on average, that of its mask
  on fresh weights {bf:.1f}: the ticket's is {w_barrier} (*{s_barrier}*). {note_basin}
- RigL against SET (a description, not a claim): the mean paired accuracy difference RigL - SET,
  and the seeds where RigL is ahead, {vs_set}.""",
    model=train_settings.model, dataset=train_settings.dataset, T=T,
    p=percents[j], w_ticket=verdict_word(c_ticket, "more accurate", "less accurate", "not clearly more accurate"),
    s_ticket=c_ticket.stated,
    w_static=verdict_word(c_rigl_static, "more accurate", "less accurate", "not clearly more accurate"),
    s_static=c_rigl_static.stated,
    w_imp=verdict_word(c_rigl_imp, "within 1 point", "more than 1 point short", "not clearly within 1 point"),
    s_imp=c_rigl_imp.stated,
    note_imp=verdict_word(c_rigl_imp, "It does so here without longer training.", untested, untested),
    bt=b_ticket, bf=b_fresh,
    w_barrier=verdict_word(c_barrier, "lower", "higher", "not clearly lower"), s_barrier=c_barrier.stated,
    note_basin=(f"Under {100 * STABLE_BARRIER:g} points on average, the trained ticket and the dense solution "
                "are also linearly connected here." if b_ticket < 100 * STABLE_BARRIER else
                f"At {b_ticket:.1f} points the ticket does not end in the dense solution's linearly connected "
                f"region (notebook 05's threshold: {100 * STABLE_BARRIER:g} points): the claim is that it ends "
                "closer than the control, not in the same basin."),
    vs_set="; ".join(f"at {pc:.1f}% {rigl_vs_set[:, i].mean():+.3f} ({int((rigl_vs_set[:, i] > 0).sum())} of "
                     f"{len(seeds)} seeds)" for i, pc in enumerate(percents)))

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
