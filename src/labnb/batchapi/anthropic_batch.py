"""Anthropic's Message Batches: the requests go in the create call; results stream back as JSONL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from labnb.batchapi.base import BatchAPIError, BatchPart, BatchProvider, ItemResult
from labnb.batchapi.files import download_to, iter_lines
from labnb.clients.http import sdk_options
from labnb.config import ModelEntry
from labnb.errors import CallError
from labnb.store.timeutil import parse_utc

# Anthropic batches carry no metadata: a lost create answer is matched by time and request count.
LIST_MARGIN_SECONDS = 600
ITEM_ERRORS = {"errored": "batch_errored", "expired": "batch_expired", "canceled": "batch_cancelled"}
NO_DETAIL = {"expired": "the batch's 24-hour window ended before this request was processed",
             "canceled": "the batch was cancelled before this request was processed"}


def _iso(when: dt.datetime | None) -> str:
    return "" if when is None else when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class AnthropicBatches(BatchProvider):
    name = "anthropic"
    max_requests = 100_000
    # 256 MB per batch; the lines are measured as we write them, the SDK's JSON envelope may differ a little.
    max_bytes = 250 * 1024 * 1024
    ended_statuses = ("ended",)

    def __init__(self, entry: ModelEntry) -> None:
        super().__init__(entry)
        import anthropic  # imported here so other providers never pay for it

        self._sdk = anthropic
        # Batch requests and result files of up to 256 MB need far longer than one chat call.
        self._client = anthropic.Anthropic(**sdk_options(anthropic, entry, sync=True,
                                                         timeout=max(entry.timeout, 600.0)))

    def sdk(self) -> Any:
        return self._sdk

    def line(self, custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"custom_id": custom_id, "params": body}

    def create(self, part: BatchPart, path: Path, metadata: dict[str, str]) -> None:
        requests = list(iter_lines(path))
        batch = self.call("batch creation", self._client.messages.batches.create, requests=requests)
        part.batch_id = batch.id
        self._update(part, batch)

    def find(self, part: BatchPart, metadata: dict[str, str], known: set[str]) -> str | None:
        since = parse_utc(part.intent_at).timestamp() - LIST_MARGIN_SECONDS
        found = []
        for batch in self.call("listing batches", self._client.messages.batches.list, limit=100):
            if batch.created_at.timestamp() < since:
                break
            if batch.id not in known and _total(batch.request_counts) == part.count:
                found.append(batch.id)
        if len(found) > 1:
            raise BatchAPIError(f"anthropic batch API: part {part.index} may have been created as any of "
                                f"{', '.join(found)} (same size, same minutes); cancel the ones that are not this "
                                "run's in the console, then resume again")
        return found[0] if found else None

    def refresh(self, part: BatchPart) -> None:
        self._update(part, self.call("retrieving a batch", self._client.messages.batches.retrieve, part.batch_id))

    def _update(self, part: BatchPart, batch: Any) -> None:
        part.provider_status = batch.processing_status
        counts = batch.request_counts
        part.done = _total(counts) - counts.processing
        part.failed = counts.errored + counts.canceled + counts.expired
        part.created_at = part.created_at or _iso(batch.created_at)
        part.ended_at = _iso(batch.ended_at)

    def download(self, part: BatchPart, directory: Path) -> list[str]:
        name = f"results-{part.index:03d}.jsonl"

        def fetch() -> None:
            with self._client.messages.batches.with_streaming_response.results(part.batch_id) as response:
                download_to(directory / name, response.iter_bytes())

        self.call("downloading results", fetch)
        return [name]

    def item(self, line: dict[str, Any]) -> ItemResult:
        from labnb.clients.anthropic_client import chat_response

        custom_id = str(line.get("custom_id", ""))
        result = line.get("result") or {}
        kind = result.get("type")
        if kind != "succeeded":
            error = (result.get("error") or {}).get("error") or result.get("error") or {}
            message = error.get("message", "") if isinstance(error, dict) else str(error)
            detail = f"{error.get('type')}: {message}" if isinstance(error, dict) and error.get("type") else message
            return ItemResult(custom_id, error_type=ITEM_ERRORS.get(str(kind), "batch_errored"),
                              error=detail or NO_DETAIL.get(str(kind), f"result type {kind!r}"))
        body = result.get("message")
        text = json.dumps(body, ensure_ascii=False)
        try:
            return ItemResult(custom_id, chat_response(body, text, request_id=None))
        except CallError as exc:  # answered, so billed: its usage is kept when it reported one
            return ItemResult(custom_id, error_type="bad_response", error=f"unreadable batch result: {exc}"[:500],
                              answered=True, usage=exc.usage)

    def close(self) -> None:
        self._client.close()


def _total(counts: Any) -> int:
    return counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
