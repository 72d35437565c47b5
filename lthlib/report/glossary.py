"""The words of the field, defined once, as the papers define them.

Notebooks show the terms they use with ``define("matching", "stable")``, so every chapter
means the same thing by the same word: the cited paper's definition, where it gives one
(how close is "matching"? Frankle et al. 2020's one standard deviation of the dense runs).
"""
from __future__ import annotations

from typing import Any

TERMS: dict[str, str] = {
    "dense": "the unpruned network: every weight trainable.",
    "density": "the fraction of prunable weights (Linear, Conv and Embedding weights; not biases, "
               "BatchNorm or LayerNorm) that are kept; *sparsity* = 1 - density. lthlib says *density* "
               "everywhere, and *rate* for the fraction of surviving weights removed per round.",
    "early stopping": "Frankle & Carbin 2019 read a run at the iteration of minimum validation loss "
                      "(the early-stopping iteration) and use that iteration as the measure of how "
                      "fast a network learns; Frankle et al. 2020 report accuracy at the end of "
                      "training instead. lthlib offers both (``Run.at_early_stop``, ``Run.final``).",
    "rewinding": "resetting the surviving weights to their values at iteration *k* of the dense "
                 "run (not at initialisation, k = 0) and training from *k* with the rest of the "
                 "schedule (Frankle et al. 2019, *Stabilizing the LTH*; Frankle et al. 2020).",
    "weight rewinding": "Renda et al. 2020's name for *rewinding* as a way to retrain after pruning: the "
                        "surviving weights go back to their values at iteration T - t of the original run and "
                        "train for the last t iterations of the original schedule.",
    "learning-rate rewinding": "Renda et al. 2020: after pruning, the surviving weights keep their trained "
                               "values and train for t iterations on the last t iterations of the original "
                               "learning-rate schedule: the learning rate is rewound, not the weights.",
    "fine-tuning": "the standard way to retrain after pruning, which \"trains the unpruned weights from their "
                   "final trained values using a small fixed learning rate\" (Renda et al. 2020, abstract); "
                   "lthlib uses the schedule's final learning rate, as the authors' code does.",
    "ticket": "a subnetwork (a mask) together with the weights it starts from. An *IMP ticket* is "
              "the mask iterative magnitude pruning finds, started from the dense run's weights at "
              "iteration k.",
    "winning": "Frankle & Carbin 2019 (Section 1): a *winning ticket* is a subnetwork of a randomly "
               "initialised dense network that, trained in isolation from its original initial values, "
               "reaches at least the dense network's test accuracy in at most as many iterations, with far "
               "fewer weights. That the initial values matter is the paper's finding about such tickets, "
               "not part of the definition: reinitialised at random, the same subnetworks learn slower and "
               "reach lower accuracy (Section 1; the notebooks test it as a control).",
    "matching": "Frankle et al. 2020 (LMC): a subnetwork is *matching* when, trained in isolation (from "
                "its weights at iteration k), it reaches the dense network's accuracy, \"full accuracy\" (arXiv v1 "
                "abstract), which the paper takes as test accuracy within one standard deviation of the dense "
                "network's over its runs (Section 4, as a reading note of the arXiv v4 text gives it; the "
                "sentence itself could not be read here). lthlib uses this one definition: the subnetwork's mean "
                "accuracy is at most one standard deviation of the dense runs below the dense network's mean "
                "(above it is matching too; ``lthlib.experiments.matching.is_matching``). Like *winning*, it says "
                "nothing about random reinitialisation; unlike it, nothing about iterations. A notebook that uses another tolerance says it is its own choice.",
    "stable": "Frankle et al. 2020: a network is *stable* (to SGD noise) at iteration k when two copies "
              "trained from k with different data orders end in one linearly connected region: the "
              "error barrier on the straight line between them is about zero (the paper uses 2 "
              "percentage points).",
    "error barrier": "Frankle et al. 2020 (\"instability\"): the largest test error on the line "
                     "between the two children minus the mean of their own errors.",
    "pruning at initialisation": "choosing a mask from the initial weights (and at most one batch "
    "of data) before any training, then training only the sparse network: SNIP (Lee et al. 2019), "
    "GraSP (Wang et al. 2020), SynFlow (Tanaka et al. 2020). IMP, by contrast, trains the dense "
    "network first.",
    "layer collapse": "Tanaka et al. 2020: pruning that removes every weight of some layer, so the "
    "network computes a constant whatever the other layers keep.",
    "sparse format": "a way of storing a matrix that keeps only its nonzero values and their "
    "positions (CSR: values, column indices, row pointers; COO: values with (row, column) pairs; "
    "BSR: small dense blocks). A kernel that reads it skips the zeros, at the price of reading indices.",
    "structured pruning": "removing whole units (neurons, channels) rather than single weights: the "
    "result is a smaller dense network that every dense kernel runs fast. *Unstructured* pruning "
    "(IMP's) removes single weights.",
    "best of N": "train N networks and keep the one with the best validation accuracy; its test "
    "accuracy is what the choice buys. Notebook 09 computes its expectation over every N-subset of "
    "a trained pool exactly.",
    "supermask": "Zhou et al. 2019: a mask that, applied to a network that is not trained, gives "
                 "accuracy far above chance.",
    "strong ticket": "Ramanujan et al. 2020; Malach et al. 2020: a subnetwork of a *randomly "
                     "weighted* network that performs well with no weight training at all.",
    "sparse": "a network (or matrix) with most of its prunable weights removed, i.e. at low "
              "*density*. In lthlib a sparse network is the dense architecture with a *mask*: the "
              "removed weights are held at exactly zero, so it computes like a sparse network but costs "
              "a dense one's time unless it is stored in a *sparse format* (notebook 08).",
    "mask": "which weights a subnetwork keeps: one bool tensor per prunable parameter (True = kept), "
            "``lthlib.masks.Mask``. A mask is data, applied to a plain model; masked weights stay exactly "
            "zero through training.",
    "iterative magnitude pruning": "IMP (Frankle & Carbin 2019): train, remove the fraction *rate* of "
                                   "the surviving weights with the smallest trained magnitude, reset the "
                                   "survivors (to initialisation, or by *rewinding* to iteration k), "
                                   "repeat. After n rounds a layer keeps (1 - rate)^n of its weights.",
    "random reinitialisation": "a control (Frankle & Carbin 2019): the ticket's mask on freshly drawn "
                               "initial weights, trained in the same way. If it does as well as the "
                               "ticket, the mask alone (an architecture) explains the ticket.",
    "random pruning": "a control (Frankle & Carbin 2019): a random mask with the ticket's per-layer "
                      "densities on the ticket's initial weights (the ticket's mask shuffled within "
                      "each layer). If it does as well, the amount of pruning alone explains the ticket.",
    "linear mode connectivity": "Frankle et al. 2020: two trained networks are *linearly mode "
                                "connected* when the error does not rise along the straight line "
                                "between their weights, i.e. their *error barrier* is about zero; a "
                                "network that is *stable* at k gives such children.",
    "edge-popup": "Ramanujan et al. 2020: learn a score per weight of a frozen random network and keep, "
                  "in every layer, the top fraction by score; the gradient is passed straight through "
                  "the top-k selection to the scores. The weights never change: the result is a "
                  "*supermask*.",
    "ERK": "Erdos-Renyi-Kernel per-layer densities (Evci et al. 2020, after Mocanu et al. 2018): a "
           "layer's density is proportional to the sum of its dimensions over their product, so small "
           "layers stay denser at the same overall density.",
    "dynamic sparse training": "training a network that is sparse from the first step while its mask "
                               "changes: every few steps drop some active weights and grow as many "
                               "new connections, at random (SET, Mocanu et al. 2018) or by the dense "
                               "gradient (RigL, Evci et al. 2020). No dense network is trained.",
    "grokking": "Power et al. 2022 (abstract): a network improves \"generalization performance from "
                "random chance level to perfect generalization\", and \"this improvement in "
                "generalization can happen well past the point of overfitting\", i.e. long after it "
                "fits its training set; \"smaller datasets require increasing amounts of optimization "
                "for generalization\".",
    "one-shot pruning": "pruning a trained network once, to the final density, with no retraining or "
                        "only a short fine-tune: how large language models are pruned (magnitude, "
                        "Wanda, SparseGPT), since retraining them, let alone IMP's many rounds, is "
                        "out of reach.",
    "Wanda": "Sun et al. 2023 (*pruning by weights and activations*): score each weight by |w| times "
             "the L2 norm of its input feature over a few calibration examples, and remove the "
             "lowest scores within each output (row), not across the layer. No retraining.",
    "N:M sparsity": "in every group of M consecutive weights along a row, at most N are kept (2:4 keeps "
                    "half): a semi-structured pattern. NVIDIA's sparse tensor cores run one pattern per "
                    "data type, always at 50%: 2:4 (1:2 for TF32 and float) (cuSPARSELt documentation, "
                    "\"50% Sparsity Ratio\"); notebook 08 times 2:4 against dense. Sun et al. 2023 "
                    "(Wanda) test N:M only at 50% (2:4, 4:8); other patterns, such as 1:4, are neither "
                    "a hardware pattern nor one the paper tested. The group constrains which weights a "
                    "method may keep.",
}


def define(*terms: str) -> str:
    """Markdown definitions of ``terms`` (all of them when none is named), displayed in a
    notebook; returns the Markdown."""
    unknown = [t for t in terms if t not in TERMS]
    if unknown:
        raise KeyError(f"no glossary entry for {unknown}; entries: {sorted(TERMS)}")
    text = "\n".join(f"- **{t}**: {TERMS[t]}" for t in (terms or TERMS))
    _display(text)
    return text


def _display(text: str) -> Any:
    try:
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:  # pragma: no cover
        print(text)
