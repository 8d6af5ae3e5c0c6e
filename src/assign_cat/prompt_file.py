"""assign-cat's side of prompt files and examples: its template variables and its examples file.

Rendering ``config/prompts/assign-cat.yaml`` with these variables gives byte for byte the
prompts of ``assign_cat.prompts`` (tested), so runs without ``--prompt`` are unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assign_cat.products import Product, load_products
from assign_cat.prompts import _one_line, render_taxonomy
from assign_cat.taxonomy import Taxonomy
from labnb.errors import InputError
from labnb.fewshot import Example, ExampleSet
from labnb.fewshot.examples import shown
from labnb.prompting import answer_format_text

DEFAULT_PROMPT = Path(__file__).resolve().parents[2] / "config" / "prompts" / "assign-cat.yaml"
EXTRA_VARIABLES = ("taxonomy",)


def label_id(category: str, subcategory: str) -> str:
    """The choice id of a (category, subcategory) pair, as examples and learners name labels."""
    return f"{category}/{subcategory}"


def choices(taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """The numbered choices as template variables."""
    out = []
    for cat in taxonomy.categories:
        for sub in cat.subcategories:
            out.append({"k": len(out) + 1, "id": label_id(cat.id, sub.id), "name": sub.name,
                        "description": sub.description, "group": cat.name})
    return out


def fields(product: Product) -> tuple[tuple[str, str], ...]:
    """The (name, value) pairs offered with a product, one-lined and clipped as the built-in prompt does."""
    out = [("description", _one_line(product.description))] if product.description else []
    out.extend((key, _one_line(value)) for key, value in product.extra.items())
    return tuple(out)


def system_variables(taxonomy: Taxonomy, *, explain: bool = False,
                     examples: Sequence[Example] = ()) -> dict[str, Any]:
    listed = choices(taxonomy)
    return {
        "labels": render_taxonomy(taxonomy), "choices": listed,
        "taxonomy": {"name": taxonomy.name, "version": taxonomy.version},
        "examples": shown(examples, {c["id"]: c["k"] for c in listed}, {c["id"]: c["name"] for c in listed}),
        "answer_format": answer_format_text("product", "subcategory", explain=explain),
        "item_noun": "product", "explain": explain,
    }


def user_variables(taxonomy: Taxonomy, products: Sequence[Product], *, explain: bool = False,
                   examples: Sequence[Example] = ()) -> dict[str, Any]:
    items = [{"n": n, "id": p.product_id, "text": _one_line(p.title), "fields": [list(f) for f in fields(p)]}
             for n, p in enumerate(products, start=1)]
    return {**system_variables(taxonomy, explain=explain, examples=examples), "items": items, "count": len(items)}


def load_examples(path: str | Path, taxonomy: Taxonomy) -> ExampleSet:
    """``--examples FILE``: products with gold labels of ``taxonomy``; one-line errors otherwise."""
    path = Path(path)
    products = load_products(path)
    examples = []
    for number, p in enumerate(products, start=1):
        if not taxonomy.is_valid(p.expected_category, p.expected_subcategory):
            what = "has no gold label" if not p.has_gold else (
                f"gold label '{p.expected_category}/{p.expected_subcategory}' is not in the taxonomy")
            raise InputError(f"{path}: example {number} ('{p.product_id}') {what}; examples need "
                             "expected_category and expected_subcategory")
        examples.append(Example(p.product_id, p.title, label_id(p.expected_category, p.expected_subcategory),
                                fields(p)))
    return ExampleSet(tuple(examples), hashlib.sha256(path.read_bytes()).hexdigest(), str(path))
