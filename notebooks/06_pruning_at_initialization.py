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
# # 06 · Pruning at initialisation: a ticket without dense training?
#
# IMP finds its tickets by training the dense network first, often many times over. The
# obvious question: can the mask be chosen **before any training**, from the initial
# weights and at most one batch of data, so that only the sparse network is ever trained?
# Three well-known methods try. Each scores every weight and keeps the highest scores over
# the whole network (one ranking across layers):
#
# - **SNIP** (Lee et al. 2019): the *connection sensitivity* $|g \odot w|$, where $g$ is the
#   gradient of the loss on one minibatch with respect to the weights $w$: how much the
#   loss changes, to first order, when a weight is removed;
# - **GraSP** (Wang et al. 2020): keep the weights whose removal least reduces the
#   *gradient flow* (the squared norm of $g$), scored with the Hessian-gradient product
#   $w \odot Hg$ ($H$: the Hessian of the loss on one minibatch);
# - **SynFlow** (Tanaka et al. 2020): no data at all. Make every weight positive, feed an
#   input of all ones, and let $R$ be the sum of the outputs (the *synaptic flow*); score
#   $|w \odot \partial R / \partial w|$, prune a little, re-score, 100 rounds in all. The
#   rounds are what keep it from emptying a layer (*layer collapse*, section 5).
#
# Frankle, Dziugaite, Roy & Carbin 2021 (*Pruning Neural Networks at Initialization: Why
# are We Missing the Mark?*, ICLR 2021) assessed these methods, and magnitude pruning at
# initialisation. In their abstract: "Although these methods surpass the trivial baseline
# of random pruning, they remain below the accuracy of magnitude pruning after training",
# and "unlike pruning after training, accuracy is the same or higher when randomly
# shuffling which weights these methods prune within each layer or sampling new initial
# values": the methods' "per-weight pruning decisions ... can be replaced by a per-layer
# choice of the fraction of weights to prune". Here the pruning after training is IMP with
# rewinding (notebook 03).
#
# **In this notebook you will**
# - see which layers each method prunes (the per-layer densities it picks);
# - train every method's network at the densities of notebook 02's IMP rounds, against the
#   IMP ticket and IMP with rewinding, on the same seeds and initial weights;
# - run the paper's sanity checks (shuffle, reinitialise, invert) and read them as checks;
# - find at which density one-shot methods empty a layer, and whether SynFlow's rounds avoid it;
# - measure whether PaI masks and IMP masks pick the same weights.
#
# **Time:** `SCALE="quick"` (the MNIST-1D MLP, 8 seeds, notebook 02's IMP runs reused from
# the store) takes a few minutes on a 2-core laptop CPU; `"smoke"` seconds; `"paper"`
# ResNet-20 on CIFAR-10 with the published schedule (needs CIFAR-10 on disk and a GPU).

# %% tags=["parameters"]
SCALE = "quick"  # "smoke" | "quick" | "paper"
SEEDS = 8  # seeds (initial weights and data order), shared with notebook 02's IMP runs
DATASET = None  # None: the scale's default ("mnist1d" for smoke/quick, "cifar10" for paper)
MODEL = None  # None: the scale's network (paper: ResNet-20, as Frankle et al. 2021), else the dataset's default
DEVICE = "auto"  # "auto": a CUDA or Apple GPU when there is one, else the CPU; or "cpu", "cuda", "mps"
RESULTS_DIR = "../results"  # every run is stored here and reused (notebook 02's IMP runs too)
FIGURES_DIR = None  # set a folder to save every figure as PNG
CLAIMS_FILE = None  # set a path to save the checked claims as JSON (the CLI does)

# %%
# %matplotlib inline
import lthlib
from lthlib.core.store import Store
from lthlib.engine.training import data_for, model_for, reading_words
from lthlib.experiments import pai_study as study
from lthlib.experiments.imp import imp_for_scale, kind_color, kind_label
from lthlib.methods.pai import METHOD_COLORS, METHOD_LABELS, layer_collapse, pai_mask, pai_scores
from lthlib.models.networks import prunable_parameters
from lthlib.report import plots
from lthlib.report.claims import Claims, claims_markdown, say, spread
from lthlib.report.glossary import define
from lthlib.settings import check_parameters, seeds_for

check_parameters(SCALE=SCALE, SEEDS=SEEDS, RESULTS_DIR=RESULTS_DIR)  # a clear error for a bad -p value
experiment = study.pai_for_scale(SCALE)
train_settings = lthlib.for_scale(SCALE, model=MODEL, dataset=DATASET, default_model=experiment.model)
reading = reading_words(train_settings)  # where runs are read: early stopping, or the end of training
imp_settings = imp_for_scale(SCALE, train_settings)  # notebook 02's IMP: its runs come from the store
scored = [m for m in study.PAI_SCORED if m in experiment.methods]  # SNIP, GraSP, SynFlow
store = Store(RESULTS_DIR)
seeds = list(range(seeds_for(SCALE, SEEDS)))  # smoke: two
data = data_for(train_settings, device=DEVICE)  # moved to the device once; models follow it
experiment

# %% [markdown]
# Words this chapter uses (`lthlib.report.glossary`):

# %%
_ = define("pruning at initialisation", "density", "ticket", "rewinding", "random pruning",
           "random reinitialisation", "ERK", "layer collapse")

# %% [markdown]
# ## 1. The IMP runs to compare with
#
# The comparison is at **matched densities and matched seeds**: every method prunes seed
# $s$'s initial weights to the density of one of IMP's rounds, and is compared with the
# IMP ticket of the same seed (same initial weights, same data order). IMP comes twice:
# as the original lottery ticket (rewound to iteration 0, notebook 02) and with
# **rewinding** to an early iteration $k$ (notebook 03), our stand-in for the paper's
# "magnitude pruning after training". The IMP ticket's `random_mask` control is its own mask
# shuffled within layers, and its `reinit` control its mask on fresh weights: the same
# sanity checks, applied to IMP.

# %%
imp_results, rewound = study.imp_runs(imp_settings, experiment, seeds, data, store)
rounds = list(experiment.rounds)
densities = study.round_densities(imp_results, rounds)
say("Compared at {n} densities, the IMP rounds {rounds}: {pcts} of the weights remaining "
    "(layerwise IMP; every PaI method prunes to the same overall density). IMP with rewinding "
    "rewinds to iteration k = {k} of {T:,}.",
    n=len(rounds), rounds=rounds, pcts=", ".join(f"{100 * d:.1f}%" for d in densities),
    k=experiment.rewind_iteration, T=train_settings.iterations)

# %% [markdown]
# ## 2. What each method keeps, layer by layer
#
# Before any training: each method's mask of seed 0's initial weights at the sparsest
# density compared. SNIP, GraSP, SynFlow and magnitude rank all layers together, so they
# choose how dense each layer stays; the random baselines are told: `random` keeps the same
# density in every layer, `random_erk` the ERK densities (glossary above), denser for small
# layers. The IMP ticket's rates are fixed per layer (notebook 02).

# %%
init_model = model_for(train_settings.replace(seed=seeds[0]), data)
prunable = prunable_parameters(init_model)
layers = list(prunable)
words = plots.layer_labels(layers, [p.shape for p in prunable.values()])  # one word per layer
word_of = dict(zip(layers, words))
sparsest = densities[-1]
masks0 = {METHOD_LABELS[m]: pai_mask(m, init_model, data, sparsest, seed=seeds[0]) for m in experiment.methods}
masks0[kind_label("ticket")] = imp_results[0].rounds[rounds[-1] - 1].mask
colors = {**{METHOD_LABELS[m]: METHOD_COLORS[m] for m in experiment.methods}, kind_label("ticket"): kind_color("ticket")}
by_layer = {word_of[n]: {k: [mask.layer_density()[n]] for k, mask in masks0.items()} for n in layers}
fig = plots.grouped_bars(by_layer, "fraction of the layer's weights kept", colors=colors,
                         legend_title="one mask each (seed 0)",
                         title=f"Per-layer density of each mask at {100 * sparsest:.1f}% overall")
plots.save_figure(fig, FIGURES_DIR, "per_layer_density")

# %%
density_of = {k: mask.layer_density() for k, mask in masks0.items() if k != kind_label("ticket")}
emptied = {k: [word_of[n] for n in layer_collapse(mask)] for k, mask in masks0.items()}
say("**What to see.** At {d:.1f}% overall, the masks chosen at initialisation keep between {lo:.1%} and "
    "{hi:.1%} of the first layer and between {lo2:.1%} and {hi2:.1%} of the output layer; the IMP "
    "ticket keeps {imp_first:.1%} and {imp_last:.1%}. {collapse}",
    d=100 * sparsest, lo=min(v[layers[0]] for v in density_of.values()),
    hi=max(v[layers[0]] for v in density_of.values()), lo2=min(v[layers[-1]] for v in density_of.values()),
    hi2=max(v[layers[-1]] for v in density_of.values()),
    imp_first=masks0[kind_label("ticket")].layer_density()[layers[0]],
    imp_last=masks0[kind_label("ticket")].layer_density()[layers[-1]],
    collapse=("Empty layers (a bar at zero; section 5): " + "; ".join(f"{k}: {', '.join(v)}" for k, v in emptied.items() if v)
              + "." if any(emptied.values()) else "No mask empties a layer at this density."))

# %% [markdown]
# ## 3. Trained: PaI against IMP at the same densities
#
# Each method's network is trained from its initial weights for the full schedule, like
# the IMP ticket; we read **test accuracy at the early-stopping iteration**, as in
# notebook 02, one convention for every network of these notebooks. (Frankle et al.
# 2021's code, a fork of open_lth, reads accuracy at the end of training, and so does
# `SCALE="paper"` here, where the CIFAR-10 networks train on all 50,000 images:
# `Run.reported`.)

# %%
runs = study.run_pai(train_settings, data, experiment.methods, densities, seeds, store=store,
                     grasp_temperature=experiment.grasp_temperature)
results = study.PaIResults(experiment, tuple(seeds), tuple(imp_results), tuple(rewound), runs)
chance = 1.0 / data.num_classes
fig = plots.seed_bands(results.percents, results.series(), "", f"test accuracy ({reading})", percent_x=True,
                       styles=results.styles(),
                       references={"dense network (mean)": float(results.dense().mean()), "chance": chance},
                       title=f"Pruning at initialisation vs IMP on {train_settings.model} / {train_settings.dataset}")
plots.save_figure(fig, FIGURES_DIR, "pai_vs_imp")

# %%
say("Test accuracy at {reading}, mean (min-max) over {n} seeds; dense network: {d}.\n\n{table}",
    reading=reading, n=len(seeds), d=spread(results.dense()), table=results.table())

# %% [markdown]
# ### The claims, seed by seed
#
# Each comparison pairs the two networks of one seed (same initial weights, same data
# order) and judges the mean paired difference by an exact sign-flip test over seeds (the
# note under the table says the levels). The claims were fixed before the runs, at the
# sparsest density compared.

# %%
claims = Claims("06", SCALE, CLAIMS_FILE)
j = len(densities) - 1
pct = results.percents[j]
rewind, acc = results.rewind(), {m: results.acc(m) for m in experiment.methods}
headline = [claims.paired(f"IMP with rewinding (k={experiment.rewind_iteration}) is more accurate than "
                          f"{METHOD_LABELS[m]} at {pct:.1f}% of weights", better=rewind[:, j], worse=acc[m][:, j])
            for m in scored]
abstract = ("Frankle et al. 2021 (abstract): the methods \"surpass the trivial baseline of random pruning\"")
vs_random = [claims.paired(f"{METHOD_LABELS[m]} is more accurate than random pruning ({METHOD_LABELS['random']}) "
                           f"at {pct:.1f}% of weights", better=acc[m][:, j], worse=acc["random"][:, j],
                           role="paper", paper=abstract + ".")
             for m in scored]
vs_erk = [claims.paired(f"{METHOD_LABELS[m]} is more accurate than random pruning with ERK's layer densities "
                        f"({METHOD_LABELS['random_erk']}) at {pct:.1f}% of weights",
                        better=acc[m][:, j], worse=acc["random_erk"][:, j], role="paper",
                        paper=abstract + "; random pruning at ERK's layer densities (Evci et al. 2020) is a "
                              "stronger random baseline lthlib adds: whether the paper tests it was not checked.")
          for m in scored] if "random_erk" in experiment.methods else []
say(claims_markdown(headline + vs_random + vs_erk, SCALE))

# %%
say(results.reading(chance, scored))

# %% [markdown]
# ## 4. Sanity checks: what do the methods actually find?
#
# Frankle et al. 2021's three checks (their code's `--randomize_layerwise`,
# `--reinitialize` and `--prune_highest`), at one density (IMP round
# `experiment.sanity_round`), each on the same seeds:
# - **shuffle**: permute each layer's kept positions at random. If the method's choice of
#   *which* weights matters, accuracy drops; if only its per-layer densities matter, it
#   does not.
# - **reinitialise**: the same mask on fresh initial weights (the `reinit` stream).
# - **invert**: keep the weights the method would prune, at the same density.
#
# For the IMP ticket the first two are its controls from notebook 02: random pruning with
# the ticket's per-layer densities (= shuffled within layers) and random reinitialisation.

# %%
sanity_runs = study.run_pai(train_settings, data, experiment.sanity_methods,
                            [imp_results[0].rounds[experiment.sanity_round - 1].density], seeds,
                            variants=study.VARIANTS, store=store, grasp_temperature=experiment.grasp_temperature)
sanity = study.SanityResults(experiment, tuple(seeds), tuple(imp_results), sanity_runs)
fig = plots.grouped_bars(sanity.bars(), f"test accuracy ({reading})", chance=chance,
                         legend_title=f"bars: mean over {len(seeds)} seeds\nerror bars: min-max",
                         title=f"Sanity checks at {sanity.percent:.1f}% of weights")
plots.save_figure(fig, FIGURES_DIR, "sanity_checks")

# %%
say(sanity.reading())

# %% [markdown]
# "Does not hurt" is a claim too: the mean paired drop (original minus shuffled, or
# minus reinitialised) must be below 1 percentage point, by the same exact test as every
# claim (*not shown* means "the seeds cannot tell", not "it hurts"). The contrast that
# teaches Frankle et al.'s point is the headline: shuffling within layers costs the IMP
# ticket more than it costs each method, seed by seed (the IMP ticket's drop minus the
# method's drop, above 0).

# %%
ps = sanity.percent
same_or_higher = ("Frankle et al. 2021 (abstract): \"unlike pruning after training, accuracy is the same or higher "
                  "when randomly shuffling which weights these methods prune within each layer or sampling new "
                  "initial values\". Read here as a drop under 1 point.")
shuffle_hurts = claims.paired(f"shuffling the IMP ticket's mask within layers hurts it at {ps:.1f}% of weights",
                              better=sanity.imp_acc("none"), worse=sanity.imp_acc("shuffle"))
survives = {m: [claims.check(f"{study.VARIANT_LABELS[v].capitalize()} does not hurt {METHOD_LABELS[m]} by 1 point "
                             f"or more at {ps:.1f}%", sanity.drop(m, v), threshold=0.01, below=True, role="paper",
                             paper=same_or_higher)
                for v in ("shuffle", "reinit")] for m in experiment.sanity_methods}
hurt_more = [claims.paired(f"shuffling within layers hurts the IMP ticket more than it hurts {METHOD_LABELS[m]} "
                           f"at {ps:.1f}%", better=sanity.drop("imp", "shuffle"), worse=sanity.drop(m, "shuffle"))
             for m in experiment.sanity_methods]
say(claims_markdown([shuffle_hurts] + [c for cs in survives.values() for c in cs] + hurt_more, SCALE))

# %% [markdown]
# ## 5. Layer collapse at extreme sparsity
#
# No training here: each method's mask of seed 0's initial weights at densities far below
# those above. A layer with nothing left cuts the network in two: *layer collapse*. Which
# layer goes first depends on the score. Tanaka et al. 2020 (Section 4; read in the
# authors' patent text, which repeats it: docs/fidelity.md) find that when all layers are
# ranked together, random pruning empties the smallest layer first (it removes the same
# fraction everywhere); magnitude pruning empties the widest layers first, whose initial
# weights are smallest; and for gradient-based scores they prove that a layer's average
# score is inversely proportional to its number of weights (exactly for what they call
# synaptic saliency; SNIP's and GraSP's scores, they show, follow it too), so that "if the
# compression ratio is large enough and the pruning score is only evaluated once, then a
# gradient-based pruning method will completely prune the largest layer leading to
# layer-collapse". Pruning in many small rounds with such scores, re-scoring after each,
# avoids it: a layer that has lost weights scores higher in the next round. SynFlow does
# this in 100 rounds without data. The **critical density** is the lowest density at which
# one-shot global pruning by a method's scores still keeps every layer (SynFlow, being
# iterative, has none).

# %%
collapse = study.collapse_study(init_model, data, ("snip", "grasp", "magnitude", "synflow"),
                                experiment.collapse_densities, seeds[0], word_of)
say("Layers emptied by each method's mask of seed {s}'s initial weights:\n\n{table}",
    s=seeds[0], table=collapse.markdown())

# %%
say(collapse.reading())

# %% [markdown]
# ## 6. Do PaI masks and IMP tickets pick the same weights?
#
# The overlap of two masks of the same initial weights, above what chance gives: the
# intersection over union (IoU: weights kept by both over weights kept by either) minus the
# IoU two random masks with the same per-layer counts would have
# (`lthlib.methods.pai.mask_agreement`). 0 means no more agreement than chance.

# %%
agreement = results.agreement()
fig = plots.seed_bands(results.percents, agreement, "", "IoU with the IMP ticket's mask, minus chance",
                       percent_x=True, references={"chance (0)": 0.0}, styles=results.styles(),
                       title="Agreement of each method's mask with the IMP ticket (same initial weights)")
plots.save_figure(fig, FIGURES_DIR, "agreement_with_imp")

# %%
say(results.agreement_reading())

# %% [markdown]
# ## 7. Summary: every claim of this notebook

# %%
claims.show()

# %%
say(study.answer(headline, vs_random, vs_erk, shuffle_hurts, hurt_more, survives, scored, pct, ps))

# %% [markdown]
# ## Exercises
#
# 1. Change `SEEDS` to 4. Which verdicts change? What does that tell you about the claims
#    you can make with four seeds (the smallest p-value an exact sign-flip test can give
#    is $2^{-n}$ for $n$ seeds)?
# 2. Add `"grasp_magnitude"` (GraSP ranked by $|w \odot Hg|$, the `graspabs` strategy of
#    Frankle et al. 2021's code) to `experiment.methods` with `dataclasses.replace` and
#    rerun section 3. Does the sign of GraSP's score matter here?
# 3. Section 4's *shuffled* SNIP network is a random mask with SNIP's per-layer densities.
#    Why does that make it a test of whether SNIP chooses *weights* or only *densities*?
#    Which bar would you compare it with to see the value of SNIP's density choice alone?
# 4. Implement SNIP's score yourself: for `init_model`, one batch `x, y =
#    lthlib.methods.pai.pai_batch(data, seed=0)`, compute the gradient of the cross-entropy loss
#    and multiply by the weights. Check your scores against the library's with
#    `torch.allclose(mine[name], pai_scores("snip", init_model, data, seed=0)[name])` for
#    every `name` in `layers`.
# 5. In section 5, find the lowest density at which SynFlow still keeps every layer, by
#    bisection with `layer_collapse(pai_mask("synflow", ...))` (if it empties a layer at all
#    before one weight per layer is left). How does it compare with SNIP's critical density?
