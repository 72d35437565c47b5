"""``lthlib.engine.cluster`` and ``reproduce --ray``: a figure's seeds as Ray tasks on a local Ray
instance give the runs the local path gives, the figure is drawn from the store without
training, and a missing Ray or an unreachable cluster is a clear error.

The Ray tests are skipped where Ray is not installed (``pip install ray``, pinned in
requirements.txt); the missing-Ray error is tested everywhere."""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest
import torch

from lthlib.apps import reproduce as rp
from lthlib.core.store import load
from lthlib.engine import cluster
from lthlib.engine.cluster import ClusterError

FIGURE = "fc2019-fig3"
EXACT = {"iterations", "train_acc", "val_acc", "test_acc", "start_iteration", "settings"}


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    monkeypatch.setenv("LTHLIB_WORKERS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def fig3_here(tmp_path_factory) -> Path:
    """FIGURE's two smoke seeds run as their seed jobs in this process, once for the module:
    the store that the Ray tasks' stores are compared with, bit for bit."""
    here = tmp_path_factory.mktemp("here_results")
    with pytest.MonkeyPatch.context() as m:
        m.setenv("LTHLIB_WORKERS", "1")
        m.setenv("OMP_NUM_THREADS", "1")
        for seed in (0, 1):
            rp.run_seed_job(rp.SeedJob(FIGURE, "smoke", 2, seed, str(here), "cpu"))
    return here


@pytest.fixture(scope="class")
def local_ray():
    """One local Ray instance (``--ray local``) for the tests of ``TestLocalRay``, as
    ``cluster.connect("local")`` would start it (the same task environment): starting one takes
    ~6 s and ~15 CPU-s, and its workers, once they have imported torch and lthlib, serve the
    next test's tasks. ``connect`` uses a connection the process already has and leaves it
    open (the first test); that it closes the one it opened itself is
    ``test_a_token_authenticated_head_runs_the_sweep``'s to check."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("this process is already connected to a Ray cluster")
    with pytest.MonkeyPatch.context() as m:
        m.setenv("LTHLIB_WORKERS", "1")
        m.setenv("OMP_NUM_THREADS", "1")
        env = cluster.task_env()
    ray.init(address="local", include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": env})
    try:
        yield ray
    finally:
        ray.shutdown()


def _argv(out: Path, results: Path, *extra: str) -> list[str]:
    return [FIGURE, "--scale", "smoke", "--seeds", "2", "--out", str(out), "--results", str(results),
            "--device", "cpu", *extra]


def _stored(root: Path) -> dict[str, object]:
    """Every stored result of a store, by its path relative to the store (locks, checkpoints
    and other files left out)."""
    return {str(p.relative_to(root)): load(p)["result"] for p in sorted(root.rglob("*.pt"))}


def _compare(a, b, where: str, exact: bool, name: str = "") -> None:
    """Assert ``a`` and ``b`` (stored results) are the same: masks, accuracies, iterations
    and settings exactly; losses and weights to float32 rounding (``exact``: all bit for bit)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _compare(a[k], b[k], f"{where}/{k}", exact, str(k))
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype, where
        if exact or a.dtype == torch.bool:
            assert torch.equal(a, b), f"{where}: tensors differ"
        else:
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-5), f"{where}: max |diff| {(a - b).abs().max():.3g}"
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        pass  # a curve not evaluated (eval_train=False) is NaN in both
    elif isinstance(a, (list, tuple)) and a and all(isinstance(v, float) for v in a) and not exact \
            and name not in EXACT:
        assert len(a) == len(b) and all(abs(x - y) <= 1e-5 + 1e-4 * abs(y) or (math.isnan(x) and math.isnan(y))
                                        for x, y in zip(a, b)), f"{where}: {a} != {b}"
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _compare(x, y, f"{where}[{i}]", exact, name)
    elif isinstance(a, float) and not exact and name not in EXACT and name != "seconds":
        assert abs(a - b) <= 1e-5 + 1e-4 * abs(b), f"{where}: {a} != {b}"
    elif name == "seconds":  # wall time of the run, not a result
        pass
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _compare_stores(a: Path, b: Path, exact: bool) -> int:
    ra, rb = _stored(a), _stored(b)
    assert ra and set(ra) == set(rb), f"stored results differ: {sorted(set(ra) ^ set(rb))}"
    for path in ra:
        _compare(ra[path], rb[path], path, exact)
    return len(ra)


# ------------------------------------------------------------------------------ errors
def test_missing_ray_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(ClusterError, match=r"pip install ray==2\.60\.0"):
        cluster.import_ray()
    with pytest.raises(ClusterError, match="Ray is not installed"):
        cluster.ray_map(abs, [1], "auto")
    assert not cluster.ray_available()
    with pytest.raises(SystemExit) as exc:
        rp.main(_argv(tmp_path / "out", tmp_path / "results", "--ray", "auto"))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Ray is not installed" in err and "pip install ray==" in err and "leave out --ray" in err
    assert not (tmp_path / "results").exists()
    # the estimate alone needs no Ray
    assert rp.main(_argv(tmp_path / "out", tmp_path / "results", "--ray", "auto", "--estimate-only")) == 0


def test_bad_addresses_are_clear_errors_and_nothing_is_trained(tmp_path, capsys):
    pytest.importorskip("ray")
    with pytest.raises(ClusterError, match="not a cluster address"):
        cluster.ray_map(abs, [1], "no-port-here")
    # nothing listens on the discard port: refused at once (Ray itself would retry for minutes)
    with pytest.raises(ClusterError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:9 .*ray start --head"):
        cluster.ray_map(abs, [1], "127.0.0.1:9")
    results = tmp_path / "results"
    assert rp.main(_argv(tmp_path / "out", results, "--ray", "127.0.0.1:9")) == 2
    captured = capsys.readouterr()
    assert "time: about" in captured.out  # the estimate came first
    assert "error: cannot reach the Ray cluster at 127.0.0.1:9" in captured.err
    assert not list(results.rglob("*.pt")) and not list(results.glob(".cluster-check-*"))
    assert not (tmp_path / "out" / f"{FIGURE}.png").exists()


def test_auto_without_a_running_cluster_says_how_to_start_one(monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if ray.is_initialized() or Path("/tmp/ray/ray_current_cluster").exists():
        pytest.skip("a Ray cluster is running on this machine")
    with pytest.raises(ClusterError, match=r"no running Ray cluster was found for --ray auto.*ray start --head"):
        cluster.ray_map(abs, [1], "auto")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")  # auto names a cluster that does not answer
    with pytest.raises(ClusterError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:9 \(what --ray auto found"):
        cluster.ray_map(abs, [1], "auto")


# ------------------------------------------------------------------------ the sweep
class TestLocalRay:
    """The sweep on one local Ray instance (``local_ray``), shared by these tests."""

    def test_ray_sweep_stores_what_the_local_path_stores(self, local_ray, tmp_path, monkeypatch, capsys, fig3_here):
        """fc2019-fig3 at smoke with 2 seeds: one Ray task per seed (a local Ray instance,
        ``--ray local``, the class's) into one store, the default local path into another. The driver trains
        nothing (its training functions raise): the figure is drawn from what the tasks stored."""
        ray = local_ray
        import lthlib.engine.passes
        import lthlib.engine.training
        import lthlib.experiments.imp

        def no_training(*args, **kwargs):
            raise AssertionError("the driver trained a network: the figure must be drawn from the store")

        def no_members(members, *args, **kwargs):  # called with no members when all are stored
            if list(members):
                no_training()
            return []

        def no_passes(members, passes, *args, **kwargs):  # called with no passes when all are stored
            if list(passes):
                no_training()
            return {}

        ray_store, ray_out = tmp_path / "ray_results", tmp_path / "ray_out"
        with monkeypatch.context() as m:
            for module, name, fake in ((lthlib.engine.training, "train", no_training), (lthlib.experiments.imp, "train", no_training),
                                       (lthlib.engine.passes, "train_members", no_members),
                                       (lthlib.engine.passes, "train_passes", no_passes), (lthlib.experiments.imp, "train_passes", no_passes)):
                m.setattr(module, name, fake)
            assert rp.main(_argv(ray_out, ray_store, "--ray", "local")) == 0
        out = capsys.readouterr().out
        assert "Training fc2019-fig3 on the Ray cluster at local" in out and "[2/2]" in out
        assert ray.is_initialized()  # the connection reproduce found open is left open
        prov = json.loads((ray_out / f"{FIGURE}.provenance.json").read_text())
        assert (ray_out / f"{FIGURE}.png").read_bytes()[:4] == b"\x89PNG"
        assert prov["cluster"]["gpus_per_task"] == 0 and prov["cluster"]["task_device"] == "cpu"
        assert [t["seed"] for t in prov["cluster"]["tasks"]] == prov["seeds"] == [0, 1]  # in the jobs' order
        assert all(t["numerics"]["threads"] == 1 and t["device"] == "cpu" for t in prov["cluster"]["tasks"])
        assert not list(ray_store.glob(".cluster-check-*"))

        local_store, local_out = tmp_path / "local_results", tmp_path / "local_out"
        assert rp.main(_argv(local_out, local_store)) == 0
        assert (local_out / f"{FIGURE}.png").exists()
        assert json.loads((local_out / f"{FIGURE}.provenance.json").read_text())["cluster"] is None
        # The local path trains the seeds together (lthlib.engine.population), the tasks one seed each:
        # the same runs to float32 rounding; masks, accuracies and iterations identical.
        n = _compare_stores(ray_store, local_store, exact=False)
        assert n == 2 * (1 + 2)  # per seed: the dense run and 2 IMP rounds (ticket and reinit in each)

        # The same jobs run here, in this process, store bit for bit what the Ray tasks stored.
        _compare_stores(ray_store, fig3_here, exact=True)


    def test_a_rewinding_sweep_is_split_by_rewind_point(self, local_ray, tmp_path, monkeypatch, capsys):
        """frankle2020-rewinding on a cluster: per seed, a task for the shared dense run, then one
        task per rewind point k; the driver draws the figure from the store without training,
        and the tasks store bit for bit what the same parts store when run in this process."""
        import lthlib.engine.passes
        import lthlib.engine.training

        figure = rp.FIGURES["frankle2020-rewinding"]
        plan = figure.make_plan("smoke", 1)
        parts = figure.parts(plan)
        assert len(parts) == len(plan.context["experiments"][0].ks) >= 2

        def no_training(*args, **kwargs):
            raise AssertionError("the driver trained a network: the figure must be drawn from the store")

        def no_members(members, *args, **kwargs):
            if list(members):
                no_training()
            return []

        def no_passes(members, passes, *args, **kwargs):
            if list(passes):
                no_training()
            return {}

        store, out = tmp_path / "ray_results", tmp_path / "ray_out"
        argv = ["frankle2020-rewinding", "--scale", "smoke", "--seeds", "1", "--out", str(out), "--results", str(store),
                "--device", "cpu", "--ray", "local"]
        with monkeypatch.context() as m:
            for module, name, fake in ((lthlib.engine.training, "train", no_training),
                                       (lthlib.engine.passes, "train_members", no_members),
                                       (lthlib.engine.passes, "train_passes", no_passes)):
                m.setattr(module, name, fake)
            import lthlib.experiments.imp

            m.setattr(lthlib.experiments.imp, "train", no_training)
            m.setattr(lthlib.experiments.imp, "train_passes", no_passes)
            assert rp.main(argv) == 0
        said = capsys.readouterr().out
        assert f"then {len(parts)} task(s), one per seed and part" in said
        prov = json.loads((out / "frankle2020-rewinding.provenance.json").read_text())
        tasks = prov["cluster"]["tasks"]
        assert [t["part"] for t in tasks] == [rp.PREPARE, *parts]
        assert "one task per seed and part" in prov["cluster"]["split"] and rp.PREPARE in prov["cluster"]["split"]

        here = tmp_path / "here_results"
        seed = plan.seeds[0]
        for part in (rp.PREPARE, *parts):
            rp.run_seed_job(rp.SeedJob("frankle2020-rewinding", "smoke", 1, seed, str(here), "cpu", part=part))
        n = _compare_stores(store, here, exact=True)
        assert n == 1 + len(parts) * plan.context["experiments"][0].imp.rounds  # one dense run, every k's rounds
        with pytest.raises(rp.SettingsError, match="no part"):
            figure.part_plan(plan, "resnet20 k=7")


    def test_a_failing_task_is_reported_with_its_error(self, local_ray, tmp_path):
        """A task whose node runs other lthlib code refuses before training; ray_map names the
        job and the error after the other tasks finished."""
        good = rp.SeedJob(FIGURE, "smoke", 2, 0, str(tmp_path), "cpu", expect={"code": rp.code_digest()})
        bad = rp.SeedJob(FIGURE, "smoke", 2, 1, str(tmp_path), "cpu", expect={"code": "0" * 16})
        with pytest.raises(ClusterError) as exc:
            cluster.ray_map(rp.run_seed_job, [good, bad], "local", describe=rp.SeedJob.describe)
        message = str(exc.value)
        assert "1 of 2 Ray task(s) failed" in message and "fc2019-fig3 seed 1: ClusterError" in message
        assert "runs other lthlib code" in message and "run the same command again" in message
        assert list(tmp_path.rglob("*.pt"))  # seed 0 finished and was stored


def test_conv_figure_parts_are_its_networks(tmp_path):
    """fc2019-conv at paper scale splits per network (Conv-2/4/6 share no runs: no shared
    task); at smoke it has one network, so a seed stays one task. A part run in-process
    stores exactly what the whole seed stores."""
    conv = rp.FIGURES["fc2019-conv"]
    paper = conv.make_plan("paper", 1)
    assert conv.parts(paper) == ["conv2", "conv4", "conv6"] and conv.prepare is None
    one = conv.part_plan(paper, "conv4")
    assert [imp.train.model for imp in one.context["imps"]] == ["conv4"]
    assert one.networks == [one.context["imps"][0].train]
    with pytest.raises(rp.SettingsError, match="no part"):
        conv.part_plan(paper, "conv8")
    smoke = conv.make_plan("smoke", 1)
    (only,) = conv.parts(smoke)
    whole, part = tmp_path / "whole", tmp_path / "part"
    rp.run_seed_job(rp.SeedJob("fc2019-conv", "smoke", 1, 0, str(whole), "cpu"))
    rp.run_seed_job(rp.SeedJob("fc2019-conv", "smoke", 1, 0, str(part), "cpu", part=only))
    _compare_stores(whole, part, exact=True)
    with pytest.raises(rp.SettingsError, match="share no runs"):
        rp.run_seed_job(rp.SeedJob("fc2019-conv", "smoke", 1, 0, str(part), "cpu", part=rp.PREPARE))


def test_a_client_server_that_fails_to_start_is_tried_again(monkeypatch, capsys):
    """Ray Client's head forks a server per client, and that child sometimes dies at start
    (a gRPC fork race in Ray, seen in CI): the connection is tried again, up to
    ``CLIENT_TRIES`` in all; other errors, and the same error for a non-client address, are not."""
    calls: list[str] = []

    class FakeRay:
        fail = 0

        def init(self, address, **kwargs):
            calls.append(address)
            if len(calls) <= self.fail:
                raise RuntimeError("Initialization failure from server: ... RuntimeError: Starting Ray client "
                                   "server failed. See ray_client_server_23000.err for detailed logs.")

        def is_initialized(self):
            return False

    monkeypatch.setattr(cluster.time, "sleep", lambda s: None)
    fake = FakeRay()
    fake.fail = cluster.CLIENT_TRIES - 1
    cluster._init_with_retries(fake, "ray://head:10001", {})
    assert calls == ["ray://head:10001"] * cluster.CLIENT_TRIES
    assert capsys.readouterr().err.count("trying again") == cluster.CLIENT_TRIES - 1

    calls.clear()
    fake.fail = cluster.CLIENT_TRIES  # every try fails: the last error is raised
    with pytest.raises(RuntimeError, match="Starting Ray client server failed"):
        cluster._init_with_retries(fake, "ray://head:10001", {})
    assert len(calls) == cluster.CLIENT_TRIES

    calls.clear()
    fake.fail = 1  # a head address (not Ray Client): no retry
    with pytest.raises(RuntimeError):
        cluster._init_with_retries(fake, "head:6379", {})
    assert len(calls) == 1


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_token_authenticated_head_runs_the_sweep(tmp_path, monkeypatch, fig3_here):
    """A head node started as a new user starts it (`ray start --head`, RAY_AUTH_MODE unset):
    Ray 2.60 turns token authentication on and leaves the token in ~/.ray/auth_token, which a
    driver sends only in token mode. From this process with the mode unset, the sweep runs
    through ``--ray 127.0.0.1:PORT`` (the head's address) and, where Ray Client is installed,
    ``--ray ray://127.0.0.1:PORT``: ``lthlib.engine.cluster`` switches token mode on for each connection
    and off after it. The tasks store bit for bit what the same jobs store when run in this
    process. ``auto`` standing for $RAY_ADDRESS sends the token too. Without a token at hand (a
    new machine: HOME an empty folder) the same command stops, nothing trained, with an error
    that names the token and where it is, not a Ray version mismatch."""
    ray = pytest.importorskip("ray")
    import importlib.util
    import shutil
    import socket
    import subprocess
    import time

    from lthlib.data.datasets import default_data_dir

    ray_cli = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    if Path("/tmp/ray/ray_current_cluster").exists():
        pytest.skip("a Ray cluster is already running on this machine")
    had_mode = os.environ.get("RAY_AUTH_MODE")  # an earlier `--ray local` in this process leaves Ray's "token"
    new_user = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH_")}
    gcs, client = _free_port(), _free_port()
    started = subprocess.run([ray_cli, "start", "--head", "--port", str(gcs), "--ray-client-server-port", str(client),
                              "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats"],
                             capture_output=True, text=True, timeout=180, env=new_user)
    stores: dict[str, Path] = {}
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        assert (Path.home() / ".ray" / "auth_token").is_file()
        cluster._set_auth_mode(None)  # this process as a new user's: token mode off
        addresses = [f"127.0.0.1:{gcs}"]
        if importlib.util.find_spec("grpc") is not None:  # ray[client]
            deadline = time.monotonic() + 60  # the client server comes up a little after `ray start` returns
            while True:
                try:
                    socket.create_connection(("127.0.0.1", client), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the Ray Client server never answered"
                    time.sleep(0.5)
            addresses.append(f"ray://127.0.0.1:{client}")
        for i, address in enumerate(addresses):
            store, out = tmp_path / f"results_{i}", tmp_path / f"out_{i}"
            assert rp.main(_argv(out, store, "--ray", address)) == 0, address
            assert not ray.is_initialized()  # the connection reproduce opened is closed
            assert "RAY_AUTH_MODE" not in os.environ  # token mode for the connection only
            prov = json.loads((out / f"{FIGURE}.provenance.json").read_text())
            assert prov["cluster"]["address"] == address
            assert [t["seed"] for t in prov["cluster"]["tasks"]] == [0, 1]
            stores[address] = store

        monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{gcs}")  # for which Ray itself would send no token
        with cluster.connect("auto") as info:
            assert info.cpus == 2 and len(info.nodes) == 1
        assert "RAY_AUTH_MODE" not in os.environ
        monkeypatch.delenv("RAY_ADDRESS")

        # a new machine, no token at hand: Ray's ~20 s of retries cut to 2 s
        home, results = tmp_path / "home", tmp_path / "refused_results"
        home.mkdir()
        env = dict(new_user, HOME=str(home), RAY_gcs_server_port_wait_time_s="2",
                   LTHLIB_DATA_DIR=str(default_data_dir()))
        env.pop("RAY_ADDRESS", None)
        refused = subprocess.run([sys.executable, "-m", "lthlib", "reproduce",
                                  *_argv(tmp_path / "refused_out", results, "--ray", f"127.0.0.1:{gcs}")],
                                 capture_output=True, text=True, timeout=300, env=env)
        err = refused.stderr
        assert refused.returncode == 2, err[-3000:]
        assert (f"error: the Ray cluster at 127.0.0.1:{gcs} refused this connection: it asks for its authentication "
                "token, and no token is at hand here") in err, err[-3000:]
        assert f"there is no {home / '.ray' / 'auth_token'}" in err and "~/.ray/auth_token on the head node" in err
        assert "RAY_AUTH_TOKEN" in err and "same Ray version" not in err
        assert not list(results.rglob("*.pt"))
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120)
        cluster._set_auth_mode(had_mode)  # as it was, and Ray's cached config with it
    assert os.environ.get("RAY_AUTH_MODE") == had_mode
    for address, store in stores.items():
        assert _compare_stores(store, fig3_here, exact=True) == 2 * (1 + 2), address
