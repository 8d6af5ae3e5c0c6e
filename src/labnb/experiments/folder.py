"""The experiment folder: the spec byte for byte, ``cells.json``, logs, leaderboard and report."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labnb.errors import InputError
from labnb.experiments.cells import CellState
from labnb.store import runlock
from labnb.store.jsonio import read_json, write_json
from labnb.store.timeutil import local_stamp

FORMAT_VERSION = 1
LOCK_FILE = ".lock"


@dataclass
class ExperimentFolder:
    path: Path
    _lock: runlock.RunLock | None = field(default=None, repr=False, compare=False)  # held while this object lives

    @property
    def id(self) -> str:
        return self.path.name

    def lock(self) -> None:
        """Hold the experiment's one-writer lock (``.lock``) until the process ends or ``runlock.release_all``;
        another process running or resuming it is refused in one line."""
        try:
            self._lock = runlock.acquire(self.path, LOCK_FILE)
        except runlock.RunInUse as exc:
            pid = runlock.holder(self.path, LOCK_FILE)
            raise runlock.RunInUse(f"{self.path}: this experiment is running in another process (pid "
                                   f"{pid if pid and pid > 0 else 'unknown'}); wait for it to end or stop it, "
                                   "then --resume") from exc

    def runs_dir(self, cell: CellState) -> Path:
        """Where the cell's run folder goes: a folder of its own, so a cell always knows its run."""
        return self.path / "runs" / f"{cell.index:03d}"

    def log(self, cell: CellState) -> Path:
        return self.path / "logs" / f"cell-{cell.index:03d}.log"

    @classmethod
    def create(cls, experiments_dir: Path, name: str, spec_bytes: bytes, now: dt.datetime | None = None
               ) -> ExperimentFolder:
        """A new folder ``<name>-<YYYY-MM-DD>-<HHMMSS>`` (atomic mkdir; ``-2``… when taken) with the spec copied in."""
        experiments_dir.mkdir(parents=True, exist_ok=True)
        base = f"{name}-{local_stamp(now)}"
        for n in range(1, 10_000):
            path = experiments_dir / (base if n == 1 else f"{base}-{n}")
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            (path / "experiment.yaml").write_bytes(spec_bytes)
            return cls(path)
        raise InputError(f"{experiments_dir}: no free experiment folder name for {base}")

    @classmethod
    def open(cls, path: str | Path) -> ExperimentFolder:
        folder = cls(Path(path).resolve())  # cells.json records absolute run folders: resumable from anywhere
        if not (folder.path / "cells.json").is_file() or not (folder.path / "experiment.yaml").is_file():
            raise InputError(f"{path}: not an experiment folder (no cells.json and experiment.yaml inside)")
        return folder

    def save(self, header: dict[str, Any], cells: list[CellState]) -> None:
        write_json(self.path / "cells.json", {**header, "format_version": FORMAT_VERSION,
                                              "cells": [c.to_dict() for c in cells]})

    def load(self) -> tuple[dict[str, Any], list[CellState]]:
        try:
            data = read_json(self.path / "cells.json")
            return ({k: v for k, v in data.items() if k != "cells"},
                    [CellState.from_dict(c) for c in data["cells"]])
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{self.path / 'cells.json'}: unreadable: {exc}") from None
