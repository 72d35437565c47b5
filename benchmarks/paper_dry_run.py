"""A paper-scale run of ``reproduce`` end to end, offline, on stand-in files: how close is
the estimate it prints to what the run takes, and to the disk it fills?

There is no MNIST here, so this writes *synthetic printed digits* in MNIST's on-disk format
(uncompressed IDX, 60,000 + 10,000 images of 28x28, the digit glyphs of the DejaVu font that
ships with matplotlib, each at a random size, angle, offset and stroke, blurred and noised) into
a data folder of its own, and runs ``python -m lthlib reproduce ID --scale paper --seeds N
--yes`` against it: the paper's network, schedule, batch size, iterations and evaluation,
loaded through torchvision's MNIST reader and checked by ``lthlib.data.files`` (reported
*unverified*: no published MD5 applies to these files). The figure it draws is of the stand-in,
not of MNIST, and says nothing about the paper; the timings and sizes are the point.

    python benchmarks/paper_dry_run.py zhou2019-supermask           # minutes on a CPU
    python benchmarks/paper_dry_run.py fc2019-fig3 --seeds 1        # about an hour on 1 core
    python benchmarks/paper_dry_run.py ID --work DIR                # keep (and resume) in DIR

A run that is stopped resumes from its checkpoints when started again with the same --work.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TRAIN, TEST = 60_000, 10_000


def _glyphs(size: int = 56) -> np.ndarray:
    """The ten digits of DejaVu Sans rendered by matplotlib, (10, size, size) floats in [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = np.zeros((10, size, size), dtype=np.float32)
    for d in range(10):
        fig = plt.figure(figsize=(1, 1), dpi=size)
        fig.text(0.5, 0.5, str(d), fontsize=size * 0.9, ha="center", va="center", family="DejaVu Sans")
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba(), dtype=np.float32)[..., :3]
        out[d] = 1 - rgba.mean(axis=-1) / 255
        plt.close(fig)
    return out


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 uint8 images of printed digits under random affine maps, blur and noise,
    and their labels: learnable, not trivially (a stand-in for MNIST's format, not its data)."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    glyphs = torch.from_numpy(_glyphs())[:, None]  # (10, 1, 56, 56)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.empty(n, 28, 28, dtype=torch.uint8)
    for start in range(0, n, 5_000):
        y = labels[start:start + 5_000]
        m = len(y)
        angle = (torch.rand(m, generator=g) - 0.5) * 0.6  # about +-17 degrees
        scale = 0.9 + 0.5 * torch.rand(m, generator=g)  # >1 shrinks the digit
        shear = (torch.rand(m, generator=g) - 0.5) * 0.5
        shift = (torch.rand(m, 2, generator=g) - 0.5) * 0.35
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        theta = torch.stack([torch.stack([cos, -sin + shear, shift[:, 0]], 1),
                             torch.stack([sin, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, (m, 1, 28, 28), align_corners=False)
        x = F.grid_sample(glyphs[y], grid, align_corners=False)
        thick = torch.rand(m, generator=g) < 0.5  # a bolder stroke for half of them
        x = torch.where(thick[:, None, None, None], F.max_pool2d(x, 3, 1, 1), x)
        x = F.avg_pool2d(x, 3, 1, 1)  # blur
        x = x + 0.25 * torch.rand(m, 1, 1, 1, generator=g) * torch.randn(x.shape, generator=g)
        images[start:start + m] = (x.clamp(0, 1) * 255).round().to(torch.uint8)[:, 0]
    return images.numpy(), labels.numpy().astype(np.uint8)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file as MNIST ships it (magic 0x0803 images / 0x0801 labels, big-endian sizes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def write_mnist_format(data_dir: Path) -> None:
    raw = data_dir / "MNIST" / "raw"
    if (raw / "t10k-labels-idx1-ubyte").exists():
        return
    for split, n, seed in (("train", TRAIN, 1), ("t10k", TEST, 2)):
        x, y = synthetic_digits(n, seed)
        write_idx(raw / f"{split}-images-idx3-ubyte", x)
        write_idx(raw / f"{split}-labels-idx1-ubyte", y)


def trained_seconds(results: Path) -> tuple[float, int]:
    """(seconds, runs): the training clocks of every run in the store (``Run.seconds``: its
    steps, evaluations and checkpoints), read back through ``lthlib.core.store.load``."""
    from lthlib.core.store import load

    total, runs = 0.0, 0

    def walk(x) -> None:
        nonlocal total, runs
        if isinstance(x, dict):
            if "iterations" in x and "seconds" in x:
                total, runs = total + float(x["seconds"]), runs + 1
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    for path in sorted(results.rglob("*.pt")):
        walk(load(path)["result"])
    return total, runs


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("figure", help="an MNIST figure id: fc2019-fig3, zhou2019-supermask, ramanujan2020-width")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("paper-dry-run"),
                        help="folder for the stand-in data, the results store and the figure (default ./paper-dry-run)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    data_dir, results, out = work / "data", work / "results", work / "figures"
    started = time.perf_counter()
    write_mnist_format(data_dir)
    print(f"stand-in MNIST-format files in {data_dir} ({time.perf_counter() - started:.1f} s)")
    env = {**os.environ, "LTHLIB_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-m", "lthlib", "reproduce", args.figure, "--scale", "paper", "--seeds", str(args.seeds),
           "--yes", "--no-download", "--device", args.device, "--results", str(results), "--out", str(out)]
    print("$ LTHLIB_DATA_DIR=" + str(data_dir) + " " + " ".join(cmd[1:]), flush=True)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    sys.stdout.write(done.stdout[-6000:])
    sys.stderr.write(done.stderr[-3000:])
    if done.returncode != 0:
        print(f"reproduce exited with {done.returncode}")
        return done.returncode
    prov = json.loads((out / f"{args.figure}.provenance.json").read_text())
    est = prov["estimate"]
    stored = folder_bytes(results)
    trained, runs = trained_seconds(results)
    rows = [("estimate: training steps", f"{est.get('training_seconds', est['seconds']):,.0f} s "
                                         f"({est['iterations']:,} iterations, {est['runs']} runs)"),
            ("estimate: evaluations", f"{est.get('evaluation_seconds', float('nan')):,.0f} s"),
            ("estimate: total", f"{est['seconds']:,.0f} s"),
            ("runs' own clocks, measured", f"{trained:,.0f} s ({runs} runs stored)"),
            ("runs' clocks / estimate", f"{trained / est['seconds']:.2f}x"),
            ("whole command, measured", f"{wall:,.0f} s (data, estimate, training, drawing)"),
            ("disk, estimated", f"{est['disk_bytes'] / 1e6:,.1f} MB"),
            ("disk used by the store", f"{stored / 1e6:,.1f} MB"),
            ("data files", ", ".join(f"{c['file'].split('/')[-1]}: {c['status']}" for c in prov["data_files"])),
            ("device / threads", f"{prov['device']} / {prov['threads']}")]
    print(f"\n{args.figure}, paper scale, {args.seeds} seed(s), on stand-in MNIST-format files")
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
