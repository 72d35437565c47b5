"""A Jupyter kernel forked from a process that has already imported ipykernel and torch.

Why: a fresh kernel spends about 3 CPU-seconds importing ipykernel, IPython and torch
before the notebook's first line runs. The tests execute about 70 notebooks that way (the
smoke notebooks, nbgrader's autogrades of every assignment submission), so on two cores
that was about a fifth of the whole test run. A kernel forked from a process that holds
those modules starts in a few hundredths of a second and then runs as a fresh one: lthlib,
matplotlib and everything else the notebook imports are imported by the kernel itself.

How (a kernelspec whose command is this file, ``kernelspec(folder)``):

- The command runs as a small client that imports nothing heavy. It asks a server over a
  Unix socket to fork a kernel with its arguments (``-f {connection_file}``), working
  folder, environment and standard streams, then stands in for the kernel: the signals
  Jupyter sends it (interrupt, terminate) go to the kernel's process group, and it exits
  with the kernel's exit status (or dies of the kernel's signal).
- One server per environment a kernel's imports depend on: the Python, ``PYTHONPATH`` and
  the variables torch and its thread libraries read when they load (``IMPORT_ENV``). The
  first client starts it, detached (no process's child but init's, so it is never counted
  among a kernel's processes); it stops when no kernel of its has run for
  ``IDLE_SECONDS``, or at ``stop_servers()``.
- A forked kernel starts its own session (process group) as Jupyter's launcher gives a
  kernel, so ipykernel's shutdown and Ctrl-C reach its workers as before; if its client is
  killed (Jupyter's last resort), the kernel sees the client's connection close and kills
  its process group.

A fresh process's state is what the child starts from: the server has run nothing but the
imports (no torch operation, so no thread pool exists when it forks), and the child reseeds
Python's, numpy's and torch's global generators from the system as a new interpreter does.

Standalone on purpose: the client is run as a script and imports only the standard library
(importing the ``lthlib`` package would import torch, the cost this saves).
"""
from __future__ import annotations

import sys

if __name__ == "__main__" and sys.path and sys.path[0].endswith("core"):
    del sys.path[0]  # run as a script: this folder's modules (profile.py, ...) must not shadow the standard library

import hashlib
import json
import os
import selectors
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# Modules every kernel imports before the notebook's first line (ipykernel, IPython), and
# torch, which every notebook here and every assignment imports first.
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "torch")
# What those imports read from the environment: a server serves only kernels whose values match.
IMPORT_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE", "LD_LIBRARY_PATH", "LD_PRELOAD")
IMPORT_ENV_PREFIXES = ("ATEN_", "OMP_", "MKL_", "KMP_", "GOMP_", "TORCH_", "PYTORCH_", "CUDA_", "OPENBLAS_")
IDLE_SECONDS = 30.0  # a server with no kernel for this long exits
START_SECONDS = 120.0  # how long a client waits for a server it started
FAILED = "warm-kernel server failed"  # the line a server that cannot start leaves in its log


def kernelspec(folder: str | Path, name: str = "python3") -> Path:
    """Write a kernelspec named ``name`` under ``folder/kernels/`` whose kernels are forked
    here; put ``folder`` first on ``JUPYTER_PATH`` and Jupyter (papermill, nbclient,
    nbgrader) starts such kernels for notebooks whose kernel is ``name``."""
    spec = Path(folder) / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(Path(__file__).resolve()), "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel, forked warm)", "language": "python",
        "interrupt_mode": "signal", "metadata": {"debugger": True}}, indent=1))
    return spec


def put_first(folder: str | Path) -> None:
    """Write the kernelspec under ``folder`` and put ``folder`` first on ``JUPYTER_PATH``
    (for this process and the processes it starts)."""
    kernelspec(folder)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(folder), os.environ.get("JUPYTER_PATH")) if p)


@contextmanager
def warm_kernels() -> Iterator[None]:
    """While inside, notebooks whose kernel is ``python3`` run in forked kernels (a
    kernelspec first on ``JUPYTER_PATH``); on leaving, the environment is as before and the
    server stops once its kernels are done. Nothing changes off Linux (forking a process
    that has loaded torch is not safe on macOS) or with ``LTHLIB_FRESH_KERNELS=1``."""
    if (not sys.platform.startswith("linux") or os.environ.get("LTHLIB_FRESH_KERNELS") == "1"
            or _warm_already()):
        yield  # (inside warm kernels already: the outer one keeps its server)
        return
    import shutil

    folder = tempfile.mkdtemp(prefix="lthlib-kernelspecs-")
    before = os.environ.get("JUPYTER_PATH")
    try:
        put_first(folder)
        yield
    finally:
        if before is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = before
        stop_servers()
        shutil.rmtree(folder, ignore_errors=True)


def _warm_already() -> bool:
    """Whether the ``python3`` kernelspec Jupyter finds first on ``JUPYTER_PATH`` is this one."""
    for folder in filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep)):
        spec = Path(folder) / "kernels" / "python3" / "kernel.json"
        if spec.is_file():
            try:
                argv = json.loads(spec.read_text()).get("argv", [])
            except (OSError, ValueError):
                return False
            return len(argv) > 1 and argv[1] == str(Path(__file__).resolve())
    return False


def _runtime_dir() -> Path:
    """Where the servers' sockets live: ``$LTHLIB_WARM_KERNEL_DIR`` (the tests give their run
    its own, so stopping their servers stops no one else's), else one folder per user."""
    folder = Path(os.environ.get("LTHLIB_WARM_KERNEL_DIR") or Path(tempfile.gettempdir()) / f"lthlib-warm-{os.getuid()}")
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def server_path(env: dict[str, str] | None = None) -> Path:
    """The socket of the server for ``env`` (default: this process's environment)."""
    env = dict(os.environ if env is None else env)
    me = Path(__file__).resolve()
    key = {"python": sys.executable, "file": str(me), "mtime": me.stat().st_mtime_ns,
           "env": sorted((k, v) for k, v in env.items() if k in IMPORT_ENV or k.startswith(IMPORT_ENV_PREFIXES))}
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return _runtime_dir() / f"{name}.sock"


# ----------------------------------------------------------------------------- client
def _connect(path: Path) -> socket.socket | None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return s
    except OSError:
        s.close()
        return None


def _server_connection(path: Path) -> socket.socket:
    """A connection to the server at ``path``, started if none answers (one starter at a
    time: a lock beside the socket)."""
    conn = _connect(path)
    if conn is not None:
        return conn
    import fcntl

    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = _connect(path)
        if conn is not None:
            return conn
        log = Path(f"{path}.log")
        with open(log, "w") as err:  # the server's own errors, should it fail to start
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--serve", str(path)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                           start_new_session=True, close_fds=True, check=True)
        deadline = time.monotonic() + START_SECONDS
        while conn is None:
            if FAILED in log.read_text() or time.monotonic() > deadline:
                raise RuntimeError(f"the warm-kernel server for {path} did not start; its log ({log}) ends: "
                                   f"{log.read_text()[-2000:]}")
            time.sleep(0.02)
            conn = _connect(path)
        return conn


def _send(conn: socket.socket, message: dict, fds: list[int] = ()) -> None:
    body = json.dumps(message).encode()
    head = len(body).to_bytes(8, "big")
    if fds:
        socket.send_fds(conn, [head], list(fds))
    else:
        conn.sendall(head)
    conn.sendall(body)


def _receive(conn: socket.socket, max_fds: int = 0) -> tuple[dict | None, list[int]]:
    """One message (None when the other end closed first) and the descriptors sent with it."""
    if max_fds:
        head, fds, _, _ = socket.recv_fds(conn, 8, max_fds)
    else:
        head, fds = conn.recv(8), []
    while head and len(head) < 8:
        more = conn.recv(8 - len(head))
        if not more:
            break
        head += more
    if len(head) < 8:
        return None, fds
    size, body = int.from_bytes(head, "big"), b""
    while len(body) < size:
        more = conn.recv(size - len(body))
        if not more:
            return None, fds
        body += more
    return json.loads(body), fds


def client(argv: list[str]) -> int:
    """Fork a kernel with ``argv`` at the server for this environment and stand in for it
    until it exits; returns its exit status (a kernel killed by a signal: this process dies
    of the same signal)."""
    path = server_path()
    request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "client": os.getpid()}
    reply, problem = None, "no answer"
    for attempt in range(5):  # a server that is stopping closes without a reply: ask a new one
        try:
            conn = _server_connection(path)
            _send(conn, request, [0, 1, 2])
            reply, _ = _receive(conn)
        except (OSError, RuntimeError) as exc:
            reply, problem = None, str(exc)
        if reply is not None and "pid" in reply:
            break
        time.sleep(0.1 * (attempt + 1))
    else:  # no warm server: this process becomes the usual kernel
        sys.stderr.write(f"warm kernel: no forked kernel ({problem}); starting a fresh one\n")
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])
    pid = int(reply["pid"])

    def relay(signum: int, frame: object) -> None:
        try:
            os.killpg(pid, signum)  # the kernel leads its own process group (setsid)
        except ProcessLookupError:
            try:
                os.kill(pid, signum)  # not yet its own group
            except ProcessLookupError:
                pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, relay)
    status, _ = _receive(conn)
    if status is None:
        sys.stderr.write("warm kernel: the server stopped before the kernel\n")
        return 1
    if status.get("signal"):
        signal.signal(status["signal"], signal.SIG_DFL)
        os.kill(os.getpid(), status["signal"])
    return int(status.get("code", 1))


def stop_servers(env: dict[str, str] | None = None, every: bool = False) -> None:
    """Stop the server for ``env`` (default: this environment), or ``every`` server whose
    socket is in this process's runtime folder, if running: it takes no new kernel and exits
    once its kernels are done."""
    for path in sorted(_runtime_dir().glob("*.sock")) if every else [server_path(env)]:
        conn = _connect(path)
        if conn is not None:
            with conn:
                _send(conn, {"stop": True})
                _receive(conn)


# ----------------------------------------------------------------------------- server
def serve(path: str) -> None:
    """Import ``PRELOAD``, then fork a kernel for each client until idle."""
    import importlib

    os.chdir("/")  # hold no folder of the client's
    for name in PRELOAD:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temporary = f"{path}.{os.getpid()}"
    listener.bind(temporary)
    listener.listen(16)
    os.replace(temporary, path)  # clients connect only once it listens
    mine = os.stat(path).st_ino
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    kernels: dict[int, socket.socket] = {}
    last_kernel = time.monotonic()

    def close_listener() -> None:
        """Take no more kernels: new clients start a new server (the socket file goes first)."""
        try:
            if os.stat(path).st_ino == mine:  # not a newer server's socket
                os.unlink(path)
        except OSError:
            pass
        selector.unregister(listener)
        listener.close()

    while True:
        for key, _ in selector.select(timeout=1.0):
            if key.fileobj is wake_r:
                try:
                    while wake_r.recv(512):
                        pass
                except BlockingIOError:
                    pass
                continue
            conn, _ = listener.accept()
            conn.settimeout(10.0)  # a client that connects and says nothing does not hold the server
            try:
                request, fds = _receive(conn, max_fds=3)
            except OSError:
                conn.close()
                continue
            conn.settimeout(None)
            if request is None or request.get("stop"):
                for fd in fds:
                    os.close(fd)
                if request is not None:
                    close_listener()
                    _reply(conn, {"stopped": True})
                conn.close()
                if request is not None:
                    break
                continue
            pid = os.fork()
            if pid == 0:
                _run_kernel(request, conn, fds, [listener, wake_r, wake_w, *kernels.values()], selector)  # never returns
            for fd in fds:
                os.close(fd)
            kernels[pid] = conn
            _reply(conn, {"pid": pid})
        while kernels:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = kernels.pop(pid, None)
            if conn is not None:
                code = os.waitstatus_to_exitcode(status)
                _reply(conn, {"code": code, "signal": -code if code < 0 else 0})
                conn.close()
            last_kernel = time.monotonic()
        if listener.fileno() != -1 and not kernels and time.monotonic() - last_kernel > IDLE_SECONDS:
            close_listener()
        if listener.fileno() == -1 and not kernels:
            return


def _reply(conn: socket.socket, message: dict) -> None:
    """Send ``message`` to a client that may be gone (then there is no one to tell)."""
    try:
        _send(conn, message)
    except OSError:
        pass


def _run_kernel(request: dict, conn: socket.socket, fds: list[int], inherited: list[socket.socket],
                selector: selectors.BaseSelector) -> None:
    """In the forked child: become the kernel the client asked for, then exit as it does
    (a failure before the kernel runs ends this process, never returns to the server's loop)."""
    try:
        _become_kernel(request, conn, fds, inherited, selector)
    except Exception:
        import traceback

        traceback.print_exc()
        os._exit(1)
    from ipykernel import kernelapp

    try:
        kernelapp.launch_new_instance(argv=request["argv"])
    except Exception:  # as a fresh kernel's interpreter would: the traceback, then status 1 after atexit
        import traceback

        traceback.print_exc()
        sys.exit(1)
    sys.exit(0)


def _become_kernel(request: dict, conn: socket.socket, fds: list[int], inherited: list[socket.socket],
                   selector: selectors.BaseSelector) -> None:
    """The forked child's set-up: the client's streams, folder, environment and random states,
    its own process group, and a watch on the client."""
    import importlib.util
    import multiprocessing.process
    import random
    import threading

    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL if signum != signal.SIGINT else signal.default_int_handler)
    selector.close()
    for s in inherited:
        s.close()
    os.setsid()
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # what a new interpreter would have: its own random states, its folder as multiprocessing's first
    random.seed()
    if "numpy.random" in sys.modules:
        sys.modules["numpy.random"].seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()  # torch seeds a new process's generator from the system too
    multiprocessing.process.ORIGINAL_DIR = request["cwd"]

    def watch_client() -> None:
        """The client's connection closes only when the client dies (it waits for this
        process): then stop as Jupyter's kill would have, with the whole process group."""
        try:
            while conn.recv(1):
                pass
        except OSError:
            pass
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch_client, name="warm-kernel-client", daemon=True).start()
    sys.argv = [importlib.util.find_spec("ipykernel_launcher").origin, *request["argv"]]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        if os.fork():  # the starting client's child exits at once: the server is no kernel's relative
            os._exit(0)
        try:
            serve(sys.argv[2])
        except Exception:
            import traceback

            traceback.print_exc()
            print(FAILED, file=sys.stderr, flush=True)
            sys.exit(1)
    else:
        sys.exit(client(sys.argv[1:]))
