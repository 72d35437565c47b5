"""Training settings as one frozen dataclass, plus the scale presets.

An experiment is a pure function of its settings, so every knob that changes a number
lives here (seeds included). A *scale* is only a preset of these settings:

- ``"smoke"``: seconds, for CI; the numbers mean nothing.
- ``"quick"``: the default; minutes on a laptop CPU, offline (MNIST-1D).
- ``"paper"``: the published setting (LeNet-300-100 on MNIST by default).
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from lthlib.core.errors import SettingsError
from lthlib.core.identity import digest
from lthlib.data.datasets import DATASETS
from lthlib.models.initialisation import INITS
from lthlib.models.networks import MODELS, check_model_fits

SCALES = ("smoke", "quick", "paper")
VALIDATION = ("holdout", "test")  # TrainSettings.validation
ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's default betas
OPTIMIZERS = ("adam", "adamw", "sgd")  # adamw: decoupled weight decay (Loshchilov & Hutter 2019)

# Per-model optimiser presets, as published (docs/fidelity.md checks them line by line).
# LeNet-300-100 and Conv-2/4/6: Frankle & Carbin 2019 (Figure 2; Gaussian Glorot
# initialisation; evaluated every 100 iterations, Appendix G).
# ResNet-20 and VGG-16: Frankle et al. 2020 ("Linear mode connectivity and the LTH",
# Table 1): 63K iterations of batch 128, lr drops 10x at 32K and 48K.
PAPER_PRESETS: dict[str, dict[str, Any]] = {
    "lenet300_100": dict(dataset="mnist", optimizer="adam", lr=1.2e-3, batch_size=60,
                         iterations=50_000, eval_every=100, init="glorot_normal"),
    # MNIST-1D has no paper preset: LeNet's optimiser; 3,000 iterations (~25 epochs) pass
    # the validation-loss minimum by enough to show it; evaluated every 50 iterations so
    # that early-stopping iterations and "iterations to reach" are read on a fine grid.
    "mlp_mnist1d": dict(dataset="mnist1d", optimizer="adam", lr=1.2e-3, batch_size=60,
                        iterations=3_000, eval_every=50),
    "cnn_mnist1d": dict(dataset="mnist1d", optimizer="adam", lr=1e-3, batch_size=60,
                        iterations=3_000, eval_every=100),
    "conv2": dict(dataset="cifar10", optimizer="adam", lr=2e-4, batch_size=60,
                  iterations=20_000, eval_every=100, init="glorot_normal"),
    "conv4": dict(dataset="cifar10", optimizer="adam", lr=3e-4, batch_size=60,
                  iterations=25_000, eval_every=100, init="glorot_normal"),
    "conv6": dict(dataset="cifar10", optimizer="adam", lr=3e-4, batch_size=60,
                  iterations=30_000, eval_every=100, init="glorot_normal"),
    # ResNet-20 and VGG-16 as open_lth trains them (Frankle et al. 2020, 2021): on all 50,000
    # training images, evaluated on the test set, read at the end of training
    # (validation="test"; Run.reported). WRN-22-2 likewise (RigL's code: 50,000, final accuracy).
    "resnet20": dict(dataset="cifar10", optimizer="sgd", lr=0.1, momentum=0.9,
                     weight_decay=1e-4, batch_size=128, iterations=63_000,
                     lr_milestones=(32_000, 48_000), lr_gamma=0.1, augment=True,
                     eval_every=1_000, init="kaiming_normal", validation="test"),
    "vgg16": dict(dataset="cifar10", optimizer="sgd", lr=0.1, momentum=0.9,
                  weight_decay=1e-4, batch_size=128, iterations=63_000,
                  lr_milestones=(32_000, 48_000), lr_gamma=0.1, augment=True,
                  eval_every=1_000, init="kaiming_normal", validation="test"),
    # WRN-22-2: RigL's CIFAR-10 setting (Evci et al. 2020; google-research/rigl
    # cifar_resnet/resnet_train_eval.py): 97,656 steps (250 epochs) of batch 128, SGD with
    # momentum 0.9 (theirs is Nesterov; ours is plain momentum), lr 0.1 divided by 5 at 30K,
    # 60K and 90K steps, L2 5e-4.
    "wrn22_2": dict(dataset="cifar10", optimizer="sgd", lr=0.1, momentum=0.9,
                    weight_decay=5e-4, batch_size=128, iterations=97_656,
                    lr_milestones=(30_000, 60_000, 90_000), lr_gamma=0.2, augment=True,
                    eval_every=1_000, validation="test"),
    # The decoder-only transformer on a + b mod 97 (notebook 10), Power et al. 2022 as the
    # authors' code trains it (openai/grok, grok/training.py; the paper's text was not
    # checked, docs/fidelity.md): 2 layers, width 128, 4 heads, batch min(512, half the
    # training set), lr 1e-3 with 10 warm-up steps, up to 1e5 steps, AdamW with betas
    # (0.9, 0.98) and decoupled weight decay, default 0 (--weight_decay). 50% of the pairs
    # for training is ours (the code's --train_data_pct default is 5; unverified). The quick
    # scale trains with Adam and a small L2 term instead (TRANSFORMER_PRESETS: fixed on
    # pilot seeds before AdamW was in the trainer).
    "transformer": dict(dataset="modadd97", optimizer="adamw", betas=(0.9, 0.98), lr=1e-3, batch_size=512,
                        iterations=100_000, eval_every=500, warmup_iterations=10, weight_decay=0.0,
                        train_size=4704, model_kwargs=dict(d_model=128, heads=4, layers=2)),
}

# Variants of Frankle et al. 2020 (LMC, Table 1) that change only the learning rate:
# "low" lowers it; "warmup" ramps it up linearly over the first 30K iterations.
PAPER_VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "resnet20": {"low": dict(lr=0.01), "warmup": dict(lr=0.03, warmup_iterations=30_000)},
    "vgg16": {"low": dict(lr=0.01), "warmup": dict(lr=0.1, warmup_iterations=30_000)},
}

# The model a dataset gets when only the dataset is named.
DEFAULT_MODEL = {"mnist1d": "mlp_mnist1d", "mnist": "lenet300_100",
                 "fashion-mnist": "lenet300_100", "cifar10": "conv2",
                 "modadd97": "transformer", "modadd13": "transformer"}
# The model each scale uses when nothing is named.
SCALE_DEFAULT_MODEL = {"smoke": "mlp_mnist1d", "quick": "mlp_mnist1d", "paper": "lenet300_100"}
# How a scale shortens a preset: (iterations cap, eval_every cap, training-set cap).
SCALE_LIMITS = {"smoke": (150, 25, 2_000), "quick": (6_000, 100, None), "paper": (None, None, None)}


# How many seeds a scale runs at most (None: as many as asked); smoke runs two: seconds.
MAX_SEEDS: dict[str, int | None] = {"smoke": 2, "quick": None, "paper": None}


def seeds_for(scale: str, seeds: int) -> int:
    """How many of the ``seeds`` asked for a scale runs (smoke runs two: seconds)."""
    check_parameters(SCALE=scale, SEEDS=seeds)
    cap = MAX_SEEDS[scale]
    return seeds if cap is None else min(seeds, cap)


def check_parameters(**parameters: Any) -> None:
    """Check a notebook's parameters cell (``SCALE``, ``SEEDS``, ``DEVICE``, ...) before
    anything runs: papermill passes ``-p SEEDS three`` through as a string, and a raw
    numpy error three cells later would not name ``SEEDS``."""
    for name, value in parameters.items():
        if name == "SCALE" and value not in SCALES:
            raise SettingsError(f"SCALE={value!r}: choose one of {list(SCALES)}")
        if name.endswith("SEEDS"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise SettingsError(f"{name}={value!r}: must be an integer (how many seeds), "
                                    "e.g. papermill -p SEEDS 3")
            if value < 1:
                raise SettingsError(f"{name}={value!r}: must be >= 1 (claims need >= 2)")
        if name.endswith("_DIR") and value is not None and not isinstance(value, (str, os.PathLike)):
            raise SettingsError(f"{name}={value!r}: must be a folder path or None")


def checked_replace(settings: Any, changes: dict[str, Any], noun: str) -> Any:
    """``dataclasses.replace`` of a settings dataclass, refusing unknown names with a
    SettingsError that lists the known ones (``noun``: what the names are called); the copy's
    ``__post_init__`` validates the new values again."""
    known = [f.name for f in dataclasses.fields(settings)]
    unknown = set(changes) - set(known)
    if unknown:
        raise SettingsError(f"unknown {noun}(s) {sorted(unknown)}; known: {known}")
    return dataclasses.replace(settings, **changes)


@dataclass(frozen=True)
class TrainSettings:
    """Everything that determines one training run.

    ``iterations`` counts optimiser steps (the papers report iterations, not epochs).
    ``seed`` fixes the initial weights; ``data_order_seed`` fixes the order of minibatches
    and the augmentation draws (None: same as ``seed``). Keeping them apart is what lets
    two runs differ only in SGD noise (linear mode connectivity).
    """

    model: str = "mlp_mnist1d"
    dataset: str = "mnist1d"
    optimizer: str = "adam"
    lr: float = 1.2e-3
    batch_size: int = 60
    iterations: int = 6_000
    momentum: float = 0.0
    weight_decay: float = 0.0
    warmup_iterations: int = 0
    lr_milestones: tuple[int, ...] = ()
    lr_gamma: float = 0.1
    augment: bool = False
    eval_every: int = 100
    seed: int = 0
    data_order_seed: int | None = None
    validation_size: int | None = None
    train_size: int | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    init: str = "default"  # the initialisation (lthlib.models.initialisation.INITS); paper presets name the paper's
    # "holdout": validation_size training examples are held out for validation (early
    # stopping); "test": train on every training example and evaluate on the test set as
    # open_lth does (Frankle et al. 2020), so such a run is read at its end, never at early
    # stopping (that would select on the test set: Run.at_early_stop refuses)
    validation: str = "holdout"
    # Adam's and AdamW's (beta1, beta2); torch's default. Power et al. 2022 train their
    # transformer with AdamW at betas (0.9, 0.98).
    betas: tuple[float, float] = ADAM_BETAS
    # evaluate the training split (its first TRAIN_EVAL_SIZE examples) at every evaluation:
    # the training curves. False records NaN for them and watches the validation loss for
    # divergence; ``for_scale`` sets it False unless asked, since only training curves read it
    # (notebooks 01 and 10) and it was 5,000 of the 8,000 examples each MNIST-1D evaluation ran.
    eval_train: bool = True
    # evaluate the test set at every evaluation: the test curves. False evaluates it where a
    # number is read, at the early-stopping evaluation (the weights of the lowest validation
    # loss so far are kept and evaluated at the end: the same numbers) and at the end, and
    # records NaN between; ``for_scale`` follows ``eval_train`` unless asked, since only
    # training curves plot it (notebooks 01 and 10), and it was 2,000 of the 3,000 examples
    # of each MNIST-1D evaluation. A run without a validation split (``validation="test"``)
    # watches the test set, so it evaluates it every time either way.
    test_curve: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in self.lr_milestones))
        if isinstance(self.betas, (list, tuple)):
            object.__setattr__(self, "betas", tuple(self.betas))
        object.__setattr__(self, "model_kwargs", dict(self.model_kwargs))
        self.validate()

    def validate(self) -> None:
        """Raise SettingsError naming the first setting that cannot work."""
        def bad(name: str, why: str) -> SettingsError:
            return SettingsError(f"{name}={getattr(self, name)!r}: {why}")

        if self.model not in MODELS:
            raise bad("model", f"unknown model; choose one of {sorted(MODELS)}")
        if self.dataset not in DATASETS:
            raise bad("dataset", f"unknown dataset; choose one of {sorted(DATASETS)}")
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"choose one of {list(OPTIMIZERS)}")
        if self.validation not in VALIDATION:
            raise bad("validation", f"choose one of {list(VALIDATION)} (held-out examples, or the test set "
                                    "with training on every example, as open_lth)")
        if self.init not in INITS:
            raise bad("init", f"choose one of {sorted(INITS)} (the papers' initialisations)")
        for name in ("lr", "batch_size", "iterations", "eval_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not (math.isfinite(value) and value > 0):
                raise bad(name, "must be a finite positive number")
        for name in ("momentum", "weight_decay", "lr_gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad(name, "must be a number")
        for name in ("batch_size", "iterations", "eval_every", "warmup_iterations", "seed"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise bad(name, "must be an integer")
        for name in ("seed", "data_order_seed"):
            value = getattr(self, name)
            if value is None and name == "data_order_seed":
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                raise bad(name, "must be an integer" + (" or None (same as seed)" if name != "seed" else ""))
            if not 0 <= value < 2 ** 63:
                raise bad(name, "must lie in [0, 2**63)")
        if not 0.0 <= self.momentum < 1.0:  # also False for NaN
            raise bad("momentum", "must be a finite number in [0, 1)")
        if self.momentum and self.optimizer != "sgd":
            raise bad("momentum", "only SGD uses momentum; Adam has its own betas")
        if not (isinstance(self.betas, tuple) and len(self.betas) == 2
                and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0.0 <= b < 1.0
                        for b in self.betas)):
            raise bad("betas", "must be two numbers in [0, 1) (Adam's beta1, beta2)")
        if self.betas != ADAM_BETAS and self.optimizer == "sgd":
            raise bad("betas", "only Adam and AdamW use betas; SGD has momentum")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise bad("weight_decay", "must be a finite number >= 0")
        if self.warmup_iterations < 0:
            raise bad("warmup_iterations", "must be >= 0")
        if list(self.lr_milestones) != sorted(set(self.lr_milestones)):
            raise bad("lr_milestones", "must be strictly increasing iterations")
        if any(m <= 0 or m >= self.iterations for m in self.lr_milestones):
            raise bad("lr_milestones", f"each must lie inside (0, iterations={self.iterations})")
        if not 0.0 < self.lr_gamma <= 1.0:
            raise bad("lr_gamma", "must be a finite number in (0, 1]")
        for name in ("augment", "eval_train", "test_curve"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "must be True or False")
        if self.augment and self.dataset not in ("cifar10",):
            raise bad("augment", f"the crop-and-flip augmentation is for CIFAR-10 images; "
                                 f"dataset={self.dataset!r} would be cropped and mirrored "
                                 "meaninglessly (use augment=False)")
        for name in ("validation_size", "train_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                why = "must be a positive integer or None (the dataset's default)"
                if name == "validation_size" and value == 0:
                    why += "; early stopping needs a validation split"
                raise bad(name, why)
        check_model_fits(self.model, self.dataset, self.model_kwargs)

    @property
    def order_seed(self) -> int:
        """The seed of the minibatch order (``data_order_seed``, else ``seed``)."""
        return self.seed if self.data_order_seed is None else self.data_order_seed

    def replace(self, **changes: Any) -> "TrainSettings":
        """A copy with some settings changed (validated again)."""
        return checked_replace(self, changes, "setting")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; ``TrainSettings(**d)`` gives the settings back."""
        d = dataclasses.asdict(self)
        d["lr_milestones"] = list(self.lr_milestones)
        d["betas"] = list(self.betas)
        for name, default in (("init", "default"), ("validation", "holdout"), ("betas", list(ADAM_BETAS)),
                              ("eval_train", True), ("test_curve", True)):
            if d[name] == default:  # left out, so the names of runs stored before it existed hold
                del d[name]
        return d

    def digest(self) -> str:
        """A short hash of the canonical settings: the name of a run in the store."""
        return digest(self)


def for_scale(scale: str = "quick", model: str | None = None, dataset: str | None = None,
              variant: str | None = None, default_model: str | None = None,
              eval_train: bool = False, test_curve: bool | None = None, **overrides: Any) -> TrainSettings:
    """Settings for a scale: the model's published preset, shortened for smoke/quick.

    ``model`` / ``dataset`` left as None take the scale's defaults (MNIST-1D MLP offline for
    smoke and quick, LeNet-300-100 on MNIST for paper). ``variant`` picks a published
    learning-rate variant (``"low"`` or ``"warmup"`` for ResNet-20 and VGG-16).
    ``default_model``: the model when neither ``model`` nor ``dataset`` is named (a
    notebook's published network, e.g. ResNet-20 for notebook 06 at paper scale).
    ``eval_train``: evaluate the training split too (training curves: notebook 01's figure
    and claims, notebook 10's); off by default, since no other figure or claim reads it.
    ``test_curve``: evaluate the test set at every evaluation, not only at early stopping and
    the end (``TrainSettings.test_curve``); None follows ``eval_train`` (the curve figures).
    ``overrides`` win over everything.
    """
    if scale not in SCALES:
        raise SettingsError(f"scale={scale!r}: choose one of {list(SCALES)}")
    if model is None and dataset is None and default_model is not None:
        model = default_model
    if model is None:
        model = DEFAULT_MODEL.get(dataset, None) if dataset else SCALE_DEFAULT_MODEL[scale]
        if model is None:
            raise SettingsError(f"dataset={dataset!r}: unknown dataset; "
                                f"choose one of {sorted(DEFAULT_MODEL)}")
    if model not in PAPER_PRESETS:
        raise SettingsError(f"model={model!r}: no preset; choose one of {sorted(PAPER_PRESETS)} "
                            "or build TrainSettings(...) directly")
    values: dict[str, Any] = {"model": model, **PAPER_PRESETS[model]}
    if scale != "paper":  # the small scales keep PyTorch's default init (their own choice)
        values.pop("init", None)
    if variant is not None:
        known = PAPER_VARIANTS.get(model, {})
        if variant not in known:
            raise SettingsError(f"variant={variant!r}: {model} has "
                                f"{'variants ' + str(sorted(known)) if known else 'no variants'}")
        values.update(known[variant])
    if dataset is not None:
        values["dataset"] = dataset
    max_iterations, max_eval_every, max_train = SCALE_LIMITS[scale]
    if max_iterations is not None and values["iterations"] > max_iterations:
        ratio = max_iterations / values["iterations"]
        values["iterations"] = max_iterations
        values["lr_milestones"] = tuple(max(1, int(m * ratio)) for m in values.get("lr_milestones", ()))
        values["warmup_iterations"] = int(values.get("warmup_iterations", 0) * ratio)
    if max_eval_every is not None:
        values["eval_every"] = min(values["eval_every"], max_eval_every)
    if max_train is not None:
        values["train_size"] = max_train
    values["eval_train"] = eval_train
    values["test_curve"] = eval_train if test_curve is None else test_curve
    values.update(overrides)
    return TrainSettings(**values)


# Seeds behind every headline claim (and every notebook's SEEDS parameter, which papermill
# needs as a literal; tests/test_notebooks.py checks each equals this): with 8, an effect
# that every seed shows has p = 2^-8 = 0.0039, below Holm's smallest level in every family
# declared below (0.05 / 8). ``python -m lthlib reproduce`` runs a figure with as many.
HEADLINE_SEEDS = 8

# How many headline claims each notebook makes at a scale, fixed with its claims before its
# run: the family Holm's procedure corrects for (``lthlib.report.claims``). A notebook that makes
# more is an error when it makes them; ``python -m lthlib run --check-claims`` also fails
# when it makes fewer. A scale not listed is judged without a family correction, and its
# tables say so (the paper scale, whose claim counts follow its presets).
HEADLINE_FAMILIES: dict[str, dict[str, int]] = {
    "01": {"quick": 3}, "02": {"quick": 4}, "03": {"quick": 6}, "04": {"quick": 7}, "05": {"quick": 1},
    "06": {"quick": 7}, "07": {"quick": 1}, "08": {"quick": 3}, "09": {"quick": 8}, "10": {"quick": 5},
}
