"""Text for the terminal: secrets scrubbed and control characters escaped, so no input can drive it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

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


def invoked_as(script: str) -> str:
    """The name a command was started by, for its --help: ``run_experiment.py``, or its console command
    (``run-experiment``; a task's own name for ``run_<task>.py``); ``script`` when started any other way."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    stem = script.removesuffix(".py")
    return name if name in (script, stem.replace("_", "-"), stem.removeprefix("run_").replace("_", "-")) else script


def counted(n: int, noun: str) -> str:
    """``1 request``, ``2 requests``, ``1,000 items``: a count with its noun in the right number."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def warn(message: str) -> None:
    """One ``warning: ...`` line on stderr."""
    print(f"warning: {safe(message)}", file=sys.stderr)


def error(message: object) -> None:
    """One ``error: ...`` line on stderr."""
    print(f"error: {safe(message)}", file=sys.stderr)
