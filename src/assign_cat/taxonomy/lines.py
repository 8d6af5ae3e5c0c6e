"""Taxonomies published as one node per line, ``<id><separator><A > B > C>``: the shared reader."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from assign_cat.taxonomy.tree import DeepTaxonomy, Node
from labnb.errors import InputError
from labnb.inputs.lookalike import name_key
from labnb.terminal.console import escape

QUOTE_CHARS = 60  # of an offending line, in its error message


@dataclass(frozen=True)
class LineFormat:
    """One published format: its regex (groups ``id`` and ``path``) and how to name it in errors."""

    name: str
    title: str  # "Google's taxonomy-with-ids"
    example: str  # "id - A > B > C"
    pattern: re.Pattern[str]
    taxonomy_name: str

    def matches(self, line: str) -> bool:
        return self.pattern.fullmatch(line.strip()) is not None


def significant_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) of every line that is not blank or a ``#`` comment."""
    return [(n, line) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]


def decode(path: Path, data: bytes) -> str:
    """The file's text: UTF-8, a BOM is fine; anything else is a one-line error naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: not UTF-8 (byte 0x{data[exc.start]:02x}); "
                         "re-save the file as UTF-8") from None


def version_of(text: str) -> str:
    """The version a leading comment states ("# Google_Product_Taxonomy_Version: 2021-09-21")."""
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        if ":" in line:
            return line.rsplit(":", 1)[1].strip()
    return ""


def read_lines(path: Path, text: str, fmt: LineFormat) -> DeepTaxonomy:
    """Every node of ``data``; a wrong line, a duplicate id or path, or a missing parent is a one-line error."""
    records: dict[str, tuple[int, str, tuple[str, ...]]] = {}
    first_at: dict[tuple[str, ...], int] = {}  # by name_key
    for number, line in significant_lines(text):
        where = f"{path}: line {number}"
        match = fmt.pattern.fullmatch(line.strip())
        if match is None:
            raise InputError(f"{where}: not in {fmt.title} format '{fmt.example}': {line.strip()[:QUOTE_CHARS]!r}")
        node_id, names = match["id"], tuple(part.strip() for part in match["path"].split(">"))
        if not all(names):
            raise InputError(f"{where}: empty name in path {match['path'].strip()!r}")
        if node_id in records:
            raise InputError(f"{where}: duplicate id '{node_id}' (first at line {records[node_id][0]})")
        key = tuple(name_key(n, fold_case=False) for n in names)  # alike to the eye (width, zero-width): same path
        if key in first_at:
            shown = escape(repr(" > ".join(names)))
            raise InputError(f"{where}: duplicate path {shown} (first at line {first_at[key]})")
        records[node_id] = (number, node_id, names)
        first_at[key] = number
    if not records:
        raise InputError(f"{path}: no taxonomy nodes in the file")
    id_of = {names: node_id for node_id, (_, _, names) in records.items()}
    lineage: dict[tuple[str, ...], tuple[str, ...]] = {}
    # Parents may come after their children in a file: resolve shallow paths first.
    for number, node_id, names in sorted(records.values(), key=lambda r: len(r[2])):
        parent = names[:-1]
        if parent and parent not in id_of:
            raise InputError(f"{path}: line {number}: parent '{' > '.join(parent)}' of '{names[-1]}' "
                             "is not in the file")
        lineage[names] = (*lineage[parent], node_id) if parent else (node_id,)
    nodes = tuple(Node(node_id, names[-1], names, lineage[names], line=number)
                  for number, node_id, names in records.values())
    return DeepTaxonomy(fmt.taxonomy_name, version_of(text), fmt.name, nodes)
