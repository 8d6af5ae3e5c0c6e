"""Inputs for the classify task's streamed runs: the shipped reviews and tickets, cycled to many items."""

from __future__ import annotations

import csv
from pathlib import Path

from scale.catalogs import read_rows, write_cycled

ROOT = Path(__file__).resolve().parents[2]
REVIEWS = ROOT / "data" / "sample_reviews.csv"
TICKETS = ROOT / "data" / "sample_tickets.csv"
INTENT = ROOT / "config" / "labels" / "intent.yaml"
BAD_TEXTS = {5: "too_many_fields", 9: "empty_text"}  # 1-based item positions of the malformed rows


def write_texts(path: Path, n: int, *, source: Path = REVIEWS, skip: int = 0, malformed: bool = True) -> list[str]:
    """``n`` rows of ``source`` (its rows from ``skip`` on, cycled; unique ids, gold kept); with ``malformed``,
    the rows at ``BAD_TEXTS`` are broken (a stray cell; the text, or a ticket's body, blank). Returns the ids."""
    sample = read_rows(source)[skip:]
    blank = "text" if "text" in sample[0] else "body"
    breaks = {i: (["stray"], "") if kind == "too_many_fields" else ([], blank)
              for i, kind in BAD_TEXTS.items()} if malformed else {}
    return write_cycled(path, sample, n, "id", "05d", breaks)


def write_examples(path: Path, source: Path, n: int) -> None:
    """The first ``n`` rows of ``source``, as an --examples file."""
    rows = read_rows(source)[:n]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
