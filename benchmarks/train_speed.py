"""Seconds per epoch of LeNet-300-100 at batch 60 on MNIST-shaped data (60,000 random
28x28 images), dense and 80% sparse:

- lthlib:       ``lthlib.engine.training.train`` (batches are slices of an in-memory tensor;
                the mask is applied to gradients and weights);
- DataLoader:   what most repositories do: a Dataset of uint8 images with a per-sample
                torchvision transform, a ``DataLoader``, and the mask multiplied into the
                weights after each step;
- nn.utils.prune: the same tensor batches as lthlib, the model pruned with
                ``torch.nn.utils.prune.custom_from_mask`` (weight = weight_orig * mask
                recomputed every forward).

Also prints the compute bound, 6 x parameters x samples / matmul FLOP/s, twice: with the
FLOP/s of a large square matmul (the machine's peak) and with the FLOP/s of the matmuls
this model actually does at batch 60.

The entries are timed interleaved -- ``--repeats`` rounds, each timing every entry once for
``--epochs`` epochs -- so that on a shared machine a slow spell slows every entry alike
rather than whichever ran during it. The table gives each entry's median seconds per epoch,
the spread (min-max) over the rounds and the median's ratio to the two compute bounds; the
last line says which of lthlib and ``torch.nn.utils.prune`` is faster at the median, by how
much, and whether their spreads overlap (if they do, one run does not settle it). Every
entry runs on ``--threads`` torch threads (default 1, lthlib's training count): ``train``
always computes on ``lthlib.core.threads.training_threads()``, so the script sets
``LTHLIB_THREADS`` to the same count; before, the other entries ran on all cores and, on a
shared machine, two threads spinning beside other processes' made them erratic.
Run: ``python benchmarks/train_speed.py [--epochs 1] [--repeats 5]``. Prints a table;
never asserts on time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torchvision import transforms

from lthlib.core.threads import training_threads
from lthlib.data.datasets import Dataset
from lthlib.engine.training import make_optimizer, train
from lthlib.masks import Mask
from lthlib.methods.pruning import to_torch_prune
from lthlib.models.networks import build_model, count_parameters
from lthlib.settings import TrainSettings

N_TRAIN, BATCH = 60_000, 60


def random_mnist(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8), torch.randint(0, 10, (n,), generator=g)


def sparse_mask(model: torch.nn.Module, density: float) -> Mask:
    g = torch.Generator().manual_seed(1)
    return Mask({n: torch.rand(m.shape, generator=g) < density for n, m in Mask.ones_like(model).items()})


def settings(epochs: int) -> TrainSettings:
    return TrainSettings(model="lenet300_100", dataset="mnist", optimizer="adam", lr=1.2e-3,
                         batch_size=BATCH, iterations=epochs * N_TRAIN // BATCH,
                         eval_every=epochs * N_TRAIN // BATCH)


def time_lthlib(images: torch.Tensor, labels: torch.Tensor, density: float, epochs: int) -> float:
    x = ((images.float() / 255 - 0.1307) / 0.3081).unsqueeze(1)
    small = slice(0, 60)  # evaluation is not what is measured: tiny val/test splits
    data = Dataset("random-mnist", x, labels, x[small], labels[small], x[small], labels[small],
                   10, torch.zeros(1), torch.ones(1))
    model = build_model("lenet300_100", (1, 28, 28), 10, seed=0)
    mask = sparse_mask(model, density) if density < 1 else None
    start = time.perf_counter()
    train(model, data, settings(epochs), mask=mask, progress=False)
    return (time.perf_counter() - start) / epochs


class PerSampleMNIST(torch.utils.data.Dataset):
    """uint8 images turned into normalised tensors one at a time, as torchvision's MNIST does."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images.numpy(), labels.tolist()
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def time_dataloader(images: torch.Tensor, labels: torch.Tensor, density: float, epochs: int) -> float:
    model = build_model("lenet300_100", (1, 28, 28), 10, seed=0)
    opt = make_optimizer(model, settings(epochs))
    params = dict(model.named_parameters())
    masks = [(params[n], m.float()) for n, m in sparse_mask(model, density).items()]
    loader = torch.utils.data.DataLoader(PerSampleMNIST(images, labels), batch_size=BATCH, shuffle=True,
                                         drop_last=True, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            if density < 1:
                with torch.no_grad():
                    for p, m in masks:
                        p.mul_(m)
    return (time.perf_counter() - start) / epochs


def time_torch_prune(images: torch.Tensor, labels: torch.Tensor, density: float, epochs: int) -> float:
    model = build_model("lenet300_100", (1, 28, 28), 10, seed=0)
    to_torch_prune(model, sparse_mask(model, density))  # an all-ones mask: the cost of prune alone
    opt = make_optimizer(model, settings(epochs))
    x = ((images.float() / 255 - 0.1307) / 0.3081).unsqueeze(1)
    steps = N_TRAIN // BATCH
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(N_TRAIN, generator=torch.Generator().manual_seed(epoch))
        for i in range(steps):
            idx = order[i * BATCH:(i + 1) * BATCH]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x.index_select(0, idx)), labels.index_select(0, idx)).backward()
            opt.step()
    return (time.perf_counter() - start) / epochs


def matmul_flops(m: int, k: int, n: int, repeats: int) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * m * k * n * repeats / (time.perf_counter() - start)


def model_shaped_flops(repeats: int = 300) -> float:
    """FLOP/s of the GEMMs of one LeNet-300-100 step at batch 60 (forward, and the two
    backward products per layer), timed together."""
    dims = [(784, 300), (300, 100), (100, 10)]
    tensors = []
    for k, n in dims:
        x, w, gy = torch.randn(BATCH, k), torch.randn(k, n), torch.randn(BATCH, n)
        tensors.append((x, w, gy))
    flops = sum(3 * 2 * BATCH * k * n for k, n in dims)

    def step() -> None:
        for x, w, gy in tensors:
            x @ w
            gy @ w.T
            x.T @ gy

    for _ in range(10):
        step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return flops * repeats / (time.perf_counter() - start)


ENTRIES = [("lthlib", time_lthlib), ("DataLoader + per-sample transform", time_dataloader),
           ("torch.nn.utils.prune", time_torch_prune)]
DENSITIES = {"dense": 1.0, "80% sparse": 0.2}


def spreads_overlap(a: list[float], b: list[float]) -> bool:
    return min(a) <= max(b) and min(b) <= max(a)


def verdict(times: dict[tuple[str, str], list[float]]) -> str:
    """Which of lthlib and torch.nn.utils.prune is faster at the median, per model, by how
    much, and whether the two spreads (min-max) overlap."""
    parts = []
    for kind in DENSITIES:
        ours, theirs = times["lthlib", kind], times["torch.nn.utils.prune", kind]
        a, b = statistics.median(ours), statistics.median(theirs)
        faster, ratio = ("lthlib", b / a) if a <= b else ("torch.nn.utils.prune", a / b)
        overlap = "spreads overlap" if spreads_overlap(ours, theirs) else "spreads do not overlap"
        parts.append(f"{kind}: {faster} {ratio:.2f}x faster ({overlap})")
    return "lthlib vs torch.nn.utils.prune at the median: " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timing (default 1)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timings per entry, interleaved A B C A B C ... (default 5)")
    parser.add_argument("--threads", type=int, default=training_threads(),
                        help="torch threads for every entry (default: lthlib's training count, 1 "
                             "unless LTHLIB_THREADS says otherwise)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["LTHLIB_THREADS"] = str(args.threads)  # train runs on this count too (with_fixed_threads)
    images, labels = random_mnist(N_TRAIN)
    params = count_parameters(build_model("lenet300_100", (1, 28, 28), 10))
    print(f"LeNet-300-100 ({params:,} parameters), batch {BATCH}, {N_TRAIN:,} samples/epoch, "
          f"{args.threads} torch thread(s), torch {torch.__version__}; {args.repeats} interleaved "
          f"repeats of {args.epochs} epoch(s) per entry\n")

    time_lthlib(images[:6_000], labels[:6_000], 1.0, 1)  # warm-up
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(args.repeats):  # one round times every entry once: a slow spell hits all alike
        for label, fn in ENTRIES:
            for kind, density in DENSITIES.items():
                seconds = fn(images, labels, density, args.epochs)
                times.setdefault((label, kind), []).append(seconds)
                print(f"  repeat {r + 1}/{args.repeats}  {label:36s} {kind:11s} {seconds:6.2f} s/epoch",
                      flush=True)

    peak = matmul_flops(2048, 2048, 2048, 10)
    shaped = model_shaped_flops()
    work = 6 * params * N_TRAIN
    bound_peak, bound_shaped = work / peak, work / shaped
    print(f"\nmatmul FLOP/s: {peak / 1e9:.1f} G (2048^3, peak), {shaped / 1e9:.1f} G (this model's "
          f"GEMMs at batch {BATCH})")
    print(f"compute bound 6 x {params:,} x {N_TRAIN:,} = {work / 1e9:.1f} GFLOP per epoch: "
          f"{bound_peak:.2f} s at peak, {bound_shaped:.2f} s at this model's GEMM speed\n")
    print(f"| {'trainer':36s} | {'model':10s} | {'median s/epoch':>14s} | {'min-max':>11s} | "
          f"{'x bound (shaped)':>16s} | {'x bound (peak)':>14s} |")
    print(f"|{'-' * 38}|{'-' * 12}|{'-' * 16}|{'-' * 13}|{'-' * 18}|{'-' * 16}|")
    for (label, kind), values in times.items():
        med = statistics.median(values)
        spread = f"{min(values):.2f}-{max(values):.2f}"
        print(f"| {label:36s} | {kind:10s} | {med:14.2f} | {spread:>11s} | {med / bound_shaped:16.2f} | "
              f"{med / bound_peak:14.2f} |")
    print()
    print(verdict(times))


if __name__ == "__main__":
    main()
