"""Prompts and the answer schema for LLM classification.

The system prompt (instructions + taxonomy) is byte-identical for every call of a run so
providers can cache it; only the numbered product lines change. Answers use short keys and
the product's number in the request, which the parser maps back to product ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assign_cat.products import Product
from assign_cat.taxonomy import Taxonomy
from labnb.answers import answer_shape, one_line, prompt_record

FIELD_CHARS = 300

SYSTEM_TEMPLATE = """You classify the products of an online shop into a two-level taxonomy.
For each product choose the one subcategory that fits it best and answer with that subcategory's number. Use only the numbers listed below.

Taxonomy "{name}" (version {version}). Each category line is `Category name - description`; its subcategories follow, indented, as `number: Subcategory name - description`.
{taxonomy}

Answer with JSON only, one entry per product, in the form {answer_shape}, where n is the product's number as given and k the number of its subcategory."""

USER_TEMPLATE = "Classify these {count} products:\n{lines}"
USER_TEMPLATE_ONE = "Classify this product:\n{lines}"  # one product: never "these 1 products"
PRODUCT_LINE = "{n}. {title}{fields}"


def label_codes(taxonomy: Taxonomy) -> dict[int, tuple[str, str]]:
    """Subcategory number → (category id, subcategory id), numbered from 1 in document order.

    Models answer with these short numbers: half the output tokens of two ids, and every number
    names a valid pair, so a category/subcategory mismatch cannot even be expressed.
    """
    return taxonomy.codes


def _one_line(text: str, limit: int = FIELD_CHARS) -> str:
    return one_line(text, limit)


def render_taxonomy(taxonomy: Taxonomy) -> str:
    lines, k = [], 0
    for cat in taxonomy.categories:
        lines.append(cat.name + (f" - {cat.description}" if cat.description else ""))
        for sub in cat.subcategories:
            k += 1
            lines.append(f"  {k}: {sub.name}" + (f" - {sub.description}" if sub.description else ""))
    return "\n".join(lines)


def render_system(taxonomy: Taxonomy, *, explain: bool = False) -> str:
    """The stable prefix of every request of a run."""
    return SYSTEM_TEMPLATE.format(
        name=taxonomy.name, version=taxonomy.version, taxonomy=render_taxonomy(taxonomy),
        answer_shape=answer_shape(explain),
    )


def render_product(n: int, product: Product) -> str:
    fields = []
    if product.description:
        fields.append(f"description: {_one_line(product.description)}")
    fields.extend(f"{key}: {_one_line(value)}" for key, value in product.extra.items())
    return PRODUCT_LINE.format(n=n, title=_one_line(product.title), fields="".join(f" | {f}" for f in fields))


def render_user(products: Sequence[Product]) -> str:
    """The per-request part: products numbered from 1."""
    lines = "\n".join(render_product(n, p) for n, p in enumerate(products, start=1))
    template = USER_TEMPLATE_ONE if len(products) == 1 else USER_TEMPLATE
    return template.format(count=len(products), lines=lines)


def templates(taxonomy: Taxonomy, *, explain: bool = False) -> dict[str, Any]:
    """Everything needed to see (and re-render) the prompts of a run."""
    codes = {k: list(pair) for k, pair in label_codes(taxonomy).items()}
    return prompt_record(render_system(taxonomy, explain=explain), codes, explain=explain,
                         system_template=SYSTEM_TEMPLATE, user_template=USER_TEMPLATE,
                         product_line_template=PRODUCT_LINE, field_chars=FIELD_CHARS)
