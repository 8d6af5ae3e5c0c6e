"""Input products: loaded from CSV, TSV, JSON or JSONL into typed records."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labnb.errors import InputError
from labnb.files import read_input

MAX_TITLE_CHARS = 1000
MAX_FIELD_CHARS = 20_000
MAX_FILE_BYTES = 512 * 1024 * 1024
GOLD_FIELDS = ("expected_category", "expected_subcategory")
KNOWN_FIELDS = ("product_id", "title", "description", *GOLD_FIELDS)
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


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
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: unknown file type '{path.suffix}' (use .csv, .tsv, .json or .jsonl)")
    text = _read_text(path)
    if not text.strip():
        raise InputError(f"{path}: file is empty")
    if kind in ("csv", "tsv"):
        rows = _delimited_rows(path, text, "," if kind == "csv" else "\t")
    else:
        rows = _json_rows(path, text, kind)
    products = _to_products(path, rows)
    return products[:limit] if limit is not None else products


def _read_text(path: Path) -> str:
    data = read_input(path, "input file", max_bytes=MAX_FILE_BYTES)
    try:
        return data.decode("utf-8-sig")  # a spreadsheet's BOM is not an error
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}: line {line}: not UTF-8 (byte 0x{data[exc.start]:02x}); re-save the file as UTF-8"
        ) from None


def _delimited_rows(path: Path, text: str, delimiter: str) -> list[tuple[int, dict[str, Any]]]:
    # The csv default (128 KB a field) would hide an over-long title behind a parser error.
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise InputError(f"{path}: line 1: malformed header: {exc}") from None
    header = [h.strip() for h in header]
    if "title" not in header:
        raise InputError(f"{path}: line 1: missing required column 'title'{_delimiter_hint(header, delimiter)}; "
                         f"found: {', '.join(header)[:200]}")
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise InputError(f"{path}: line 1: duplicate column '{dupes[0]}'")
    rows: list[tuple[int, dict[str, Any]]] = []
    line = reader.line_num
    try:
        for values in reader:
            start, line = line + 1, reader.line_num
            if not any(values):
                continue  # blank lines (and a spreadsheet's all-empty rows) are not products
            if len(values) > len(header):
                raise InputError(
                    f"{path}: line {start}: {len(values)} fields but the header has {len(header)}"
                )
            rows.append((start, dict(zip(header, values))))
    except csv.Error as exc:
        kind = "CSV" if delimiter == "," else "TSV"
        raise InputError(f"{path}: line {reader.line_num}: malformed {kind}: {exc}") from None
    return rows


def _delimiter_hint(header: list[str], delimiter: str) -> str:
    names = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
    if len(header) == 1:
        for other, name in names.items():
            if other != delimiter and other in header[0]:
                return f" (the file looks {name}-delimited; expected {names[delimiter]}-delimited)"
    return ""


def _json_rows(path: Path, text: str, kind: str) -> list[tuple[int, dict[str, Any]]]:
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {exc.lineno}: malformed JSON: {exc.msg}") from None
        if isinstance(data, dict) and isinstance(data.get("products"), list):
            data = data["products"]
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a JSON list of product objects")
        items = [(i + 1, item) for i, item in enumerate(data)]
        label = "item"
    else:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}: line {number}: malformed JSON: {exc.msg}") from None
        label = "line"
    rows = []
    for number, item in items:
        if not isinstance(item, dict):
            raise InputError(f"{path}: {label} {number}: expected a JSON object")
        if "title" not in item:
            raise InputError(f"{path}: {label} {number}: missing required field 'title'")
        rows.append((number, item))
    return rows


def _clean(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value).strip()


def _to_products(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> list[Product]:
    if not rows:
        raise InputError(f"{path}: no products (the file has a header but no rows)")
    where = "line" if path.suffix.lower() != ".json" else "item"
    products: list[Product] = []
    seen: dict[str, int] = {}
    for index, (number, row) in enumerate(rows, start=1):
        fields = {str(k).strip(): _clean(v) for k, v in row.items() if k is not None}
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
