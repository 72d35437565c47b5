"""Sweeps of independent runs on a Ray cluster: ``ray_map(fn, jobs, address)``.

Every lthlib experiment is a pure function of its settings, and its result goes to a store
keyed by those settings (``lthlib.core.store``). A sweep of independent runs (one per seed, ...)
can therefore run wherever the same store is seen: on this machine's cores
(``lthlib.engine.parallel``, the default) or, through ``ray_map``, as one Ray task per job on a
cluster whose nodes share the store's folder (a shared filesystem). Afterwards everything
is read back from the store, as after a local run.

- **Ray is optional.** It is imported only here, when a cluster is asked for; without it
  (or with a cluster that cannot be reached) ``ClusterError`` says what to do.
- **Tokens.** Ray 2.60 turns token authentication on when `ray start --head` starts a head
  node. For every address but ``local``, the token at hand ($RAY_AUTH_TOKEN,
  $RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token) is sent (``RAY_AUTH_MODE=token`` for the
  connection, where the mode is unset); a head node that refuses the connection for want of
  its token gives a ``ClusterError`` that says where the token is and where it goes.
- **Threads.** Each task runs with ``OMP_NUM_THREADS=1`` and lthlib's own thread count
  (``LTHLIB_THREADS``, part of every store key: a result computed under another count
  would be stored apart), set in Ray's ``runtime_env``; ``LTHLIB_WORKERS=1``, so a task
  trains in its own process and never starts more. A task asks Ray for
  ``training_threads()`` CPUs.
- **GPUs.** A task asks for one GPU (``num_gpus=1``) when the cluster has GPUs (or when
  ``gpus=True``), none otherwise.
- **Order.** Results come back in the order of ``jobs``; a line is printed as each task
  finishes. A task that raises does not stop the others (their results are stored); the
  failures are reported together at the end. Ray retries a task whose worker or node died
  (its run resumes from its checkpoint in the store).

``fn`` must be importable on every node (a module-level function of an installed
package, e.g. ``lthlib.apps.reproduce.run_seed_job``), and so must its jobs.
"""
from __future__ import annotations

import os
import platform
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lthlib.core.threads import fixed_threads, training_threads

T = TypeVar("T")

RAY_PIN = "ray==2.60.0"  # as requirements.txt pins it
CONNECT_TIMEOUT_S = 10.0  # seconds to wait for the head node's port to answer

ADDRESS_HELP = ("--ray takes: auto (the cluster `ray start` started on this machine, or $RAY_ADDRESS), "
                "HOST:PORT (the head node's address that `ray start --head` prints, port 6379 by default), "
                "ray://HOST:10001 (Ray Client), or local (a Ray instance on this machine only)")


class ClusterError(RuntimeError):
    """Ray is missing, the cluster cannot be reached or used, or a task failed; the message
    says what to do."""


def import_ray() -> Any:
    """The ``ray`` module, or ``ClusterError`` telling how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(
            f"Ray is not installed in this Python ({sys.executable}). Install it with "
            f"`pip install {RAY_PIN}` (the version requirements.txt pins) here and on every node of the "
            "cluster, or leave out --ray to run on this machine's cores.") from None
    return ray


def ray_available() -> bool:
    """Whether ``ray`` can be imported here."""
    try:
        import_ray()
    except ClusterError:
        return False
    return True


def task_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every task: one OpenMP thread, lthlib's thread count (so that a
    task's results have this process's store keys), one process per task, no progress bars,
    and ``LTHLIB_DATA_DIR`` when it is set here (then it must name the same folder on every
    node)."""
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LTHLIB_THREADS": str(training_threads()),
           "LTHLIB_WORKERS": "1", "LTHLIB_PROGRESS": "0"}
    if os.environ.get("LTHLIB_DATA_DIR"):
        env["LTHLIB_DATA_DIR"] = os.environ["LTHLIB_DATA_DIR"]
    env.update(extra or {})
    return env


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of an address to connect to; None for ``auto`` and ``local``."""
    if address in ("auto", "local"):
        return None
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClusterError(f"--ray {address!r} is not a cluster address. {ADDRESS_HELP}.")
    return host.strip("[]"), int(port)


def _resolve_auto() -> str | None:
    """The address ``auto`` stands for ($RAY_ADDRESS, else the cluster `ray start` started
    here), where Ray can tell without connecting; None when it cannot."""
    try:
        from ray._private.services import get_ray_address_from_environment  # not public API: best effort

        found = get_ray_address_from_environment("auto", None)
    except Exception:
        return None
    return found if isinstance(found, str) and found not in ("auto", "local", "") else None


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise ``ClusterError`` unless something answers at ``address``'s host and port
    (Ray itself keeps retrying an address that does not answer for minutes). For
    ``auto``, the address it stands for is checked where it can be found."""
    shown = address
    if address == "auto":
        address = _resolve_auto() or "auto"
        shown = f"{address} (what --ray auto found: $RAY_ADDRESS or the last `ray start` here)"
    hp = _host_port(address)
    if hp is None:
        return
    try:
        socket.create_connection(hp, timeout=timeout).close()
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterError(
            f"cannot reach the Ray cluster at {shown} ({why}). Is the head node up? Start it there with "
            "`ray start --head` (and `ray start --address=HEAD:6379` on every other node), check the host "
            f"name and port and that no firewall is in the way; or leave out --ray to run on this machine's "
            f"cores. {ADDRESS_HELP}.") from None


@dataclass
class ClusterInfo:
    """What a connection found: the address asked for, the cluster's total resources,
    its nodes (alive) and how many GPUs and CPUs it has."""

    address: str
    resources: dict[str, float]
    nodes: list[dict[str, Any]] = field(default_factory=list)
    reused: bool = False  # a Ray connection this process already had was used

    @property
    def gpus(self) -> float:
        return float(self.resources.get("GPU", 0.0))

    @property
    def cpus(self) -> float:
        return float(self.resources.get("CPU", 0.0))

    def max_node(self, resource: str) -> float:
        return max((float(n.get("Resources", {}).get(resource, 0.0)) for n in self.nodes), default=0.0)

    def describe(self) -> str:
        return f"{len(self.nodes)} node(s), {self.cpus:g} CPU(s), {self.gpus:g} GPU(s)"

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "nodes": len(self.nodes), "cpus": self.cpus, "gpus": self.gpus,
                "reused_connection": self.reused}


def _token_path() -> str:
    """The file Ray reads the authentication token from: $RAY_AUTH_TOKEN_PATH, else
    ~/.ray/auth_token (where `ray start --head` writes it)."""
    return os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.join(os.path.expanduser("~"), ".ray", "auth_token")


def _token_source() -> str | None:
    """Where the Ray authentication token at hand here comes from ($RAY_AUTH_TOKEN, or the
    token file, when it is there and not empty, as Ray requires); None when there is none."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "$RAY_AUTH_TOKEN"
    path = _token_path()
    try:
        return path if os.path.getsize(path) > 0 else None
    except OSError:
        return None


def _token_available() -> bool:
    """Whether a Ray authentication token is at hand here ($RAY_AUTH_TOKEN,
    $RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token, which `ray start --head` writes)."""
    return _token_source() is not None


def _set_auth_mode(mode: str | None) -> None:
    """Set ``RAY_AUTH_MODE`` for this process (None: unset it) and refresh the config Ray
    read from the environment (Ray caches the mode: the variable alone, changed after
    Ray was imported, is not seen)."""
    if mode is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = mode
    try:  # not public API: what Ray's own switch (authentication_token_setup._enable_token_auth) does
        from ray._raylet import Config

        Config.initialize("")
    except Exception:
        pass  # another Ray: the variable alone, which Ray reads when it is imported


def _token_auth(address: str) -> bool:
    """Switch token authentication on for a connection to an existing cluster (every
    address but ``local``, which starts a Ray instance of its own) when a token is at hand
    and ``RAY_AUTH_MODE`` is unset. Ray 2.60 turns token authentication on when `ray start
    --head` starts a head node (and writes the token to ~/.ray/auth_token there), but a
    driver sends the token only in token mode, which Ray switches on by itself only for
    ``auto`` finding a cluster started on this machine (not for HOST:PORT, $RAY_ADDRESS or
    ``ray://``). A head without token authentication accepts a driver that sends one.
    Whether the mode was switched on here (``connect`` unsets it again afterwards)."""
    if address == "local" or os.environ.get("RAY_AUTH_MODE") is not None or not _token_available():
        return False
    _set_auth_mode("token")
    return True


def _auth_refused(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) is Ray's: the cluster refused the
    authentication token, or token mode is on and no token was found."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc)
        if type(exc).__name__ == "AuthenticationError" or "InvalidAuthToken" in text \
                or "no authentication token was found" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


TOKEN_HELP = ("Ray 2.60 (the version pinned here) turns token authentication on when `ray start --head` starts a "
              "head node, and writes the token to ~/.ray/auth_token on the head node (`ray get-auth-token` there "
              "prints it): copy that file to {path} here (or set RAY_AUTH_TOKEN to its contents, or "
              "RAY_AUTH_TOKEN_PATH to the copy's path) and run the same command again; lthlib then sets "
              "RAY_AUTH_MODE=token for the connection itself. On a trusted network only, the head node can "
              "instead be started with RAY_AUTH_MODE=disabled.")


def _token_error(address: str) -> ClusterError:
    """The error for a connection the cluster at ``address`` refused for want of the right
    authentication token: what is (not) at hand here, and how to get the head node's."""
    source, mode = _token_source(), os.environ.get("RAY_AUTH_MODE")
    if mode is not None and mode.lower() != "token":
        why = (f"RAY_AUTH_MODE={mode} is set here, so no token was sent: unset it (lthlib then sends the token "
               f"when one is at hand) or set RAY_AUTH_MODE=token")
    elif source is None:
        extra = (f"; $RAY_AUTH_TOKEN_PATH names {_token_path()}, which is missing or empty"
                 if os.environ.get("RAY_AUTH_TOKEN_PATH") else f", and there is no {_token_path()}")
        why = f"no token is at hand here ($RAY_AUTH_TOKEN is unset{extra})"
    else:
        why = f"the token sent from here ({source}) is not the head node's"
    return ClusterError(f"the Ray cluster at {address} refused this connection: it asks for its authentication "
                        f"token, and {why}. " + TOKEN_HELP.format(path=_token_path()))


CLIENT_AUTH_HELP = ("A Ray Client connection that times out is often one the head node refused for want of its "
                    "authentication token (Ray 2.60, the version pinned here, enables it by default on a head "
                    "node): copy the head node's ~/.ray/auth_token to this machine (or set RAY_AUTH_TOKEN) and "
                    "run again (lthlib then sets RAY_AUTH_MODE=token itself), or start the head with "
                    "RAY_AUTH_MODE=disabled on a trusted network.")


def _connect_error(address: str, exc: BaseException) -> ClusterError | None:
    """The ``ClusterError`` for ``ray.init(address)`` raising ``exc``; None for an error
    that is not about the connection (raised as it is)."""
    if _auth_refused(exc):
        return _token_error(address)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        if address == "auto":
            return ClusterError(
                "no running Ray cluster was found for --ray auto (nothing started by `ray start` on this "
                "machine, and $RAY_ADDRESS unset). Start one with `ray start --head` (then "
                "`ray start --address=HEAD:6379` on the other nodes), or give the head node's address "
                f"(--ray HEAD:6379), or use --ray local for this machine alone. ({exc})")
        auth = f" {CLIENT_AUTH_HELP}" if address.startswith("ray://") else ""
        return ClusterError(f"cannot connect to the Ray cluster at {address}: {exc}. Check that the head "
                            f"node runs the same Ray version ({RAY_PIN}) and Python as here.{auth} "
                            f"{ADDRESS_HELP}.")
    if isinstance(exc, ImportError):  # ray:// without the client extras (grpcio)
        return ClusterError(f"--ray {address} needs Ray Client, which needs `pip install \"ray[client]==2.60.0\"` "
                            f"(grpcio; requirements.txt installs it): {exc}")
    if isinstance(exc, (RuntimeError, ValueError)):
        return ClusterError(f"Ray could not start or connect with --ray {address}: {exc}. {ADDRESS_HELP}.")
    return None


# Ray Client's proxy on the head forks a server for each new client; with gRPC threads busy,
# that child can die at start (gRPC's "Check failed: next_worker->state == KICKED", seen
# here about once in 20 connections), and the client gets this message. A new try forks anew.
CLIENT_SERVER_FAILED = "Starting Ray client server failed"
CLIENT_TRIES = 3


def _init_with_retries(ray: Any, address: str, kwargs: dict[str, Any], tries: int = CLIENT_TRIES) -> None:
    """``ray.init(address, **kwargs)``, tried again (up to ``tries`` in all) where a Ray Client
    head failed to start this client's server: a transient failure of Ray's, not of the address."""
    for attempt in range(1, tries + 1):
        try:
            ray.init(address=address, **kwargs)
            return
        except Exception as exc:
            if not (address.startswith("ray://") and CLIENT_SERVER_FAILED in str(exc)) or attempt == tries:
                raise
            if ray.is_initialized():
                ray.shutdown()
            print(f"Ray Client: the head could not start this client's server (try {attempt} of {tries}); "
                  "trying again", file=sys.stderr)
            time.sleep(2.0 * attempt)


@contextmanager
def connect(address: str = "auto", env: Mapping[str, str] | None = None,
            timeout: float = CONNECT_TIMEOUT_S) -> Iterator[ClusterInfo]:
    """Connect to the Ray cluster at ``address`` (see ``ADDRESS_HELP``) for the block, with
    ``env`` (default ``task_env()``) in the job's runtime environment, and disconnect after
    it. A connection this process already has (``ray.init`` called before) is used as it is
    and left open."""
    ray = import_ray()
    env = dict(task_env() if env is None else env)
    reused = ray.is_initialized()
    token_mode = False
    if not reused:
        check_reachable(address, timeout)
        token_mode = _token_auth(address)
        kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env}, "logging_level": "WARNING"}
        if address == "local":
            kwargs["include_dashboard"] = False
        try:
            _init_with_retries(ray, address, kwargs)
        except Exception as exc:
            if token_mode:
                _set_auth_mode(None)
            error = _connect_error(address, exc)
            if error is None:
                raise
            raise error from None
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive", n.get("alive", True))]
        yield ClusterInfo(address, dict(ray.cluster_resources()), nodes, reused)
    finally:
        if not reused:
            ray.shutdown()
            if token_mode:
                _set_auth_mode(None)  # as it was: unset


def _run_task(fn: Callable[[Any], T], job: Any) -> tuple[T, dict[str, Any]]:
    """What runs in a Ray task: ``fn(job)`` with lthlib's thread count, and where it ran."""
    start = time.perf_counter()
    with fixed_threads():
        result = fn(job)
    return result, {"host": platform.node(), "pid": os.getpid(), "seconds": time.perf_counter() - start}


@dataclass
class TaskFailure:
    index: int
    job: str
    error: BaseException
    message: str


def _failure(i: int, job: str, exc: BaseException) -> TaskFailure:
    """The failure of task ``i``: the task's own exception where Ray kept it (its message
    whole), else Ray's error (its last line: the rest is a traceback)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return TaskFailure(i, job, cause, f"{type(cause).__name__}: {str(cause).strip()}")
    lines = str(exc).strip().splitlines()
    return TaskFailure(i, job, exc, f"{type(exc).__name__}: {lines[-1] if lines else ''}")


def ray_map(fn: Callable[[Any], T], jobs: Sequence[Any], address: str = "auto", *,
            gpus: bool | None = None, env: Mapping[str, str] | None = None,
            describe: Callable[[Any], str] = str, echo: Callable[[str], None] = print) -> list[T]:
    """``[fn(job) for job in jobs]``, one Ray task per job on the cluster at ``address``,
    results in the order of ``jobs``.

    ``gpus``: each task asks for one GPU (True), none (False), or one when the cluster has
    GPUs (None, the default). Each task asks for ``training_threads()`` CPUs and runs with
    ``env`` (default ``task_env()``) in its environment. Raises ``ClusterError`` when Ray
    is missing, the cluster cannot be reached, no node could ever run a task, or a task
    failed (naming each failed job and its error, after every other task has finished)."""
    jobs = list(jobs)
    if not jobs:
        return []
    env = dict(task_env() if env is None else env)
    with connect(address, env) as info:
        return map_connected(info, fn, jobs, gpus=gpus, env=env, describe=describe, echo=echo)


def map_connected(info: ClusterInfo, fn: Callable[[Any], T], jobs: Sequence[Any], *, gpus: bool | None = None,
                  env: Mapping[str, str] | None = None, describe: Callable[[Any], str] = str,
                  echo: Callable[[str], None] = print) -> list[T]:
    """``ray_map`` inside ``with connect(...) as info`` (for a caller that looks at the
    cluster before submitting)."""
    ray = import_ray()
    jobs = list(jobs)
    env = dict(task_env() if env is None else env)
    use_gpus = info.gpus > 0 if gpus is None else bool(gpus)
    cpus = training_threads()
    if info.nodes and info.max_node("CPU") < cpus:
        raise ClusterError(f"each task needs {cpus} CPU(s) (LTHLIB_THREADS={cpus}) but no node of the cluster "
                           f"has that many ({info.describe()}); lower LTHLIB_THREADS")
    if use_gpus and info.gpus == 0:
        echo("  the cluster has no GPU now: the tasks wait until a node with a GPU joins (an autoscaler's)")
    remote = ray.remote(_run_task).options(num_cpus=cpus, num_gpus=1 if use_gpus else 0,
                                           runtime_env={"env_vars": dict(env)})
    echo(f"  {len(jobs)} Ray task(s) on {info.describe()}, each with {cpus} CPU(s)"
         f"{' and 1 GPU' if use_gpus else ''}")
    refs = [remote.remote(fn, job) for job in jobs]
    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(jobs)
    failures: list[TaskFailure] = []
    pending, finished = list(refs), 0
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                i = index[ref]
                finished += 1
                try:
                    results[i], where = ray.get(ref)
                except Exception as exc:  # a task's error (RayTaskError), a dead worker or node
                    failures.append(_failure(i, describe(jobs[i]), exc))
                    echo(f"  [{finished}/{len(jobs)}] FAILED {describe(jobs[i])}: "
                         f"{type(failures[-1].error).__name__}")
                    continue
                echo(f"  [{finished}/{len(jobs)}] {describe(jobs[i])}: done on {where['host']} "
                     f"in {where['seconds']:.1f} s")
    except BaseException:  # Ctrl-C: stop the tasks still queued or running, keep what is stored
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        raise
    if failures:
        lines = [f"- {f.job}: {f.message}" for f in sorted(failures, key=lambda f: f.index)]
        raise ClusterError(f"{len(failures)} of {len(jobs)} Ray task(s) failed:\n" + "\n".join(lines) +
                           "\nThe other tasks' results are stored; fix the cause and run the same command again "
                           "(finished runs are read from the store, not trained again).") from failures[0].error
    return results
