"""Text for the terminal: secrets scrubbed and control characters escaped, so no input can drive it."""

from __future__ import annotations

import re
import sys

from labnb.store.scrub import scrub

# C0 and C1 controls and DEL: ESC sequences recolour, retitle or rewrite the terminal; CR and LF forge lines.
# Bidi embeddings, overrides and isolates (U+202E shows "txt.exe" as "exe.txt") and the Unicode line and paragraph
# separators are escaped too.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\n``), one line always."""
    return _CONTROLS.sub(lambda m: _NAMED.get(m.group(), _code(ord(m.group()))), text)


def _code(point: int) -> str:
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"


def safe(text: object) -> str:
    """What may be printed: ``text`` scrubbed of secrets, then escaped."""
    return escape(scrub(str(text)))


def warn(message: str) -> None:
    """One ``warning: ...`` line on stderr."""
    print(f"warning: {safe(message)}", file=sys.stderr)


def error(message: object) -> None:
    """One ``error: ...`` line on stderr."""
    print(f"error: {safe(message)}", file=sys.stderr)
