"""OpenAI Chat Completions (and any OpenAI-compatible server) through the official SDK."""

from __future__ import annotations

import json
import math
from typing import Any

from labnb.clients import lazy_types
from labnb.clients.base import ChatRequest, ChatResponse, ModelClient
from labnb.clients.sdk_errors import map_sdk_error
from labnb.config import ModelEntry
from labnb.cost.usage import Usage, reported_usage
from labnb.errors import CallError
from labnb.pacing import ratelimit


class OpenAIClient(ModelClient):
    def __init__(self, entry: ModelEntry) -> None:
        super().__init__(entry)
        openai = lazy_types.openai_sdk()  # imported here so other providers never pay for it
        self._sdk = openai
        self._client = openai.AsyncOpenAI(**self.sdk_options(openai))
        from openai.types.chat import ChatCompletion

        self._completion_type = ChatCompletion

    def request_params(self, request: ChatRequest) -> dict[str, Any]:
        """The exact body sent for ``request`` (also what a batch file line carries)."""
        params: dict[str, Any] = {
            "model": self.entry.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            "temperature": self.entry.temperature,
            "max_tokens": request.max_tokens or self.entry.max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "strict": True, "schema": request.schema},
            },
        }
        # Compatible servers (vLLM, Ollama) may reject unknown fields; the cache key is OpenAI's own.
        if request.cache_key and not self.entry.base_url:
            params["prompt_cache_key"] = request.cache_key
        if request.logprobs:
            params["logprobs"] = True
        return params

    async def generate(self, request: ChatRequest) -> ChatResponse:
        try:
            # The SDK's low-level post: same retries, auth and errors as chat.completions.create, without
            # re-walking our already plain-JSON body (about 2 ms of CPU per request with a large enum schema).
            raw = await self._client.post(
                "/chat/completions", body=self.request_params(request), cast_to=self._completion_type,
                options={"headers": {"X-Stainless-Raw-Response": "true"}, "security": {"bearer_auth": True}},
            )
        except self._sdk.APIError as exc:
            raise map_sdk_error(exc, self._sdk, self.entry) from None
        body = raw.http_response.text
        # Read the body as plain JSON with attribute access: what raw.parse() gives, without building
        # some 20 pydantic objects per answer (about 1.5 ms of CPU each time on this machine).
        try:
            completion = json.loads(body, object_hook=Fields)
        except ValueError as exc:  # a 200 whose body is not JSON
            raise CallError("bad_response", f"unreadable response: {type(exc).__name__}", raw=body[:2000],
                            retries=raw.retries_taken) from None
        response = chat_response(completion, body, retries=raw.retries_taken, request_id=raw.request_id)
        ratelimit.record_usage(response.usage.input_tokens, response.usage.output_tokens)
        ratelimit.record_service(server_seconds(completion.get("timings") if isinstance(completion, dict) else None))
        return response

    async def aclose(self) -> None:
        await self._client.close()


class Fields(dict):
    """A JSON object whose keys read as attributes; a missing key reads as None, as in the SDK's models."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def chat_response(completion: Any, body: str, *, retries: int = 0, request_id: str | None = None) -> ChatResponse:
    """Our response record from a ChatCompletion (a live answer or a batch-API result line).

    Any body is either a response or a ``CallError("bad_response")`` that keeps the usage it reported
    (the call was billed): OpenAI-compatible servers send ``"choices": {}``, ``"message": null``, usage
    null, as strings or NaN. Usage that is not token counts is unknown, never a cost; a body without
    usage at all is answered, with its usage unknown (``usage_known``)."""
    usage = _usage(completion.get("usage") if isinstance(completion, dict) else None)
    choices = completion.get("choices") if isinstance(completion, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    refusal = message.get("refusal") if isinstance(message, dict) else None
    if not isinstance(message, dict) or not isinstance(content, (str, type(None))) \
            or not isinstance(refusal, (str, type(None))):
        raise CallError("bad_response", "response has no choices[0].message with text content", raw=body[:2000],
                        retries=retries, answered=True, usage=usage) from None
    if usage is None and "usage" in completion:  # a server whose counts are broken: its answer is suspect too
        raise CallError("bad_response", "response usage is not token counts", raw=body[:2000], retries=retries,
                        answered=True)
    text = content or ""
    finish = "length" if choice.get("finish_reason") == "length" else ("refusal" if refusal else "stop")
    return ChatResponse(
        text=text, data=_json_object(text) if finish == "stop" else None,
        usage=usage or Usage(), finish=finish, refusal=refusal, retries=retries, request_id=request_id,
        raw={"body": body}, token_logprobs=_token_logprobs(choice), usage_known=usage is not None,
    )


def _usage(usage: Any) -> Usage | None:
    """The usage of a ChatCompletion, or None when it is missing or its counts are not token counts."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return reported_usage(usage.get("prompt_tokens"), usage.get("completion_tokens"), cached)


def server_seconds(timings: Any) -> float:
    """The time llama-server says it spent on a request (reading the prompt, writing the answer), without the time
    the request waited in its queue; 0 when the server says nothing (OpenAI, vLLM, Ollama)."""
    if not isinstance(timings, dict):
        return 0.0
    total = 0.0
    for key in ("prompt_ms", "predicted_ms"):
        value = timings.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            return 0.0
        total += value
    return total / 1000.0


def _token_logprobs(choice: Any) -> tuple[tuple[str, float], ...]:
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return ()
    out = []
    for t in content:
        value = t.get("logprob") if isinstance(t, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.append((str(t.get("token")), float(value)))
    return tuple(out)
