"""K networks of one architecture as stacked tensors: which models can be stacked (the
rule), their forward pass over ``[K, ...]`` parameters, and per-member augmentation.

Why its own module: the population trainer (``lthlib.engine.population``) steps, evaluates,
checkpoints and returns ``Run``s; what a stacked network *computes* is this module's job,
and ``passes`` / ``imp`` ask it whether models can share one batched pass (``can_batch``)
without importing the trainer.

Linear weights are stored transposed, ``[K, in, out]``, so a layer is one
``torch.baddbmm``; convolutions put the members along the channels (``[batch,
K*channels, ...]``) and run as one grouped convolution (``groups=K``). In evaluation every
member sees the same examples, so the first layer is a plain matmul / convolution with the
K weight matrices side by side.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lthlib.engine.stacked_transformer import body_forward, body_options, body_parameters
from lthlib.models.networks import MLP, ConvNet, ConvNet1d, Transformer
from lthlib.settings import TrainSettings

# Settings every member of one batched pass shares (one clock, one batch shape, one kind
# of optimiser and lr schedule, one set of evaluated splits); members may differ in
# everything else (seed, data order, lr, weight_decay, momentum).
SHARED_SETTINGS = ("optimizer", "batch_size", "iterations", "eval_every", "warmup_iterations",
                   "lr_milestones", "lr_gamma", "augment", "betas", "eval_train",
                   "test_curve")
AUGMENT_PADDING = 4  # lthlib.data.datasets.augment_batch's default
# Evaluation runs in chunks whose widest layer output holds about this many numbers (4 MB
# of float32: measured fastest for the MNIST-1D nets -- larger chunks leave the cache --
# and never more memory than train's evaluate, 2,000 examples at a time).
EVAL_ACTIVATIONS = 1 << 20


# ----------------------------------------------------------------------------- the rule
@dataclass(frozen=True)
class Layer:
    kind: str  # "linear" | "conv" | "relu" | "maxpool" | "flatten" | "transformer"
    name: str = ""  # module name (state_dict prefix) of linear / conv layers
    dim: int = 0  # 1 or 2 for conv / maxpool
    # conv: (stride, padding, dilation); maxpool: F.max_pool args; transformer: (heads,
    # blocks), a Transformer's body (lthlib.engine.stacked_transformer)
    options: tuple = ()
    bias: bool = True


@dataclass(frozen=True)
class Plan:
    """What a batchable model computes, layer by layer, plus what must match across members."""

    model_class: str
    input_kind: str  # "flat" (MLP), "channel1" (ConvNet1d: one channel), "image" (ConvNet), "tokens" (Transformer)
    layers: tuple[Layer, ...]
    shapes: tuple[tuple[str, tuple[int, ...]], ...]  # parameter name -> shape, state_dict order
    dtype: torch.dtype
    device: torch.device

    @property
    def linear_weights(self) -> frozenset[str]:
        return frozenset(f"{layer.name}.weight" for layer in self.layers if layer.kind == "linear")

    @property
    def tail_start(self) -> int:
        """Where the trailing run of linear and ReLU layers (starting with a linear one)
        begins: the training step differentiates it by hand, the layers before it (the
        convolutional head) with autograd."""
        i = len(self.layers)
        while i and self.layers[i - 1].kind in ("linear", "relu"):
            i -= 1
        while self.layers[i].kind == "relu":
            i += 1
        return i

    @property
    def conv_first(self) -> bool:
        return next(layer.kind for layer in self.layers if layer.kind in ("linear", "conv")) == "conv"


def layer_of(name: str, module: nn.Module) -> Layer | str:
    if type(module) is nn.Linear:
        return Layer("linear", name, bias=module.bias is not None)
    if type(module) in (nn.Conv1d, nn.Conv2d):
        if module.groups != 1 or module.padding_mode != "zeros":
            return f"{name} is a grouped or non-zero-padded convolution"
        return Layer("conv", name, 1 if type(module) is nn.Conv1d else 2,
                      (module.stride, module.padding, module.dilation), module.bias is not None)
    if type(module) is nn.ReLU:
        return Layer("relu")
    if type(module) in (nn.MaxPool1d, nn.MaxPool2d):
        if module.return_indices:
            return f"{name} returns pooling indices"
        return Layer("maxpool", dim=1 if type(module) is nn.MaxPool1d else 2,
                      options=(module.kernel_size, module.stride, module.padding,
                               module.dilation, module.ceil_mode))
    if type(module) is nn.Flatten and module.start_dim == 1 and module.end_dim == -1:
        return Layer("flatten")
    return f"{name or 'a layer'} is a {type(module).__name__}, which the batched forward does not know"


def plan_of(model: nn.Module, frozen: bool = False) -> Plan | str:
    """The plan of ``model``, or why it cannot be batched. ``frozen``: its parameters are
    frozen on purpose (a supermask's base network, whose scores are what trains)."""
    cls = type(model)
    if cls not in (MLP, ConvNet1d, ConvNet, Transformer):
        return (f"{cls.__name__} is not one of lthlib's MLP, ConvNet1d, ConvNet (Conv-2/4/6) or "
                "Transformer, whose forward passes the batched trainer reproduces")
    if "forward" in vars(model):
        return "its forward method was replaced"
    if next(model.buffers(), None) is not None:
        return "it has buffers (e.g. BatchNorm statistics)"
    params = dict(model.named_parameters())
    if not frozen and any(not p.requires_grad for p in params.values()):
        return "some of its parameters are frozen (requires_grad=False)"
    dtypes, devices = {p.dtype for p in params.values()}, {p.device for p in params.values()}
    if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point or len(devices) != 1:
        return "its parameters are not of one floating dtype on one device"

    named: list[tuple[str, nn.Module]]
    if cls is MLP:
        named = []
        for i, layer in enumerate(model.hidden):
            named += [(f"hidden.{i}", layer), ("", nn.ReLU())]
        named.append(("output", model.output))
        input_kind = "flat"
    elif cls is ConvNet1d:
        named = [("conv1", model.conv1), ("", nn.ReLU()), ("conv2", model.conv2), ("", nn.ReLU()),
                 ("conv3", model.conv3), ("", nn.ReLU()), ("", nn.Flatten()), ("output", model.output)]
        input_kind = "channel1"
    elif cls is ConvNet:
        named = [(f"features.{n}", m) for n, m in model.features.named_children()]
        named += [(f"classifier.{n}", m) for n, m in model.classifier.named_children()]
        input_kind = "image"
    else:  # the body as one layer, then the output layer
        named = [("", model), ("output", model.output)]
        input_kind = "tokens"
    layers = []
    for name, module in named:
        layer = Layer("transformer", options=body_options(module)) if module is model else layer_of(name, module)
        if isinstance(layer, str):
            return layer
        layers.append(layer)
    covered = {f"{l.name}.{p}" for l in layers if l.kind in ("linear", "conv")
               for p in (("weight", "bias") if l.bias else ("weight",))}
    if input_kind == "tokens":
        covered |= body_parameters(list(params))
    if covered != set(params):
        return "its parameters are not exactly those of its layers"
    if layers[-1].kind != "linear":
        return "it does not end in a linear layer"
    plan = Plan(cls.__name__, input_kind, tuple(layers),
                 tuple((n, tuple(p.shape)) for n, p in params.items()),
                 next(iter(dtypes)), next(iter(devices)))
    start = plan.tail_start
    if (layers[start - 1].kind not in ("flatten", "transformer")) if start else input_kind != "flat":
        return "its linear layers do not follow a flatten (or a flat input)"
    return plan


def batch_problem(models: Sequence[nn.Module], frozen: bool = False) -> str | None:
    """Why ``models`` cannot be trained in one batched pass (None: they can); ``frozen``:
    as ``plan_of``."""
    plans = [plan_of(m, frozen) for m in models]
    for i, plan in enumerate(plans):
        if isinstance(plan, str):
            return f"models[{i}] cannot be batched: {plan}"
    for i, plan in enumerate(plans[1:], start=1):
        if plan != plans[0]:
            return (f"models[{i}] differs from models[0] in architecture, parameter shapes, "
                    "dtype or device; a batched pass needs members of one architecture")
    return None


def can_batch(models: Iterable[nn.Module]) -> bool:
    """Whether ``models`` can be trained in one batched pass.

    The rule: every model is an lthlib ``MLP`` (LeNet-300-100, the MNIST-1D MLP),
    ``ConvNet1d`` (the MNIST-1D CNN), ``ConvNet`` (Conv-2/4/6) or ``Transformer`` (notebook
    10's) -- exactly those classes, whose forward passes the batched trainer reproduces --
    the first three built of Linear, Conv1d/Conv2d (not grouped, zero padding), ReLU,
    MaxPool and Flatten only, with no buffers (so no BatchNorm) and no frozen parameters;
    and all of them have the same layers, parameter shapes, dtype and device. (Their
    settings must also share ``SHARED_SETTINGS``.)
    """
    models = list(models)
    return bool(models) and batch_problem(models) is None


def settings_problem(settings: Sequence[TrainSettings]) -> str | None:
    for name in SHARED_SETTINGS:
        values = [getattr(s, name) for s in settings]
        if any(v != values[0] for v in values):
            return (f"the members' settings differ in {name} ({values}); a batched pass shares "
                    f"{list(SHARED_SETTINGS)}")
    return None


# ------------------------------------------------------------------------ the forward
def forward(plan: Plan, params: Mapping[str, torch.Tensor], x: torch.Tensor, n: int,
             shared: bool, cache: dict[str, torch.Tensor] | None = None,
             sizes: list[int] | None = None, layers: Sequence[Layer] | None = None) -> torch.Tensor:
    """Logits ``[n, batch, classes]`` of ``n`` stacked members.

    ``shared``: ``x`` is one batch ``[batch, *input]`` that every member sees (evaluation).
    Otherwise each member has its own batch: ``[n, batch, *input]`` when the first layer
    is linear, ``[batch, n * channels, *spatial]`` when it is a convolution. ``cache``
    keeps the side-by-side first-layer weights between evaluation chunks; ``sizes``
    collects each layer's output size. ``layers``: a leading part of the plan's layers
    only (the training step runs the convolutional head this way; its output is then the
    head's, ``[n, batch, features]`` after a flatten).
    """
    if shared:
        x = {"flat": lambda: x.reshape(len(x), -1), "channel1": lambda: x.reshape(len(x), 1, -1),
             "image": lambda: x, "tokens": lambda: x}[plan.input_kind]()
    h, state = x, ("shared" if shared else ("conv" if plan.conv_first else "stack"))
    for layer in (plan.layers if layers is None else layers):
        if layer.kind == "linear":
            w = params[f"{layer.name}.weight"]  # [n, in, out]
            b = params[f"{layer.name}.bias"] if layer.bias else None
            if state == "shared":  # [N, in] @ [in, n*out] -> [n, N, out]
                flat_w = cache.get(layer.name) if cache is not None else None
                if flat_w is None:
                    flat_w = w.permute(1, 0, 2).reshape(w.shape[1], -1)
                    if cache is not None:
                        cache[layer.name] = flat_w
                h = h @ flat_w if b is None else torch.addmm(b.reshape(-1), h, flat_w)
                h = h.view(len(h), n, -1).transpose(0, 1)
            else:
                h = torch.bmm(h, w) if b is None else torch.baddbmm(b.unsqueeze(1), h, w)
            state = "stack"
        elif layer.kind == "conv":
            w = params[f"{layer.name}.weight"]  # [n, out, in, *kernel]
            b = params[f"{layer.name}.bias"].reshape(-1) if layer.bias else None
            conv = F.conv1d if layer.dim == 1 else F.conv2d
            stride, padding, dilation = layer.options
            h = conv(h, w.reshape(-1, *w.shape[2:]), b, stride, padding, dilation,
                     groups=1 if state == "shared" else n)
            state = "conv"
        elif layer.kind == "relu":  # in place where it measured faster: evaluation of linear layers
            h = torch.relu_(h) if state == "stack" and not torch.is_grad_enabled() else torch.relu(h)
        elif layer.kind == "maxpool":
            pool = F.max_pool1d if layer.dim == 1 else F.max_pool2d
            h = pool(h, *layer.options)
        elif layer.kind == "flatten":  # [B, n*C, *S] -> [n, B, C*prod(S)]
            h = h.reshape(len(h), n, -1).transpose(0, 1)
            state = "stack"
        elif layer.kind == "transformer":  # token ids -> [n, B, d_model]
            h = body_forward(params, h, n, *layer.options, shared=state == "shared", sizes=sizes)
            state = "stack"
        if sizes is not None:
            sizes.append(h.numel())
    return h


# ---------------------------------------------------------------------- augmentation
def augment_stacked(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor,
             padding: int = AUGMENT_PADDING) -> torch.Tensor:
    """``lthlib.data.datasets.augment_batch`` with the draws given (one gather for all members)."""
    n, _, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (padding, padding, padding, padding))
    rows = dy[:, None] + torch.arange(h, device=dev)[None, :]
    cols = torch.arange(w, device=dev)[None, :].expand(n, w)
    cols = torch.where(flip[:, None], w - 1 - cols, cols) + dx[:, None]
    batch_idx = torch.arange(n, device=dev)[:, None, None, None]
    chan_idx = torch.arange(x.shape[1], device=dev)[None, :, None, None]
    return padded[batch_idx, chan_idx, rows[:, None, :, None], cols[:, None, None, :]]


@torch.no_grad()
def evaluate_stacked(plan: Plan, params: Mapping[str, torch.Tensor], splits: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
                     n: int, widest: int) -> torch.Tensor:
    """``[n, 2 * len(splits)]`` float64: each member's mean cross-entropy and accuracy on each
    ``(name, x, y)`` split (NaN for an empty one), every member on the same examples, in
    chunks of ``EVAL_ACTIVATIONS`` numbers of the widest layer output (``widest`` per example)."""
    chunk = max(1, EVAL_ACTIVATIONS // (n * widest))
    cache: dict = {}
    columns: list[torch.Tensor] = []
    for _, x, y in splits:
        if not len(y):
            columns += [torch.full((n,), math.nan, dtype=torch.float64, device=plan.device)] * 2
            continue
        loss = torch.zeros(n, dtype=torch.float64, device=plan.device)
        correct = torch.zeros(n, dtype=torch.int64, device=plan.device)
        for i in range(0, len(y), chunk):
            yc = y[i:i + chunk]
            logits = forward(plan, params, x[i:i + chunk], n, shared=True, cache=cache)
            losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yc.repeat(n),
                                     reduction="none").view(n, -1)
            loss += losses.sum(1)
            correct += (logits.argmax(-1) == yc).sum(1)
        columns += [loss / len(y), correct.double() / len(y)]
    return torch.stack(columns, 1)
