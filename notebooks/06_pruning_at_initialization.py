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
# obvious question, asked since the first paper: can the mask be chosen **before any
# training**, from the initial weights and at most one batch of data, so that only the
# sparse network is ever trained? Three well-known methods say yes:
#
# - **SNIP** (Lee et al. 2019): keep the weights with the largest $|g \cdot w|$, the
#   connection sensitivity of the loss on one minibatch;
# - **GraSP** (Wang et al. 2020): keep the weights whose removal least reduces the
#   gradient flow, scored with a Hessian-gradient product $w \cdot Hg$;
# - **SynFlow** (Tanaka et al. 2020): no data at all; 100 rounds of pruning by the
#   "synaptic flow" $|w \cdot \partial R / \partial w|$ of the network with all weights
#   made positive, which avoids emptying a layer (*layer collapse*).
#
# Frankle, Dziugaite, Roy & Carbin 2021 (*Pruning Neural Networks at Initialization: Why
# are We Missing the Mark?*, ICLR 2021) put these methods through the tests that made the
# lottery ticket interesting: they beat random pruning but fall short of IMP with
# rewinding; and, unlike IMP, they **survive** having their masks shuffled within each
# layer or their weights reinitialised: what they find is a good *per-layer density*, not a
# good set of weights.
#
# **In this notebook you will**
# - see which layers each method prunes (the per-layer densities it picks);
# - train every method's network at the densities of notebook 02's IMP rounds, against the
#   IMP ticket and IMP with rewinding, on the same seeds and initial weights;
# - run the paper's sanity checks (shuffle, reinitialise, invert) and read them as checks;
# - watch one-shot methods collapse layers at extreme sparsity, where SynFlow does not;
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
import numpy as np

import lthlib
from lthlib import plots
from lthlib.claims import Claims, claims_markdown, say, spread
from lthlib.config import check_parameters, seeds_for
from lthlib.glossary import define
from lthlib.imp import imp_for_scale, kind_label, run_imp_seeds
from lthlib.masks import Mask
from lthlib.models import prunable_parameters
from lthlib.pai import METHOD_LABELS, critical_density, layer_collapse, mask_agreement, pai_mask, pai_scores
from lthlib.pai_study import VARIANT_LABELS, accuracy_table, pai_for_scale, run_pai
from lthlib.store import Store
from lthlib.training import data_for, model_for, reading_words

check_parameters(SCALE=SCALE, SEEDS=SEEDS, RESULTS_DIR=RESULTS_DIR)  # a clear error for a bad -p value
experiment = pai_for_scale(SCALE)
train_settings = lthlib.for_scale(SCALE, model=MODEL, dataset=DATASET, default_model=experiment.model)
reading = reading_words(train_settings)  # where runs are read: early stopping, or the end of training
imp_settings = imp_for_scale(SCALE, train_settings)  # notebook 02's IMP: its runs come from the store
scored = [m for m in ("snip", "grasp", "synflow") if m in experiment.methods]  # the three PaI methods
colors = {METHOD_LABELS[m]: f"C{i + 2}" for i, m in enumerate(experiment.methods)}  # one colour per method
store = Store(RESULTS_DIR)
seeds = list(range(seeds_for(SCALE, SEEDS)))  # smoke: two
data = data_for(train_settings, device=DEVICE)  # moved to the device once; models follow it
experiment

# %% [markdown]
# Words this chapter uses (`lthlib.glossary`):

# %%
_ = define("pruning at initialisation", "density", "ticket", "rewinding", "layer collapse")

# %% [markdown]
# ## 1. The IMP runs to compare with
#
# The comparison is at **matched densities and matched seeds**: every method prunes seed
# $s$'s initial weights to the density of one of IMP's rounds, and is compared with the
# IMP ticket of the same seed (same initial weights, same data order). IMP comes twice:
# as the original lottery ticket (rewound to iteration 0, notebook 02) and with
# **rewinding** to an early iteration $k$ (notebook 03), which is what Frankle et al. 2021
# compare the PaI methods against. The IMP ticket's `random_mask` control is its own mask
# shuffled within layers, and its `reinit` control its mask on fresh weights: the same
# sanity checks, applied to IMP.

# %%
imp_results = run_imp_seeds(imp_settings, seeds, data, store=store)
rewound = run_imp_seeds(imp_settings.replace(rewind_iteration=experiment.rewind_iteration, controls=()),
                        seeds, data, store=store)
rounds = list(experiment.rounds)
densities = [imp_results[0].rounds[r - 1].density for r in rounds]
percents = [100 * d for d in densities]
sanity_density = imp_results[0].rounds[experiment.sanity_round - 1].density
say("Compared at {n} densities, the IMP rounds {rounds}: {pcts} of the weights remaining "
    "(layerwise IMP; every PaI method prunes to the same overall density). IMP with rewinding "
    "rewinds to iteration k = {k} of {T:,}.",
    n=len(rounds), rounds=rounds, pcts=", ".join(f"{p:.1f}%" for p in percents),
    k=experiment.rewind_iteration, T=train_settings.iterations)

# %% [markdown]
# ## 2. What each method keeps, layer by layer
#
# Before any training: each method's mask of seed 0's initial weights at the sparsest
# density compared. Global methods rank all layers together, so they choose how dense each
# layer stays; the random baselines are told: `random` keeps the same density in every
# layer, `random_erk` the Erdős–Rényi-Kernel densities of RigL (Evci et al. 2020), denser
# for small layers.

# %%
init_model = model_for(train_settings.replace(seed=seeds[0]), data)
prunable = prunable_parameters(init_model)
layers = list(prunable)
shapes = [p.shape for p in prunable.values()]
words = plots.layer_labels(layers, shapes)  # one word per layer; a subset is labelled with among=layers
sparsest = densities[-1]
masks0 = {m: pai_mask(m, init_model, data, sparsest, seed=seeds[0]) for m in experiment.methods}
imp_mask0 = imp_results[0].rounds[rounds[-1] - 1].mask
per_layer = {METHOD_LABELS[m]: {lab: [masks0[m].layer_density()[n]] for lab, n in zip(words, layers)}
             for m in experiment.methods}
per_layer[kind_label("ticket")] = {lab: [imp_mask0.layer_density()[n]] for lab, n in zip(words, layers)}
by_layer = {lab: {m: v[lab] for m, v in per_layer.items()} for lab in words}
fig = plots.grouped_bars(by_layer, "fraction of the layer's weights kept", legend_title="one mask each",
                         title=f"Per-layer density of each mask at {100 * sparsest:.1f}% overall (seed {seeds[0]})")
plots.save_figure(fig, FIGURES_DIR, "per_layer_density")

# %%
first, last = layers[0], layers[-1]
emptied = {METHOD_LABELS[m]: plots.layer_labels(layer_collapse(masks0[m]), shapes, among=layers)
           for m in experiment.methods if layer_collapse(masks0[m])}
say("**What to see.** At {d:.1f}% overall, the methods keep between {lo:.1%} and {hi:.1%} of the "
    "first layer and between {lo2:.1%} and {hi2:.1%} of the output layer; the IMP ticket keeps "
    "{imp_first:.1%} and {imp_last:.1%} (its rates are fixed per layer: notebook 02). {collapse}",
    collapse=("Empty layers (section 5): " + "; ".join(f"{k}: {', '.join(v)}" for k, v in emptied.items()) + "."
              if emptied else "No method empties a layer at this density."),
    d=100 * sparsest,
    lo=min(masks0[m].layer_density()[first] for m in experiment.methods),
    hi=max(masks0[m].layer_density()[first] for m in experiment.methods),
    lo2=min(masks0[m].layer_density()[last] for m in experiment.methods),
    hi2=max(masks0[m].layer_density()[last] for m in experiment.methods),
    imp_first=imp_mask0.layer_density()[first], imp_last=imp_mask0.layer_density()[last])

# %% [markdown]
# ## 3. Trained: PaI against IMP at the same densities
#
# Each method's network is trained from its initial weights for the full schedule, like
# the IMP ticket; we read **test accuracy at the early-stopping iteration**, as in
# notebook 02. (Frankle et al. 2021 report accuracy at the end of training; at this scale
# the two are close, and one convention across the notebooks keeps the comparison fair. At
# `SCALE="paper"` the CIFAR-10 networks train on all 50,000 images and are read at the end
# of training, as open_lth does: `Run.reported`.)

# %%
runs = run_pai(train_settings, data, experiment.methods, densities, seeds, store=store,
               grasp_temperature=experiment.grasp_temperature)
acc = {m: np.array(accuracy_table(runs, m, "none", densities, seeds)).T for m in experiment.methods}  # seeds x densities
ticket = np.array([[res.rounds[r - 1].ticket.reported() for r in rounds] for res in imp_results])
rewind = np.array([[res.rounds[r - 1].ticket.reported() for r in rounds] for res in rewound])
dense = np.array([res.dense.reported() for res in imp_results])
series = {f"IMP, rewound to k={experiment.rewind_iteration}": rewind, kind_label("ticket") + " (k=0)": ticket,
          **{METHOD_LABELS[m]: acc[m] for m in experiment.methods}}
styles = {name: {"lw": 2.4} for name in list(series)[:2]}
styles.update({name: {"color": c} for name, c in colors.items()})
styles.update({METHOD_LABELS[m]: {"ls": "--", "color": colors[METHOD_LABELS[m]]}
               for m in ("random", "random_erk") if m in experiment.methods})
fig = plots.seed_bands(percents, series, "", f"test accuracy ({reading})", percent_x=True, styles=styles,
                       references={"dense network (mean)": float(dense.mean())},
                       title=f"Pruning at initialisation vs IMP on {train_settings.model} / {train_settings.dataset}")
plots.save_figure(fig, FIGURES_DIR, "pai_vs_imp")

# %%
rows = ["| network | " + " | ".join(f"{p:.1f}%" for p in percents) + " |", "|---|" + "---|" * len(percents)]
for name, ys in series.items():
    rows.append(f"| {name} | " + " | ".join(spread(ys[:, j]) for j in range(len(percents))) + " |")
say("Test accuracy at {reading}, mean (min-max) over seeds; dense network: {d}.\n\n", reading=reading, d=spread(dense))
say("\n".join(rows))

# %% [markdown]
# ### The claims, seed by seed
#
# Each comparison pairs the two networks of one seed (same initial weights, same data
# order) and judges the mean paired difference by an exact sign-flip test over seeds (the
# note under the table says the levels). The headline claims are about the sparsest density compared, where the
# differences between masks are largest.

# %%
claims = Claims("06", SCALE, CLAIMS_FILE)
j = len(densities) - 1
pai_methods = scored
headline = [claims.paired(f"IMP with rewinding (k={experiment.rewind_iteration}) is more accurate than "
                          f"{METHOD_LABELS[m]} at {percents[j]:.1f}% of weights", better=rewind[:, j], worse=acc[m][:, j])
            for m in pai_methods]
vs_random = [claims.paired(f"{METHOD_LABELS[m]} is more accurate than random pruning ({METHOD_LABELS['random']}) "
                           f"at {percents[j]:.1f}% of weights", better=acc[m][:, j], worse=acc["random"][:, j],
                           role="paper", paper="Frankle et al. 2021 (Section 4): SNIP, GraSP and SynFlow "
                           "\"consistently outperform random pruning\" at matched sparsities.")
             for m in pai_methods]
if "random_erk" in experiment.methods:  # Frankle et al. 2021's stronger baseline: random at ERK's layer densities
    vs_random += [claims.paired(f"{METHOD_LABELS[m]} is more accurate than random pruning with ERK's layer densities "
                                f"({METHOD_LABELS['random_erk']}) at {percents[j]:.1f}% of weights",
                                better=acc[m][:, j], worse=acc["random_erk"][:, j], role="paper",
                                paper="Frankle et al. 2021 compare with random pruning at the methods' own and at "
                                      "ERK's per-layer densities; the per-layer density is what the sanity checks "
                                      "below say the methods' masks carry.")
                  for m in pai_methods]
say(claims_markdown(headline + vs_random, SCALE))

# %%
gaps = {METHOD_LABELS[m]: float(np.mean(rewind[:, j] - acc[m][:, j])) for m in pai_methods}
best = max(pai_methods, key=lambda m: acc[m][:, j].mean())
chance = 1.0 / data.num_classes
at_chance = [(METHOD_LABELS[m], percents[i]) for m in experiment.methods for i in range(len(percents))
             if acc[m][:, i].mean() < chance + 0.05]
say("**What to see.** At {p:.1f}% of the weights, the best of the three methods here is "
    "{best} ({best_acc}); IMP with rewinding reaches {rw}. The mean paired gap from IMP with "
    "rewinding to each method: {gaps}. {chance_text}",
    p=percents[j], best=METHOD_LABELS[best], best_acc=spread(acc[best][:, j]), rw=spread(rewind[:, j]),
    gaps=", ".join(f"{k} {v:+.3f}" for k, v in gaps.items()),
    chance_text=("Near chance ({c:.0%}): ".format(c=chance) + ", ".join(f"{k} at {p:.1f}%" for k, p in at_chance)
                 + ": a layer emptied by one-shot global pruning (section 5) leaves a network that "
                   "cannot learn." if at_chance else ""))

# %% [markdown]
# ## 4. Sanity checks: what do the methods actually find?
#
# Frankle et al. 2021's three checks, at one density (IMP round
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
sanity = run_pai(train_settings, data, experiment.sanity_methods, [sanity_density], seeds,
                 variants=("none", "shuffle", "reinit", "invert"), store=store,
                 grasp_temperature=experiment.grasp_temperature)
r_s = experiment.sanity_round - 1
imp_sanity = {"none": [res.rounds[r_s].ticket.reported() for res in imp_results],
              "shuffle": [res.rounds[r_s].controls["random_mask"].reported() for res in imp_results],
              "reinit": [res.rounds[r_s].controls["reinit"].reported() for res in imp_results]}
bars = {"IMP ticket": {VARIANT_LABELS[v]: imp_sanity[v] for v in imp_sanity}}
for m in experiment.sanity_methods:
    bars[METHOD_LABELS[m]] = {VARIANT_LABELS[v]: accuracy_table(sanity, m, v, [sanity_density], seeds)[0]
                              for v in ("none", "shuffle", "reinit", "invert")}
fig = plots.grouped_bars(bars, f"test accuracy ({reading})",
                         title=f"Sanity checks at {100 * sanity_density:.1f}% of weights")
plots.save_figure(fig, FIGURES_DIR, "sanity_checks")

# %% [markdown]
# "Does not hurt" is a claim too: the mean paired drop (original minus shuffled, or
# minus reinitialised) must be below 1 percentage point, by the same exact test as every
# claim (*not shown* means "the seeds cannot tell", not "it hurts"). The contrast that
# teaches Frankle et al.'s point is the headline: shuffling within layers costs the IMP
# ticket more than it costs each method, seed by seed (the IMP ticket's drop minus the
# method's drop, above 0).

# %%
ps = 100 * sanity_density
orig = {m: np.array(accuracy_table(sanity, m, "none", [sanity_density], seeds)[0]) for m in experiment.sanity_methods}
sanity_claims = [claims.paired(f"shuffling the IMP ticket's mask within layers hurts it at {ps:.1f}% of weights",
                               better=imp_sanity["none"], worse=imp_sanity["shuffle"])]
for m in experiment.sanity_methods:
    for v in ("shuffle", "reinit"):
        other = np.array(accuracy_table(sanity, m, v, [sanity_density], seeds)[0])
        sanity_claims.append(claims.check(
            f"{VARIANT_LABELS[v].capitalize()} does not hurt {METHOD_LABELS[m]} by 1 point or more at {ps:.1f}%",
            orig[m] - other, threshold=0.01, below=True, role="paper",
            paper="Frankle et al. 2021 (Section 5): for SNIP, GraSP and SynFlow \"randomly shuffling the "
                  "mask within each layer\" and reinitialising \"do not reduce accuracy\"."))
imp_drop = np.asarray(imp_sanity["none"]) - np.asarray(imp_sanity["shuffle"])
for m in experiment.sanity_methods:
    shuffled = np.array(accuracy_table(sanity, m, "shuffle", [sanity_density], seeds)[0])
    sanity_claims.append(claims.paired(
        f"shuffling within layers hurts the IMP ticket more than it hurts {METHOD_LABELS[m]} at {ps:.1f}%",
        better=imp_drop, worse=orig[m] - shuffled))
say(claims_markdown(sanity_claims, SCALE))

# %%
drop = {name: float(np.mean(np.asarray(v["as chosen"]) - np.asarray(v["shuffled within layers"])))
        for name, v in bars.items()}
inverted = {METHOD_LABELS[m]: float(np.mean(bars[METHOD_LABELS[m]]["inverted scores"])) for m in experiment.sanity_methods}
say("**What to see.** Shuffling within layers costs the IMP ticket {imp:+.3f} in mean accuracy, and the "
    "methods at initialisation {pai}. Inverting the scores leaves {inv} (mean test accuracy).",
    imp=drop["IMP ticket"], pai=", ".join(f"{k} {v:+.3f}" for k, v in drop.items() if k != "IMP ticket"),
    inv=", ".join(f"{k} {v:.3f}" for k, v in inverted.items()))

# %% [markdown]
# ## 5. Layer collapse at extreme sparsity
#
# No training here: each method's mask of seed 0's initial weights at densities far below
# those above. A layer with nothing left cuts the network in two: *layer collapse*. Which
# layer goes first depends on the score. Tanaka et al. 2020 (Section 4) find that when all
# layers are ranked together, random pruning empties the smallest layer first (it removes
# the same fraction everywhere); magnitude pruning empties the widest layers first, whose
# initial weights are smallest; and for gradient-based scores they prove that a layer's
# average score is inversely proportional to its number of weights (exactly for what they
# call synaptic saliency, and SNIP's and GraSP's scores follow it too), so that "if the
# compression ratio is large enough and the pruning score is only evaluated once, then a
# gradient-based pruning method will completely prune the largest layer leading to
# layer-collapse". Pruning in many small rounds with such scores, re-scoring after each,
# avoids it: a layer that has lost weights scores higher in the next round. SynFlow does
# this in 100 rounds without data. The **critical density** is the lowest density at which
# one-shot global pruning by a method's scores still keeps every layer.

# %%
collapse_densities = sorted(experiment.collapse_densities, reverse=True)  # from the mildest
collapse_rows = ["| method | critical density | " + " | ".join(f"{100 * d:g}%" for d in collapse_densities) + " |",
                 "|---|---|" + "---|" * len(collapse_densities)]
emptied_at = {}  # method -> the layers its mask empties, per density
for m in ("snip", "grasp", "magnitude", "synflow"):
    emptied_at[m] = [layer_collapse(pai_mask(m, init_model, data, d, seed=seeds[0])) for d in collapse_densities]
    cells = [", ".join(plots.layer_labels(gone, shapes, among=layers)) if gone else "none" for gone in emptied_at[m]]
    crit = "iterative" if m == "synflow" else f"{100 * critical_density(pai_scores(m, init_model, data, seed=seeds[0])):.3g}%"
    collapse_rows.append(f"| {METHOD_LABELS[m]} | {crit} | " + " | ".join(cells) + " |")
say("Layers emptied by each method's mask (seed {s}):\n\n", s=seeds[0])
say("\n".join(collapse_rows))

# %%
word_of = dict(zip(layers, words))
size = {n: p.numel() for n, p in prunable.items()}
mean_abs_init = {n: float(p.detach().abs().mean()) for n, p in prunable.items()}
largest, low_init = max(layers, key=size.get), min(layers, key=mean_abs_init.get)
first = {m: next(((d, gone) for d, gone in zip(collapse_densities, emptied_at[m]) if gone), None)
         for m in emptied_at}  # the mildest density at which the method empties a layer, and which layers
collapsing = [m for m in ("snip", "grasp", "magnitude") if first[m]]
named = lambda gone: ", ".join(word_of[n] for n in gone)  # noqa: E731
takes = [METHOD_LABELS[m] for m in ("snip", "grasp") if first[m] and largest in first[m][1]]
spares = [METHOD_LABELS[m] for m in ("snip", "grasp") if first[m] and largest not in first[m][1]]
say("**What to see.** At the densities tried, {one} collapse a layer; SynFlow {syn}. The first layers each "
    "one empties: {firsts}. The largest layer is the {big} ({n:,} of {total:,} weights). {grad}{mag}",
    one=" and ".join([", ".join(METHOD_LABELS[m] for m in collapsing[:-1]), METHOD_LABELS[collapsing[-1]]]
                     if len(collapsing) > 1 else [METHOD_LABELS[m] for m in collapsing]) or "no one-shot method",
    syn="collapses one too" if first["synflow"] else "keeps every layer",
    firsts="; ".join(f"{METHOD_LABELS[m]}, {named(first[m][1])} (at {100 * first[m][0]:g}% and below)"
                     for m in collapsing)
           if collapsing else "none",
    big=word_of[largest], n=size[largest], total=sum(size.values()),
    grad=(f"{' and '.join(takes)} {'empty' if len(takes) > 1 else 'empties'} it as soon as "
          f"{'they empty' if len(takes) > 1 else 'it empties'} any layer, as Tanaka et al. find for one-shot "
          "gradient-based scores. " if takes else "")
         + (f"{' and '.join(spares)} {'empty' if len(spares) > 1 else 'empties'} other layers before it, unlike "
            "Tanaka et al.'s finding for one-shot gradient-based scores. " if spares else ""),
    mag="" if not first["magnitude"] else
        (f"Magnitude pruning first empties {named(first['magnitude'][1])}"
         + (f": the {word_of[low_init]} has the smallest initial weights" if low_init in first["magnitude"][1]
            else f", not the {word_of[low_init]}, which has the smallest initial weights")
         + " (mean |w|: " + ", ".join(f"{word_of[n]} {mean_abs_init[n]:.3f}" for n in layers) + ")."))

# %% [markdown]
# ## 6. Do PaI masks and IMP tickets pick the same weights?
#
# The overlap of two masks of the same initial weights, above what chance gives: the
# intersection over union of the kept weights minus the IoU two random masks with the
# same per-layer counts would have (`lthlib.pai.mask_agreement`). 0 means no more
# agreement than chance.

# %%
agreement = {METHOD_LABELS[m]: np.array([[mask_agreement(Mask(runs[(m, "none", float(d), s)].mask),
                                                         res.rounds[r - 1].mask)["overall"]
                                          for d, r in zip(densities, rounds)]
                                         for s, res in zip(seeds, imp_results)])
             for m in experiment.methods}
fig = plots.seed_bands(percents, agreement, "", "IoU with the IMP ticket's mask, minus chance",
                       percent_x=True, references={"chance": 0.0},
                       styles={k: {"color": c} for k, c in colors.items()},
                       title="Agreement of each method's mask with the IMP ticket (same initial weights)")
plots.save_figure(fig, FIGURES_DIR, "agreement_with_imp")

# %%
top = max(agreement, key=lambda k: agreement[k][:, -1].mean())
say("**What to see.** At {p:.1f}% of the weights, the method whose mask agrees most with the IMP "
    "ticket's is {top} ({v}, IoU above chance, mean (min-max) over seeds); the random baselines sit at "
    "{r}. {reading}",
    p=percents[-1], top=top, v=spread(agreement[top][:, -1]),
    r=spread(agreement[METHOD_LABELS["random"]][:, -1]),
    reading=("Every method's agreement stays below 0.1 of the possible 1: the methods and IMP keep "
             "largely different weights, even where their accuracies are close." if
             max(float(v.mean(axis=0).max()) for v in agreement.values()) < 0.1 else
             "Where agreement is well above chance, a method picks many of the ticket's weights."))

# %% [markdown]
# ## 7. Summary: every claim of this notebook

# %%
claims.show()

# %% [markdown]
# **Reading the verdicts.** The headline claims ask whether IMP with rewinding, which pays
# for dense training, still beats masks chosen before any training at the sparsest density
# compared. The *paper* rows test Frankle et al. 2021's findings at this scale: PaI methods
# beating random pruning, and surviving shuffling and reinitialisation (which would mean
# they choose per-layer densities rather than weights). Whatever their verdict here, they
# are reported; a small MLP on MNIST-1D is far from the ResNets and VGGs of the paper.
#
# ## Exercises
#
# 1. Change `SEEDS` to 6. Which *not shown* verdicts become *holds* or *contradicted*?
#    What does that tell you about the claims you can make with three seeds?
# 2. Add `"grasp_magnitude"` (GraSP ranked by $|w \cdot Hg|$, Frankle et al. 2021's variant)
#    to `experiment.methods` with `dataclasses.replace` and rerun section 3. Does the sign
#    of GraSP's score matter here?
# 3. Section 4's *shuffled* SNIP network is a random mask with SNIP's per-layer densities.
#    Why does that make it a test of whether SNIP chooses *weights* or only *densities*?
#    Which bar would you compare it with to see the value of SNIP's density choice alone?
# 4. Implement SNIP's score yourself: for `init_model`, one batch `x, y =
#    lthlib.pai.pai_batch(data, seed=0)`, compute the gradient of the cross-entropy loss
#    and multiply by the weights. Check your scores against the library's with
#    `torch.allclose(mine[name], pai_scores("snip", init_model, data, seed=0)[name])` for
#    every `name` in `layers`.
# 5. In section 5, find the smallest density at which SynFlow still keeps every layer by
#    bisection with `layer_collapse(pai_mask("synflow", ...))`. How does it compare with
#    SNIP's critical density?
