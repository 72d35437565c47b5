"""``FIGURES``: every figure by id, with the papers' published values (checked against
their text, with the place)."""
from __future__ import annotations

from lthlib.apps.reproduce.figures import Figure, Published
from lthlib.apps.reproduce.recipes import imp_draw, imp_part_plan, imp_parts, imp_plan, imp_runs, instability_draw, instability_runs, retraining_draw, retraining_plan, retraining_runs, rewinding_draw, rewinding_part_plan, rewinding_parts, rewinding_plan, rewinding_prepare, rewinding_runs, width_draw, width_plan, width_runs, zhou_draw, zhou_plan, zhou_runs
from lthlib.settings import HEADLINE_SEEDS

# notebook 04's values, read from the module that owns them (the width study's fraction
# kept; Zhou et al.'s criteria, fractions kept per layer at smoke and quick, starts)


# -------------------------------------------------------------------------------- FIGURES
NO_PUBLISHED = "no published values entered yet"
FC2019 = ("Frankle & Carbin 2019, The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks "
          "(ICLR 2019; arXiv:1803.03635)")
FRANKLE2020 = ("Frankle, Dziugaite, Roy & Carbin 2020, Linear Mode Connectivity and the Lottery Ticket "
               "Hypothesis (ICML 2020; arXiv:1912.05671)")
ZHOU2019 = ("Zhou, Lan, Liu & Yosinski 2019, Deconstructing Lottery Tickets: Zeros, Signs, and the Supermask "
            "(NeurIPS 2019; arXiv:1905.01067)")
RAMANUJAN2020 = ("Ramanujan, Wortsman, Kembhavi, Farhadi & Rastegari 2020, What's Hidden in a Randomly "
                 "Weighted Neural Network? (CVPR 2020)")
RENDA2020 = ("Renda, Frankle & Carbin 2020, Comparing Rewinding and Fine-tuning in Neural Network Pruning "
             "(ICLR 2020; arXiv:2003.02389)")

# Values checked against the papers' text (docs/reproduce.md says how); none read off a plot.
_LENET = {"model": "lenet300_100", "dataset": "mnist"}
_FC_S2 = "Frankle & Carbin 2019, Section 2 (LeNet-300-100, iterative pruning; Figure 4a; arXiv:1803.03635v5)"
_FC_S3 = "Frankle & Carbin 2019, Section 3 (Conv-2/4/6 on CIFAR-10, iterative pruning; Figure 5; arXiv:1803.03635v5)"
FC2019_LENET = (
    Published(quote="\"The winning tickets learn faster as Pm decreases from 100% to 21%, at which point "
                    "early-stopping occurs 38% earlier than for the original network.\"",
              citation=_FC_S2, label="Frankle & Carbin 2019: fastest at Pm = 21%, early stopping 38% earlier",
              x=21.0, applies_to=_LENET, panel="early_stop"),
    Published(quote="\"Further pruning causes learning to slow, returning to the early-stopping performance of the "
                    "original network when Pm = 3.6%.\"",
              citation=_FC_S2, label="Frankle & Carbin 2019: back to the original's early stopping at Pm = 3.6%",
              x=3.6, applies_to=_LENET, panel="early_stop"),
    Published(quote="test accuracy increases with pruning, \"improving by more than 0.3 percentage points when "
                    "Pm = 13.5%\"",
              citation=_FC_S2, label="Frankle & Carbin 2019: more than 0.3 points above the original at Pm = 13.5%",
              x=13.5, applies_to=_LENET, panel="accuracy"),
    Published(quote="\"after this point, accuracy decreases, returning to the level of the original network when "
                    "Pm = 3.6%\"",
              citation=_FC_S2, label="Frankle & Carbin 2019: back to the original's accuracy at Pm = 3.6%",
              x=3.6, applies_to=_LENET, panel="accuracy"),
    Published(quote="\"The average reinitialized iterative winning ticket's test accuracy drops off from the original "
                    "accuracy when Pm = 21.1%, compared to 2.9% for the winning ticket.\"",
              citation=_FC_S2, label="Frankle & Carbin 2019: random reinit falls below the original at Pm = 21.1%",
              x=21.1, applies_to=_LENET, panel="accuracy"),
)
_CONV_SPEED = ("\"Winning tickets reach minimum validation loss at best 3.5x faster for Conv-2 (Pm = 8.8%), 3.5x for "
               "Conv-4 (Pm = 9.2%), and 2.5x for Conv-6 (Pm = 15.1%).\"")
_CONV_ACCURACY = ("\"Test accuracy improves at best 3.4 percentage points for Conv-2 (Pm = 4.6%), 3.5 for Conv-4 "
                  "(Pm = 11.1%), and 3.3 for Conv-6 (Pm = 26.4%).\"")
_CONV_ABOVE = "\"All three networks remain above their original average test accuracy when Pm > 2%.\""
FC2019_CONV = tuple(
    value
    for model, speed, speed_at, gain, gain_at in (("conv2", "3.5x", 8.8, "3.4", 4.6),
                                                  ("conv4", "3.5x", 9.2, "3.5", 11.1),
                                                  ("conv6", "2.5x", 15.1, "3.3", 26.4))
    for value in (
        Published(quote=_CONV_SPEED, citation=_FC_S3, x=speed_at, panel="early_stop",
                  label=f"Frankle & Carbin 2019: early stopping at best {speed} sooner, at Pm = {speed_at}%",
                  applies_to={"model": model, "dataset": "cifar10"}),
        Published(quote=_CONV_ACCURACY, citation=_FC_S3, x=gain_at, panel="accuracy",
                  label=f"Frankle & Carbin 2019: best accuracy, {gain} points above the original, at Pm = {gain_at}%",
                  applies_to={"model": model, "dataset": "cifar10"}),
        Published(quote=_CONV_ABOVE, citation=_FC_S3, x=2.0, panel="accuracy",
                  label="Frankle & Carbin 2019: above the original's accuracy while Pm > 2%",
                  applies_to={"model": model, "dataset": "cifar10"}),
    ))
ZHOU2019_MNIST = (
    Published(quote="Supermasks, \"masks that can be applied to an untrained, randomly initialized network to "
                    "produce a model with performance far better than chance (86% on MNIST, 41% on CIFAR-10)\"",
              citation="Zhou et al. 2019, abstract",
              label="Zhou et al. 2019: a supermask, untrained, 86% on MNIST",
              y=0.86, applies_to={"dataset": "mnist"}),
)

# Renda et al.'s paper text could not be read here (stored copies stop after the abstract), so
# these values come from the authors' released data behind the paper's figures
# (lottery-ticket/rewinding-iclr20-public, vision/plot/: "The code in this repo was used to
# generate all of the data and plots in the paper"), computed from it as the citation says.
_RENDA_DATA = ("Renda et al. 2020, the authors' released data behind the paper's figures "
               "(lottery-ticket/rewinding-iclr20-public, vision/plot/pruned_dataframe.pkl: network resnet20, "
               "Unstructured, is_iterative, retrain_time 170 epochs, density 0.1074; median of the 3 trials)")
_RENDA_RESNET20 = {"model": "resnet20", "dataset": "cifar10"}
RENDA2020_RESNET20 = (
    Published(quote="ResNet-20 on CIFAR-10, pruned iteratively to 10.7% of the weights, retrained 170 epochs after "
                    "each step with weight rewinding ('lottery'): test accuracy 91.00% (trials 90.85%, 91.00%, 91.04%)",
              citation=_RENDA_DATA, label="Renda et al. 2020 data: weight rewinding at 10.7%, 91.0%",
              y=0.9100, applies_to=_RENDA_RESNET20),
    Published(quote="the same with learning-rate rewinding ('lr_finetune'): 91.08% (trials 90.84%, 91.08%, 91.15%)",
              citation=_RENDA_DATA, label="Renda et al. 2020 data: learning-rate rewinding at 10.7%, 91.1%",
              y=0.91075, applies_to=_RENDA_RESNET20),
    Published(quote="the same with fine-tuning ('finetune', learning rate 0.001): 89.26% (trials 88.62%, 89.26%, "
                    "89.58%)",
              citation=_RENDA_DATA, label="Renda et al. 2020 data: fine-tuning at 10.7%, 89.3%",
              y=0.8926, applies_to=_RENDA_RESNET20),
    Published(quote="the dense ResNet-20: mean test accuracy 91.71% over the 246 dense runs in the data",
              citation="Renda et al. 2020, the authors' released data (lottery-ticket/rewinding-iclr20-public, "
                       "vision/plot/bases_dataframe.pkl, network resnet20)",
              label="Renda et al. 2020 data: dense ResNet-20, 91.7%", y=0.9171, applies_to=_RENDA_RESNET20),
)

FIGURES: dict[str, Figure] = {}


def _register(figure: Figure) -> Figure:
    FIGURES[figure.id] = figure
    return figure


_register(Figure(
    id="fc2019-fig3",
    description="LeNet-300-100 IMP winning tickets vs random reinitialisation: early-stopping iteration and test "
                "accuracy at early stopping against % of weights remaining (5 published values, from the text)",
    paper=FC2019, cite="Frankle & Carbin 2019",
    paper_figure="Figure 4 (LeNet, iterative pruning, with random reinitialisation; the paper's Figure 3 "
                 "shows the training curves, so the id's number is not the paper's)",
    default_seeds=HEADLINE_SEEDS,
    plan=lambda scale, n: imp_plan("fc2019-fig3", ["lenet300_100" if scale == "paper" else None], scale, n),
    draw=imp_draw, runner=imp_runs, published=FC2019_LENET))
_register(Figure(
    id="fc2019-conv",
    description="Conv-2/4/6 IMP winning tickets vs random reinitialisation on CIFAR-10: early-stopping iteration "
                "and test accuracy against % of weights remaining (9 published values, from the text)",
    paper=FC2019, cite="Frankle & Carbin 2019",
    paper_figure="Figure 5 (Conv-2/4/6, iterative pruning, with random reinitialisation)",
    default_seeds=HEADLINE_SEEDS,
    plan=lambda scale, n: imp_plan("fc2019-conv", ["conv2", "conv4", "conv6"] if scale == "paper"
                                    else ["cnn_mnist1d"], scale, n),
    draw=imp_draw, runner=imp_runs, published=FC2019_CONV, parts=imp_parts, part_plan=imp_part_plan))
_register(Figure(
    id="frankle2020-instability",
    description="instability (test error barrier between two children) against the spawn iteration k, dense "
                f"network and IMP subnetworks, ResNet-20 and VGG-16 ({NO_PUBLISHED})",
    paper=FRANKLE2020, cite="Frankle et al. 2020",
    paper_figure="instability against k of the dense networks and of IMP subnetworks (figure numbers not "
                 "checked here)",
    default_seeds=HEADLINE_SEEDS,
    plan=lambda scale, n: rewinding_plan("frankle2020-instability", ["resnet20", "vgg16"], scale, n,
                                          instability=True),
    draw=instability_draw, runner=instability_runs, parts=rewinding_parts, part_plan=rewinding_part_plan,
    prepare=rewinding_prepare))
_register(Figure(
    id="frankle2020-rewinding",
    description="IMP with rewinding to iteration k against k = 0 (beside random reinit and random pruning), "
                f"ResNet-20: test accuracy at the end of training against k ({NO_PUBLISHED})",
    paper=FRANKLE2020, cite="Frankle et al. 2020",
    paper_figure="IMP subnetworks rewound to iteration k, ResNet-20 (figure number not checked here)",
    default_seeds=HEADLINE_SEEDS,
    plan=lambda scale, n: rewinding_plan("frankle2020-rewinding", ["resnet20"], scale, n),
    draw=rewinding_draw, runner=rewinding_runs, parts=rewinding_parts, part_plan=rewinding_part_plan,
    prepare=rewinding_prepare))
_register(Figure(
    id="zhou2019-supermask",
    description="supermasks: test accuracy of untrained networks masked by each criterion (large final, same "
                "sign = the supermask) against % of weights kept (1 published value, from the abstract)",
    paper=ZHOU2019, cite="Zhou et al. 2019",
    paper_figure="untrained accuracy of masks by criterion, kept weights at their initial values or a signed "
                 "constant (figure number not checked here)",
    default_seeds=HEADLINE_SEEDS,
    plan=lambda scale, n: zhou_plan("zhou2019-supermask", scale, n),
    draw=zhou_draw, runner=zhou_runs, published=ZHOU2019_MNIST))
_register(Figure(
    id="ramanujan2020-width",
    description="edge-popup (a supermask learned on frozen random weights, 50% kept) against the same network "
                f"trained, width by width; paper scale: Conv-4 on CIFAR-10 ({NO_PUBLISHED})",
    paper=RAMANUJAN2020, cite="Ramanujan et al. 2020",
    paper_figure="accuracy against network width (figure number not checked here); at paper scale Conv-4 on "
                 "CIFAR-10 with every layer scaled (the authors' Conv4Wide), at smoke and quick notebook 04's "
                 "MLPs on MNIST-1D",
    default_seeds=HEADLINE_SEEDS,
    plan=lambda scale, n: width_plan("ramanujan2020-width", scale, n), draw=width_draw, runner=width_runs))

_register(Figure(
    id="renda2020-retraining",
    description="three ways to retrain after each IMP pruning step, the same budget for each (weight rewinding, "
                "learning-rate rewinding, fine-tuning): test accuracy against % of weights remaining, ResNet-20 "
                "(4 published values, from the authors' released data)",
    paper=RENDA2020, cite="Renda et al. 2020",
    paper_figure="iterative unstructured pruning, accuracy against compression ratio by retraining method; here "
                 "ResNet-20 (in the authors' data and code) rather than the main text's networks, every method at "
                 "one retraining budget (figure numbers not checked here)",
    default_seeds=HEADLINE_SEEDS,
    plan=lambda scale, n: retraining_plan("renda2020-retraining", scale, n),
    draw=retraining_draw, runner=retraining_runs, published=RENDA2020_RESNET20))

SCALE_WORDS = {
    "smoke": "seconds, for tests: the MNIST-1D stand-in, numbers mean nothing",
    "quick": "minutes on a laptop CPU: the offline MNIST-1D stand-in the notebooks use",
    "paper": "the published model and dataset (hours on a CPU; GPU advised)",
}
