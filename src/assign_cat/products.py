"""Input products: loaded from CSV, TSV, JSON or JSONL into typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labnb.itemrows import ItemRow, RowRules, item_rows, single_item
from labnb.tables import read_rows

MAX_TITLE_CHARS = 1000
MAX_FIELD_CHARS = 20_000
GOLD_FIELDS = ("expected_category", "expected_subcategory")
KNOWN_FIELDS = ("product_id", "title", "description", *GOLD_FIELDS)
RULES = RowRules(noun="product", text_column="title", id_column="product_id", id_prefix="p",
                 max_text_chars=MAX_TITLE_CHARS, max_field_chars=MAX_FIELD_CHARS)


@dataclass(frozen=True)
class Product:
    """One product; ``extra`` holds every other input column (brand, ingredients…)."""

    product_id: str
    title: str
    description: str = ""
    expected_category: str = ""
    expected_subcategory: str = ""
    extra: dict[str, str] = field(default_factory=dict)

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
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Product:
        return cls(
            product_id=data["product_id"], title=data["title"],
            description=data.get("description", ""),
            expected_category=data.get("expected_category", ""),
            expected_subcategory=data.get("expected_subcategory", ""),
            extra=dict(data.get("extra", {})),
        )


def single_product(title: str) -> list[Product]:
    """The product list of ``--single-product TITLE``."""
    product_id, title = single_item(title, RULES, "--single-product")
    return [Product(product_id=product_id, title=title)]


def load_products(path: str | Path, limit: int | None = None) -> list[Product]:
    """Read products from ``path`` (format by extension); problems are one-line InputErrors."""
    path = Path(path)
    products = [_product(row) for row in item_rows(path, read_rows(path, required="title", noun="product"), RULES)]
    return products[:limit] if limit is not None else products


def _product(row: ItemRow) -> Product:
    fields = row.fields
    return Product(
        product_id=row.item_id, title=row.text, description=fields.get("description", ""),
        expected_category=fields.get("expected_category", ""),
        expected_subcategory=fields.get("expected_subcategory", ""), extra=row.extra(KNOWN_FIELDS),
    )
