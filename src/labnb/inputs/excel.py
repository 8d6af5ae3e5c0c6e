"""Excel input (.xlsx): the first sheet, or a named one, as numbered rows; formulas are never evaluated."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

from labnb.errors import InputError
from labnb.inputs.files import read_input
from labnb.inputs.headers import check_header

Row = tuple[int, dict[str, Any]]
MAX_XLSX_BYTES = 200 * 1024 * 1024


def excel_rows(path: Path, sheet: str | None, required: str) -> list[Row]:
    """Rows of one sheet; the first non-empty row is the header, numbers are the sheet's row numbers."""
    from openpyxl import load_workbook  # only when an Excel file is read

    data = read_input(path, "input file", max_bytes=MAX_XLSX_BYTES)
    try:
        # data_only: a formula cell gives the value Excel last saved, the formula itself is never run.
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable Excel .xlsx file ({type(exc).__name__})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(f"{path}: no sheet '{sheet}' (sheets: {', '.join(book.sheetnames)})")
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        return _rows(path, worksheet.iter_rows(values_only=True), required)
    finally:
        book.close()


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # an id typed as 1001 comes back as 1001.0 from some writers
    return value


def _rows(path: Path, cells: Any, required: str) -> list[Row]:
    header: list[str] | None = None
    rows: list[Row] = []
    for number, values in enumerate(cells, start=1):
        values = [_cell(v) for v in values]
        if not any(v is not None and str(v).strip() for v in values):
            continue  # blank rows are not items
        if header is None:
            header = check_header(path, f"row {number}", ["" if v is None else str(v).strip() for v in values],
                                  required)
            continue
        rows.append((number, {h: v for h, v in zip(header, values) if h}))
    if header is None:
        raise InputError(f"{path}: the sheet is empty")
    return rows
