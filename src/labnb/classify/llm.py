"""Classification by a chat model: one request per batch, one repair, singles for what a batch missed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from labnb.answers.judging import failed, judge, schema_violations, unanswered
from labnb.classify.base import Classifier
from labnb.clients import ChatRequest, ChatResponse, ModelClient, create_client
from labnb.clients.requests import TOKENS_PER_ANSWER, TOKENS_PER_EXPLAINED_ANSWER, RequestBuilder
from labnb.config import ModelEntry
from labnb.cost.totals import call_cost
from labnb.cost.usage import Usage, price
from labnb.errors import CallError, RunAborted
from labnb.pacing.budget import BudgetRefused
from labnb.store.calls import CallRecord
from labnb.store.results import BatchOutcome, ItemResult, refused
from labnb.store.timeutil import utc_now
from labnb.task import Item, Task


class LLMClassifier(Classifier):
    def __init__(self, entry: ModelEntry, task: Task, *, explain: bool = False,
                 client: ModelClient | None = None) -> None:
        super().__init__(entry)
        self.task = task
        self.requests = RequestBuilder(entry, task, explain=explain)
        self.client = client or create_client(entry)

    def use_cache(self, cache: Any, run_id: str, *, read: bool = True) -> None:
        from labnb.cache.client import CachingClient

        self.client = CachingClient(self.client, cache, run_id, read=read)

    def answers_from_cache(self, items: Sequence[Item]) -> bool:
        answers = getattr(self.client, "answers", None)
        return answers is not None and answers(self.requests.build(items))

    def keep(self, response: ChatResponse, items: Sequence[Item], results: dict[str, ItemResult]) -> None:
        """A clean answer (every item answered with a valid label) goes to the response cache, if the run has one;
        one with a missing or invalid answer is never kept, so the next run asks again."""
        keep = getattr(self.client, "keep", None)
        if keep is not None and all(p.item_id in results and results[p.item_id].status == "ok" for p in items):
            keep(response)

    def prompt_templates(self) -> dict[str, Any]:
        return self.requests.templates()

    def estimate_tokens(self, items: Sequence[Item], *, exact: bool = True) -> int:
        # Budgets take the dry run's own count: CJK text runs at up to a token a character, so characters / 4
        # broke them. Pacing alone does without: loading the tokenizer costs ~0.3 s before the first request.
        return self.requests.input_tokens(items) if exact else self.requests.rough_input_tokens(items)

    def estimate_output_tokens(self, items: Sequence[Item]) -> int:
        per = TOKENS_PER_EXPLAINED_ANSWER if self.requests.explain else TOKENS_PER_ANSWER // 2
        return per * len(items) + 8

    async def classify(self, items: Sequence[Item]) -> BatchOutcome:
        outcome = BatchOutcome()
        results = await self._attempt(list(items), outcome, "first")  # refused by the budget: nothing sent
        if len(items) > 1:
            for item in [p for p in items if p.item_id not in results]:
                # A batch answer that skipped an item (or ran out of tokens): ask for it alone.
                try:
                    results.update(await self._attempt([item], outcome, "single-retry"))
                except BudgetRefused as exc:
                    outcome.refused += 1
                    results[item.item_id] = refused(item.item_id, f"the budget refused its single retry ({exc})")
        outcome.results = unanswered(items, results, self.task.item_noun)
        return outcome

    async def _attempt(self, items: list[Item], outcome: BatchOutcome, attempt: str) -> dict[str, ItemResult]:
        """One request (and at most one repair); returns results for the items it settled."""
        response, call = await self._call(self.requests.build(items), items, outcome, attempt)
        if response is None:
            return {p.item_id: failed(p, call) for p in items}
        judged = judge(items, response, call, self.task)
        self.record(call)  # judged (a refusal marks the call failed) and logged before the next await
        if not judged.problem:
            self.keep(response, items, judged.results)
            return judged.results
        repair_request = self.requests.repair(items, judged.problem, response.text)
        try:
            repair, repair_call = await self._call(repair_request, items, outcome, "repair")
        except BudgetRefused as exc:
            outcome.refused += 1
            return {**judged.results, **{p.item_id: refused(p.item_id, f"the budget refused its repair ({exc})")
                                         for p in items if p.item_id not in judged.results}}
        if repair is not None:
            fixed = judge(items, repair, repair_call, self.task)
            self.record(repair_call)
            if not fixed.problem and not fixed.split:
                self.keep(repair, items, fixed.results)
                return fixed.results
        return schema_violations(items, judged, response.text)

    async def _call(self, request: ChatRequest, items: Sequence[Item], outcome: BatchOutcome,
                    attempt: str) -> tuple[ChatResponse | None, CallRecord]:
        """One request through the run's ledger: reserved, logged ahead (write-ahead), sent, settled."""
        record = CallRecord(
            call_id="", item_ids=[p.item_id for p in items], started_at="", latency_ms=0.0, status="ok",
            attempt=attempt, request=self.requests.record(request, items), model=self.call_model,
        )
        shown = self.requests.example_ids(items)
        if shown:
            record.request["example_ids"] = shown
        exact = self.exact_tokens or self.ledger.max_cost is not None
        input_tokens = self.requests.request_tokens(request, exact=exact)
        record.usage_max = Usage(input_tokens, request.max_tokens or self.entry.max_tokens)
        answers = getattr(self.client, "answers", None)
        if answers is not None and answers(request):
            estimate = 0.0  # the response cache answers it: nothing is billed, nothing to reserve
        else:
            estimate = price(Usage(input_tokens, self.estimate_output_tokens(items)), self.entry.pricing).total
            await self.ledger.reserve(estimate)  # BudgetRefused: nothing sent, nothing to record
        try:
            record.call_id, record.started_at = self.new_call_id(), utc_now()
            self.sent(record)
            outcome.calls.append(record)
            return await self._send(request, record)
        finally:
            self.ledger.settle(estimate, call_cost(record, self.entry.pricing))

    async def _send(self, request: ChatRequest, record: CallRecord) -> tuple[ChatResponse | None, CallRecord]:
        clock = time.perf_counter()
        try:
            response = await self.client.call(request)
        except RunAborted as exc:  # keep the fatal call in calls.jsonl before the run stops
            record.latency_ms = round((time.perf_counter() - clock) * 1000, 3)
            record.status, record.error_type, record.error = "error", type(exc).__name__, str(exc)
            self.record(record)
            raise
        except CallError as exc:
            record.latency_ms = round((time.perf_counter() - clock) * 1000, 3)
            record.status, record.error_type, record.error = "error", exc.error_type, exc.message
            record.retries, record.response = exc.retries, exc.raw
            if exc.answered:  # a 200 we could not use: billed all the same
                record.usage, record.usage_known = exc.usage or Usage(), exc.usage is not None
            self.record(record)
            return None, record
        except asyncio.CancelledError:  # stopped in flight: it may have been billed, so it is on record
            record.latency_ms = round((time.perf_counter() - clock) * 1000, 3)
            record.status, record.error_type, record.usage_known = "cancelled", "cancelled", False
            record.error = "cancelled in flight when the run stopped; its usage is unknown"
            self.record(record)
            raise
        record.latency_ms = round((time.perf_counter() - clock) * 1000, 3)
        record.usage, record.retries, record.response = response.usage, response.retries, response.raw.get("body", "")
        record.cache_hit, record.cached_from = bool(response.cached_from), response.cached_from
        record.usage_known = response.usage_known
        return response, record

    async def aclose(self) -> None:
        await self.client.aclose()
