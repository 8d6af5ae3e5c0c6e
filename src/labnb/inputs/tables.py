"""Reading a user's table of items (CSV, TSV, JSON, JSONL, Excel) into numbered rows, with one-line errors.

Shared by every use case: each turns the rows into its own item records. A row is
``(number, fields)`` where ``number`` is the line (CSV/TSV/JSONL), item (JSON) or sheet row (Excel)
it came from. The required column matches case-insensitively (``Title`` is ``title``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from labnb.errors import InputError
from labnb.inputs.files import decode_utf8, read_input
from labnb.inputs.headers import canonical_header, check_header

MAX_FILE_BYTES = 512 * 1024 * 1024
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".xlsx": "xlsx", ".xlsm": "xlsx"}
# Python refuses to turn more digits than this into an int; JSON ids that long stay text.
_MAX_INT_DIGITS = 4000

Row = tuple[int, dict[str, Any]]


def read_rows(path: str | Path, *, required: str, noun: str = "item", sheet: str | None = None) -> list[Row]:
    """Rows of ``path`` (format by extension); every row has the ``required`` column or key.

    ``sheet`` names the sheet of an Excel file (default: the first).
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: unknown file type '{path.suffix}' (use .csv, .tsv, .json, .jsonl or .xlsx)")
    if sheet is not None and kind != "xlsx":
        raise InputError(f"{path}: --sheet applies to Excel files (.xlsx) only")
    if kind == "xlsx":
        from labnb.inputs.excel import excel_rows

        return [(n, _canonical_key(row, required)) for n, row in excel_rows(path, sheet, required)]
    text = read_text(path)
    if not text.strip():
        raise InputError(f"{path}: file is empty")
    if kind in ("csv", "tsv"):
        return delimited_rows(path, text, "," if kind == "csv" else "\t", required)
    return json_rows(path, text, kind, required, noun)


def row_label(path: Path) -> str:
    """How a row is named in messages: ``item`` for a JSON list, ``row`` for Excel, else ``line``."""
    return {"json": "item", "xlsx": "row"}.get(FORMATS.get(path.suffix.lower(), ""), "line")


def read_text(path: Path) -> str:
    return decode_utf8(path, read_input(path, "input file", max_bytes=MAX_FILE_BYTES))


def delimited_rows(path: Path, text: str, delimiter: str, required: str) -> list[Row]:
    # The csv default (128 KB a field) would hide an over-long title behind a parser error.
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise InputError(f"{path}: line 1: malformed header: {exc}") from None
    header = [h.strip() for h in header]
    header = check_header(path, "line 1", header, required, _delimiter_hint(header, delimiter))
    rows: list[Row] = []
    line = reader.line_num
    try:
        for values in reader:
            start, line = line + 1, reader.line_num
            if not any(values):
                continue  # blank lines (and a spreadsheet's all-empty rows) are not items
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


def _canonical_key(item: dict[str, Any], name: str) -> dict[str, Any]:
    keys = canonical_header([str(k) for k in item], name)
    return dict(zip(keys, item.values())) if name not in item else item


def _int_or_text(digits: str) -> int | str:
    return int(digits) if len(digits.lstrip("-")) <= _MAX_INT_DIGITS else digits


def _loads(path: Path, text: str, line: int | None = None) -> Any:
    try:
        return json.loads(text, parse_int=_int_or_text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {line or exc.lineno}: malformed JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError(f"{path}: line {line or 1}: JSON nested too deeply") from None


def json_rows(path: Path, text: str, kind: str, required: str, noun: str) -> list[Row]:
    if kind == "json":
        data = _loads(path, text)
        plural = f"{noun}s"
        if isinstance(data, dict) and isinstance(data.get(plural), list):
            data = data[plural]
        if not isinstance(data, list):
            raise InputError(f"{path}: expected a JSON list of {noun} objects")
        items = [(i + 1, item) for i, item in enumerate(data)]
        label = "item"
    else:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                items.append((number, _loads(path, line, number)))
        label = "line"
    rows = []
    for number, item in items:
        if not isinstance(item, dict):
            raise InputError(f"{path}: {label} {number}: expected a JSON object")
        item = _canonical_key(item, required)
        if required not in item:
            raise InputError(f"{path}: {label} {number}: missing required field '{required}'")
        rows.append((number, item))
    return rows


def clean(value: Any) -> str:
    """A cell as text: None is empty, nested JSON is kept as compact JSON, other values are stripped."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value).strip()
