"""A large input read in parts: its format, its columns, the plan of parts and the rows of one part.

A part is a range of the input that a worker reads by itself: a byte range of whole records of a CSV,
TSV or JSONL file, or a row range of one Parquet file. Planning is one streaming pass (memory does not
grow with the file); the plan is written to the run folder, so a resumed run has the very same parts.
A row that cannot be parsed (too many fields, broken JSON, not an object) is that row's problem, kept
for its ``invalid`` output row, never an exception that stops the run.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from labnb.errors import InputError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".parquet": "parquet"}
DELIMITERS = {"csv": ",", "tsv": "\t"}


@dataclass(frozen=True)
class Part:
    """Rows ``position`` .. ``position + rows - 1`` of the input (0-based, over all its files), found in
    ``file`` between ``start`` and ``stop`` (bytes of a text file, rows of a Parquet file); ``line`` is the
    line (Parquet: row) number of its first row, for messages."""

    index: int
    file: str
    start: int
    stop: int
    position: int
    rows: int
    line: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Part:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RawRow:
    """One row as read: its line number, its cells (None when unparseable) and why it is malformed ("": it is
    not; a row with too many cells keeps the first ones, for its id)."""

    line: int
    fields: dict[str, Any] | None
    problem: str = ""


@dataclass(frozen=True)
class Source:
    """An input file or a directory of Parquet files: its format, files and header (first file's columns)."""

    path: str
    kind: str
    files: tuple[str, ...]
    columns: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "files": list(self.files), "columns": list(self.columns)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Source:
        return cls(data["path"], data["kind"], tuple(data["files"]), tuple(data["columns"]))

    @property
    def bytes(self) -> int:
        return sum(Path(f).stat().st_size for f in self.files)


def open_source(path: str | Path) -> Source:
    """The input at ``path``; an unreadable or unsupported one is a one-line InputError."""
    path = Path(path)
    if path.is_dir():
        files = sorted(str(p) for p in path.glob("*.parquet"))
        if not files:
            raise InputError(f"{path}: a directory input must hold .parquet files (none found)")
        kind = "parquet"
    elif not path.is_file():
        raise InputError(f"{path}: input file not found")
    else:
        kind = FORMATS.get(path.suffix.lower(), "")
        if not kind:
            raise InputError(f"{path}: --engine reads .csv, .tsv, .jsonl or .parquet files (or a directory of "
                             f".parquet files), not '{path.suffix}'; convert it, e.g. to JSONL")
        files = [str(path)]
    return Source(str(path), kind, tuple(files), tuple(_columns(Path(files[0]), kind)))


def _columns(path: Path, kind: str) -> list[str]:
    if kind == "parquet":
        return list(_parquet(path).schema_arrow.names)
    with open(path, "rb") as handle:
        if kind == "jsonl":
            for raw in handle:  # the keys of the first object: enough to know whether gold is there
                if raw.strip():
                    try:
                        first = json.loads(raw)
                    except ValueError:
                        return []
                    return [str(k) for k in first] if isinstance(first, dict) else []
            raise InputError(f"{path}: file is empty")
        header = next(csv.reader(_Lines(handle, None, 0), delimiter=DELIMITERS[kind]), None)
    if not header:
        raise InputError(f"{path}: file is empty")
    return [h.strip().lstrip("\ufeff") for h in header]


def _parquet(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow: pip install '.[ray]'") from None
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's own error types
        raise InputError(f"{path}: unreadable Parquet: {' '.join(str(exc).split())[:200]}") from None


class _Lines:
    """Decoded lines of a binary file from its current offset up to ``stop``, counting bytes and lines
    (the csv module pulls exactly the lines of one record at a time, so ``offset`` is a record's end)."""

    def __init__(self, handle: BinaryIO, stop: int | None, line: int) -> None:
        self.handle, self.stop, self.line = handle, stop, line
        self.offset = handle.tell()

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.stop is not None and self.offset >= self.stop:
            raise StopIteration
        raw = self.handle.readline()
        if not raw:
            raise StopIteration
        self.offset += len(raw)
        self.line += 1
        # A byte that is not UTF-8 survives as a surrogate: that row is invalid, the others are read.
        return raw.decode("utf-8", "surrogateescape")


def _text_records(source: Source, file: str, start: int, stop: int | None,
                  line: int) -> Iterator[tuple[int, int, RawRow]]:
    """``(end offset, last line, row)`` for each non-blank record of a text file from byte ``start`` (line
    ``line``; offset 0 is the header, skipped) up to byte ``stop``."""
    header = list(source.columns)
    with open(file, "rb") as handle:
        handle.seek(start)
        lines = _Lines(handle, stop, line - 1)
        if source.kind == "jsonl":
            for text in lines:
                if text.strip():
                    yield lines.offset, lines.line, _json_row(lines.line, text.strip())
            return
        reader = csv.reader(lines, delimiter=DELIMITERS[source.kind], strict=False)
        if start == 0:
            next(reader, None)  # the header
        while True:
            first = lines.line + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield lines.offset, lines.line, RawRow(first, None, f"malformed {source.kind.upper()}: {exc}")
                continue
            if not any(values):
                continue  # blank lines are not items
            if len(values) > len(header):
                problem = f"{len(values)} fields but the header has {len(header)}"
                yield lines.offset, lines.line, RawRow(first, dict(zip(header, values)), problem)
                continue
            yield lines.offset, lines.line, RawRow(first, dict(zip(header, values)))


def _json_row(line: int, text: str) -> RawRow:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return RawRow(line, None, f"malformed JSON: {str(exc)[:120]}")
    if not isinstance(value, dict):
        return RawRow(line, None, "expected a JSON object")
    return RawRow(line, value)


def plan_parts(source: Source, part_rows: int, limit: int | None = None) -> Iterator[Part]:
    """The parts of ``source``, ``part_rows`` rows each (the last of each file may be shorter); with
    ``limit``, only the first ``limit`` rows."""
    index = position = 0
    limit = limit if limit is not None else -1
    for file in source.files:
        if position == limit:
            return
        if source.kind == "parquet":
            total = _parquet(Path(file)).metadata.num_rows
            for start in range(0, total, part_rows):
                rows = min(part_rows, total - start, *([limit - position] if limit >= 0 else []))
                yield Part(index, file, start, start + rows, position, rows, start + 1)
                index, position = index + 1, position + rows
                if position == limit:
                    return
            continue
        start, line, rows = 0, 1, 0
        for end, last, _row in _text_records(source, file, 0, None, 1):
            rows += 1
            if rows == part_rows or position + rows == limit:
                yield Part(index, file, start, end, position, rows, line)
                index, position, rows = index + 1, position + rows, 0
                start, line = end, last + 1
                if position == limit:
                    return
        if rows:
            yield Part(index, file, start, Path(file).stat().st_size, position, rows, line)
            index, position = index + 1, position + rows


def read_part(source: Source, part: Part) -> list[RawRow]:
    """The rows of one part, in file order."""
    if source.kind != "parquet":
        return [row for _end, _last, row in _text_records(source, part.file, part.start, part.stop, part.line)]
    handle = _parquet(Path(part.file))
    rows: list[RawRow] = []
    offset = 0
    for group in range(handle.metadata.num_row_groups):
        size = handle.metadata.row_group(group).num_rows
        low, high = max(part.start, offset), min(part.stop, offset + size)
        if low < high:
            table = handle.read_row_group(group).slice(low - offset, high - low)
            rows.extend(RawRow(low + i + 1, values) for i, values in enumerate(table.to_pylist()))
        offset += size
        if offset >= part.stop:
            break
    return rows
