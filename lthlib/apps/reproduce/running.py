"""Running a figure: its data, its seeds' runs here or as Ray tasks on a cluster, then the
drawing and its provenance."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lthlib.apps.reproduce.estimate import duration, estimate, format_estimate
from lthlib.apps.reproduce.figures import LTHLIB_DIR, Figure, Plan, check_data_files, describe_networks, load_data
from lthlib.apps.reproduce.provenance import dataset_checksum, device_words, git_info, now, published_note
from lthlib.apps.reproduce.registry import FIGURES, SCALE_WORDS
from lthlib.data import files as data_files
from lthlib.data.datasets import Dataset, DatasetUnavailableError
from lthlib.engine.passes import passes_within_units
from lthlib.settings import SettingsError
# notebook 04's values, read from the module that owns them (the width study's fraction
# kept; Zhou et al.'s criteria, fractions kept per layer at smoke and quick, starts)


# ------------------------------------------------------------------------------ running
class NotConfirmed(RuntimeError):
    """The run was not confirmed (paper scale without ``--yes``)."""


# ------------------------------------------------------------------------------ cluster
# Modules that never compute a stored number (command line, course site, assignments):
# left out of ``code_digest`` so that editing them does not stop a sweep.
NOT_COMPUTING = ("__main__.py", "apps/cli.py", "apps/site.py", "apps/assignments.py", "apps/reproduce/cli.py",
                 "apps/assignment_sources.py", "apps/site_pages.py")


def code_digest() -> str:
    """A short SHA-256 of lthlib's source files (``NOT_COMPUTING`` left out): every node
    of a sweep must compute with the same code, since a store key names the settings, not
    the code."""
    h = hashlib.sha256()
    for path in sorted(LTHLIB_DIR.rglob("*.py")):
        name = path.relative_to(LTHLIB_DIR).as_posix()
        if name not in NOT_COMPUTING:
            h.update(name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


PREPARE = "shared runs"  # the part of a seed its other parts need first (``Figure.prepare``)


@dataclass(frozen=True)
class SeedJob:
    """One seed of a figure as a task (``run_seed_job``): the worker makes the same plan
    (``figure``, ``scale``, ``seeds`` as given), loads the data on ``device`` and runs the
    figure's runner for ``seed`` into the store at ``results``, a folder every node sees.
    ``expect`` holds what the process that started the sweep computes with (``code``,
    ``numerics``, ``data_sha256``) and a ``marker`` file it wrote in ``results``; the
    worker checks them all before training, so that nothing is stored where, or under
    keys that, the figure would not read."""

    figure: str
    scale: str
    seeds: int | None
    seed: int
    results: str
    device: str = "auto"
    download: bool = True
    expect: Mapping[str, Any] = field(default_factory=dict)
    # None: every run of the seed; PREPARE: what its parts share (``Figure.prepare``); else
    # one of ``Figure.parts``
    part: str | None = None

    def describe(self) -> str:
        return f"{self.figure} seed {self.seed}" + (f", {self.part}" if self.part else "")


def run_seed_job(job: SeedJob) -> dict[str, Any]:
    with passes_within_units():
        return _run_seed_job(job)


def _run_seed_job(job: SeedJob) -> dict[str, Any]:
    """Run one seed of a figure into the store (no drawing); returns where and how it ran:
    ``{"seed", "host", "device", "numerics", "seconds"}``. Module-level, so that a Ray
    worker (or a local process) can import it."""
    from lthlib.core.store import Store
    from lthlib.core.threads import numerics
    from lthlib.engine.cluster import ClusterError

    t0 = time.perf_counter()
    host = platform.node()
    figure = FIGURES[job.figure]
    plan = figure.seed_plan(figure.make_plan(job.scale, job.seeds), job.seed)
    expect = dict(job.expect)
    if expect.get("code") not in (None, code_digest()):
        raise ClusterError(f"{host} runs other lthlib code (from {LTHLIB_DIR}) than the "
                           "machine that started the sweep: install the same checkout of the repository on every "
                           "node (or share it), then run the command again; nothing was trained")
    if expect.get("marker") and not Path(expect["marker"]).exists():
        raise ClusterError(f"the results folder {job.results} on {host} is not the folder the sweep was started "
                           f"with (its check file {Path(expect['marker']).name} is not there): --results must be on "
                           "a filesystem every node mounts at the same path; nothing was trained")
    try:
        data = load_data(plan, job.device, job.download)
    except DatasetUnavailableError as err:
        raise DatasetUnavailableError(f"on {host}: {err}\nEvery node needs the dataset: see data/README.md "
                                      "(or set LTHLIB_DATA_DIR to a folder on the shared filesystem)") from None
    here = numerics()
    if expect.get("numerics") not in (None, here):
        raise ClusterError(f"{host} would store its runs under {here} but the machine that started the sweep "
                           f"reads them under {expect['numerics']} (torch version, thread count, device type, CPU "
                           "kernel set): use the same environment (requirements.txt) and --device on every node, "
                           "and on CPUs of different kinds the same ATEN_CPU_CAPABILITY (e.g. avx2) on every node "
                           "and here; nothing was trained")
    sha = dataset_checksum(data)["sha256"]
    if expect.get("data_sha256") not in (None, sha):
        raise ClusterError(f"the {plan.data_settings.dataset} data on {host} differs from the data of the machine "
                           f"that started the sweep (sha256 {sha[:12]} against {expect['data_sha256'][:12]}): use "
                           "the same data files on every node; nothing was trained")
    store = Store(job.results)
    if job.part is None:
        figure.runner(plan, data, store)
    elif figure.parts is None or figure.part_plan is None:
        raise SettingsError(f"{figure.id} is not split into parts (asked for part {job.part!r})")
    elif job.part == PREPARE:
        if figure.prepare is None:
            raise SettingsError(f"{figure.id}'s parts share no runs (asked for part {job.part!r})")
        figure.prepare(plan, data, store)
    else:
        figure.runner(figure.part_plan(plan, job.part), data, store)
    return {"seed": job.seed, "part": job.part, "host": host, "device": device_words(data), "numerics": here,
            "seconds": round(time.perf_counter() - t0, 3)}


def _task_gpus(device: str, cluster_gpus: float) -> bool:
    """Whether each task asks for a GPU: ``--device cuda``: yes; ``cpu``/``mps``: no;
    ``auto``: when the cluster has GPUs."""
    name = str(device).strip().lower()
    if name.startswith("cuda"):
        return True
    if name == "auto":
        return cluster_gpus > 0
    return False


def run_on_cluster(figure: Figure, plan: Plan, address: str, *, seeds: int | None, results: str | Path | None,
                   device: str, download: bool, data: Dataset,
                   echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train every seed of ``plan`` as one Ray task (``run_seed_job``) on the cluster at
    ``address``, into the store ``results`` (a folder every node sees); returns what the
    provenance records (``address``, the cluster's size, ``gpus_per_task``, and each
    task's ``seed``, ``host``, ``device``, ``seconds``). ``data`` is this process's copy:
    the tasks must compute on the same device type, with the same code and data, so that
    drawing the figure here finds every run (checked before anything is trained)."""
    import uuid

    from lthlib.core.threads import numerics
    from lthlib.engine.cluster import ClusterError, connect, map_connected, task_env

    if results is None:
        raise ClusterError("--ray needs a results folder that every node of the cluster sees (--results on a "
                           "shared filesystem): the tasks store their runs there and this process reads them")
    root = Path(results).resolve()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / f".cluster-check-{uuid.uuid4().hex[:12]}"
    marker.write_text(f"written by {platform.node()} to check that the Ray tasks see this folder; removed after\n")
    here = data.x_train.device.type
    expect = {"code": code_digest(), "numerics": numerics(), "data_sha256": dataset_checksum(data)["sha256"],
              "marker": str(marker)}
    env = task_env()
    try:
        with connect(address, env) as info:
            gpus = _task_gpus(device, info.gpus)
            # a task that asks Ray for no GPU still sees the node's GPUs (Ray leaves CUDA_VISIBLE_DEVICES
            # unset): "auto" would train there on a GPU it was not given, so it is told "cpu"
            task_device = "cuda" if gpus else ("cpu" if str(device).strip().lower() == "auto" else str(device))
            if torch.device(task_device).type != here:
                raise ClusterError(
                    f"the Ray tasks would train on {torch.device(task_device).type!r} ({info.describe()}) and store "
                    f"their runs under that device type, but this machine computes on {here!r} and would not find "
                    "them when it draws the figure (it would train them all again). Run this command on a node like "
                    "the workers (e.g. `ray job submit --entrypoint-num-gpus 1 -- python -m lthlib.apps.reproduce ...` "
                    "for a GPU node), or choose the tasks' device with --device "
                    f"{'cpu' if here == 'cpu' else torch.device(task_device).type}. Nothing was trained.")
            def job(seed: int, part: str | None = None) -> SeedJob:
                return SeedJob(figure.id, plan.scale, seeds, int(seed), str(root), task_device, download, expect,
                               part)

            parts = figure.parts(plan) if figure.parts is not None else []
            if len(parts) <= 1:
                jobs = [job(s) for s in plan.seeds]
                split = "one task per seed (Figure.seed_plan, run_seed_job)"
                echo(f"Training {figure.id} on the Ray cluster at {address} ({info.describe()}): one task per "
                     f"seed, {len(jobs)} task(s); store: {root}")
                tasks = map_connected(info, run_seed_job, jobs, gpus=gpus, env=env, describe=SeedJob.describe,
                                      echo=echo)
            else:
                shared = figure.prepare is not None
                split = ((f"per seed, first what its parts share ({PREPARE}: Figure.prepare), then " if shared
                          else "") + f"one task per seed and part ({', '.join(parts)})")
                echo(f"Training {figure.id} on the Ray cluster at {address} ({info.describe()}): "
                     + (f"{len(plan.seeds)} task(s) for the runs each seed's parts share, then " if shared else "")
                     + f"{len(plan.seeds) * len(parts)} task(s), one per seed and part; store: {root}")
                tasks = []
                if shared:
                    tasks += map_connected(info, run_seed_job, [job(s, PREPARE) for s in plan.seeds], gpus=gpus,
                                           env=env, describe=SeedJob.describe, echo=echo)
                tasks += map_connected(info, run_seed_job, [job(s, part) for s in plan.seeds for part in parts],
                                       gpus=gpus, env=env, describe=SeedJob.describe, echo=echo)
    finally:
        marker.unlink(missing_ok=True)
    return {**info.to_dict(), "gpus_per_task": 1 if gpus else 0, "task_device": task_device,
            "split": split, "tasks": tasks}


@dataclass
class Reproduction:
    """What ``reproduce`` did: the estimate, and (unless only estimating) the files written
    and the provenance."""

    figure: Figure
    plan: Plan
    estimate: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None


def reproduce(figure_id: str, scale: str = "quick", seeds: int | None = None, *, out: str | Path,
              results: str | Path | None, device: str = "auto", download: bool = True,
              confirm: Callable[[Figure, Plan, dict], bool] | None = None, estimate_only: bool = False,
              argv: Sequence[str] | None = None, echo: Callable[[str], None] = print,
              ray: str | None = None) -> Reproduction:
    """See ``_reproduce``. Populations are planned within each seed and rewind point
    (``population.passes_within_units``), so the runs a cluster's tasks compute seed by
    seed and part by part are the runs this process then reads to draw the figure."""
    with passes_within_units():
        return _reproduce(figure_id, scale, seeds, out=out, results=results, device=device, download=download,
                          confirm=confirm, estimate_only=estimate_only, argv=argv, echo=echo, ray=ray)


def _reproduce(figure_id: str, scale: str = "quick", seeds: int | None = None, *, out: str | Path,
               results: str | Path | None, device: str = "auto", download: bool = True,
               confirm: Callable[[Figure, Plan, dict], bool] | None = None, estimate_only: bool = False,
               argv: Sequence[str] | None = None, echo: Callable[[str], None] = print,
               ray: str | None = None) -> Reproduction:
    """Run figure ``figure_id`` at ``scale`` with ``seeds`` seeds (None: its default), reusing
    the store in ``results``, and write ``<out>/<id>.png``, ``.pdf`` and
    ``.provenance.json``. The estimate is printed first, then the dataset is loaded (a
    missing one raises ``DatasetUnavailableError`` before any training), then ``confirm``
    (if given) is asked and ``NotConfirmed`` raised when it says no.

    ``ray``: a Ray cluster's address (``auto``, ``HOST:PORT``, ``ray://HOST:10001``,
    ``local``): every seed is then trained as one Ray task into ``results`` (a folder every
    node sees; ``run_on_cluster``), and the figure is drawn here from the store.
    ``lthlib.engine.cluster.ClusterError`` says what to do when Ray is missing, the cluster cannot
    be reached or a task failed (finished seeds stay stored: running again resumes)."""
    import matplotlib.pyplot as plt

    from lthlib import __version__
    from lthlib.core.store import Store
    from lthlib.core.threads import training_threads
    from lthlib.engine.parallel import default_workers

    if figure_id not in FIGURES:
        raise SettingsError(f"unknown figure {figure_id!r}; known: {sorted(FIGURES)}")
    figure = FIGURES[figure_id]
    if ray is not None and not estimate_only:
        from lthlib.engine.cluster import import_ray

        import_ray()  # Ray missing: say so before anything else
    started_at, t0 = now(), time.perf_counter()
    plan = figure.make_plan(scale, seeds)
    est = estimate(plan, device)
    echo(format_estimate(figure, plan, est))
    done = Reproduction(figure, plan, est)
    if estimate_only:
        return done
    try:
        data = load_data(plan, device, download)
    except DatasetUnavailableError as err:
        raise DatasetUnavailableError(f"{figure.id} at scale {scale!r} needs the dataset "
                                      f"{plan.data_settings.dataset!r}, which is not available; nothing was "
                                      f"trained.\n{err}\nSee data/README.md for where the files go.") from None
    file_checks = check_data_files(plan)
    echo(data_files.summary(file_checks))
    if confirm is not None and not confirm(figure, plan, est):
        raise NotConfirmed(f"{figure.id} at scale {scale!r} not run (not confirmed; pass --yes to skip the question)")
    store = Store(results)
    cluster = None
    if ray is not None:
        cluster = run_on_cluster(figure, plan, ray, seeds=seeds, results=results, device=device, download=download,
                                 data=data, echo=echo)
        echo(f"Drawing {figure.id} from the store (its runs were trained by the cluster's tasks) ...")
    else:
        echo(f"Running {figure.id} ({describe_networks(plan)}; store: {results}) ...")
    fig, drawn = figure.draw(figure, plan, data, store)
    fig.suptitle(f"{figure.id} ({scale} scale): {describe_networks(plan)}, {len(plan.seeds)} seed(s)\n"
                 f"reproduces {figure.cite}: {figure.paper_figure.split(' (')[0]}", fontsize=9, y=1.0, va="bottom")
    note = published_note(figure, drawn)
    unverified = [c for c in file_checks if c.status != "ok"]
    if unverified:  # e.g. stand-in files in MNIST's format: the figure says so, not only the provenance
        note += (f"\ndata: {len(unverified)} of {len(file_checks)} dataset files not verified against published "
                 "checksums (data_files in the provenance)")
    fig.text(0.01, -0.03, note, fontsize=7, ha="left", va="top")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"png": out / f"{figure.id}.png", "pdf": out / f"{figure.id}.pdf",
             "provenance": out / f"{figure.id}.provenance.json"}
    fig.savefig(files["png"], dpi=150, bbox_inches="tight")
    fig.savefig(files["pdf"], bbox_inches="tight")
    plt.close(fig)
    wall = time.perf_counter() - t0
    git = git_info()
    provenance = {
        "figure": figure.id,
        "description": figure.description,
        "paper": figure.paper,
        "paper_figure": figure.paper_figure,
        "cite": figure.cite,
        "published_values": [{**p.to_dict(), "drawn": p in drawn} for p in figure.published],
        "scale": scale,
        "scale_means": SCALE_WORDS[scale],
        "networks": [ts.model for ts in plan.networks],
        "seeds": list(plan.seeds),
        "seeds_count": len(plan.seeds),
        "settings": plan.settings,
        "lthlib_version": __version__,
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device": device_words(data),
        "threads": training_threads(),
        "workers": default_workers(1 << 16, data.x_train.device.type == "cpu"),
        "cluster": cluster,
        "wall_time_s": round(wall, 3),
        "dataset": dataset_checksum(data),
        "data_files": [c.to_dict() for c in file_checks],
        "estimate": est,
        "results_dir": None if results is None else str(Path(results).resolve()),
        "files": {k: str(v.resolve()) for k, v in files.items() if k != "provenance"},
        "command_line": shlex.join(["python", "-m", "lthlib", "reproduce", *map(str, argv)]) if argv is not None
        else None,
        "argv": None if argv is None else [str(a) for a in argv],
        "process_command_line": shlex.join(getattr(sys, "orig_argv", sys.argv)),
        "started_at": started_at,
        "finished_at": now(),
    }
    tmp = files["provenance"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(provenance, indent=2, default=str) + "\n")
    os.replace(tmp, files["provenance"])
    echo(f"Wrote {files['png']}, {files['pdf']} and {files['provenance']} in {duration(wall)}")
    done.files, done.provenance = files, provenance
    return done
