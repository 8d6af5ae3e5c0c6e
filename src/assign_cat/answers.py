"""Turn one model response into product results; shared by live calls and batch-API results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from assign_cat.parsing import parse_answer
from assign_cat.products import Product
from assign_cat.records import ProductResult
from assign_cat.taxonomy import Taxonomy
from labnb.calls import CallRecord
from labnb.clients import ChatResponse


@dataclass
class Judged:
    """Results the answer settled; ``problem`` (malformed shape) and ``split`` (truncated batch) ask for more."""

    results: dict[str, ProductResult] = field(default_factory=dict)
    problem: str = ""
    split: bool = False


def failed(product: Product, call: CallRecord, raw: str = "") -> ProductResult:
    """A product whose call failed: status error with the call's error type."""
    return ProductResult(
        product.product_id, status="error", error_type=call.error_type, error=call.error,
        raw_response=raw[:4000], latency_ms=call.latency_ms, call_id=call.call_id,
    )


def stamp(results: dict[str, ProductResult], call: CallRecord) -> dict[str, ProductResult]:
    for result in results.values():
        result.latency_ms, result.call_id = call.latency_ms, call.call_id
    return results


def judge(products: Sequence[Product], response: ChatResponse, call: CallRecord, taxonomy: Taxonomy) -> Judged:
    """Validate ``response`` for ``products``; marks ``call`` failed for refusals and truncation."""
    if response.finish != "stop":
        if response.finish == "length" and len(products) > 1:
            return Judged(split=True)  # too long for one answer: ask for each product alone
        kind = "truncated" if response.finish == "length" else "refusal"
        call.status, call.error_type = "error", kind
        call.error = response.refusal or "the answer was cut off at max_tokens"
        return Judged({p.product_id: failed(p, call, response.text) for p in products})
    parsed = parse_answer(response.data, products, taxonomy)
    return Judged(stamp(parsed.results, call), parsed.problem)


def schema_violations(products: Sequence[Product], judged: Judged, raw: str) -> dict[str, ProductResult]:
    """``judged``'s results plus an ``invalid``/``bad_response`` row for every product it did not settle."""
    results = dict(judged.results)
    for product in products:
        if product.product_id not in results:
            results[product.product_id] = ProductResult(
                product.product_id, status="invalid", error_type="bad_response",
                error=f"answer violates the schema: {judged.problem}", raw_response=raw[:4000],
            )
    return results


def unanswered(products: Sequence[Product], results: dict[str, ProductResult]) -> list[ProductResult]:
    """Results in input order, with an ``error``/``missing_answer`` row for each product left without one."""
    return [results.get(p.product_id) or ProductResult(
        p.product_id, status="error", error_type="missing_answer",
        error="the model's answer did not include this product") for p in products]
