"""The append-only logs of a run: a CSV table, a JSONL stream and a plain text log."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labnb.store.journal import AppendFile
from labnb.store.timeutil import utc_now


class JsonlLog:
    """One strict JSON object per line (sorted keys), appended as records happen: a NaN or an Infinity
    (which json.dumps writes and strict readers refuse) is written as null."""

    def __init__(self, path: Path) -> None:
        self._file = AppendFile(path)

    def write(self, record: dict[str, Any]) -> None:
        try:
            line = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str, allow_nan=False)
        except ValueError:
            line = json.dumps(_finite(record), sort_keys=True, ensure_ascii=False, default=str, allow_nan=False)
        self._file.write(line + "\n")

    def close(self) -> None:
        self._file.close()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class TextLog:
    """Timestamped lines, e.g. ``errors.log``."""

    def __init__(self, path: Path) -> None:
        self._file = AppendFile(path)

    def write(self, line: str) -> None:
        self._file.write(f"{utc_now()} {' '.join(line.split())}\n")

    def close(self) -> None:
        self._file.close()


def csv_line(values: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


class CsvLog:
    """A CSV table appended row by row; the header is written when the file is new."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self._file = AppendFile(path)  # drops a torn last line first: a header cut short by a crash too
        if path.stat().st_size == 0:
            self._file.write(csv_line(self.columns))

    def write(self, row: dict[str, Any]) -> None:
        self._file.write(csv_line([row.get(c) for c in self.columns]))

    def close(self) -> None:
        self._file.close()


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """All complete rows of a CSV written by ``CsvLog`` (a torn last line is dropped)."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    return list(csv.DictReader(io.StringIO(text, newline="")))


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """The whole table at once, atomically (used to put a finished run in input order)."""
    from labnb.store.jsonio import write_text_atomic

    write_text_atomic(path, "".join([csv_line(columns), *(csv_line([r.get(c) for c in columns]) for r in rows)]))
