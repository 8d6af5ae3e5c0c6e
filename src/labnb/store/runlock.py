"""One writer per run folder: an exclusive OS lock on ``metadata/.lock``, released by the OS when the process dies.

A second process that wants to write the same run refuses at once (``RunInUse``, exit 2). Within one
process the lock is re-entrant: a resume started by the process that holds it goes ahead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import weakref
from collections.abc import Iterator
from pathlib import Path

from labnb.errors import UsageError

LOCK_FILE = "metadata/.lock"


class RunInUse(UsageError):
    """Another process holds the run folder's lock."""


class RunLock:
    """A held lock; ``release`` (or garbage collection, or the process's end) lets it go."""

    def __init__(self, run_dir: Path, fd: int) -> None:
        self.run_dir = run_dir
        self._fd: int | None = fd
        self._finalizer = weakref.finalize(self, os.close, fd)  # the fd closes even if nobody calls release

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            _held.pop(_key(self.run_dir), None)
            self._finalizer()  # closing the fd drops the flock
            self._fd = None


_held: weakref.WeakValueDictionary[str, RunLock] = weakref.WeakValueDictionary()


def _key(run_dir: Path) -> str:
    return os.path.realpath(run_dir)


def holder(run_dir: Path, lock_file: str = LOCK_FILE) -> int | None:
    """The pid of the process that holds ``run_dir``'s lock (this one included), or None when it is free."""
    path = Path(run_dir) / lock_file
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else -1
    finally:
        os.close(fd)
    return None


def acquire(run_dir: Path, lock_file: str = LOCK_FILE) -> RunLock:
    """Lock ``run_dir`` for this process, or raise ``RunInUse`` naming the process that holds it."""
    run_dir = Path(run_dir)
    current = _held.get(_key(run_dir))
    if current is not None and current.held:
        return current
    path = run_dir / lock_file
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        raise RunInUse(f"{run_dir}: in use by another process (pid {holder or 'unknown'})") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    lock = RunLock(run_dir, fd)
    _held[_key(run_dir)] = lock
    return lock


def release_all() -> None:
    """Let go of every run lock this process holds (the end of a command, or of a notebook's run)."""
    for lock in list(_held.values()):
        lock.release()


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[RunLock]:
    """``with locked(run_dir):`` holds the lock for the block (a lock this process already held stays held)."""
    was_held = _key(Path(run_dir)) in _held
    lock = acquire(run_dir)
    try:
        yield lock
    finally:
        if not was_held:
            lock.release()
