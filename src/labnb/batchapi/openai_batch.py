"""OpenAI's Batch API: a JSONL file uploaded with purpose "batch", then a batch over /v1/chat/completions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from labnb.batchapi.base import BatchPart, BatchProvider, ItemResult
from labnb.batchapi.files import download_to
from labnb.clients import lazy_types
from labnb.clients.http import sdk_options
from labnb.config import ModelEntry
from labnb.errors import CallError

ENDPOINT = "/v1/chat/completions"
LIST_MARGIN_SECONDS = 3600  # batches listed newest first: stop an hour before the part's create call
ITEM_ERRORS = {"batch_expired": "batch_expired", "batch_cancelled": "batch_cancelled"}


def _iso(ts: int | None) -> str:
    return "" if not ts else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class OpenAIBatches(BatchProvider):
    name = "openai"
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024
    ended_statuses = ("completed", "expired", "cancelled", "failed")
    uploads = True

    def __init__(self, entry: ModelEntry) -> None:
        super().__init__(entry)
        openai = lazy_types.openai_sdk()  # imported here so other providers never pay for it
        self._sdk = openai
        # Uploads of up to 200 MB need far longer than one chat call.
        self._client = openai.OpenAI(**sdk_options(openai, entry, sync=True, timeout=max(entry.timeout, 600.0)))

    def sdk(self) -> Any:
        return self._sdk

    def line(self, custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}

    def upload(self, part: BatchPart, path: Path) -> None:
        with open(path, "rb") as handle:
            uploaded = self.call("file upload", self._client.files.create, file=(path.name, handle), purpose="batch")
        part.file_id = uploaded.id

    def create(self, part: BatchPart, path: Path, metadata: dict[str, str]) -> None:
        batch = self.call("batch creation", self._client.batches.create, input_file_id=part.file_id,
                          endpoint=ENDPOINT, completion_window="24h", metadata=metadata)
        part.batch_id = batch.id
        self._update(part, batch)

    def find(self, part: BatchPart, metadata: dict[str, str], known: set[str]) -> str | None:
        since = _epoch(part.intent_at) - LIST_MARGIN_SECONDS
        for batch in self.call("listing batches", self._client.batches.list, limit=100):
            if batch.created_at < since:
                break
            mine = dict(batch.metadata or {})
            if batch.id not in known and all(mine.get(k) == v for k, v in metadata.items()):
                return batch.id
        return None

    def refresh(self, part: BatchPart) -> None:
        self._update(part, self.call("retrieving a batch", self._client.batches.retrieve, part.batch_id))

    def _update(self, part: BatchPart, batch: Any) -> None:
        part.provider_status = batch.status
        counts = batch.request_counts
        if counts is not None:
            part.done, part.failed = counts.completed + counts.failed, counts.failed
        part.created_at = part.created_at or _iso(batch.created_at)
        end = batch.completed_at or batch.expired_at or batch.cancelled_at or batch.failed_at
        part.ended_at = _iso(end) if self.ended(part) else ""
        errors = getattr(batch.errors, "data", None) or []
        part.error = "; ".join(f"{e.code}: {e.message}" if e.code else str(e.message) for e in errors)
        part.remote_files = {k: v for k, v in (("results", batch.output_file_id), ("errors", batch.error_file_id)) if v}

    def download(self, part: BatchPart, directory: Path) -> list[str]:
        names = []
        for kind, file_id in sorted(part.remote_files.items(), key=lambda kv: kv[0] != "results"):
            name = f"{kind}-{part.index:03d}.jsonl"

            def fetch(file_id: str = file_id, name: str = name) -> None:
                with self._client.files.with_streaming_response.content(file_id) as response:
                    download_to(directory / name, response.iter_bytes())

            self.call("downloading results", fetch)
            names.append(name)
        return names

    def item(self, line: dict[str, Any]) -> ItemResult:
        from labnb.clients.openai_client import chat_response

        custom_id = str(line.get("custom_id", ""))
        error = line.get("error") or {}
        if error:
            code = str(error.get("code") or "")
            message = str(error.get("message") or code)
            if code in ITEM_ERRORS:
                return ItemResult(custom_id, error_type=ITEM_ERRORS[code], error=message)
            return ItemResult(custom_id, error_type="batch_errored", error=f"{code}: {message}" if code else message)
        response = line.get("response") or {}
        body = response.get("body")
        if response.get("status_code") != 200:
            inner = body.get("error") if isinstance(body, dict) else None
            message = inner.get("message", "") if isinstance(inner, dict) else str(body)[:500]
            return ItemResult(custom_id, error_type="batch_errored",
                              error=f"HTTP {response.get('status_code')}: {message}")
        text = json.dumps(body, ensure_ascii=False)
        try:
            return ItemResult(custom_id, chat_response(body, text, request_id=response.get("request_id")))
        except CallError as exc:  # answered, so billed: its usage is kept when it reported one
            return ItemResult(custom_id, error_type="bad_response", error=f"unreadable batch result: {exc}"[:500],
                              answered=True, usage=exc.usage)

    def close(self) -> None:
        self._client.close()


def _epoch(iso: str) -> float:
    from labnb.store.timeutil import parse_utc

    return parse_utc(iso).timestamp() if iso else 0.0
