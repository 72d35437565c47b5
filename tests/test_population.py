"""The population trainer: each member's Run is the Run ``train`` gives it alone."""
import copy
import dataclasses
import math

import pytest
import torch

import lthlib.engine.members as population_members
import lthlib.engine.population as population
import lthlib.engine.stacked_optim as stacked_optim
from lthlib.core.devices import resolve_device
from lthlib.core.store import StoreError
from lthlib.data.datasets import Dataset, load_dataset
from lthlib.engine.population import train_population
from lthlib.engine.stacked import can_batch
from lthlib.engine.training import TrainingDiverged, model_for, train
from lthlib.masks import Mask
from lthlib.models.networks import build_model
from lthlib.settings import TrainSettings
from same_run import assert_same_run


@pytest.fixture(scope="module")
def mnist1d():
    return load_dataset("mnist1d", train_size=600, validation_size=200)


def fake_images(shape=(3, 8, 8), n=160, seed=0):
    """A tiny CIFAR-shaped data set (random images with learnable labels)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    y = (x.flatten(1)[:, :10].argmax(1) + torch.randint(0, 2, (n,), generator=g)) % 10
    return Dataset("fake-images", x[:100], y[:100], x[100:130], y[100:130], x[130:], y[130:], 10,
                   torch.zeros(shape[0]), torch.ones(shape[0]))


def random_mask(model, density=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Mask({n: torch.rand(p.shape, generator=g) < density
                 for n, p in Mask.ones_like(model).items()})


def reference(models, data, settings, masks, starts, save_at):
    """``train`` once per member, on copies of the models."""
    return [train(copy.deepcopy(m), data, s, mk, save_weights_at=sv, start_iteration=k)
            for m, s, mk, k, sv in zip(models, settings, masks, starts, save_at)]


def _double(data: Dataset) -> Dataset:
    """``data`` with float64 inputs."""
    return dataclasses.replace(data, **{k: getattr(data, k).double() for k in ("x_train", "x_val", "x_test")})


def members(data, settings, seeds=(0, 1, 2)):
    return [model_for(settings.replace(seed=s), data) for s in seeds]


def test_mlp_members_match_train_alone(mnist1d):
    base = TrainSettings(model="mlp_mnist1d", iterations=60, eval_every=20, train_size=600,
                         validation_size=200)
    settings = [base.replace(seed=0), base.replace(seed=1, data_order_seed=7, lr=3e-3),
                base.replace(seed=2, weight_decay=1e-3)]
    models = [model_for(s, mnist1d) for s in settings]
    masks = [random_mask(models[0]), None, random_mask(models[2], density=0.2, seed=1)]
    starts, save_at = [0, 25, 10], [[0, 10, 60], [25, 40], [10, 33]]
    refs = reference(models, mnist1d, settings, masks, starts, save_at)
    runs = train_population(models, mnist1d, settings, masks, save_weights_at=save_at,
                            start_iterations=starts)
    for model, run, ref in zip(models, runs, refs):
        assert_same_run(run, ref)
        for name, p in model.state_dict().items():  # trained in place, like train
            assert torch.equal(p, run.final_state[name])
    assert runs[1].iterations == [25, 40, 60] and runs[2].iterations == [10, 20, 40, 60]


def test_cnn_members_match_train_alone_with_sgd_momentum(mnist1d):
    base = TrainSettings(model="cnn_mnist1d", optimizer="sgd", lr=0.05, momentum=0.9,
                         iterations=40, eval_every=20, train_size=600, validation_size=200)
    settings = [base.replace(seed=0, weight_decay=5e-3), base.replace(seed=1, data_order_seed=3),
                base.replace(seed=2, momentum=0.5, lr=0.02)]
    models = [model_for(s, mnist1d) for s in settings]
    masks = [random_mask(models[0]), random_mask(models[1], seed=2), None]
    starts, save_at = [0, 0, 15], [[0, 40], [5], [15, 20]]
    refs = reference(models, mnist1d, settings, masks, starts, save_at)
    runs = train_population(models, mnist1d, settings, masks, save_weights_at=save_at,
                            start_iterations=starts)
    for run, ref in zip(runs, refs):
        assert_same_run(run, ref)


@pytest.mark.parametrize("model", ["mlp_mnist1d", "cnn_mnist1d"])
def test_chunked_population_matches_train_alone_and_one_chunk(mnist1d, model, monkeypatch):
    """A population stepped in chunks (population.CHUNK_BYTES: here one or two members per
    chunk, with a group of equal settings cut by a chunk boundary and members waiting for
    their start) gives each member train's Run, and the same numbers as one chunk.

    In float64: 30 Adam steps of two float32 implementations (the batched CNN head is im2col
    + bmm, ``train``'s a convolution) can part at a ReLU whose input is within rounding of
    0, and then every later step moves them further apart. Under the portable kernels
    (ATEN_CPU_CAPABILITY=default) one member did so at step 6 and ended with 10% of its
    weights apart, while in float64 the two agree to 1e-16. In float64 no such tie falls
    within rounding, so what is compared is the formulas, the learning rates, masks, starts
    and data order, on every CPU. (Float32 against ``train``: the SGD tests above and
    tests/test_stacked_conv.py's per-step bound.)"""
    mnist1d = _double(mnist1d)
    base = TrainSettings(model=model, iterations=30, eval_every=10, train_size=600, validation_size=200)
    settings = [base.replace(seed=0), base.replace(seed=1), base.replace(seed=2, lr=3e-3),
                base.replace(seed=3)]
    models = [model_for(s, mnist1d).double() for s in settings]
    masks = [random_mask(models[0]), None, None, random_mask(models[3], density=0.3, seed=4)]
    starts, save_at = [0, 0, 12, 5], [[0, 30], [7], [12, 20], [5]]
    refs = reference(models, mnist1d, settings, masks, starts, save_at)
    seen = []
    real_run = population._Population.run
    monkeypatch.setattr(population._Population, "run", lambda self: seen.append(self) or real_run(self))
    one = train_population([copy.deepcopy(m) for m in models], mnist1d, settings, masks,
                           save_weights_at=save_at, start_iterations=starts)
    assert len(seen[-1].chunks) == 1
    member_bytes = seen[-1].member_bytes  # weights, gradient, optimiser state, activations
    for chunk_bytes, members in ((1, 1), (2 * member_bytes, 2)):
        monkeypatch.setattr(population, "CHUNK_BYTES", chunk_bytes)
        runs = train_population([copy.deepcopy(m) for m in models], mnist1d, settings, masks,
                                save_weights_at=save_at, start_iterations=starts)
        assert seen[-1].chunk_members == members and len(seen[-1].chunks) == 4 // members
        for run, ref, whole in zip(runs, refs, one):
            assert_same_run(run, ref)
            assert_same_run(run, whole)


@pytest.mark.parametrize("model, optimizer, members", [("mlp_mnist1d", dict(optimizer="adam"), 23),
                                                       ("cnn_mnist1d", dict(optimizer="sgd", lr=0.1, momentum=0.9), 20)])
def test_the_chunk_layout_of_the_quick_presets_is_pinned(mnist1d, model, optimizer, members):
    """How many members a CPU steps together is part of what a member computes. Torch's
    fused SGD and Adam kernels compute the elements past a tensor's last whole vector in
    scalar code, which can round otherwise than the vector code (AVX2 and AVX-512 kernels,
    not ``default``), and a chunk's ``[n, 10]`` output biases end in such a remainder unless
    ``10 n`` fills whole vectors: 16 CNN members with SGD in chunks of 5, 5 and 6 parted
    from one chunk in their output biases at the sixth step, from the same gradients. A pass's
    identity does not name its chunks, so a change to ``CHUNK_BYTES`` or to
    ``member_bytes`` would change what stored passes hold without re-keying them. This
    fails then: change the passes' identity with it, and this number."""
    settings = [TrainSettings(model=model, iterations=10, seed=s, **optimizer) for s in range(2)]
    pop = population._Population([model_for(s, mnist1d) for s in settings], mnist1d, settings, [None] * 2,
                                 [[]] * 2, [0] * 2, None, False)
    assert pop.chunk_members == members


def test_conv2_with_augmentation_matches_train_alone():
    data = fake_images()
    base = TrainSettings(model="conv2", dataset="cifar10", optimizer="sgd", lr=0.02, momentum=0.9,
                         weight_decay=1e-3, batch_size=16, iterations=12, eval_every=4, augment=True)
    settings = [base.replace(seed=s, data_order_seed=10 + s) for s in range(3)]
    models = [build_model("conv2", (3, 8, 8), 10, seed=s) for s in range(3)]
    masks = [random_mask(models[0]), None, random_mask(models[2], density=0.7, seed=3)]
    starts, save_at = [0, 3, 0], [[6], [3, 12], []]
    refs = reference(models, data, settings, masks, starts, save_at)
    runs = train_population(models, data, settings, masks, save_weights_at=save_at,
                            start_iterations=starts)
    for run, ref in zip(runs, refs):
        assert_same_run(run, ref, eval_examples=30)


@pytest.mark.parametrize("name, shape", [("lenet300_100", (1, 28, 28)), ("conv4", (3, 8, 8)),
                                         ("conv6", (3, 8, 8))])
def test_other_architectures_match_train_alone(name, shape):
    data = fake_images(shape)
    settings = TrainSettings(model=name, dataset="mnist" if shape[0] == 1 else "cifar10",
                             lr=1e-3, batch_size=20, iterations=6, eval_every=3)
    models = [build_model(name, shape, 10, seed=s) for s in range(2)]
    assert can_batch(models)
    masks = [random_mask(models[0]), None]
    refs = reference(models, data, [settings] * 2, masks, [0, 0], [[3]] * 2)
    runs = train_population(models, data, settings, masks, save_weights_at=[3])
    for run, ref in zip(runs, refs):
        assert_same_run(run, ref, eval_examples=30)


@pytest.mark.parametrize("blocks", [1, 2])
def test_transformer_members_match_train_alone(blocks):
    """Notebook 10's transformer (``stacked_transformer``: the body through autograd, its
    attention written out) gives each member ``train``'s Run: Adam with L2 weight decay and
    warm-up as 10's quick preset, other learning rates, a mask over every weight matrix and
    embedding, a late start. Two blocks: the first one's causal attention over every
    position. In float64, where what differs between the two computations (the attention
    kernel) stays at 1e-15, so what is compared is the formulas, data order and masks."""
    from lthlib.engine.training import data_for

    base = TrainSettings(model="transformer", dataset="modadd13", optimizer="adam", lr=1e-2, batch_size=32,
                         iterations=30, eval_every=10, warmup_iterations=5, weight_decay=3e-3,
                         model_kwargs=dict(d_model=16, heads=2, layers=blocks))
    data = data_for(base, device="cpu")  # token ids: the models are float64
    settings = [base.replace(seed=0), base.replace(seed=1, lr=3e-3), base.replace(seed=2, weight_decay=0.0)]
    models = [model_for(s, data).double() for s in settings]
    assert can_batch(models)
    masks = [random_mask(models[0], density=0.5), None, random_mask(models[2], density=0.3, seed=2)]
    assert "embed.weight" in masks[0] and "blocks.0.fc2.weight" in masks[0]
    starts, save_at = [0, 5, 0], [[0, 30], [5, 10], [7]]
    refs = reference(models, data, settings, masks, starts, save_at)
    runs = train_population(models, data, settings, masks, save_weights_at=save_at, start_iterations=starts)
    for run, ref in zip(runs, refs):
        assert_same_run(run, ref, eval_examples=len(data.y_val))


def test_single_member_is_train_itself(mnist1d):
    settings = TrainSettings(model="mlp_mnist1d", iterations=20, eval_every=10)
    model = model_for(settings, mnist1d)
    ref = train(copy.deepcopy(model), mnist1d, settings, save_weights_at=[5])
    (run,) = train_population([copy.deepcopy(model)], mnist1d, settings, save_weights_at=[5])
    assert run.curves() == ref.curves()
    assert all(torch.equal(run.final_state[k], ref.final_state[k]) for k in ref.final_state)
    (batched,) = train_population([model], mnist1d, settings, save_weights_at=[5], batched=True)
    assert_same_run(batched, ref)


@pytest.mark.parametrize("kind", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("impl", ["fused", "foreach"])
def test_batched_optimizer_matches_torch_optim(kind, impl):
    """Three members (different lr, weight decay, momentum, start) against torch.optim each
    (AdamW with Power et al.'s betas, so the betas reach the update)."""
    g = torch.Generator().manual_seed(0)
    k, shapes = 3, {"w": (5, 4), "b": (5,)}
    base = TrainSettings(optimizer=kind, lr=0.01, iterations=100,
                         **({"momentum": 0.9} if kind == "sgd" else {}),
                         **({"betas": (0.9, 0.98)} if kind == "adamw" else {}))
    settings = [base, base.replace(lr=0.03, weight_decay=0.1),
                base.replace(**({"momentum": 0.5} if kind == "sgd" else {"weight_decay": 0.01}))]
    starts = [0, 0, 2]
    params = {n: torch.randn(k, *s, generator=g) for n, s in shapes.items()}
    singles = [{n: params[n][j].clone().requires_grad_() for n in shapes} for j in range(k)]
    opts = [(torch.optim.Adam(list(p.values()), lr=s.lr, weight_decay=s.weight_decay, fused=impl == "fused")
             if kind == "adam" else
             torch.optim.AdamW(list(p.values()), lr=s.lr, betas=s.betas, weight_decay=s.weight_decay,
                               fused=impl == "fused")
             if kind == "adamw" else
             torch.optim.SGD(list(p.values()), lr=s.lr, momentum=s.momentum,
                             weight_decay=s.weight_decay, fused=impl == "fused"))
            for p, s in zip(singles, settings)]
    opt = stacked_optim.StackedOptimizer(params, settings, starts, impl)
    for t in range(6):
        n = sum(s <= t for s in starts)
        opt.activate(n)
        grads = {name: torch.randn(n, *shape, generator=g) for name, shape in shapes.items()}
        for j in range(n):
            for name in shapes:
                singles[j][name].grad = grads[name][j].clone()
            opts[j].step()
        opt.step(t, list(grads.values()))
        for j in range(n):
            for name in shapes:
                torch.testing.assert_close(params[name][j], singles[j][name].detach(), rtol=1e-6, atol=1e-7)
                if impl == "fused":  # the same kernel as torch.optim(fused=True), bit for bit
                    assert torch.equal(params[name][j], singles[j][name].detach())


@pytest.mark.parametrize("optimizer", [dict(optimizer="adam"), dict(optimizer="adamw"),
                                       dict(optimizer="sgd", lr=0.1, momentum=0.9)])
def test_masked_weights_zero_after_every_step_and_adam_never_sees_them(mnist1d, monkeypatch, optimizer):
    """The population multiplies weights by their masks once, at the start: every step after
    must leave a masked weight and its optimiser state exactly 0.0 by itself."""
    settings = TrainSettings(model="mlp_mnist1d", iterations=15, eval_every=5, weight_decay=1e-2, **optimizer)
    models = members(mnist1d, settings, seeds=(0, 1))
    masks = [random_mask(models[0]), random_mask(models[1], seed=5)]
    seen = []
    real_run = population._Population.run
    monkeypatch.setattr(population._Population, "run", lambda self: seen.append(self) or real_run(self))
    runs = train_population(models, mnist1d, settings, masks, save_weights_at=range(16))
    pop = seen[0]
    for j, (run, mask) in enumerate(zip(runs, masks)):
        assert sorted(run.weights_at) == list(range(16))
        for state in run.weights_at.values():
            for name, keep in mask.items():
                assert torch.all(state[name][~keep] == 0.0)
        for name, keep in mask.items():
            keep = keep.t() if name in pop.transposed else keep  # stored layout
            internal = pop.order.index(j)
            for buf in pop.opt.state.values():
                assert torch.all(buf[name][internal][~keep] == 0.0)
            assert torch.count_nonzero(run.final_state[name][mask[name]]) == int(mask[name].sum())


def test_interrupted_population_resumes_bit_for_bit(mnist1d, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "0")  # a checkpoint at every evaluation
    base = TrainSettings(model="cnn_mnist1d", iterations=50, eval_every=10)
    settings = [base.replace(seed=s, lr=1e-3 * (s + 1)) for s in range(3)]
    models = [model_for(s, mnist1d) for s in settings]
    masks = [None, random_mask(models[1]), None]
    kwargs = dict(save_weights_at=[[0, 25, 50], [35], [15]], start_iterations=[0, 0, 15])
    whole = train_population([copy.deepcopy(m) for m in models], mnist1d, settings, masks, **kwargs)

    path = tmp_path / "population.pt"
    saves = []
    real_save = population.atomic_save

    def save_then_stop(obj, p):
        real_save(obj, p)
        saves.append(obj["iteration"])
        if len(saves) == 2:
            raise KeyboardInterrupt("laptop closed")

    monkeypatch.setattr(population, "atomic_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_population([copy.deepcopy(m) for m in models], mnist1d, settings, masks,
                         checkpoint=path, **kwargs)
    assert saves == [10, 20] and path.exists()
    monkeypatch.setattr(population, "atomic_save", real_save)
    fresh = [copy.deepcopy(m) for m in models]
    resumed = train_population(fresh, mnist1d, settings, masks, checkpoint=path, **kwargs)
    assert not path.exists()
    for a, b, model in zip(resumed, whole, fresh):
        assert a.curves() == b.curves()
        assert sorted(a.weights_at) == sorted(b.weights_at)
        for state, want in [(a.final_state, b.final_state)] + [
                (a.weights_at[k], b.weights_at[k]) for k in b.weights_at]:
            assert all(torch.equal(state[k], want[k]) for k in want)
        assert all(torch.equal(p, a.final_state[k]) for k, p in model.state_dict().items())


def test_checkpoint_of_other_settings_or_masks_is_refused(mnist1d, tmp_path, monkeypatch):
    settings = TrainSettings(model="mlp_mnist1d", iterations=20, eval_every=10)
    models = members(mnist1d, settings, seeds=(0, 1))
    path = tmp_path / "ckpt.pt"
    monkeypatch.setattr(population._Population, "run",
                        lambda self: self._save(10, 0.0) or (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        train_population(models, mnist1d, settings, checkpoint=path)
    monkeypatch.undo()
    with pytest.raises(StoreError, match="ckpt.pt.*other settings"):
        train_population(models, mnist1d, settings.replace(lr=0.1), checkpoint=path)
    with pytest.raises(StoreError, match="ckpt.pt.*other masks"):
        train_population(models, mnist1d, settings, [random_mask(models[0]), None], checkpoint=path)
    with pytest.raises(StoreError, match="ckpt.pt.*batched path"):
        train_population(models, mnist1d, settings, checkpoint=path, batched=False)


def test_batchnorm_models_fall_back_to_train_with_the_same_result(tmp_path, monkeypatch):
    data = fake_images()
    settings = TrainSettings(model="resnet20", dataset="cifar10", optimizer="sgd", lr=0.05,
                             momentum=0.9, batch_size=16, iterations=6, eval_every=3)
    models = [build_model("resnet20", (3, 8, 8), 10, seed=s, width=4) for s in range(2)]
    assert not can_batch(models)
    with pytest.raises(ValueError, match="ResNetCifar is not one of"):
        train_population(models, data, settings, batched=True)
    masks = [random_mask(models[0]), None]
    refs = reference(models, data, [settings] * 2, masks, [0, 3], [[3], [6]])

    path, calls = tmp_path / "each.pt", []
    real_train = population_members.train

    def train_then_stop(*args, **kwargs):  # interrupted inside the second member
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr(population_members, "train", train_then_stop)
    kwargs = dict(save_weights_at=[[3], [6]], start_iterations=[0, 3], checkpoint=path)
    with pytest.raises(KeyboardInterrupt):
        train_population([copy.deepcopy(m) for m in models], data, settings, masks, **kwargs)
    monkeypatch.setattr(population_members, "train", real_train)
    fresh = [copy.deepcopy(m) for m in models]
    runs = train_population(fresh, data, settings, masks, **kwargs)
    assert not path.exists()
    for model, run, ref in zip(fresh, runs, refs):
        assert run.curves() == ref.curves()
        assert all(torch.equal(run.final_state[k], ref.final_state[k]) for k in ref.final_state)
        assert all(torch.equal(run.weights_at[3 if ref.start_iteration == 0 else 6][k], v)
                   for k, v in ref.weights_at[3 if ref.start_iteration == 0 else 6].items())
        assert all(torch.equal(v, run.final_state[k]) for k, v in model.state_dict().items())


def test_a_diverging_member_is_named(mnist1d):
    settings = TrainSettings(model="mlp_mnist1d", iterations=20, eval_every=10)
    models = members(mnist1d, settings)
    with pytest.raises(TrainingDiverged, match="member 1 diverged"):
        train_population(models, mnist1d, [settings, settings.replace(lr=1e6), settings])
    with pytest.raises(TrainingDiverged, match="member 2"):
        train_population(members(mnist1d, settings), mnist1d,
                         [settings, settings, settings.replace(lr=1e6)], batched=False)


def test_can_batch_rule(mnist1d):
    mlp = model_for(TrainSettings(model="mlp_mnist1d"), mnist1d)
    cnn = model_for(TrainSettings(model="cnn_mnist1d"), mnist1d)
    assert can_batch([mlp, copy.deepcopy(mlp)]) and can_batch([cnn])
    assert not can_batch([])
    assert not can_batch([mlp, cnn])  # two architectures
    assert not can_batch([mlp, build_model("mlp_mnist1d", (40,), 10, hidden=(30,))])  # two widths
    user = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(40, 10))
    assert not can_batch([user, copy.deepcopy(user)])
    assert not can_batch([build_model("vgg16", (3, 32, 32), 10)])


def test_bad_inputs_are_refused_clearly(mnist1d):
    settings = TrainSettings(model="mlp_mnist1d", iterations=20, eval_every=10)
    models = members(mnist1d, settings, seeds=(0, 1))
    with pytest.raises(ValueError, match="at least one model"):
        train_population([], mnist1d, settings)
    with pytest.raises(ValueError, match="settings has 3 entries for 2 models"):
        train_population(models, mnist1d, [settings] * 3)
    with pytest.raises(ValueError, match="masks has 1 entries for 2 models"):
        train_population(models, mnist1d, settings, [None])
    with pytest.raises(ValueError, match="start_iterations has 3 entries"):
        train_population(models, mnist1d, settings, start_iterations=[0, 0, 0])
    with pytest.raises(ValueError, match="save_weights_at has 3 lists for 2 models"):
        train_population(models, mnist1d, settings, save_weights_at=[[0], [1], [2]])
    with pytest.raises(ValueError, match=r"start_iterations\[1\]=20"):
        train_population(models, mnist1d, settings, start_iterations=[0, 20])
    with pytest.raises(ValueError, match="same object"):
        train_population([models[0], models[0]], mnist1d, settings)
    cnn = model_for(settings.replace(model="cnn_mnist1d"), mnist1d)
    with pytest.raises(ValueError, match="one batched pass.*architecture"):
        train_population([models[0], cnn], mnist1d, [settings, settings.replace(model="cnn_mnist1d")],
                         batched=True)
    with pytest.raises(ValueError, match="one batched pass.*batch_size"):
        train_population(models, mnist1d, [settings, settings.replace(batch_size=30)], batched=True)
    for model in models:  # nothing was trained by the refused calls
        assert not any(p.grad is not None for p in model.parameters())


def test_mixed_members_fall_back_to_train_each(mnist1d):
    a = TrainSettings(model="mlp_mnist1d", iterations=10, eval_every=5)
    b = a.replace(model="cnn_mnist1d", batch_size=30)
    models = [model_for(a, mnist1d), model_for(b, mnist1d)]
    refs = reference(models, mnist1d, [a, b], [None, None], [0, 0], [[], []])
    runs = train_population(models, mnist1d, [a, b])
    assert [r.curves() for r in runs] == [r.curves() for r in refs]


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="DEVICE.*CUDA is not available.*'cpu'"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="DEVICE.*MPS"):
        resolve_device("mps")
    with pytest.raises(ValueError, match="device='tpu7'.*unknown"):
        resolve_device("tpu7")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda")  # CUDA first, then MPS
    with pytest.raises(ValueError, match="only 1 CUDA"):
        resolve_device("cuda:3")


def test_population_runs_on_the_resolved_device(mnist1d):
    device = resolve_device("auto")  # the CPU here; a GPU where there is one
    settings = TrainSettings(model="mlp_mnist1d", iterations=10, eval_every=5)
    models = [m.to(device) for m in members(mnist1d, settings, seeds=(0, 1))]
    runs = train_population(models, mnist1d.to(device), settings)
    assert all(next(m.parameters()).device.type == device.type for m in models)
    assert all(math.isfinite(r.final("train_loss")) for r in runs)


# ------------------------------------------------------------- edge-popup supermasks
def supermasks(data, settings, seeds=(0, 1, 2), density=0.3, method="edge_popup", weights="signed_constant"):
    """Supermasks on frozen random ``weights`` (signed constants, as notebook 04 learns them)."""
    from lthlib.methods.supermask import Supermask, random_weights
    nets = []
    for s in seeds:
        base = model_for(settings.replace(seed=s), data)
        random_weights(base, weights, seed=s)
        nets.append(Supermask(base, method, density=density, seed=s))
    return nets


# The CNN's frozen weights are Kaiming-normal, not signed constants: a 5-tap filter of
# +-c weights under a sparse mask repeats in other channels, so the next layer sums
# c * h - c * h, zero in exact arithmetic and +-1e-10 in floats, where the order of the sum
# (grouped or plain convolution) decides whether its ReLU passes a gradient -- a measured
# difference of a whole example's gradient in one step, from no error of either path.
@pytest.mark.parametrize("model, weights", [("mlp_mnist1d", "signed_constant"), ("cnn_mnist1d", "kaiming_normal")])
def test_edge_popup_members_match_train_alone(mnist1d, model, weights):
    base = TrainSettings(model=model, optimizer="sgd", lr=0.1, momentum=0.9, iterations=40,
                         eval_every=20, train_size=600, validation_size=200)
    settings = [base.replace(seed=0), base.replace(seed=1, data_order_seed=5), base.replace(seed=2, lr=0.05)]
    nets = supermasks(mnist1d, base, seeds=(0, 1, 2), weights=weights)
    frozen = [copy.deepcopy(dict(n.base.state_dict())) for n in nets]
    refs = reference(nets, mnist1d, settings, [None] * 3, [0] * 3, [[0, 40]] * 3)
    runs = train_population(nets, mnist1d, settings, save_weights_at=[0, 40], batched=True)
    for net, run, ref, weights in zip(nets, runs, refs, frozen):
        assert_same_run(run, ref)
        for name, w in weights.items():  # the weights never train: bit for bit
            assert torch.equal(run.final_state[f"base.{name}"], w) and torch.equal(net.base.state_dict()[name], w)
        assert any(not torch.equal(run.final_state[k], ref.weights_at[0][k]) for k in run.final_state
                   if k.startswith("scores."))  # the scores did train
        alone = copy.deepcopy(net)
        alone.load_state_dict(ref.final_state)
        assert net.mask() == alone.mask()  # the hard masks the scores give, exactly


def test_edge_popup_population_resumes_bit_for_bit(mnist1d, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "0")
    settings = TrainSettings(model="mlp_mnist1d", optimizer="sgd", lr=0.1, momentum=0.9, iterations=30,
                             eval_every=10)
    whole = train_population(supermasks(mnist1d, settings), mnist1d, settings)
    path = tmp_path / "population.pt"
    real_save = population.atomic_save

    def save_then_stop(obj, p):
        real_save(obj, p)
        raise KeyboardInterrupt("laptop closed")

    monkeypatch.setattr(population, "atomic_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_population(supermasks(mnist1d, settings), mnist1d, settings, checkpoint=path)
    monkeypatch.setattr(population, "atomic_save", real_save)
    with pytest.raises(StoreError, match="another kind"):  # the same settings, other densities
        train_population(supermasks(mnist1d, settings, density=0.5), mnist1d, settings, checkpoint=path)
    resumed = train_population(supermasks(mnist1d, settings), mnist1d, settings, checkpoint=path)
    for a, b in zip(resumed, whole):
        assert a.curves() == b.curves()
        assert all(torch.equal(a.final_state[k], b.final_state[k]) for k in b.final_state)


def test_supermasks_that_cannot_batch_train_alone_or_are_refused(mnist1d):
    settings = TrainSettings(model="mlp_mnist1d", optimizer="sgd", lr=0.1, momentum=0.9, iterations=10,
                             eval_every=5)
    bernoulli = supermasks(mnist1d, settings, seeds=(0, 1), density=0.5, method="bernoulli")
    refs = reference(bernoulli, mnist1d, [settings] * 2, [None] * 2, [0, 0], [[], []])
    assert [r.curves() for r in train_population(bernoulli, mnist1d, settings)] == [r.curves() for r in refs]
    with pytest.raises(ValueError, match="bernoulli supermask; only edge-popup"):
        train_population(bernoulli, mnist1d, settings, batched=True)
    mixed = supermasks(mnist1d, settings, seeds=(0,)) + supermasks(mnist1d, settings, seeds=(1,), density=0.5)
    with pytest.raises(ValueError, match=r"models\[1\] keeps 0.5 of its weights.*one density per pass"):
        train_population(mixed, mnist1d, settings, batched=True)
    nets = supermasks(mnist1d, settings, seeds=(0, 1))
    with pytest.raises(ValueError, match=r"masks\[0\] is given"):
        train_population(nets, mnist1d, settings, [Mask.ones_like(nets[0]), None], batched=True)
    with pytest.raises(ValueError, match="not a Supermask"):
        train_population([nets[0], model_for(settings, mnist1d)], mnist1d, settings, batched=True)


# ------------------------------------------------ dynamic sparse training (SET, RigL)
def sparse_members(data, settings, methods, seeds):
    from lthlib.methods.sparse_training import SparseTrainingSettings, SparseUpdater, initial_sparse_mask
    models, masks, updaters = [], [], []
    for method, seed in zip(methods, seeds):
        sparse = SparseTrainingSettings(method=method, density=0.2, update_every=10)
        model = model_for(settings.replace(seed=seed), data)
        models.append(model)
        masks.append(initial_sparse_mask(model, sparse, seed))
        updaters.append(SparseUpdater(sparse, settings.iterations, seed))
    return models, masks, updaters


@pytest.mark.parametrize("model", ["mlp_mnist1d", "cnn_mnist1d"])
def test_set_and_rigl_members_match_train_alone(mnist1d, model):
    base = TrainSettings(model=model, iterations=40, eval_every=20, train_size=600, validation_size=200)
    settings = [base.replace(seed=s) for s in (0, 1, 2)]
    models, masks, updaters = sparse_members(mnist1d, base, ["set", "rigl", "rigl"], (0, 1, 2))
    refs = [train(copy.deepcopy(m), mnist1d, s, mk, save_weights_at=[25, 40], mask_update=u)
            for m, s, mk, u in zip(models, settings, masks, updaters)]
    runs = train_population(models, mnist1d, settings, masks, save_weights_at=[25, 40], mask_updates=updaters,
                            batched=True)
    for run, ref in zip(runs, refs):
        assert len(ref.mask_updates) == 2  # after steps 10, 20 (T_end = 30)
        assert run.mask_updates == ref.mask_updates  # the same weights dropped and grown, counted
        assert_same_run(run, ref)  # and the final masks, exactly; masked weights exactly 0


def test_a_dynamic_population_resumes_bit_for_bit(mnist1d, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHLIB_CHECKPOINT_SECONDS", "0")
    settings = TrainSettings(model="mlp_mnist1d", iterations=40, eval_every=15)
    models, masks, updaters = sparse_members(mnist1d, settings, ["set", "rigl"], (0, 1))
    whole = train_population(models, mnist1d, settings, masks, mask_updates=updaters)
    path = tmp_path / "population.pt"
    real_save = population.atomic_save

    def save_then_stop(obj, p):  # the first checkpoint, at 15: after the mask update at 10
        real_save(obj, p)
        raise KeyboardInterrupt("laptop closed")

    models, masks, updaters = sparse_members(mnist1d, settings, ["set", "rigl"], (0, 1))
    monkeypatch.setattr(population, "atomic_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_population(models, mnist1d, settings, masks, mask_updates=updaters, checkpoint=path)
    monkeypatch.setattr(population, "atomic_save", real_save)
    models, masks, _ = sparse_members(mnist1d, settings, ["set", "rigl"], (0, 1))
    with pytest.raises(StoreError, match="masks change otherwise"):  # the same members, static masks
        train_population(models, mnist1d, settings, masks, checkpoint=path)
    models, masks, updaters = sparse_members(mnist1d, settings, ["set", "rigl"], (0, 1))
    resumed = train_population(models, mnist1d, settings, masks, mask_updates=updaters, checkpoint=path)
    for a, b in zip(resumed, whole):
        assert a.curves() == b.curves() and a.mask_updates == b.mask_updates
        assert Mask(a.mask) == Mask(b.mask)
        assert all(torch.equal(a.final_state[k], b.final_state[k]) for k in b.final_state)


def test_a_mask_update_needs_a_mask(mnist1d):
    settings = TrainSettings(model="mlp_mnist1d", iterations=20, eval_every=10)
    models, masks, updaters = sparse_members(mnist1d, settings, ["set", "set"], (0, 1))
    with pytest.raises(ValueError, match=r"mask_updates\[1\] changes a mask.*starting mask"):
        train_population(models, mnist1d, settings, [masks[0], None], mask_updates=updaters)
