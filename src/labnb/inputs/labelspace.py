"""A label space read from a table's own label columns: names as people wrote them, ids slugged from them.

Used by the tasks' options that read their labels from columns (two-level and flat): the
labels are the distinct non-empty values, in first-seen order over the input then the examples.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from labnb.errors import UsageError

MAX_ID_CHARS = 64


def slug(name: str) -> str:
    """``"Vitamin D & K2"`` → ``"vitamin-d-k2"``: ASCII letters and digits joined by single hyphens."""
    name = re.sub(r"['\u2019]", "", name)  # "Men's Health" → "mens-health"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:MAX_ID_CHARS].strip("-")


def slug_ids(names: Iterable[str], fallback: str = "label") -> dict[str, str]:
    """Each distinct name → a unique slug id (``-2``, ``-3`` on a clash; ``label-1`` when nothing is left)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        if name in out:
            continue
        base = slug(name) or f"{fallback}-{len(out) + 1}"
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base[: MAX_ID_CHARS - len(str(n)) - 1]}-{n}"
        used.add(candidate)
        out[name] = candidate
    return out


def distinct(values: Iterable[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The distinct non-empty values in first-seen order, spelled as first seen (``billing`` is ``Billing``)."""
    seen: dict[tuple[str, ...], tuple[str, ...]] = {}
    for value in values:
        if all(value):
            seen.setdefault(tuple(v.casefold() for v in value), value)
    return list(seen.values())


def parse_columns(text: str, option: str, example: str) -> tuple[str, ...]:
    """``"a,b"`` → the column names an option takes, as many as ``example`` has, or a one-line UsageError."""
    names = tuple(name.strip() for name in text.split(","))
    count = len(example.split(","))
    if len(names) != count or not all(names):
        want = f"{count} column names" if count > 1 else "one column name"
        raise UsageError(f"{option}: expected {want}, e.g. {example}, got {text!r}")
    return names


def find_column(name: str, columns: Iterable[str]) -> str | None:
    """The column called ``name`` (exactly, else in any case), or None."""
    columns = list(columns)
    if name in columns:
        return name
    return next((c for c in columns if c.casefold() == name.casefold()), None)


def require_columns(names: Iterable[str], present: Iterable[str], option: str, source: object) -> None:
    """A one-line UsageError when a column ``option`` names is not among the ``present`` columns of ``source``."""
    present = set(present)
    for name in names:
        if find_column(name, present) is None:
            shown = ", ".join(sorted(present))[:200] or "none"
            raise UsageError(f"{option}: {source} has no column '{name}' (its other columns: {shown})")


def built_note(option: str, value: str, input_path: str, examples: str | None) -> str:
    """The description a label space built from columns records, e.g. ``Built by OPTION VALUE from a.csv and b.csv.``"""
    return f"Built by {option} {value} from {input_path}" + (f" and {examples}" if examples else "") + "."


def column_value(fields: Mapping[str, str], name: str) -> str:
    """The cell of column ``name`` (any case), spaces collapsed; ``""`` when absent."""
    key = find_column(name, fields)
    return " ".join(fields[key].split()) if key is not None else ""
