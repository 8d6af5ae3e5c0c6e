"""Gold labels as people write them: a taxonomy id, a name (exact, then any case), or ``Category > Subcategory``.

``resolve_gold`` turns them into taxonomy ids before a run, so names score as ids do, and counts the
labels that matched nothing (the dry run and the run warn about those).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeVar

from assign_cat.products import Product
from assign_cat.taxonomy import Category, Subcategory, Taxonomy

PATH_SEPARATOR = ">"
T = TypeVar("T", Category, Subcategory)


@dataclass(frozen=True)
class GoldResolution:
    """The products with gold rewritten to ids, and how their labels matched."""

    products: list[Product]
    by_id: int = 0
    by_name: int = 0
    unmatched: int = 0
    first_unmatched: Product | None = None


def _find(options: tuple[T, ...] | list[T], text: str) -> tuple[T | None, bool]:
    """The option whose id is ``text``, else whose name is (exactly, then case-insensitively); and whether by name."""
    for match, by_name in ((lambda o: o.id == text, False), (lambda o: o.name == text, True),
                           (lambda o: o.name.casefold() == text.casefold(), True)):
        found = [o for o in options if match(o)]
        if len(found) == 1:
            return found[0], by_name
        if len(found) > 1:
            return None, by_name  # ambiguous: never guess
    return None, False


def _path(text: str) -> tuple[str, str] | None:
    parts = [p.strip() for p in text.split(PATH_SEPARATOR)]
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


def _resolve(taxonomy: Taxonomy, category: str, subcategory: str) -> tuple[str, str, bool] | None:
    """``(category id, subcategory id, by name)``, or None when the label matches nothing."""
    category, subcategory = category.strip(), subcategory.strip()
    given = ""
    for text in (subcategory, category):
        if PATH_SEPARATOR in text:
            path = _path(text)
            if path is None or (text is category and subcategory):
                return None
            given = category if text is subcategory else ""
            category, subcategory = path
            break
    by_name = False
    cat = None
    if category:
        cat, by_name = _find(taxonomy.categories, category)
        if cat is None or (given and _find(taxonomy.categories, given)[0] is not cat):
            return None  # a category column that disagrees with the path
    if not subcategory:
        return (cat.id, "", by_name) if cat else None
    if cat is not None:
        sub, sub_by_name = _find(cat.subcategories, subcategory)
        return (cat.id, sub.id, by_name or sub_by_name) if sub else None
    pairs = [(c, s) for c in taxonomy.categories for s in c.subcategories]
    sub, sub_by_name = _find([s for _, s in pairs], subcategory)
    if sub is None:
        return None
    owner = next(c for c, s in pairs if s is sub)
    return owner.id, sub.id, sub_by_name


def resolve_gold(products: list[Product], taxonomy: Taxonomy) -> GoldResolution:
    """Rewrite every product's gold labels to taxonomy ids where they name one; count those that do not."""
    out: list[Product] = []
    by_id = by_name = unmatched = 0
    first: Product | None = None
    for product in products:
        if not product.has_gold:
            out.append(product)
            continue
        found = _resolve(taxonomy, product.expected_category, product.expected_subcategory)
        if found is None:
            unmatched += 1
            first = first or product
            out.append(product)  # kept as written, scored wrong, and counted
            continue
        category, subcategory, named = found
        by_name += named
        by_id += not named
        out.append(replace(product, expected_category=category, expected_subcategory=subcategory))
    return GoldResolution(out, by_id=by_id, by_name=by_name, unmatched=unmatched, first_unmatched=first)
