"""The run folder: ``runs/<use-case>-<YYYY-MM-DD>-<HHMMSS>/`` with inputs/ config/ outputs/ metadata/."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path

from labnb.errors import InputError
from labnb.jsonio import read_json, write_json
from labnb.timeutil import local_stamp

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

    @property
    def run_id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, runs_dir: Path, use_case: str, now: dt.datetime | None = None) -> RunFolder:
        """Create a new run folder atomically; a taken name gets ``-2``, ``-3``, … appended."""
        runs_dir = Path(runs_dir)
        if runs_dir.exists() and not runs_dir.is_dir():
            raise InputError(f"{runs_dir}: runs directory is not a directory")
        runs_dir.mkdir(parents=True, exist_ok=True)
        base = f"{use_case}-{local_stamp(now)}"
        for n in range(1, 10_000):
            path = runs_dir / (base if n == 1 else f"{base}-{n}")
            try:
                os.mkdir(path)  # atomic: two runs started in the same second get different folders
            except FileExistsError:
                continue
            for sub in SUBDIRS:
                (path / sub).mkdir()
            return cls(path)
        raise InputError(f"{runs_dir}: could not find a free run folder name for {base}")

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        """An existing run folder; a folder without ``metadata/run_summary.json`` is not a run."""
        path = Path(path)
        if not path.is_dir():
            raise InputError(f"{path}: no such run folder")
        if not (path / SUMMARY).is_file():
            raise InputError(f"{path}: not a run folder (no {SUMMARY})")
        return cls(path)

    def file(self, relative: str) -> Path:
        return self.path / relative

    def write_json(self, relative: str, data: object) -> None:
        write_json(self.file(relative), data)

    def read_json(self, relative: str) -> object:
        return read_json(self.file(relative))

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
