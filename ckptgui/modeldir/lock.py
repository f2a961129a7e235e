"""One trainer per model_dir: an operating-system lock that dies with the process that holds it.

Two trainers in one model_dir overwrite each other's same-named checkpoints, write each step twice in the
ledger, merge their events into one curve and sweep each other's checkpoints. A trainer therefore holds
``ckptgui.lock`` in the model_dir while it trains: ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows.
The kernel releases it when the process ends, however it ends (a crash or ``SIGKILL`` never leaves it held),
so a lock file left on disk means nothing by itself. The file holds the holder's host, pid and start time, so
a refused trainer, and the window, can say who trains there. Readers never take the lock.

The lock is local: a model_dir in a bucket trains through a local staging folder, and its lock is that
folder's, so it does not keep a trainer on another machine from writing the same bucket.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from typing import IO

LOCK_FILENAME = "ckptgui.lock"
_HOLDER_BYTES = 4096  # what a holder record may take
# Windows locks a byte region, and a locked region cannot be read by others: lock one byte far past the record.
_WINDOWS_REGION = 1 << 30


class ModelDirLocked(RuntimeError):
    """Another trainer holds the model_dir; the message names it."""

    def __init__(self, model_dir: str, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process"
        super().__init__(
            f"{model_dir} is being trained by {who}; one trainer at a time per model_dir. "
            "Wait for it to finish, stop it, or train into another model_dir"
        )
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """Who holds a model_dir's lock."""

    host: str
    pid: int
    started: str  # ISO time the lock was taken

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} (since {self.started})"


def _try_lock(handle: IO, exclusive: bool) -> bool:
    """Take the lock without waiting; False when another process holds it (in a conflicting way)."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        handle.seek(_WINDOWS_REGION)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(handle: IO) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        handle.seek(_WINDOWS_REGION)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read_holder(handle: IO) -> Holder | None:
    try:
        handle.seek(0)
        data = json.loads(handle.read(_HOLDER_BYTES).decode("utf-8"))
        return Holder(str(data["host"]), int(data["pid"]), str(data["started"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None  # being written, or not ours: the holder is unknown


def lock_holder(model_dir: str | os.PathLike) -> Holder | None:
    """Who trains in ``model_dir`` now (None: nobody); writes nothing, creates no file.

    The lock is tried (shared on POSIX) and let go at once; it fails only while a trainer holds it.
    """
    path = os.path.join(os.fspath(model_dir), LOCK_FILENAME)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the lock is tried
    except OSError:
        return None  # no lock file (nobody ever trained here), or not a local folder
    with handle:
        if _try_lock(handle, exclusive=False):
            _unlock(handle)
            return None
        return _read_holder(handle) or Holder("unknown host", 0, "unknown time")


class ModelDirLock:
    """The exclusive training lock on ``model_dir``; :meth:`acquire` raises :class:`ModelDirLocked` if held."""

    def __init__(self, model_dir: str | os.PathLike) -> None:
        self.path = os.path.join(os.fspath(model_dir), LOCK_FILENAME)
        self._handle: IO | None = None

    def acquire(self) -> Holder:
        """Take the lock and write who holds it; raises :class:`ModelDirLocked` naming the current holder."""
        while True:
            handle = open(self.path, "a+b")  # noqa: SIM115 - held until release()
            if not _try_lock(handle, exclusive=True):
                holder = _read_holder(handle)
                handle.close()
                raise ModelDirLocked(os.path.dirname(self.path), holder)
            if self._still_the_file(handle):
                break
            handle.close()  # the holder before us removed the file as we opened it: lock the new one
        holder = Holder(socket.gethostname(), os.getpid(), time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        record = json.dumps({"host": holder.host, "pid": holder.pid, "started": holder.started}).encode()
        handle.seek(0)
        handle.truncate()
        handle.write(record[:_HOLDER_BYTES])
        handle.flush()
        self._handle = handle
        return holder

    def _still_the_file(self, handle: IO) -> bool:
        """Whether the locked file is still the one at the path (POSIX: a releaser unlinks it)."""
        if sys.platform == "win32":  # pragma: no cover - Windows never unlinks an open file
            return True
        try:
            return os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Remove the lock file (POSIX, while still locked: a waiter then locks a new file) and unlock."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if sys.platform != "win32":
            with contextlib.suppress(OSError):  # the model_dir was removed: nothing to tidy
                os.unlink(self.path)
        _unlock(handle)
        handle.close()

    @property
    def held(self) -> bool:
        return self._handle is not None

    def __enter__(self) -> ModelDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
