"""Input products: loaded from CSV, TSV, JSON, JSONL or Excel into typed records.

Columns other than the documented ones are split: ``extra`` (offered to the model) and
``withheld`` (label-like columns, or those left out by ``--fields``), both kept in ``inputs/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assign_cat.labelcols import check_fields, split_fields
from labnb.errors import InputError
from labnb.tables import clean, read_rows, row_label

MAX_TITLE_CHARS = 1000
MAX_FIELD_CHARS = 20_000
GOLD_FIELDS = ("expected_category", "expected_subcategory")
KNOWN_FIELDS = ("product_id", "title", "description", *GOLD_FIELDS)


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


def _unicode_problem(text: str) -> str:
    """Why ``text`` cannot be written as UTF-8 (a lone surrogate, or a raw byte from argv), or ``""``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = ord(text[exc.start])
        if 0xDC80 <= char <= 0xDCFF:  # how Python keeps a non-UTF-8 byte of argv (surrogateescape)
            return f"not UTF-8 (byte 0x{char - 0xDC00:02x})"
        return f"not valid Unicode (lone surrogate U+{char:04X})"
    return ""


def single_product(title: str) -> list[Product]:
    """The product list of ``--single-product TITLE``."""
    problem = _unicode_problem(title)
    if problem:
        raise InputError(f"--single-product: the title is {problem}")
    title = " ".join(title.split())
    if not title:
        raise InputError("--single-product: the title is empty")
    if len(title) > MAX_TITLE_CHARS:
        raise InputError(f"--single-product: title longer than {MAX_TITLE_CHARS} characters")
    return [Product(product_id="p0001", title=title)]


def load_products(path: str | Path, limit: int | None = None, *, fields: Sequence[str] | None = None,
                  title_column: str | None = None, sheet: str | None = None) -> list[Product]:
    """Read products from ``path`` (format by extension); problems are one-line InputErrors.

    ``fields`` names exactly the extra columns offered to the model (default: all but label-like ones);
    ``title_column`` takes titles from another column; ``sheet`` picks an Excel sheet.
    """
    path = Path(path)
    rows = read_rows(path, required=title_column or "title", noun="product", sheet=sheet)
    if title_column and title_column != "title":
        rows = [(n, _retitle(path, n, row, title_column)) for n, row in rows]
    products = _to_products(path, rows, fields)
    return products[:limit] if limit is not None else products


def _retitle(path: Path, number: int, row: dict[str, Any], column: str) -> dict[str, Any]:
    if any(str(k).strip().casefold() == "title" for k in row):
        raise InputError(f"{path}: {row_label(path)} {number}: --title-column {column}: the file also has a "
                         "'title' column; rename one of them")
    return {("title" if k == column else k): v for k, v in row.items()}


def _text_fields(path: Path, label: str, row: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in row.items():
        if key is None:
            continue
        name = str(key).strip()
        known = next((k for k in KNOWN_FIELDS if k.casefold() == name.casefold()), None)
        if known and known not in row:
            name = known  # Product_ID, Description: the documented columns in any case
        if name in KNOWN_FIELDS and isinstance(value, (dict, list)):
            raise InputError(f"{path}: {label}: field '{name}' must be text or a number, not a nested JSON value")
        text = clean(value)
        problem = _unicode_problem(text) or _unicode_problem(name)
        if problem:
            raise InputError(f"{path}: {label}: field '{name}' is {problem}")
        fields[name] = text
    return fields


def _to_products(path: Path, rows: list[tuple[int, dict[str, Any]]], chosen: Sequence[str] | None) -> list[Product]:
    if not rows:
        raise InputError(f"{path}: no products (the file has a header but no rows)")
    where = row_label(path)
    check_fields(chosen, {str(k).strip() for _, row in rows for k in row if k is not None}, KNOWN_FIELDS, str(path))
    products: list[Product] = []
    seen: dict[str, int] = {}
    for index, (number, row) in enumerate(rows, start=1):
        fields = _text_fields(path, f"{where} {number}", row)
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
        offered, withheld = split_fields({k: v for k, v in fields.items() if k and k not in KNOWN_FIELDS and v},
                                         chosen)
        products.append(Product(
            product_id=pid, title=title, description=fields.get("description", ""),
            expected_category=fields.get("expected_category", ""),
            expected_subcategory=fields.get("expected_subcategory", ""), extra=offered, withheld=withheld,
        ))
    return products


def column_split(products: Sequence[Product]) -> tuple[list[str], list[str]]:
    """``(offered, withheld)`` extra column names over all products, in first-seen order (for --dry-run and
    ``run_config.json``)."""
    offered = dict.fromkeys(k for p in products for k in p.extra)
    withheld = dict.fromkeys(k for p in products for k in p.withheld if k not in offered)
    return list(offered), list(withheld)
