"""Results on disk that are never half-written, never run code, and safe to share.

- Every save goes to a temporary file, is flushed to the disk (fsync), then renamed: an
  interrupted run (kernel killed, laptop closed, power cut) leaves either the previous file
  or the new one, never a truncated one that a later run would trust. Files get the
  permissions the user's umask gives (a results folder shared by a course stays readable).
- Every file is read with ``torch.load(weights_only=True)``: tensors and plain containers
  only, so a crafted file (a downloaded store, a mask from a stranger) cannot run code; a
  file in any other form is refused with its name and what to do.
- Stored results and checkpoints are caches of deterministic computations: one that is
  damaged (empty, or a zip archive cut short by a partial copy or a full disk) is moved
  aside, kept as ``<name>.damaged-<time>`` for inspection, named in a warning, and
  computed again (``load_or_set_aside``). A file that is not plain data is still refused.
- Several processes may share one store (two notebooks side by side, a course server,
  workers): a result is computed under a per-result file lock, so the first process
  computes it and the others wait and read it (write-once; by determinism they would have
  computed the same numbers).
"""
from __future__ import annotations

import os
import pickle
import tempfile
import time
import warnings
from pathlib import Path
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import torch

from lthlib.core.errors import SettingsError, StoreError
from lthlib.core.identity import canonical, digest, digest_tensors
from lthlib.core.threads import numerics

__all__ = ["StoreError", "DamagedFile", "DamagedCacheWarning", "Store", "CheckpointClock", "atomic_save", "load",
           "load_or_set_aside", "canonical", "digest", "digest_tensors", "register_stored_type"]

T = TypeVar("T")

# Classes stored as their ``to_dict()`` under a tag (``{"run": {...}}``) and read back with
# ``from_dict``: a result stays plain data on disk, and the store needs no import of them.
_STORED_TYPES: dict[str, type] = {}


def register_stored_type(tag: str, cls: type) -> None:
    """Store instances of ``cls`` as ``{tag: obj.to_dict()}`` and read them back as
    ``cls.from_dict(...)`` (``lthlib.engine.run`` registers ``Run``)."""
    _STORED_TYPES[tag] = cls


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to ``path`` atomically: a temporary file in the same folder, synced
    to the disk, given the umask's permissions, then renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 whatever the umask says
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


CHECKPOINT_SECONDS = 30.0
"""Default of ``LTHLIB_CHECKPOINT_SECONDS``: how much training a checkpoint may trail by."""


class CheckpointClock:
    """When a run in progress writes its checkpoint: at an evaluation, once at least
    ``LTHLIB_CHECKPOINT_SECONDS`` (default 30; 0 = at every evaluation) have passed since its
    start or its last checkpoint. An interruption then loses about that much work at most,
    and a run shorter than that writes none: a checkpoint costs about as much as an
    evaluation (tens of ms for a small net), so writing one at every evaluation of a short
    run cost more than the work it protected."""

    def __init__(self) -> None:
        self.every = checkpoint_seconds()
        self.last = time.perf_counter()

    def due(self) -> bool:
        return time.perf_counter() - self.last >= self.every

    def saved(self) -> None:
        self.last = time.perf_counter()


def checkpoint_seconds() -> float:
    """``$LTHLIB_CHECKPOINT_SECONDS`` (a number >= 0), or ``CHECKPOINT_SECONDS`` when unset."""
    env = os.environ.get("LTHLIB_CHECKPOINT_SECONDS")
    if env is None or env == "":
        return CHECKPOINT_SECONDS
    try:
        value = float(env)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"LTHLIB_CHECKPOINT_SECONDS={env!r}: must be a number of seconds >= 0 "
                            "(how long a run may train between checkpoints; 0 = at every evaluation)")
    return value


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def folder_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be used as an output folder (None when it exists as a writable
    folder or can be created): checked before any computation, not after it."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            return f"{path} is a file, not a folder"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{path} is not writable"
        return None
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{path} cannot be created: {parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{path} cannot be created: {parent} is not writable"
    return None


class DamagedFile(StoreError):
    """A file lthlib wrote that can no longer be read: empty, or a torch zip archive cut
    short (a partial copy of a results folder, a disk that filled) or corrupted. Stored
    results and checkpoints are caches of deterministic computations, so such a file is
    moved aside (``set_aside``) and its result computed again."""


ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format: a zip archive


def _damage(path: Path, exc: BaseException) -> bool:
    """Whether reading ``path`` failed because the file is damaged (empty, or a torch zip
    archive that cannot be read) rather than refused (not plain data, not torch's format:
    a pickle from elsewhere, possibly crafted, which is never loaded)."""
    if isinstance(exc, pickle.UnpicklingError):
        return False  # weights_only refused it: not tensors and plain containers
    try:
        with open(path, "rb") as f:
            head = f.read(len(ZIP_MAGIC))
    except OSError:
        return False
    return head == b"" or head == ZIP_MAGIC


def load(path: str | Path) -> Any:
    """``torch.load`` of tensors and plain containers only (``weights_only=True``: a file
    cannot run code when it is read), naming the file when it cannot be read:
    ``DamagedFile`` for one of lthlib's files that is truncated or corrupt, ``StoreError``
    for a file that is not plain data (refused, never loaded)."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if _damage(path, exc):
            raise DamagedFile(f"{path} is damaged ({type(exc).__name__}: {str(exc)[:200]})") from exc
        raise StoreError(f"{path} could not be read ({type(exc).__name__}: {exc}); "
                         "it is corrupt or from another version: delete it to recompute") from exc


_warned: set[str] = set()


def set_aside(path: str | Path, why: BaseException | str) -> Path:
    """Move a damaged cache file out of the way (kept beside it as
    ``<name>.damaged-<UTC time>`` for inspection) and warn once, naming both files; the
    caller then computes the result again."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, aside)
    if str(path) not in _warned:
        _warned.add(str(path))
        warnings.warn(f"lthlib: {path} could not be read ({why}); it was moved to {aside.name} "
                      "and its result is being computed again", DamagedCacheWarning, stacklevel=3)
    return aside


class DamagedCacheWarning(UserWarning):
    """A damaged store entry or checkpoint was set aside and is being recomputed."""


def load_or_set_aside(path: str | Path) -> Any | None:
    """``load(path)``, or None when the file is damaged (then moved aside with a warning):
    for caches (stored results, checkpoints), which can always be computed again."""
    try:
        return load(path)
    except DamagedFile as exc:
        set_aside(path, exc.__cause__ or exc)
        return None


# Bumped when stored results stop being comparable (2: named random streams replaced
# seeds with offsets, so every run of version 1 would now come out differently).
STORE_VERSION = 2


class Store:
    """Results on disk, one file per (kind, key): "load it if stored, else compute it".

    ``key`` is anything ``digest`` can name (settings, or a dict of settings and other
    inputs); a file is named ``<root>/<kind>/<digest>.pt`` and also holds its key, so a
    file that does not belong to the key asked for is reported, never used. Checkpoints of
    a result being computed live beside it (``checkpoint(kind, key)``). ``root=None``
    stores nothing (everything is computed).
    """

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None
        if self.root is not None:
            problem = folder_problem(self.root)
            if problem:
                raise StoreError(f"the results folder {problem}; pass a folder you can write "
                                 "(RESULTS_DIR / --results)")

    @staticmethod
    def key(settings: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {"version": STORE_VERSION, "numerics": numerics(), "settings": canonical(settings),
                "extra": canonical(dict(extra or {}))}

    def path(self, kind: str, settings: Any, extra: Mapping[str, Any] | None = None,
             suffix: str = ".pt") -> Path:
        if self.root is None:
            raise StoreError("this Store has no folder (root=None)")
        return self.root / kind / f"{digest(self.key(settings, extra))}{suffix}"

    def checkpoint(self, kind: str, settings: Any, extra: Mapping[str, Any] | None = None,
                   name: str = "") -> Path | None:
        """Where the computation of this result checkpoints (None without a folder)."""
        if self.root is None:
            return None
        return self.path(kind, settings, extra, suffix=f"{'_' + name if name else ''}.ckpt")

    @contextmanager
    def lock(self, kind: str, settings: Any, extra: Mapping[str, Any] | None = None) -> Iterator[None]:
        """Hold the lock of one result while computing it, so that two processes sharing
        the store never compute it twice (the second waits, then reads it). The operating
        system releases it if the holder dies. The empty ``.lock`` file stays (deleting it
        while another process waits on it would let a third take a second lock)."""
        if self.root is None:
            yield
            return
        from filelock import FileLock, Timeout

        path = self.path(kind, settings, extra, suffix=".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"lthlib: another process is computing {kind}/{path.stem}; waiting for it "
                  f"(lock {path})", flush=True)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def locks(self, kind: str, keys: list[Any],
              extras: list[Mapping[str, Any] | None] | None = None) -> Iterator[None]:
        """Hold the locks of several results of one kind at once (see ``locks_all``)."""
        extras = list(extras) if extras is not None else [None] * len(keys)
        with self.locks_all([(kind, k, e) for k, e in zip(keys, extras)]):
            yield

    @contextmanager
    def locks_all(self, entries: list[tuple[str, Any, Mapping[str, Any] | None]]) -> Iterator[None]:
        """Hold the locks of several results (kind, settings, extra) at once (a population
        computing them together), taken in the order of their file names so that two
        processes asking for overlapping sets can never wait on each other in a cycle."""
        from contextlib import ExitStack

        unique = {str(self.path(*e)) if self.root is not None else str(i): e
                  for i, e in enumerate(entries)}
        with ExitStack() as stack:
            for name in sorted(unique):
                stack.enter_context(self.lock(*unique[name]))
            yield

    def get(self, kind: str, settings: Any, extra: Mapping[str, Any] | None = None) -> Any | None:
        """The stored result, or None when there is none."""
        if self.root is None:
            return None
        path = self.path(kind, settings, extra)
        if not path.exists():
            return None
        stored = load_or_set_aside(path)
        if stored is None:  # damaged: set aside, computed again
            return None
        if not isinstance(stored, dict) or stored.get("key") != self.key(settings, extra):
            raise StoreError(f"{path} holds a result for other settings than those asked for "
                             "(another lthlib version, or a copied file); delete it to recompute")
        result = stored["result"]
        if isinstance(result, dict) and len(result) == 1:
            (tag, plain), = result.items()
            if tag in _STORED_TYPES:
                return _STORED_TYPES[tag].from_dict(plain)
        return result

    def put(self, kind: str, settings: Any, result: T, extra: Mapping[str, Any] | None = None) -> T:
        """Store ``result`` atomically (nothing without a folder); returns it. A result is
        tensors and plain containers (a ``Run`` is stored as its dict), so that reading it
        back never runs code."""
        if self.root is not None:
            tags = [tag for tag, cls in _STORED_TYPES.items() if type(result) is cls]
            plain = {tags[0]: result.to_dict()} if tags else result
            atomic_save({"key": self.key(settings, extra), "result": plain},
                        self.path(kind, settings, extra))
        return result

    def get_or_compute(self, kind: str, settings: Any, compute: Callable[[], T],
                       extra: Mapping[str, Any] | None = None) -> T:
        """The stored result for these settings, or ``compute()`` (then stored atomically)."""
        stored = self.get(kind, settings, extra)
        if stored is not None:
            return stored
        with self.lock(kind, settings, extra):
            stored = self.get(kind, settings, extra)  # another process may have computed it
            if stored is not None:
                return stored
            return self.put(kind, settings, compute(), extra)
