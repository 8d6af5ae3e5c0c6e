"""Batch endpoints of the fake API: OpenAI files + batches, Anthropic message batches.

A batch ends on the ``polls_to_finish``-th retrieve; its items are answered then, by the same logic
as synchronous calls. Note: Anthropic's SDK ``batches.results()`` itself calls retrieve first.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fakeapi_wire import Reply, anthropic_error, openai_error

DAY = 86400
ITEM_ERRORS = {"expired": ("batch_expired", "This request could not be executed before the completion window expired."),
               "canceled": ("batch_cancelled", "This request was cancelled before it could be executed.")}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _page(items: list[dict[str, Any]], limit: int, after: str | None, before: str | None = None) -> dict[str, Any]:
    ids = [i["id"] for i in items]
    if after in ids:
        items = items[ids.index(after) + 1:]
    elif before in ids:
        items = items[: ids.index(before)][-limit:]
    data = items[:limit]
    return {"data": data, "has_more": len(items) > len(data),
            "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}


class Batches:
    """State and routes of both providers' batch APIs; ``server`` supplies settings and answers."""

    def __init__(self, server: Any, answer_fn: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        self.server = server
        self.answer_fn = answer_fn
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._state: dict[str, dict[str, Any]] = {}  # batch id -> polls, items, cancel flag
        self._lock = threading.RLock()

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes,
              body: Any, request_id: str) -> Reply | None:
        parts = path.strip("/").split("/")
        with self._lock:
            if parts[:3] == ["v1", "messages", "batches"]:
                return self._anthropic(method, parts[3:], query, body, request_id)
            if parts[:2] == ["v1", "files"]:
                return self._files(method, parts[2:], headers, raw)
            if parts[:2] == ["v1", "batches"]:
                return self._openai(method, parts[2:], query, body)
        return None

    # -- OpenAI ------------------------------------------------------------------------------------
    def add_file(self, content: bytes, filename: str, purpose: str) -> dict[str, Any]:
        file_id = f"file-fake{len(self.files) + 1:06d}"
        self.files[file_id] = {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                               "filename": filename, "purpose": purpose, "status": "processed",
                               "expires_at": None, "status_details": None}
        self.contents[file_id] = content
        return self.files[file_id]

    def _files(self, method: str, rest: list[str], headers: dict[str, str], raw: bytes) -> Reply | None:
        if method == "POST" and not rest:
            head = f"Content-Type: {headers.get('content-type', '')}\r\n\r\n".encode()
            form = BytesParser(policy=HTTP).parsebytes(head + raw)
            fields = {p.get_param("name", header="content-disposition"): p for p in form.iter_parts()}
            if "file" not in fields or "purpose" not in fields:
                return Reply.of(400, openai_error(400, message="file and purpose are required"))
            file = fields["file"]
            return Reply.of(200, self.add_file(file.get_payload(decode=True) or b"", file.get_filename() or "upload",
                                               fields["purpose"].get_payload(decode=True).decode()))
        if method != "GET" or not rest or rest[0] not in self.files:
            return Reply.of(404, openai_error(404, message="No such File object")) if rest else None
        if rest[1:] == ["content"]:
            return Reply(200, self.contents[rest[0]], content_type="application/octet-stream")
        return Reply.of(200, self.files[rest[0]]) if len(rest) == 1 else None

    def _openai(self, method: str, rest: list[str], query: dict[str, str], body: Any) -> Reply | None:
        if not rest:
            if method == "POST":
                return self._openai_create(body if isinstance(body, dict) else {})
            listed = self._newest_first("batch")
            return Reply.of(200, {"object": "list", **_page(listed, int(query.get("limit", 20)), query.get("after"))})
        batch = self.batches.get(rest[0])
        if batch is None or batch.get("object") != "batch":
            return Reply.of(404, openai_error(404, message=f"No batch found with id '{rest[0]}'."))
        if method == "POST" and rest[1:] == ["cancel"]:
            if batch["status"] in ("validating", "in_progress"):
                batch.update(status="cancelling", cancelling_at=int(time.time()))
                self._state[batch["id"]]["cancel"] = True
            return Reply.of(200, batch)
        if method == "GET" and len(rest) == 1:
            self._poll_openai(batch)
            return Reply.of(200, batch)
        return None

    def _openai_create(self, body: dict[str, Any]) -> Reply:
        file_id = body.get("input_file_id")
        if file_id not in self.contents or body.get("endpoint") != "/v1/chat/completions":
            return Reply.of(400, openai_error(400, message="Unknown input_file_id or unsupported endpoint."))
        lines = [json.loads(line) for line in self.contents[file_id].decode().splitlines() if line.strip()]
        now = int(time.time())
        batch_id = f"batch_fake{len(self.batches) + 1:06d}"
        self.batches[batch_id] = {
            "id": batch_id, "object": "batch", "endpoint": body["endpoint"], "errors": None,
            "input_file_id": file_id, "completion_window": body.get("completion_window", "24h"),
            "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": now,
            "in_progress_at": None, "expires_at": now + DAY, "finalizing_at": None, "completed_at": None,
            "failed_at": None, "expired_at": None, "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": body.get("metadata"), "model": None, "usage": None,
        }
        self._state[batch_id] = {"polls": 0, "items": [(x["custom_id"], x.get("body", {})) for x in lines],
                                 "cancel": False}
        return Reply.of(200, self.batches[batch_id])

    def _poll_openai(self, batch: dict[str, Any]) -> None:
        state = self._state[batch["id"]]
        if batch["status"] in ("completed", "expired", "cancelled", "failed"):
            return
        state["polls"] += 1
        now = int(time.time())
        if not state["cancel"] and state["polls"] < self.server.batch_polls_to_finish:
            batch.update(status="in_progress", in_progress_at=batch["in_progress_at"] or now)
            return
        outcome = "canceled" if state["cancel"] else "expired" if self.server.batch_expire else None
        out, err = [], []
        usage = {"input_tokens": 0, "cached_tokens": 0, "output_tokens": 0}
        for n, (custom_id, item) in enumerate(state["items"], start=1):
            line: dict[str, Any] = {"id": f"batch_req_{batch['id']}_{n}", "custom_id": custom_id,
                                    "response": None, "error": None}
            kind = outcome or self.server.batch_item_faults.get(custom_id)
            if kind in ITEM_ERRORS:
                code, message = ITEM_ERRORS[kind]
                line["error"] = {"code": code, "message": message}
            elif kind == "errored":
                line["response"] = {"status_code": 500, "request_id": f"req_{custom_id}",
                                    "body": openai_error(500)}
            else:
                answer = self.answer_fn("openai", item)
                line["response"] = {"status_code": 200, "request_id": f"req_{custom_id}", "body": answer}
                usage["input_tokens"] += answer["usage"]["prompt_tokens"]
                usage["cached_tokens"] += answer["usage"]["prompt_tokens_details"]["cached_tokens"]
                usage["output_tokens"] += answer["usage"]["completion_tokens"]
            (out if kind is None else err).append(line)
        for lines, key, suffix in ((out, "output_file_id", "output"), (err, "error_file_id", "error")):
            if lines:
                content = "".join(json.dumps(x) + "\n" for x in lines).encode()
                batch[key] = self.add_file(content, f"{batch['id']}_{suffix}.jsonl", "batch_output")["id"]
        status = {"canceled": "cancelled", "expired": "expired"}.get(outcome or "", "completed")
        batch.update(status=status, finalizing_at=now, **{f"{status}_at": now},
                     request_counts={"total": len(state["items"]), "completed": len(out), "failed": len(err)},
                     usage={"input_tokens": usage["input_tokens"], "output_tokens": usage["output_tokens"],
                            "total_tokens": usage["input_tokens"] + usage["output_tokens"],
                            "input_tokens_details": {"cached_tokens": usage["cached_tokens"]},
                            "output_tokens_details": {"reasoning_tokens": 0}})

    # -- Anthropic ---------------------------------------------------------------------------------
    def _anthropic(self, method: str, rest: list[str], query: dict[str, str], body: Any, rid: str) -> Reply | None:
        if not rest:
            if method == "POST":
                requests = body.get("requests") if isinstance(body, dict) else None
                if not requests:
                    return Reply.of(400, anthropic_error(400, rid, message="requests: field required"))
                return Reply.of(200, self._anthropic_create(requests))
            listed = self._newest_first("message_batch")
            page = _page(listed, int(query.get("limit", 20)), query.get("after_id"), query.get("before_id"))
            return Reply.of(200, page)
        batch = self.batches.get(rest[0])
        if batch is None or batch.get("type") != "message_batch":
            return Reply.of(404, anthropic_error(404, rid, message=f"Batch {rest[0]} not found."))
        if method == "POST" and rest[1:] == ["cancel"]:
            if batch["processing_status"] == "in_progress":
                batch.update(processing_status="canceling", cancel_initiated_at=_iso(time.time()))
                self._state[batch["id"]]["cancel"] = True
            return Reply.of(200, batch)
        if method == "GET" and len(rest) == 1:
            self._poll_anthropic(batch)
            return Reply.of(200, batch)
        if method == "GET" and rest[1:] == ["results"]:
            if batch["processing_status"] != "ended":
                return Reply.of(404, anthropic_error(404, rid, message="Batch has not ended yet."))
            lines = "".join(json.dumps(x) + "\n" for x in self._state[batch["id"]]["results"])
            return Reply(200, lines.encode(), content_type="application/binary")
        return None

    def _anthropic_create(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        now = time.time()
        batch_id = f"msgbatch_fake{len(self.batches) + 1:06d}"
        self.batches[batch_id] = {
            "id": batch_id, "type": "message_batch", "processing_status": "in_progress",
            "request_counts": {"processing": len(requests), "succeeded": 0, "errored": 0, "canceled": 0,
                               "expired": 0},
            "ended_at": None, "created_at": _iso(now), "expires_at": _iso(now + DAY), "archived_at": None,
            "cancel_initiated_at": None, "results_url": None,
        }
        self._state[batch_id] = {"polls": 0, "items": [(r["custom_id"], r.get("params", {})) for r in requests],
                                 "cancel": False, "results": []}
        return self.batches[batch_id]

    def _poll_anthropic(self, batch: dict[str, Any]) -> None:
        state = self._state[batch["id"]]
        if batch["processing_status"] == "ended":
            return
        state["polls"] += 1
        if not state["cancel"] and state["polls"] < self.server.batch_polls_to_finish:
            return
        outcome = "canceled" if state["cancel"] else "expired" if self.server.batch_expire else None
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for custom_id, params in state["items"]:
            kind = outcome or self.server.batch_item_faults.get(custom_id) or "succeeded"
            result: dict[str, Any] = {"type": kind}
            if kind == "succeeded":
                result["message"] = self.answer_fn("anthropic", params)
                result["message"]["usage"]["service_tier"] = "batch"
            elif kind == "errored":
                result["error"] = anthropic_error(500, f"req_{custom_id}", message="Fake batch item error.")
            counts[kind] += 1
            state["results"].append({"custom_id": custom_id, "result": result})
        batch.update(processing_status="ended", ended_at=_iso(time.time()), request_counts=counts,
                     results_url=f"{self.server.url}/v1/messages/batches/{batch['id']}/results")

    def _newest_first(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in reversed(self.batches.values()) if b.get("object", b.get("type")) == kind]
