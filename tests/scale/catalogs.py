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
    with open(SAMPLE, newline="", encoding="utf-8") as handle:
        sample = list(csv.DictReader(handle))
    columns = list(sample[0])
    ids = []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i in range(n):
            row = dict(sample[i % len(sample)], product_id=f"{sample[i % len(sample)]['product_id']}-{i:06d}")
            ids.append(row["product_id"])
            values = [row[c] for c in columns]
            kind = BAD_LINES.get(i + 1) if malformed else None
            if kind == "too_many_fields":
                values += ["stray", "cells"]
            elif kind == "empty_title":
                values[columns.index("title")] = "  "
            writer.writerow(values)
    return ids
