"""Which format a taxonomy file is in, told by its content (never its name), and loading it deep."""

from __future__ import annotations

from pathlib import Path

from assign_cat.taxonomy.google import GOOGLE
from assign_cat.taxonomy.lines import LineFormat, decode, read_lines, significant_lines
from assign_cat.taxonomy.shopify import SHOPIFY
from assign_cat.taxonomy.tree import DeepTaxonomy, Node
from assign_cat.taxonomy.twolevel import MAX_TAXONOMY_BYTES, Taxonomy, load_taxonomy
from labnb.errors import InputError
from labnb.inputs.files import read_input

LINE_FORMATS: tuple[LineFormat, ...] = (GOOGLE, SHOPIFY)
XML = "xml"


def detect_format(path: str | Path) -> str:
    """``xml``, ``google`` or ``shopify``, from the first line that is not blank or a comment."""
    path = Path(path)
    return _detect(path, read_input(path, "taxonomy file", max_bytes=MAX_TAXONOMY_BYTES))[0]


def _detect(path: Path, data: bytes) -> tuple[str, str]:
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return XML, ""
    text = decode(path, data)
    lines = significant_lines(text)
    if not lines:
        raise InputError(f"{path}: no taxonomy nodes in the file")
    number, first = lines[0]
    for fmt in LINE_FORMATS:
        if fmt.matches(first):
            return fmt.name, text
    known = "; ".join(f"{f.title} '{f.example}'" for f in LINE_FORMATS)
    raise InputError(f"{path}: line {number}: not a taxonomy format this tool reads: expected the project's XML; "
                     f"{known}")


def load_deep(path: str | Path) -> DeepTaxonomy:
    """Any of the three formats as a taxonomy of any depth (the XML: category level 1, subcategory level 2)."""
    path = Path(path)
    kind, text = _detect(path, read_input(path, "taxonomy file", max_bytes=MAX_TAXONOMY_BYTES))
    if kind == XML:
        return from_two_level(load_taxonomy(path))
    return read_lines(path, text, next(f for f in LINE_FORMATS if f.name == kind))


def from_two_level(taxonomy: Taxonomy) -> DeepTaxonomy:
    """The XML's categories as level-1 nodes, their subcategories as level-2 nodes ``<category>/<subcategory>``
    (a subcategory id is unique only within its category; ``local_id`` keeps it)."""
    nodes: list[Node] = []
    for cat in taxonomy.categories:
        nodes.append(Node(cat.id, cat.name, (cat.name,), (cat.id,), cat.description))
        for sub in cat.subcategories:
            node_id = f"{cat.id}/{sub.id}"
            nodes.append(Node(node_id, sub.name, (cat.name, sub.name), (cat.id, node_id), sub.description, sub.id))
    # Only subcategories are assignable, as in every two-level run.
    return DeepTaxonomy(taxonomy.name, taxonomy.version, XML, tuple(nodes), leaves_only=True)
