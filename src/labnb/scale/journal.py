"""The parts of a streamed run in its folder: the plan (``config/parts.json``), a record per finished part
(``outputs/parts.jsonl``, appended the moment the part's file has landed) and the part files themselves.

A part is done when its record is there: ``--resume`` after a crash (kill -9 of the driver or of a worker)
redoes exactly the parts without one. A part file without a record is overwritten by the redo.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from labnb.scale.source import Part, Source
from labnb.store.logs import JsonlLog
from labnb.store.runfolder import RunFolder

PLAN = "config/parts.json"
RECORDS = "outputs/parts.jsonl"
PARTS_DIR = "outputs/classifications"


def write_plan(folder: RunFolder, source: Source, parts: list[Part], part_rows: int) -> None:
    folder.write_json(PLAN, {"source": source.to_dict(), "part_rows": part_rows,
                             "parts": [p.to_dict() for p in parts]})


def read_plan(folder: RunFolder) -> tuple[Source, list[Part], int]:
    plan = folder.read_json(PLAN)
    assert isinstance(plan, dict)
    return Source.from_dict(plan["source"]), [Part.from_dict(p) for p in plan["parts"]], int(plan["part_rows"])


def records(folder: RunFolder) -> Iterator[dict[str, Any]]:
    """Each finished part's record once, read line by line (a torn last line after a crash is not one)."""
    path, seen = folder.file(RECORDS), set()
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "part" in record and record["part"] not in seen:
                seen.add(record["part"])
                yield record


def finished(folder: RunFolder) -> dict[int, dict[str, Any]]:
    """Every finished part's record without its counts (those are summed by streaming ``records``)."""
    return {int(r["part"]): {k: v for k, v in r.items() if k != "counts"} for r in records(folder)}


class Journal:
    """Appends one record per finished part."""

    def __init__(self, folder: RunFolder, session: int) -> None:
        self._log = JsonlLog(folder.file(RECORDS))
        self.session = session

    def record(self, record: dict[str, Any]) -> None:
        self._log.write({**record, "session": self.session})

    def close(self) -> None:
        self._log.close()
