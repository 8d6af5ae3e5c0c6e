"""A catalog of many products with known gold (the shipped sample, cycled), some rows broken on purpose."""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample_products.csv"
BAD_LINES = {7: "too_many_fields", 12: "empty_title"}  # 1-based item positions of the malformed rows


def write_catalog(path: Path, n: int, *, malformed: bool = True) -> list[str]:
    """``n`` products cycled from the shipped sample (unique ids, gold kept); with ``malformed``, the rows
    at ``BAD_LINES`` are broken. Returns the ids in file order."""
    breaks = {i: (["stray", "cells"], "") if kind == "too_many_fields" else ([], "title")
              for i, kind in BAD_LINES.items()} if malformed else {}
    return write_cycled(path, read_rows(SAMPLE), n, "product_id", "06d", breaks)


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_cycled(path: Path, sample: list[dict[str, str]], n: int, id_column: str, id_format: str,
                 breaks: dict[int, tuple[list[str], str]]) -> list[str]:
    """``n`` rows cycling ``sample`` with unique ids (``<id>-<i>``); ``breaks`` maps a 1-based position to
    stray cells appended and a column blanked. Returns the ids in file order."""
    columns = list(sample[0])
    ids = []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i in range(n):
            row = dict(sample[i % len(sample)])
            row[id_column] = f"{row[id_column]}-{i:{id_format}}"
            ids.append(row[id_column])
            stray, blank = breaks.get(i + 1, ([], ""))
            writer.writerow([" " if c == blank else row[c] for c in columns] + stray)
    return ids
