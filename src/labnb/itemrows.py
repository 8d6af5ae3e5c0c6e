"""The checks every use case applies to the rows of its input table: main text, field sizes, unique ids.

A use case reads rows with ``labnb.tables.read_rows`` and turns them into its own records from the
``ItemRow``s made here; every problem is a one-line InputError naming the file and the line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from labnb.errors import InputError
from labnb.tables import Row, clean, row_label


@dataclass(frozen=True)
class ItemRow:
    """One checked row: its line (or JSON item) number, its id, its main text and every cell as text."""

    number: int
    item_id: str
    text: str
    fields: dict[str, str]

    def extra(self, known: Iterable[str]) -> dict[str, str]:
        """The non-empty cells of the columns not in ``known`` (brand, rating…)."""
        skip = set(known)
        return {k: v for k, v in self.fields.items() if k and k not in skip and v}


@dataclass(frozen=True)
class RowRules:
    """What a use case calls its parts: ``text_column`` holds the main text, ``id_column`` the optional id."""

    noun: str
    text_column: str
    id_column: str
    id_prefix: str
    max_text_chars: int
    max_field_chars: int = 20_000


def item_rows(path: Path, rows: list[Row], rules: RowRules) -> list[ItemRow]:
    """Checked rows; ids missing from the file are ``<prefix>0001``… by position."""
    if not rows:
        raise InputError(f"{path}: no {rules.noun}s (the file has a header but no rows)")
    where = row_label(path)
    out: list[ItemRow] = []
    seen: dict[str, int] = {}
    for index, (number, row) in enumerate(rows, start=1):
        fields = {str(k).strip(): clean(v) for k, v in row.items() if k is not None}
        column = rules.text_column
        text = " ".join(fields.get(column, "").split())
        if not text:
            raise InputError(f"{path}: {where} {number}: empty {column}")
        if len(text) > rules.max_text_chars:
            raise InputError(f"{path}: {where} {number}: {column} longer than {rules.max_text_chars} characters "
                             f"({len(text)})")
        too_long = next((k for k, v in fields.items() if len(v) > rules.max_field_chars), None)
        if too_long:
            raise InputError(f"{path}: {where} {number}: field '{too_long}' longer than {rules.max_field_chars} "
                             f"characters")
        item_id = fields.get(rules.id_column) or f"{rules.id_prefix}{index:04d}"
        if item_id in seen:
            raise InputError(f"{path}: {where} {number}: duplicate {rules.id_column} '{item_id}' "
                             f"(first at {where} {seen[item_id]})")
        seen[item_id] = number
        out.append(ItemRow(number, item_id, text, fields))
    return out


def single_item(text: str, rules: RowRules, option: str) -> tuple[str, str]:
    """(id, text) of a one-item command-line option such as ``--single-text TEXT``."""
    text = " ".join(text.split())
    if not text:
        raise InputError(f"{option}: the {rules.text_column} is empty")
    if len(text) > rules.max_text_chars:
        raise InputError(f"{option}: {rules.text_column} longer than {rules.max_text_chars} characters")
    return f"{rules.id_prefix}0001", text
