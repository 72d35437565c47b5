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
# # 05 · Linear mode connectivity: why rewinding works
#
# Notebook 03 showed that resetting to iteration 0 can fail while rewinding to an early
# iteration $k$ works. Frankle, Dziugaite, Roy & Carbin (*Linear Mode Connectivity and the
# Lottery Ticket Hypothesis*, ICML 2020) explain it with one experiment: take the network
# at iteration $k$, copy it, train the two copies with **different SGD noise** (a
# different order of minibatches), and look at the straight line between the two results.
# If the error along the line does not rise (by less than 2 percentage points, the paper's
# threshold), the copies ended in the same linearly connected valley: the network was
# **stable** at $k$.
#
# **In this notebook you will**
# - interpolate between two children and compute the **error barrier** (instability);
# - measure the barrier against the spawn iteration $k$ for the dense network and for the
#   sparse IMP subnetworks of notebook 03;
# - measure it for the controls too (random pruning, random reinitialisation), and set
#   stability beside *matching* as the paper does: is a subnetwork matching (within one
#   standard deviation of the dense network's accuracy) only when it is stable?
# - look at the error on the plane through the parent and its two children.
#
# **Time:** `SCALE="quick"` takes about 3 minutes on a 2-core laptop CPU when notebook 03's
# runs are stored (`python -m lthlib run` runs 03 first), about a minute more otherwise.

# %% tags=["parameters"]
SCALE = "quick"  # "smoke" | "quick" | "paper"
SEEDS = 8  # parents per spawn iteration: the first SEEDS of notebook 03's seeds
DATASET = None  # None: the scale's default
MODEL = None  # None: the scale's default (as notebook 03)
POINTS = 30  # points on each interpolation path
DEVICE = "auto"  # "auto": a CUDA or Apple GPU when there is one, else the CPU; or "cpu", "cuda", "mps"
RESULTS_DIR = "../results"  # children and IMP runs are stored here and reused
FIGURES_DIR = None  # set a folder to save every figure as PNG
CLAIMS_FILE = None  # set a file to save the claims' verdicts (python -m lthlib run does)

# %%
# %matplotlib inline
import numpy as np

from lthlib.core.store import Store
from lthlib.engine.training import data_for, model_for
from lthlib.experiments.imp import kind_label
from lthlib.experiments.lmc import PLANE_RESOLUTION, STABLE_BARRIER, loss_plane, measure_sweep_instability
from lthlib.experiments.rewinding import rewinding_for_scale, run_rewind_sweep
from lthlib.report import plots, widgets
from lthlib.report.claims import Claims, say, spread, verdict_word
from lthlib.report.exercises import check
from lthlib.report.glossary import define
from lthlib.settings import seeds_for

# %%
experiment = rewinding_for_scale(SCALE, model=MODEL, dataset=DATASET)
imp_settings, K, r_claim = experiment.imp, experiment.claim_k, experiment.claim_round
train_settings = imp_settings.train
spawn_ks = (0, K)  # two spawn points: each costs two children per network and seed
control_ks = tuple(k for k in experiment.control_ks if k in spawn_ks)
seeds = experiment.seeds(seeds_for(SCALE, SEEDS))
store = Store(RESULTS_DIR)
data = data_for(train_settings, device=DEVICE)  # moved to the device once; models follow it
claims = Claims("05", SCALE, CLAIMS_FILE)
say("**This run:** notebook 03's setting (`{model}`, {opt} at learning rate {lr:g}); children spawned at "
    "$k$ = {ks}; controls at $k$ = {cks}; seeds {s0}-{s1}.", model=train_settings.model,
    opt=train_settings.optimizer.upper(), lr=train_settings.lr, ks=", ".join(map(str, spawn_ks)),
    cks=", ".join(map(str, control_ks)), s0=seeds[0], s1=seeds[-1])

# %% [markdown]
# ## Definitions
#
# For two networks with weights $w_1, w_2$, evaluate $w(\alpha) = (1-\alpha)\,w_1 + \alpha\, w_2$
# for $\alpha \in [0, 1]$. With $\mathcal{E}(w)$ the test error, the **error barrier** is
#
# $$ \max_{\alpha} \mathcal{E}(w(\alpha)) \;-\; \tfrac{1}{2}\big(\mathcal{E}(w_1) + \mathcal{E}(w_2)\big). $$
#
# **Instability analysis at iteration $k$:** train a parent to iteration $k$; spawn two
# children from it that differ only in the order of the minibatches; train both to the end;
# the barrier between them is the network's instability at $k$.

# %%
define("stable", "error barrier", "matching", "winning", "rewinding");

# %% [markdown]
# Two different questions, easy to mix up: a ticket that *beats random reinitialisation*
# (notebook 02's *winning*, Frankle & Carbin 2019) need not be *matching* (reach the dense
# network's accuracy, within one standard deviation of its runs), and the other way round.
# The paper's link is between **stability** and **matching**, and it goes one way: "IMP subnetworks are only matching when they are
# stable to SGD noise" (Frankle et al. 2020, Section 4). Stability is necessary, not
# sufficient: at their most extreme sparsities IMP subnetworks become stable without
# becoming matching, and "the error of IMP subnetworks still decreases when they become
# stable (although not to the point that they are matching)" (Section 4.4). So a network
# that is *matching but not stable* goes against the paper's link; one that is *stable but
# not matching* does not.
#
# The parents here are notebook 03's dense runs (their weights at each $k$), and the sparse
# networks are notebook 03's subnetworks, each started as notebook 03 started it:
# - the **IMP ticket**: its mask, survivors at the dense weights of iteration $k$;
# - **random pruning**: the random mask notebook 03 trained, on the same weights;
# - **random reinit**: the ticket's mask on the fresh weights notebook 03's control used.
#
# (Networks with BatchNorm get their normalisation statistics recomputed at every point of
# the path: interpolated running statistics would be wrong.)

# %%
sweep = run_rewind_sweep(imp_settings, spawn_ks, seeds, data, store=store, control_ks=control_ks)
rounds, density = sweep.rounds, dict(enumerate(sweep.densities()))  # percent of weights left per round
# every network's two children and the path between them: barriers, curves and labels by (kind, round, k)
measured = measure_sweep_instability(sweep, spawn_ks, control_ks, r_claim, data, store=store, points=POINTS)

# %% [markdown]
# ## Interpolation curves

# %%
colors = measured.colors()  # each network's colour in the instability figure below
curve_series, styles = {}, {}
for kind, r in (("dense", 0), ("ticket", r_claim)):
    for k in (0, K):  # dashed: spawned at k = 0; solid: at k = K
        name = f"{measured.label(kind, r)}, k={k}"
        curve_series[name] = 100 * measured.test_errors(kind, r, k)
        styles[name] = {"color": colors[measured.label(kind, r)], "ls": "--" if k == 0 else "-", "marker": ""}
alphas = measured.curve("dense", 0, 0)["alpha"]  # the first seed's path; every path has the same points
fig = plots.seed_bands(alphas, curve_series, "interpolation alpha (child 1 -> child 2)", "test error (%)",
                       "test error between the two children", styles=styles)
plots.save_figure(fig, FIGURES_DIR, "interpolation_curves")

# %% [markdown]
# **What to see.** Each line goes from one child ($\alpha = 0$) to the other ($\alpha = 1$):
# dashed for children spawned at $k = 0$, solid for those spawned later; each network has the
# colour it has in the instability figure below. A bump in the middle is a barrier: the two
# children found different valleys. Compare the bump at $k = 0$ with the later $k$, dense and
# sparse.

# %% [markdown]
# ## Instability against $k$

# %%
fig = plots.barrier_vs_k(measured.barrier_series(), STABLE_BARRIER)
plots.save_figure(fig, FIGURES_DIR, "instability")

# %% [markdown]
# **What to see.** Each line is the mean barrier over seeds at the spawn iterations
# measured (a straight segment only joins two of them: nothing was measured in between);
# the shaded band runs from the smallest to the largest seed's barrier (min-max,
# like every band in this notebook; a barrier is never negative, and neither is the band).
# Below the dotted line a network counts as stable. Compare the dense network with the
# sparse ones at $k = 0$ and at the later $k$.

# %% [markdown]
# ## Stable and matching, network by network
#
# *Stable*: mean barrier under 2 percentage points (the paper's threshold). *Matching*: the
# paper's definition (in the words above): test accuracy at the end of training (notebook
# 03's runs) within one standard deviation of the dense network's, i.e. the mean accuracy at
# most one standard deviation of the dense runs below the dense mean. The table reads both
# from means over seeds, as the paper reads its means over runs; notebook 03 tests the
# rewound ticket's matching seed by seed, as a claim.

# %%
table = measured.stable_matching()  # every sparse network at every k: barriers, accuracy gaps, stable, matching
say(table.markdown() + f"\n\nBarrier: mean (min-max) over {len(seeds)} seeds; accuracy - dense: mean paired "
    f"difference. Dense network: {spread(table.dense_acc)}; one standard deviation of the dense runs: "
    f"{100 * table.tolerance:.1f} points.\n\n**Matching but not stable, the rows the paper's link rules out: "
    f"{table.against} of {len(table.rows)}.** Stable but not matching, which the link allows: {table.stable_only}.")

# %% [markdown]
# ## The claims, checked

# %%
b_dense, i0, iK = measured.barriers("dense", 0), spawn_ks.index(0), spawn_ks.index(K)  # seeds x spawn_ks
c_falls = claims.paired(f"the dense network's barrier falls from k=0 to k={K}", b_dense[:, i0], b_dense[:, iK])
c_dense_stable = claims.check(f"the dense network is stable at k={K} (barrier under 2 points)",
                              b_dense[:, iK], threshold=STABLE_BARRIER, below=True, role="paper",
                              paper="Frankle et al. 2020 (abstract; Section 3): \"standard vision models become stable to SGD "
                                    "noise in this way early in training\"")
b_tickets = {r: measured.barriers("ticket", r) for r in rounds}
b_ticket = b_tickets[r_claim]
c_ticket0 = claims.check(f"the {density[r_claim]:.0f}% IMP ticket is unstable at k=0 (barrier over 2 points)",
                         b_ticket[:, i0], threshold=STABLE_BARRIER, role="paper",
                         paper="Frankle et al. 2020 (abstract, arXiv v1): \"In cases where IMP subnetworks "
                               "are unstable at initialization, they become stable and matching early in training\"")
c_ticket_falls = {r: claims.paired(f"the {density[r]:.0f}% IMP ticket's barrier falls from k=0 to k={K}",
                                   b_tickets[r][:, i0], b_tickets[r][:, iK], role="paper",
                                   paper="Frankle et al. 2020 (Section 4): IMP subnetworks unstable at "
                                         "initialisation become stable early in training, sooner than the dense network")
                  for r in rounds}
b_ctrl = {c: measured.barriers(c, r_claim, control_ks)[:, control_ks.index(K)] for c in ("random_mask", "reinit")}
c_controls = {c: claims.paired(f"at k={K}, {kind_label(c)} is less stable than the IMP ticket ({density[r_claim]:.0f}%)",
                               b_ctrl[c], b_ticket[:, iK], role="paper",
                               paper="Frankle et al. 2020 (Section 4; a paraphrase not checked against the "
                                     "paper's text here): randomly pruned and reinitialised subnetworks are "
                                     "unstable and not matching")
              for c in ("random_mask", "reinit")}
claims.show()

# %% [markdown]
# **What the paper reports** (Frankle et al. 2020, for their networks; these are the paper's
# numbers, not this run's). Of the networks they study, only LeNet on MNIST is stable at
# initialisation ("Except for LeNet (MNIST), none of the networks are stable at
# initialization", Section 3). The dense ResNet-20 on CIFAR-10 becomes stable at about
# iteration 2,000 (3% of training) and VGG-16 at about iteration 1,000 (Section 3,
# Figure 3). The sparse IMP subnetworks of these networks are unstable at $k = 0$ and, with
# rewinding, become stable *earlier* than the dense networks, ResNet-20's at about
# iteration 500: "In all cases, the IMP subnetworks become stable sooner than the unpruned
# networks" (Section 4). IMP subnetworks are matching only when they are stable, which is
# why rewinding to such a $k$ works; stability alone does not make them matching at the
# most extreme sparsities (Section 4.4). The link is about sparse subnetworks beyond trivial
# sparsity: at trivial sparsities (the paper's "Range I", Section 4.4) even randomly pruned
# subnetworks are matching, and the dense network itself, which trivially reaches its own
# accuracy, is unstable at $k = 0$ (Section 3).

# %%
pts = lambda a: f"{100 * np.mean(a):.1f}"  # noqa: E731 - a mean barrier in points
falls = ("falls", "rises", "does not clearly fall")  # verdict_word's words for a barrier that should fall
say(f"""**What this run shows** ({len(seeds)} seeds; in *italics* the verdict of each claim; a verdict marked
*fragile* flips with the CPU's kernels, so the sentence does not word it as a finding):
- The dense network's barrier is {pts(b_dense[:, i0])} points at $k = 0$ and {pts(b_dense[:, iK])} at $k = {K}$:
  it {verdict_word(c_falls, *falls)} between them (*{c_falls.stated}*), and at $k = {K}$ it is
  {verdict_word(c_dense_stable, "stable", "not stable", "not clearly stable")} (*{c_dense_stable.stated}*).
- The {density[r_claim]:.0f}% IMP ticket's barrier is {pts(b_ticket[:, i0])} points at $k = 0$ and
  {pts(b_ticket[:, iK])} at $k = {K}$. It is {verdict_word(c_ticket0, "unstable", "stable", "not clearly unstable")}
  at $k = 0$ (*{c_ticket0.stated}*), and from $k = 0$ to $k = {K}$ its barrier
  {"; ".join(f"{verdict_word(c, *falls)} at {density[r]:.0f}% (*{c.stated}*)" for r, c in c_ticket_falls.items())}.
- At $k = {K}$, random pruning's barrier is {pts(b_ctrl['random_mask'])} points and random reinit's
  {pts(b_ctrl['reinit'])}: random pruning is
  {verdict_word(c_controls['random_mask'], "less stable", "more stable", "not clearly less stable")} than the
  ticket (*{c_controls['random_mask'].stated}*), random reinit
  {verdict_word(c_controls['reinit'], "less stable", "more stable", "not clearly less stable")}
  (*{c_controls['reinit'].stated}*).
- Stability beside matching: {table.link_words()}.

The paper measured sparse instability at $k = 0$ on much larger convolutional networks (ResNet-20
and VGG-16 on CIFAR-10), which `SCALE="paper"` runs.""")

# %% [markdown]
# ## The plane through the parent and its children
#
# The error on the plane through three weight vectors: the parent at $k = 0$ and its two
# children. The dashed line is the path between the same two children whose interpolation
# the sweep measured (the first seed's dense network, spawned at $k = 0$: one of the seeds
# behind the band in the figure above), read back from the store. The axes are the
# coefficients of the two directions from the parent to each child; those directions are
# neither orthogonal nor of equal length in weight space, so the figure's right angle and
# equal sides are not distances between the networks.

# %%
res0 = sweep[0][0]
a, b = measured.children("dense", 0, 0, data, store)  # the pair whose path the sweep measured, read back
plane = loss_plane(model_for(train_settings, data), [res0.dense.weights_at[0], a.final_state, b.final_state], data,
                   resolution=PLANE_RESOLUTION[SCALE])
fig = plots.loss_contour(plane, ("parent (k=0)", "child 1", "child 2"))
plots.save_figure(fig, FIGURES_DIR, "loss_plane")
b0 = float(b_dense[0, i0])  # this seed's error barrier at k = 0 (the path above)
say("Along the dashed line the test error rises {b:.1f} points above the mean of the two children's errors, so "
    "at $k = 0$ this seed's dense network is {word} (stable: a barrier under {thr:.0f} points).",
    b=100 * b0, thr=100 * STABLE_BARRIER,
    word="stable, its children in one valley" if b0 < STABLE_BARRIER else "not stable, its children in two valleys")

# %% [markdown]
# **What to see.** This is the first seed's dense network with children spawned at $k = 0$:
# the parent is the untrained initialisation, where the error is high; both children sit in
# low-error regions. Whether those regions are one valley or two is what the colour along
# the dashed line tells, and the sentence under the figure says.
#
# ### Explore
# The slider reads the stored interpolation paths for each $k$ (it never trains or
# evaluates): the first seed's dense network and IMP ticket.

# %%
curves = {k: {"dense": measured.curve("dense", 0, k),
              measured.label("ticket", r_claim): measured.curve("ticket", r_claim, k)} for k in spawn_ks}
explorer = widgets.interpolation_explorer(curves)

# %% [markdown]
# ## Summary
#
# - The error barrier between two children measures how much SGD noise after iteration $k$
#   changes where training ends: the network's instability at $k$.
# - *Matching* (reaching the dense network's accuracy, within one standard deviation of its
#   runs) and *winning* (beating random reinitialisation) are different questions; the paper
#   ties matching to stability, one way: matching only when stable.
# - The verdict table says which of the paper's claims this scale reproduces.
# - BatchNorm networks need their statistics recomputed along the path.
#
# ## Exercises
#
# 1. Compute an error barrier by hand: the test errors along a path are
#    `[0.10, 0.14, 0.25, 0.16, 0.12]`. What is the barrier?

# %%
check("error_barrier_by_hand", None)

# %% [markdown]
# 2. Use `lthlib.experiments.lmc.error_barrier` on the train errors of the stored curves instead of the
#    test errors. Is the training set just as unstable?
# 3. Spawn the children at $k = 1000$ (add it to `spawn_ks`). Does the dense network stay stable?
