"""Inputs for the classify task's streamed runs: the shipped reviews and tickets, cycled to many items."""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REVIEWS = ROOT / "data" / "sample_reviews.csv"
TICKETS = ROOT / "data" / "sample_tickets.csv"
INTENT = ROOT / "config" / "labels" / "intent.yaml"
BAD_TEXTS = {5: "too_many_fields", 9: "empty_text"}  # 1-based item positions of the malformed rows


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_texts(path: Path, n: int, *, source: Path = REVIEWS, skip: int = 0, malformed: bool = True) -> list[str]:
    """``n`` rows of ``source`` (its rows from ``skip`` on, cycled; unique ids, gold kept); with ``malformed``,
    the rows at ``BAD_TEXTS`` are broken. Returns the ids in file order."""
    sample = _rows(source)[skip:]
    columns = list(sample[0])
    ids = []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i in range(n):
            row = dict(sample[i % len(sample)])
            row["id"] = f"{row['id']}-{i:05d}"
            ids.append(row["id"])
            values = [row[c] for c in columns]
            kind = BAD_TEXTS.get(i + 1) if malformed else None
            if kind == "too_many_fields":
                values += ["stray"]
            elif kind == "empty_text":
                values[-2] = " "  # the text (reviews) or the body (tickets): the column before the gold
            writer.writerow(values)
    return ids


def write_examples(path: Path, source: Path, n: int) -> None:
    """The first ``n`` rows of ``source``, as an --examples file."""
    rows = _rows(source)[:n]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
