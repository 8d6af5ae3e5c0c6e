"""Anthropic Messages through the official SDK, with a forced tool for structured output."""

from __future__ import annotations

import inspect
import json
from typing import Any

from labnb.clients.base import ChatRequest, ChatResponse, ModelClient
from labnb.clients.sdk_errors import map_sdk_error
from labnb.config import ModelEntry
from labnb.cost.usage import Usage, reported_usage
from labnb.errors import CallError
from labnb.pacing import ratelimit

_FINISH = {"max_tokens": "length", "refusal": "refusal"}


class AnthropicClient(ModelClient):
    def __init__(self, entry: ModelEntry) -> None:
        super().__init__(entry)
        import anthropic  # imported here so other providers never pay for it

        self._sdk = anthropic
        # Newer SDKs (and models) dropped sampling parameters; send temperature only where it exists.
        self._accepts_temperature = "temperature" in inspect.signature(
            anthropic.resources.messages.AsyncMessages.create).parameters
        self._client = anthropic.AsyncAnthropic(**self.sdk_options(anthropic))

    def request_params(self, request: ChatRequest) -> dict[str, Any]:
        """The exact body sent for ``request`` (also what a batch request carries)."""
        params: dict[str, Any] = {
            "model": self.entry.model,
            "max_tokens": request.max_tokens or self.entry.max_tokens,
            "system": [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": request.user}],
            "tools": [{
                "name": request.schema_name,
                "description": "Record the answer. Always call this tool.",
                "input_schema": request.schema,
            }],
            "tool_choice": {"type": "tool", "name": request.schema_name},
        }
        if self._accepts_temperature:
            params["temperature"] = self.entry.temperature
        return params

    async def generate(self, request: ChatRequest) -> ChatResponse:
        try:
            raw = await self._client.messages.with_raw_response.create(**self.request_params(request))
        except self._sdk.APIError as exc:
            raise map_sdk_error(exc, self._sdk, self.entry) from None
        try:
            body = (await raw.http_response.aread()).decode("utf-8")
            message = json.loads(body)  # read as plain JSON: any body the server sends, typed or not
        except Exception as exc:  # a 200 whose body is not JSON
            body = raw.http_response.text if raw.http_response.is_closed else ""
            raise CallError("bad_response", f"unreadable response: {type(exc).__name__}", raw=body[:2000],
                            retries=raw.retries_taken, answered=True) from None
        response = chat_response(message, body, retries=raw.retries_taken, request_id=raw.request_id)
        ratelimit.record_usage(response.usage.input_tokens, response.usage.output_tokens)
        return response

    async def aclose(self) -> None:
        await self._client.close()


def chat_response(message: Any, body: str, *, retries: int = 0, request_id: str | None = None) -> ChatResponse:
    """Our response record from a Message as JSON (a live answer or a batch-API result).

    A body without content blocks is a ``CallError("bad_response")`` that keeps the usage it reported;
    usage that is not token counts is unknown (``usage_known``), never a cost."""
    usage = usage_of(message.get("usage") if isinstance(message, dict) else None)
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        raise CallError("bad_response", "response has no content blocks", raw=body[:2000], retries=retries,
                        answered=True, usage=usage)
    if usage is None and "usage" in message:  # a server whose counts are broken: its answer is suspect too
        raise CallError("bad_response", "response usage is not token counts", raw=body[:2000], retries=retries,
                        answered=True)
    fields = parse_message(content, message.get("stop_reason"))
    return ChatResponse(**fields, usage=usage or Usage(), retries=retries, request_id=request_id,
                        raw={"body": body}, usage_known=usage is not None)


def usage_of(usage: Any) -> Usage | None:
    """Our ``Usage`` from Anthropic's (cached and cache-written tokens come on top of input_tokens), or None
    when it is missing or its counts are not token counts."""
    if not isinstance(usage, dict):
        return None
    reported = reported_usage(usage.get("input_tokens"), usage.get("output_tokens"),
                              usage.get("cache_read_input_tokens"), usage.get("cache_creation_input_tokens"))
    if reported is None:
        return None
    read, write = reported.cached_tokens, reported.cache_write_tokens
    return Usage(reported.input_tokens + read + write, reported.output_tokens, read, write)


def parse_message(blocks: list[Any], stop_reason: Any) -> dict[str, Any]:
    """Text, parsed data, finish and refusal of a Messages answer's content blocks (JSON objects)."""
    blocks = [b for b in blocks if isinstance(b, dict)]
    tool = next((b for b in blocks if b.get("type") == "tool_use"), None)
    text = "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
    finish = _FINISH.get(stop_reason if isinstance(stop_reason, str) else "", "stop")
    data = tool.get("input") if tool is not None and isinstance(tool.get("input"), dict) else None
    if tool is not None:
        text = json.dumps(tool.get("input"), ensure_ascii=False, sort_keys=True)
    return {
        "text": text, "data": data if finish == "stop" else None, "finish": finish,
        "refusal": text if finish == "refusal" else None,
    }
