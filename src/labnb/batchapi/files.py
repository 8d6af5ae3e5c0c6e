"""Files of a batch job: raw downloads written whole or not at all, and JSONL read line by line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from labnb.store.jsonio import write_atomic


def download_to(path: Path, chunks: Iterable[bytes]) -> None:
    """Write a download whole or not at all, so a crash never leaves half a results file."""
    write_atomic(path, chunks)


def iter_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file; a line that is not a JSON object is skipped."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                yield data
