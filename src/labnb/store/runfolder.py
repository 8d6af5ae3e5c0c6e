"""The run folder: ``runs/<use-case>-<YYYY-MM-DD>-<HHMMSS>/`` with inputs/ config/ outputs/ metadata/."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path

from labnb.errors import InputError
from labnb.store import runlock
from labnb.store.jsonio import read_json, write_json
from labnb.store.timeutil import local_stamp

SUBDIRS = ("inputs", "config", "outputs", "metadata")
SUMMARY = "metadata/run_summary.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class RunFolder:
    """One run's directory; paths inside it are addressed relative to the run root."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock: runlock.RunLock | None = None

    @property
    def run_id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, runs_dir: Path, use_case: str, now: dt.datetime | None = None) -> RunFolder:
        """Create and lock a new run folder atomically; a taken name gets ``-2``, ``-3``, … appended.

        A runs dir that cannot hold a folder is a one-line InputError, and nothing is left behind.
        """
        runs_dir = Path(runs_dir)
        if runs_dir.is_symlink() and not runs_dir.exists():
            raise InputError(f"{runs_dir}: runs directory is a dangling symlink (to {os.readlink(runs_dir)})")
        if runs_dir.exists() and not runs_dir.is_dir():
            raise InputError(f"{runs_dir}: runs directory is not a directory")
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{runs_dir}: cannot create the runs directory: {exc.strerror or exc}") from None
        base = f"{use_case}-{local_stamp(now)}"
        for n in range(1, 10_000):
            path = runs_dir / (base if n == 1 else f"{base}-{n}")
            try:
                os.mkdir(path)  # atomic: two runs started in the same second get different folders
            except FileExistsError:
                continue
            except OSError as exc:
                raise InputError(f"{runs_dir}: cannot create a run folder: {exc.strerror or exc}") from None
            folder = cls(path)
            try:
                for sub in SUBDIRS:
                    (path / sub).mkdir()
                folder.lock()
            except OSError as exc:
                shutil.rmtree(path, ignore_errors=True)
                raise InputError(f"{runs_dir}: cannot create a run folder: {exc.strerror or exc}") from None
            return folder
        raise InputError(f"{runs_dir}: could not find a free run folder name for {base}")

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        """An existing run folder; a folder without a readable ``metadata/run_summary.json`` is not a run."""
        path = Path(path)
        if not path.is_dir():
            raise InputError(f"{path}: no such run folder")
        if not (path / SUMMARY).is_file():
            raise InputError(f"{path}: not a run folder (no {SUMMARY})")
        folder = cls(path)
        if not isinstance(folder.read_json(SUMMARY), dict):
            raise InputError(f"{folder.file(SUMMARY)}: not a run summary (expected a JSON object)")
        return folder

    def lock(self) -> RunFolder:
        """Hold this run's exclusive lock until the process ends (``RunInUse`` if another process has it)."""
        if self._lock is None or not self._lock.held:
            self._lock = runlock.acquire(self.path)
        return self

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def file(self, relative: str) -> Path:
        return self.path / relative

    def write_json(self, relative: str, data: object) -> None:
        write_json(self.file(relative), data)

    def read_json(self, relative: str) -> object:
        """A JSON file of the run; a corrupt one is a one-line InputError naming it."""
        path = self.file(relative)
        try:
            return read_json(path)
        except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
            line = getattr(exc, "lineno", None)
            raise InputError(f"{path}: {f'line {line}: ' if line else ''}unreadable JSON "
                             f"({getattr(exc, 'msg', None) or type(exc).__name__})") from None
        except RecursionError:
            raise InputError(f"{path}: unreadable JSON (nested too deeply)") from None

    def copy_in(self, source: Path, relative: str) -> None:
        """Byte-identical snapshot of ``source``."""
        shutil.copyfile(source, self.file(relative))

    def hashes(self, subdirs: tuple[str, ...] = ("inputs", "config")) -> dict[str, str]:
        """sha256 of every file under ``subdirs``, keyed by path relative to the run folder."""
        out: dict[str, str] = {}
        for sub in subdirs:
            for path in sorted((self.path / sub).rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    out[path.relative_to(self.path).as_posix()] = sha256_file(path)
        return out
