"""Is sparsity fast? A pruned model as something that runs, in several storage formats, timed.

A ``Mask`` only says which weights are zero; the model still computes with all of them
(``"masked"``: dense kernels, zeros included). To gain speed the zeros must be skipped:

| format            | what runs                                                         |
|-------------------|-------------------------------------------------------------------|
| ``dense``         | the unpruned model (the baseline)                                 |
| ``masked``        | the same dense model with pruned weights set to zero              |
| ``csr``/``coo``/``bsr`` | each masked Linear as a torch sparse matrix times the input |
| ``structured``    | a physically smaller dense model: whole neurons / channels removed |
| ``semi_structured`` | 2:4 sparsity (2 of every 4 weights kept) on NVIDIA tensor cores |

Only Linear layers become sparse matrices: convolutions stay dense (masked), since torch
has no sparse convolution on the CPU and they are not the point here. Sparse layers run
``torch.sparse.mm(W, x^T)^T + b``: of torch's routes it is the one whose weight gradient
keeps the sparse layout (``F.linear`` with a CSR weight returns a dense gradient), so the
same layer can be timed for inference and for a training step.
"""
from __future__ import annotations

import contextlib
import copy
import math
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lthlib.core.threads import fixed_threads
from lthlib.masks import Mask
from lthlib.methods.sparse_training import forward_flops
from lthlib.models.networks import MLP, ConvNet, ConvNet1d, prunable_parameters


# Notebook 08: the networks timed (``timed``: name -> input shape; no data is needed to time), densities,
# batch sizes, timing repeats, and the IMP rounds the accuracy side compares. Conv nets are timed on fewer
# densities; quick times MNIST-1D's 1-D CNN, as one Conv-2 step on CIFAR-10 takes seconds on one thread.
SPEED_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(timed={"lenet300_100": (784,)}, densities=(1.0, 0.1, 0.01), conv_densities=(1.0, 0.1),
                  batch_sizes=(1, 32), repeats=3, rounds=(1, 2)),
    "quick": dict(timed={"lenet300_100": (784,), "cnn_mnist1d": (40,)},
                  densities=(1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01), conv_densities=(1.0, 0.2, 0.05, 0.01),
                  batch_sizes=(1, 256), repeats=15, rounds=(2, 4, 6)),
    "paper": dict(timed={"lenet300_100": (784,), "conv2": (3, 32, 32), "conv6": (3, 32, 32)},
                  densities=(1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005),
                  conv_densities=(1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01), batch_sizes=(1, 256),
                  repeats=50, rounds=(4, 8, 12, 16)),
}
# Notebook 08's large layer (``sparse_bounds.time_layer_formats``); ``claim``: (format, density, batch) its headline
# claim tests, fixed from docs/sparse_formats.md's separate benchmark run (SciPy CSR beat dense by > 1.1x at 10-20%);
# ``route_seeds``: seeds of the routes it trains itself (RigL 5x, one-shot + fine-tune), < 8 at quick (not a claim).
LARGE_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(shape=(256, 256), densities=(0.1,), batch_sizes=(1,), repeats=3, route_seeds=1,
                  claim=("scipy_csr", 0.1, 1)),
    "quick": dict(shape=(4096, 4096), densities=(0.5, 0.2, 0.1, 0.05, 0.02), batch_sizes=(1, 8), repeats=9,
                  route_seeds=3, claim=("scipy_csr", 0.1, 1)),
    "paper": dict(shape=(4096, 4096), densities=(0.5, 0.2, 0.1, 0.05, 0.02, 0.01), batch_sizes=(1, 8),
                  repeats=15, route_seeds=8, claim=("scipy_csr", 0.1, 1)),
}

FORMATS = ("dense", "masked", "csr", "coo", "bsr", "structured", "semi_structured")
FORMAT_LABELS = {"dense": "dense", "masked": "masked (dense + zeros)", "csr": "CSR",
                 "coo": "COO", "bsr": "BSR (blocks)", "structured": "structured (smaller dense)",
                 "semi_structured": "2:4 semi-structured"}
SPARSE_LAYOUTS = ("csr", "coo", "bsr")
# The random stream of the timed inputs (no index) and labels (index 1).
STREAM = "timing_inputs"


class FormatUnsupported(RuntimeError):
    """A format cannot run here (device, torch version, layer shape); the message says why."""


# --- executable forms ----------------------------------------------------------------

def masked_model(model: nn.Module, mask: Mask) -> nn.Module:
    """A copy of ``model`` with pruned weights exactly zero: what masking computes."""
    return mask.apply_(copy.deepcopy(model))


class SparseLinear(nn.Module):
    """A Linear layer whose weight is a torch sparse matrix (COO, CSR or BSR) and whose bias
    stays dense. Its ``weight`` gradient is sparse with the weight's pattern (CSR, COO), so
    SGD updates only kept weights. (A sparse Parameter cannot be ``deepcopy``-ed.)"""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight = nn.Parameter(weight)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x^T contiguous: COO's kernel is ~4x faster with it; free for the next sparse layer
        y = torch.sparse.mm(self.weight, x.mT.contiguous()).mT
        return y if self.bias is None else y + self.bias


def bsr_blocksize(shape: Sequence[int], blocksize: int) -> int:
    """The largest square block, at most ``blocksize``, that tiles a matrix of ``shape``:
    BSR needs whole blocks and MKL square ones; this avoids padding (10 x 100 -> 2)."""
    return max(d for d in range(1, blocksize + 1) if all(n % d == 0 for n in shape))


def to_layout(weight: torch.Tensor, layout: str, blocksize: int = 4) -> torch.Tensor:
    """``weight`` (dense, zeros where pruned) in a torch sparse layout; zeros are not stored."""
    w = weight.detach()
    try:
        if layout == "csr":
            return w.to_sparse_csr()
        if layout == "coo":
            return w.to_sparse_coo().coalesce()
        if layout == "bsr":
            b = bsr_blocksize(w.shape, blocksize)
            return w.to_sparse_bsr((b, b))
    except RuntimeError as exc:
        raise FormatUnsupported(f"{layout}: torch {torch.__version__} cannot convert: {exc}") from exc
    raise ValueError(f"layout={layout!r}: choose one of {list(SPARSE_LAYOUTS)}")


def sparse_model(model: nn.Module, mask: Mask, layout: str = "csr",
                 blocksize: int = 4) -> nn.Module:
    """A copy of ``model`` in which every masked ``nn.Linear`` is a ``SparseLinear`` in
    ``layout``; other layers (convolutions) stay dense, with the mask applied."""
    if layout not in SPARSE_LAYOUTS:
        raise ValueError(f"layout={layout!r}: choose one of {list(SPARSE_LAYOUTS)}")
    out = masked_model(model, mask)
    for name, module in list(out.named_modules()):
        if isinstance(module, nn.Linear) and (f"{name}.weight" if name else "weight") in mask:
            layer = SparseLinear(to_layout(module.weight, layout, blocksize), module.bias)
            if not name:
                return layer
            out.set_submodule(name, layer)
    return out


def semi_structured_support(device: str | torch.device) -> str | None:
    """None when 2:4 semi-structured sparsity can run on ``device``, else the reason."""
    device = torch.device(device)
    need = "2:4 semi-structured sparsity needs an NVIDIA GPU with compute capability >= 8.0 (Ampere)"
    if device.type != "cuda":
        return f"{need}; this is {'a CPU' if device.type == 'cpu' else device.type}"
    if not torch.cuda.is_available():
        return f"{need}; CUDA is not available here"
    capability = torch.cuda.get_device_capability(device)
    if capability < (8, 0):
        return f"{need}; {torch.cuda.get_device_name(device)} has {capability[0]}.{capability[1]}"
    if not hasattr(torch.sparse, "to_sparse_semi_structured"):
        return f"{need} and torch >= 2.1; torch {torch.__version__} has no to_sparse_semi_structured"
    return None


def two_four_mask(weight: torch.Tensor) -> torch.Tensor:
    """True for the 2 largest |w| of every 4 consecutive weights along the input dimension."""
    if weight.dim() != 2 or weight.shape[1] % 4:
        raise ValueError(f"a 2:4 mask needs a 2-D weight with inputs a multiple of 4, "
                         f"not {tuple(weight.shape)}")
    groups = weight.detach().abs().reshape(weight.shape[0], -1, 4)
    keep = torch.zeros_like(groups, dtype=torch.bool)
    keep.scatter_(2, groups.topk(2, dim=2).indices, True)
    return keep.reshape(weight.shape)


def semi_structured_model(model: nn.Module, device: str | torch.device,
                          dtype: torch.dtype | None = None) -> nn.Module:
    """A copy of ``model`` on ``device`` (in ``dtype``) with every Linear weight pruned to 2:4
    by magnitude and stored semi-structured. A layer whose shape the kernels refuse keeps its
    2:4-pruned weight dense; ``FormatUnsupported`` when the device cannot, or no layer fits."""
    reason = semi_structured_support(device)
    if reason is not None:
        raise FormatUnsupported(reason)
    out = copy.deepcopy(model).to(device=device, dtype=dtype)
    converted, errors = 0, []
    for name, module in out.named_modules():
        if isinstance(module, nn.Linear):
            if module.in_features % 4:
                errors.append(f"{name}: {module.in_features} inputs is not a multiple of 4")
                continue
            pruned = module.weight.detach() * two_four_mask(module.weight)
            module.weight = nn.Parameter(pruned, requires_grad=False)
            try:
                module.weight = nn.Parameter(torch.sparse.to_sparse_semi_structured(pruned),
                                             requires_grad=False)
                converted += 1
            except (RuntimeError, ValueError) as exc:
                errors.append(f"{name}: {str(exc).splitlines()[0]}")
    if not converted:
        raise FormatUnsupported("no Linear layer could be stored 2:4: " + "; ".join(errors))
    return out


# --- structured pruning: remove whole neurons / channels -----------------------------

def _chain(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The prunable layers of a model that is a plain chain (each layer reads only the
    previous one through elementwise ReLU / max-pool / flatten), in forward order."""
    if not isinstance(model, (MLP, ConvNet1d, ConvNet)):
        raise ValueError(f"structured pruning supports lthlib.models.networks MLP (lenet300_100, mlp_mnist1d), "
                         f"ConvNet1d (cnn_mnist1d) and ConvNet (conv2/4/6), not {type(model).__name__}: "
                         "residual connections and batch norm tie channels across layers")
    modules = dict(model.named_modules())
    return [(name, modules[name.rsplit(".", 1)[0]]) for name in prunable_parameters(model)]


def _reader_columns(units: torch.Tensor, n_units: int, next_inputs: int) -> torch.Tensor:
    """The input columns of the next layer that units ``units`` feed (a conv channel feeds
    ``length`` (or h x w) consecutive columns of a Linear layer after ``flatten``)."""
    per_unit = next_inputs // n_units
    return (units[:, None] * per_unit + torch.arange(per_unit)).flatten()


def neuron_mask(model: nn.Module, keep: float | Mapping[str, float],
                scores_from: nn.Module | None = None) -> Mask:
    """Keep the fraction ``keep`` (one for all hidden layers, or ``{weight name: fraction}``)
    of each hidden layer's neurons (channels for convolutions) with the largest L1 norm of
    incoming weights in ``scores_from`` (default ``model``). A removed unit's row of its
    layer's weight and its columns of the next layer's weight are zero in the mask; its bias
    is not masked (a Mask covers weights), so it still computes relu(b), which nothing reads;
    ``structured_model`` removes it and its bias physically. Output neurons are never removed."""
    layers = _chain(model)
    hidden = [name for name, _ in layers[:-1]]
    fractions = dict(keep) if isinstance(keep, Mapping) else {name: keep for name in hidden}
    if unknown := sorted(set(fractions) - set(hidden)):
        raise ValueError(f"keep names {unknown}; the layers whose neurons can be removed are {hidden} "
                         "(the output layer's neurons never are)")
    source = prunable_parameters(scores_from if scores_from is not None else model)
    masks = {name: torch.ones_like(p, dtype=torch.bool) for name, p in prunable_parameters(model).items()}
    for (name, _), (next_name, _) in zip(layers[:-1], layers[1:]):
        fraction = fractions.get(name, 1.0)
        if not isinstance(fraction, (int, float)) or not 0.0 < fraction <= 1.0:
            raise ValueError(f"keep[{name!r}]={fraction!r}: the fraction of neurons kept must be in (0, 1]")
        scores = source[name].detach().abs().flatten(1).sum(1).cpu()
        order = torch.sort(scores, descending=True, stable=True).indices  # ties: lower index kept
        dropped = order[max(1, round(fraction * len(scores))):]
        masks[name][dropped.to(masks[name].device)] = False
        cols = _reader_columns(dropped, len(scores), masks[next_name].shape[1])
        masks[next_name][:, cols.to(masks[next_name].device)] = False
    return Mask(masks)


def structured_model(model: nn.Module, mask: Mask) -> nn.Module:
    """A physically smaller copy of ``masked_model(model, mask)`` with the same outputs: every
    hidden unit whose outputs the next layer never reads (all its columns masked) is removed
    with its row, bias and those columns. A unit with a zero row that is still read stays:
    it outputs the constant relu(b). At least one unit per layer stays. Same class and
    parameter names as ``model``, smaller shapes."""
    out = masked_model(model, mask)
    layers = _chain(out)
    kept_in: torch.Tensor | None = None  # input columns of the current layer that survive
    for i, (name, module) in enumerate(layers):
        weight, bias = module.weight.detach(), module.bias
        n_units = weight.shape[0]
        kept = torch.arange(n_units)
        if i + 1 < len(layers):
            read = mask[layers[i + 1][0]].transpose(0, 1).reshape(n_units, -1).any(1).cpu()
            kept = read.nonzero().flatten() if read.any() else kept[:1]
        rows = weight[kept.to(weight.device)]
        if kept_in is not None:
            rows = rows[:, kept_in.to(weight.device)]
        smaller = copy.deepcopy(module)
        smaller.weight = nn.Parameter(rows.clone())
        if bias is not None:
            smaller.bias = nn.Parameter(bias.detach()[kept.to(bias.device)].clone())
        if isinstance(module, nn.Linear):
            smaller.out_features, smaller.in_features = rows.shape[:2]
        else:
            smaller.out_channels, smaller.in_channels = rows.shape[:2]
        out.set_submodule(name.rsplit(".", 1)[0], smaller)
        if i + 1 < len(layers):
            kept_in = _reader_columns(kept, n_units, layers[i + 1][1].weight.shape[1])
    return out


# --- size ----------------------------------------------------------------------------

def tensor_bytes(t: torch.Tensor) -> int:
    """Bytes a tensor stores: values plus index arrays for sparse layouts."""
    if isinstance(t, torch.sparse.SparseSemiStructuredTensor):
        parts = [getattr(t, a) for a in t.__slots__]
    elif t.layout == torch.sparse_coo:
        parts = [t._indices(), t._values()]
    elif t.layout in (torch.sparse_csr, torch.sparse_bsr):
        parts = [t.crow_indices(), t.col_indices(), t.values()]
    else:  # strided (CSC / BSC are not used here)
        parts = [t]
    return sum(p.numel() * p.element_size() for p in parts if isinstance(p, torch.Tensor))


def sparse_layer_share(model: nn.Module, input_shape: Sequence[int]) -> tuple[float, float]:
    """(fraction of the prunable weights, fraction of one example's forward multiply-adds)
    in ``model``'s Linear layers: the only layers ``sparse_model`` turns into sparse
    matrices (convolutions stay dense, with the mask applied). A sparse format can remove
    at most the second fraction of the work, however fast its kernel."""
    params = prunable_parameters(model)
    modules = dict(model.named_modules())
    linear = {n for n in params if isinstance(modules.get(n.rsplit(".", 1)[0] if "." in n else ""), nn.Linear)}
    flops = forward_flops(model, tuple(input_shape))
    weights = sum(p.numel() for n, p in params.items() if n in linear) / sum(p.numel() for p in params.values())
    return weights, sum(v for n, v in flops.items() if n in linear) / sum(flops.values())


def weight_bytes(module: nn.Module) -> int:
    """Bytes of the weights of all Linear / Conv / SparseLinear layers as stored (biases
    excluded): dense values, or sparse values plus their indices."""
    layers = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, SparseLinear)
    return sum(tensor_bytes(m.weight) for m in module.modules() if isinstance(m, layers))


# --- timing --------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    """Seconds per call: median and quartiles over ``repeats`` samples, each the mean of
    ``number`` back-to-back calls, after ``warmup`` untimed calls. ``samples``: every
    sample, in order (sample i of two fns timed together was taken side by side)."""
    median_s: float
    q25_s: float
    q75_s: float
    repeats: int
    warmup: int
    number: int = 1
    samples: tuple[float, ...] = ()


def _synchronizer(device: str | torch.device | None) -> Callable[[], None]:
    kind = torch.device(device).type if device is not None else "cpu"
    return {"cuda": lambda: torch.cuda.synchronize(device), "mps": lambda: torch.mps.synchronize()}.get(
        kind, lambda: None)


def time_calls(fns: Mapping[str, Callable[[], object]], repeats: int = 20, warmup: int = 3,
               min_time: float = 0.0, device: str | torch.device | None = None,
               threads: int | None = None) -> dict[str, Timing]:
    """Time each ``fn()`` with ``time.perf_counter`` on ``threads`` torch threads (default
    ``lthlib.core.threads.training_threads()``), interleaved: every repeat takes one sample of
    each fn in turn, so drift (another process, clock speed) hits all of them alike and
    their ratios stay fair. Warm-up calls (allocation, kernel choice) are not timed, and
    with several fns one untimed call precedes each sample: the previous fn has evicted
    this one's data from the caches (measured: up to 25% on a 0.6 ms step). With
    ``min_time``, a sample repeats its fn often enough to last that long (judged from the
    last warm-up call), so µs-calls are not clock noise. On a GPU the clock is read only
    after synchronising, the one host round-trip in the timed region."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats={repeats}, warmup={warmup}: need repeats >= 1 and warmup >= 0")
    sync = _synchronizer(device)

    def sample(fn: Callable[[], object], number: int) -> float:
        sync()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        return (time.perf_counter() - start) / number

    with fixed_threads(threads):
        number = {}
        for name, fn in fns.items():
            last = [sample(fn, 1) for _ in range(warmup)][-1:] or [0.0]
            number[name] = min(10_000, math.ceil(min_time / last[0])) if min_time > 0 and last[0] > 0 else 1
            number[name] = max(1, number[name])
        samples: dict[str, list[float]] = {name: [] for name in fns}
        for _ in range(repeats):
            for name, fn in fns.items():
                if len(fns) > 1:
                    fn()
                samples[name].append(sample(fn, number[name]))
    out = {}
    for name, s in samples.items():
        q25, median, q75 = statistics.quantiles(s, n=4, method="inclusive") if repeats > 1 else s * 3
        out[name] = Timing(median, q25, q75, repeats, warmup, number[name], tuple(s))
    return out


def time_call(fn: Callable[[], object], repeats: int = 20, warmup: int = 3, min_time: float = 0.0,
              device: str | torch.device | None = None, threads: int | None = None) -> Timing:
    """``time_calls`` for one function."""
    return time_calls({"fn": fn}, repeats, warmup, min_time, device, threads)["fn"]


def _inputs(module: nn.Module, batch_size: int, input_shape: Sequence[int],
            seed: int) -> tuple[torch.Tensor, torch.device]:
    from lthlib.core.streams import generator

    param = next(p for p in module.parameters() if p.is_floating_point())
    x = torch.randn((batch_size, *input_shape), generator=generator(seed, STREAM))
    return x.to(device=param.device, dtype=param.dtype), param.device


def inference_fn(module: nn.Module, batch_size: int, input_shape: Sequence[int],
                 seed: int = 0) -> Callable[[], object]:
    """A forward pass of a random batch, in eval mode; call it under ``torch.inference_mode``."""
    x, _ = _inputs(module, batch_size, input_shape, seed)
    module.eval()
    return lambda: module(x)


def train_step_fn(module: nn.Module, batch_size: int, input_shape: Sequence[int],
                  mask: Mask | None = None, lr: float = 0.01, seed: int = 0) -> Callable[[], None]:
    """One SGD step (forward, cross-entropy on random labels, backward, update) of ``module``,
    which it trains in place; with ``mask``, gradients are masked as in ``lthlib.engine.training``.
    Takes one step to check it: ``FormatUnsupported`` when torch cannot differentiate a sparse
    layout (BSR in torch 2.x) or the weights are frozen 2:4 ones."""
    from lthlib.core.streams import generator

    x, device = _inputs(module, batch_size, input_shape, seed)
    module.train()
    with torch.no_grad():
        classes = module(x[:1]).shape[1]
    y = torch.randint(classes, (batch_size,), generator=generator(seed, STREAM, 1)).to(device)
    params = dict(module.named_parameters())
    masked = [(params[n], m.to(device=device, dtype=params[n].dtype)) for n, m in (mask or {}).items()]
    opt = torch.optim.SGD(module.parameters(), lr=lr)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(module(x), y).backward()
        for p, m in masked:  # plain SGD: masked gradients keep pruned weights at zero
            p.grad.mul_(m)
        opt.step()

    if any(isinstance(p, torch.sparse.SparseSemiStructuredTensor) for p in params.values()):
        raise FormatUnsupported("semi_structured_model's 2:4 weights are frozen: inference only")
    try:
        step()
    except RuntimeError as exc:
        if all(p.layout == torch.strided for p in params.values()):
            raise
        raise FormatUnsupported(f"torch {torch.__version__} cannot train this sparse layout: "
                                f"{str(exc).splitlines()[0]}") from exc
    return step


def time_inference(module: nn.Module, batch_size: int, input_shape: Sequence[int], *,
                   repeats: int = 20, warmup: int = 3, min_time: float = 1e-3, seed: int = 0,
                   threads: int | None = None) -> Timing:
    """Seconds per forward pass of a random batch, in eval mode under ``inference_mode``."""
    fn = inference_fn(module, batch_size, input_shape, seed)
    with torch.inference_mode():
        return time_call(fn, repeats, warmup, min_time, next(module.parameters()).device, threads)


def time_train_step(module: nn.Module, batch_size: int, input_shape: Sequence[int], *,
                    mask: Mask | None = None, lr: float = 0.01, repeats: int = 20, warmup: int = 3,
                    min_time: float = 1e-3, seed: int = 0, threads: int | None = None) -> Timing:
    """Seconds per ``train_step_fn`` step (``module`` is trained in place)."""
    fn = train_step_fn(module, batch_size, input_shape, mask, lr, seed)
    return time_call(fn, repeats, warmup, min_time, next(module.parameters()).device, threads)


# --- the benchmark -------------------------------------------------------------------

def magnitude_mask(model: nn.Module, density: float) -> Mask:
    """Keep the ``density`` largest-|w| weights of every prunable layer (layerwise)."""
    from lthlib.methods.pruning import magnitude_prune

    weights = {n: p.detach() for n, p in prunable_parameters(model).items()}
    return magnitude_prune(weights, Mask.ones_like(model), 1.0 - density, allow_empty_layers=True)


def neuron_keep_for(model: nn.Module, density: float, steps: int = 30) -> float:
    """The fraction of hidden units to keep (the same in every hidden layer) whose
    ``neuron_mask`` keeps about ``density`` of the weights (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if neuron_mask(model, mid).density() < density else (lo, mid)
    return hi


def flushes_denormals() -> bool:
    """Whether the CPU now flushes denormal floats to zero (torch has a setter, no getter)."""
    return bool(torch.tensor([1e-38]) * torch.tensor([1e-5]) == 0)


@contextlib.contextmanager
def denormals_flushed(flush: bool = True) -> Iterator[None]:
    """Time with the CPU's flush-to-zero mode fixed (``benchmark_formats`` says why), then
    restore the mode the process had."""
    before = flushes_denormals()
    torch.set_flush_denormal(flush)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def build_format(fmt: str, model: nn.Module, mask: Mask, blocksize: int = 4) -> nn.Module:
    """``model`` pruned by ``mask`` in format ``fmt`` (``semi_structured`` ignores the mask:
    it prunes to 2:4 itself, on ``model``'s device)."""
    builders = {"dense": lambda: copy.deepcopy(model), "masked": lambda: masked_model(model, mask),
                "structured": lambda: structured_model(model, mask),
                "semi_structured": lambda: semi_structured_model(model, next(model.parameters()).device),
                **{f: (lambda f=f: sparse_model(model, mask, f, blocksize)) for f in SPARSE_LAYOUTS}}
    if fmt not in builders:
        raise ValueError(f"format={fmt!r}: choose from {list(FORMATS)}")
    return builders[fmt]()


def benchmark_formats(model: nn.Module, input_shape: Sequence[int],
                      densities: Sequence[float] = (1.0, 0.1, 0.01), formats: Sequence[str] = FORMATS,
                      batch_sizes: Sequence[int] = (1, 256), *, repeats: int = 20, warmup: int = 3,
                      min_time: float = 1e-3, seed: int = 0, train_step: bool = True,
                      blocksize: int = 4, threads: int | None = None,
                      flush_denormal: bool = True) -> list[dict]:
    """Time every format of ``model`` (on its device) at every density, batch size and mode.

    Masks: layerwise magnitude pruning of ``model``'s weights to each density; ``structured``
    uses a ``neuron_mask`` with about that density instead; ``semi_structured`` is measured
    once, at its only density 0.5. At each density, batch size and mode, dense and every
    format are timed interleaved (``time_calls``), so each speed-up (dense median / format
    median) compares measurements taken side by side. Each row: density, mask_density (the
    fraction kept), format, batch_size, mode ("inference" or "train step"), median_s, q25_s,
    q75_s, speedup, weight_bytes, unsupported (None, or why the format could not run; the
    timings are then None), samples and dense_samples (every timed sample of the format and
    of dense, taken side by side: ``log_speedups``). ``flush_denormal``: the CPU's flush-to-zero mode during the run
    (then restored). Fixed because it changes timings and processes differ: MKL's BSR kernel
    ran 5x slower at batch 1 without it, and some dense kernels switch it on for the rest of
    a process, so otherwise a format's speed depends on what ran before."""
    with denormals_flushed(flush_denormal):
        return _benchmark(model, input_shape, densities, formats, batch_sizes, repeats, warmup,
                          min_time, seed, train_step, blocksize, threads)


def _benchmark(model: nn.Module, input_shape: Sequence[int], densities: Sequence[float],
               formats: Sequence[str], batch_sizes: Sequence[int], repeats: int, warmup: int,
               min_time: float, seed: int, train_step: bool, blocksize: int,
               threads: int | None) -> list[dict]:
    device = next(model.parameters()).device
    modes = ("inference", "train step") if train_step else ("inference",)
    plan = [(0.5 if f == "semi_structured" else d, f) for d in densities for f in formats]
    rows: list[dict] = []
    for density in sorted({d for d, _ in plan}, reverse=True):
        fmts = list(dict.fromkeys(f for d, f in plan if d == density))
        magnitude = magnitude_mask(model, density)
        masks, built, base = {}, {}, {}
        for fmt in ["dense"] + [f for f in fmts if f != "dense"]:  # dense: the baseline
            masks[fmt] = (neuron_mask(model, neuron_keep_for(model, density)) if fmt == "structured"
                          else magnitude)
            kept = {"dense": 1.0, "semi_structured": 0.5}.get(fmt) or masks[fmt].density()
            base[fmt] = dict(density=density, format=fmt, mask_density=kept, weight_bytes=None,
                             unsupported=None)
            try:
                built[fmt] = build_format(fmt, model, masks[fmt], blocksize)
                base[fmt]["weight_bytes"] = weight_bytes(built[fmt])
            except FormatUnsupported as exc:
                base[fmt]["unsupported"] = str(exc)
        for mode in modes:
            for batch in batch_sizes:
                fns, unsupported = {}, {}
                for fmt, module in built.items():
                    try:
                        fns[fmt] = (inference_fn(module, batch, input_shape, seed) if mode == "inference" else
                                    train_step_fn(module, batch, input_shape,
                                                  masks[fmt] if fmt == "masked" else None, seed=seed))
                    except FormatUnsupported as exc:
                        unsupported[fmt] = str(exc)
                with torch.inference_mode(mode == "inference"):
                    timings = time_calls(fns, repeats, warmup, min_time, device, threads)
                for fmt in fmts:
                    row = dict(base[fmt], batch_size=batch, mode=mode, median_s=None, q25_s=None,
                               q75_s=None, speedup=None, samples=None, dense_samples=None)
                    row["unsupported"] = row["unsupported"] or unsupported.get(fmt)
                    if fmt in timings:
                        t = timings[fmt]
                        row.update(median_s=t.median_s, q25_s=t.q25_s, q75_s=t.q75_s,
                                   speedup=timings["dense"].median_s / t.median_s,
                                   samples=list(t.samples), dense_samples=list(timings["dense"].samples))
                    rows.append(row)
    return rows


def log_speedups(rows: Sequence[Mapping], fmt: str, density: float, batch_size: int, mode: str) -> list[float]:
    """ln(dense sample / format sample) for each repeat of one row (> 0: faster than dense):
    the paired values a claim about a speed-up is judged on. Samples were taken side by
    side, so each pair shares whatever the machine was doing at the time."""
    match = [r for r in rows if r["format"] == fmt and r["batch_size"] == batch_size and r["mode"] == mode
             and math.isclose(r["density"], density)]
    if len(match) != 1 or not match[0].get("samples"):
        raise ValueError(f"no timed row of format={fmt!r} at density={density}, batch {batch_size}, {mode!r}"
                         + (f": {match[0]['unsupported']}" if match and match[0].get("unsupported") else ""))
    row = match[0]
    return [math.log(d / f) for d, f in zip(row["dense_samples"], row["samples"])]


def crossover_density(rows: Sequence[Mapping], fmt: str, batch_size: int, mode: str,
                      min_speedup: float = 1.0) -> float | None:
    """The highest measured density at which ``fmt`` ran faster than dense (median speed-up
    > ``min_speedup``; raise it, e.g. to 1.1, to ignore wins within timing noise) for this
    batch size and mode; None if it never did. A measured grid point, not an interpolation:
    the break-even lies between it and the next higher density measured, and the format
    may still lose at some lower density (noise, or index overhead)."""
    wins = [r["density"] for r in rows if r["format"] == fmt and r["batch_size"] == batch_size
            and r["mode"] == mode and r.get("speedup") is not None and r["speedup"] > min_speedup]
    return max(wins) if wins else None
