"""Check a dataset's files on disk against the checksums published for them, before training.

A paper-scale run trains for hours on files a user copied by hand (offline machines, a
cluster's shared folder). A truncated copy, another dataset under the same names or a
re-encoded archive would train without complaint and draw a wrong figure; so
``lthlib.apps.reproduce`` checks the files first and records what it found in the provenance.

The expected MD5s are torchvision's own (``MNIST.resources``, ``FashionMNIST.resources``,
``CIFAR10.train_list`` / ``test_list`` / ``meta``): the checksums torchvision checks a
download against, read from the installed package rather than typed here.

- **CIFAR-10**: every extracted file (``cifar-10-batches-py/data_batch_1`` ...) has a
  published MD5; torchvision refuses a mismatch too, before unpickling it (these files are
  pickles: the MD5 check is what keeps a crafted file from running code).
- **MNIST / Fashion-MNIST**: torchvision publishes the MD5s of the ``.gz`` archives only. An
  archive present is checked, and so is the uncompressed file beside it (it must be the
  archive's content). An uncompressed file without its archive cannot be checked against a
  published number: its IDX header (magic number, image count, 28x28) is checked and it is
  reported ``unverified``, with how to make it verifiable.
- **MNIST-1D** is generated here, never copied: nothing to check (the provenance records the
  SHA-256 of the tensors used, for every dataset).
"""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lthlib.data.datasets import DatasetUnavailableError, default_data_dir

CHUNK = 1 << 20
STATUSES = ("ok", "unverified", "mismatch", "missing")
# IDX files: (magic number, item count) by file name, and 28x28 images.
IDX_HEADERS = {"train-images-idx3-ubyte": (2051, 60_000), "t10k-images-idx3-ubyte": (2051, 10_000),
               "train-labels-idx1-ubyte": (2049, 60_000), "t10k-labels-idx1-ubyte": (2049, 10_000)}
FOLDERS = {"mnist": ("MNIST", "MNIST/raw"), "fashion-mnist": ("FashionMNIST", "FashionMNIST/raw"),
           "cifar10": ("CIFAR10", "cifar-10-batches-py")}


class DataChecksumError(DatasetUnavailableError):
    """A dataset file differs from the one whose checksum was published."""


@dataclass(frozen=True)
class FileCheck:
    """One file's check: ``status`` is ``ok`` (its published MD5 matches), ``unverified``
    (no published MD5 for it; ``note`` says what was checked and how to verify it),
    ``mismatch`` (it is not the published file: ``note`` says how) or ``missing``."""

    file: str  # relative to the data folder
    status: str
    md5: str | None = None
    expected_md5: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def md5_of(path: Path, opener=open) -> str:
    """The MD5 of a file's bytes (``opener=gzip.open``: of an archive's content)."""
    h = hashlib.md5(usedforsecurity=False)
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def published_md5s(name: str) -> dict[str, str]:
    """``{file relative to the data folder: MD5}`` as torchvision publishes them for
    dataset ``name`` (empty for MNIST-1D, which is generated here)."""
    if name not in FOLDERS:
        return {}
    import torchvision.datasets as tvd

    class_name, folder = FOLDERS[name]
    cls = getattr(tvd, class_name)
    if name == "cifar10":
        pairs = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
    else:
        pairs = [[url_name, md5] for url_name, md5 in cls.resources]
    return {f"{folder}/{file}": md5 for file, md5 in pairs}


def _idx_problem(path: Path) -> str | None:
    """What is wrong with an uncompressed MNIST-format IDX file's header, or None."""
    expected = IDX_HEADERS.get(path.name)
    if expected is None:
        return None
    with open(path, "rb") as f:
        header = f.read(16 if expected[0] == 2051 else 8)
    if len(header) < (16 if expected[0] == 2051 else 8):
        return "shorter than an IDX header"
    magic, count = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    if magic != expected[0]:
        return f"IDX magic number {magic}, expected {expected[0]} (not an MNIST-format file of this kind)"
    if count != expected[1]:
        return f"{count:,} items, expected {expected[1]:,}"
    if magic == 2051:
        rows, cols = int.from_bytes(header[8:12], "big"), int.from_bytes(header[12:16], "big")
        if (rows, cols) != (28, 28):
            return f"images of {rows}x{cols}, expected 28x28"
        size = 16 + count * rows * cols
    else:
        size = 8 + count
    if path.stat().st_size != size:
        return f"{path.stat().st_size:,} bytes, expected {size:,} for that header (truncated or padded)"
    return None


def verify_files(name: str, root: str | Path | None = None) -> list[FileCheck]:
    """Check dataset ``name``'s files in ``root`` (default: the data folder) against the
    MD5s torchvision publishes; one ``FileCheck`` per file (see the module docstring)."""
    root = Path(root) if root is not None else default_data_dir()
    checks: list[FileCheck] = []
    for rel, expected in published_md5s(name).items():
        path = root / rel
        if name == "cifar10":
            if not path.is_file():
                checks.append(FileCheck(rel, "missing", expected_md5=expected))
                continue
            got = md5_of(path)
            checks.append(FileCheck(rel, "ok" if got == expected else "mismatch", got, expected,
                                    "" if got == expected else "not the published CIFAR-10 file"))
            continue
        plain = path.with_suffix("")  # train-images-idx3-ubyte.gz -> train-images-idx3-ubyte
        plain_rel = rel[: -len(".gz")]
        if path.is_file():
            got = md5_of(path)
            if got != expected:
                checks.append(FileCheck(rel, "mismatch", got, expected, "not the published archive"))
                continue
            checks.append(FileCheck(rel, "ok", got, expected))
            if plain.is_file():
                inner, own = md5_of(path, gzip.open), md5_of(plain)
                checks.append(FileCheck(plain_rel, "ok" if inner == own else "mismatch", own, inner,
                                        f"the content of {path.name}" if inner == own
                                        else f"differs from the content of {path.name}, which is the published file"))
            continue
        if not plain.is_file():
            checks.append(FileCheck(plain_rel, "missing", expected_md5=None,
                                    note=f"neither it nor {path.name} is there"))
            continue
        problem = _idx_problem(plain)
        if problem:
            checks.append(FileCheck(plain_rel, "mismatch", md5_of(plain), None, problem))
        else:
            checks.append(FileCheck(plain_rel, "unverified", md5_of(plain), None,
                                    f"its IDX header is right, but torchvision publishes the MD5 of {path.name} "
                                    f"only: put {path.name} beside it to have both checked"))
    return checks


def check_files(name: str, root: str | Path | None = None) -> list[FileCheck]:
    """``verify_files``, raising ``DataChecksumError`` (naming each file, what was expected
    and how to fix it) when a file is not the published one; missing files are left to the
    loader (which downloads them, or says where they go)."""
    checks = verify_files(name, root)
    bad = [c for c in checks if c.status == "mismatch"]
    if bad:
        root = Path(root) if root is not None else default_data_dir()
        lines = [f"- {root / c.file}: {c.note}" + (f" (MD5 {c.md5}, published {c.expected_md5})"
                                                     if c.expected_md5 and c.md5 else "") for c in bad]
        raise DataChecksumError(
            f"{len(bad)} file(s) of {name!r} are not the published dataset:\n" + "\n".join(lines) +
            "\nNothing was trained. Delete them and copy the files again from a good source (or download them "
            "once where you are online: lthlib.load_dataset(name, download=True)); data/README.md says where "
            "each file goes.")
    return checks


def summary(checks: list[FileCheck]) -> str:
    """One line: how many files were checked and how they came out."""
    if not checks:
        return "data files: none to check (generated here)"
    counts = {s: sum(c.status == s for c in checks) for s in STATUSES}
    said = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    line = f"data files: {len(checks)} checked against torchvision's published MD5s: {said}"
    unverified = [c for c in checks if c.status == "unverified"]
    if unverified:
        line += f"\n  unverified: {unverified[0].note}"
    return line
