"""Datasets as in-memory tensors with train / validation / test splits.

MNIST-sized data fits in memory, so a batch is a slice of a shuffled index rather than a
per-sample Python transform; that is most of why training here is fast.

- ``"mnist1d"``: the offline default, generated locally by the ``mnist1d`` package
  (Greydanus 2020) and cached under the data folder. Never downloaded.
- ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``: read through ``torchvision.datasets``
  from the data folder, downloaded there when online.

The validation split is held out of the training set (Frankle & Carbin hold out 5,000
MNIST training images); it is what early stopping looks at.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from lthlib.core.devices import note_compute_device
from lthlib.core.errors import SettingsError
from lthlib.core.store import atomic_save, load_or_set_aside

MNIST1D_SAMPLES = 10_000  # 8,000 train / 2,000 test; the package default (5,000) is noisier
MNIST1D_SEED = 42  # the package's default generation seed
SPLIT_SEED = 0  # which training examples are held out for validation


class DatasetUnavailableError(FileNotFoundError):
    """The dataset's files are not on disk and could not be downloaded."""


@dataclass(frozen=True)
class Dataset:
    """Normalised tensors for the three splits, plus what a model needs to know."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    mean: torch.Tensor  # what was subtracted (per channel), to undo it for pictures
    std: torch.Tensor

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def split(self, which: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if which not in ("train", "val", "test"):
            raise ValueError(f"split={which!r}: choose 'train', 'val' or 'test'")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def to(self, device: str | torch.device) -> "Dataset":
        """The same data on another device (a no-op when already there)."""
        note_compute_device(torch.device(device))
        moved = {k: getattr(self, k).to(device) for k in
                 ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}
        return replace(self, **moved)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.y_train)}, val={len(self.y_val)}, "
                f"test={len(self.y_test)}, input_shape={self.input_shape}, "
                f"classes={self.num_classes})")


def default_data_dir() -> Path:
    """``$LTHLIB_DATA_DIR``, else the repository's ``data/`` folder, else ``~/.cache/lthlib``."""
    if os.environ.get("LTHLIB_DATA_DIR"):
        return Path(os.environ["LTHLIB_DATA_DIR"])
    repo_data = Path(__file__).resolve().parents[2] / "data"
    if (repo_data / "README.md").exists():
        return repo_data
    return Path.home() / ".cache" / "lthlib" / "data"


# ---------------------------------------------------------------------------- raw loaders
# Each returns uint8/float arrays (x_train, y_train, x_test, y_test) before normalisation.
RawArrays = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _load_mnist1d(root: Path, download: bool) -> RawArrays:
    """Generate MNIST-1D locally (cached); ``download`` is ignored: it is never fetched."""
    path = root / "mnist1d" / f"mnist1d_n{MNIST1D_SAMPLES}_seed{MNIST1D_SEED}.pt"
    cached = load_or_set_aside(path) if path.exists() else None  # a damaged cache is generated again
    if cached is not None:
        return cached["x"], cached["y"], cached["x_test"], cached["y_test"]
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = MNIST1D_SAMPLES, MNIST1D_SEED
    numpy_state = np.random.get_state()  # make_dataset reseeds NumPy's global generator
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
    arrays = {"x": torch.tensor(raw["x"], dtype=torch.float32),
              "y": torch.tensor(raw["y"], dtype=torch.long),
              "x_test": torch.tensor(raw["x_test"], dtype=torch.float32),
              "y_test": torch.tensor(raw["y_test"], dtype=torch.long)}
    atomic_save(arrays, path)
    return arrays["x"], arrays["y"], arrays["x_test"], arrays["y_test"]


def _torchvision_loader(class_name: str, folder: str, files: tuple[str, ...]) -> Callable[[Path, bool], RawArrays]:
    """A loader that reads a dataset through ``torchvision.datasets.<class_name>``."""

    def load(root: Path, download: bool) -> RawArrays:
        import torchvision.datasets as tvd

        cls = getattr(tvd, class_name)
        reason = "download=False was given"
        try:
            train, test = cls(str(root), train=True), cls(str(root), train=False)
        except RuntimeError:
            if not download:
                train = None
            else:
                try:
                    train = cls(str(root), train=True, download=True)
                    test = cls(str(root), train=False, download=True)
                except Exception as exc:  # urllib, socket, checksum: all mean "could not get it"
                    reason = f"the download failed ({type(exc).__name__}: {str(exc).strip()[:200]})"
                    train = None
        if train is None:
            where = root / folder
            raise DatasetUnavailableError(
                f"{class_name} is not on disk and {reason}.\n"
                f"torchvision looks in {where} for: {', '.join(files)}.\n"
                f"Fix: go online once with download=True, or copy those files there "
                f"(data folder: {root}; set LTHLIB_DATA_DIR to use another one), "
                f"or use the offline dataset: load_dataset('mnist1d').")
        return (torch.as_tensor(np.asarray(train.data)), torch.as_tensor(np.asarray(train.targets)),
                torch.as_tensor(np.asarray(test.data)), torch.as_tensor(np.asarray(test.targets)))

    return load


MODULAR_SEED = 97  # which pairs a modular-arithmetic dataset holds out as its test split
MODULAR_TEST_FRACTION = 0.1  # of all p*p pairs; validation_size (default: another 10%) comes from the rest


def modular_addition(p: int) -> Callable[[Path, bool], RawArrays]:
    """A loader of the modular-addition task of Power et al. 2022: every pair (a, b) of
    residues mod ``p`` as the token sequence ``a b =`` (``=`` is token ``p``), labelled
    ``(a + b) mod p``. Generated here, never downloaded. A fixed shuffle (``MODULAR_SEED``)
    holds out ``MODULAR_TEST_FRACTION`` of the pairs as the test split; ``load_dataset``
    holds out the validation split from the rest, and ``train_size`` (the fraction of
    pairs trained on, as a count) keeps that many of what is left."""

    def load(root: Path, download: bool) -> RawArrays:
        a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
        x = torch.stack([a, b, torch.full_like(a, p)], dim=1)
        y = (a + b) % p
        order = torch.randperm(p * p, generator=torch.Generator().manual_seed(MODULAR_SEED))
        n_test = round(MODULAR_TEST_FRACTION * p * p)
        test, rest = order[:n_test], order[n_test:]
        return x[rest], y[rest], x[test], y[test]

    return load


_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")

# name -> (raw loader, default validation size)
DATASETS: dict[str, tuple[Callable[[Path, bool], RawArrays], int]] = {
    "mnist1d": (_load_mnist1d, 1_000),
    "mnist": (_torchvision_loader("MNIST", "MNIST/raw", _IDX), 5_000),
    "fashion-mnist": (_torchvision_loader("FashionMNIST", "FashionMNIST/raw", _IDX), 5_000),
    "cifar10": (_torchvision_loader("CIFAR10", "cifar-10-batches-py", _CIFAR), 5_000),
    # token ids, not normalised (lthlib.models.networks.TOKEN_DATASETS): a + b mod p for p = 97 (Power
    # et al. 2022) and a tiny p = 13 for tests; validation: 10% of the pairs
    "modadd97": (modular_addition(97), 941),
    "modadd13": (modular_addition(13), 17),
}


def _as_float_images(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (N,H,W) or (N,H,W,C) -> float (N,C,H,W) in [0, 1]; token ids (int64)
    as they are; other data as float."""
    if x.dtype == torch.long:
        return x
    if x.dtype != torch.uint8:
        return x.float()
    x = x.float() / 255.0
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()


def load_dataset(name: str = "mnist1d", root: str | Path | None = None, *,
                 validation_size: int | None = None, train_size: int | None = None,
                 download: bool = True, device: str | torch.device = "cpu",
                 validation: str = "holdout") -> Dataset:
    """Load ``name`` as normalised in-memory tensors with a held-out validation split.

    ``validation_size`` (None: 5,000 for MNIST / Fashion-MNIST / CIFAR-10, 1,000 for
    MNIST-1D) examples are held out of the training set by a fixed shuffle; ``train_size``
    keeps only that many of the rest (for smoke runs). ``validation="test"``: nothing is
    held out (every training example trains) and the validation split is the test set, as
    open_lth evaluates (``TrainSettings.validation``). Normalisation uses the training
    split's per-channel mean and standard deviation.
    """
    if name not in DATASETS:
        raise SettingsError(f"unknown dataset {name!r}; known datasets: {sorted(DATASETS)}")
    for setting, value in (("validation_size", validation_size), ("train_size", train_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise SettingsError(f"{setting}={value!r}: must be a positive integer or None (the "
                                "dataset's default)" + ("; early stopping needs a validation split"
                                                        if setting == "validation_size" else ""))
    loader, default_val = DATASETS[name]
    root = Path(root) if root is not None else default_data_dir()
    if root.exists() and not root.is_dir():
        source = "LTHLIB_DATA_DIR" if os.environ.get("LTHLIB_DATA_DIR") == str(root) else "root"
        raise DatasetUnavailableError(f"the data folder {root} ({source}) is a file; point "
                                      f"{source} at a folder (it is created if missing)")
    x_train, y_train, x_test, y_test = loader(root, download)
    x_train, x_test = _as_float_images(x_train), _as_float_images(x_test)
    y_train, y_test = y_train.long(), y_test.long()

    n_val = default_val if validation_size is None else validation_size
    if not 1 <= n_val < len(y_train):
        raise SettingsError(f"validation_size={n_val}: must be in [1, {len(y_train)}) "
                            f"for {name} ({len(y_train)} examples before the split)")
    if validation not in ("holdout", "test"):
        raise SettingsError(f"validation={validation!r}: choose 'holdout' or 'test'")
    order = torch.randperm(len(y_train), generator=torch.Generator().manual_seed(SPLIT_SEED))
    val_idx, train_idx = order[:n_val], order[n_val:]
    if validation == "test":  # every training example trains; the test set stands in for validation
        train_idx = torch.sort(order).values
    if train_size is not None:
        if train_size > len(train_idx):
            raise SettingsError(f"train_size={train_size}: {name} has {len(train_idx)} training "
                                f"examples after holding out validation_size={n_val}; ask for "
                                "at most that many (or None for all)")
        train_idx = train_idx[:train_size]
    x_val, y_val = (x_test, y_test) if validation == "test" else (x_train[val_idx], y_train[val_idx])
    x_train, y_train = x_train[train_idx], y_train[train_idx]

    if x_train.dtype == torch.long:  # token ids are looked up, not normalised
        num_classes = int(max(y_train.max(), y_test.max()).item()) + 1
        return Dataset(name=name, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
                       x_test=x_test, y_test=y_test, num_classes=num_classes, mean=torch.zeros(1),
                       std=torch.ones(1)).to(device)
    channel_dims = [0, 2, 3] if x_train.dim() == 4 else list(range(x_train.dim()))
    # In float64, so that the statistics do not change with the number of torch threads
    # (a float32 sum's last bits depend on how it is split between threads).
    mean = x_train.double().mean(dim=channel_dims).float()
    std = x_train.double().std(dim=channel_dims).float().clamp_min(1e-8)
    shape = (1, -1, 1, 1) if x_train.dim() == 4 else (1,) * x_train.dim()

    def norm(x: torch.Tensor) -> torch.Tensor:
        return ((x - mean.reshape(shape)) / std.reshape(shape)).contiguous()

    num_classes = int(max(y_train.max(), y_test.max()).item()) + 1
    return Dataset(name=name, x_train=norm(x_train), y_train=y_train, x_val=norm(x_val),
                   y_val=y_val, x_test=norm(x_test), y_test=y_test, num_classes=num_classes,
                   mean=mean, std=std).to(device)


def augment_batch(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random crop (zero padding) and horizontal flip of a batch of images, on tensors.

    The CIFAR-10 augmentation of the ResNet/VGG papers, done for the whole batch at once:
    one gather instead of a Python transform per image.
    """
    n, _, h, w = x.shape
    dev = x.device
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(dev)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(dev)
    flip = (torch.rand(n, generator=generator) < 0.5).to(dev)
    rows = (dy[:, None] + torch.arange(h, device=dev)[None, :])  # (n, h)
    cols = torch.arange(w, device=dev)[None, :].expand(n, w)
    cols = torch.where(flip[:, None], w - 1 - cols, cols) + dx[:, None]  # (n, w)
    batch_idx = torch.arange(n, device=dev)[:, None, None, None]
    chan_idx = torch.arange(x.shape[1], device=dev)[None, :, None, None]
    return padded[batch_idx, chan_idx, rows[:, None, :, None], cols[:, None, None, :]]
