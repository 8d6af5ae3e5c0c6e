"""Input products: loaded from CSV, TSV, JSON or JSONL into typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labnb.errors import InputError
from labnb.tables import clean, read_rows, row_label

MAX_TITLE_CHARS = 1000
MAX_FIELD_CHARS = 20_000
GOLD_FIELDS = ("expected_category", "expected_subcategory")
KNOWN_FIELDS = ("product_id", "title", "description", *GOLD_FIELDS)


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
    title = " ".join(title.split())
    if not title:
        raise InputError("--single-product: the title is empty")
    if len(title) > MAX_TITLE_CHARS:
        raise InputError(f"--single-product: title longer than {MAX_TITLE_CHARS} characters")
    return [Product(product_id="p0001", title=title)]


def load_products(path: str | Path, limit: int | None = None) -> list[Product]:
    """Read products from ``path`` (format by extension); problems are one-line InputErrors."""
    path = Path(path)
    products = _to_products(path, read_rows(path, required="title", noun="product"))
    return products[:limit] if limit is not None else products


def _to_products(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> list[Product]:
    if not rows:
        raise InputError(f"{path}: no products (the file has a header but no rows)")
    where = row_label(path)
    products: list[Product] = []
    seen: dict[str, int] = {}
    for index, (number, row) in enumerate(rows, start=1):
        fields = {str(k).strip(): clean(v) for k, v in row.items() if k is not None}
        title = " ".join(fields.get("title", "").split())
        if not title:
            raise InputError(f"{path}: {where} {number}: empty title")
        if len(title) > MAX_TITLE_CHARS:
            raise InputError(f"{path}: {where} {number}: title longer than {MAX_TITLE_CHARS} characters ({len(title)})")
        too_long = next((k for k, v in fields.items() if len(v) > MAX_FIELD_CHARS), None)
        if too_long:
            raise InputError(f"{path}: {where} {number}: field '{too_long}' longer than {MAX_FIELD_CHARS} characters")
        pid = fields.get("product_id") or f"p{index:04d}"
        if pid in seen:
            raise InputError(f"{path}: {where} {number}: duplicate product_id '{pid}' (first at {where} {seen[pid]})")
        seen[pid] = number
        extra = {k: v for k, v in fields.items() if k and k not in KNOWN_FIELDS and v}
        products.append(Product(
            product_id=pid, title=title, description=fields.get("description", ""),
            expected_category=fields.get("expected_category", ""),
            expected_subcategory=fields.get("expected_subcategory", ""), extra=extra,
        ))
    return products
