"""A table's header row: the required column found in any case, duplicates refused (CSV, TSV and Excel alike)."""

from __future__ import annotations

from pathlib import Path

from labnb.errors import InputError


def check_header(path: Path, where: str, header: list[str], required: str, hint: str = "") -> list[str]:
    """``header`` with ``required`` in canonical case; a missing required or a duplicate column is an InputError."""
    header = canonical_header(header, required)
    if required not in header:
        raise InputError(f"{path}: {where}: missing required column '{required}'{hint}; "
                         f"found: {', '.join(header)[:200]}")
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise InputError(f"{path}: {where}: duplicate column '{dupes[0]}'")
    return header


def canonical_header(header: list[str], name: str) -> list[str]:
    """``header`` with the one column that spells ``name`` in another case renamed to ``name``."""
    if name in header:
        return header
    matches = [i for i, h in enumerate(header) if h.casefold() == name.casefold()]
    if len(matches) != 1:
        return header
    return [name if i == matches[0] else h for i, h in enumerate(header)]
