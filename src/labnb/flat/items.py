"""Texts to label with a flat label set: loaded from CSV, TSV, JSON, JSONL or Excel into typed records.

Which columns hold the text (one or more), the id and the gold label is the user's choice
(``TextColumns``); every other column is carried along (never shown to an LLM; the local model reads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from labnb.errors import InputError
from labnb.flat.labels import LabelSet
from labnb.inputs.itemrows import ItemRow, RowRules, item_rows, single_item
from labnb.inputs.labelcols import carried_columns, check_fields, split_fields
from labnb.inputs.tables import read_rows

MAX_TEXT_CHARS = 4000
MAX_FIELD_CHARS = 20_000
TEXT_COLUMN = "text"
ID_COLUMN = "id"
GOLD_COLUMN = "expected_label"


@dataclass(frozen=True)
class TextItem:
    """One text to label; ``extra`` holds the other columns offered to the model (a prompt file's ``fields``, the
    local model), ``withheld`` the label-like ones and those left out by ``--fields`` (labnb.inputs.labelcols)."""

    item_id: str
    text: str
    expected_label: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    withheld: dict[str, str] = field(default_factory=dict)

    @property
    def has_gold(self) -> bool:
        return bool(self.expected_label)

    @property
    def description(self) -> str:
        """A text has no description of its own (the framework's items may)."""
        return ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"item_id": self.item_id, "text": self.text}
        if self.expected_label:
            out["expected_label"] = self.expected_label
        return {**out, **carried_columns(self.extra, self.withheld)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextItem:
        return cls(item_id=data["item_id"], text=data["text"], expected_label=data.get("expected_label", ""),
                   extra=dict(data.get("extra", {})), withheld=dict(data.get("withheld", {})))


@dataclass(frozen=True)
class GoldCheck:
    """Items with gold labels normalised to label ids; ``unknown`` lists the gold values naming no label."""

    items: list[TextItem]
    unknown: list[str]

    @property
    def warning(self) -> str:
        """One line for the CLI, empty when every gold label names a label."""
        if not self.unknown:
            return ""
        shown = ", ".join(repr(v) for v in sorted(set(self.unknown))[:5])
        return (f"{len(self.unknown)} gold label(s) name no label of the label set and can never be "
                f"matched: {shown}")


@dataclass(frozen=True)
class TextColumns:
    """The input columns: ``text`` (one or more, joined as ``name: value | name: value`` when several), the
    optional ``id`` (missing ids are ``t0001``… by position) and the optional ``gold`` label."""

    text: tuple[str, ...] = (TEXT_COLUMN,)
    id: str = ID_COLUMN
    gold: str = GOLD_COLUMN

    def rules(self) -> RowRules:
        """The row checks of a flat-label input."""
        return RowRules(noun="item", text_column=self.text[0], more_text=self.text[1:], id_column=self.id,
                        id_prefix="t", max_text_chars=MAX_TEXT_CHARS, max_field_chars=MAX_FIELD_CHARS,
                        known=(self.gold,))

    @property
    def known(self) -> tuple[str, ...]:
        return (*self.text, self.id, self.gold)


def single_text(text: str) -> list[TextItem]:
    """The item list of ``--single-text TEXT``."""
    item_id, text = single_item(text, TextColumns().rules(), "--single-text")
    return [TextItem(item_id=item_id, text=text)]


def load_items(path: str | Path, columns: TextColumns = TextColumns(), *, sheet: str | None = None,
               limit: int | None = None, fields: tuple[str, ...] | None = None,
               label_words: tuple[str, ...] = ()) -> list[TextItem]:
    """Read texts from ``path`` (format by extension); problems are one-line InputErrors naming file and line.

    ``fields`` names exactly the other columns offered to the model (default: all but label-like ones, and
    those named by ``label_words``, e.g. the label set's name ``sentiment``)."""
    path = Path(path)
    table = read_rows(path, required=columns.text[0], noun="item", sheet=sheet)
    for column in columns.text[1:]:  # the first is checked by read_rows, in the header or every JSON item
        if not any(column.casefold() in (str(k).strip().casefold() for k in row) for _, row in table):
            raise InputError(f"{path}: no column '{column}' (--text-column)")
    rows = item_rows(path, table, columns.rules())
    check_fields(fields, {k for row in rows for k in row.fields}, columns.known, str(path))
    items = text_items(rows, columns, fields, label_words)
    return items[:limit] if limit is not None else items


def text_items(rows: Sequence[ItemRow], columns: TextColumns, fields: tuple[str, ...] | None,
               label_words: tuple[str, ...]) -> list[TextItem]:
    """Checked rows as items: their gold from ``columns.gold``, the other cells offered or withheld."""
    return [TextItem(row.item_id, row.text, row.fields.get(columns.gold, ""),
                     *split_fields(row.extra(columns.known), fields, label_words)) for row in rows]


def check_gold(items: Sequence[TextItem], labels: LabelSet) -> GoldCheck:
    """Gold labels written as a label id or name become the id; the others are kept and counted."""
    out: list[TextItem] = []
    unknown: list[str] = []
    for item in items:
        if not item.expected_label:
            out.append(item)
            continue
        label_id = labels.resolve(item.expected_label)
        if label_id is None:
            unknown.append(item.expected_label)
            out.append(item)
        else:
            out.append(replace(item, expected_label=label_id))
    return GoldCheck(out, unknown)
