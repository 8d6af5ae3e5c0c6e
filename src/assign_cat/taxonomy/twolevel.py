"""The project's two-level taxonomy XML: parsed from XML with a hardened parser, checked against the XSD."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lxml import etree

from labnb.errors import InputError
from labnb.inputs.files import read_input
from labnb.task import Group, Label

SCHEMA_PATH = Path(__file__).resolve().parent / "taxonomy.xsd"  # with the code: a run folder replays anywhere
MAX_TAXONOMY_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Subcategory(Label):
    """A leaf of the two-level taxonomy."""


@dataclass(frozen=True)
class Category(Group):
    """A top-level node of the two-level taxonomy: the group of its subcategories."""

    subcategories: tuple[Subcategory, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    categories: tuple[Category, ...]

    @cached_property
    def pairs(self) -> frozenset[tuple[str, str]]:
        """Every valid (category id, subcategory id) pair."""
        return frozenset((c.id, s.id) for c in self.categories for s in c.subcategories)

    @cached_property
    def codes(self) -> dict[int, tuple[str, str]]:
        """Subcategory number → (category id, subcategory id), from 1 in document order."""
        pairs = [(c.id, s.id) for c in self.categories for s in c.subcategories]
        return dict(enumerate(pairs, start=1))

    def is_valid(self, category: str, subcategory: str) -> bool:
        return (category, subcategory) in self.pairs

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.categories]

    @property
    def subcategory_ids(self) -> list[str]:
        """Distinct subcategory ids in document order (ids may repeat across categories)."""
        return list(dict.fromkeys(s.id for c in self.categories for s in c.subcategories))

    def category(self, category_id: str) -> Category:
        return next(c for c in self.categories if c.id == category_id)


def _parser() -> etree.XMLParser:
    # No entities, no DTDs, no network: XXE, billion laughs and external DTDs all fail closed.
    return etree.XMLParser(
        resolve_entities=False, load_dtd=False, no_network=True, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )


def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), _parser()))


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Parse and validate ``path``; every problem is a one-line InputError naming file and line."""
    path = Path(path)
    data = read_input(path, "taxonomy file", max_bytes=MAX_TAXONOMY_BYTES)
    # Refuse any DTD before parsing: XXE, billion laughs and external DTDs never reach the parser.
    doctype = re.search(rb"<!(DOCTYPE|ENTITY)", data)
    if doctype:
        line = data[: doctype.start()].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: DOCTYPE declarations and entities are not allowed")
    try:
        root = etree.fromstring(data, _parser(), base_url=None)
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{path}: line {exc.lineno}: malformed XML: {exc.msg}") from None
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.system_url or _has_entities(root):
        raise InputError(f"{path}: line 1: DOCTYPE declarations and entities are not allowed")
    schema = _schema()
    if not schema.validate(root):
        err = schema.error_log.last_error
        raise InputError(f"{path}: line {err.line}: does not match taxonomy.xsd: {err.message}")
    return _build(path, root)


def _has_entities(root: etree._Element) -> bool:
    return any(isinstance(node, etree._Entity) for node in root.iter())


def _text(element: etree._Element) -> str:
    desc = element.find("description")
    return " ".join((desc.text or "").split()) if desc is not None else ""


def _build(path: Path, root: etree._Element) -> Taxonomy:
    categories: list[Category] = []
    seen: set[str] = set()
    for cat in root.findall("category"):
        cid = cat.get("id")
        if cid in seen:
            raise InputError(f"{path}: line {cat.sourceline}: duplicate category id '{cid}'")
        seen.add(cid)
        subs: list[Subcategory] = []
        sub_seen: set[str] = set()
        for sub in cat.findall("subcategory"):
            sid = sub.get("id")
            if sid in sub_seen:
                raise InputError(
                    f"{path}: line {sub.sourceline}: duplicate subcategory id '{sid}' in category '{cid}'"
                )
            sub_seen.add(sid)
            subs.append(Subcategory(sid, sub.get("name").strip(), _text(sub)))
        categories.append(Category(cid, cat.get("name").strip(), _text(cat), tuple(subs)))
    return Taxonomy(root.get("name"), root.get("version"), tuple(categories))
