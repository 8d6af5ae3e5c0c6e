"""Input products: loaded from CSV, TSV, JSON, JSONL or Excel into typed records.

Columns other than the documented ones are split: ``extra`` (offered to the model) and
``withheld`` (label-like columns, or those left out by ``--fields``), both kept in ``inputs/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labnb.errors import InputError
from labnb.inputs.itemrows import ItemRow, RowRules, item_rows, single_item
from labnb.inputs.labelcols import check_fields, split_fields
from labnb.inputs.tables import Row, read_rows, row_label

MAX_TITLE_CHARS = 1000
MAX_FIELD_CHARS = 20_000
GOLD_FIELDS = ("expected_category", "expected_subcategory")
KNOWN_FIELDS = ("product_id", "title", "description", *GOLD_FIELDS)
# A catalog's own columns that name its labels (``category``, ``source_category``, ``Sub-Category``…): withheld
# besides the framework's label-like columns (labnb.inputs.labelcols).
LABEL_WORDS = ("category", "categories", "subcategory", "subcategories", "taxonomy", "product_type")
RULES = RowRules(noun="product", text_column="title", id_column="product_id", id_prefix="p",
                 max_text_chars=MAX_TITLE_CHARS, max_field_chars=MAX_FIELD_CHARS, known=KNOWN_FIELDS)


@dataclass(frozen=True)
class Product:
    """One product; ``extra`` holds the other columns offered to the model, ``withheld`` those that are not."""

    product_id: str
    title: str
    description: str = ""
    expected_category: str = ""
    expected_subcategory: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    withheld: dict[str, str] = field(default_factory=dict)

    @property
    def has_gold(self) -> bool:
        return bool(self.expected_category or self.expected_subcategory)

    @property
    def item_id(self) -> str:
        return self.product_id

    @property
    def text(self) -> str:
        return self.title

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"product_id": self.product_id, "title": self.title}
        for key in ("description", *GOLD_FIELDS):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.extra:
            out["extra"] = dict(self.extra)
        if self.withheld:
            out["withheld"] = dict(self.withheld)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Product:
        return cls(
            product_id=data["product_id"], title=data["title"],
            description=data.get("description", ""),
            expected_category=data.get("expected_category", ""),
            expected_subcategory=data.get("expected_subcategory", ""),
            extra=dict(data.get("extra", {})), withheld=dict(data.get("withheld", {})),
        )




def single_product(title: str) -> list[Product]:
    """The product list of ``--single-product TITLE``."""
    product_id, title = single_item(title, RULES, "--single-product")
    return [Product(product_id=product_id, title=title)]


def load_products(path: str | Path, limit: int | None = None, *, fields: Sequence[str] | None = None,
                  title_column: str | None = None, sheet: str | None = None) -> list[Product]:
    """Read products from ``path`` (format by extension); problems are one-line InputErrors.

    ``fields`` names exactly the extra columns offered to the model (default: all but label-like ones);
    ``title_column`` takes titles from another column; ``sheet`` picks an Excel sheet.
    """
    path = Path(path)
    rows = read_rows(path, required=title_column or "title", noun="product", sheet=sheet)
    checked = _checked(path, rows, title_column)
    check_fields(fields, {k for row in checked for k in row.fields}, KNOWN_FIELDS, str(path))
    products = _products(checked, fields)
    return products[:limit] if limit is not None else products


def products_of_rows(path: Path, rows: list[Row], *, fields: Sequence[str] | None = None,
                     title_column: str | None = None, first_index: int = 1) -> list[Product]:
    """Rows of one part of ``path`` as products (``first_index``: the file position of the first row, for
    default ids); a problem is a one-line InputError."""
    return _products(_checked(path, rows, title_column, first_index), fields)


def _checked(path: Path, rows: list[Row], title_column: str | None, first_index: int = 1) -> list[ItemRow]:
    if title_column and title_column != "title":
        rows = [(n, _retitle(path, n, row, title_column)) for n, row in rows]
    return item_rows(path, rows, RULES, first_index=first_index)


def _products(checked: list[ItemRow], fields: Sequence[str] | None) -> list[Product]:
    products = []
    for row in checked:
        offered, withheld = split_fields(row.extra(KNOWN_FIELDS), fields, LABEL_WORDS)
        products.append(Product(
            product_id=row.item_id, title=row.text, description=row.fields.get("description", ""),
            expected_category=row.fields.get("expected_category", ""),
            expected_subcategory=row.fields.get("expected_subcategory", ""), extra=offered, withheld=withheld,
        ))
    return products


def _retitle(path: Path, number: int, row: dict[str, Any], column: str) -> dict[str, Any]:
    if any(str(k).strip().casefold() == "title" for k in row):
        raise InputError(f"{path}: {row_label(path)} {number}: --title-column {column}: the file also has a "
                         "'title' column; rename one of them")
    return {("title" if k == column else k): v for k, v in row.items()}
