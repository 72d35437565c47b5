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
# IMP (iterative magnitude pruning, notebook 02) keeps the *large* trained weights and
# resets them to their *initial values*. Zhou, Lan, Liu & Yosinski (*Deconstructing Lottery
# Tickets: Zeros, Signs, and the Supermask*, NeurIPS 2019) took that recipe apart: which
# masks work, and what about the initial values matters? Their last finding (abstract):
# masks "that can be applied to an untrained, randomly initialized network to produce a
# model with performance far better than chance", *supermasks*. Ramanujan et al. (*What's
# Hidden in a Randomly Weighted Neural Network?*, CVPR 2020) learned such masks directly
# (edge-popup), and Malach, Yehudai, Shalev-Shwartz & Shamir (*Proving the Lottery Ticket
# Hypothesis: Pruning is All You Need*, ICML 2020) proved that "for every bounded
# distribution and every target network with bounded weights, a sufficiently
# over-parameterized neural network with random weights contains a subnetwork with roughly
# the same accuracy as the target network, without any further training" (abstract): a
# **strong** lottery ticket.
#
# **In this notebook you will**
# - score weights by Zhou et al.'s criteria and measure untrained masked networks, with
#   the kept weights at their initial values or at a *signed constant*;
# - train networks masked by two criteria from three starting points;
# - learn supermasks on frozen random weights (edge-popup and Bernoulli) and compare them
#   with IMP tickets at the same density;
# - compare, width by width, edge-popup on random weights with the same network trained
#   normally, and with a random network twice as deep (Malach et al.'s construction);
# - measure whether different methods pick the same weights (overlap against chance),
#   across densities and seeds.
#
# Every claim is tested over seeds and collected in a table at the end; the notebook closes
# with a plain answer to its question.
#
# **Time:** at `SCALE="quick"`, about 7 minutes on a 2-core CPU when notebooks 01 and 02
# have stored their dense networks and IMP tickets in `RESULTS_DIR` (they are reused; on
# its own the notebook trains them first), about 2 minutes once this notebook's own runs
# are stored too.

# %% tags=["parameters"]
SCALE = "quick"  # "smoke" | "quick" | "paper"
SEEDS = 8  # independent seeds for everything that is trained (error bands, paired claims)
UNTRAINED_SEEDS = 8  # seeds for section 1, which trains nothing after masking (cheap)
DATASET = None  # None: the scale's default ("mnist1d" for smoke/quick, "mnist" for paper)
MODEL = None  # None: the dataset's default model (an MLP with two hidden layers)
DEVICE = "auto"  # "auto": a CUDA or Apple GPU when there is one, else the CPU; or "cpu", "cuda", "mps"
RESULTS_DIR = "../results"  # stored runs are reused on re-runs
FIGURES_DIR = None  # set a folder to save every figure as PNG
CLAIMS_FILE = None  # set a file to save the checked claims as JSON (the CLI does)

# %%
# %matplotlib inline
import lthlib
from lthlib.core.store import Store
from lthlib.experiments.imp import run_imp_seeds
from lthlib.masks import overlap
from lthlib.methods.supermask import CRITERION_LABELS, RESET_LABELS, bernoulli_for_scale
from lthlib.report import plots, widgets
from lthlib.report.claims import Claims, say, spread
from lthlib.report.exercises import check
from lthlib.report.glossary import define
from lthlib.settings import check_parameters, seeds_for
from lthlib.experiments.supermask_results import (SupermaskResults, WidthResults, criterion_study, dense_accuracy, overlap_study,
                                      plain_answer, summary_values, ticket_accuracy, untrained_study)
from lthlib.experiments.supermask_study import (DEPTH_2L_HIDDEN, DEPTH_L_HIDDEN, WIDTH_STUDY_DENSITY, ZHOU_CLAIM_DENSITY,
                                    WIDTHS, ZHOU_CRITERIA, ZHOU_DENSITIES, ZHOU_STARTS, dense_by_seed,
                                    learn_supermasks, mean_round_density, strong_ticket_study, ticket_settings)
from lthlib.engine.training import data_for

# %%
check_parameters(SCALE=SCALE, SEEDS=SEEDS, UNTRAINED_SEEDS=UNTRAINED_SEEDS, RESULTS_DIR=RESULTS_DIR)  # a clear error for a bad -p value
train_settings = lthlib.for_scale(SCALE, model=MODEL, dataset=DATASET)
store = Store(RESULTS_DIR)
seeds = list(range(seeds_for(SCALE, SEEDS)))  # smoke: two
untrained_seeds = list(range(max(len(seeds), seeds_for(SCALE, UNTRAINED_SEEDS))))
data = data_for(train_settings, device=DEVICE)  # moved to the device once; models follow it
chance = 1 / data.num_classes
claims = Claims("04", SCALE, CLAIMS_FILE)
judged = SCALE != "smoke"  # smoke-scale numbers mean nothing: no claim is judged there

# IMP tickets (notebook 02's algorithm, at most three rounds) and the dense networks they
# come from: every section builds on them
imp = dict(zip(seeds, run_imp_seeds(ticket_settings(SCALE, train_settings), seeds, data, store=store)))
dense = dense_by_seed(train_settings, data, untrained_seeds, store)
dense_acc = dense_accuracy(dense, seeds)  # one value per seed
say("The dense network (`{model}` on `{dataset}`): test accuracy at early stopping {acc} (mean and min-max over "
    "{n} seeds).",
    model=train_settings.model, dataset=train_settings.dataset, acc=spread(dense_acc), n=len(seeds))

# %% [markdown]
# The words this notebook uses, as the papers define them:

# %%
_ = define("supermask", "strong ticket", "density")

# %% [markdown]
# ## 1. Masks as training: untrained networks under each criterion
#
# Each criterion scores a weight from its initial value $w_i$ and its value after dense
# training $w_f$, and keeps the top fraction in every layer:
#
# | criterion | score (kept if high) |
# |---|---|
# | large final | $\lvert w_f\rvert$ (what IMP uses) |
# | small final | $-\lvert w_f\rvert$ |
# | large init | $\lvert w_i\rvert$ |
# | large init, large final | kept if in the top of both $\lvert w_i\rvert$ and $\lvert w_f\rvert$ (the lower of its two ranks, as the authors' code keeps the largest "quadrant") |
# | magnitude increase | $\lvert w_f\rvert - \lvert w_i\rvert$ |
# | movement | $\lvert w_f - w_i\rvert$ |
# | large final, same sign | $\lvert w_f\rvert$ among weights whose sign did not change |
# | random | uniform noise from its own random stream (a control) |
#
# The kept weights then start **at their initial values** or at a **signed constant**
# $\operatorname{sign}(w_i)\cdot\sigma_\text{layer}$, where $\sigma_\text{layer}$ is the
# standard deviation of the layer's initial weights. Nothing is trained after masking: we
# evaluate the masked random network as it is. At a density of 100% every mask keeps
# everything, so all curves of a panel end at one point: the unmasked network, with its
# initial values (left) or with every weight at its signed constant (right).
#
# The random mask is the control: its scores come from a random stream of their own
# (`lthlib.core.streams`), unrelated to the stream that drew the weights, so it keeps a weight
# whatever its sign or size.

# %%
criteria, densities, starts = list(ZHOU_CRITERIA), list(ZHOU_DENSITIES), list(ZHOU_STARTS)
untrained = untrained_study(train_settings, data, dense, untrained_seeds, criteria, starts, densities)
# untrained.at(criterion, start, density): one value per seed

# %%
fig = plots.criteria_panels(densities, untrained.panels(), "test accuracy, untrained", chance=chance)
plots.save_figure(fig, FIGURES_DIR, "criteria_untrained")

# %% [markdown]
# **What the paper reports.** Zhou et al.'s abstract: supermasks give an untrained,
# randomly initialised network "performance far better than chance (86% on MNIST, 41% on
# CIFAR-10)", where chance is 10%. The abstract does not say which mask and which starting
# values give these numbers (the paper's body, not read here, does). The criterion built
# for supermasks keeps large final weights *whose sign did not change* in training
# (`large_final_same_sign` in the authors' `get_weight_init.py`).
#
# **What to see here** (rendered from this run; the claims are checked at one density,
# fixed before the run, the density section 2 trains at):

# %%
d_claim = ZHOU_CLAIM_DENSITY
c_same_sign = claims.paired(
    f"Untrained, a mask of large final weights that kept their sign beats a random mask "
    f"({d_claim:.0%} of weights, initial values)",
    better=untrained.at("large_final_same_sign", "init", d_claim), worse=untrained.at("random", "init", d_claim),
    unit="")
c_zhou = claims.check(
    f"Zhou et al.: a supermask makes an untrained network better than chance (large final, same sign; "
    f"{d_claim:.0%} of weights; initial values)",
    untrained.at("large_final_same_sign", "init", d_claim) - chance, role="paper",
    paper="Zhou et al. 2019, abstract: supermasks give untrained networks \"performance far better than chance "
          "(86% on MNIST, 41% on CIFAR-10)\" (chance: 10%)")
say("- Chance is {chance:.2f}. At {d:.0%} of the weights, the criterion with the highest mean is *{b0}* with the "
    "initial values ({a0}), and *{b1}* with signed constants ({a1}); mean (min-max) over {n} seeds. Over all "
    "densities below 100%, the highest points of the two panels: {peak0} and {peak1}.\n"
    "- Large final weights that kept their sign: {lfss} with the initial values, against {rnd} for the random "
    "mask. Claim \"beats a random mask\": {v1}. Claim \"better than chance\" (Zhou et al.): {v2}.\n"
    "- The random mask is {rnd_word} chance: with its own random stream it keeps weights of both signs, so "
    "it is just a thinner random network.\n"
    "- The trained dense network reaches {dense}; MNIST-1D is much harder for an MLP than MNIST, so no "
    "untrained number here should be read against the paper's 86%.",
    **untrained.claim_values(d_claim, chance, c_same_sign, c_zhou, dense_acc, judged))

# %% [markdown]
# ### Signs or values? The signed constant, criterion by criterion
#
# Zhou et al.'s abstract says "signs are all you need to make the re-initialized network
# train": a statement about *training*. Does something like it hold before any training? If
# only the **signs** of the kept weights mattered, replacing each by a constant of the same
# sign would not change the untrained accuracy. The figure shows, for each criterion at the
# three largest densities below 100%, the per-seed difference *signed constant minus
# initial values* in untrained accuracy, its mean and its two-sided 95% t-interval over
# seeds (for scale). The words under it follow an exact sign-flip test of each
# criterion-density pair (it compares the mean difference with the means of every way of
# flipping the signs of the per-seed differences) at 5% on each side, uncorrected across
# the pairs: helped, hurt, or this run cannot tell.

# %%
sign_densities = [d for d in densities if d < 1.0][-3:]
fig = plots.paired_differences(untrained.sign_effects(sign_densities),
                               "test accuracy, untrained: signed constant minus initial values",
                               f"does a signed constant lose anything? ({len(untrained_seeds)} seeds)")
plots.save_figure(fig, FIGURES_DIR, "signed_constant_effect")

# %%
sign = untrained.sign_verdicts(sign_densities, judged)  # each pair: helped, hurt or cannot tell
say("**What to see.** Setting the kept weights to a signed constant *helped* the untrained network for: "
    "{helped}. It *hurt* for: {hurt}. For the other {n_unclear} of the {n} criterion-density pairs the test cannot "
    "tell either way. {conclusion}", **sign)

# %% [markdown]
# ## 2. Criteria, then training: which starting values matter?
#
# Now mask by a criterion at a fixed density, start the kept weights at their initial
# values, at the signed constant, or at fresh random values (*reinit*, drawn from the
# `reinit` random stream), and train. Two criteria: large final (IMP's criterion, in one
# shot) and the random mask. For the random mask the signed constant is left out (to save
# time): the question there is only whether the initial values matter at all.
#
# **What the paper reports.** Zhou et al.'s abstract recalls that Frankle & Carbin's
# sparse networks are "trainable from scratch, but only when starting from the same initial
# weights" (Frankle & Carbin 2019, Section 2, the random-reinitialisation control), and
# says that "signs are all you need to make the re-initialized network train": a new start
# that keeps the initial signs, such as the signed constant, trains. Their experiments prune
# iteratively (the authors' `print_train_lottery_iterative_command.sh`); here the mask is
# taken in one shot.

# %%
train_criteria = {"large_final": ["init", "signed_constant", "reinit"], "random": ["init", "reinit"]}
trained = criterion_study(train_settings, data, [dense[s] for s in seeds], train_criteria, d_claim, store)
# trained.acc(criterion, reset): one value per seed
fig = plots.grouped_bars({f"{CRITERION_LABELS[c]} mask": {f"kept weights at {RESET_LABELS[r]}": trained.acc(c, r)
                                                          for r in resets}
                          for c, resets in train_criteria.items()},
                         "test accuracy at early stopping",
                         f"masked at {d_claim:.0%} of the weights, then trained",
                         reference=dense_acc, reference_label="dense network, trained")
plots.save_figure(fig, FIGURES_DIR, "criteria_trained")

# %%
c_reinit = claims.paired(f"Zhou et al.: a large-final mask trains better from its initial values than from "
                         f"fresh random values ({d_claim:.0%} of weights)",
                         better=trained.acc("large_final", "init"), worse=trained.acc("large_final", "reinit"),
                         role="paper", paper="Zhou et al. 2019, abstract (of Frankle & Carbin 2019): trainable "
                                             "\"only when starting from the same initial weights\"")
c_signs = claims.paired(f"Zhou et al.: a signed constant trains as well as the initial values (large-final mask, "
                        f"{d_claim:.0%} of weights; not worse by more than 1 point)",
                        better=trained.acc("large_final", "signed_constant"),
                        worse=trained.acc("large_final", "init"), margin=-0.01, role="paper",
                        paper="Zhou et al. 2019, abstract: \"signs are all you need to make the re-initialized "
                              "network train\"")
say("**What to see.** With the large-final mask, training from the initial values reached {init}, from the "
    "signed constant {sc} and from fresh random values {reinit} (mean and min-max over {n} seeds). Claim "
    "\"initial values beat a reinitialisation\" (Zhou et al.): {v_reinit}. Claim \"the signed constant is within one point of "
    "the initial values\" (Zhou et al.): {v_signs}{disagree}. For the random mask, the initial values gave "
    "{r_init} against {r_reinit} from fresh values: the initial values {r_word} (a random mask was not found "
    "from these weights, so one expects nothing for their values to fit).",
    **trained.claim_values(c_reinit, c_signs, judged))

# %% [markdown]
# ## 3. Learned supermasks vs IMP tickets
#
# **Edge-popup** (Ramanujan et al.) keeps, in every layer, the top fraction of a learned
# score $s$; the weights never change. The forward pass uses $w \odot m(s)$ and the
# gradient of the loss with respect to the mask is passed *straight through* to the score
# (their Figure 2: the scores of all edges are updated, so an edge left out can come back).
# **Bernoulli masks** (Zhou et al.; the authors' `masked_networks.py`) sample
# $m \sim \text{Bernoulli}(\sigma(s))$ instead, where $\sigma(s) = 1/(1 + e^{-s})$ is the
# logistic sigmoid (not the standard deviation of section 1); the number of kept weights is
# not fixed, so training can move it. Here the scores start with an expected density of
# 50%, and the evaluated mask keeps the weights with $\sigma(s) > 0.5$. The frozen weights
# are random signed constants $\pm\sqrt{2/\text{fan-in}}$, Ramanujan et al.'s *signed
# Kaiming constant*: in the authors' README table (ResNets on ImageNet, 30% of the weights
# kept) it gives a higher accuracy than Kaiming-normal weights for every network listed.
# (At `SCALE="paper"` the Bernoulli masks follow Zhou et al.'s code instead: every score
# starts at an expected density of 50%, the mask is sampled afresh at every evaluation, and
# the network's own initial weights are the frozen ones.)
#
# Both are compared with the IMP tickets of notebook 02 (whose weights *are* trained) at
# the same density, on the same architecture.

# %%
rounds = sorted({1, len(imp[seeds[0]].rounds)})
compare_density = mean_round_density(imp, rounds)  # {round: fraction of weights kept}
bern_start = 0.5  # the expected density the Bernoulli scores start at
supermasks = SupermaskResults(learn_supermasks(train_settings, data, seeds,
                                               {"edge_popup": list(compare_density.values()),
                                                "bernoulli": [bern_start]},
                                               store, bernoulli=bernoulli_for_scale(SCALE)),  # Zhou's at paper scale
                              seeds)  # supermasks.acc(method, density): one value per seed
ticket_acc = ticket_accuracy(imp, rounds)  # {round: one value per seed}

# %%
fig = plots.grouped_bars(supermasks.bars(ticket_acc, compare_density, bern_start),
                         "test accuracy at early stopping",
                         "masks learned on frozen random weights vs trained IMP tickets",
                         reference=dense_acc, reference_label="dense network, trained")
plots.save_figure(fig, FIGURES_DIR, "supermasks_vs_tickets")

# %%
c_ticket = {r: claims.paired(f"At the dense network's width, an IMP ticket beats edge-popup on frozen random "
                             f"weights at {d:.0%} of the weights", better=ticket_acc[r],
                             worse=supermasks.acc("edge_popup", d))
            for r, d in compare_density.items()}
d_sparse = compare_density[rounds[-1]]
c_popup = claims.check(f"Edge-popup on frozen random weights is more than 20 points above chance "
                       f"({d_sparse:.0%} of weights)", supermasks.acc("edge_popup", d_sparse) - chance,
                       threshold=0.2)
say("**What to see.** A mask learned on weights that are never trained reached {ep} at {d:.0%} of the weights, "
    "against chance {chance:.2f} (claim \"more than 20 points above chance\": {v_popup}).{training} The IMP "
    "ticket at the same density, whose weights are trained, reached {tk} (claim \"beats edge-popup\": "
    "{v_ticket}). The Bernoulli masks started at an expected density of {b0:.0%} and ended at {bd} of the "
    "weights: the density {b_word}; their accuracy was {ba}. One starting point cannot show that Bernoulli masks "
    "*find* a density: that takes masks started at different densities ending at the same one (exercise 4).",
    **supermasks.claim_values(c_popup, c_ticket[rounds[-1]], ticket_acc[rounds[-1]], d_sparse, chance,
                              bern_start, judged))

# %% [markdown]
# ## 4. Strong tickets: how wide must the random network be?
#
# **The theorem** (Malach, Yehudai, Shalev-Shwartz & Shamir 2020). Their abstract: "for
# every bounded distribution and every target network with bounded weights, a sufficiently
# over-parameterized neural network with random weights contains a subnetwork with roughly
# the same accuracy as the target network, without any further training". Their
# introduction: "a ReLU network of arbitrary depth $l$ can be approximated by finding a
# *weight-subnetwork* of a random network of depth $2l$ and sufficient width" (a
# weight-subnetwork removes single weights; no weight of the random network is changed).
# How much wider: by a polynomial factor, which Pensia et al. (2020, abstract) read as
# $O(d^4 l^2)$ for a target of width $d$ and depth $l$ (below, $L$).
#
# **Empirically** (Ramanujan et al., abstract): "as randomly weighted neural networks with
# fixed weights grow wider and deeper, an 'untrained subnetwork' approaches a network with
# learned weights in accuracy"; a randomly weighted Wide ResNet-50 contains a subnetwork
# that is "smaller than, but matches the performance of a ResNet-34 trained on ImageNet".
# Their Figure 3 (deeper networks on CIFAR-10) finds subnetworks "that perform as well as
# the dense original network when trained".
#
# **What this notebook can test**, on MLPs with hidden layers of width $w$ (the MNIST-1D
# MLP has $L = 3$ layers, two of them hidden; depth $2L = 6$ means five hidden layers):
# - at each width, edge-popup on random weights against **the same architecture trained
#   normally** (depth $L$): does the gap close as the width grows?
# - a random network of depth $2L$, as Malach et al. construct it: does edge-popup find in
#   the widest one a subnetwork as accurate as the **narrowest trained** depth-$L$ network
#   (the target it is many times wider than)?
#
# **What it cannot test**: the theorem is about *existence*; edge-popup is a heuristic
# search, so failing to find a good subnetwork does not refute it. Its width factor grows
# polynomially with the target's size, far beyond the widths a laptop can run; and it is
# about approximating a given target network, while we compare test accuracy.

# %%
widths = list(WIDTHS[SCALE])
hidden_L, hidden_2L = DEPTH_L_HIDDEN, DEPTH_2L_HIDDEN  # hidden layers of a depth-L (3 layers), depth-2L (6) MLP
strong = WidthResults(strong_ticket_study(train_settings, data, widths, seeds, store, trained_layers=(hidden_L,),
                                          random_layers=(hidden_L, hidden_2L), density=WIDTH_STUDY_DENSITY),
                      widths, seeds)  # strong.acc(method, hidden layers): seeds x widths
trained_L, popup_L, popup_2L = strong.acc("trained", hidden_L), strong.acc("edge_popup", hidden_L), \
    strong.acc("edge_popup", hidden_2L)

# %%
fig = plots.seed_bands(widths, {"trained normally, depth L (2 hidden layers)": trained_L,
                                "edge-popup on random weights, depth L": popup_L,
                                "edge-popup on random weights, depth 2L (5 hidden layers)": popup_2L},
                       "width of every hidden layer (log scale)", "test accuracy at early stopping",
                       "strong tickets against trained networks, width by width\n"
                       "(edge-popup keeps 50% of the weights; the trained networks are dense)",
                       references={"chance": chance}, logx=True,
                       styles={"trained normally, depth L (2 hidden layers)": {"color": "k"}})
plots.save_figure(fig, FIGURES_DIR, "strong_tickets_width")

# %%
gap = trained_L - popup_L  # seeds x widths
c_width = claims.paired(f"Edge-popup accuracy grows with the width of the random network "
                        f"(depth L: width {widths[-1]} vs {widths[0]})", better=popup_L[:, -1], worse=popup_L[:, 0])
c_gap = claims.paired(f"Ramanujan et al.: the gap between a trained network and edge-popup on the same random "
                      f"architecture narrows with width (width {widths[0]} vs {widths[-1]})",
                      better=gap[:, 0], worse=gap[:, -1], role="paper",
                      paper="Ramanujan et al. 2020, abstract: untrained subnetworks approach networks with learned "
                            "weights as the random networks grow wider and deeper")
c_match = claims.paired(f"Ramanujan et al.: at width {widths[-1]}, edge-popup on random weights matches the same "
                        f"network trained (not worse by more than 1 point)", better=popup_L[:, -1],
                        worse=trained_L[:, -1], margin=-0.01, role="paper",
                        paper="Ramanujan et al. 2020: subnetworks \"that perform as well as the dense original "
                              "network when trained\" (Figure 3, deeper networks on CIFAR-10); a random Wide "
                              "ResNet-50 hides one that matches a trained ResNet-34 on ImageNet (abstract)")

# %%
c_malach = claims.paired(f"Malach et al.: a random depth-2L network {widths[-1] // widths[0]}x wider contains a "
                         f"subnetwork (found by edge-popup) as accurate as the trained depth-L network of width "
                         f"{widths[0]} (not worse by more than 1 point)", better=popup_2L[:, -1],
                         worse=trained_L[:, 0], margin=-0.01, role="paper",
                         paper="Malach et al. 2020 (abstract, introduction): a sufficiently wide random network "
                               "of depth 2L contains a subnetwork with roughly the same accuracy as a target of "
                               "depth L (existence, not a search method)")
c_depth_l = claims.paired(f"a random depth-L network {widths[-1] // widths[0]}x wider also contains a subnetwork "
                          f"(found by edge-popup) as accurate as the trained depth-L network of width {widths[0]} "
                          "(not worse by more than 1 point): the control for the depth-2L claim",
                          better=popup_L[:, -1], worse=trained_L[:, 0], margin=-0.01, role="diagnostic")

# %%
say("**What to see.** Mean test accuracy per width {widths} (over {n} seeds):\n\n"
    "| network | {header} |\n|---|{rule}\n"
    "| trained normally, depth L | {t} |\n| edge-popup, depth L | {p} |\n| edge-popup, depth 2L | {p2} |\n\n"
    "- Claim \"edge-popup accuracy grows with width\": {v_width}. The gap to the trained network of the same "
    "width went from {g0:.3f} at width {w0} to {g1:.3f} at width {w1}. Ramanujan et al.'s claims at this scale: "
    "the gap narrows with width, {v_gap}; it closes (within one point) at the widest, {v_match}.{disagree}\n"
    "- The twice-as-deep random network at width {w1} reached {p2w} against {t0} for the trained depth-L "
    "network of width {w0}, which it is {ratio}x wider than: Malach et al.'s consequence, with edge-popup as "
    "the search, {v_malach} at this scale. At the widest, depth 2L did {deep_word} than depth L ({p2w} against "
    "{p1w}).{depth_note}",
    **strong.claim_values(c_width, c_gap, c_match, c_malach, c_depth_l, judged))

# %% [markdown]
# ## 5. Are the subnetworks the same?
#
# The intersection over union (IoU) of two masks is $|a \cap b| / |a \cup b|$. Two random
# masks with the same per-layer densities also share weights by chance, so we report
# **IoU minus the IoU expected by chance** (from the kept counts of each layer): zero means
# "no more alike than random masks", above zero means the two methods pick the same weights
# more often than chance. For each IMP ticket (every round, every seed) we compare it with
# - the **largest initial weights** (large init) at the ticket's per-layer densities;
# - an **edge-popup** supermask learned on the ticket's *own* initial weights at the same
#   overall density;
# - the **IMP ticket of another seed** (other initial weights) at the same round;
# - a **random mask** at the ticket's densities: a control that should sit at zero.

# %%
masks_vs = overlap_study(train_settings, data, imp, dense, store)  # every IMP round, and edge-popup on its init
# masks_vs.tickets[(seed, round)]; masks_vs.mask(kind, seed, round): "large_init", "edge_popup", "random" or
# "other_seed" (the next seed's ticket), at the ticket's densities
overlap_rounds, round_density = masks_vs.rounds, masks_vs.round_density
excess = masks_vs.excess()  # {comparison: seeds x rounds} of IoU minus the IoU expected by chance

# %%
fig = plots.seed_bands([100 * round_density[r] for r in overlap_rounds], excess,
                       "percent of weights kept (IMP rounds, log scale)", "IoU minus IoU expected by chance",
                       "how much each mask shares with the IMP ticket, beyond chance",
                       references={"chance (independent random masks)": 0.0}, logx=True)
fig.axes[0].invert_xaxis()  # sparser to the right, as IMP proceeds
plots.save_figure(fig, FIGURES_DIR, "mask_overlap_vs_chance")

# %%
r_last = overlap_rounds[-1]
c_large_init = claims.check(f"An IMP ticket shares more weights with the largest initial weights than chance "
                            f"({round_density[r_last]:.0%} of weights)",
                            excess["largest initial weights (large init)"][:, -1])
c_popup_overlap = claims.check(f"An edge-popup mask on the ticket's own initial weights shares more weights with "
                               f"the ticket than chance ({round_density[r_last]:.0%} of weights)",
                               excess["edge-popup on the ticket's initial weights"][:, -1])
say("**What to see** (at {d:.0%} of the weights, the sparsest round; IoU minus chance, mean and min-max over "
    "{n} seeds; each line's word follows its own sign-flip test at 5% on each side):\n\n{rows}\n\n"
    "Claim \"the ticket overlaps the largest initial weights more than chance\": {v1}{predictable}. Claim \"an "
    "edge-popup mask on the same initial weights overlaps it more than chance\": {v2}. {control}",
    **masks_vs.claim_values(excess, c_large_init, c_popup_overlap, judged))

# %% [markdown]
# The overlap above is summed over all layers. Per layer it can differ: below, the IMP
# tickets of two seeds at the sparsest round. Their initial weights are unrelated, so any
# overlap beyond chance can only come from what the two runs share: the data, the
# architecture and the training recipe (for instance input positions that matter to every
# network).

# %%
if len(seeds) > 1:
    pair = overlap(masks_vs.tickets[(seeds[0], r_last)], masks_vs.tickets[(seeds[1], r_last)])
    fig = plots.overlap_bars(pair, f"IMP tickets of seeds {seeds[0]} and {seeds[1]}, "
                                   f"{round_density[r_last]:.0%} of weights kept")
else:
    fig = plots.overlap_bars(overlap(masks_vs.tickets[(seeds[0], r_last)],
                                     masks_vs.mask("random", seeds[0], r_last)), "IMP ticket vs a random mask")
plots.save_figure(fig, FIGURES_DIR, "mask_overlap_layers")

# %%
if len(seeds) > 1:
    say("In the first hidden layer, which sees the input, tickets of different seeds overlap by {x} beyond chance "
        "(IoU minus chance, mean and min-max over {n} pairs: each seed with the next, so each ticket is in two "
        "pairs and the test is only a guide): {word}.", **masks_vs.first_layer_values(judged))

# %% [markdown]
# ### Explore: any two stored masks
# Pick two masks (IMP rounds, edge-popup on the same initial weights, the largest initial
# weights, random masks, tickets of other seeds) and see their overlap per layer against
# chance. The dropdowns only read masks computed above; nothing is trained.

# %%
masks = {}
for s in seeds[:2]:
    for r in overlap_rounds:
        pct = f"{round_density[r]:.0%} kept, seed {s}"
        masks[f"IMP ticket, {pct}"] = masks_vs.tickets[(s, r)]
        masks[f"edge-popup on the same initial weights, {pct}"] = masks_vs.mask("edge_popup", s, r)
        masks[f"largest initial weights, {pct}"] = masks_vs.mask("large_init", s, r)
        masks[f"random mask, {pct}"] = masks_vs.mask("random", s, r)
explorer = widgets.overlap_explorer(masks)

# %% [markdown]
# ## Claims of this notebook, checked
#
# Each claim tests one value per seed: a paired difference (the same seeds on both sides)
# or a value against a threshold. The evidence is the mean, the seeds on the claimed side
# and an exact sign-flip test against the claim's level (see the note under the table).
# *Headline* claims are what this notebook teaches at this scale; *the paper's claim, at
# this scale* rows test a published result here and are reported whatever their verdict.

# %%
claims.show()

# %% [markdown]
# ## Summary

# %%
say("- **Masks without training.** Untrained, a mask of large final weights that kept their sign {s1} a random "
    "mask (claim: {v1}). A signed constant instead of the initial values, untrained: {conclusion}\n"
    "- **Masks, then training.** A large-final mask {s2} from its initial values than from fresh random values "
    "(Zhou et al.'s claim: {v2}); a signed constant {s3} the initial values within one point (Zhou et al.'s claim: "
    "{v3}).\n"
    "- **Learned supermasks** on frozen random weights {s4} more than 20 points above chance (claim: {v4}); at the "
    "dense network's width, a trained IMP ticket at the same density {s5} edge-popup (claim: {v5}).\n"
    "- **Strong tickets.** Edge-popup {s6} with width (claim: {v6}); the gap to training the same network {s7} with "
    "width (Ramanujan et al.'s claim that it narrows: {v7}) and {s8} at the widest (their claim that it closes "
    "within one point: {v8}). Malach et al.'s depth-2L consequence, searched for with edge-popup: {v9}. The "
    "theorem itself (existence, polynomial width) is beyond what a laptop can test.\n"
    "- **Overlap.** IMP tickets {s10} the largest initial weights (claim: {v10}) and {s11} an edge-popup mask on "
    "the same initial weights (claim: {v11}).",
    **summary_values(sign["conclusion"], same_sign=c_same_sign, reinit=c_reinit, signs=c_signs, popup=c_popup,
                     ticket=c_ticket[rounds[-1]], width=c_width, gap=c_gap, match=c_match, malach=c_malach,
                     large_init=c_large_init, popup_overlap=c_popup_overlap))

# %%
say(plain_answer(popup=c_popup, same_sign=c_same_sign, ticket=c_ticket[rounds[-1]], match=c_match, malach=c_malach))

# %% [markdown]
# ## Exercises
#
# 1. Two independent random masks each keep 20% of a layer. What IoU do you expect?
#    (Follow one weight: how likely is it kept by both masks, and by at least one?)

# %%
check("chance_iou_two_20_percent_masks", None)

# %% [markdown]
# 2. In your own copy of `lthlib/methods/supermask.py`, add `"small_init"` (score
#    $-\lvert w_i\rvert$) to `MASK_CRITERIA` (one `Criterion`: name, label, score), and
#    re-run section 1 with it in `criteria`. Where does it land?
# 3. Re-run section 4 with `weights="kaiming_normal"` in `strong_ticket_study` instead of
#    signed constants. Which random weights hide better subnetworks?
# 4. Section 3's Bernoulli masks started at an expected density of 50%. Start them at 20%
#    and at 80% (`learn_supermasks(..., {"bernoulli": [0.2, 0.8]})`): do they end at the
#    same density? What would "Bernoulli masks learn the density" have to mean?
