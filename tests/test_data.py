"""Datasets through the real loaders; torchvision datasets from tiny files written in
torchvision's own on-disk formats (IDX for MNIST, pickled batches for CIFAR-10)."""
import hashlib
import pickle
import struct
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision

from lthlib.data.datasets import DatasetUnavailableError, augment_batch, load_dataset


def write_idx(path, array):
    """IDX file as MNIST ships it: magic (0, 0, type 0x08 = uint8, ndim), big-endian dims."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def write_mnist(root, folder, n_train=60, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": np.arange(n_test) % 10}
    for name, arr in arrays.items():
        write_idx(root / folder / "raw" / name, arr)
    return arrays


def test_mnist1d_splits_and_normalisation():
    data = load_dataset("mnist1d")
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (7_000, 1_000, 2_000)
    assert data.input_shape == (40,) and data.num_classes == 10
    assert abs(float(data.x_train.mean())) < 1e-4 and abs(float(data.x_train.std()) - 1) < 1e-3
    train_rows = {tuple(r) for r in data.x_train.numpy().round(5)}
    assert not any(tuple(r) in train_rows for r in data.x_val.numpy().round(5))
    again = load_dataset("mnist1d")
    assert torch.equal(again.x_val, data.x_val)


def test_train_and_validation_sizes():
    data = load_dataset("mnist1d", validation_size=500, train_size=300)
    assert (len(data.y_train), len(data.y_val)) == (300, 500)
    with pytest.raises(ValueError, match="validation_size"):
        load_dataset("mnist1d", validation_size=8_000)


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_formats_through_torchvision(tmp_path, name, folder):
    arrays = write_mnist(tmp_path, folder)
    data = load_dataset(name, root=tmp_path, validation_size=10)
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (50, 10, 20)
    # the test split keeps file order: undo the normalisation and compare pixels
    pixels = data.x_test[:, 0] * data.std + data.mean
    assert torch.allclose(pixels * 255, torch.tensor(arrays["t10k-images-idx3-ubyte"], dtype=torch.float32), atol=1e-3)
    assert torch.equal(data.y_test, torch.tensor(arrays["t10k-labels-idx1-ubyte"]))
    assert sorted((data.y_train.tolist() + data.y_val.tolist())) == sorted(arrays["train-labels-idx1-ubyte"].tolist())


def write_cifar(root, n_per_batch=4, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 "labels": list(rng.integers(0, 10, n_per_batch))}
        with open(folder / name, "wb") as f:
            # the real files are Python 2 pickles that load (latin1) with str keys
            pickle.dump({"batch_label": name, "data": batch["data"], "labels": batch["labels"]}, f)
        batches[name] = batch
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)
    return folder, batches


def test_cifar10_batches_through_torchvision(tmp_path, monkeypatch):
    folder, batches = write_cifar(tmp_path)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    # torchvision checks the published checksums; point them at our tiny files
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[n, md5[n]] for n, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[n, md5[n]] for n, _ in cls.test_list])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5["batches.meta"]})
    data = load_dataset("cifar10", root=tmp_path, validation_size=5)
    assert data.input_shape == (3, 32, 32)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (15, 5, 4)
    raw = batches["test_batch"]["data"].reshape(4, 3, 32, 32)  # CIFAR rows are R, G, B planes
    pixels = data.x_test * data.std.reshape(1, 3, 1, 1) + data.mean.reshape(1, 3, 1, 1)
    assert torch.allclose(pixels * 255, torch.tensor(raw, dtype=torch.float32), atol=1e-3)
    assert data.mean.shape == (3,)


def test_missing_files_offline_error_names_folder_and_files(tmp_path):
    with pytest.raises(DatasetUnavailableError) as err:
        load_dataset("mnist", root=tmp_path, download=False)
    text = str(err.value)
    assert str(tmp_path / "MNIST/raw") in text and "train-images-idx3-ubyte" in text
    assert "mnist1d" in text


def test_failed_download_is_reported_not_a_urllib_traceback(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", offline)
    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", offline)
    for name, fragment in [("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py")]:
        with pytest.raises(DatasetUnavailableError, match="download failed") as err:
            load_dataset(name, root=tmp_path, download=True)
        assert fragment in str(err.value)
        if name == "cifar10":
            assert "data_batch_1" in str(err.value)


def test_unknown_dataset_lists_known():
    with pytest.raises(ValueError, match="mnist1d"):
        load_dataset("imagenet")


def test_augment_batch_is_a_crop_or_flipped_crop_of_each_image():
    x = torch.randn(6, 3, 8, 8)
    out = augment_batch(x, torch.Generator().manual_seed(0), padding=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):
        candidates = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        candidates += [c.flip(-1) for c in candidates]
        assert any(torch.equal(out[i], c) for c in candidates)
    again = augment_batch(x, torch.Generator().manual_seed(0), padding=2)
    assert torch.equal(out, again)
    # it does augment: over many draws, images get shifted and flipped, and draws differ
    many = torch.stack([augment_batch(x, torch.Generator().manual_seed(s), padding=2) for s in range(20)])
    assert (many != x).flatten(2).any(-1).float().mean() > 0.5
    assert any(torch.equal(many[s, 0], x[0].flip(-1)) or not torch.equal(many[s, 0], x[0]) for s in range(20))
    assert not torch.equal(many[0], many[1])


def test_validation_on_the_test_set_trains_on_every_example():
    """open_lth (Frankle et al. 2020) trains on all 50,000 CIFAR-10 examples and evaluates on
    the test set: ``validation="test"`` holds nothing out, the validation curves are the
    test set's, and reading such a run at early stopping (selection on the test set) is
    refused."""
    import pytest

    from lthlib.engine.training import Run
    from lthlib.experiments.rewinding import rewinding_for_scale
    from lthlib.settings import SettingsError, TrainSettings

    held = load_dataset("mnist1d")
    full = load_dataset("mnist1d", validation="test")
    assert len(full.y_train) == len(held.y_train) + len(held.y_val)
    assert torch.equal(full.y_val, full.y_test) and torch.equal(full.x_val, full.x_test)
    assert torch.equal(full.y_test, held.y_test)
    with pytest.raises(SettingsError, match="validation='none'"):
        TrainSettings(validation="none")
    ts = TrainSettings(validation="test")
    assert ts.to_dict()["validation"] == "test" and "validation" not in TrainSettings().to_dict()
    run = Run(settings=ts.to_dict(), iterations=[0, 10], val_loss=[1.0, 0.5], test_acc=[0.1, 0.2])
    assert run.final("test_acc") == 0.2
    with pytest.raises(ValueError, match="select on the test set"):
        run.at_early_stop("test_acc")
    for model in ("resnet20", "vgg16"):
        assert rewinding_for_scale("paper", model=model).imp.train.validation == "test"
    assert rewinding_for_scale("quick").imp.train.validation == "holdout"
