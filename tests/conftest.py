"""Shared fixtures: small, fast versions of the real data and settings."""
from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("LTHLIB_PROGRESS", "0")


@pytest.fixture(scope="session")
def mnist1d_small():
    """MNIST-1D with 600 training examples (the real generator, cached under data/)."""
    from lthlib.data import load_dataset

    return load_dataset("mnist1d", train_size=600, validation_size=200)


@pytest.fixture
def tiny_settings():
    """A few dozen Adam steps of the MNIST-1D MLP, evaluated often."""
    from lthlib.config import TrainSettings

    return TrainSettings(model="mlp_mnist1d", dataset="mnist1d", iterations=40, eval_every=10,
                         batch_size=32, train_size=600, validation_size=200,
                         model_kwargs={"hidden": (32, 16)})


@pytest.fixture(autouse=True)
def _fixed_threads():
    torch.set_num_threads(1)  # tests may run beside each other; keep processes x threads <= cores
    yield


def write_notebook(path, body: str) -> None:
    """A minimal notebook with a parameters cell (as the CLI fills it) and one code cell."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('SCALE = "quick"\nRESULTS_DIR = None\nFIGURES_DIR = None\nCLAIMS_FILE = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
