"""When two names are the same name to a reader: compared after NFKC, without invisible format characters.

``"Positive"`` and ``"Posi\\u200btive"`` (a zero-width space inside) print alike and would be two labels, one of
which gold written as a name could never reach. Files that define names compare them by ``name_key``.
"""

from __future__ import annotations

import unicodedata


def name_key(name: str, *, fold_case: bool = True) -> str:
    """``name`` as compared for duplicates: NFKC, invisible characters (zero-width, bidi) dropped, blanks
    collapsed, and case folded unless ``fold_case`` is False."""
    text = unicodedata.normalize("NFKC", name)
    # Invisible characters (zero-width, bidi, other format and control characters) are the ones not printable.
    text = " ".join("".join(ch for ch in text if ch.isprintable() or ch.isspace()).split())
    return text.casefold() if fold_case else text
