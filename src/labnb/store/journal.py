"""Append-only output files that survive a crash: flushed per record, fsynced every few seconds."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO

FSYNC_EVERY_SECONDS = 2.0


class AppendFile:
    """A text file opened for appending; every ``write`` is flushed, fsync runs at most every 2 s."""

    def __init__(self, path: Path, fsync_every: float = FSYNC_EVERY_SECONDS) -> None:
        self.path = path
        self.fsync_every = fsync_every
        path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_torn_tail(path)
        self._handle: IO[str] | None = open(path, "a", encoding="utf-8", newline="")
        self._last_sync = time.monotonic()

    @staticmethod
    def _repair_torn_tail(path: Path) -> None:
        # A kill mid-write can leave a last line without its newline; drop it so appends stay parseable.
        if not path.exists() or path.stat().st_size == 0:
            return
        data = path.read_bytes()
        if not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with open(path, "r+b") as handle:
                handle.truncate(cut)

    def write(self, text: str) -> None:
        if self._handle is None:
            raise ValueError(f"{self.path} is closed")
        self._handle.write(text)
        self._handle.flush()
        if time.monotonic() - self._last_sync >= self.fsync_every:
            self.sync()

    def sync(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._handle is not None:
            self.sync()
            self._handle.close()
            self._handle = None
