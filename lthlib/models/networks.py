"""The networks of the lottery-ticket papers, as plain ``nn.Module``s built by name.

Plain modules with their usual ``state_dict`` keys are what let a ``Mask`` (parameter
name -> bool tensor) prune any model, including one a user brings.

Parameter counts (weights of Linear/Conv layers, the prunable ones):
LeNet-300-100 266,200 (266,610 with biases); Conv-2 4.30M, Conv-4 2.43M (Frankle & Carbin
2019 report 4.3M and 2.4M); Conv-6 2.26M (the paper's table says 1.7M, which does not
match its own architecture; we build the architecture); ResNet-20 271K and VGG-16 14.7M
(Frankle et al. 2020).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lthlib.core.errors import SettingsError
from lthlib.core.streams import stream_seed
from lthlib.models.initialisation import initialise


class MLP(nn.Module):
    """Fully connected ReLU network: flatten, hidden layers, linear output."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, hidden: tuple[int, ...]):
        super().__init__()
        sizes = [math.prod(input_shape), *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.output = nn.Linear(sizes[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.output(x)


class ConvNet1d(nn.Module):
    """A small 1-D CNN for MNIST-1D (after Greydanus 2020): three strided convolutions and
    a linear layer. Deeper than the MLP, which is what makes rewinding matter (notebook 03)."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, channels: int = 32):
        super().__init__()
        length = input_shape[-1]
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=2)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        for _ in range(3):
            length = (length + 1) // 2
        self.output = nn.Linear(channels * length, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), 1, -1)
        for conv in (self.conv1, self.conv2, self.conv3):
            x = torch.relu(conv(x))
        return self.output(x.flatten(1))


class ConvNet(nn.Module):
    """Conv-2/4/6 of Frankle & Carbin: pairs of 3x3 convs, each pair followed by max-pool,
    then FC 256-256-classes (VGG-like, no BatchNorm). ``width_mult`` scales every hidden
    layer's width, channels and FC units alike, as ``int(n * width_mult)`` (Ramanujan et
    al.'s Conv4Wide / Conv6Wide, allenai/hidden-networks ``models/frankle.py``)."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, channels: tuple[int, ...],
                 width_mult: float = 1.0):
        super().__init__()
        in_ch, h, w = input_shape
        channels = tuple(max(1, int(c * width_mult)) for c in channels)
        hidden = max(1, int(256 * width_mult))
        layers: list[nn.Module] = []
        for i, out_ch in enumerate(channels):
            layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.ReLU()]
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(in_ch * h * w, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """ResNet basic block; a 1x1 conv + BN shortcut where the shape changes (as OpenLTH)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    """ResNet-(6n+2) for CIFAR-10 (He et al. 2016): 3 stages of n blocks, 16/32/64 x width."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, depth: int = 20,
                 width: int = 16):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth={depth}: a CIFAR ResNet has depth 6n+2 (20, 32, 56, ...)")
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(input_shape[0], width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        blocks, in_ch = [], width
        for stage, out_ch in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                blocks.append(BasicBlock(in_ch, out_ch, 2 if stage > 0 and i == 0 else 1))
                in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(torch.relu(self.bn(self.conv(x))))
        return self.fc(out.mean(dim=(2, 3)))


class WideBasicBlock(nn.Module):
    """Pre-activation wide ResNet block (Zagoruyko & Komodakis 2016): BN-ReLU-conv twice;
    a 1x1 conv shortcut where the shape changes."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.shortcut = (nn.Conv2d(in_ch, out_ch, 1, stride, bias=False)
                         if stride != 1 or in_ch != out_ch else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(torch.relu(self.bn2(out)))
        return out + skip


class WideResNet(nn.Module):
    """WRN-depth-widen for CIFAR (Zagoruyko & Komodakis 2016): a 16-channel conv, 3 stages
    of (depth-4)/6 pre-activation blocks of 16/32/64 x widen channels, BN-ReLU, global
    average pool, one linear layer. WRN-22-2 is RigL's CIFAR-10 network (Evci et al. 2020)."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, depth: int = 22,
                 widen: int = 2):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"depth={depth}: a wide ResNet has depth 6n+4 (16, 22, 28, ...)")
        n = (depth - 4) // 6
        self.conv = nn.Conv2d(input_shape[0], 16, 3, 1, 1, bias=False)
        blocks, in_ch = [], 16
        for stage, out_ch in enumerate((16 * widen, 32 * widen, 64 * widen)):
            for i in range(n):
                blocks.append(WideBasicBlock(in_ch, out_ch, 2 if stage > 0 and i == 0 else 1))
                in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(in_ch)
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn(self.blocks(self.conv(x))))
        return self.fc(out.mean(dim=(2, 3)))


_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


class VGGCifar(nn.Module):
    """VGG-16 for CIFAR-10 as in Frankle et al. 2020: 3x3 conv + BN + ReLU, global average
    pool, one linear layer."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int,
                 plan: tuple = _VGG16):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = input_shape[0]
        for spec in plan:
            if spec == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(in_ch, spec, 3, padding=1), nn.BatchNorm2d(spec), nn.ReLU()]
                in_ch = spec
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))


class TransformerBlock(nn.Module):
    """One pre-LayerNorm decoder block: causal multi-head self-attention (separate query,
    key, value and output projections, each a prunable Linear) and a ReLU MLP, each added
    to the residual stream. ``last_only``: compute the attention output and the MLP for the
    last position only (what the model's last block needs; the keys and values still
    cover every position)."""

    def __init__(self, d_model: int, heads: int, mlp: int):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model={d_model} must be a multiple of heads={heads}")
        self.heads = heads
        self.norm1 = nn.LayerNorm(d_model)
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key = nn.Linear(d_model, d_model, bias=False)
        self.value = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)
        self.norm2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, mlp)
        self.fc2 = nn.Linear(mlp, d_model)

    def forward(self, h: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        n, length, d = h.shape
        split = lambda t: t.reshape(n, t.shape[1], self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        a = self.norm1(h)
        q_in = a[:, -1:] if last_only else a
        q, k, v = split(self.query(q_in)), split(self.key(a)), split(self.value(a))
        # the last position attends to every position, which is what causal masking allows it
        ctx = F.scaled_dot_product_attention(q, k, v, is_causal=not last_only and length > 1)
        h = (h[:, -1:] if last_only else h) + self.out(ctx.transpose(1, 2).reshape(n, q.shape[2], d))
        return h + self.fc2(torch.relu(self.fc1(self.norm2(h))))


class Transformer(nn.Module):
    """A small decoder-only transformer that reads a sequence of token ids and classifies
    it from its last position (modular arithmetic: ``a b =`` -> ``(a + b) mod p``, Power et
    al. 2022). Learned token and position embeddings (``nn.Embedding``, prunable like the
    Linear weights), ``layers`` pre-LayerNorm blocks, a final LayerNorm and a linear
    ``output`` layer over the classes. ``vocab`` (None: ``num_classes + 1``, the residues
    and the ``=`` sign). Only the last position's output is computed in the last block:
    with causal attention nothing else reaches the prediction, so this is the same
    function as computing every position and reading the last."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, d_model: int = 128, heads: int = 4,
                 layers: int = 2, mlp: int | None = None, vocab: int | None = None):
        super().__init__()
        if len(input_shape) != 1:
            raise ValueError(f"input_shape={input_shape}: the transformer reads sequences of token "
                             "ids, shape (length,)")
        self.vocab = vocab if vocab is not None else num_classes + 1
        self.embed = nn.Embedding(self.vocab, d_model)
        self.position = nn.Embedding(input_shape[0], d_model)
        self.blocks = nn.ModuleList(TransformerBlock(d_model, heads, mlp or 4 * d_model) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.output = nn.Linear(d_model, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) + self.position(torch.arange(x.shape[1], device=x.device))
        for i, block in enumerate(self.blocks):
            h = block(h, last_only=i == len(self.blocks) - 1)
        return self.output(self.norm(h[:, -1]))


ModelBuilder = Callable[..., nn.Module]
MODELS: dict[str, ModelBuilder] = {
    "lenet300_100": lambda shape, classes, hidden=(300, 100): MLP(shape, classes, hidden=tuple(hidden)),
    "mlp_mnist1d": lambda shape, classes, hidden=(300, 100): MLP(shape, classes, hidden=tuple(hidden)),
    "cnn_mnist1d": lambda shape, classes, channels=32: ConvNet1d(shape, classes, channels=channels),
    "conv2": lambda shape, classes, width_mult=1.0: ConvNet(shape, classes, (64, 64), width_mult),
    "conv4": lambda shape, classes, width_mult=1.0: ConvNet(shape, classes, (64, 64, 128, 128), width_mult),
    "conv6": lambda shape, classes, width_mult=1.0: ConvNet(shape, classes, (64, 64, 128, 128, 256, 256),
                                                            width_mult),
    "resnet20": lambda shape, classes, width=16: ResNetCifar(shape, classes, depth=20, width=width),
    "vgg16": lambda shape, classes: VGGCifar(shape, classes),
    "wrn22_2": lambda shape, classes, widen=2: WideResNet(shape, classes, depth=22, widen=widen),
    "transformer": lambda shape, classes, **kw: Transformer(shape, classes, **kw),
}
# What each model accepts in ``model_kwargs`` (name -> what it must be).
MODEL_KWARGS: dict[str, dict[str, str]] = {
    "lenet300_100": {"hidden": "a list of positive layer widths (empty: a linear model)"},
    "mlp_mnist1d": {"hidden": "a list of positive layer widths (empty: a linear model)"},
    "cnn_mnist1d": {"channels": "a positive integer"},
    "conv2": {"width_mult": "a positive number"}, "conv4": {"width_mult": "a positive number"},
    "conv6": {"width_mult": "a positive number"},
    "resnet20": {"width": "a positive integer"},
    "vgg16": {},
    "wrn22_2": {"widen": "a positive integer"},
    "transformer": {"d_model": "a positive integer", "heads": "a positive integer",
                    "layers": "a positive integer", "mlp": "a positive integer"},
}
# 2-D convolutional models need image datasets (channels x height x width).
IMAGE_MODELS = ("conv2", "conv4", "conv6", "resnet20", "vgg16", "wrn22_2")
IMAGE_DATASETS = ("mnist", "fashion-mnist", "cifar10")
# Models that read token ids, and the datasets of token ids (``lthlib.data.datasets``): each only with the other.
TOKEN_MODELS = ("transformer",)
TOKEN_DATASETS = ("modadd97", "modadd13")


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and value > 0)


def check_model_fits(name: str, dataset: str | None, kwargs: dict) -> None:
    """Raise ``SettingsError`` when ``kwargs`` are not what model ``name`` accepts (a typo
    would otherwise silently train the default architecture) or the model cannot read
    ``dataset`` (None: not checked)."""
    accepted = MODEL_KWARGS.get(name)
    if accepted is None:  # a model registered by a user: it checks its own arguments
        return
    for key, value in kwargs.items():
        if key not in accepted:
            takes = (f"it accepts {sorted(accepted)}" if accepted else "it takes none")
            raise SettingsError(f"model_kwargs={{{key!r}: ...}}: {name} has no argument {key!r}; {takes}")
        ok = (_positive_int(value) if accepted[key] == "a positive integer" else
              _positive_number(value) if accepted[key] == "a positive number" else
              isinstance(value, (list, tuple)) and all(_positive_int(v) for v in value))
        if not ok:
            raise SettingsError(f"model_kwargs[{key!r}]={value!r}: {name}'s {key!r} must be "
                                f"{accepted[key]} (model_kwargs accepts {sorted(accepted)})")
    if dataset is not None and name in IMAGE_MODELS and dataset not in IMAGE_DATASETS:
        raise SettingsError(f"model={name!r} on dataset={dataset!r}: {name} convolves 2-D images; "
                            f"use one of {list(IMAGE_DATASETS)} (cifar10 in the paper), or for "
                            "mnist1d a model that reads 1-D signals (mlp_mnist1d, cnn_mnist1d)")
    if dataset is not None and (name in TOKEN_MODELS) != (dataset in TOKEN_DATASETS):
        raise SettingsError(f"model={name!r} on dataset={dataset!r}: " + (
            f"{name} reads token ids; use one of {list(TOKEN_DATASETS)}" if name in TOKEN_MODELS else
            f"{dataset} holds token ids (modular arithmetic); use a model that reads them: "
            f"{list(TOKEN_MODELS)}"))


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int, *,
                seed: int | None = None, stream: str = "init", index: int | None = None,
                init: str = "default", **kwargs) -> nn.Module:
    """Build a registered model; with ``seed``, its initial weights depend on nothing else.

    The weights come from the named random stream ``(seed, stream)`` (``lthlib.core.streams``):
    ``"init"`` for a run's own weights, ``"reinit"`` for the random-reinitialisation
    control; ``index`` numbers the draws of one stream (e.g. the k-th small network of
    notebook 09). The global RNG is left as it was, so building a model never shifts other
    random draws. ``init``: a paper's initialisation (``lthlib.models.initialisation.INITS``),
    drawn from the same stream.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {sorted(MODELS)}")
    check_model_fits(name, None, kwargs)
    if seed is None:
        return initialise(MODELS[name](tuple(input_shape), num_classes, **kwargs), init)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, stream, *(() if index is None else (index,))))
        return initialise(MODELS[name](tuple(input_shape), num_classes, **kwargs), init)


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weights of Linear, Conv and Embedding layers, by ``state_dict`` name, for any model.

    Biases and normalisation parameters are not pruned (as in the papers). Embedding
    tables are weights like any other here (a transformer's token and position
    embeddings): IMP and the controls prune them; exclude them by name where a method
    should not.
    """
    prunable = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding)
    return {f"{mod_name}.weight" if mod_name else "weight": module.weight
            for mod_name, module in model.named_modules()
            if isinstance(module, prunable) and module.weight is not None}


def count_parameters(model: nn.Module, prunable_only: bool = False) -> int:
    """Number of trainable numbers (or only the prunable weights)."""
    params = prunable_parameters(model).values() if prunable_only else model.parameters()
    return sum(p.numel() for p in params)
