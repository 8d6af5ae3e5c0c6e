"""Classification by a chat model: one request per batch, one repair, singles for what a batch missed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from assign_cat import prompts
from assign_cat.classifier import Classifier
from assign_cat.parsing import parse_answer
from assign_cat.products import Product
from assign_cat.records import BatchOutcome, ProductResult
from assign_cat.requests import TOKENS_PER_ANSWER, TOKENS_PER_EXPLAINED_ANSWER, RequestBuilder
from assign_cat.taxonomy import Taxonomy
from labnb.calls import CallRecord
from labnb.clients import ChatRequest, ChatResponse, ModelClient, create_client
from labnb.config import ModelEntry
from labnb.errors import CallError, RunAborted
from labnb.timeutil import utc_now


class LLMClassifier(Classifier):
    def __init__(self, entry: ModelEntry, taxonomy: Taxonomy, *, explain: bool = False,
                 client: ModelClient | None = None) -> None:
        super().__init__(entry)
        self.taxonomy = taxonomy
        self.requests = RequestBuilder(entry, taxonomy, explain=explain)
        self.client = client or create_client(entry)

    def prompt_templates(self) -> dict[str, Any]:
        return self.requests.templates()

    def estimate_tokens(self, products: Sequence[Product]) -> int:
        # About four characters a token: cheap enough for every rate-limit check; --dry-run counts exactly.
        return (len(self.requests.system) + len(prompts.render_user(products))) // 4 + 8

    def estimate_output_tokens(self, products: Sequence[Product]) -> int:
        per = TOKENS_PER_EXPLAINED_ANSWER if self.requests.explain else TOKENS_PER_ANSWER // 2
        return per * len(products) + 8

    async def classify(self, products: Sequence[Product]) -> BatchOutcome:
        outcome = BatchOutcome()
        results = await self._attempt(list(products), outcome, "first")
        missing = [p for p in products if p.product_id not in results]
        if len(products) > 1:
            for product in missing:  # a batch answer that skipped a product: ask for it alone
                results.update(await self._attempt([product], outcome, "single-retry"))
        outcome.results = [results[p.product_id] for p in products if p.product_id in results]
        for product in products:
            if product.product_id not in results:
                outcome.results.append(ProductResult(
                    product.product_id, status="error", error_type="missing_answer",
                    error="the model's answer did not include this product",
                ))
        order = {p.product_id: i for i, p in enumerate(products)}
        outcome.results.sort(key=lambda r: order[r.product_id])
        return outcome

    async def _attempt(self, products: list[Product], outcome: BatchOutcome, attempt: str) -> dict[str, ProductResult]:
        """One request (and at most one repair); returns results for the products it settled."""
        request = self.requests.build(products)
        response, call = await self._call(request, products, outcome, attempt)
        if response is None:
            return {p.product_id: _failed(p, call) for p in products}
        if response.finish != "stop":
            if response.finish == "length" and len(products) > 1:
                return {}  # too long for one answer: every product is asked for alone
            kind = "truncated" if response.finish == "length" else "refusal"
            call.status, call.error_type = "error", kind
            call.error = response.refusal or "the answer was cut off at max_tokens"
            return {p.product_id: _failed(p, call, response.text) for p in products}
        parsed = parse_answer(response.data, products, self.taxonomy)
        if parsed.problem:
            repair_request = self.requests.repair(products, parsed.problem, response.text)
            repair, repair_call = await self._call(repair_request, products, outcome, "repair")
            if repair is not None and repair.finish == "stop":
                fixed = parse_answer(repair.data, products, self.taxonomy)
                if not fixed.problem:
                    return _stamp(fixed.results, repair_call)
            results = {pid: r for pid, r in parsed.results.items()}
            for product in products:
                if product.product_id not in results:
                    results[product.product_id] = ProductResult(
                        product.product_id, status="invalid", error_type="bad_response",
                        error=f"answer violates the schema: {parsed.problem}", raw_response=response.text[:4000],
                    )
            return _stamp(results, call)
        return _stamp(parsed.results, call)

    async def _call(self, request: ChatRequest, products: Sequence[Product], outcome: BatchOutcome,
                    attempt: str) -> tuple[ChatResponse | None, CallRecord]:
        started, clock = utc_now(), time.perf_counter()
        record = CallRecord(
            call_id=self.new_call_id(), item_ids=[p.product_id for p in products], started_at=started,
            latency_ms=0.0, status="ok", attempt=attempt,
            request={"system_sha256": self.requests.system_sha256, "user": request.user,
                     "max_tokens": request.max_tokens},
        )
        outcome.calls.append(record)
        try:
            response = await self.client.generate(request)
        except RunAborted as exc:  # keep the fatal call in calls.jsonl before the run stops
            record.latency_ms = round((time.perf_counter() - clock) * 1000, 3)
            record.status, record.error_type, record.error = "error", type(exc).__name__, str(exc)
            exc.calls = list(outcome.calls)  # type: ignore[attr-defined]
            raise
        except CallError as exc:
            record.latency_ms = round((time.perf_counter() - clock) * 1000, 3)
            record.status, record.error_type, record.error = "error", exc.error_type, exc.message
            record.retries, record.response = exc.retries, exc.raw
            return None, record
        record.latency_ms = round((time.perf_counter() - clock) * 1000, 3)
        record.usage, record.retries, record.response = response.usage, response.retries, response.raw.get("body", "")
        return response, record

    async def aclose(self) -> None:
        await self.client.aclose()


def _failed(product: Product, call: CallRecord, raw: str = "") -> ProductResult:
    return ProductResult(
        product.product_id, status="error", error_type=call.error_type, error=call.error,
        raw_response=raw[:4000], latency_ms=call.latency_ms, call_id=call.call_id,
    )


def _stamp(results: dict[str, ProductResult], call: CallRecord) -> dict[str, ProductResult]:
    for result in results.values():
        result.latency_ms, result.call_id = call.latency_ms, call.call_id
    return results
