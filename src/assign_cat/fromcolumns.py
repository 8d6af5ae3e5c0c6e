"""``--taxonomy-from-columns category,subcategory``: a two-level taxonomy read from a catalog's own label columns.

The label space is every distinct (category, subcategory) of the input and the examples together,
in first-seen order; ids are slugged from the names, names are kept. The taxonomy is written as
the project's XML (checked against taxonomy.xsd like any other) and snapshotted into ``inputs/``;
the two columns become the gold labels, and are never offered to the model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from lxml import etree

from assign_cat.products import Product
from assign_cat.taxonomy import Category, Subcategory, Taxonomy
from labnb.errors import UsageError
from labnb.inputs.labelspace import column_value, distinct, find_column, parse_columns, require_columns, slug_ids

OPTION = "--taxonomy-from-columns"


def label_columns(text: str) -> tuple[str, str]:
    category, subcategory = parse_columns(text, OPTION, "category,subcategory")
    return category, subcategory


def gold_from_columns(products: Sequence[Product], columns: tuple[str, str], source: str | Path) -> list[Product]:
    """The products with ``columns`` as their gold (category, subcategory) and no longer among their fields."""
    require_columns(columns, {k for p in products for k in (*p.extra, *p.withheld)}, OPTION, source)
    out = []
    for p in products:
        fields = {**p.extra, **p.withheld}
        category, subcategory = (column_value(fields, name) for name in columns)
        drop = {find_column(name, fields) for name in columns}
        out.append(replace(p, expected_category=category if subcategory else "",
                           expected_subcategory=subcategory if category else "",
                           extra={k: v for k, v in p.extra.items() if k not in drop},
                           withheld={k: v for k, v in p.withheld.items() if k not in drop}))
    return out


def taxonomy_from(products: Sequence[Product], name: str) -> Taxonomy:
    """Every (category, subcategory) named by ``products``' gold, first-seen order, ids slugged from names."""
    pairs = distinct((p.expected_category, p.expected_subcategory) for p in products)
    if not pairs:
        raise UsageError(f"{OPTION}: the label columns are empty: no (category, subcategory) to build a taxonomy of")
    category_ids = slug_ids([c for (c,) in distinct((c,) for c, _ in pairs)], "category")
    categories = []
    for cat_name, cat_id in category_ids.items():
        sub_ids = slug_ids((s for c, s in pairs if c.casefold() == cat_name.casefold()), "subcategory")
        categories.append(Category(cat_id, cat_name, "", tuple(Subcategory(i, n, "") for n, i in sub_ids.items())))
    version = hashlib.sha256(repr(pairs).encode("utf-8")).hexdigest()[:12]
    return Taxonomy(name, version, tuple(categories))


def taxonomy_xml(taxonomy: Taxonomy, description: str) -> bytes:
    """``taxonomy`` as the project's taxonomy XML (what ``load_taxonomy`` reads back)."""
    root = etree.Element("taxonomy", name=taxonomy.name, version=taxonomy.version)
    etree.SubElement(root, "description").text = description
    for cat in taxonomy.categories:
        node = etree.SubElement(root, "category", id=cat.id, name=cat.name)
        for sub in cat.subcategories:
            etree.SubElement(node, "subcategory", id=sub.id, name=sub.name)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
