"""``lthlib.engine.fused_optim.FusedOptimizer``, ``train``'s optimiser on CPU and CUDA: the
same update as ``torch.optim``'s ``fused=True`` classes bit for bit (the same kernels, called
with the same arguments), the same state layout both ways, and no ``torch._dynamo`` import."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from lthlib.engine.fused_optim import FusedOptimizer

CASES = [
    ("adam", dict(lr=1e-3)),
    ("adam", dict(lr=3e-3, weight_decay=1e-2, betas=(0.8, 0.99))),
    ("adamw", dict(lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))),
    ("sgd", dict(lr=0.05)),
    ("sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.9, weight_decay=5e-3)),
]


def _torch_optimizer(kind: str, params, kw: dict) -> torch.optim.Optimizer:
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[kind]
    return cls(params, fused=True, **kw)


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    net[2].bias.requires_grad_(True)
    return net


def _grads(net: nn.Module, step: int, skip_middle: bool) -> None:
    """Gradients of a fixed loss at ``step``; with ``skip_middle`` the middle layer's bias gets
    none (torch.optim leaves a parameter without a gradient alone)."""
    g = torch.Generator().manual_seed(step)
    x, y = torch.randn(20, 12, generator=g), torch.randint(0, 3, (20,), generator=g)
    nn.functional.cross_entropy(net(x), y).backward()
    if skip_middle:
        net[2].bias.grad = None


@pytest.mark.parametrize("kind,kw", CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_the_update_is_torch_optims_fused_update_bit_for_bit(kind, kw):
    ours_net, torch_net = _net(0), _net(0)
    ours = FusedOptimizer(ours_net.parameters(), kind, **kw)
    theirs = _torch_optimizer(kind, torch_net.parameters(), kw)
    for step in range(12):
        lr = kw["lr"] * (1 + step % 3)  # set per step, as train does
        for opt, net in ((ours, ours_net), (theirs, torch_net)):
            opt.param_groups[0]["lr"] = lr
            opt.zero_grad(set_to_none=True)
            # the middle bias's state starts late, as torch's does (but not with SGD's momentum:
            # torch's fused SGD fails on that; below)
            _grads(net, step, skip_middle=step < 4 and not kw.get("momentum"))
            opt.step()
        for a, b in zip(ours_net.parameters(), torch_net.parameters()):
            assert torch.equal(a, b), (kind, step)
    mine, torchs = ours.state_dict(), theirs.state_dict()
    assert mine["state"].keys() == torchs["state"].keys()
    for i in torchs["state"]:
        assert mine["state"][i].keys() == torchs["state"][i].keys()
        for k, v in torchs["state"][i].items():
            assert torch.equal(mine["state"][i][k], v) and mine["state"][i][k].dtype == v.dtype, (i, k)


@pytest.mark.parametrize("kind,kw", CASES[::2], ids=["adam", "adamw", "sgd-momentum"])
def test_state_loads_both_ways_and_the_steps_go_on_identically(kind, kw, tmp_path):
    """A checkpoint of either optimiser resumes in the other to the same numbers (a
    checkpoint written before lthlib called the kernels itself still resumes)."""
    nets = [_net(1) for _ in range(3)]
    ours = FusedOptimizer(nets[0].parameters(), kind, **kw)
    theirs = _torch_optimizer(kind, nets[1].parameters(), kw)
    for step in range(5):
        for opt, net in ((ours, nets[0]), (theirs, nets[1])):
            opt.zero_grad()
            _grads(net, step, skip_middle=False)
            opt.step()
    # ours -> torch, torch -> ours, each onto a copy of the weights, through a file as a checkpoint
    saved = tmp_path / "opt.pt"
    resumed_torch = _torch_optimizer(kind, nets[2].parameters(), kw)
    nets[2].load_state_dict(nets[0].state_dict())
    torch.save(ours.state_dict(), saved)
    resumed_torch.load_state_dict(torch.load(saved, weights_only=True))
    net3 = _net(2)
    net3.load_state_dict(nets[1].state_dict())
    resumed_ours = FusedOptimizer(net3.parameters(), kind, **kw)
    torch.save(theirs.state_dict(), saved)
    resumed_ours.load_state_dict(torch.load(saved, weights_only=True))
    for step in range(5, 9):
        for opt, net in ((ours, nets[0]), (theirs, nets[1]), (resumed_torch, nets[2]), (resumed_ours, net3)):
            opt.zero_grad()
            _grads(net, step, skip_middle=False)
            opt.step()
    for a, b, c, d in zip(nets[0].parameters(), nets[1].parameters(), nets[2].parameters(), net3.parameters()):
        assert torch.equal(a, b) and torch.equal(a, c) and torch.equal(a, d)
    with pytest.raises(ValueError, match="other parameters"):
        FusedOptimizer(nn.Linear(2, 2).parameters(), kind, **kw).load_state_dict(ours.state_dict())


def test_a_momentum_buffer_that_starts_late_holds_the_first_gradient():
    """SGD with momentum, the middle bias's first gradient three steps late (torch's fused
    SGD raises a TypeError there): its buffer starts as that gradient, as torch's rule says."""
    net = _net(3)
    opt = FusedOptimizer(net.parameters(), "sgd", lr=0.05, momentum=0.9)
    for step in range(4):
        opt.zero_grad()
        _grads(net, step, skip_middle=step < 3)
        bias_grad = None if net[2].bias.grad is None else net[2].bias.grad.clone()
        opt.step()
    assert torch.equal(opt.state[net[2].bias]["momentum_buffer"], bias_grad)


def test_an_unknown_optimizer_is_named():
    with pytest.raises(ValueError, match="optimizer='rmsprop'.*adam, adamw, sgd"):
        FusedOptimizer(nn.Linear(2, 2).parameters(), "rmsprop", lr=0.1)


def test_training_in_a_fresh_process_does_not_import_dynamo():
    """The reason for the class: ``train`` in a fresh process (a kernel, a worker) leaves
    ``torch._dynamo`` unimported; building a ``torch.optim`` optimiser imports it, which the
    same script shows, so the check can tell."""
    code = ("import sys, torch\n"
            "from lthlib.engine.training import data_for, model_for, train\n"
            "from lthlib.settings import TrainSettings\n"
            "s = TrainSettings(model='mlp_mnist1d', dataset='mnist1d', iterations=6, eval_every=3, batch_size=32,\n"
            "                  train_size=600, validation_size=200, model_kwargs={'hidden': (8,)})\n"
            "for opt in ('adam', 'sgd'):\n"
            "    d = data_for(s)\n"
            "    train(model_for(s, d), d, s.replace(optimizer=opt, lr=0.01, momentum=0.9 if opt == 'sgd' else 0.0))\n"
            "print('after train', 'torch._dynamo' in sys.modules)\n"
            "torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)\n"
            "print('after torch.optim', 'torch._dynamo' in sys.modules)\n")
    env = dict(os.environ, LTHLIB_PROGRESS="0", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-3000:]
    assert "after train False" in out.stdout and "after torch.optim True" in out.stdout, out.stdout


TRAIN_CASES = [
    dict(optimizer="adam"),
    dict(optimizer="adamw", weight_decay=0.1, betas=(0.9, 0.98)),
    dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-3),
]


@pytest.mark.parametrize("changes", TRAIN_CASES, ids=[c["optimizer"] for c in TRAIN_CASES])
@pytest.mark.parametrize("method", ["masked", "rigl"])
def test_train_gives_what_it_gave_with_torch_optim(mnist1d_small, tiny_settings, monkeypatch, changes, method):
    """``train`` with ``FusedOptimizer`` and with ``torch.optim``'s fused optimiser (what it
    built before): every curve point, weight and mask update bit for bit, with a fixed mask
    and with RigL (which resets the optimiser state of the weights it drops and grows), so
    that every stored result stays valid."""
    import lthlib.engine.training as training
    from lthlib.engine.training import model_for
    from lthlib.methods.sparse_training import SparseTrainingSettings, train_sparse

    settings = tiny_settings.replace(**changes)
    sparse = SparseTrainingSettings(method="static" if method == "masked" else "rigl", density=0.3,
                                    update_every=5, distribution="uniform")

    def torch_optim(model, s):
        kw = dict(lr=s.lr, weight_decay=s.weight_decay, fused=True)
        if s.optimizer == "sgd":
            return torch.optim.SGD(model.parameters(), momentum=s.momentum, **kw)
        cls = torch.optim.Adam if s.optimizer == "adam" else torch.optim.AdamW
        return cls(model.parameters(), betas=s.betas, **kw)

    runs = []
    for make in (training.make_optimizer, torch_optim):
        monkeypatch.setattr(training, "make_optimizer", make)
        runs.append(train_sparse(model_for(settings, mnist1d_small), mnist1d_small, settings, sparse, seed=3,
                                 progress=False))
    ours, theirs = runs
    assert ours.mask_updates == theirs.mask_updates and (method == "masked") == (not ours.mask_updates)
    for key in ("val_loss", "val_acc", "test_loss", "test_acc", "iterations"):
        assert getattr(ours, key) == getattr(theirs, key), key
    assert ours.final_state.keys() == theirs.final_state.keys()
    assert all(torch.equal(ours.final_state[k], theirs.final_state[k]) for k in ours.final_state)
