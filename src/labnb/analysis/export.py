"""A run's classifications as an Excel workbook in which every cell is text, so Excel never evaluates one.

``classifications.csv`` stays exact (pandas round-trips it); a title such as ``=HYPERLINK(...)``,
``+1``, ``-x`` or ``@SUM`` would run as a formula if that CSV were opened in Excel. This file is safe to open.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from labnb.analysis.runs import DEFAULT_RUNS_DIR, complete_lines, resolve_run
from labnb.errors import InputError

SHEET = "classifications"
MAX_CELL_CHARS = 32_767  # Excel's limit per cell


def _text(value: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    # XML 1.0 cannot hold most control characters: they are written as visible escapes (\x1b).
    return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)[:MAX_CELL_CHARS]


def export_xlsx(ref: str | Path, out_path: str | Path, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> tuple[Path, int]:
    """Write the run's ``classifications.csv`` to ``out_path`` as an all-text sheet; returns the path and row count."""
    from openpyxl import Workbook  # only for this command
    from openpyxl.cell import WriteOnlyCell

    run_dir = resolve_run(ref, runs_dir)
    source = run_dir / "outputs" / "classifications.csv"
    try:
        text = complete_lines(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{source}: no classifications yet") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: unreadable: {type(exc).__name__}") from None
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    rows = 0
    for values in csv.reader(io.StringIO(text, newline="")):
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=_text(value))
            cell.data_type = "s"  # a string, even when it starts with =, +, - or @
            cells.append(cell)
        sheet.append(cells)
        rows += 1
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return out, max(rows - 1, 0)
