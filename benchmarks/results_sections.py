"""benchmarks/results.md holds the main throughput report and, between markers, the rate-limit section."""

from __future__ import annotations

from pathlib import Path

BEGIN, END = "<!-- rate-limits: written by benchmarks/throughput_limits.py -->", "<!-- /rate-limits -->"


def section(text: str) -> str:
    """The rate-limit section of ``text`` (markers included), or ''."""
    if BEGIN in text and END in text:
        return text[text.index(BEGIN): text.index(END) + len(END)]
    return ""


def write(out: Path, *, main: str | None = None, limits: str | None = None) -> None:
    """Rewrite ``out`` with a new main report and/or rate-limit section, keeping the other one.

    The section goes after the main report's first paragraph (its title).
    """
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    kept = section(old)
    body = (old.replace(kept, "").replace("\n\n\n\n", "\n\n") if kept else old) if main is None else main
    block = limits if limits is not None else kept
    if not block:
        out.write_text(body, encoding="utf-8")
        return
    head, _, rest = body.partition("\n\n")
    out.write_text(f"{head}\n\n{block}\n\n{rest}" if body else block + "\n", encoding="utf-8")
