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
from labnb.errors import CallError, RunAborted
from labnb.store.calls import CallRecord
from labnb.store.results import BatchOutcome, ItemResult
from labnb.store.timeutil import utc_now
from labnb.task import Item, Task


class LLMClassifier(Classifier):
    def __init__(self, entry: ModelEntry, task: Task, *, explain: bool = False,
                 client: ModelClient | None = None) -> None:
        super().__init__(entry)
        self.task = task
        self.requests = RequestBuilder(entry, task, explain=explain)
        self.client = client or create_client(entry)

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
        results = await self._attempt(list(items), outcome, "first")
        if len(items) > 1:
            for item in [p for p in items if p.item_id not in results]:
                # A batch answer that skipped an item (or ran out of tokens): ask for it alone.
                results.update(await self._attempt([item], outcome, "single-retry"))
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
            return judged.results
        repair_request = self.requests.repair(items, judged.problem, response.text)
        repair, repair_call = await self._call(repair_request, items, outcome, "repair")
        if repair is not None:
            fixed = judge(items, repair, repair_call, self.task)
            self.record(repair_call)
            if not fixed.problem and not fixed.split:
                return fixed.results
        return schema_violations(items, judged, response.text)

    async def _call(self, request: ChatRequest, items: Sequence[Item], outcome: BatchOutcome,
                    attempt: str) -> tuple[ChatResponse | None, CallRecord]:
        started, clock = utc_now(), time.perf_counter()
        record = CallRecord(
            call_id=self.new_call_id(), item_ids=[p.item_id for p in items], started_at=started,
            latency_ms=0.0, status="ok", attempt=attempt,
            request=self.requests.record(request, items),
        )
        shown = self.requests.example_ids(items)
        if shown:
            record.request["example_ids"] = shown
        outcome.calls.append(record)
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
            self.record(record)
            return None, record
        except asyncio.CancelledError:  # stopped in flight: it may have been billed, so it is on record
            record.latency_ms = round((time.perf_counter() - clock) * 1000, 3)
            record.status, record.error_type = "cancelled", "cancelled"
            record.error = "cancelled in flight when the run stopped; its usage is unknown"
            self.record(record)
            raise
        record.latency_ms = round((time.perf_counter() - clock) * 1000, 3)
        record.usage, record.retries, record.response = response.usage, response.retries, response.raw.get("body", "")
        return response, record

    async def aclose(self) -> None:
        await self.client.aclose()
