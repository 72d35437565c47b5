"""The bad-input table: every wrong input a user (or a copied file) can give fails early
with an error of a known type whose message names the setting and says what is allowed.

Each row: (id, a call that must fail, the exception type, words the message must contain).
Calls are lambdas so that nothing runs at collection; none of them trains for more than a
few steps, and every check that guards a long computation runs before it starts.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lthlib.core.store import Store, StoreError, atomic_save
from lthlib.core.streams import stream_seed
from lthlib.data.datasets import DatasetUnavailableError, load_dataset
from lthlib.engine.parallel import default_workers
from lthlib.engine.training import TrainingDiverged, model_for, train
from lthlib.experiments.imp import IMPSettings, run_imp
from lthlib.experiments.lmc import error_barrier, interpolate_states, interpolation_curve
from lthlib.masks import Mask, MaskError
from lthlib.methods.pruning import PruningError, magnitude_prune
from lthlib.methods.supermask import mask_by_criterion
from lthlib.models.networks import build_model
from lthlib.settings import SettingsError, TrainSettings, check_parameters, for_scale, seeds_for

REPO = Path(__file__).resolve().parents[1]
T = dict(model="mlp_mnist1d", dataset="mnist1d", iterations=40, eval_every=10, batch_size=32,
         train_size=600, validation_size=200, model_kwargs={"hidden": (32, 16)})


def settings(**changes) -> TrainSettings:
    return TrainSettings(**{**T, **changes})


def mlp(seed: int = 0, hidden=(32, 16)) -> torch.nn.Module:
    return build_model("mlp_mnist1d", (40,), 10, seed=seed, hidden=hidden)


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist1d", train_size=600, validation_size=200)


def train_briefly(data, **changes):
    s = settings(**changes)
    return train(model_for(s, data), data, s, progress=False)


# --------------------------------------------------------------------------- settings
SETTINGS_CASES = [
    ("lr=inf", lambda: settings(lr=math.inf), SettingsError, ["lr=inf", "finite"]),
    ("lr=nan", lambda: settings(lr=math.nan), SettingsError, ["lr=nan", "finite"]),
    ("lr=nan adam", lambda: settings(optimizer="adam", lr=float("nan")), SettingsError, ["lr", "finite"]),
    ("lr=0", lambda: settings(lr=0), SettingsError, ["lr=0", "positive"]),
    ("lr='0.1'", lambda: settings(lr="0.1"), SettingsError, ["lr='0.1'", "number"]),
    ("weight_decay=nan", lambda: settings(weight_decay=math.nan), SettingsError, ["weight_decay", "finite"]),
    ("weight_decay=nan adam", lambda: settings(optimizer="adam", weight_decay=float("nan")), SettingsError, ["weight_decay", "finite"]),
    ("weight_decay=-1", lambda: settings(weight_decay=-1.0), SettingsError, ["weight_decay", ">= 0"]),
    ("momentum=nan", lambda: settings(optimizer="sgd", momentum=math.nan), SettingsError, ["momentum", "[0, 1)"]),
    ("momentum=inf", lambda: settings(optimizer="sgd", momentum=math.inf), SettingsError, ["momentum", "[0, 1)"]),
    ("momentum with adam", lambda: settings(optimizer="adam", momentum=0.9), SettingsError, ["momentum", "SGD"]),
    ("lr_gamma=nan", lambda: settings(lr_gamma=math.nan), SettingsError, ["lr_gamma", "(0, 1]"]),
    ("optimizer=rmsprop", lambda: settings(optimizer="rmsprop"), SettingsError, ["optimizer='rmsprop'", "adam", "adamw", "sgd"]),
    ("model unknown", lambda: settings(model="resnet50"), SettingsError, ["model='resnet50'", "mlp_mnist1d"]),
    ("dataset unknown", lambda: settings(dataset="imagenet"), SettingsError, ["dataset='imagenet'", "mnist1d"]),
    ("batch_size=0", lambda: settings(batch_size=0), SettingsError, ["batch_size=0", "positive"]),
    ("batch_size=2.5", lambda: settings(batch_size=2.5), SettingsError, ["batch_size=2.5", "integer"]),
    ("iterations=True", lambda: settings(iterations=True), SettingsError, ["iterations=True", "number"]),
    ("eval_every=-5", lambda: settings(eval_every=-5), SettingsError, ["eval_every=-5", "positive"]),
    ("seed=True", lambda: settings(seed=True), SettingsError, ["seed=True", "integer"]),
    ("seed=-1", lambda: settings(seed=-1), SettingsError, ["seed=-1", "2**63"]),
    ("seed=2**64", lambda: settings(seed=2 ** 64), SettingsError, ["seed=", "2**63"]),
    ("data_order_seed='a'", lambda: settings(data_order_seed="a"), SettingsError, ["data_order_seed='a'", "integer"]),
    ("validation_size=0", lambda: settings(validation_size=0), SettingsError, ["validation_size=0", "early stopping"]),
    ("train_size=True", lambda: settings(train_size=True), SettingsError, ["train_size=True", "integer"]),
    ("lr_milestones out of range", lambda: settings(lr_milestones=(50,)), SettingsError, ["lr_milestones", "iterations=40"]),
    ("model_kwargs typo", lambda: settings(model_kwargs={"hiden": (8,)}), SettingsError, ["hiden", "hidden"]),
    ("model_kwargs tensor", lambda: settings(model_kwargs={"hidden": torch.tensor([8])}), SettingsError, ["model_kwargs", "hidden"]),
    ("model_kwargs for a model without any", lambda: settings(model="vgg16", dataset="cifar10", model_kwargs={"width": 2}),
     SettingsError, ["width", "vgg16", "takes none"]),
    ("conv width_mult not a number", lambda: settings(model="conv2", dataset="cifar10", model_kwargs={"width_mult": "2"}),
     SettingsError, ["width_mult", "positive number"]),
    ("conv width_mult zero", lambda: settings(model="conv4", dataset="cifar10", model_kwargs={"width_mult": 0}),
     SettingsError, ["width_mult", "positive number"]),
    ("conv width_mult bool", lambda: settings(model="conv4", dataset="cifar10", model_kwargs={"width_mult": True}),
     SettingsError, ["width_mult", "positive number"]),
    ("conv width typo", lambda: settings(model="conv6", dataset="cifar10", model_kwargs={"width": 2}),
     SettingsError, ["width", "width_mult"]),
    ("conv2 on mnist1d", lambda: settings(model="conv2", model_kwargs={}), SettingsError, ["conv2", "mnist1d", "cifar10"]),
    ("augment on mnist1d", lambda: settings(augment=True), SettingsError, ["augment=True", "CIFAR-10"]),
    ("replace unknown", lambda: settings().replace(lrr=0.1), SettingsError, ["lrr", "lr"]),
    ("for_scale scale", lambda: for_scale("big"), SettingsError, ["scale='big'", "quick"]),
    ("for_scale variant", lambda: for_scale("quick", model="resnet20", variant="fast"), SettingsError, ["variant='fast'", "low"]),
    ("rounds=0", lambda: IMPSettings(settings(), rounds=0), SettingsError, ["rounds=0", ">= 1"]),
    ("rate=1.5", lambda: IMPSettings(settings(), rate=1.5), SettingsError, ["rate", "1.5"]),
    ("rewind_iteration=True", lambda: IMPSettings(settings(), rewind_iteration=True), SettingsError,
     ["rewind_iteration=True", "integer"]),
    ("rewind_iteration too late", lambda: IMPSettings(settings(), rewind_iteration=40), SettingsError,
     ["rewind_iteration=40", "iterations=40"]),
    ("global scope with output_rate", lambda: IMPSettings(settings(), scope="global", output_rate=0.1), SettingsError,
     ["output_rate", "global", "None"]),
    ("scope unknown", lambda: IMPSettings(settings(), scope="local"), SettingsError, ["scope='local'", "layerwise"]),
    ("control unknown", lambda: IMPSettings(settings(), controls=("shuffle",)), SettingsError, ["shuffle", "reinit"]),
    ("control_rounds outside", lambda: IMPSettings(settings(), rounds=2, control_rounds=(3,)), SettingsError,
     ["control_rounds", "rounds=2"]),
    ("exclude unknown layer", lambda: IMPSettings(settings(), exclude=("hidden.9.weight",)).check_layers(mlp()),
     SettingsError, ["hidden.9.weight", "output.weight"]),
    ("SEEDS=0", lambda: check_parameters(SCALE="quick", SEEDS=0), SettingsError, ["SEEDS=0", ">= 1"]),
    ("SEEDS='three'", lambda: check_parameters(SCALE="quick", SEEDS="three"), SettingsError, ["SEEDS='three'", "integer"]),
    ("SCALE='fast'", lambda: check_parameters(SCALE="fast", SEEDS=3), SettingsError, ["SCALE='fast'", "quick"]),
    ("seeds_for 0", lambda: seeds_for("quick", 0), SettingsError, ["SEEDS=0", ">= 1"]),
]


@pytest.mark.parametrize("make, error, words", [pytest.param(*c[1:], id=c[0]) for c in SETTINGS_CASES])
def test_bad_setting_is_named(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"


# --------------------------------------------------------------------------- data, masks, models, maths
def _env(name, value, call):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        return call()
    finally:
        if old is None:
            os.environ.pop(name)
        else:
            os.environ[name] = old


def _file(tmp_path: Path, name: str = "a_file") -> Path:
    path = tmp_path / name
    path.write_text("not a folder")
    return path


API_CASES = [
    ("train_size larger than the data", lambda tmp: load_dataset("mnist1d", train_size=10 ** 6), SettingsError,
     ["train_size=1000000", "training examples"]),
    ("validation_size larger than the data", lambda tmp: load_dataset("mnist1d", validation_size=10 ** 6), SettingsError,
     ["validation_size=1000000", "examples"]),
    ("validation_size=0 in load_dataset", lambda tmp: load_dataset("mnist1d", validation_size=0), SettingsError,
     ["validation_size=0", "early stopping"]),
    ("dataset unknown in load_dataset", lambda tmp: load_dataset("imagenet"), SettingsError, ["imagenet", "mnist1d"]),
    ("LTHLIB_DATA_DIR is a file", lambda tmp: _env("LTHLIB_DATA_DIR", str(_file(tmp)), lambda: load_dataset("mnist1d", root=None)),
     DatasetUnavailableError, ["LTHLIB_DATA_DIR", "is a file", "folder"]),
    ("mnist offline", lambda tmp: load_dataset("mnist", root=tmp, download=False), DatasetUnavailableError,
     ["MNIST", "mnist1d"]),
    ("LTHLIB_WORKERS=abc", lambda tmp: _env("LTHLIB_WORKERS", "abc", lambda: default_workers(4)), SettingsError,
     ["LTHLIB_WORKERS='abc'", "integer"]),
    ("LTHLIB_THREADS=0", lambda tmp: _env("LTHLIB_THREADS", "0", lambda: __import__("lthlib.core.threads").core.threads.training_threads()),
     SettingsError, ["LTHLIB_THREADS='0'", "integer >= 1"]),
    ("Mask of a string", lambda tmp: Mask({"w": "abc"}), MaskError, ["'w'", "tensor"]),
    ("Mask of values 0/1/2", lambda tmp: Mask({"w": torch.tensor([0, 1, 2])}), MaskError, ["'w'", "0/1"]),
    ("Mask.load missing file", lambda tmp: Mask.load(tmp / "nope.pt"), FileNotFoundError, ["nope.pt", "no such file"]),
    ("Mask that does not fit", lambda tmp: Mask.ones_like(mlp(hidden=(8,))).apply_(mlp()), MaskError, ["hidden.0.weight", "shape"]),
    ("build_model unknown", lambda tmp: build_model("alexnet", (40,), 10), ValueError, ["alexnet", "mlp_mnist1d"]),
    ("build_model typo kwarg", lambda tmp: build_model("mlp_mnist1d", (40,), 10, hiden=(3,)), SettingsError, ["hiden", "hidden"]),
    ("stream unknown", lambda tmp: stream_seed(0, "weights"), ValueError, ["weights", "init"]),
    ("stream seed float", lambda tmp: stream_seed(0.5, "init"), ValueError, ["seed=0.5", "integer"]),
    ("magnitude_prune rate", lambda tmp: magnitude_prune(mlp().state_dict(), Mask.ones_like(mlp()), 1.2), PruningError, ["rate", "1.2"]),
    ("mask_by_criterion unknown layer", lambda tmp: mask_by_criterion("large_final", mlp().state_dict(), mlp().state_dict(),
                                                                      ["hidden.7.weight"], 0.5),
     PruningError, ["hidden.7.weight", "hidden.0.weight"]),
    ("mask_by_criterion unknown criterion", lambda tmp: mask_by_criterion("biggest", mlp().state_dict(), mlp().state_dict(), ["hidden.0.weight"], 0.5),
     ValueError, ["biggest", "large_final"]),
    ("interpolate mismatched shapes", lambda tmp: interpolate_states(mlp().state_dict(), mlp(hidden=(8, 16)).state_dict(), 0.5),
     ValueError, ["hidden.0.weight", "shape"]),
    ("interpolate other keys", lambda tmp: interpolate_states(mlp().state_dict(), {"w": torch.zeros(1)}, 0.5),
     ValueError, ["keys"]),
    ("interpolation_curve other model", lambda tmp: interpolation_curve(mlp(), mlp(hidden=(8,)).state_dict(), mlp().state_dict(),
                                                                        load_dataset("mnist1d", train_size=600)),
     ValueError, ["state", "model"]),
    ("error_barrier empty", lambda tmp: error_barrier([]), ValueError, ["error_barrier", "at least 2"]),
    ("error_barrier nan", lambda tmp: error_barrier([0.1, math.nan, 0.2]), ValueError, ["error_barrier", "finite"]),
    ("Store folder is a file", lambda tmp: Store(_file(tmp)), StoreError, ["is a file", "folder"]),
    ("Store folder under a file", lambda tmp: Store(_file(tmp) / "sub"), StoreError, ["a_file is a file, not a folder", "cannot be created"]),
]


@pytest.mark.parametrize("make, error, words", [pytest.param(*c[1:], id=c[0]) for c in API_CASES])
def test_bad_api_input_is_named(make, error, words, tmp_path):
    with pytest.raises(error) as info:
        make(tmp_path)
    for word in words:
        assert word.lower() in str(info.value).lower(), f"{word!r} not in: {info.value}"


# --------------------------------------------------------------------------- training that goes wrong
def test_divergence_stops_with_the_iteration(data):
    with pytest.raises(TrainingDiverged) as info:
        train_briefly(data, optimizer="sgd", lr=1e6)
    assert "iteration" in str(info.value) and "lr=1000000.0" in str(info.value)


def test_divergence_in_adam(data):
    with pytest.raises(TrainingDiverged, match="lower lr"):
        train_briefly(data, lr=1e5)


def test_diverged_dense_run_never_reaches_pruning(data, tmp_path):
    s = IMPSettings(settings(optimizer="sgd", lr=1e6), rounds=1)
    with pytest.raises(TrainingDiverged):
        run_imp(s, data, store=Store(tmp_path), progress=False)
    assert not list((tmp_path).rglob("imp_round/*.pt")), "nothing may be stored from a diverged run"


def test_exclude_is_checked_before_dense_training(data, tmp_path):
    s = IMPSettings(settings(), rounds=1, exclude=("hidden.9.weight",))
    with pytest.raises(SettingsError, match="hidden.9.weight"):
        run_imp(s, data, store=Store(tmp_path), progress=False)
    assert not list(tmp_path.rglob("*.pt")), "nothing was trained before the check"


def test_round_file_of_another_layout_is_named(data, tmp_path):
    store = Store(tmp_path)
    s = IMPSettings(settings(), rounds=1)
    run_imp(s, data, store=store, progress=False)
    (path,) = list(tmp_path.rglob("imp_round/*.pt"))
    stored = torch.load(path, weights_only=True)
    stored["result"]["ticket"] = {"no": "run"}
    atomic_save(stored, path)
    with pytest.raises(StoreError) as info:
        run_imp(s, data, store=store, progress=False)
    assert str(path) in str(info.value) and "delete" in str(info.value)


# --------------------------------------------------------------------------- CLI: checked before any notebook runs
def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "lthlib", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


@pytest.mark.parametrize("flag", ["--results", "--out"])
def test_cli_folder_that_is_a_file(flag, tmp_path):
    target = _file(tmp_path)
    other = "--out" if flag == "--results" else "--results"
    done = cli("run", "--scale", "smoke", "--only", "01", flag, str(target), other, str(tmp_path / "x"), cwd=REPO)
    assert done.returncode == 2, done.stderr
    assert f"{flag} {target}: {target} is a file" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Executing" not in done.stdout, "nothing may run before the folders are checked"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes to read-only folders")
def test_cli_read_only_results(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o500)
    try:
        done = cli("run", "--scale", "smoke", "--only", "01", "--results", str(results),
                   "--out", str(tmp_path / "out"), cwd=REPO)
    finally:
        results.chmod(0o700)
    assert done.returncode == 2 and "is not writable" in done.stderr and "Traceback" not in done.stderr


def test_cli_threads_must_be_positive(tmp_path):
    done = cli("run", "--scale", "smoke", "--threads", "0", "--out", str(tmp_path / "o"), cwd=REPO)
    assert done.returncode == 2 and "--threads" in done.stderr and ">= 1" in done.stderr


def test_table_is_large_enough():
    assert len(SETTINGS_CASES) + len(API_CASES) + 9 >= 40


@pytest.mark.notebook
def test_notebook_parameter_given_as_text_is_named(tmp_path):
    """papermill passes ``-p SEEDS three`` as a string; the notebook says so in its first cell."""
    import papermill as pm

    notebook = REPO / "notebooks" / "01_dense_training.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), cwd=str(notebook.parent),
                            progress_bar=False, execution_timeout=120,
                            parameters={"SCALE": "smoke", "SEEDS": "three", "RESULTS_DIR": None})
    assert "SEEDS='three'" in str(info.value) and "integer" in str(info.value)
