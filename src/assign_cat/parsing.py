"""Check a model's answer against the batch it answers and the taxonomy; nothing is silently fixed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assign_cat.products import Product
from assign_cat.prompts import label_codes
from assign_cat.records import ProductResult
from assign_cat.taxonomy import Taxonomy


@dataclass
class ParsedAnswer:
    """Results for the products the answer covered, the ones it missed, and what was malformed."""

    results: dict[str, ProductResult] = field(default_factory=dict)
    missing: list[Product] = field(default_factory=list)
    problem: str = ""  # set when the answer's shape is wrong: worth one repair attempt


def _integer(value: Any) -> Any:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def parse_answer(data: Any, products: Sequence[Product], taxonomy: Taxonomy) -> ParsedAnswer:
    """Match answer items to products by their number ``n``; map each subcategory number ``k`` to its pair."""
    codes = label_codes(taxonomy)
    out = ParsedAnswer()
    items = data.get("r") if isinstance(data, dict) else None
    if not isinstance(items, list):
        out.problem = 'the answer must be a JSON object {"r": [...]} with one entry per product'
        return out
    seen: set[int] = set()
    problems: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            problems.append("every entry of r must be an object")
            continue
        n, k = _integer(item.get("n")), _integer(item.get("k"))
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(products):
            problems.append(f"n must be a product number from 1 to {len(products)}, got {n!r}")
            continue
        if not isinstance(k, int) or isinstance(k, bool):
            problems.append(f"entry n={n} needs an integer subcategory number k, got {k!r}")
            continue
        if n in seen:
            problems.append(f"product {n} is answered twice")
            continue
        seen.add(n)
        product = products[n - 1]
        if k in codes:
            cat, sub = codes[k]
            out.results[product.product_id] = ProductResult(product.product_id, cat, sub, raw_response=_compact(item))
        else:  # kept as answered, never mapped to a neighbour
            out.results[product.product_id] = ProductResult(
                product.product_id, status="invalid", error_type="invalid_label", raw_response=_compact(item),
                error=f"k={k} is not a subcategory number of the taxonomy (1 to {len(codes)})")
    if problems:
        out.problem = "; ".join(dict.fromkeys(problems))
    out.missing = [p for i, p in enumerate(products, start=1) if i not in seen]
    return out


def _compact(item: dict[str, Any]) -> str:
    import json

    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))
