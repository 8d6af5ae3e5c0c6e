"""Reading a user-named file, with the one-line errors every loader gives."""

from __future__ import annotations

from pathlib import Path

from labnb.errors import InputError, LabError


def read_input(path: Path, what: str, *, error: type[LabError] = InputError, max_bytes: int | None = None) -> bytes:
    """The bytes of ``path``; a missing file, a directory or an over-large file is a one-line ``error``."""
    try:
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise error(f"{path}: {what} larger than {max_bytes // 2**20} MB")
        return path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, expected a {what}") from None
    except PermissionError:
        raise error(f"{path}: permission denied") from None


def decode_utf8(path: Path, data: bytes) -> str:
    """``data`` as text; a byte-order mark is dropped, anything not UTF-8 is a one-line error naming the line."""
    try:
        return data.decode("utf-8-sig")  # a spreadsheet's BOM is not an error
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}: line {line}: not UTF-8 (byte 0x{data[exc.start]:02x}); re-save the file as UTF-8"
        ) from None
