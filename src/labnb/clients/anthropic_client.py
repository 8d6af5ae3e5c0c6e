"""Anthropic Messages through the official SDK, with a forced tool for structured output."""

from __future__ import annotations

import inspect
import json
from typing import Any

from labnb.clients.base import ChatRequest, ChatResponse, ModelClient
from labnb.clients.sdk_errors import map_sdk_error
from labnb.config import ModelEntry
from labnb.cost.usage import Usage
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
            message = await raw.parse()  # the async raw response parses (and reads the body) asynchronously
            body = raw.http_response.text
        except Exception as exc:  # a 200 whose body is not a message
            body = raw.http_response.text if raw.http_response.is_closed else ""
            raise CallError("bad_response", f"unreadable response: {type(exc).__name__}", raw=body[:2000],
                            retries=raw.retries_taken) from None
        response = chat_response(message, body, retries=raw.retries_taken, request_id=raw.request_id)
        ratelimit.record_usage(response.usage.input_tokens, response.usage.output_tokens)
        return response

    async def aclose(self) -> None:
        await self._client.close()


def chat_response(message: Any, body: str, *, retries: int = 0, request_id: str | None = None) -> ChatResponse:
    """Our response record from a Message (a live answer or a batch-API result)."""
    try:
        fields = parse_message(list(message.content), message.stop_reason)
        usage = usage_of(message.usage)
    except (AttributeError, TypeError):
        raise CallError("bad_response", "response has no content or usage", raw=body[:2000], retries=retries) from None
    return ChatResponse(**fields, usage=usage, retries=retries, request_id=request_id, raw={"body": body})


def usage_of(usage: Any) -> Usage:
    """Our ``Usage`` from Anthropic's: its cached and cache-written tokens come on top of input_tokens."""
    read = getattr(usage, "cache_read_input_tokens", 0) or 0
    write = getattr(usage, "cache_creation_input_tokens", 0) or 0
    return Usage(usage.input_tokens + read + write, usage.output_tokens, read, write)


def parse_message(blocks: list[Any], stop_reason: str | None) -> dict[str, Any]:
    """Text, parsed data, finish and refusal of a Messages answer (shared with batch results)."""
    tool = next((b for b in blocks if getattr(b, "type", "") == "tool_use"), None)
    text = "".join(getattr(b, "text", "") for b in blocks if getattr(b, "type", "") == "text")
    finish = _FINISH.get(stop_reason or "", "stop")
    data = tool.input if tool is not None and isinstance(tool.input, dict) else None
    if tool is not None:
        text = json.dumps(tool.input, ensure_ascii=False, sort_keys=True)
    return {
        "text": text, "data": data if finish == "stop" else None, "finish": finish,
        "refusal": text if finish == "refusal" else None,
    }
