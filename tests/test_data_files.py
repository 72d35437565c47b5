"""``lthlib.data.files``: dataset files checked against torchvision's published MD5s before a
paper-scale run; a file that is not the published one stops ``reproduce`` before training.

Real MNIST / CIFAR-10 files are not available offline, so the "ok" paths are tested with the
published MD5s replaced by those of files written here; the MD5s themselves are torchvision's."""
from __future__ import annotations

import gzip
import hashlib
import json
import struct

import pytest

from lthlib.apps import reproduce as rp
from lthlib.data import files as df
from lthlib.data.files import DataChecksumError, check_files, verify_files

IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def write_full_idx(path, name: str, fill: bytes = b"\x00", count: int | None = None) -> None:
    """An IDX file of MNIST's full size (60,000 or 10,000 items): header, then the bytes
    (sparse zeros unless ``fill``), as MNIST ships it uncompressed."""
    magic, n = df.IDX_HEADERS[name]
    n = n if count is None else count
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        if magic == 2051:
            f.write(struct.pack(">IIII", magic, n, 28, 28))
            body = n * 28 * 28
        else:
            f.write(struct.pack(">II", magic, n))
            body = n
        if fill == b"\x00":
            f.truncate(f.tell() + body)
        else:
            f.write(fill * body)


def test_the_published_md5s_are_torchvisions():
    import torchvision.datasets as tvd

    mnist = df.published_md5s("mnist")
    assert mnist == {f"MNIST/raw/{n}": m for n, m in tvd.MNIST.resources}
    assert set(mnist) == {f"MNIST/raw/{n}.gz" for n in IDX}
    assert set(df.published_md5s("fashion-mnist")) == {f"FashionMNIST/raw/{n}.gz" for n in IDX}
    cifar = df.published_md5s("cifar10")
    assert len(cifar) == 7 and cifar["cifar-10-batches-py/data_batch_1"] == tvd.CIFAR10.train_list[0][1]
    assert cifar["cifar-10-batches-py/batches.meta"] == tvd.CIFAR10.meta["md5"]
    assert df.published_md5s("mnist1d") == {} and verify_files("mnist1d") == []
    assert "none to check" in df.summary([])


def test_uncompressed_mnist_is_checked_by_its_header_and_reported_unverified(tmp_path):
    for name in IDX:
        write_full_idx(tmp_path / "MNIST/raw" / name, name)
    checks = check_files("mnist", tmp_path)  # no error: nothing is known to be wrong
    assert [c.status for c in checks] == ["unverified"] * 4
    assert all(c.md5 and c.expected_md5 is None and ".gz beside it" in c.note for c in checks)
    line = df.summary(checks)
    assert "4 checked" in line and "4 unverified" in line and ".gz" in line


@pytest.mark.parametrize("damage, words", [
    ("count", "items, expected 60,000"),
    ("truncate", "truncated or padded"),
    ("magic", "IDX magic number"),
])
def test_a_wrong_uncompressed_mnist_file_stops(tmp_path, damage, words):
    for name in IDX:
        write_full_idx(tmp_path / "MNIST/raw" / name, name)
    target = tmp_path / "MNIST/raw/train-images-idx3-ubyte"
    if damage == "count":
        write_full_idx(target, "train-images-idx3-ubyte", count=600)
    elif damage == "truncate":
        with open(target, "r+b") as f:
            f.truncate(1000)
    else:
        target.write_bytes(struct.pack(">IIII", 2049, 60_000, 28, 28) + bytes(60_000 * 784))
    checks = verify_files("mnist", tmp_path)
    bad = [c for c in checks if c.status == "mismatch"]
    assert [c.file for c in bad] == ["MNIST/raw/train-images-idx3-ubyte"] and words in bad[0].note
    with pytest.raises(DataChecksumError, match=r"1 file\(s\) of 'mnist' are not the published dataset") as exc:
        check_files("mnist", tmp_path)
    assert str(target) in str(exc.value) and words in str(exc.value) and "Nothing was trained" in str(exc.value)


def test_archives_are_checked_against_the_published_md5_and_their_content(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST/raw"
    for name in IDX:
        write_full_idx(raw / name, name, fill=b"\x07")
        with open(raw / name, "rb") as src, gzip.open(raw / f"{name}.gz", "wb") as dst:
            dst.write(src.read())
    # torchvision's MD5s are those of the real archives: these are not them
    checks = verify_files("mnist", tmp_path)
    assert [c.status for c in checks] == ["mismatch"] * 4 and all(c.expected_md5 for c in checks)
    with pytest.raises(DataChecksumError, match="not the published archive"):
        check_files("mnist", tmp_path)
    # with the written archives' MD5s published, archive and content check out
    ours = {f"MNIST/raw/{n}.gz": hashlib.md5((raw / f"{n}.gz").read_bytes()).hexdigest() for n in IDX}
    monkeypatch.setattr(df, "published_md5s", lambda name: ours)
    checks = check_files("mnist", tmp_path)
    assert [c.status for c in checks] == ["ok"] * 8
    assert {c.file for c in checks} == set(ours) | {f"MNIST/raw/{n}" for n in IDX}
    # an uncompressed file that is not its archive's content
    write_full_idx(raw / "t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte", fill=b"\x03")
    bad = [c for c in verify_files("mnist", tmp_path) if c.status == "mismatch"]
    assert [c.file for c in bad] == ["MNIST/raw/t10k-labels-idx1-ubyte"] and "differs from the content" in bad[0].note


def test_cifar10_files_and_missing_ones(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    published = df.published_md5s("cifar10")
    for rel in published:
        (tmp_path / rel).write_bytes(rel.encode())
    assert [c.status for c in verify_files("cifar10", tmp_path)] == ["mismatch"] * 7
    ours = {rel: hashlib.md5(rel.encode()).hexdigest() for rel in published}
    monkeypatch.setattr(df, "published_md5s", lambda name: ours)
    assert [c.status for c in check_files("cifar10", tmp_path)] == ["ok"] * 7
    (folder / "test_batch").unlink()
    checks = check_files("cifar10", tmp_path)  # a missing file is the loader's to report
    assert [c.status for c in checks].count("missing") == 1


def test_reproduce_refuses_a_wrong_file_before_training(tmp_path, monkeypatch, capsys):
    """Paper scale with an MNIST file of the wrong size: the loader reads it, the check
    refuses it, exit 2, nothing stored."""
    data_dir = tmp_path / "data"
    for name in IDX:
        write_full_idx(data_dir / "MNIST/raw" / name, name, fill=b"\x01")
    write_full_idx(data_dir / "MNIST/raw/t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte", fill=b"\x01",
                   count=9_999)
    monkeypatch.setenv("LTHLIB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LTHLIB_WORKERS", "1")
    from lthlib.apps.reproduce import running

    monkeypatch.setattr(running, "load_data", lambda plan, device="auto", download=True: None)  # the files load
    results = tmp_path / "results"
    code = rp.main(["zhou2019-supermask", "--scale", "paper", "--seeds", "1", "--yes", "--no-download",
                    "--out", str(tmp_path / "out"), "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2 and "t10k-labels-idx1-ubyte" in err and "9,999 items, expected 10,000" in err
    assert not results.exists() or not any(results.rglob("*.pt"))


def test_provenance_records_the_file_checks(tmp_path, monkeypatch):
    """A run records each file's check (here: MNIST-1D, generated, so none)."""
    monkeypatch.setenv("LTHLIB_WORKERS", "1")
    out = tmp_path / "out"
    assert rp.main(["fc2019-fig3", "--scale", "smoke", "--seeds", "1", "--device", "cpu", "--out", str(out),
                    "--results", str(tmp_path / "results")]) == 0
    prov = json.loads((out / "fc2019-fig3.provenance.json").read_text())
    assert prov["data_files"] == []
    checks = [df.FileCheck("MNIST/raw/x", "unverified", "0" * 32, None, "why")]
    assert json.loads(json.dumps([c.to_dict() for c in checks]))[0]["status"] == "unverified"
