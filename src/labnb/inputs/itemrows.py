"""The checks every use case applies to the rows of its input table: main text, field sizes, unique ids.

A use case reads rows with ``labnb.inputs.tables.read_rows`` and turns them into its own records from the
``ItemRow``s made here; every problem is a one-line InputError naming the file and the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from labnb.errors import InputError
from labnb.inputs.tables import Row, clean, row_label


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
    """What a use case calls its parts: ``text_column`` holds the main text, ``id_column`` the optional id.

    ``known`` are the documented columns: found in any case (``Item_ID``) and never a nested JSON value.
    """

    noun: str
    text_column: str
    id_column: str
    id_prefix: str
    max_text_chars: int
    max_field_chars: int = 20_000
    known: tuple[str, ...] = ()
    more_text: tuple[str, ...] = ()  # further text columns: the text is then ``column: value | column: value``

    @property
    def text_columns(self) -> tuple[str, ...]:
        return (self.text_column, *self.more_text)

    def text_of(self, fields: dict[str, str]) -> str:
        """The item's text: its one text column as written (whitespace collapsed), or every non-empty text
        column named, in the order given."""
        if not self.more_text:
            return " ".join(fields.get(self.text_column, "").split())
        parts = ((c, " ".join(fields.get(c, "").split())) for c in self.text_columns)
        return " | ".join(f"{column}: {value}" for column, value in parts if value)


def unicode_problem(text: str) -> str:
    """Why ``text`` cannot be written as UTF-8 (a lone surrogate, or a raw byte from argv), or ``""``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = ord(text[exc.start])
        if 0xDC80 <= char <= 0xDCFF:  # how Python keeps a non-UTF-8 byte of argv (surrogateescape)
            return f"not UTF-8 (byte 0x{char - 0xDC00:02x})"
        return f"not valid Unicode (lone surrogate U+{char:04X})"
    return ""


def _text_fields(path: Path, label: str, row: dict, rules: RowRules) -> dict[str, str]:
    known = (*rules.text_columns, rules.id_column, *rules.known)
    fields: dict[str, str] = {}
    for key, value in row.items():
        if key is None:
            continue
        name = str(key).strip()
        canonical = next((k for k in known if k.casefold() == name.casefold()), None)
        if canonical and canonical not in row:
            name = canonical  # the documented columns in any case
        if name in known and isinstance(value, (dict, list)):
            raise InputError(f"{path}: {label}: field '{name}' must be text or a number, not a nested JSON value")
        text = clean(value)
        problem = unicode_problem(text) or unicode_problem(name)
        if problem:
            raise InputError(f"{path}: {label}: field '{name}' is {problem}")
        fields[name] = text
    return fields


def item_rows(path: Path, rows: list[Row], rules: RowRules, *, first_index: int = 1) -> list[ItemRow]:
    """Checked rows; ids missing from the file are ``<prefix>0001``… by position (``first_index``: the
    position of the first of ``rows`` in the file, when they are one part of it)."""
    if not rows:
        raise InputError(f"{path}: no {rules.noun}s (the file has a header but no rows)")
    where = row_label(path)
    out: list[ItemRow] = []
    seen: dict[str, int] = {}
    for index, (number, row) in enumerate(rows, start=first_index):
        fields = _text_fields(path, f"{where} {number}", row, rules)
        column = " and ".join(rules.text_columns)
        text = rules.text_of(fields)
        if not text:
            raise InputError(f"{path}: {where} {number}: empty {column}")
        if len(text) > rules.max_text_chars:
            raise InputError(f"{path}: {where} {number}: {column} longer than {rules.max_text_chars} characters "
                             f"({len(text)})")
        too_long = next((k for k, v in fields.items() if len(v) > rules.max_field_chars), None)
        if too_long:
            raise InputError(f"{path}: {where} {number}: field '{too_long}' longer than {rules.max_field_chars} "
                             f"characters")
        item_id = fields.get(rules.id_column) or generated_id(rules.id_prefix, index)
        if item_id in seen:
            raise InputError(f"{path}: {where} {number}: duplicate {rules.id_column} '{item_id}' "
                             f"(first at {where} {seen[item_id]})")
        seen[item_id] = number
        out.append(ItemRow(number, item_id, text, fields))
    return out


def generated_id(prefix: str, index: int) -> str:
    """The id of the ``index``-th row (from 1) of a file without an id column: ``p0001``, ``t0002``…"""
    return f"{prefix}{index:04d}"


def ids_generated(ids: Sequence[str]) -> bool:
    """Whether ``ids`` are the ones ``generated_id`` numbers rows with (a file without an id column).

    Such ids say where a row was, not what it is: two files numbered alike share them by construction.
    """
    if not ids:
        return False
    found = re.fullmatch(r"([a-z]+)\d{4,}", ids[0])
    return found is not None and all(i == generated_id(found.group(1), n) for n, i in enumerate(ids, start=1))


def single_item(text: str, rules: RowRules, option: str) -> tuple[str, str]:
    """(id, text) of a one-item command-line option such as ``--single-text TEXT``."""
    problem = unicode_problem(text)
    if problem:
        raise InputError(f"{option}: the {rules.text_column} is {problem}")
    text = " ".join(text.split())
    if not text:
        raise InputError(f"{option}: the {rules.text_column} is empty")
    if len(text) > rules.max_text_chars:
        raise InputError(f"{option}: {rules.text_column} longer than {rules.max_text_chars} characters")
    return generated_id(rules.id_prefix, 1), text
