"""Datasets as in-memory tensors (``datasets``) and their files on disk checked against
published checksums (``files``).

Modules: ``datasets``, ``files``."""
from __future__ import annotations

from lthlib.data.datasets import Dataset, DatasetUnavailableError, default_data_dir, load_dataset
from lthlib.data.files import DataChecksumError, check_files, verify_files

__all__ = ["Dataset", "DatasetUnavailableError", "default_data_dir", "load_dataset", "DataChecksumError",
           "check_files", "verify_files"]
